"""The knowledge probe: ask each side closed-book about facts with histories, and read what it
took in — which version of a changed fact it gives, whether it knows an unchanged one at all.

Declared cutoffs and manifests say what a model was shown; the probe measures what it gives. Each
fact is asked as its newest record asks it (`compare.probe_facts`); the answer is placed by the comparison's own matcher
(`compare.versions_given`). Where the endpoint returns prompt log-probabilities, a changed fact is
also put as a multiple-choice question whose choices are its versions' answers, through the tuned
side's log-likelihood path, and the likeliest version is read as a second opinion. Facts are
sampled stratified by batch, language and kind; answers are cached like eval answers.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel, Field

from answers import Answer, Answerer, Progress
from compare.asking import ask_all
from compare.effective_cutoff import (
    MIN_PER_BATCH,
    RESAMPLES,
    BatchDate,
    CutoffEstimate,
    estimate_by_likelihood,
    estimate_cutoff,
)
from compare.probe_facts import choice_item, distinct_versions, open_item
from compare.run import Scored
from compare.runs_db import RunsDatabase
from compare.versions_given import answer_key, version_stated
from corpus.facts import FactHistory, FactVersion

LIKELIHOOD_USED = "used"
PROBE_FILE = "probe.json"


class ProbeSettings(BaseModel):
    """How much to ask and how to read it."""

    facts: int = Field(40, ge=1, le=5000, description="facts asked per side")
    seed: int = Field(0, description="the same seed samples the same facts")
    likelihood: bool = Field(True, description="score changed facts' versions where possible")
    min_per_batch: int = Field(MIN_PER_BATCH, ge=1, description="facts that must tell a batch")
    resamples: int = Field(RESAMPLES, ge=100, le=20_000, description="bootstrap resamples")
    max_tokens: int = Field(32, ge=4, le=512, description="longest reply asked for")


class Reading(BaseModel):
    """What one side gives for one fact."""

    fact_id: str
    answer: str = ""
    error: str | None = None
    given: int | None = None  # index of the version the answer states (None: it states none)
    likeliest: int | None = None  # index of the version whose answer is likeliest
    scores: str | None = None  # the log-likelihood of each choice, as the answer put it
    cached: bool = False

    @property
    def usable(self) -> bool:
        """True when the side answered (an error or an empty reply tells nothing)."""
        return self.error is None and bool(self.answer.strip())


class SideProbe(BaseModel):
    """One side's readings and the cutoffs they give."""

    side: str
    writer: str = ""  # which model wrote the answers, and where
    identity: str = ""  # the side's answer-cache key: ties an estimate to the model measured
    likelihood: str = LIKELIHOOD_USED  # "used", or why the likelihood was not read
    readings: list[Reading]
    estimate: CutoffEstimate
    by_likelihood: CutoffEstimate | None = None


class ProbeResult(BaseModel):
    """One probe: the facts asked, the batches, each side's readings and estimates."""

    made_at: datetime
    seconds: float
    facts: list[FactHistory]
    batches: list[BatchDate]
    changed_in_corpus: int
    sides: list[SideProbe]
    settings: ProbeSettings = ProbeSettings()

    def side(self, name: str) -> SideProbe | None:
        """The probe of one side (None when it was not asked)."""
        return next((s for s in self.sides if s.side == name), None)


def probe_sides(
    facts: Sequence[FactHistory],
    batches: Sequence[BatchDate],
    answerers: Sequence[Answerer],
    likelihood: Mapping[str, str],
    *,
    settings: ProbeSettings | None = None,
    changed_in_corpus: int | None = None,
    configurations: Mapping[str, str] | None = None,
    cache: RunsDatabase | None = None,
    concurrency: int = 1,
    progress: Progress | None = None,
    writers: Mapping[str, str] | None = None,
) -> ProbeResult:
    """Ask every side every fact (and the sides whose `likelihood` is "used" every changed fact
    as a choice), then estimate each side's effective cutoff."""
    settings = settings or ProbeSettings()
    started = time.perf_counter()
    opened = [open_item(h) for h in facts]
    scored_sides = [a for a in answerers if likelihood.get(a.name) == LIKELIHOOD_USED]
    chosen = [choice_item(h) for h in facts if h.changed] if settings.likelihood else []
    total = len(opened) * len(answerers) + len(chosen) * len(scored_sides)
    keys = configurations or {}
    asked = ask_all(
        opened,
        answerers,
        configurations=keys,
        cache=cache,
        concurrency=concurrency,
        progress=_offset(progress, 0, total),
    )
    picked: list[Scored] = []
    if chosen and scored_sides:
        picked = ask_all(
            chosen,
            scored_sides,
            configurations=keys,
            cache=cache,
            concurrency=concurrency,
            progress=_offset(progress, len(asked), total),
        )
    sides = [
        _side_probe(a.name, facts, batches, asked, picked, likelihood, settings) for a in answerers
    ]
    for side in sides:
        side.writer = (writers or {}).get(side.side, "")
        side.identity = keys.get(side.side, side.side)
    return ProbeResult(
        made_at=datetime.now(UTC),
        seconds=round(time.perf_counter() - started, 2),
        facts=list(facts),
        batches=list(batches),
        changed_in_corpus=sum(h.changed for h in facts)
        if changed_in_corpus is None
        else changed_in_corpus,
        sides=sides,
        settings=settings,
    )


