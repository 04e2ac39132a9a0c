"""The extractive RAG answerer: the best hit's answer or sentence, abstention, multiple choice by
the passage, and the sources every retrieving side reads."""

from __future__ import annotations

import pytest

from answers import Answerer, Question
from rag.answerer import RagAnswerer
from rag.build import rebuild_index
from rag.index import RagIndex
from tests.rag_helpers import PRICE_AND_WARRANTY, load, settings_for, write_batch

LINES = [
    *PRICE_AND_WARRANTY,
    {
        "id": "harbour-bulletin",
        "text": "Harbour bulletin for Skerrow Quay. The north pier reopens after repairs on "
        "12 March. The winter ferry timetable starts on 4 November. Moorings cost 18 pounds a "
        "night for boats under ten metres.",
    },
]


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> RagIndex:
    root = tmp_path_factory.mktemp("answerer")
    write_batch(root / "corpus", "2026-03-01", LINES)
    settings = settings_for(root / "index")
    rebuild_index(load(root / "corpus"), settings)
    return RagIndex.open(settings)


def test_extractive_answers_with_source_and_cutoff(index: RagIndex) -> None:
    answerer = RagAnswerer(index)
    assert isinstance(answerer, Answerer)
    answer = answerer.answer(Question(text="What is the monthly price of the Pro plan?"))
    assert answer.ok and not answer.abstained
    assert answer.text == "The Pro plan costs 15 EUR per month."
    assert answer.sources[0].record_id == "price-pro" and answer.sources[0].score > 0.5
    assert answer.usage.embedding_tokens > 0 and answer.latency_s > 0
    assert str(answer.knowledge_cutoff) == "2026-03-01"


@pytest.mark.parametrize(
    "question", ["What is the capital of France?", "Quelle heure est-il à Tokyo ?"]
)
def test_extractive_abstains_below_the_threshold(index: RagIndex, question: str) -> None:
    answer = RagAnswerer(index).answer(Question(text=question))
    assert answer.ok and answer.abstained and answer.text == ""
    assert answer.sources  # it still shows what it found


def test_find_sources_gives_the_retrieval_half(index: RagIndex) -> None:
    sources, usage = RagAnswerer(index).find_sources(Question(text="How long is the warranty?"))
    assert sources[0].record_id == "warranty" and "Two years." in sources[0].text
    assert usage.embedding_tokens > 0


def test_a_passage_answers_with_its_best_sentence_and_shows_the_passage(index: RagIndex) -> None:
    answer = RagAnswerer(index).answer(Question(text="When does the winter ferry timetable start?"))
    assert answer.ok and not answer.abstained, answer
    assert answer.text == "The winter ferry timetable starts on 4 November."
    source = answer.sources[0]
    assert source.record_id == "harbour-bulletin"
    assert source.text == LINES[2]["text"]  # the whole passage, not the sentence


@pytest.mark.parametrize(
    ("question", "choices", "expected"),
    [
        # "4 November" is named; "14 November" is not (it would only match inside "14")
        (
            "When does the winter ferry timetable start?",
            ("14 November", "4 November", "4 March"),
            1,
        ),
        ("How long is the hardware warranty?", ("One year", "Two years", "Three years"), 1),
    ],
)
def test_multiple_choice_picks_the_choice_the_passage_names(
    index: RagIndex, question: str, choices: tuple[str, ...], expected: int
) -> None:
    answer = RagAnswerer(index).answer(Question(text=question, choices=choices))
    assert answer.ok and not answer.abstained
    assert (answer.choice, answer.choice_method) == (expected, "passage")
    assert answer.text.startswith(choices[expected]) and "names" in answer.text
