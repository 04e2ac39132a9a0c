"""The pipeline's parts on their own: the webhook's bounds, the estimate's arithmetic against
hand-computed prices, the HTML report's escaping and self-containment, and the alarm's baseline."""

from __future__ import annotations

import itertools
import time
from pathlib import Path

import pytest

from answers.prices import PriceBook
from compare.alarm import message, verdict_change
from compare.cost import CostSettings, SideCostModel
from compare.estimate import Measured, estimate_run, prompt_tokens
from compare.evalset import EvalItem
from compare.html_report import render_html
from compare.webhook import MAX_URL, post_json
from corpus.tokens import count_tokens
from tests.conftest import ROOT
from tests.pipeline_helpers import table_comparison, webhook_receiver
from tests.tuning_servers import free_port

BOOK = PriceBook.load(ROOT / "data" / "prices.json")
QUESTION = "What does the Pro plan cost per month?"
REFERENCE = "12 EUR a month"


def test_a_webhook_is_posted_the_message(tmp_path: Path) -> None:
    with webhook_receiver() as hook:
        assert post_json(hook.url, {"text": "hello", "n": 1}, 5) is None
    assert hook.posts == [("/hooks/T000/B000/not-for-logs", {"text": "hello", "n": 1})]


def test_a_stalled_webhook_is_given_up_within_its_timeout() -> None:
    with webhook_receiver(delay_s=5) as hook:
        started = time.monotonic()
        error = post_json(hook.url, {"text": "x"}, 0.5)
        took = time.monotonic() - started
    assert error is not None and took < 1.5, (error, took)
    assert "not-for-logs" not in error, "the URL's path is never shown"


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("ftp://example.org/hook", "must be http:// or https://"),
        ("http:///nohost", "must be http:// or https://"),
        ("http://127.0.0.1/" + "a" * MAX_URL, f"longer than {MAX_URL}"),
    ],
)
def test_a_webhook_url_that_cannot_be_one_is_refused(url: str, says: str) -> None:
    error = post_json(url, {"text": "x"}, 1)
    assert error is not None and says in error


def test_a_failing_or_absent_webhook_is_reported_not_raised() -> None:
    with webhook_receiver(status=500) as hook:
        error = post_json(hook.url, {"text": "x"}, 5)
    assert error is not None and "HTTP 500" in error and "not-for-logs" not in error
    closed = f"http://127.0.0.1:{free_port()}/hooks/secret"
    error = post_json(closed, {"text": "x"}, 2)
    assert error is not None and "secret" not in error
    too_big = post_json(closed, {"text": "x" * 70_000}, 2)
    assert too_big is not None and "over the 64,000" in too_big


def item(i: int, **extra: object) -> EvalItem:
    return EvalItem.model_validate(
        {"id": f"q{i}", "question": QUESTION, "reference": REFERENCE} | extra
    )


def test_a_closed_book_prompt_is_the_question_in_chat_format() -> None:
    # OpenAI's rule: 3 tokens a message, 3 to prime the reply
    assert prompt_tokens(QUESTION, False, 5, 40.0) == count_tokens([QUESTION])[0] + 3 + 3


def test_each_retrieved_passage_adds_the_same_tokens() -> None:
    sizes = [prompt_tokens(QUESTION, True, k, 40.0) for k in (1, 2, 3, 4)]
    steps = {round(b - a, 6) for a, b in itertools.pairwise(sizes)}
    assert len(steps) == 1 and steps.pop() > 40.0, "a passage and its numbered header"


def test_the_estimate_prices_each_side_at_its_own_entry() -> None:
    items = [item(i) for i in range(4)]
    q, ref = count_tokens([QUESTION])[0], count_tokens([REFERENCE])[0]
    models = {
        "closed": SideCostModel(side="closed", generator="gpt-4o-mini-ft", tuning_run_usd=0.7),
        "reader": SideCostModel(side="reader", embedder="text-embedding-3-small"),
        "writer": SideCostModel(
            side="writer", generator="gpt-4.1-mini", embedder="text-embedding-3-small"
        ),
    }
    made = estimate_run(
        items, models, BOOK, CostSettings(), k=3, passage_tokens=50.0, cached={"closed": {"q0"}}
    )
    closed, reader, writer = made.sides
    # gpt-4o-mini-ft: $0.30 in, $1.20 out per 1M; one of four answers is cached
    assert closed.cached == 1 and closed.completion_tokens == ref
    assert closed.total_usd == pytest.approx(3 * ((q + 6) * 0.30 + ref * 1.20) / 1e6)
    # extractive: only the query is embedded, at $0.02 per 1M
    assert reader.prompt_tokens == 0 and reader.total_usd == pytest.approx(4 * q * 0.02 / 1e6)
    p = round(prompt_tokens(QUESTION, True, 3, 50.0))
    assert writer.total_usd == pytest.approx(4 * ((p * 0.40 + ref * 1.60) + q * 0.02) / 1e6)
    assert made.total_usd == pytest.approx(closed.total_usd + reader.total_usd + writer.total_usd)
    assert made.retune_usd == 0.7


def test_a_local_side_is_priced_by_machine_time_measured_when_there_is_a_run() -> None:
    items = [item(0), item(1, choices=["10 EUR", "12 EUR"], answer_index=1)]
    local = {"local": SideCostModel(side="local", generator="local-smollm2-135m")}
    seen = Measured(run_id="r1", completion_tokens=9.0, seconds=3.6)
    made = estimate_run(
        items, local, BOOK, CostSettings(), k=5, passage_tokens=0.0, measured={"local": seen}
    )
    side = made.sides[0]
    assert side.basis == "measured in run r1"
    assert side.total_usd == pytest.approx(2 * 3.6 / 3600 * BOOK.machine_hour_usd)
    assert side.completion_tokens == (9.0 + 1.0) / 2, "a choice is answered in about one token"


def test_the_html_report_is_self_contained_and_escapes_what_it_shows(tmp_path: Path) -> None:
    c, batches = table_comparison(tmp_path, extra_question="<script>alert(1)</script>?")
    page = render_html(c, batches)
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;?" in page
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "https://" not in page and "<link" not in page and "@import" not in page
    assert c.advice.headline in page
    for section in ("Advice", "Quality", "Freshness", "Cost", "Per question"):
        assert f"<h2>{section}" in page
    assert page.count('class="bar"') == 2 and page.count('class="mark"') == len(batches)
    assert page.count('class="line"') == len(c.cost.sides)


def test_the_first_run_has_no_baseline_and_a_change_names_the_criteria(tmp_path: Path) -> None:
    c, _ = table_comparison(tmp_path)
    first = verdict_change(None, c)
    assert not first.changed and first.summary().startswith("first run on table.jsonl")
    assert message(first, c)["event"] == "verdict_checked"
    stricter = c.advice.model_copy(update={"verdict": "keep_model", "headline": "Keep it"})
    change = verdict_change(c.model_copy(update={"advice": stricter}), c)
    assert change.changed and change.previous_verdict == "keep_model"
    body = message(change, c)
    assert body["verdict"] == {"before": "keep_model", "after": c.advice.verdict}
    assert body["text"].startswith("rag-or-tune on table.jsonl: verdict changed:")


def test_a_webhook_that_cannot_be_one_stops_the_check_before_the_rebuild(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from compare.cli import main

    code = main(["rebuild-and-check", "--work", str(tmp_path), "--webhook", "ftp://x/hook"])
    assert code == 2
    assert "must be http:// or https://" in capsys.readouterr().err
    assert not (tmp_path / "index").exists(), "nothing was rebuilt"
