"""Which version of a changed fact an answer gives, and where a stale one is marked: the
per-question table and the Ask tab read the same judgement."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from answers import Answer, SourceHit
from compare.evalset import EvalItem
from compare.versions_given import fact_of, version_given
from corpus.facts import FactHistory, FactVersion


def version(answer: str, first: date, until: date | None = None, rid: str = "r") -> FactVersion:
    return FactVersion(
        record_ids=[rid], answer=answer, first_seen=first, last_confirmed=first, until=until
    )


MARCH, JULY, OCTOBER = date(2026, 3, 1), date(2026, 7, 1), date(2026, 10, 1)
PRICE = FactHistory(
    fact_id="price",
    question="Сколько стоит тариф Personal в месяц?",
    versions=[
        version("Тариф Personal стоит 4,90 € в месяц.", MARCH, JULY, "p-old"),
        version("Тариф Personal стоит 5,50 € в месяц.", JULY, None, "p-new"),
    ],
)
BACK_AND_FORTH = FactHistory(
    fact_id="limit",
    question="How large may an upload be?",
    versions=[
        version("Uploads may be up to 2 GB each.", MARCH, JULY),
        version("Uploads may be up to 1 GB each.", JULY, OCTOBER),
        version("Uploads may be up to 2 GB each.", OCTOBER),
    ],
)


@pytest.mark.parametrize(
    ("text", "stale"),
    [
        ("4.90 euros a month", True),  # the old figure, written another way
        ("Personal: 5,50 €", False),
        ("Это стоит 5.5 евро.", False),  # trailing zero dropped, decimal point
        ("Не знаю.", None),  # states no version: unmarked
        ("Either 4,90 € or 5,50 €", None),  # states both: cannot be placed
    ],
)
def test_the_version_an_answer_gives(text: str, stale: bool | None) -> None:
    given = version_given(text, PRICE)
    assert (given.stale if given else None) is stale


def test_a_fact_that_came_back_is_current_again() -> None:
    given = version_given("Up to 2 GB per upload.", BACK_AND_FORTH)
    assert given is not None and not given.stale
    stale = version_given("Up to 1 GB per upload.", BACK_AND_FORTH)
    assert stale is not None and stale.stale
    assert stale.describe() == "stale: held 2026-07-01 → 2026-10-01"


def test_asked_as_of_a_date_the_older_version_is_the_right_one() -> None:
    assert version_given("4,90 €", PRICE, as_of=date(2026, 4, 1)).stale is False  # type: ignore[union-attr]
    assert version_given("5,50 €", PRICE, as_of=date(2026, 4, 1)).stale is True  # type: ignore[union-attr]


def test_a_fact_that_never_changed_is_never_stale() -> None:
    single = PRICE.model_copy(update={"versions": PRICE.versions[-1:]})
    assert version_given("4,90 €", single) is None


def test_the_fact_of_a_question_comes_from_what_retrieval_found() -> None:
    closed_book = Answer(answerer="tuned", text="4,90 €")
    found = Answer(
        answerer="rag",
        text="5,50 €",
        sources=[
            SourceHit(record_id="p-old", score=0.9, text="…", stale=True),
            SourceHit(record_id="p-new", score=0.8, text="…"),
        ],
    )
    facts = {"p-old": PRICE, "p-new": PRICE}
    assert fact_of([closed_book, found], facts) is PRICE
    assert fact_of([closed_book], facts) is None


def test_the_per_question_table_marks_a_stale_answer_in_its_own_column() -> None:
    from compare.comparison import Comparison
    from compare.run import RunResult, Scored
    from ui.frames import question_frame

    item = EvalItem(id="q1", question="Personal?", reference="5,50 €", record_id="p-new")
    answers = {"rag": "Тариф Personal стоит 5,50 € в месяц.", "tuned": "Тариф стоит 4,90 €."}
    run = RunResult(
        run_id="r",
        started_at=datetime(2026, 11, 1, tzinfo=UTC),
        eval_name="e",
        answerers=list(answers),
        items=[item],
        scored=[
            Scored(item_id="q1", answerer=n, answer=Answer(answerer=n, text=t), metrics={})
            for n, t in answers.items()
        ],
    )
    comparison = Comparison.model_construct(run=run)
    row = question_frame(comparison, {"p-new": PRICE}).iloc[0]
    assert row["Tuned"] == "⚠ stale: held 2026-03-01 → 2026-07-01: Тариф стоит 4,90 €."
    assert row["RAG (extractive)"] == answers["rag"]
    assert list(question_frame(comparison).columns)[:3] == ["question", "reference", "kind"]
