"""The workbench: the app's and CLI's one handle on a configured corpus, its sides and their runs.

It reads the configured corpus and manifests, builds the sides once (`compare.sides`), runs
comparisons (`compare.comparison`) and keeps them in the runs database. Thread-safe: one instance
serves every session of the app.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from answers import Answer, Answerer, Progress, Question
from answers.prices import PriceBook
from compare.advice import AdviceSettings
from compare.asking import ask_one
from compare.comparison import Comparison, Context, assess, compare
from compare.cost import CostSettings
from compare.evalset import EvalItem, load_eval
from compare.freshness import Freshness, freshness
from compare.judge import LlmJudge
from compare.knowledge import SidesKnowledge, sides_knowledge
from compare.runs_db import RunRecord, RunsDatabase
from compare.settings import WorkbenchSettings, build_settings
from compare.side_table import side_spec
from compare.sides import Sides
from corpus import Record, current_records, load_corpus

if TYPE_CHECKING:
    from compare.make_eval import MadeEval
    from corpus.facts import FactHistory
    from rag.manifest import IndexManifest, RebuildSummary
    from rag.status import IndexStatus
    from tuning.manifest import TuningManifest

__all__ = ["Workbench", "WorkbenchSettings", "build_settings"]


class Workbench:
    """Everything the app and `python -m compare` do, over one set of settings."""

    def __init__(self, settings: WorkbenchSettings) -> None:
        self.settings = settings
        self.sides = Sides(settings)
        self._lock = threading.Lock()
        self._db: RunsDatabase | None = None

    # --- what there is ------------------------------------------------------------------------

    def records(self) -> list[Record]:
        """The configured corpus's current records (the newest line per id)."""
        return current_records(load_corpus([self.settings.compare.corpus_dir]).records)

    def load_eval(self, path: Path | None = None) -> list[EvalItem]:
        """The eval questions (default: the configured eval file)."""
        return load_eval(path or self.settings.compare.eval_path)

    def price_book(self) -> PriceBook:
        """The price book as it is on disk."""
        return PriceBook.load(self.settings.compare.prices_path)

    @property
    def answerer_names(self) -> list[str]:
        """The sides this configuration can compare."""
        return self.sides.names(has_previous=self._previous_manifest() is not None)

    @property
    def default_sides(self) -> list[str]:
        """The sides asked unless others are chosen (the side table's defaults)."""
        return [n for n in self.answerer_names if side_spec(n).default]

    # --- the index ----------------------------------------------------------------------------

    def index_status(self, records: Sequence[Record] | None = None) -> IndexStatus:
        """What the index holds and what the next rebuild would change."""
        from rag.status import index_status

        current = self.records() if records is None else records
        return index_status(self.settings.rag, ((r.id, r.content_hash) for r in current))

    def rebuild_index(self, progress: Progress | None = None, full: bool = False) -> RebuildSummary:
        """Bring the index in line with the corpus (incremental unless `full`)."""
        from rag.build import rebuild_index

        report = load_corpus([self.settings.compare.corpus_dir])

        def embedded(done: int, total: int) -> None:
            if progress:
                progress(done, total, f"embedded {done} of {total} nodes")

        summary = rebuild_index(
            report.records,
            self.settings.rag,
            full=full,
            rejected=len(report.rejects),
            progress=embedded,
        )
        self.sides.forget_index()
        return summary

    # --- what each side knows -----------------------------------------------------------------

    def knowledge(self, records: Sequence[Record]) -> SidesKnowledge:
        """What the index and tuning manifests say, for freshness, cost and the advice."""
        return sides_knowledge(
            records,
            self._index_manifest(),
            self._tuned_manifest(),
            previous=self._previous_manifest(),
            declared_cutoff=self.settings.tuning.cutoff,
        )

    def freshness(self, records: Sequence[Record] | None = None) -> list[Freshness]:
        """Each configured side's view of the current corpus, before any evaluation."""
        records = self.records() if records is None else list(records)
        k = self.knowledge(records)
        return [freshness(records, side) for side in (k.index, k.tuned) if side is not None]

    # --- asking and comparing -----------------------------------------------------------------

    def answerers(self, names: Sequence[str], cost: CostSettings | None = None) -> list[Answerer]:
        """The named sides, each priced under `cost` (default prices when none given)."""
        return self.sides.build(names, self.price_book(), cost or CostSettings(), self._manifests())

    def ask(
        self,
        question: str | Question,
        names: Sequence[str] | None = None,
        cost: CostSettings | None = None,
    ) -> dict[str, Answer]:
        """Every side's answer to one question, side by side (each side fails on its own)."""
        asked = question if isinstance(question, Question) else Question(text=question)
        sides = self.answerers(names or self.default_sides, cost)
        results: dict[str, Answer] = {}

        def ask(side: Answerer) -> None:
            results[side.name] = ask_one(side, asked)

        # the sides wait on different things (the embedder, an HTTP endpoint): ask them together
        threads = [threading.Thread(target=ask, args=(side,)) for side in sides]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return {side.name: results[side.name] for side in sides}

    def compare(
        self,
        items: Sequence[EvalItem],
        names: Sequence[str] | None = None,
        *,
        progress: Progress | None = None,
        cost: CostSettings | None = None,
        advice: AdviceSettings | None = None,
        eval_name: str | None = None,
        concurrency: int | None = None,
    ) -> Comparison:
        """Run the questions through the named sides; score, price, advise and keep the run."""
        names = list(names or self.default_sides)
        context = self.context(cost, advice)
        c = self.settings.compare
        judge = LlmJudge(self.sides.judge_chat()) if c.judge else None
        return compare(
            items,
            self.answerers(names, context.cost),
            context,
            configurations=self.cache_keys(names),
            db=self.db(),
            embed=self._embed,
            judge=judge,
            eval_name=eval_name or c.eval_path.name,
            concurrency=concurrency or c.concurrency,
            progress=progress,
        )

    def cache_keys(self, names: Sequence[str]) -> dict[str, str]:
        """A cache key per side: it changes when what the side would answer from changes."""
        return self.sides.cache_keys(names, self._index_key(), self._manifests())

    def writers(self, names: Sequence[str] | None = None) -> dict[str, str]:
        """Which model writes each side's answers, and where (for reports and the app)."""
        manifests = self._manifests()
        return {n: self.sides.writer(n, manifests) for n in names or self.answerer_names}

    def reassess(
        self,
        comparison: Comparison,
        cost: CostSettings,
        advice: AdviceSettings,
        book: PriceBook | None = None,
    ) -> Comparison:
        """The same run with other prices, volumes or thresholds (no side is asked again)."""
        context = self.context(cost, advice)
        if book is not None:
            context = context.model_copy(update={"book": book})
        return assess(comparison.run, context)

    def context(
        self, cost: CostSettings | None = None, advice: AdviceSettings | None = None
    ) -> Context:
        """What a run is judged against, read from the corpus and manifests now."""
        records = self.records()
        return Context(
            records=records,
            knowledge=self.knowledge(records),
            book=self.price_book(),
            cost=cost or CostSettings(),
            advice=advice or AdviceSettings(),
            writers=self.writers(),
        )

    def db(self) -> RunsDatabase:
        """The runs database: answer cache and run history."""
        with self._lock:
            if self._db is None:
                self._db = RunsDatabase(self.settings.compare.work_dir / "runs.sqlite")
            return self._db

    def history(self) -> list[RunRecord]:
        """Past runs with their headline numbers, oldest first."""
        return self.db().runs()

    def fact_histories(self, records: Sequence[Record] | None = None) -> list[FactHistory]:
        """Every fact's history (all dated lines of the configured corpus by default), grouped as
        the index groups them: by id, wording and question-only embeddings."""
        from rag.versions import fact_histories_as_indexed

        if records is None:
            records = load_corpus([self.settings.compare.corpus_dir]).records
        return fact_histories_as_indexed(records, self.settings.rag)

    def make_eval(self, size: int = 60, seed: int = 0, *, endpoint: bool = False) -> MadeEval:
        """An eval set from the configured corpus, stratified and reworded (through the tuning
        endpoint when asked, else offline), kinds judged against the tuned model's cutoff."""
        from compare.make_eval import make_eval
        from compare.rephrase import reword_with_model

        records = load_corpus([self.settings.compare.corpus_dir]).records
        tuned = self.knowledge(current_records(records)).tuned
        chat = self.sides.chat() if endpoint else None
        return make_eval(
            records,
            size=size,
            seed=seed,
            cutoff=tuned.cutoff if tuned else None,
            reword=(lambda q: reword_with_model(q, chat)) if chat is not None else None,
            histories=self.fact_histories(records),
        )

    # --- manifests ----------------------------------------------------------------------------

    def _index_manifest(self) -> IndexManifest | None:
        from rag.manifest import read_manifest

        return read_manifest(self.settings.rag.work_dir)

    def _index_key(self) -> str:
        index = self._index_manifest()
        if index is None:
            return "index:-"
        return f"index:{index.corpus_fingerprint[:16]}:{index.embed_model}"

    def _tuned_manifest(self) -> TuningManifest | None:
        return _manifest(self.settings.tuning.manifest_path)

    def _previous_manifest(self) -> TuningManifest | None:
        return _manifest(self.settings.compare.previous_adapter)

    def _manifests(self) -> tuple[TuningManifest | None, TuningManifest | None]:
        return self._tuned_manifest(), self._previous_manifest()

    def _embed(self, texts: list[str]) -> Any:
        """The retrieval embedder, reused for the semantic-similarity metric."""
        from rag.embedding import load_embedder

        rag = self.settings.rag
        return load_embedder(rag.embed_model, rag.device, rag.embed_batch_size).encode(texts)


def _manifest(path: Path | None) -> TuningManifest | None:
    from tuning.manifest import TuningManifest

    return TuningManifest.load(path) if path is not None and path.exists() else None