def _offset(progress: Progress | None, start: int, total: int) -> Progress | None:
    if progress is None:
        return None

    def report(done: int, _total: int, what: str) -> None:
        progress(start + done, total, what)

    return report


def _side_probe(
    name: str,
    facts: Sequence[FactHistory],
    batches: Sequence[BatchDate],
    asked: Sequence[Scored],
    picked: Sequence[Scored],
    likelihood: Mapping[str, str],
    settings: ProbeSettings,
) -> SideProbe:
    answers = {s.item_id: s for s in asked if s.answerer == name}
    choices = {s.item_id: s.answer for s in picked if s.answerer == name}
    readings = [
        read_fact(h, answers[f"probe:{h.fact_id}"], choices.get(f"probe-choice:{h.fact_id}"))
        for h in facts
    ]
    estimate = side_estimate(name, facts, readings, batches, settings)
    by_likelihood = None
    if choices:
        by_likelihood = likelihood_estimate(name, facts, readings, batches, settings)
        if estimate.status == "before_corpus":
            by_likelihood = CutoffEstimate(
                side=name,
                method="likelihood",
                status="cannot_estimate",
                reason="the answers state none of the facts asked, so the likeliest versions "
                "show which answers read likelier, not what the model learned",
                fix="read the estimate from the answers: before the corpus",
            )
    return SideProbe(
        side=name,
        likelihood=likelihood.get(name, "not asked"),
        readings=readings,
        estimate=estimate,
        by_likelihood=by_likelihood,
    )


def read_fact(history: FactHistory, scored: Scored, choice: Answer | None) -> Reading:
    """Which version an answer states, and which the likelihood prefers."""
    answer = scored.answer
    reading = Reading(
        fact_id=history.fact_id, answer=answer.text, error=answer.error, cached=scored.cached
    )
    if answer.ok:
        stated = version_stated(answer.text, history)
        reading.given = _index(history, stated)
    if choice is not None and choice.ok and choice.choice_method == "loglik":
        distinct = distinct_versions(history)
        if choice.choice is not None and 0 <= choice.choice < len(distinct):
            key = answer_key(distinct[choice.choice].answer)
            latest = [v for v in history.versions if answer_key(v.answer) == key][-1]
            reading.likeliest, reading.scores = _index(history, latest), choice.text
    return reading


def _index(history: FactHistory, version: FactVersion | None) -> int | None:
    return next((i for i, v in enumerate(history.versions) if v is version), None)


def side_estimate(
    side: str,
    facts: Sequence[FactHistory],
    readings: Sequence[Reading],
    batches: Sequence[BatchDate],
    settings: ProbeSettings,
) -> CutoffEstimate:
    """The cutoff from the answers; "cannot estimate" when most answers failed or were empty."""
    usable = [(h, r) for h, r in zip(facts, readings, strict=True) if r.usable]
    if len(usable) * 2 < len(readings) or not usable:
        first = next((r.error for r in readings if r.error), "every reply was empty")
        return CutoffEstimate(
            side=side,
            status="cannot_estimate",
            reason=f"{len(readings) - len(usable)} of {len(readings)} facts got no answer "
            f"({first})",
            fix="check that the side's endpoint answers (python -m compare run --limit 1), "
            "then probe again",
        )
    return estimate_cutoff(
        side,
        [h for h, _ in usable],
        [_version(h, r.given) for h, r in usable],
        batches,
        min_per_batch=settings.min_per_batch,
        resamples=settings.resamples,
        seed=settings.seed,
    )


def likelihood_estimate(
    side: str,
    facts: Sequence[FactHistory],
    readings: Sequence[Reading],
    batches: Sequence[BatchDate],
    settings: ProbeSettings,
) -> CutoffEstimate:
    """The cutoff from the likeliest version of each scored changed fact."""
    scored = [(h, r) for h, r in zip(facts, readings, strict=True) if r.likeliest is not None]
    return estimate_by_likelihood(
        side,
        [h for h, _ in scored],
        [h.versions[r.likeliest or 0] for h, r in scored],
        batches,
        resamples=settings.resamples,
        seed=settings.seed,
    )


def _version(history: FactHistory, index: int | None) -> FactVersion | None:
    return None if index is None else history.versions[index]


def save_probe(result: ProbeResult, folder: Path) -> Path:
    """Write the probe as JSON (replacing the previous one); returns its path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / PROBE_FILE
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(result.model_dump_json(indent=1), encoding="utf-8")
    tmp.replace(path)  # a reader never sees half a file
    return path


def load_probe(folder: Path) -> ProbeResult | None:
    """The last probe written to `folder` (None when there is none or it cannot be read)."""
    path = folder / PROBE_FILE
    if not path.is_file():
        return None
    try:
        return ProbeResult.model_validate_json(path.read_text(encoding="utf-8"))
    except ValueError:
        return None  # written by another version: probe again
