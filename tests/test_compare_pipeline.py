"""The comparison in a team's pipeline, through `python -m compare` in process: the scheduled
rebuild-and-check with its re-tune alarm and webhook, CI gates, run diffs, the HTML report and
the estimate before a run. Real parts: the index, the embedder, a local OpenAI-compatible server
for the tuned side and an `http.server` webhook receiver (see tests/pipeline_helpers.py)."""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from compare.cli import main
from compare.comparison import Comparison
from compare.diff import diff_runs
from compare.runs_db import RunsDatabase
from tests.pipeline_helpers import CHANGED, FACTS, Pipeline, tuned_app, webhook_receiver
from tests.tuning_servers import free_port
from tuning.serve import serve_in_thread

pytestmark = pytest.mark.slow  # an index, an embedder and a dozen runs: about a minute
SIDES = "rag,tuned"


@dataclass
class Ran:
    """One command: its exit code and what it printed."""

    code: int
    out: str
    err: str


@dataclass
class History:
    """The pipeline after three scheduled checks: first batch, second batch, nothing new."""

    pipeline: Pipeline
    checks: list[Ran]
    posts: list[list[tuple[str, dict[str, Any]]]]  # webhook bodies received after each check
    run_ids: list[str]
    tuned_calls: list[str]
    env: dict[str, str] = field(default_factory=dict)

    def comparison(self, index: int) -> Comparison:
        db = RunsDatabase(self.pipeline.work / "runs.sqlite")
        text = db.comparison_json(self.run_ids[index])
        assert text is not None
        return Comparison.model_validate_json(text)


