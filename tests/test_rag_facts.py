"""Facts that change, through the index: every version kept with the dates it held, the current
one first, `as_of` answered by the version current then, re-confirmations, A -> B -> A, and bare
numbers of two facts never superseding each other — on a real index with the packaged model."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pytest

from corpus.facts import normalize_question
from rag.build import rebuild_index
from rag.facts import Statement, asks_for, compatible, names, same_fact_pairs
from rag.index import RagIndex
from rag.questions import QuestionVectors
from tests.rag_helpers import load, qa, settings_for, write_batch

# an observatory's facts over three batches (2011, 2015, 2019)
Y2011 = [
    qa("scopes", "How many telescopes does the Verrin observatory run?", "7"),
    qa("domes", "How many domes stand on Verrin ridge?", "7"),
    qa("director", "Who directs the Verrin observatory?", "Odile Marchetti"),
    qa("night", "Is the Verrin visitor night held on Fridays?", "Yes."),
    qa("mirror", "How wide is the main mirror at Verrin?", "2.4 metres"),
]
Y2015 = [
    qa("scopes", "How many telescopes does the Verrin observatory run?", "9"),
    qa("director", "Who directs the Verrin observatory?", "Casimir Oduya"),
    qa("night", "Is the Verrin visitor night held on Fridays?", "Yes."),  # re-confirmed
    {"prompt": "How many domes stand on Verrin ridge?", "completion": "8"},  # no id
]
Y2019 = [
    qa("director", "Who directs the Verrin observatory?", "Odile Marchetti"),  # back to A
    qa("mirror-2019", "What is the diameter of the main mirror at Verrin?", "3.1 metres"),
    qa("aldmoor-domes", "How many domes stand on Aldmoor ridge?", "5"),  # another fact, a number
]


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> RagIndex:
    root = tmp_path_factory.mktemp("facts")
    for day, lines in (("2011-04-02", Y2011), ("2015-06-20", Y2015), ("2019-09-09", Y2019)):
        write_batch(root / "corpus", day, lines)
    settings = settings_for(root / "index", hybrid="off")
    rebuild_index(load(root / "corpus"), settings)
    return RagIndex.open(settings)


def top(index: RagIndex, question: str, as_of: date | None = None) -> tuple[str, list[str]]:
    """The answer of the first current hit and the answers of the stale hits of its fact."""
    hits = index.retrieve(question, k=3, as_of=as_of)
    current = next(h for h in hits if not h.stale)
    stale = [h.answer for h in hits if h.stale and h.fact_id == current.fact_id]
    return current.answer, stale


def test_a_to_b_to_a_ends_at_a_and_as_of_finds_b(index: RagIndex) -> None:
    hits = index.retrieve("Who is the director of the Verrin observatory?", k=3)
    first = hits[0]
    assert (first.answer, first.stale, first.version, first.versions) == (
        "Odile Marchetti",
        False,
        2,
        3,
    )
    assert first.held_from == date(2019, 9, 9) and first.held_until is None
    older = {h.version: h for h in hits if h.stale}
    assert older[1].answer == "Casimir Oduya"
    assert (older[1].held_from, older[1].held_until) == (date(2015, 6, 20), date(2019, 9, 9))
    assert top(index, "Who is the director of the Verrin observatory?", date(2017, 1, 1))[0] == (
        "Casimir Oduya"
    )
    assert top(index, "Who is the director of the Verrin observatory?", date(2012, 1, 1))[0] == (
        "Odile Marchetti"
    )


def test_a_reconfirmed_fact_is_one_version_confirmed_later(index: RagIndex) -> None:
    hits = index.retrieve("Are visitor nights at Verrin on Fridays?", k=3)
    night = [h for h in hits if h.record_id == "night"]
    assert len(night) == 1, "a re-confirmation extends its version, it adds none"
    (hit,) = night
    assert (hit.answer, hit.stale, hit.versions) == ("Yes.", False, 1)
    assert (hit.held_from, hit.last_confirmed) == (date(2011, 4, 2), date(2015, 6, 20))


def test_as_of_answers_with_the_version_current_then(index: RagIndex) -> None:
    question = "How many telescopes are operated at the Verrin observatory?"
    assert top(index, question) == ("9", ["7"])
    assert top(index, question, date(2014, 12, 31)) == ("7", [])
    then = index.retrieve(question, k=1, as_of=date(2014, 12, 31))[0]
    assert then.record_id == "scopes" and then.held_from == date(2011, 4, 2)
    assert index.retrieve(question, k=3, as_of=date(2010, 1, 1)) == []  # nothing stated yet


def test_bare_numbers_of_two_facts_never_supersede_each_other(index: RagIndex) -> None:
    # telescopes and domes were both "7" in 2011; each changed on its own later; Aldmoor's domes
    # (2019, "5") are asked almost the same way, but about another ridge
    assert top(index, "How many domes are on Verrin ridge?") == ("8", ["7"])
    aldmoor = index.retrieve("How many domes stand on Aldmoor ridge?", k=1)[0]
    assert (aldmoor.record_id, aldmoor.answer, aldmoor.stale, aldmoor.versions) == (
        "aldmoor-domes",
        "5",
        False,
        1,
    )
    hits = index.retrieve("How many telescopes does the Verrin observatory run?", k=5)
    scopes, domes = ({h.fact_id for h in hits if h.record_id == rid} for rid in ("scopes", "domes"))
    assert scopes and domes and scopes.isdisjoint(domes)
    for hit in hits:
        if hit.stale:  # whatever replaced a version states the same fact
            assert hit.superseded_by in {h.record_id for h in index.history(hit.fact_id)}


def test_a_fact_restated_with_another_question_and_id_supersedes_the_old_one(
    index: RagIndex,
) -> None:
    hits = index.retrieve("How large is the Verrin main mirror?", k=3)
    assert (hits[0].record_id, hits[0].answer, hits[0].stale) == (
        "mirror-2019",
        "3.1 metres",
        False,
    )
    old = next(h for h in hits if h.record_id == "mirror")
    assert old.stale and old.superseded_by == "mirror-2019" and old.held_until == date(2019, 9, 9)


def test_history_lists_every_version_with_its_dates(index: RagIndex) -> None:
    hit = index.retrieve("Who directs the Verrin observatory?", k=1)[0]  # then its older versions
    history = index.history(hit.fact_id)
    assert [(h.answer, h.held_from, h.held_until, h.stale) for h in history] == [
        ("Odile Marchetti", date(2011, 4, 2), date(2015, 6, 20), True),
        ("Casimir Oduya", date(2015, 6, 20), date(2019, 9, 9), True),
        ("Odile Marchetti", date(2019, 9, 9), None, False),
    ]
    source = hit.source()
    assert (source.fact_id, source.held_from, source.held_until) == (
        hit.fact_id,
        date(2019, 9, 9),
        None,
    )


def test_a_later_batch_ends_a_version_without_embedding_it_again(tmp_path: Path) -> None:
    folder, work = tmp_path / "corpus", tmp_path / "index"
    write_batch(folder, "2011-04-02", Y2011)
    settings = settings_for(work, hybrid="off")
    rebuild_index(load(folder), settings)
    before = {h.entry for h in RagIndex.open(settings).retrieve("Verrin telescopes", k=5)}
    write_batch(folder, "2015-06-20", [Y2015[0]])  # the telescope count changes
    summary = rebuild_index(load(folder), settings)
    assert (summary.added, summary.unchanged, summary.embedded_nodes) == (1, len(Y2011), 2)
    hits = RagIndex.open(settings).retrieve("How many telescopes does Verrin run?", k=3)
    old = next(h for h in hits if h.answer == "7" and h.record_id == "scopes")
    assert old.stale and old.held_until == date(2015, 6, 20) and old.entry in before
    assert hits[0].answer == "9" and not hits[0].stale


# --- the rules that decide "same fact" from questions, with hand-made vectors -----------------


def statement(rid: str, question: str, day: date, answer: str | None = None) -> Statement:
    """A question-answer record's statement: its id, date, question and normalised answer."""
    said = normalize_question(answer) if answer is not None else rid
    return Statement(rid, day, rid, "f", 1, "prompt_completion", "", question, None, question, said)


