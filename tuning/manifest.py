"""What a tuned model knows: the records it was trained on, its cutoff, and what training cost."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from corpus.record import Record

MANIFEST_NAME = "tuning_manifest.json"
# plain: the records as they are; paraphrases: with rephrasings; raft: with retrieved passages in
# the prompt and replies that quote the passage (rag.raft writes the split)
Recipe = Literal["plain", "paraphrases", "raft"]


class TrainedRecord(BaseModel):
    """One corpus record a model was trained on."""

    model_config = ConfigDict(frozen=True)

    id: str
    content_hash: str
    as_of: date | None = None


class TuningManifest(BaseModel):
    """Stored as JSON next to the adapter; the comparison reads it to tell what the model has seen."""

    model_config = ConfigDict(extra="forbid")

    provider: Literal["local", "openai"] = "local"
    base_model: str
    adapter_path: str | None = None  # local LoRA adapter directory
    remote_model: str | None = None  # e.g. ft:gpt-4o-mini-2024-07-18:org::abc123
    job_id: str | None = None
    trained_at: datetime
    data_cutoff: date | None = None  # newest as_of allowed into training
    declared_cutoff: date | None = None  # for a remote model whose training set is unknown
    records: list[TrainedRecord] = Field(default_factory=list)
    examples: int = 0  # training examples, paraphrases included
    paraphrases: int = 0  # extra phrasings per question
    doc_paraphrases: int = 0  # variants per plain-text passage
    doc_paraphrase_method: str | None = None  # how those variants were made
    recipe: Recipe = "plain"
    # raft: p (share of examples with the oracle passage), k (distractors), quote_style, seed and
    # the split file; plain at equal exposure to a raft split: that split file
    recipe_settings: dict[str, float | int | str] = Field(default_factory=dict)
    epochs: int = 0
    training_tokens: int = 0  # tokens seen in training, all epochs
    tokens_per_s: float = 0.0
    wall_time_s: float = 0.0
    hardware: str = ""
    machine_hour_usd: float | None = None  # the rate cost_usd was computed from, if any
    cost_usd: float = 0.0  # wall time × machine_hour_usd for a local run; tokens × price remote
    final_loss: float | None = None
    hyperparameters: dict[str, float | int | str] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _recipe_of_older_manifests(cls, data: Any) -> Any:
        """A manifest written before recipes were named: paraphrases when it used any."""
        if isinstance(data, dict) and "recipe" not in data:
            rephrased = data.get("paraphrases") or data.get("doc_paraphrases")
            data = {**data, "recipe": "paraphrases" if rephrased else "plain"}
        return data

    def recipe_text(self) -> str:
        """The recipe in words: 'raft (p=0.8, k=4, quote_style=cite, seed=0)', 'paraphrases (2)'."""
        if self.recipe == "paraphrases":
            return f"paraphrases ({self.paraphrases or self.doc_paraphrases})"
        shown = {k: v for k, v in self.recipe_settings.items() if k != "split"}
        inner = ", ".join(f"{k}={v}" for k, v in shown.items())
        return f"{self.recipe} ({inner})" if inner else self.recipe

    @property
    def knowledge_cutoff(self) -> date | None:
        """The newest date the model can know about."""
        return self.data_cutoff or self.declared_cutoff

    def known_record_ids(self) -> set[str]:
        """Ids of the records the model was trained on."""
        return {r.id for r in self.records}

    def known_hashes(self) -> set[str]:
        """Content hashes of the records the model was trained on."""
        return {r.content_hash for r in self.records}

    def knows(self, record: Record) -> bool:
        """True when the model was trained on this record's content (or, with no record list,
        when the record is dated on/before the declared cutoff)."""
        if self.records:
            # a linear scan: call known_hashes() once instead when checking a whole corpus
            return any(r.content_hash == record.content_hash for r in self.records)
        cutoff = self.knowledge_cutoff
        return cutoff is not None and record.as_of is not None and record.as_of <= cutoff

    def save(self, directory: Path) -> Path:
        """Write the manifest into `directory` (created if needed); returns the file path."""
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / MANIFEST_NAME
        path.write_text(self.model_dump_json(indent=2) + "\n", encoding="utf-8")
        return path

    @classmethod
    def load(cls, path: Path) -> TuningManifest:
        """Read a manifest from its file or from the directory that holds it."""
        file = path / MANIFEST_NAME if path.is_dir() else path
        return cls.model_validate_json(file.read_text(encoding="utf-8"))
