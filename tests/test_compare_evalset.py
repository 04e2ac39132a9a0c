"""Eval files get the corpus layer's treatment: every bad line is a reject with its file, line,
code, message and fix; the valid lines still load; nothing shows pydantic's own text."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from compare.evalset import EvalLoadError, load_eval, read_eval

GOOD = {
    "id": "g1",
    "question": "Which pier do ferries to Orrin leave from?",
    "reference": "Pier 4.",
}
MC = {
    "question": "How long is a standard loan?",
    "choices": ["1 week", "2 weeks", "3 weeks", "4 weeks"],
}

# (the line as written, its reject code, words of the message)
BAD: list[tuple[str, str, str]] = [
    (
        '{"question": "Hours?", "reference": "9-17",}',
        "invalid_json",
        "invalid JSON: Expecting property name enclosed in double quotes at column 44",
    ),
    ("[1, 2]", "not_object", "the line is an array, not a JSON object"),
    (json.dumps({"question": "Hours?"}), "missing_answer", "'reference' is missing"),
    (json.dumps({"question": "", "reference": "9-17"}), "empty_field", "'question' is empty"),
    (json.dumps({"question": "   ", "reference": "9-17"}), "empty_field", "'question' is empty"),
    (json.dumps({"question": "Hours?", "reference": " "}), "empty_answer", "'reference' is empty"),
    (
        json.dumps({"question": 7, "reference": "9-17"}),
        "wrong_type",
        "'question' is a number, not a string",
    ),
    (
        json.dumps(MC | {"answer_index": 5}),
        "out_of_range",
        "'answer_index' is 5, which names none of the 4 choices",
    ),
    (
        json.dumps(MC | {"answerKey": "E"}),
        "out_of_range",
        "'answerKey' is 'E', which names none of the 4 choices",
    ),
    (
        json.dumps(MC | {"answer": "6 weeks"}),
        "out_of_range",
        "'answer' is '6 weeks', which names none",
    ),
    (
        json.dumps(MC),
        "missing_answer",
        "a multiple-choice line with 4 choices does not say which is right",
    ),
    (
        json.dumps(MC | {"choices": "3 weeks", "answer_index": 0}),
        "wrong_type",
        "'choices' is not a list of at least two strings",
    ),
    (
        json.dumps(GOOD | {"id": "d1", "as_of": "2026-13-01"}),
        "bad_date",
        "'as_of' is '2026-13-01': input should be a valid date",
    ),
    (
        json.dumps(GOOD | {"id": "d2", "labels": "positive"}),
        "wrong_type",
        "'labels' is 'positive': input should be a valid list",
    ),
    (
        json.dumps({"question": "Tone?", "reference": "angry", "labels": ["positive", "negative"]}),
        "bad_label",
        "'reference' 'angry' is not one of its 'labels'",
    ),
    (json.dumps(GOOD), "duplicate", "id 'g1' is also the id of line 1"),
    (
        json.dumps({"text": "Ferries leave from pier 4."}),
        "missing_answer",
        "a plain text line has no reference answer",
    ),
    (
        json.dumps({"q": "Hours?", "a": "9-17"}),
        "unknown_shape",
        "keys {a, q} match no known format",
    ),
    (
        json.dumps({"messages": [{"role": "user", "content": "Hours?"}]}),
        "no_assistant",
        "the chat has no assistant turn",
    ),
]


def _write(path: Path, lines: list[str | bytes]) -> Path:
    raw = [x if isinstance(x, bytes) else x.encode() for x in lines]
    path.write_bytes(b"\n".join(raw) + b"\n")
    return path


@pytest.mark.parametrize(
    ("line", "code", "says"), BAD, ids=[f"{c}-{i}" for i, (_, c, _) in enumerate(BAD)]
)
def test_each_bad_line_is_a_reject_and_the_good_lines_still_load(
    tmp_path: Path, line: str, code: str, says: str
) -> None:
    after = json.dumps({"question": "Is there wifi?", "reference": "Yes, HarwickLib."})
    loaded = read_eval(_write(tmp_path / "eval.jsonl", [json.dumps(GOOD), line, after]))
    assert [i.question for i in loaded.items] == [GOOD["question"], "Is there wifi?"]
    (reject,) = loaded.rejects
    assert (reject.file, reject.line, reject.code) == (str(tmp_path / "eval.jsonl"), 2, code)
    assert reject.message.startswith(says) and reject.hint
    shown = str(reject)
    assert "pydantic" not in shown and "errors.pydantic.dev" not in shown and "\n" not in shown


def test_an_unknown_shape_hints_the_eval_shape_too(tmp_path: Path) -> None:
    (reject,) = read_eval(_write(tmp_path / "e.jsonl", [json.dumps({"q": "?", "a": "!"})])).rejects
    assert reject.hint.endswith('or write the eval shape {"question": "...", "reference": "..."}')


def test_the_right_choice_in_any_public_spelling_still_loads(tmp_path: Path) -> None:
    lines = [
        json.dumps(MC | {"answer_index": 2}),
        json.dumps(MC | {"answerKey": "c"}),
        json.dumps(MC | {"answer": "3 weeks"}),
        json.dumps(MC | {"label": "oops", "answer_index": 2}),  # the first key that names one
    ]
    items = load_eval(_write(tmp_path / "mc.jsonl", lines))
    assert [(i.answer_index, i.reference) for i in items] == [(2, "3 weeks")] * 4


def test_load_eval_raises_with_every_reject_and_what_did_load(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "bad.jsonl",
        [
            json.dumps(GOOD),
            json.dumps({"question": ""}),
            "{oops",
            json.dumps(MC | {"answer_index": 9}),
        ],
    )
    with pytest.raises(EvalLoadError) as caught:
        load_eval(path)
    err = caught.value
    assert [(r.line, r.code) for r in err.rejects] == [
        (2, "empty_field"),
        (3, "invalid_json"),
        (4, "out_of_range"),
    ]
    assert [i.id for i in err.items] == ["g1"]
    assert str(err).splitlines() == [str(r) for r in err.rejects]
    assert str(err).startswith(f"{path}:2: [empty_field] 'question' is empty")


def test_encoding_slips_are_named_as_in_a_corpus(tmp_path: Path) -> None:
    bom = b"\xef\xbb\xbf" + json.dumps(GOOD).encode()
    cp1251 = json.dumps({"question": "Часы?", "reference": "9-17"}, ensure_ascii=False).encode(
        "cp1251"
    )
    loaded = read_eval(_write(tmp_path / "enc.jsonl", [bom, cp1251]))
    assert [i.id for i in loaded.items] == ["g1"]
    (reject,) = loaded.rejects
    assert reject.code == "not_utf8" and "cp1251" in reject.message and "corpus fix" in reject.hint


def test_an_undesirable_kto_answer_is_skipped_never_a_reference(tmp_path: Path) -> None:
    kto: list[dict[str, Any]] = [
        {"prompt": "Hours?", "completion": "9-17.", "label": True},
        {"prompt": "Hours?", "completion": "Always closed.", "label": False},
    ]
    loaded = read_eval(_write(tmp_path / "kto.jsonl", [json.dumps(x) for x in kto]))
    assert [i.reference for i in loaded.items] == ["9-17."] and loaded.skipped == 1
    assert not loaded.rejects


@pytest.mark.parametrize("content", [None, b"", b"\n\n"])
def test_a_missing_or_empty_file_is_one_clear_error(tmp_path: Path, content: bytes | None) -> None:
    path = tmp_path / "eval.jsonl"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(EvalLoadError) as caught:
        read_eval(path)
    assert str(caught.value).startswith(str(path))
    assert ("cannot read" if content is None else "no questions") in str(caught.value)


def test_an_eval_items_own_json_loads_back(tmp_path: Path) -> None:
    """What `EvalItem.model_dump_json` writes (nulls for the fields a free-text item leaves out)
    reads back as the same items: benches and make-eval write eval files this way."""
    items = load_eval(Path("data/eval/demo_eval.jsonl"))[:5]
    out = tmp_path / "round-trip.jsonl"
    out.write_text("".join(i.model_dump_json() + "\n" for i in items), encoding="utf-8")
    assert '"choices":null' in out.read_text(encoding="utf-8")
    assert load_eval(out) == items
