"""The sides a comparison asks, built from the side table once per configuration, priced, and
keyed for the answer cache.

What a side is (its writer, whether it retrieves) is `compare.side_table`; this module turns a
row into an answerer: extractive retrieval, a model behind an endpoint (the base model, the tuned
one, the one a re-tune replaces), or such a model writing from retrieved passages. A side that
cannot be set up still answers, with the reason as its error.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING

from answers import Answer, Answerer, Question
from answers.prices import PriceBook
from answers.redact import register_secret
from compare.cost import CostSettings, FixedInputs, SideCostModel, answer_cost, side_models
from compare.settings import WorkbenchSettings
from compare.side_table import SIDE_TABLE, SideSpec, side_spec
from compare.with_passages import WithPassages

if TYPE_CHECKING:
    from rag.index import RagIndex
    from tuning.client import ChatClient, TunedAnswerer
    from tuning.manifest import TuningManifest
    from tuning.settings import TuningSettings

Manifests = tuple["TuningManifest | None", "TuningManifest | None"]  # (tuned, previous)


class FailedAnswerer:
    """Stands in for a side that could not be set up: every answer carries the reason."""

    remote = False

    def __init__(self, name: str, error: BaseException | str) -> None:
        self.name = name
        self.error = error

    def answer(self, question: Question) -> Answer:
        """An answer that says why this side cannot answer."""
        return Answer.failed(self.name, self.error)


class Priced:
    """Wraps an answerer so each answer carries its cost under the side's price model."""

    def __init__(
        self, inner: Answerer, model: SideCostModel, book: PriceBook, cost: CostSettings
    ) -> None:
        self.name = inner.name
        self.inner = inner
        self.remote = getattr(inner, "remote", False)
        self.endpoint: str | None = getattr(inner, "endpoint", None)
        self.model, self.book, self.cost = model, book, cost

    def answer(self, question: Question) -> Answer:
        """The inner answer with `cost_usd` filled in (the same arithmetic as the report's)."""
        answer = self.inner.answer(question)
        cost = answer_cost(answer, self.model, self.book, self.cost.embed_seconds_per_query)
        return answer.model_copy(update={"cost_usd": cost})


