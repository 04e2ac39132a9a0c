"""The workbench: the corpus, both sides and the comparison behind one object the app and CLI share.

It wires `corpus/`, `rag/` and `tuning/` together from one `WorkbenchSettings`, opens each resource
once, and turns every failure of a side into an `Answer` with an error. Thread-safe: one instance
serves every session of the app.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from compare.advice import AdviceSettings
from compare.answer import Answer, Answerer
from compare.combined import TunedRagAnswerer
from compare.cost import PriceBook, SideCostModel, answer_cost
from compare.costing import CostSettings, FixedInputs, side_models
from compare.evalset import EvalItem, load_eval
from compare.evaluate import SideFacts, assess, batches, evaluate
from compare.freshness import Freshness, Knowledge, freshness
from compare.judge import LlmJudge
from compare.report import Comparison
from compare.settings import WorkbenchSettings, build_settings
from compare.store import Store
from corpus import LoadReport, Record, current_records, load_corpus
from corpus.export import ExportResult, export_records
from corpus.report import CorpusSummary, record_text, summarise
from corpus.tokens import count_tokens
from tuning.manifest import TuningManifest

__all__ = ["IndexStatus", "Workbench", "WorkbenchSettings", "build_settings"]

ANSWERERS = ("rag", "tuned", "tuned_rag")
Progress = Callable[[int, int, str], None]  # (done, total, what is being done)


class IndexStatus(BaseModel):
    """What the index holds and what the next rebuild would change."""

    records: int = 0
    nodes: int = 0
    built_at: datetime | None = None
    newest_as_of: date | None = None
    pending_new: int = 0
    pending_changed: int = 0
    pending_removed: int = 0
    embed_model: str = ""
    chroma: str = ""


class FailedAnswerer:
    """Stands in for a side that could not be set up: every answer carries the reason."""

    def __init__(self, name: str, error: str) -> None:
        self.name = name
        self.error = error

    def answer(self, question: str) -> Answer:
        """An answer that says why this side cannot answer."""
        return Answer(answerer=self.name, error=self.error)


class Priced:
    """Wraps an answerer so each answer carries its cost under the side's price model."""

    def __init__(
        self, inner: Answerer, model: SideCostModel, book: PriceBook, cost: CostSettings
    ) -> None:
        self.name = inner.name
        self.inner = inner
        self.model = model
        self.book = book
        self.embed_s = cost.embed_seconds_per_query if model.embedder else 0.0

    def answer(self, question: str) -> Answer:
        """The inner answer with `cost_usd` filled in."""
        answer = self.inner.answer(question)
        if not answer.ok:
            return answer
        cost = answer_cost(answer, self.model, self.book, self.embed_s)
        return answer.model_copy(update={"cost_usd": cost})


