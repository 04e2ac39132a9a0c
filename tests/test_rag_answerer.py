"""The RAG answerer: extractive with abstention, generative against a real local chat server."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from answers import Answerer, ChatModel, Question, Usage
from rag.answerer import RagAnswerer
from rag.build import rebuild_index
from rag.index import RagIndex
from tests.rag_helpers import load, qa, settings_for, write_batch

LINES = [
    qa(
        "price-pro",
        "How much does the Pro plan cost per month?",
        "The Pro plan costs 15 EUR per month.",
    ),
    qa("warranty", "How long is the hardware warranty?", "Two years."),
    {
        "id": "harbour-bulletin",
        "text": "Harbour bulletin for Skerrow Quay. The north pier reopens after repairs on "
        "12 March. The winter ferry timetable starts on 4 November. Moorings cost 18 pounds a "
        "night for boats under ten metres.",
    },
]


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
        reply = {
            "id": "c1",
            "object": "chat.completion",
            "created": 0,
            "model": body["model"],
            "choices": [
                {
                    "index": 0,
                    "finish_reason": "stop",
                    "message": {
                        "role": "assistant",
                        "content": self.server.reply or f"15 EUR a month [{cited}]",
                    },
                }
            ],
            "usage": {"prompt_tokens": 120, "completion_tokens": 9, "total_tokens": 129},
        }
        data = json.dumps(reply).encode()
        self.send_response(self.server.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


class HttpChat:
    """A minimal chat-completions client over urllib (the project's real client lives in tuning/)."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url

    def complete(self, messages: list[dict[str, str]]) -> tuple[str, Usage]:
        request = urllib.request.Request(
            f"{self.base_url}/chat/completions",
            data=json.dumps({"model": "m", "messages": messages}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            body = json.loads(response.read())
        usage = body["usage"]
        return body["choices"][0]["message"]["content"], Usage(
            prompt_tokens=usage["prompt_tokens"], completion_tokens=usage["completion_tokens"]
        )


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> RagIndex:
    root = tmp_path_factory.mktemp("answerer")
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


def url(server: ChatServer) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}/v1"


def test_extractive_answers_with_source_and_cutoff(index: RagIndex) -> None:
    answerer = RagAnswerer(index)
    assert isinstance(answerer, Answerer)
    answer = answerer.answer(Question(text="What is the monthly price of the Pro plan?"))
    assert answer.ok and not answer.abstained
    assert answer.text == "The Pro plan costs 15 EUR per month."
    assert answer.sources[0].record_id == "price-pro" and answer.sources[0].score > 0.5
    assert answer.usage.embedding_tokens > 0 and answer.latency_s > 0
    assert str(answer.knowledge_cutoff) == "2026-03-01"


@pytest.mark.parametrize(
    "question", ["What is the capital of France?", "Quelle heure est-il à Tokyo ?"]
)
def test_extractive_abstains_below_the_threshold(index: RagIndex, question: str) -> None:
    answer = RagAnswerer(index).answer(Question(text=question))
    assert answer.ok and answer.abstained and answer.text == ""
    assert answer.sources  # it still shows what it found


def test_generative_prompt_carries_dated_sources_and_the_question(
    index: RagIndex, server: ChatServer
) -> None:
    chat = HttpChat(url(server))
    assert isinstance(chat, ChatModel)
    answer = RagAnswerer(index, mode="generative", chat=chat).answer(
        Question(text="Pro plan price?")
    )
    assert answer.ok, answer.error
    assert answer.text == "15 EUR a month [price-pro]"
    assert (answer.usage.prompt_tokens, answer.usage.completion_tokens) == (120, 9)
    assert answer.usage.embedding_tokens > 0  # the query's embedding is part of the same answer
    sent = server.requests[0]["messages"]
    first = "[1] (price-pro, as of 2026-03-01) How much does the Pro plan cost per month?\n"
    assert first + "The Pro plan costs 15 EUR per month." in sent[0]["content"]
    assert sent[1] == {"role": "user", "content": "Pro plan price?"}


@pytest.mark.parametrize(("reply", "choice"), [("B", 1), (" (b). ", 1), ("B, 15 EUR", None)])
def test_generative_multiple_choice_letters_the_choices_and_parses_strictly(
    index: RagIndex, server: ChatServer, reply: str, choice: int | None
) -> None:
    server.reply = reply
    answer = RagAnswerer(index, mode="generative", chat=HttpChat(url(server))).answer(
        Question(text="Pro plan price?", choices=("12 EUR", "15 EUR", "18 EUR"))
    )
    assert answer.ok and answer.choice_method == "letter"
    assert answer.choice == choice and answer.text == reply  # an unparsed reply is shown as is
    sent = server.requests[0]["messages"]
    assert "[1] (price-pro, as of 2026-03-01)" in sent[0]["content"]
    assert sent[1]["content"].startswith("Pro plan price?\nA. 12 EUR\nB. 15 EUR\nC. 18 EUR\n")


def test_generative_endpoint_failure_becomes_an_error_answer(
    index: RagIndex, server: ChatServer
) -> None:
    server.status = 500
    answer = RagAnswerer(index, mode="generative", chat=HttpChat(url(server))).answer(
        Question(text="Pro plan price?")
    )
    assert not answer.ok and "HTTPError" in (answer.error or "")
    assert answer.latency_s > 0


def test_find_sources_gives_the_retrieval_half(index: RagIndex) -> None:
    sources, usage = RagAnswerer(index).find_sources(Question(text="How long is the warranty?"))
    assert sources[0].record_id == "warranty" and "Two years." in sources[0].text
    assert usage.embedding_tokens > 0


def test_generative_mode_needs_a_chat_model(index: RagIndex) -> None:
    with pytest.raises(ValueError, match="chat model"):
        RagAnswerer(index, mode="generative")


def test_unreachable_endpoint_is_an_error_not_a_crash(index: RagIndex, tmp_path: Path) -> None:
    from tests.rag_helpers import free_port

    chat = HttpChat(f"http://127.0.0.1:{free_port()}/v1")
    answer = RagAnswerer(index, mode="generative", chat=chat).answer(
        Question(text="Pro plan price?")
    )
    assert answer.error and isinstance(answer.error, str)
    with pytest.raises(urllib.error.URLError):
        chat.complete([{"role": "user", "content": "x"}])


def test_a_passage_answers_with_its_best_sentence_and_shows_the_passage(index: RagIndex) -> None:
    answer = RagAnswerer(index).answer(Question(text="When does the winter ferry timetable start?"))
    assert answer.ok and not answer.abstained, answer
    assert answer.text == "The winter ferry timetable starts on 4 November."
    source = answer.sources[0]
    assert source.record_id == "harbour-bulletin"
    assert source.text == LINES[2]["text"]  # the whole passage, not the sentence


@pytest.mark.parametrize(
    ("question", "choices", "expected"),
    [
        # "4 November" is named; "14 November" is not (it would only match inside "14")
        (
            "When does the winter ferry timetable start?",
            ("14 November", "4 November", "4 March"),
            1,
        ),
        ("How long is the hardware warranty?", ("One year", "Two years", "Three years"), 1),
    ],
)
def test_multiple_choice_picks_the_choice_the_passage_names(
    index: RagIndex, question: str, choices: tuple[str, ...], expected: int
) -> None:
    answer = RagAnswerer(index).answer(Question(text=question, choices=choices))
    assert answer.ok and not answer.abstained
    assert (answer.choice, answer.choice_method) == (expected, "passage")
    assert answer.text.startswith(choices[expected]) and "names" in answer.text
