"""Reading for the app at the CLI's pace: one pass gives the load, the summary and the facts;
progress is reported as bytes are read; an array written on one line is read as an array."""

from __future__ import annotations

import json
from pathlib import Path

from corpus import load_corpus
from corpus.facts import fact_histories
from corpus.report import summarise, survey_corpus
from tests.conftest import DEMO_CORPUS, ROOT
from ui.uploads import MB, read_uploads, store_uploads


def _qa(n: int) -> dict[str, str]:
    return {"prompt": f"How deep is berth {n}?", "completion": f"{10 + n % 7}.{n % 10} m."}


def test_one_pass_gives_what_load_summarise_and_facts_give() -> None:
    paths = [DEMO_CORPUS, ROOT / "data" / "bad" / "invalid_json.jsonl"]
    survey = survey_corpus(paths)
    report = load_corpus(paths)
    assert survey.report == report and report.rejects  # records, rejects, warnings, files
    assert survey.summary == summarise(report)
    assert survey.histories == fact_histories(report.records)


def test_progress_counts_every_byte_once_in_order(tmp_path: Path) -> None:
    big = tmp_path / "2026-03-01-big.jsonl"  # over 2 MiB: read in several chunks
    big.write_text("".join(json.dumps(_qa(n)) + "\n" for n in range(40_000)), encoding="utf-8")
    small = tmp_path / "2026-07-01-small.jsonl"
    small.write_text(json.dumps(_qa(1)) + "\n", encoding="utf-8")
    total = big.stat().st_size + small.stat().st_size
    seen: list[tuple[int, int]] = []
    report = load_corpus(tmp_path, progress=lambda done, all_: seen.append((done, all_)))
    assert len(report.records) == 40_001
    assert {all_ for _, all_ in seen} == {total} and seen[-1] == (total, total)
    done = [d for d, _ in seen]
    assert done == sorted(done) and len(done) >= 4 and 0 < done[0] < total


def test_a_json_array_reports_progress_by_element(tmp_path: Path) -> None:
    path = tmp_path / "faq.json"
    path.write_text(json.dumps([_qa(n) for n in range(5_000)], indent=2), encoding="utf-8")
    seen: list[int] = []
    report = load_corpus(path, progress=lambda done, _: seen.append(done))
    assert len(report.records) == 5_000 and report.files[0].layout == "json_array"
    size = path.stat().st_size
    middle = [d for d in seen if 0 < d < size]
    assert len(middle) >= 4 and middle == sorted(middle) and seen[-1] == size


def test_an_array_on_one_line_longer_than_the_sniffed_head_is_an_array(tmp_path: Path) -> None:
    path = tmp_path / "faq.json"
    path.write_text(json.dumps([_qa(n) for n in range(3_000)]) + "\n", encoding="utf-8")
    assert path.stat().st_size > 1 << 16 and path.read_text(encoding="utf-8").count("\n") == 1
    report = load_corpus(path)
    assert (len(report.records), report.rejects) == (3_000, [])  # was one not_object reject
    assert [w.code for w in report.warnings] == ["json_array"]


def test_an_upload_is_read_once_with_progress(tmp_path: Path) -> None:
    data = json.dumps([_qa(n) for n in range(2_500)], indent=2).encode()
    stored = store_uploads([("faq.json", data)], tmp_path, MB)
    seen: list[tuple[int, int]] = []
    survey = read_uploads(stored.paths, progress=lambda d, t: seen.append((d, t)))
    assert len(survey.report.records) == 2_500 and survey.summary.records == 2_500
    assert len(survey.histories) == 2_500 and seen[-1] == (len(data), len(data))
