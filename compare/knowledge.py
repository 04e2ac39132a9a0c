"""What each side knows of the corpus, as pure functions over the index and tuning manifests.

A record is known to the RAG side when its content hash is in the index manifest; to the tuned side
when it is in the tuning manifest, or dated on/before a remote model's declared cutoff — or, with
neither, on/before the cutoff the knowledge probe estimated (`compare.knowledge_probe`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from pydantic import BaseModel

from compare.cost import FixedInputs
from compare.effective_cutoff import CutoffEstimate
from compare.side_table import SIDE_TABLE, side_for
from corpus import Record
from corpus.report import DEFAULT_EPOCHS, record_text
from corpus.tokens import count_tokens

if TYPE_CHECKING:
    from rag.manifest import IndexManifest
    from tuning.manifest import TuningManifest


class Knowledge(BaseModel):
    """What one side was built from (taken from its manifest)."""

    side: str
    content_hashes: frozenset[str] | None = None  # None: training set unknown, use the cutoff
    cutoff: date | None = None
    built_at: datetime | None = None
    basis: str = "manifest"  # where `cutoff` comes from, in words
    declared_cutoff: date | None = None  # TUNING_CUTOFF, as set
    manifest_cutoff: date | None = None  # the tuning manifest's
    estimate: CutoffEstimate | None = None  # what the knowledge probe measured

    def mismatch(self) -> str | None:
        """The declared or manifest cutoff that lies outside the probe's interval, in words."""
        estimate = self.estimate
        if estimate is None or not estimate.usable:
            return None
        for name, day in (("manifest", self.manifest_cutoff), ("declared", self.declared_cutoff)):
            if estimate.contradicts(day):
                return (
                    f"the {name} cutoff {day} lies outside what the model gives: the probe "
                    f"estimates {estimate.describe()}"
                )
        return None

    def knows(self, record: Record) -> bool:
        """True when this side has seen this exact record."""
        if self.content_hashes is not None:
            return record.content_hash in self.content_hashes
        return self.cutoff is not None and record.as_of is not None and record.as_of <= self.cutoff

    def is_after_cutoff(self, record: Record) -> bool:
        """True when the record is dated after what this side could have learned."""
        return self.cutoff is not None and record.as_of is not None and record.as_of > self.cutoff


class SidesKnowledge(BaseModel):
    """What the manifests say about the sides, for freshness, cost and the advice; a side that is
    not configured (no manifest, no declared cutoff) is None."""

    index: Knowledge | None = None
    tuned: Knowledge | None = None
    previous_tuned: Knowledge | None = None
    training_records: int = 0  # records the current tuned model was trained on
    new_tokens: int = 0  # training tokens in the records dated after the tuned model's cutoff
    # records the tuned model was trained on (same id) that the corpus now states otherwise
    changed_facts: int = 0
    fixed: FixedInputs = FixedInputs()
    retune_hours: float = 0.0

    def by_answerer(self) -> dict[str, list[Knowledge]]:
        """Which manifests tell what each side knows, as the side table says: the index for a
        side that retrieves, the manifest of the tuned model that writes it (so tuned + RAG
        knows what either knows); the base model knows nothing of the corpus."""
        sources = {"index": self.index, "tuned": self.tuned, "previous": self.previous_tuned}
        mapping: dict[str, list[Knowledge]] = {}
        for spec in SIDE_TABLE:
            known = [k for source in spec.knows if (k := sources[source]) is not None]
            if known:
                mapping[spec.name] = known
        return mapping


def index_knowledge(manifest: IndexManifest | None) -> Knowledge | None:
    """What the index holds; None when it was never built."""
    if manifest is None:
        return None
    return Knowledge(
        side="index",
        content_hashes=manifest.content_hashes(),
        cutoff=manifest.newest_as_of,
        built_at=manifest.built_at,
    )


