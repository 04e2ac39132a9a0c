"""Settings of the retrieval side (`RAG_*` environment variables), built once at the edge."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from rag.packaged import Tuned, tuned_for


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
        None,
        description="a packaged embedder (packaged:use-multilingual, packaged:minilm, "
        "packaged:e5-small) or a sentence-transformers name or path; None or `packaged` = "
        "packaged:use-multilingual, chosen on bench/languages.py: Russian questions find their "
        "record first as often as English ones (within 0.02 on the demo eval and the fact "
        "fixture; all-MiniLM-L6-v2 trails by 0.11 on the demo), a question finds a record in "
        "the other language (hit@5 0.96 vs 0.18), builds take a tenth of the time and queries "
        "a third; it costs English hit@1 on the demo eval (0.935 -> 0.870) and finds long "
        "multi-topic passages less often (demo news hit@5 1.00 -> 0.67): packaged:minilm suits "
        "English corpora of long passages",
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
    abstain_below: float | None = Field(
        None,
        ge=-1.0,
        le=1.0,
        description="extractive answers abstain below this cosine similarity; None = the value "
        "tuned for the embedder on bench/languages.py (109 answerable demo and passage "
        "questions, 32 off-topic ones): 0.30 for packaged:use-multilingual (106 kept, 22 "
        "abstained; at 0.35: 103, 27), 0.35 for all-MiniLM-L6-v2 and other models (109, 17), "
        "0.82 for packaged:e5-small (109, 30)",
    )
    same_fact: float | None = Field(
        None,
        ge=0.0,
        le=1.0,
        description="records whose questions are this similar (question-only embedding cosine) "
        "state the same fact, when they also name the same things, ask for the same kind of "
        "answer, are each other's clear best match and were not stated in one batch; None = the "
        "value tuned for the embedder (bench/facts.py): 0.82 for all-MiniLM-L6-v2, other models "
        "and packaged:use-multilingual (precision 1.0 on the demo and the fact fixture from "
        "0.82 up for MiniLM, from 0.70 up for USE, whose lower thresholds link no more and, on "
        "a templated corpus, compare 5x the candidate pairs), 0.92 for packaged:e5-small (1.0 "
        "from 0.92 up, 0.75 below)",
    )
    same_fact_form: float | None = Field(
        None,
        ge=0.0,
        le=1.0,
        description="records whose questions are only this similar state the same fact when, "
        'besides the guards of same_fact, their answers read the same but for a figure ("up '
        'to 2 GB each" then "up to 1 GB each"); None = the value tuned for the embedder: 0.65 '
        "for all-MiniLM-L6-v2 and other models, 0.60 for packaged:use-multilingual (the demo's "
        "recall 0.2 -> 0.7 at precision 1.0; 0.65: 0.5), 0.92 for packaged:e5-small (no lower "
        "route: its cosines crowd together)",
    )
    hybrid: Literal["auto", "on", "off"] = Field(
        "auto",
        description="blend character n-gram retrieval into dense retrieval: auto = for queries "
        "in Cyrillic script when the embedder is English-trained (all-MiniLM-L6-v2, or a model "
        "named here), never with a multilingual packaged one (with USE, blending Cyrillic "
        "queries raised the demo's Russian hit@1 0.857 -> 0.929 but cut Russian questions' "
        "hit@5 on English records 1.00 -> 0.43); on = every query; off = never",
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
    other_language_penalty: float | None = Field(
        None,
        ge=0.0,
        le=1.0,
        description="subtracted from the score of a hit written in another script than the "
        "query (Cyrillic or Latin): a multilingual embedder finds a fact's statement in either "
        "language, and the asker's own comes first; None = the value tuned for the embedder: "
        "0.10 for packaged:use-multilingual (demo eval hit@1 0.770 -> 0.865, cross-lingual "
        "hit@1 0.93 -> 0.82; at 0.20 it fell to 0.43), 0 for packaged:e5-small (0.03 cut its "
        "cross-lingual hit@1 0.57 -> 0.21), all-MiniLM-L6-v2 and other models",
    )
    hnsw_ef_search: int = Field(
        400,
        ge=10,
        le=10_000,
        description="HNSW search width: candidates a query keeps while it walks the graph (more "
        "finds more of the true nearest nodes, slower); applied to the live collection by the "
        "next rebuild. 400 measured at 1M synthetic vectors through a chroma server: recall@10 "
        "0.745, p95 19.8 ms; chroma's 100: 0.594, 15.6 ms (bench/retrieval_scale.py)",
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
    encode_child_min: int = Field(
        1_500,
        ge=0,
        description="records to embed from which a rebuild also encodes in a child process, "
        "beside this one and beside chroma's adds (which hold this process's GIL); 0 = never",
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
    compact_at: float = Field(
        1.0,
        ge=0.0,
        description="copy the live nodes into a fresh HNSW graph (a new generation, nothing "
        "embedded again) once the nodes deleted from the live one reach this multiple of its "
        "live nodes: chroma keeps a deleted node's slot, vector and links in the graph, in memory "
        "and on disk, and never reuses it (rag.compact); 0 = never",
    )
    retire_after_s: float = Field(
        2.0,
        ge=0.0,
        description="after a rebuild switches the manifest, how long old versions and the old "
        "generation stay for readers still finishing a query on the previous manifest; waited "
        "only while a reader is registered (rag.readers), always with a chroma server; raise it "
        "to the attribute-cache time when the work folder is on a network filesystem",
    )

    def tuned(self, embedder: str) -> Tuned:
        """The retrieval constants for an embedder as a manifest names it: those tuned for it
        (`rag.packaged`), each one set here taking precedence."""
        base = tuned_for(embedder)
        return Tuned(
            same_fact=_either(self.same_fact, base.same_fact),
            same_fact_form=_either(self.same_fact_form, base.same_fact_form),
            abstain_below=_either(self.abstain_below, base.abstain_below),
            other_language_penalty=_either(
                self.other_language_penalty, base.other_language_penalty
            ),
            blend_cyrillic=base.blend_cyrillic,
        )


def _either(value: float | None, default: float) -> float:
    return default if value is None else value
