"""Retrieval quality on the demo eval set (hit@1, hit@5, MRR from its record ids), dense alone and
fused with BM25, and the cross-lingual rate (a question in one language, its record in the other)."""

from __future__ import annotations

from pathlib import Path

import pytest

from compare.evalset import EvalItem, load_eval
from rag.build import rebuild_index
from rag.index import RagIndex
from tests.conftest import DEMO_CORPUS, DEMO_EVAL
from tests.rag_helpers import load, settings_for

# (question, id of the record in the other language that answers it); written by hand from the
# corpus, for facts stated in one language only
CROSS_LINGUAL: list[tuple[str, str]] = [
    ("Сколько сотрудников работает в Nordlicht Systems?", "nd-company-employees"),
    ("Сколько минимум пользователей нужно для тарифа Team?", "nd-team-min-users"),
    ("Сколько стоит дополнительное место в хранилище?", "nd-storage-addon"),
    ("Для каких языков программирования есть официальные SDK к API?", "nd-api-sdk"),
    ("Сколько файлов можно положить в одну папку?", "nd-max-files-folder"),
    ("Можно ли входить в аккаунт с помощью passkey?", "nd-sec-passkeys"),
    ("What phone number do I call for Nordlicht Drive support?", "nd-ru-support-phone"),
    ("What is the highest bug bounty reward?", "nd-ru-sec-bugbounty"),
    ("How many articles are in the knowledge base?", "nd-ru-support-kb-articles"),
    ("Is there a sandbox environment for testing the API?", "nd-ru-api-sandbox"),
    ("Can the phone app scan paper documents?", "nd-ru-feature-doc-scan"),
    ("Are EU prices shown with VAT included?", "nd-ru-vat"),
]
MODES = ("off", "on", "auto")  # BM25 fusion: never, always, for Cyrillic queries (the default)


@pytest.fixture(scope="module")
def demo_index(tmp_path_factory: pytest.TempPathFactory) -> RagIndex:
    if not DEMO_CORPUS.exists() or not DEMO_EVAL.exists():
        pytest.skip(f"the demo data is missing: {DEMO_CORPUS} and {DEMO_EVAL} are needed")
    settings = settings_for(tmp_path_factory.mktemp("demo") / "index")
    rebuild_index(load(DEMO_CORPUS), settings)
    return RagIndex.open(settings)


def ranks(
    index: RagIndex, items: list[EvalItem], hybrid: str, dated: bool = True
) -> list[int | None]:
    """1-based rank of each item's record among the top 10, None when absent; `dated` asks as of
    the question's date (what the index knew when the fact was stated), else as of today."""
    index.settings = index.settings.model_copy(update={"hybrid": hybrid})
    found = []
    for item in items:
        as_of = item.as_of if dated else None
        ids = [h.record_id for h in index.retrieve(item.question, k=10, as_of=as_of)]
        found.append(ids.index(item.record_id) + 1 if item.record_id in ids else None)
    return found


def scores(found: list[int | None]) -> dict[str, float]:
    n = len(found)
    return {
        "hit@1": sum(r == 1 for r in found) / n,
        "hit@5": sum(r is not None and r <= 5 for r in found) / n,
        "mrr": sum(1 / r for r in found if r) / n,
    }


@pytest.mark.slow
def test_demo_eval_retrieval_quality(demo_index: RagIndex) -> None:
    items = [i for i in load_eval(DEMO_EVAL) if i.record_id]
    assert items
    default = demo_index.settings.hybrid
    results = {mode: scores(ranks(demo_index, items, mode)) for mode in MODES}
    for mode, s in results.items():
        print(
            f"\nhybrid={mode:<4} n={len(items)} " + " ".join(f"{k}={v:.3f}" for k, v in s.items())
        )
    today = scores(ranks(demo_index, items, default, dated=False))
    print("asked today (no as_of): " + " ".join(f"{k}={v:.3f}" for k, v in today.items()))
    for kind in sorted({i.kind or "?" for i in items}):
        subset = [i for i in items if (i.kind or "?") == kind]
        s = scores(ranks(demo_index, subset, default, dated=False))
        print(
            f"today kind={kind:<8} n={len(subset)} "
            + " ".join(f"{k}={v:.3f}" for k, v in s.items())
        )
    for lang in sorted({i.lang or "?" for i in items}):
        subset = [i for i in items if (i.lang or "?") == lang]
        s = scores(ranks(demo_index, subset, default))
        print(f"lang={lang:<3} n={len(subset)} " + " ".join(f"{k}={v:.3f}" for k, v in s.items()))
    demo_index.settings = demo_index.settings.model_copy(update={"hybrid": default})
    assert default == "auto"
    assert results[default]["hit@5"] >= 0.9
    assert today["hit@5"] >= 0.88  # asked today, older statements of changed facts compete too


@pytest.mark.slow
def test_cross_lingual_rate_is_reported(demo_index: RagIndex) -> None:
    known = set(load_ids(DEMO_CORPUS))
    assert {rid for _, rid in CROSS_LINGUAL} <= known
    for mode in MODES:
        demo_index.settings = demo_index.settings.model_copy(update={"hybrid": mode})
        hits = [
            rid in [h.record_id for h in demo_index.retrieve(q, k=5)] for q, rid in CROSS_LINGUAL
        ]
        ru_en = hits[: len(hits) // 2]
        en_ru = hits[len(hits) // 2 :]
        print(
            f"\ncross-lingual hit@5 (hybrid={mode}): Russian question -> English record "
            f"{sum(ru_en)}/{len(ru_en)}, English question -> Russian record {sum(en_ru)}/{len(en_ru)}"
        )
        assert 0 <= sum(hits) <= len(hits)
    demo_index.settings = demo_index.settings.model_copy(update={"hybrid": "auto"})


def load_ids(folder: Path) -> list[str]:
    return [r.id for r in load(folder)]
