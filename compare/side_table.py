"""The sides a comparison can ask, declared once: who writes the answer × whether it retrieves.

Every other place that needs a side's label, colour, price entry, cache key or knowledge looks it
up here, so a new side is one row of `SIDE_TABLE` (and, at most, one answerer).

>>> [s.name for s in SIDE_TABLE if s.retrieves]
['rag', 'base_rag', 'tuned_rag']
>>> side_spec("base_rag").writes_with
'the base model'
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from pydantic import BaseModel, ConfigDict

Writer = Literal["none", "base", "tuned", "previous"]
Source = Literal["index", "tuned", "previous"]  # what a side's knowledge is read from

WRITER_WORDS: dict[str, str] = {
    "none": "no model (extractive)",
    "base": "the base model",
    "tuned": "the tuned model",
    "previous": "the previous tuned model",
}


class SideSpec(BaseModel):
    """One side: its writer, whether it retrieves, and how it is shown."""

    model_config = ConfigDict(frozen=True)

    name: str
    label: str
    writer: Writer
    retrieves: bool
    question: str  # what asking this side tells a team
    color: str  # chart colour (hex)
    badge: str  # Streamlit markdown colour name for the same side
    default: bool = False  # asked by default in the app and `compare run`

    @property
    def writes_with(self) -> str:
        """Who writes this side's answers, in words."""
        return WRITER_WORDS[self.writer]

    @property
    def knows(self) -> tuple[Source, ...]:
        """Where what this side knows of the corpus comes from: the index it retrieves from and
        the manifest of the model that writes (the base model knows nothing of the corpus)."""
        found: list[Source] = ["index"] if self.retrieves else []
        if self.writer in ("tuned", "previous"):
            found.append(self.writer)
        return tuple(found)

    @property
    def uses_tuned_model(self) -> bool:
        """True when the tuned model writes this side's answers."""
        return self.writer == "tuned"

    @property
    def calls_a_model(self) -> bool:
        """True when an LLM endpoint writes this side's answers."""
        return self.writer != "none"


SIDE_TABLE: tuple[SideSpec, ...] = (
    SideSpec(
        name="rag",
        label="RAG (extractive)",
        writer="none",
        retrieves=True,
        question="what does retrieval alone find?",
        color="#1c83e1",
        badge="blue",
        default=True,
    ),
    SideSpec(
        name="base_rag",
        label="Base + RAG",
        writer="base",
        retrieves=True,
        question="RAG as teams deploy it: a general model answering from retrieved passages",
        color="#21a366",
        badge="green",
        default=True,
    ),
    SideSpec(
        name="base",
        label="Base",
        writer="base",
        retrieves=False,
        question="what did tuning add? (the base model closed-book)",
        color="#8c8c8c",
        badge="gray",
    ),
    SideSpec(
        name="tuned",
        label="Tuned",
        writer="tuned",
        retrieves=False,
        question="what the fine-tune knows by itself",
        color="#ff8c1a",
        badge="orange",
        default=True,
    ),
    SideSpec(
        name="tuned_rag",
        label="Tuned + RAG",
        writer="tuned",
        retrieves=True,
        question="combine: the tuned model answering from retrieved passages",
        color="#803df5",
        badge="violet",
        default=True,
    ),
    SideSpec(
        name="tuned_previous",
        label="Previous tuned",
        writer="previous",
        retrieves=False,
        question="forgetting: what the model a re-tune replaces knew",
        color="#d62728",
        badge="red",
    ),
)
SIDE_NAMES: tuple[str, ...] = tuple(s.name for s in SIDE_TABLE)
DEFAULT_SIDES: tuple[str, ...] = tuple(s.name for s in SIDE_TABLE if s.default)
_BY_NAME = {s.name: s for s in SIDE_TABLE}


def side_spec(name: str) -> SideSpec:
    """The row of a side; an unknown name is a ValueError listing the choices."""
    if name not in _BY_NAME:
        raise ValueError(f"unknown side {name!r}; choose from {', '.join(SIDE_NAMES)}")
    return _BY_NAME[name]


def known_side(name: str) -> SideSpec | None:
    """The row of a side, or None for a name outside the table (a test's own answerer)."""
    return _BY_NAME.get(name)


def side_label(name: str) -> str:
    """Display name of a side: 'tuned_rag' -> 'Tuned + RAG'; unknown names pass through."""
    spec = _BY_NAME.get(name)
    return spec.label if spec else name


def side_for(writer: Writer, retrieves: bool) -> str:
    """The side one cell of writer × retrieval names.

    >>> side_for("tuned", retrieves=True)
    'tuned_rag'
    """
    return next(s.name for s in SIDE_TABLE if s.writer == writer and s.retrieves == retrieves)


def retrieval_sides(names: Iterable[str] | None = None) -> list[str]:
    """The sides (of `names`, default all) that retrieve from the index."""
    return [n for n in (SIDE_NAMES if names is None else names) if _retrieves(n)]


def sides_writing_with(writer: Writer, names: Iterable[str] | None = None) -> list[str]:
    """The sides (of `names`, default all) whose answers `writer` writes."""
    chosen = SIDE_NAMES if names is None else names
    return [n for n in chosen if (s := _BY_NAME.get(n)) is not None and s.writer == writer]


def parse_sides(text: str) -> list[str]:
    """A comma-separated list of sides ('all' = every side), checked against the table.

    >>> parse_sides("rag, tuned")
    ['rag', 'tuned']
    >>> len(parse_sides("all")) == len(SIDE_TABLE)
    True
    """
    names = [n.strip() for n in text.split(",") if n.strip()]
    if names == ["all"]:
        return list(SIDE_NAMES)
    for name in names:
        side_spec(name)
    return names


def _retrieves(name: str) -> bool:
    spec = _BY_NAME.get(name)
    return spec is not None and spec.retrieves