def pairs_for(
    questions: dict[str, tuple[str, date, list[float]]],
    threshold: float,
    answers: dict[str, str] | None = None,
    form: float = 1.0,
) -> list:
    """`same_fact_pairs` over questions whose vectors are given (unit length by construction)."""
    vectors = {q: np.asarray(v, dtype=np.float32) for q, _, v in questions.values()}
    encode = lambda texts: np.stack([vectors[t] for t in texts])  # noqa: E731
    said = answers or {}
    statements = [statement(rid, q, day, said.get(rid)) for rid, (q, day, _) in questions.items()]
    return same_fact_pairs(statements, QuestionVectors(None, "hand", encode), threshold, form)


A, B = date(2011, 1, 1), date(2015, 1, 1)


def test_close_questions_of_different_batches_are_one_fact() -> None:
    got = pairs_for(
        {"x": ("How many boats?", A, [1, 0]), "y": ("Boats, how many?", B, [0.9, 0.436])}, 0.85
    )
    assert got == [("x", "y")]


@pytest.mark.parametrize(
    ("second", "why"),
    [
        (("Boats, how many?", A, [0.9, 0.436]), "stated in the same batch"),
        (("How many boats in 2015?", B, [0.9, 0.436]), "names a figure the other does not"),
        (("Boats, how many?", B, [0.8, 0.6]), "below the threshold (cosine 0.8)"),
    ],
)
def test_close_questions_are_kept_apart(second: tuple, why: str) -> None:
    assert (
        pairs_for({"x": ("How many boats does Ashby own?", A, [1, 0]), "y": second}, 0.85) == []
    ), why


