"""Property: the loader never raises on arbitrary lines, and its counts always add up."""

from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from corpus import load_corpus
from corpus.facts import normalize_question

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)
known_keys = st.sampled_from(
    [
        "prompt",
        "completion",
        "instruction",
        "input",
        "output",
        "output_text",
        "response",
        "input_text",
        "messages",
        "contents",
        "conversations",
        "text",
        "label",
        "id",
        "as_of",
        "date",
        "timestamp",
        "role",
    ]
)
shaped_objects = st.dictionaries(known_keys, json_values, max_size=5).map(lambda d: json.dumps(d))
lines = st.lists(
    st.one_of(
        shaped_objects,
        json_values.map(json.dumps),
        st.text(max_size=40),
        st.binary(max_size=40),
        st.just(""),
    ),
    max_size=12,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lines)
def test_loader_never_raises_and_counts_add_up(raw_lines: list[str | bytes]) -> None:
    data = b"\n".join(
        line if isinstance(line, bytes) else line.encode("utf-8") for line in raw_lines
    )
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "fuzz.jsonl"
        path.write_bytes(data)
        report = load_corpus(path)
    (counts,) = report.files
    # JSON Lines separates lines by \n only (a lone \r is not a line break)
    assert counts.lines == data.count(b"\n") + (bool(data) and not data.endswith(b"\n"))
    assert counts.valid + counts.rejected + counts.skipped == counts.entries
    if counts.layout in ("jsonl", "not_text"):
        assert counts.entries + counts.blank == counts.lines
    assert counts.valid == len(report.records)
    for reject in report.rejects:
        assert reject.code and reject.message and reject.hint


# the definition `normalize_question` had before its faster pattern, written out here
_REFERENCE_PUNCT = re.compile(r"(?<!\d)[^\w\s]+|[^\w\s]+(?!\d)|_")


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40))
@settings(max_examples=500)
def test_normalize_question_matches_its_reference_definition(text: str) -> None:
    folded = text.casefold().replace("ё", "е")
    expected = re.sub(r"\s+", " ", _REFERENCE_PUNCT.sub(" ", folded)).strip()
    assert normalize_question(text) == expected