def cli(*argv: str) -> Ran:
    """`python -m compare ARGV` in this process, its output captured."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return Ran(code, out.getvalue(), err.getvalue())


@contextlib.contextmanager
def pipeline_env(root: Path) -> Iterator[tuple[Pipeline, list[str]]]:
    """A miniature pipeline with its tuned endpoint served and its settings in the environment."""
    calls: list[str] = []
    with serve_in_thread(tuned_app(calls)) as base, pytest.MonkeyPatch.context() as mp:
        pipeline = Pipeline(root, f"{base}/v1")
        for key, value in pipeline.env().items():
            mp.setenv(key, value)
        yield pipeline, calls


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Iterator[History]:
    root = tmp_path_factory.mktemp("pipeline")
    with pipeline_env(root) as (pipeline, calls), webhook_receiver() as hook:
        checks, posts = [], []
        for step in range(3):
            if step == 1:
                pipeline.land_second_batch()
            checks.append(cli("rebuild-and-check", "--answerers", SIDES, "--webhook", hook.url))
            posts.append(list(hook.posts))
        runs = RunsDatabase(pipeline.work / "runs.sqlite").runs()
        yield History(pipeline, checks, posts, [r.run_id for r in runs], calls)


def test_the_first_check_has_nothing_to_compare_against(history: History) -> None:
    first = history.checks[0]
    assert first.code == 0, first.err
    assert "first run on eval.jsonl: Keep RAG" in first.out
    assert history.posts[0] == [], "no change, no message"
    assert f"added {len(FACTS)} / updated 0" in first.out


def test_a_verdict_change_exits_3_and_tells_the_webhook(history: History) -> None:
    second = history.checks[1]
    assert second.code == 3, second.err
    assert "verdict changed: Keep RAG -> Re-tune now" in second.out
    assert "stale_on_new_facts: not_measured -> met" in second.out
    [(path, body)] = history.posts[1]
    assert path == "/hooks/T000/B000/not-for-logs"
    assert body["event"] == "verdict_changed"
    assert body["verdict"] == {"before": "keep_rag", "after": "retune_now"}
    assert body["run_id"] == history.run_ids[1] and body["previous_run_id"] == history.run_ids[0]
    assert "Keep RAG -> Re-tune now" in body["text"] and "stale_on_new_facts" in body["text"]
    moved = {c["name"]: (c["before"], c["after"]) for c in body["criteria_moved"]}
    assert moved["retrieval_wins"] == ("not_met", "met")
    # every eval reference follows the corpus: RAG 1.0; the tuned model misses the changed half
    assert body["quality"] == {"rag": 1.0, "tuned": 1 - CHANGED / len(FACTS)}
    assert "webhook told" in second.out


def test_after_the_index_changed_only_the_retrieval_side_is_asked_again(history: History) -> None:
    n = len(FACTS)
    assert f"rag {n} asked, 0 from the cache; tuned {n} asked, 0 from the cache" in (
        history.checks[0].out
    )
    # the second batch changed the index: RAG asked anew, the tuned model answered from the cache
    assert f"rag {n} asked, 0 from the cache; tuned 0 asked, {n} from the cache" in (
        history.checks[1].out
    )
    assert f"rag 0 asked, {n} from the cache; tuned 0 asked, {n} from the cache" in (
        history.checks[2].out
    )
    assert len(history.tuned_calls) == n, "the tuned endpoint was asked each question once"


def test_an_unchanged_verdict_exits_0_and_tells_nobody(history: History) -> None:
    third = history.checks[2]
    assert third.code == 0, third.err
    assert f"verdict unchanged since run {history.run_ids[1]}: Re-tune now" in third.out
    assert history.posts[2] == history.posts[1], "no second message"


def test_the_check_writes_all_three_reports(history: History) -> None:
    report = history.pipeline.work / "report"
    assert {p.name for p in report.iterdir()} >= {"report.md", "report.json", "report.html"}
    page = (report / "report.html").read_text(encoding="utf-8")
    assert "Re-tune now: fresher facts are worth a re-tune" in page


def test_diff_names_what_broke_and_the_verdict_that_moved(history: History) -> None:
    ran = cli("diff", history.run_ids[0], history.run_ids[1])
    assert ran.code == 0, ran.err
    assert "verdict changed: keep_rag -> retune_now" in ran.out
    assert f"{len(FACTS)} shared questions" in ran.out
    assert "broken: 'How many seats does the Aurora concert hall have?': '1840' -> '1840' " in (
        ran.out
    )
    assert "(reference '1840' -> '2100')" in ran.out, "why an unchanged answer broke"
    d = diff_runs(history.comparison(0), history.comparison(1))
    sides = {s.side: s for s in d.sides}
    tuned, rag = sides["tuned"], sides["rag"]
    # the tuned answers did not change; the references of the changed facts did
    assert (len(tuned.fixed), len(tuned.broken), len(tuned.changed)) == (0, CHANGED, 0)
    assert tuned.change is not None and tuned.change.mean == pytest.approx(-CHANGED / len(FACTS))
    assert tuned.change.high < 0, "beyond noise"
    changed = {q for _, q, _, b in FACTS if b is not None}
    assert {q.question for q in tuned.broken} == changed
    # RAG gave the new figures: right before, right after, answered differently
    assert (len(rag.fixed), len(rag.broken), len(rag.changed)) == (0, 0, CHANGED)
    assert rag.change is not None and rag.change.mean == 0.0
    assert "stale_on_new_facts" in {c.name for c in d.criteria}
    assert cli("diff", "previous", "nope").code == 2


def test_diff_over_different_eval_sets_compares_the_shared_questions(history: History) -> None:
    before, after = history.comparison(0), history.comparison(1)
    dropped = {i.id for i in before.run.items[:4]}
    cut = before.run.model_copy(
        update={
            "items": [i for i in before.run.items if i.id not in dropped],
            "scored": [s for s in before.run.scored if s.item_id not in dropped],
        }
    )
    extra = after.run.items[0].model_copy(update={"id": "x", "question": "A new question?"})
    grown = after.run.model_copy(
        update={
            "items": [*after.run.items, extra],
            "scored": [
                *after.run.scored,
                *[s.model_copy(update={"item_id": "x"}) for s in after.run.scored[:1]],
            ],
        }
    )
    d = diff_runs(before.model_copy(update={"run": cut}), after.model_copy(update={"run": grown}))
    assert d.shared == len(FACTS) - 4
    assert d.only_a == [] and d.only_b == [FACTS[i][1] for i in range(4)] + ["A new question?"]
    assert all(s.questions == len(FACTS) - 4 for s in d.sides)


@pytest.mark.parametrize(
    ("gates", "code"),
    [
        (["--fail-under", "rag:token_f1=0.9"], 0),
        (["--fail-under", "tuned:token_f1=0.9"], 4),
        (["--fail-under", "rag:hit@1=1"], 0),
        (["--fail-on-verdict", "keep_rag"], 0),
        (["--fail-on-verdict", "retune_now"], 4),
        (["--fail-under", "rag:token_f1=0.9", "--fail-on-verdict", "retune_now"], 4),
    ],
)
def test_advise_gates_in_both_directions(history: History, gates: list[str], code: int) -> None:
    ran = cli("advise", "--run", history.run_ids[1], *gates)
    assert ran.code == code, ran.err
    assert "Re-tune now" in ran.out, "the full advice is printed first"
    assert ("gate failed" in ran.err) == (code == 4)


@pytest.mark.parametrize(
    ("gate", "says"),
    [
        ("tuned_rag:token_f1=0.5", "its sides are rag, tuned"),
        ("rag:accuracy=0.5", "it measured token_f1, contains, numbers"),
        ("tuned:hit@1=0.5", "it measured none"),
        ("rag:f1=0.5", "choose from token_f1, contains"),
        ("rag=0.5", "write SIDE:METRIC=VALUE"),
        ("rag:token_f1=1.5", "every metric lies in 0..1"),
    ],
)
def test_a_gate_the_run_cannot_check_is_an_error(history: History, gate: str, says: str) -> None:
    ran = cli("advise", "--run", history.run_ids[1], "--fail-under", gate)
    assert ran.code == 2 and says in ran.err, ran.err


def test_run_gates_fail_after_the_full_report(history: History) -> None:
    out = history.pipeline.root / "gated"
    ran = cli("run", "--answerers", SIDES, "--out", str(out), "--fail-under", "tuned:numbers=0.9")
    assert ran.code == 4, ran.err
    assert "gate failed: tuned numbers 0.500 is under 0.9" in ran.err
    assert {p.name for p in out.iterdir()} == {"report.md", "report.json", "report.html"}
    passed = cli("run", "--answerers", SIDES, "--out", str(out), "--fail-under", "rag:numbers=1")
    assert passed.code == 0 and "gates passed: 1" in passed.err
    unknown = cli("run", "--answerers", "rag", "--fail-under", "tuned:token_f1=0.5")
    assert unknown.code == 2 and "the run asks no side 'tuned'" in unknown.err
    assert "Run " not in unknown.out, "refused before asking anything"
    verdict = cli("run", "--answerers", SIDES, "--fail-on-verdict", "soon")
    assert verdict.code == 2 and "choose from keep_rag, retune_now" in verdict.err


def test_the_estimate_asks_nothing_and_counts_the_cache(history: History) -> None:
    asked = len(history.tuned_calls)
    ran = cli("run", "--answerers", SIDES, "--estimate")
    assert ran.code == 0, ran.err
    assert len(history.tuned_calls) == asked, "nothing was asked"
    n = len(FACTS)
    assert f"{2 * n} of {2 * n} answers are cached and cost nothing" in ran.out
    assert "a re-tune would cost $0.1" in ran.out  # 36,000 tokens at 10/s: one machine hour


def test_report_html_of_a_stored_run(history: History) -> None:
    out = history.pipeline.root / "shared.html"
    ran = cli("report", history.run_ids[0], "--html", "--out", str(out))
    assert ran.code == 0, ran.err
    page = out.read_text(encoding="utf-8")
    assert "Keep RAG (extractive): both answer alike" in page
    assert "<script" not in page and "<link" not in page and "src=" not in page
    assert page.count('class="bar"') == 2, "one bar per side"
    markdown = cli("report", history.run_ids[0])
    assert markdown.code == 0 and markdown.out.startswith("# rag-or-tune report — eval.jsonl")
    assert cli("report", "no-such-run", "--html").code == 2


def test_a_webhook_that_is_down_never_fails_the_check(tmp_path: Path) -> None:
    with pipeline_env(tmp_path) as (pipeline, _):
        dead = f"http://127.0.0.1:{free_port()}/hooks/secret-path"
        assert cli("rebuild-and-check", "--answerers", SIDES, "--webhook", dead).code == 0
        pipeline.land_second_batch()
        ran = cli("rebuild-and-check", "--answerers", SIDES, "--webhook", dead)
    assert ran.code == 3, ran.err
    assert "rebuild: added 0 / updated" in ran.out or "rebuild: added" in ran.out
    assert "webhook not told (the check goes on)" in ran.err
    assert "secret-path" not in ran.err + ran.out, "the webhook's path is a secret"
    report = json.loads((pipeline.work / "report" / "report.json").read_text(encoding="utf-8"))
    assert report["advice"]["verdict"] == "retune_now", "the rebuild and the run went through"