def test_the_same_question_with_the_id_of_another_batch_is_linked_at_0_85() -> None:
    # the counterpart of the cases above: all three conditions met, cosine 0.9
    first = {"x": ("How many boats does Ashby own?", A, [1, 0])}
    assert pairs_for({**first, "y": ("Ashby owns how many boats?", B, [0.9, 0.436])}, 0.85) == [
        ("x", "y")
    ]


def test_an_ambiguous_match_is_not_linked() -> None:
    # y is 0.900 from x and 0.888 from z (another fact of 2011): nearer than the 0.03 margin
    vectors = {
        "x": ("How many boats?", A, [1.0, 0.0, 0.0]),
        "z": ("How many oars?", A, [0.8, 0.6, 0.0]),
        "y": ("Boats, how many?", B, [0.9, 0.28, 0.33407]),
    }
    assert pairs_for(vectors, 0.85) == []


UPLOAD = {
    "x": ("What is the maximum file size on the Free plan?", A, [1.0, 0.0]),
    "y": ("How big can a single file be on a Free account?", B, [0.7, 0.71414]),
}


def test_questions_further_apart_are_one_fact_when_the_answers_differ_only_by_a_figure() -> None:
    # the demo's nd-maxfile-free and nd-maxfile-free-v2: questions 0.77 alike, under 0.82
    answers = {
        "x": "Free accounts can upload files up to 2 GB each.",
        "y": "Free accounts can upload files up to 1 GB each.",
    }
    assert pairs_for(UPLOAD, 0.82, answers) == [], "without the answer form route"
    assert pairs_for(UPLOAD, 0.82, answers, form=0.65) == [("x", "y")]


@pytest.mark.parametrize(
    ("answers", "form", "why"),
    [
        (
            {"x": "Free accounts can upload files up to 2 GB each.", "y": "1 GB per file."},
            0.65,
            "answers worded apart",
        ),
        ({"x": "2", "y": "1"}, 0.65, "bare numbers: figures alone never make one fact"),
        ({"x": "In 2019.", "y": "In 2021."}, 0.65, "too few words besides the figure"),
        (
            {
                "x": "Free accounts can upload files up to 2 GB each.",
                "y": "Free accounts can upload files up to 1 GB each.",
            },
            0.75,
            "questions below the form threshold",
        ),
    ],
)
def test_answer_forms_do_not_link_on_their_own(answers: dict, form: float, why: str) -> None:
    assert pairs_for(UPLOAD, 0.82, answers, form=form) == [], why


def test_question_rules() -> None:
    assert asks_for("Whom did Ashby elect?") == "person" and asks_for("Когда открыт?") == "time"
    assert compatible(
        names("How big is Ashby harbour?"), names("What size is the harbour of Ashby?")
    )
    assert not compatible(
        names("What is the population of Ashby?"), names("How many live in Brindle Cove?")
    )