def tuned_knowledge(
    side: str,
    manifest: TuningManifest | None,
    declared_cutoff: date | None,
    estimate: CutoffEstimate | None = None,
) -> Knowledge | None:
    """What a tuned model knows: its training records, else its declared cutoff, else the
    probe's estimate, else None. A declared cutoff wins over the estimate, which stays beside it
    so a mismatch shows."""
    if manifest is None:
        if declared_cutoff is None:
            return estimated_knowledge(side, estimate)
        return Knowledge(
            side=side,
            content_hashes=None,
            cutoff=declared_cutoff,
            basis="declared cutoff (TUNING_CUTOFF)",
            declared_cutoff=declared_cutoff,
            estimate=estimate,
        )
    return Knowledge(
        side=side,
        content_hashes=frozenset(manifest.known_hashes()) if manifest.records else None,
        cutoff=manifest.knowledge_cutoff or declared_cutoff,
        built_at=manifest.trained_at,
        basis="tuning manifest",
        declared_cutoff=declared_cutoff,
        manifest_cutoff=manifest.knowledge_cutoff,
        estimate=estimate,
    )


def estimated_knowledge(side: str, estimate: CutoffEstimate | None) -> Knowledge | None:
    """What a model knows by the probe's estimate alone: records dated on/before the estimated
    date (before the corpus: none of them); None when there is no estimate."""
    if estimate is None or not estimate.usable:
        return None
    cutoff = estimate.day
    if estimate.status == "before_corpus":
        first = next((p.day for p in estimate.curve if p.day is not None), None)
        cutoff = first - timedelta(days=1) if first else None
    return Knowledge(
        side=side,
        content_hashes=None,
        cutoff=cutoff,
        basis=f"estimated from {estimate.facts} facts",
        estimate=estimate,
    )


def sides_knowledge(
    records: Sequence[Record],
    index: IndexManifest | None,
    tuned: TuningManifest | None,
    *,
    previous: TuningManifest | None = None,
    declared_cutoff: date | None = None,
    estimate: CutoffEstimate | None = None,
) -> SidesKnowledge:
    """Everything freshness, cost and the advice need to know about the sides; `estimate` is
    the knowledge probe's effective cutoff of the tuned model."""
    tuned_view = tuned_knowledge("tuned", tuned, declared_cutoff, estimate)
    new = [r for r in records if tuned_view is not None and tuned_view.is_after_cutoff(r)]
    return SidesKnowledge(
        index=index_knowledge(index),
        tuned=tuned_view,
        previous_tuned=tuned_knowledge(side_for("previous", retrieves=False), previous, None),
        training_records=len(tuned.records) if tuned else 0,
        new_tokens=sum(count_tokens([record_text(r) for r in new])) if new else 0,
        changed_facts=changed_since(tuned, records),
        fixed=fixed_inputs(index, tuned, records),
        retune_hours=retune_seconds(tuned, records) / 3600,
    )


def changed_since(manifest: TuningManifest | None, records: Sequence[Record]) -> int:
    """Records whose id the model was trained on, holding another content now: facts it would
    answer with an old version."""
    if manifest is None or not manifest.records:
        return 0
    ids, hashes = manifest.known_record_ids(), manifest.known_hashes()
    return sum(1 for r in records if r.id in ids and r.content_hash not in hashes)


def retune_tokens(manifest: TuningManifest | None, records: Sequence[Record]) -> int:
    """Training tokens (all epochs) of a re-tune on the current corpus."""
    if manifest is None or not manifest.records or not manifest.training_tokens:
        tokens = sum(count_tokens([record_text(r) for r in records])) if records else 0
        return tokens * (manifest.epochs if manifest and manifest.epochs else DEFAULT_EPOCHS)
    # the last run's tokens per trained record, scaled to today's corpus
    return round(manifest.training_tokens * len(records) / len(manifest.records))


def retune_seconds(manifest: TuningManifest | None, records: Sequence[Record]) -> float:
    """Expected wall time of a local re-tune at the last run's measured speed (0 when unknown)."""
    if manifest is None or not manifest.tokens_per_s:
        return 0.0
    return retune_tokens(manifest, records) / manifest.tokens_per_s


def fixed_inputs(
    index: IndexManifest | None, tuned: TuningManifest | None, records: Sequence[Record]
) -> FixedInputs:
    """An index build and a re-tune, as the manifests measured them."""
    build_s = 0.0
    if index is not None and index.last_rebuild and index.last_rebuild.embedded_nodes:
        per_node = index.last_rebuild.seconds / index.last_rebuild.embedded_nodes
        build_s = per_node * index.nodes
    return FixedInputs(
        index_build_seconds=build_s,
        index_embedding_tokens=index.embedding_tokens if index is not None else 0,
        training_tokens=retune_tokens(tuned, records),
        training_seconds=retune_seconds(tuned, records),
    )
