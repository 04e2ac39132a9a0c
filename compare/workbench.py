"""The workbench: the app's and CLI's one handle on a configured corpus, its sides and their runs.

It reads the configured corpus and manifests, builds the sides once (`compare.sides`), runs
comparisons (`compare.comparison`) and keeps them in the runs database. Thread-safe: one instance
serves every session of the app.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import date
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
from compare.side_table import side_for, side_spec
from compare.sides import Sides
from corpus import Record, current_records, load_corpus

if TYPE_CHECKING:
    from compare.effective_cutoff import CutoffEstimate
    from compare.knowledge_probe import ProbeResult, ProbeSettings
    from compare.make_eval import MadeEval
    from compare.retune_plan import RetunePlan
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
            estimate=self.probe_estimate(),
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

    # --- what each model gives, measured -------------------------------------------------------

    @property
    def probe_folder(self) -> Path:
        """Where the last knowledge probe is kept."""
        return self.settings.compare.work_dir / "probe"

    @property
    def probe_side_names(self) -> list[str]:
        """The sides probed unless others are chosen: the closed-book models and extractive RAG
        (the sides a model writes from passages answer as their index does, and slowly)."""
        return [
            n
            for n in self.answerer_names
            if not side_spec(n).retrieves or not side_spec(n).calls_a_model
        ]

    def likelihood_support(self, names: Sequence[str]) -> dict[str, str]:
        """Per side: "used" when its model's endpoint returns prompt log-probabilities (asked
        once), else why the probe reads its answers only."""
        from compare.knowledge_probe import LIKELIHOOD_USED
        from tuning.client import ChatClient

        manifests = self._manifests()
        found = {}
        for name in names:
            spec = side_spec(name)
            if spec.retrieves or not spec.calls_a_model:
                found[name] = "not read: this side answers from retrieved passages"
                continue
            if self.settings.tuning.choice_method == "letter":
                found[name] = "off (TUNING_CHOICE_METHOD=letter): probed by answers only"
                continue
            try:
                writer = self.sides.writer_settings(spec, manifests)
            except ValueError as err:
                found[name] = f"not read: {err}"
                continue
            if writer is None:
                continue
            client = ChatClient(writer)
            try:
                ok = client.supports_loglik()
            finally:
                client.close()
            found[name] = (
                LIKELIHOOD_USED
                if ok
                else "the endpoint returns no prompt log-probabilities: probed by answers only"
            )
        return found

    def probe(
        self,
        names: Sequence[str] | None = None,
        settings: ProbeSettings | None = None,
        *,
        progress: Progress | None = None,
        concurrency: int | None = None,
    ) -> ProbeResult:
        """Ask the sides closed-book about a sample of the corpus's facts, estimate each one's
        effective cutoff, and keep the result (`last_probe`)."""
        from compare.effective_cutoff import batch_dates
        from compare.knowledge_probe import ProbeSettings, probe_sides, save_probe
        from compare.probe_facts import choose_facts

        settings = settings or ProbeSettings(facts=self.settings.compare.probe_facts)
        names = list(names or self.probe_side_names)
        records = load_corpus([self.settings.compare.corpus_dir]).records
        histories = self.fact_histories(records)
        # short replies: a fact is stated in the first sentence, and a closed-book model that
        # does not know one goes on for as long as it may
        capped = Sides(self.settings.with_overrides(tuning_max_tokens=settings.max_tokens))
        manifests = self._manifests()
        cost = CostSettings()
        result = probe_sides(
            choose_facts(histories, records, settings.facts, settings.seed),
            batch_dates(records),
            capped.build(names, self.price_book(), cost, manifests),
            self.likelihood_support(names),
            settings=settings,
            changed_in_corpus=sum(h.changed for h in histories),
            configurations=capped.cache_keys(names, self._index_key(), manifests),
            cache=self.db(),
            concurrency=concurrency or self.settings.compare.concurrency,
            progress=progress,
            writers=self.writers(names),
        )
        identities = self.cache_keys(names)  # the configuration an eval run asks
        for side in result.sides:
            side.identity = identities.get(side.side, side.side)
        save_probe(result, self.probe_folder)
        return result

    def last_probe(self) -> ProbeResult | None:
        """The last knowledge probe kept in the work folder (None: never probed)."""
        from compare.knowledge_probe import load_probe

        return load_probe(self.probe_folder)

    def probe_estimate(self) -> CutoffEstimate | None:
        """The last probe's estimate of the tuned model — only when it measured the model
        configured now (same endpoint, model and training)."""
        tuned = side_for("tuned", retrieves=False)
        probe = self.last_probe()
        side = probe.side(tuned) if probe else None
        if side is None or side.identity != self.cache_keys([tuned])[tuned]:
            return None
        return side.estimate

    def retune_plan(self, probe: ProbeResult | None = None) -> RetunePlan:
        """The records newer than the tuned model's cutoff, split by what the probe found it
        gives; the cutoff is the probe's estimate, else the declared or manifest one."""
        from compare.retune_plan import retune_plan

        tuned = side_for("tuned", retrieves=False)
        probe = probe or self.last_probe()
        measured = probe.side(tuned) if probe else None
        records = load_corpus([self.settings.compare.corpus_dir]).records
        current = current_records(records)
        if measured is not None and measured.estimate.usable:
            cutoff, basis = self._estimated_day(measured.estimate), measured.estimate.describe()
        else:
            view = self.knowledge(current).tuned
            if view is None or view.cutoff is None:
                why = measured.estimate.describe() if measured else "the tuned model was not probed"
                raise ValueError(
                    f"no cutoff to plan from: {why}; set TUNING_CUTOFF or a tuning manifest, or "
                    "probe the tuned model (python -m compare probe)"
                )
            cutoff, basis = view.cutoff, view.basis
        histories = self.fact_histories(records)
        return retune_plan(current, histories, probe, tuned, cutoff, basis)

    @staticmethod
    def _estimated_day(estimate: CutoffEstimate) -> date | None:
        """The date an estimate stands for (None: before the corpus, every record is newer)."""
        return None if estimate.status == "before_corpus" else estimate.day

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
