"""Remote tuning jobs: upload an export, start an OpenAI fine-tuning job, poll it, write a manifest.

    python -m tuning.jobs create --to openai --corpus data/corpus --until 2026-03-31 \\
        --model gpt-4o-mini-2024-07-18
    python -m tuning.jobs status ftjob-abc123
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import openai
from pydantic import BaseModel

from answers.prices import per_million
from corpus.offline import use_offline_defaults
from tuning.client import describe
from tuning.errors import NoTrainingData, TuningError
from tuning.manifest import TrainedRecord, TuningManifest
from tuning.settings import TuningSettings

DONE_OK = "succeeded"
DONE_BAD = {"failed", "cancelled"}


class PendingJob(BaseModel):
    """What we know about a job we started, kept until it finishes (work/jobs/<job id>.json)."""

    job_id: str
    base_model: str
    training_file: str
    export_path: str
    data_cutoff: date
    records: list[TrainedRecord]
    price_per_1m: float


def api_client(settings: TuningSettings) -> openai.OpenAI:
    """A client for the tuning API (the key comes from settings and is never printed)."""
    key = settings.jobs_api_key or settings.api_key
    return openai.OpenAI(
        base_url=settings.jobs_base_url,
        api_key=key.get_secret_value(),
        timeout=settings.timeout,
        max_retries=settings.max_retries,
    )


def create_job(
    client: openai.OpenAI,
    settings: TuningSettings,
    corpus: list[Path],
    until: date,
    model: str,
    epochs: int | None,
    suffix: str | None,
    price_per_1m: float,
) -> tuple[PendingJob, list[str]]:
    """Export the records dated on/before `until`, upload them and start the job.

    Returns the pending job and the export's problems (records the platform would refuse).
    """
    from corpus import current_records, load_corpus
    from corpus.export import write_export

    records = current_records(
        r for r in load_corpus(corpus).records if r.as_of is None or r.as_of <= until
    )
    export_path = settings.jobs_dir / f"openai-{until}-{datetime.now(UTC):%Y%m%dT%H%M%S}.jsonl"
    result = write_export(records, "openai", export_path)
    if not result.lines:
        raise NoTrainingData(f"no record dated on/before {until} can be exported for OpenAI")
    skipped = {p.record_id for p in result.problems}
    with export_path.open("rb") as handle:
        uploaded = client.files.create(file=handle, purpose="fine-tune")
    options: dict[str, Any] = {"suffix": suffix} if suffix else {}
    if epochs:
        options["method"] = {
            "type": "supervised",
            "supervised": {"hyperparameters": {"n_epochs": epochs}},
        }
    job = client.fine_tuning.jobs.create(training_file=uploaded.id, model=model, **options)
    pending = PendingJob(
        job_id=job.id,
        base_model=model,
        training_file=uploaded.id,
        export_path=str(export_path),
        data_cutoff=until,
        records=[
            TrainedRecord(id=r.id, content_hash=r.content_hash, as_of=r.as_of)
            for r in records
            if r.id not in skipped
        ],
        price_per_1m=price_per_1m,
    )
    settings.jobs_dir.mkdir(parents=True, exist_ok=True)
    (settings.jobs_dir / f"{job.id}.json").write_text(
        pending.model_dump_json(indent=2), encoding="utf-8"
    )
    return pending, [str(p) for p in result.problems]


def job_manifest(
    job: Any, pending: PendingJob | None, declared_cutoff: date | None
) -> TuningManifest:
    """The manifest of a finished job's model; without our pending record, only a declared cutoff."""
    tokens = int(getattr(job, "trained_tokens", 0) or 0)
    hyper = getattr(job, "hyperparameters", None)
    epochs = getattr(hyper, "n_epochs", 0)
    price = pending.price_per_1m if pending else 0.0
    return TuningManifest(
        provider="openai",
        base_model=pending.base_model if pending else str(job.model),
        remote_model=job.fine_tuned_model,
        job_id=job.id,
        trained_at=datetime.fromtimestamp(job.finished_at or job.created_at, UTC),
        data_cutoff=pending.data_cutoff if pending else None,
        declared_cutoff=None if pending else declared_cutoff,
        records=pending.records if pending else [],
        epochs=epochs if isinstance(epochs, int) else 0,
        training_tokens=tokens,
        hardware="OpenAI fine-tuning service",
        cost_usd=round(per_million(tokens, price), 6),
    )


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tuning.jobs", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    create = sub.add_parser("create", help="export, upload and start a job")
    create.add_argument("--to", choices=["openai"], default="openai")
    create.add_argument("--corpus", required=True, type=Path, nargs="+")
    create.add_argument("--until", required=True, type=date.fromisoformat)
    create.add_argument("--model", default="gpt-4o-mini-2024-07-18")
    create.add_argument("--epochs", type=int)
    create.add_argument("--suffix")
    create.add_argument(
        "--price-per-1m", type=float, default=3.00, help="USD per 1M training tokens"
    )
    status = sub.add_parser("status", help="poll a job; on success write its manifest")
    status.add_argument("job_id")
    status.add_argument("--out", type=Path, help="manifest folder (default: work/adapters/<model>)")
    status.add_argument(
        "--declared-cutoff", type=date.fromisoformat, help="for jobs started elsewhere"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """0 job started / succeeded / still running, 1 job failed, 2 could not run."""
    use_offline_defaults()
    args = _parse(argv)
    settings = TuningSettings()
    client = api_client(settings)
    try:
        if args.command == "create":
            return _create(client, settings, args)
        return _status(client, settings, args)
    except openai.APIError as err:
        print(f"error: {describe(err, settings.jobs_base_url)}", file=sys.stderr)
    except (TuningError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
    return 2


def _create(client: openai.OpenAI, settings: TuningSettings, args: argparse.Namespace) -> int:
    pending, problems = create_job(
        client,
        settings,
        args.corpus,
        args.until,
        args.model,
        args.epochs,
        args.suffix,
        args.price_per_1m,
    )
    for problem in problems:
        print(f"skipped: {problem}", file=sys.stderr)
    print(f"uploaded {len(pending.records)} records as {pending.training_file}")
    print(f"started job {pending.job_id}; poll with: python -m tuning.jobs status {pending.job_id}")
    return 0


def _status(client: openai.OpenAI, settings: TuningSettings, args: argparse.Namespace) -> int:
    job = client.fine_tuning.jobs.retrieve(args.job_id)
    print(f"job {job.id}: {job.status}")
    if job.status in DONE_BAD:
        reason = getattr(job.error, "message", None) if job.error else None
        print(f"job did not finish: {reason or job.status}", file=sys.stderr)
        return 1
    if job.status != DONE_OK:
        return 0
    pending_file = settings.jobs_dir / f"{job.id}.json"
    pending = (
        PendingJob.model_validate_json(pending_file.read_text()) if pending_file.is_file() else None
    )
    if pending is None and args.declared_cutoff is None:
        raise TuningError(
            f"{pending_file}: not found — pass --declared-cutoff for a job started elsewhere"
        )
    manifest = job_manifest(job, pending, args.declared_cutoff)
    out = args.out or settings.adapters_dir / str(job.fine_tuned_model).replace(":", "_")
    path = manifest.save(out)
    print(f"model {job.fine_tuned_model} ready; manifest written to {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
