"""Per-example token limits of tuning platforms, each with its source and the date it was read.

The corpus report flags examples longer than the chosen platform accepts for one training
example (a longer example is refused or truncated by that platform). Edit or extend the table
as platforms change; `--token-limit N` overrides it for one report.
"""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel


class TokenLimit(BaseModel):
    """The most tokens one training example may hold on a platform."""

    platform: str
    model: str
    tokens: int
    what: str
    source: str
    checked: date

    def describe(self) -> str:
        """What the limit is, in one short line.

        >>> LIMITS[DEFAULT_PLATFORM].describe()
        '65,536 tokens: OpenAI fine-tuning gpt-4o-mini-2024-07-18, training example context length'
        """
        return f"{self.tokens:,} tokens: {self.platform} {self.model}, {self.what}"

    def cite(self) -> str:
        """Where the figure comes from and when it was read."""
        return f"{self.source}, read {self.checked}"


_OPENAI = (
    "OpenAI fine-tuning guide, token limits "
    "(https://platform.openai.com/docs/guides/fine-tuning); the same figures in Azure OpenAI's "
    "fine-tuning model table (https://learn.microsoft.com/azure/ai-foundry/openai/concepts/models)"
)
_GEMINI = (
    "Vertex AI, About supervised fine-tuning for Gemini models, Limitations "
    "(https://cloud.google.com/vertex-ai/generative-ai/docs/models/gemini-tuning)"
)
READ = date(2026, 11, 26)
LIMITS: dict[str, TokenLimit] = {
    "openai:gpt-4o-mini-2024-07-18": TokenLimit(
        platform="OpenAI fine-tuning",
        model="gpt-4o-mini-2024-07-18",
        tokens=65_536,
        what="training example context length",
        source=_OPENAI,
        checked=READ,
    ),
    "openai:gpt-4o-2024-08-06": TokenLimit(
        platform="OpenAI fine-tuning",
        model="gpt-4o-2024-08-06",
        tokens=65_536,
        what="training example context length",
        source=_OPENAI,
        checked=READ,
    ),
    "openai:gpt-3.5-turbo-0125": TokenLimit(
        platform="OpenAI fine-tuning",
        model="gpt-3.5-turbo-0125",
        tokens=16_385,
        what="training example context length",
        source=_OPENAI,
        checked=READ,
    ),
    "vertex:gemini-2.5-flash": TokenLimit(
        platform="Vertex AI tuning",
        model="gemini-2.5-flash",
        tokens=131_072,
        what="maximum input and output training tokens",
        source=_GEMINI,
        checked=READ,
    ),
}
DEFAULT_PLATFORM = "openai:gpt-4o-mini-2024-07-18"  # the model the project's tuning jobs target


def custom_limit(tokens: int) -> TokenLimit:
    """A limit given by hand (`--token-limit N`)."""
    return TokenLimit(
        platform="custom",
        model="--token-limit",
        tokens=tokens,
        what="set for this report",
        source="the command line",
        checked=date.today(),
    )