class Workbench:
    """Everything the app and `python -m compare` do, over one set of settings."""

    def __init__(self, settings: WorkbenchSettings) -> None:
        self.settings = settings
        self._lock = threading.RLock()
        self._index: Any = None  # rag.index.RagIndex, opened on first use
        self._store: Store | None = None
        self._chats: dict[str, Any] = {}  # model -> tuning.client.ChatClient, one pool each

    # --- corpus -----------------------------------------------------------------------------

    @property
    def answerer_names(self) -> list[str]:
        """The sides this configuration can compare."""
        names = list(ANSWERERS)
        if self._previous_manifest() is not None and self.settings.tuning.previous_model:
            names.append("tuned_previous")
        return names

    def load_corpus(self, paths: Sequence[Path] | None = None) -> LoadReport:
        """Read the given files (default: the configured corpus), keeping every valid record."""
        return load_corpus(list(paths) if paths else [self.settings.compare.corpus_dir])

    def records(self) -> list[Record]:
        """The configured corpus's current records (the newest line per id)."""
        return current_records(self.load_corpus().records)

    def corpus_summary(self, report: LoadReport) -> CorpusSummary:
        """Counts, token statistics and the training estimate of a load."""
        return summarise(report)

    def export(self, report: LoadReport, target: str) -> ExportResult:
        """The loaded records written for one platform, with what could not be converted."""
        return export_records(current_records(report.records), target)

    def batches(
        self, records: Sequence[Record] | None = None
    ) -> list[tuple[str, date | None, int]]:
        """(batch, date, records) per corpus batch, oldest first (default: the configured corpus)."""
        return batches(self.records() if records is None else records)

    def load_eval(self, path: Path | None = None) -> list[EvalItem]:
        """The eval questions (default: the configured eval file)."""
        return load_eval(path or self.settings.compare.eval_path)

    def price_book(self) -> PriceBook:
        """The price book as it is on disk."""
        return PriceBook.load(self.settings.compare.prices_path)

    # --- index ------------------------------------------------------------------------------

    def index_status(self, records: Sequence[Record] | None = None) -> IndexStatus:
        """The complete manifest's numbers and the records pending since it was built."""
        from rag.embedding import model_name
        from rag.manifest import read_manifest
        from rag.store import location

        rag = self.settings.rag
        manifest = read_manifest(rag.work_dir)
        current = self.records() if records is None else records
        pairs = [(r.id, r.content_hash) for r in current]
        if manifest is None:
            return IndexStatus(
                pending_new=len(pairs),
                embed_model=_short(model_name(rag.embed_model)),
                chroma=location(rag),
            )
        new, changed, removed = manifest.pending(pairs)
        return IndexStatus(
            records=len(manifest.records),
            nodes=manifest.nodes,
            built_at=manifest.built_at,
            newest_as_of=manifest.newest_as_of,
            pending_new=new,
            pending_changed=changed,
            pending_removed=removed,
            embed_model=_short(manifest.embed_model),
            chroma=manifest.store,
        )

    def rebuild_index(self, progress: Progress | None = None, full: bool = False) -> Any:
        """Bring the index in line with the corpus (incremental unless `full`); returns the summary."""
        from rag.build import rebuild_index

        report = self.load_corpus()

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
        with self._lock:
            self._index = None  # the next question opens the new manifest
        return summary

    def _rag_index(self) -> Any:
        """The opened index, reopened when a rebuild finished since (raises when never built)."""
        from rag.index import RagIndex

        with self._lock:
            if self._index is None or self._index.is_outdated():
                self._index = RagIndex.open(self.settings.rag)
            return self._index

    # --- answerers --------------------------------------------------------------------------

    def answerers(self, names: Sequence[str], book: PriceBook | None = None) -> list[Answerer]:
        """The named sides, each priced; a side that cannot be set up answers with its error."""
        book = book or self.price_book()
        cost = CostSettings()
        models = side_models(cost, FixedInputs(), book)
        built: list[Answerer] = []
        for name in names:
            try:
                answerer = self._answerer(name)
            except Exception as err:  # a side that cannot start must not take the others down
                answerer = FailedAnswerer(name, f"{type(err).__name__}: {err}")
            model = models.get(name)
            built.append(Priced(answerer, model, book, cost) if model is not None else answerer)
        return built

    def _chat(self, model: str | None = None) -> Any:
        """The endpoint's chat client for a model (default: the tuned one), made once: every
        question reuses its connection pool instead of opening a new one."""
        from tuning.client import ChatClient

        model = model or self.settings.tuning.model
        with self._lock:
            if model not in self._chats:
                self._chats[model] = ChatClient(self.settings.tuning, model=model)
            return self._chats[model]

    def _answerer(self, name: str) -> Answerer:
        from rag.answerer import RagAnswerer
        from tuning.client import TunedAnswerer

        tuning = self.settings.tuning
        if name == "rag":
            mode = self.settings.compare.rag_mode
            chat = self._chat() if mode == "generative" else None
            return RagAnswerer(self._rag_index(), mode=mode, chat=chat)
        if name == "tuned":
            return TunedAnswerer(tuning, self._tuned_manifest(), client=self._chat())
        if name == "tuned_rag":
            finder = RagAnswerer(self._rag_index())
            tuned = TunedAnswerer(tuning, self._tuned_manifest(), client=self._chat())
            return TunedRagAnswerer(finder, tuned)
        if name == "tuned_previous" and tuning.previous_model:
            return TunedAnswerer(
                tuning,
                self._previous_manifest(),
                name="tuned_previous",
                client=self._chat(tuning.previous_model),
            )
        raise ValueError(f"unknown answerer {name!r}; choose from {', '.join(self.answerer_names)}")

    def ask(self, question: str, names: Sequence[str] | None = None) -> dict[str, Answer]:
        """Every side's answer to one question, side by side (each side fails on its own)."""
        sides = self.answerers(names or self.answerer_names)
        results: dict[str, Answer] = {}

        def ask_one(answerer: Answerer) -> None:
            try:
                results[answerer.name] = answerer.answer(question)
            except Exception as err:  # never lose the other columns to one side's bug
                results[answerer.name] = Answer(
                    answerer=answerer.name, error=f"{type(err).__name__}: {err}"
                )

        # the sides wait on different things (the embedder, an HTTP endpoint): ask them together
        threads = [threading.Thread(target=ask_one, args=(a,)) for a in sides]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return {a.name: results[a.name] for a in sides}

    # --- what each side knows ---------------------------------------------------------------

    def _tuned_manifest(self) -> TuningManifest | None:
        path = self.settings.tuning.manifest_path
        return TuningManifest.load(path) if path is not None and path.exists() else None

    def _previous_manifest(self) -> TuningManifest | None:
        path = self.settings.compare.previous_adapter
        return TuningManifest.load(path) if path is not None and path.exists() else None

    def facts(self, records: Sequence[Record]) -> SideFacts:
        """What the index and tuning manifests say, for freshness, cost and the advice."""
        from rag.manifest import read_manifest

        index = read_manifest(self.settings.rag.work_dir)
        tuned = self._tuned_manifest()
        previous = self._previous_manifest()
        tuned_knowledge = _tuned_knowledge("tuned", tuned, self.settings.tuning.cutoff)
        unseen = [r for r in records if not tuned_knowledge.knows(r)]
        new_tokens = sum(count_tokens([record_text(r) for r in unseen])) if unseen else 0
        return SideFacts(
            index=Knowledge(
                side="rag",
                content_hashes=index.content_hashes() if index else frozenset(),
                cutoff=index.newest_as_of if index else None,
                built_at=index.built_at if index else None,
            ),
            tuned=tuned_knowledge,
            previous_tuned=_tuned_knowledge("tuned_previous", previous, None) if previous else None,
            training_records=len(tuned.records) if tuned else 0,
            new_tokens=new_tokens,
            fixed=_fixed_inputs(index, tuned, records),
            retune_hours=_retune_seconds(tuned, records) / 3600,
        )

    def freshness(self, records: Sequence[Record] | None = None) -> list[Freshness]:
        """Each side's view of the current corpus (default: the configured one), before any
        evaluation."""
        records = self.records() if records is None else list(records)
        facts = self.facts(records)
        return [freshness(records, facts.index), freshness(records, facts.tuned)]

    # --- evaluation -------------------------------------------------------------------------

    def _store_handle(self) -> Store:
        with self._lock:
            if self._store is None:
                self._store = Store(self.settings.compare.work_dir / "runs.sqlite")
            return self._store

    def configurations(self, names: Sequence[str]) -> dict[str, str]:
        """A cache key per side: it changes when what the side would answer from changes."""
        from rag.manifest import read_manifest

        index = read_manifest(self.settings.rag.work_dir)
        tuning = self.settings.tuning
        tuned = self._tuned_manifest()
        index_key = f"index:{index.corpus_fingerprint[:16] if index else '-'}:{index.embed_model if index else '-'}"
        rag = self.settings.rag
        # every retrieval setting that can change which record answers is part of the key
        retrieval = (
            f"k{rag.k}:{rag.hybrid}:dense{rag.dense_weight}:names{rag.name_penalty}:"
            f"abstain{rag.abstain_below}:"
            f"same{rag.same_fact}"
        )
        rag_key = f"rag:{self.settings.compare.rag_mode}:{retrieval}:{index_key}"
        tuned_key = (
            f"tuned:{tuning.base_url}:{tuning.model}:"
            f"{tuned.trained_at.isoformat() if tuned else '-'}:max{tuning.max_tokens}"
        )
        if self.settings.compare.rag_mode == "generative":
            rag_key += f":{tuned_key}"
        keys = {"rag": rag_key, "tuned": tuned_key, "tuned_rag": f"tuned_rag:{tuned_key}:{rag_key}"}
        if tuning.previous_model:
            keys["tuned_previous"] = f"tuned_previous:{tuning.base_url}:{tuning.previous_model}"
        return {name: keys.get(name, name) for name in names}

    def evaluate(
        self,
        items: Sequence[EvalItem],
        names: Sequence[str] | None = None,
        *,
        progress: Progress | None = None,
        cost: CostSettings | None = None,
        advice: AdviceSettings | None = None,
    ) -> Comparison:
        """Run the questions through the named sides; score, price, advise and keep the run."""
        names = list(names or self.answerer_names)
        records = self.records()
        book = self.price_book()
        judge = LlmJudge(self._judge_client()) if self.settings.compare.judge else None
        return evaluate(
            items,
            self.answerers(names, book),
            records=records,
            facts=self.facts(records),
            book=book,
            cost=cost or CostSettings(),
            advice=advice or AdviceSettings(),
            configurations=self.configurations(names),
            store=self._store_handle(),
            embed=self._embed,
            judge=judge,
            eval_name=self.settings.compare.eval_path.stem,
            progress=progress,
        )

    def _judge_client(self) -> Any:
        """A chat client for the judge: its own endpoint, model and key where set."""
        from tuning.client import ChatClient

        c, tuning = self.settings.compare, self.settings.tuning
        judge = tuning.model_copy(
            update={
                "base_url": c.judge_base_url or tuning.base_url,
                "model": c.judge_model or tuning.model,
                "api_key": c.judge_api_key or tuning.api_key,
            }
        )
        return ChatClient(judge)

    def _embed(self, texts: list[str]) -> Any:
        """The retrieval embedder, reused for the semantic-similarity metric."""
        from rag.embedding import load_embedder

        rag = self.settings.rag
        return load_embedder(rag.embed_model, rag.device, rag.embed_batch_size).encode(texts)

    def reprice(
        self,
        comparison: Comparison,
        cost: CostSettings,
        advice: AdviceSettings,
        book: PriceBook | None = None,
    ) -> Comparison:
        """The same run with other prices, volumes or thresholds (no side is asked again)."""
        records = self.records()
        return assess(
            comparison.run,
            records=records,
            facts=self.facts(records),
            book=book or self.price_book(),
            cost=cost,
            advice=advice,
        )

    def history(self) -> list[dict[str, Any]]:
        """Past runs with their headline numbers, oldest first."""
        return self._store_handle().runs()


