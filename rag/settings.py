"""Settings of the retrieval side (`RAG_*` environment variables), built once at the edge."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class RagSettings(BaseSettings):
    """Where the index lives, which model embeds it, and how retrieval ranks and abstains."""

    model_config = SettingsConfigDict(
        env_prefix="RAG_", env_file=".env", extra="ignore", populate_by_name=True
    )

    work_root: Path = Field(
        Path("work"),
        validation_alias=AliasChoices("RAGORTUNE_WORK_DIR", "work_root"),
        description="the one work folder (RAGORTUNE_WORK_DIR) the index folder derives from",
    )
    work_dir: Path = Field(
        default_factory=lambda data: data["work_root"] / "index",
        description="manifest, lock and embedded chroma data (default: <work folder>/index)",
    )
    chroma_url: str | None = Field(
        None, description="a chroma server (http://host:port); None = embedded store in work_dir"
    )
    collection: str = Field(
        "rag-or-tune", pattern=r"^[a-zA-Z0-9._-]{3,512}$", description="chroma collection name"
    )
    embed_model: str | None = Field(
        None, description="sentence-transformers name or path; None = the packaged all-MiniLM-L6-v2"
    )
    embed_batch_size: int | None = Field(
        None,
        ge=1,
        le=2048,
        description="texts per encoder batch or server request; None = 64 on a CPU, 256 on a GPU",
    )
    device: str = Field(
        "auto", description="torch device for the embedding model; auto = cuda when there is one"
    )
    query_onnx: bool = Field(
        True,
        description="embed single queries with ONNX Runtime (the same weights, exported once "
        "into <work folder>/models) when the model is on the CPU; off = torch",
    )
    embed_url: str | None = Field(
        None,
        description="an OpenAI-compatible embeddings server (http://host:port/v1); set, it embeds "
        "the index and the queries instead of a model in this process",
    )
    embed_api_model: str = Field(
        "all-minilm-l6-v2", description="the model name sent to RAG_EMBED_URL"
    )
    embed_api_key: SecretStr | None = Field(None, description="the key for RAG_EMBED_URL")
    embed_concurrency: int = Field(4, ge=1, le=64, description="requests in flight at once")
    embed_retries: int = Field(5, ge=0, le=20, description="retries of a failed request")
    embed_timeout_s: float = Field(60.0, gt=0, description="seconds per embeddings request")
    chunk_size: int = Field(200, ge=32, description="tokens per chunk of a long text record")
    chunk_overlap: int = Field(20, ge=0, description="tokens shared by neighbouring chunks")
    k: int = Field(5, ge=1, le=100, description="hits returned per query")
    abstain_below: float = Field(
        0.35, ge=-1.0, le=1.0, description="extractive answers abstain below this cosine similarity"
    )
    same_fact: float = Field(
        0.82,
        ge=0.0,
        le=1.0,
        description="records whose questions are this similar (question-only embedding cosine) "
        "state the same fact, when they also name the same things, ask for the same kind of "
        "answer, are each other's clear best match and were not stated in one batch (chosen on "
        "data: precision 1.0 on the demo and the fact fixture from 0.82 up; recall 0.5 and 0.89 "
        "there, falling above it; see bench/facts.py)",
    )
    same_fact_form: float = Field(
        0.65,
        ge=0.0,
        le=1.0,
        description="records whose questions are only this similar state the same fact when, "
        'besides the guards of same_fact, their answers read the same but for a figure ("up '
        'to 2 GB each" then "up to 1 GB each"); see bench/facts.py',
    )
    hybrid: Literal["auto", "on", "off"] = Field(
        "auto",
        description="blend character n-gram retrieval into dense retrieval: auto = for queries "
        "in Cyrillic script, where the packaged English-trained embedder is weak; on = every "
        "query; off = never",
    )
    dense_weight: float = Field(
        0.4,
        ge=0.0,
        le=1.0,
        description="share of the dense cosine in the score of a hybrid query; the rest is the "
        "character n-gram cosine (chosen with name_penalty on the demo eval and the fact "
        "fixture together, asked today: 0.2-0.4 -> 155-156 of 170 at hit@1, 0.5 -> 153)",
    )
    name_penalty: float = Field(
        0.1,
        ge=0.0,
        le=1.0,
        description="subtracted from the score of a record whose question names other things "
        "than the query does (Studio vs Free, one town vs another)",
    )
    hnsw_ef_search: int = Field(
        100,
        ge=10,
        le=10_000,
        description="HNSW search width: candidates a query keeps while it walks the graph (more "
        "finds more of the true nearest nodes, slower); applied to the live collection by the "
        "next rebuild",
    )
    hnsw_ef_construction: int = Field(
        100,
        ge=10,
        le=2_000,
        description="HNSW construction width: candidates each insert considers for its links; "
        "fixed when a collection is created (a first build or a full rebuild)",
    )
    hnsw_m: int = Field(
        16,
        ge=4,
        le=128,
        description="HNSW links per node (M); fixed when a collection is created",
    )
    bulk_batch: int | None = Field(
        None,
        ge=1,
        description="nodes per add when a rebuild writes to chroma; None = the store's own "
        "largest batch",
    )
    lock_timeout_s: float = Field(
        60.0, ge=0.0, description="how long a second rebuild waits for the first before refusing"
    )
    lease_term_s: float = Field(
        300.0,
        gt=0,
        description="with a chroma server: how long the writer lease outlives its last extension "
        "(a rebuild extends it with every batch); a lease past it belongs to a dead writer",
    )
    retire_after_s: float = Field(
        2.0,
        ge=0.0,
        description="after a rebuild switches the manifest, how long old versions and the old "
        "generation stay for readers still finishing a query on the previous manifest; raise it "
        "to the attribute-cache time when the work folder is on a network filesystem",
    )
