"""Settings of the whole workbench, read once at the edge (app, CLI) from env vars and `.env`."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from rag.settings import RagSettings
from tuning.settings import TuningSettings


class CompareSettings(BaseSettings):
    """Where the workbench reads and writes (`RAGORTUNE_*`)."""

    model_config = SettingsConfigDict(env_prefix="RAGORTUNE_", env_file=".env", extra="ignore")

    corpus_dir: Path = Field(
        Path("data/corpus"), description="JSONL files or a directory of dated batches"
    )
    eval_path: Path = Field(Path("data/eval/demo_eval.jsonl"), description="eval questions")
    prices_path: Path = Field(Path("data/prices.json"), description="the price book")
    work_dir: Path = Field(
        Path("work"),
        description="the one work folder: index, runs, uploads, adapters (the other packages' "
        "folders derive from it unless set on their own)",
    )
    concurrency: int = Field(
        4,
        ge=1,
        le=64,
        description="questions asked at once per side behind an HTTP endpoint (the judge too); "
        "in-process sides are asked one at a time. 4 keeps a run's two HTTP sides within the "
        "local server's queue of 8; raise it for a remote endpoint (bench/eval_concurrency.py)",
    )
    passages: int = Field(
        3,
        ge=1,
        le=20,
        description="retrieved passages handed to a model that answers from them (base + RAG, "
        "tuned + RAG): the best one and, beside it, passages-1 distractors or supporting ones",
    )
    judge: bool = Field(False, description="grade answers with an LLM judge")
    judge_base_url: str | None = Field(
        None, description="OpenAI-compatible endpoint of the judge; None = the tuning endpoint"
    )
    judge_model: str | None = Field(None, description="the judge's model; None = the tuned model")
    judge_api_key: SecretStr | None = Field(None, description="the judge endpoint's key")
    previous_adapter: Path | None = Field(
        None, description="manifest dir of the model a re-tune replaces"
    )
    webhook_url: SecretStr | None = Field(
        None,
        description="POSTed a JSON message (Slack-compatible `text`) when a scheduled check's "
        "verdict changes; a secret: a chat webhook's path is its token",
    )
    webhook_timeout_s: float = Field(
        10.0, gt=0, le=120, description="the most a webhook call may take, in all"
    )
    probe_facts: int = Field(
        40,
        ge=1,
        le=5000,
        description="facts the knowledge probe asks each side (python -m compare probe --facts)",
    )


class WorkbenchSettings(BaseModel):
    """The three packages' settings together; immutable — `with_overrides` returns a new one."""

    model_config = ConfigDict(frozen=True)

    compare: CompareSettings
    rag: RagSettings
    tuning: TuningSettings

    def with_overrides(self, **changes: Any) -> WorkbenchSettings:
        """A copy with some fields changed; keys are `compare_*`, `rag_*` or `tuning_*` field names,
        or a few short names: corpus_dir, work_dir, chroma_url, embed_model. A new work folder moves
        every folder that derives from it."""
        short = {
            "corpus_dir": "compare_corpus_dir",
            "work_dir": "compare_work_dir",
            "chroma_url": "rag_chroma_url",
            "embed_model": "rag_embed_model",
        }
        parts: dict[str, dict[str, Any]] = {"compare": {}, "rag": {}, "tuning": {}}
        for key, value in changes.items():
            full = short.get(key, key)
            section, _, field = full.partition("_")
            if section not in parts:
                raise KeyError(f"unknown setting {key!r}")
            if field.endswith("api_key") and isinstance(value, str):
                value = SecretStr(value)
            parts[section][field] = value
        rag, tuning = self.rag, self.tuning
        if "work_dir" in parts["compare"]:
            root = Path(parts["compare"]["work_dir"])
            rag, tuning = _rerooted(rag, root), _rerooted(tuning, root)
        return WorkbenchSettings(
            compare=self.compare.model_copy(update=parts["compare"]),
            rag=rag.model_copy(update=parts["rag"]),
            tuning=tuning.model_copy(update=parts["tuning"]),
        )

    def fingerprint(self) -> str:
        """A key for caches: every setting but the API key's value."""
        return "|".join(
            [
                self.compare.model_dump_json(),
                self.rag.model_dump_json(),
                self.tuning.model_dump_json(exclude={"api_key"}),
            ]
        )


S = TypeVar("S", RagSettings, TuningSettings)


def _rerooted(settings: S, root: Path) -> S:
    """The settings under another work folder: every folder not set on its own derives anew."""
    explicit = {k: getattr(settings, k) for k in settings.model_fields_set if k != "work_root"}
    return type(settings)(_env_file=None, **explicit, work_root=root)


def build_settings(**overrides: Any) -> WorkbenchSettings:
    """Settings from env vars / `.env`, with optional overrides."""
    settings = WorkbenchSettings(
        compare=CompareSettings(), rag=RagSettings(), tuning=TuningSettings()
    )
    return settings.with_overrides(**overrides) if overrides else settings