class Sides:
    """Opens the index and the endpoint clients once and builds each side from them (thread-safe)."""

    def __init__(self, settings: WorkbenchSettings) -> None:
        self.settings = settings
        self._lock = threading.RLock()
        self._index: RagIndex | None = None
        self._chats: dict[tuple[str, str], ChatClient] = {}  # one pool per endpoint and model
        tuning = settings.tuning
        for key in (
            tuning.api_key,
            tuning.base_endpoint_api_key,
            settings.compare.judge_api_key,
            settings.rag.embed_api_key,
            tuning.jobs_api_key,
        ):
            if key is not None:
                register_secret(key.get_secret_value())

    def names(self, has_previous: bool) -> list[str]:
        """The sides this configuration can compare: every row of the table, and the previous
        tuned model when one is configured."""
        return [
            s.name
            for s in SIDE_TABLE
            if s.writer != "previous" or (has_previous and self.settings.tuning.previous_model)
        ]

    def build(
        self,
        names: Sequence[str],
        book: PriceBook,
        cost: CostSettings,
        manifests: Manifests,
    ) -> list[Answerer]:
        """The named sides, each priced under `cost`; a side that cannot start answers its error."""
        models = side_models(cost, FixedInputs(), book)
        built: list[Answerer] = []
        for name in names:
            try:
                side = self._side(side_spec(name), manifests)
            except Exception as err:  # a side that cannot start must not take the others down
                side = FailedAnswerer(name, err)
            model = models.get(name)
            built.append(Priced(side, model, book, cost) if model is not None else side)
        return built

    def index(self) -> RagIndex:
        """The opened index, reopened when a rebuild finished since (raises when never built)."""
        from rag.index import RagIndex

        with self._lock:
            if self._index is None or self._index.is_outdated():
                self._index = RagIndex.open(self.settings.rag)
            return self._index

    def forget_index(self) -> None:
        """Drop the opened index: the next question opens the newest manifest."""
        with self._lock:
            self._index = None

    def chat(self, model: str | None = None) -> ChatClient:
        """The tuning endpoint's chat client for a model (default: the tuned one), made once."""
        tuning = self.settings.tuning
        return self._client(tuning.model_copy(update={"model": model or tuning.model}))

    def _client(self, settings: TuningSettings) -> ChatClient:
        from tuning.client import ChatClient

        key = (settings.base_url, settings.model)
        with self._lock:
            if key not in self._chats:
                self._chats[key] = ChatClient(settings)
            return self._chats[key]

    def judge_chat(self) -> ChatClient:
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

    def writer_settings(self, spec: SideSpec, manifests: Manifests) -> TuningSettings | None:
        """The endpoint settings of the model that writes a side's answers (None: no model)."""
        tuning, tuned = self.settings.tuning, manifests[0]
        if spec.writer == "base":
            local = tuned is None or tuned.provider == "local"
            name = tuning.base_model_name(tuned.base_model if tuned else None, local=local)
            return tuning.for_base(name)
        if spec.writer == "tuned":
            return tuning
        if spec.writer == "previous":
            if not tuning.previous_model:
                raise ValueError(
                    "the previous tuned model is not configured: set TUNING_PREVIOUS_MODEL to the "
                    "model a re-tune replaces (served beside the current one) and "
                    "RAGORTUNE_PREVIOUS_ADAPTER to its manifest"
                )
            return tuning.model_copy(update={"model": tuning.previous_model})
        return None

    def writer(self, name: str, manifests: Manifests) -> str:
        """Which model writes a side's answers and where, in words, for reports and the app."""
        spec = side_spec(name)
        try:
            settings = self.writer_settings(spec, manifests)
        except ValueError as err:
            return f"{spec.writes_with}: {err}"
        if settings is None:
            return spec.writes_with
        return f"{settings.model} at {settings.base_url}"

    def _side(self, spec: SideSpec, manifests: Manifests) -> Answerer:
        from rag.answerer import RagAnswerer
        from tuning.client import TunedAnswerer

        settings = self.writer_settings(spec, manifests)
        if settings is None:
            return RagAnswerer(self.index(), name=spec.name)
        manifest = {"tuned": manifests[0], "previous": manifests[1]}.get(spec.writer)
        model: TunedAnswerer = TunedAnswerer(
            settings, manifest, name=spec.name, client=self._client(settings)
        )
        if spec.retrieves:
            shown = self.settings.compare.passages
            finder = RagAnswerer(self.index(), k=max(shown, self.settings.rag.k))
            return WithPassages(finder, model, name=spec.name, passages=shown)
        return model

    def cache_keys(
        self, names: Sequence[str], index_key: str, manifests: Manifests
    ) -> dict[str, str]:
        """A cache key per side: it changes when what the side would answer from changes — the
        writer's endpoint, model, training and decoding, and for a retrieving side every
        retrieval setting that can change which record answers, and the index."""
        rag = self.settings.rag
        retrieval = "|".join(
            f"{k}={v}"
            for k, v in sorted(
                rag.model_dump(exclude={"work_root", "work_dir", "lock_timeout_s"}).items()
            )
        )
        keys = {}
        for name in names:
            spec = side_spec(name)
            parts = [name, self._writer_key(spec, manifests)]
            if spec.retrieves:
                parts += [retrieval, index_key]
            if spec.retrieves and spec.calls_a_model:
                parts.append(f"passages={self.settings.compare.passages}")
            keys[name] = ":".join(parts)
        return keys

    def _writer_key(self, spec: SideSpec, manifests: Manifests) -> str:
        try:
            settings = self.writer_settings(spec, manifests)
        except ValueError:
            return "unconfigured"
        if settings is None:
            return "extractive"
        manifest = {"tuned": manifests[0], "previous": manifests[1]}.get(spec.writer)
        trained = manifest.trained_at.isoformat() if manifest else "-"
        return (
            f"{settings.base_url}:{settings.model}:{trained}:max{settings.max_tokens}:"
            f"{settings.choice_method}"
        )
