"""A model writing from retrieved passages (base + RAG, tuned + RAG), against a real local chat
server that records what it was sent: dated sources in the prompt, multiple choice by a lettered
prompt parsed strictly, and failures as answers."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from answers import Question
from compare.settings import CompareSettings, WorkbenchSettings
from compare.with_passages import WithPassages
from compare.workbench import Workbench
from rag.answerer import RagAnswerer
from rag.build import rebuild_index
from rag.index import RagIndex
from tests.rag_helpers import PRICE_AND_WARRANTY, free_port, load, settings_for, write_batch
from tuning.client import TunedAnswerer
from tuning.settings import TuningSettings

LINES = PRICE_AND_WARRANTY


class ChatServer(ThreadingHTTPServer):
    """An OpenAI-compatible /v1/chat/completions on 127.0.0.1 that records what it was sent."""

    requests: list[dict[str, Any]]
    status: int = 200
    reply: str | None = None  # a fixed reply instead of citing the first source


class Handler(BaseHTTPRequestHandler):
    server: ChatServer

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.requests.append(body)
        sources = body["messages"][0]["content"]
        cited = sources.split("[1] (", 1)[1].split(",", 1)[0]  # cite the first source it was given
        message = {"role": "assistant", "content": self.server.reply or f"15 EUR a month [{cited}]"}
        reply = {
            "id": "c1",
            "object": "chat.completion",
            "created": 0,
            "model": body["model"],
            "choices": [{"index": 0, "finish_reason": "stop", "message": message}],
            "usage": {"prompt_tokens": 120, "completion_tokens": 9, "total_tokens": 129},
        }
        if self.server.status != 200:
            reply = {"error": {"message": "worker crashed"}}
        data = json.dumps(reply).encode()
        self.send_response(self.server.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> RagIndex:
    root = tmp_path_factory.mktemp("passages")
    write_batch(root / "corpus", "2026-03-01", LINES)
    settings = settings_for(root / "index")
    rebuild_index(load(root / "corpus"), settings)
    return RagIndex.open(settings)


@pytest.fixture
def server() -> Iterator[ChatServer]:
    httpd = ChatServer(("127.0.0.1", 0), Handler)
    httpd.requests = []
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def base_rag(index: RagIndex, url: str) -> WithPassages:
    """The base + RAG side as the workbench composes it: retrieval, then the base model."""
    settings = TuningSettings(
        _env_file=None, base_url=url, model="base", choice_method="letter", max_retries=0
    )
    return WithPassages(
        RagAnswerer(index), TunedAnswerer(settings, name="base_rag"), name="base_rag"
    )


def url(server: ChatServer) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}/v1"


def test_the_prompt_carries_dated_sources_and_the_question(
    index: RagIndex, server: ChatServer
) -> None:
    answer = base_rag(index, url(server)).answer(Question(text="Pro plan price?"))
    assert answer.ok, answer.error
    assert answer.answerer == "base_rag"
    assert answer.text == "15 EUR a month [price-pro]"
    assert (answer.usage.prompt_tokens, answer.usage.completion_tokens) == (120, 9)
    assert answer.usage.embedding_tokens > 0  # the query's embedding is part of the same answer
    sent = server.requests[0]["messages"]
    first = "[1] (price-pro, as of 2026-03-01) How much does the Pro plan cost per month?\n"
    assert first + "The Pro plan costs 15 EUR per month." in sent[0]["content"]
    assert sent[1] == {"role": "user", "content": "Pro plan price?"}
    assert server.requests[0]["model"] == "base"


@pytest.mark.parametrize(("reply", "choice"), [("B", 1), (" (b). ", 1), ("B, 15 EUR", None)])
def test_multiple_choice_letters_the_choices_and_parses_strictly(
    index: RagIndex, server: ChatServer, reply: str, choice: int | None
) -> None:
    server.reply = reply
    answer = base_rag(index, url(server)).answer(
        Question(text="Pro plan price?", choices=("12 EUR", "15 EUR", "18 EUR"))
    )
    assert answer.ok and answer.choice_method == "letter"
    assert answer.choice == choice and answer.text == reply.strip()  # unparsed replies shown
    sent = server.requests[0]["messages"]
    assert "[1] (price-pro, as of 2026-03-01)" in sent[0]["content"]
    assert sent[1]["content"].startswith("Pro plan price?\nA. 12 EUR\nB. 15 EUR\nC. 18 EUR\n")


def test_an_endpoint_failure_becomes_an_error_answer(index: RagIndex, server: ChatServer) -> None:
    server.status = 500
    answer = base_rag(index, url(server)).answer(Question(text="Pro plan price?"))
    assert not answer.ok and "worker crashed" in (answer.error or "")
    assert answer.latency_s > 0 and answer.sources  # what was retrieved is still shown


def test_an_unreachable_endpoint_is_an_error_not_a_crash(index: RagIndex) -> None:
    answer = base_rag(index, f"http://127.0.0.1:{free_port()}/v1").answer(
        Question(text="Pro plan price?")
    )
    assert not answer.ok and "cannot connect" in (answer.error or "")


@pytest.mark.parametrize("shown", [1, 2])
def test_the_workbench_hands_the_configured_number_of_passages(
    index: RagIndex, server: ChatServer, tmp_path: Path, shown: int
) -> None:
    """RAGORTUNE_PASSAGES: the retrieved passages a writing side is handed (answers at k = 0
    distractors are asked with 1), and the answer cache keeps the counts apart."""
    settings = WorkbenchSettings(
        compare=CompareSettings(_env_file=None, work_dir=tmp_path, passages=shown),
        rag=index.settings,
        tuning=TuningSettings(_env_file=None, base_url=url(server), max_retries=0),
    )
    wb = Workbench(settings)
    answer = wb.answerers(["base_rag"])[0].answer(Question(text="Pro plan price?"))
    assert answer.ok, answer.error
    system = server.requests[0]["messages"][0]["content"]
    assert system.count(", as of 2026-03-01) ") == shown
    other = Workbench(settings.with_overrides(compare_passages=3 - shown))
    keys, others = (
        wb.cache_keys(["rag", "base_rag", "tuned_rag"]),
        other.cache_keys(["rag", "base_rag", "tuned_rag"]),
    )
    assert keys["rag"] == others["rag"]
    assert keys["base_rag"] != others["base_rag"] and keys["tuned_rag"] != others["tuned_rag"]
