"""The sides a comparison asks: built once per configuration, priced, and keyed for the answer cache.

RAG (extractive or generative), the tuned model, tuned + RAG and the model a re-tune would replace.
A side that cannot be set up still answers, with the reason as its error.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING

from answers import Answer, Answerer, Question
from answers.redact import register_secret
from compare.cost import CostSettings, FixedInputs, SideCostModel, answer_cost, side_models
from compare.price_book import PriceBook
from compare.settings import WorkbenchSettings
from compare.tuned_rag import TunedRagAnswerer

if TYPE_CHECKING:
    from rag.index import RagIndex
    from tuning.client import ChatClient
    from tuning.manifest import TuningManifest

SIDES = ("rag", "tuned", "tuned_rag")


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
        self._chats: dict[str, ChatClient] = {}  # one connection pool per endpoint model
        for key in (
            settings.tuning.api_key,
            settings.compare.judge_api_key,
            settings.rag.embed_api_key,
            settings.tuning.jobs_api_key,
        ):
            if key is not None:
                register_secret(key.get_secret_value())

    def names(self, has_previous: bool) -> list[str]:
        """The sides this configuration can compare."""
        names = list(SIDES)
        if has_previous and self.settings.tuning.previous_model:
            names.append("tuned_previous")
        return names

    def build(
        self,
        names: Sequence[str],
        book: PriceBook,
        cost: CostSettings,
        manifests: tuple[TuningManifest | None, TuningManifest | None],
    ) -> list[Answerer]:
        """The named sides, each priced under `cost`; a side that cannot start answers its error."""
        generative = self.settings.compare.rag_mode == "generative"
        models = side_models(cost, FixedInputs(), book, rag_generative=generative)
        built: list[Answerer] = []
        for name in names:
            try:
                side = self._side(name, *manifests)
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
        """The endpoint's chat client for a model (default: the tuned one), made once."""
        from tuning.client import ChatClient

        model = model or self.settings.tuning.model
        with self._lock:
            if model not in self._chats:
                self._chats[model] = ChatClient(self.settings.tuning, model=model)
            return self._chats[model]

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

    def _side(
        self, name: str, tuned: TuningManifest | None, previous: TuningManifest | None
    ) -> Answerer:
        from rag.answerer import RagAnswerer
        from tuning.client import TunedAnswerer

        tuning = self.settings.tuning
        if name == "rag":
            mode = self.settings.compare.rag_mode
            chat = self.chat() if mode == "generative" else None
            return RagAnswerer(self.index(), mode=mode, chat=chat)
        if name == "tuned":
            return TunedAnswerer(tuning, tuned, client=self.chat())
        if name == "tuned_rag":
            writer = TunedAnswerer(tuning, tuned, client=self.chat())
            return TunedRagAnswerer(RagAnswerer(self.index()), writer)
        if name == "tuned_previous" and tuning.previous_model:
            client = self.chat(tuning.previous_model)
            return TunedAnswerer(tuning, previous, name="tuned_previous", client=client)
        raise ValueError(f"unknown answerer {name!r}; choose from {', '.join(SIDES)}")

    def cache_keys(
        self, names: Sequence[str], index_key: str, tuned: TuningManifest | None
    ) -> dict[str, str]:
        """A cache key per side: it changes when what the side would answer from changes."""
        tuning, rag = self.settings.tuning, self.settings.rag
        # every retrieval setting that can change which record answers is part of the key
        retrieval = "|".join(
            f"{k}={v}"
            for k, v in sorted(
                rag.model_dump(exclude={"work_root", "work_dir", "lock_timeout_s"}).items()
            )
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