def _short(name: str) -> str:
    """A model path shortened to what a person recognises (the packaged model's folder name)."""
    path = Path(name)
    return path.name if path.is_absolute() else name


def _tuned_knowledge(side: str, manifest: TuningManifest | None, cutoff: date | None) -> Knowledge:
    """What a tuned model knows: its training records, else its declared cutoff, else nothing."""
    if manifest is None:
        return Knowledge(side=side, content_hashes=None if cutoff else frozenset(), cutoff=cutoff)
    return Knowledge(
        side=side,
        content_hashes=manifest.known_hashes() if manifest.records else None,
        cutoff=manifest.knowledge_cutoff,
        built_at=manifest.trained_at,
    )


def _retune_tokens(manifest: TuningManifest | None, records: Sequence[Record]) -> int:
    """Training tokens (all epochs) of a re-tune on the current corpus."""
    if manifest is None or not manifest.records or not manifest.training_tokens:
        tokens = sum(count_tokens([record_text(r) for r in records])) if records else 0
        return tokens * (manifest.epochs if manifest and manifest.epochs else 3)
    # the last run's tokens per trained record, scaled to today's corpus
    return round(manifest.training_tokens * len(records) / len(manifest.records))


def _retune_seconds(manifest: TuningManifest | None, records: Sequence[Record]) -> float:
    """Expected wall time of a local re-tune at the last run's measured speed (0 when unknown)."""
    if manifest is None or not manifest.tokens_per_s:
        return 0.0
    return _retune_tokens(manifest, records) / manifest.tokens_per_s


def _fixed_inputs(
    index: Any, tuned: TuningManifest | None, records: Sequence[Record]
) -> FixedInputs:
    """An index build and a re-tune, as the manifests measured them."""
    build_s = 0.0
    if index is not None and index.last_rebuild and index.last_rebuild.embedded_nodes:
        per_node = index.last_rebuild.seconds / index.last_rebuild.embedded_nodes
        build_s = per_node * index.nodes
    return FixedInputs(
        index_build_seconds=build_s,
        index_embedding_tokens=index.embedding_tokens if index is not None else 0,
        training_tokens=_retune_tokens(tuned, records),
        epochs=tuned.epochs if tuned and tuned.epochs else 3,
        training_seconds=_retune_seconds(tuned, records),
    )
