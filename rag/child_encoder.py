"""Encode a rebuild's texts in a child process, a few batches ahead of the adds.

chroma's embedded `add` holds the GIL for the whole call: a pure-Python thread ran at 1/100 of its
speed during one (5,461 rows, 2.7-3.5 s). A rebuild that encodes in one thread while another adds
therefore does one thing at a time on a machine with a core to spare. A child process has a GIL of
its own: it encodes the next batches while this process adds the last ones, and before that it
takes half of fact identity's questions, which this process would encode on one core alone.

The child is the same local embedder loaded by name (`python -m rag.child_encoder`); a remote one
gains nothing from it. Messages are length-prefixed pickles over the child's stdin and stdout
(the child moves its own prints to stderr first, so a library that prints cannot corrupt one).
The child ends when its stdin closes, which is also what happens when this process dies.

Each request goes in one of two lanes: `NOW` (texts a caller waits for) or `EARLY` (texts a
rebuild expects to need once its plan is known, handed over while fact identity still runs). The
child encodes every `NOW` request before the next `EARLY` one, and each answer says its lane;
within a lane, answers come in the order asked.
"""

from __future__ import annotations

import contextlib
import json
import os
import pickle
import queue
import select
import signal
import struct
import subprocess
import sys
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, TypeVar

import numpy as np

from rag.remote_embedding import split_remote
from rag.settings import RagSettings

if TYPE_CHECKING:
    from rag.embedding import TextEmbedder

T = TypeVar("T")
Result = tuple[np.ndarray, list[int]]  # vectors and token counts of one request's texts
HEADER = struct.Struct(">Q")
READY = "ready"
NOW, EARLY = "now", "early"  # the lanes of a request (see the module's docstring)


class ChildFailed(RuntimeError):
    """The child died, could not load its model, or failed on a batch."""


def write_message(stream: IO[bytes], value: Any) -> None:
    data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(HEADER.pack(len(data)) + data)
    stream.flush()


def read_message(stream: IO[bytes]) -> Any:
    """The next message; EOFError when the other side is gone."""
    head = _read_exactly(stream, HEADER.size)
    return pickle.loads(_read_exactly(stream, HEADER.unpack(head)[0]))


def _read_exactly(stream: IO[bytes], size: int) -> bytes:
    """`size` bytes: a pipe hands out what it holds, so a large message takes several reads."""
    parts, left = [], size
    while left:
        data = stream.read(left)
        if not data:
            raise EOFError("the other side closed the pipe")
        parts.append(data)
        left -= len(data)
    return b"".join(parts)


class ChildEncoder:
    """A child process that encodes lists of texts, each lane in the order it was submitted.

    `ready()` says without waiting whether the model has loaded; `take()` waits for the next
    `NOW` result, `take_early()` for the next `EARLY` one: the vectors and the embedder's token
    count of each text. Any failure raises `ChildFailed`, after which the caller encodes
    in-process.
    """

    def __init__(self, name: str, device: str, batch_size: int | None, onnx_dir: str | None):
        spec = json.dumps([name, device, batch_size, onnx_dir])
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "rag.child_encoder", spec],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            bufsize=0,
        )
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._to, self._from = self._proc.stdin, self._proc.stdout
        self._ready = False
        self._unwanted = 0  # NOW answers still to come for texts encoded elsewhere meanwhile
        # answers read while waiting for one of the other lane, oldest first
        self._got: dict[str, deque[Result]] = {NOW: deque(), EARLY: deque()}

    def ready(self) -> bool:
        """Whether the model has loaded; raises ChildFailed if it could not."""
        if not self._ready:
            readable, _, _ = select.select([self._from], [], [], 0)
            if readable:
                self._expect_ready()
        return self._ready

    def answered(self) -> bool:
        """Whether a `NOW` result is waiting to be taken (so `take` would not wait long)."""
        while True:
            self._pass_unwanted()
            if self._got[NOW]:
                return True
            readable, _, _ = select.select([self._from], [], [], 0)
            if not readable:
                return False
            self._receive_one()

    def forget(self, results: int) -> None:
        """The next `results` `NOW` answers are not wanted (their texts were encoded elsewhere):
        `take` and `answered` pass over them as they come."""
        self._unwanted += results

    def _pass_unwanted(self) -> None:
        while self._unwanted and self._got[NOW]:
            self._got[NOW].popleft()
            self._unwanted -= 1

    def _expect_ready(self) -> None:
        answer = self._receive()
        if answer != READY:
            raise ChildFailed(f"the encoder process did not start: {answer!r}")
        self._ready = True

    def submit(self, texts: list[str], lane: str = NOW) -> None:
        try:
            write_message(self._to, (lane, texts))
        except OSError as err:
            raise ChildFailed(f"the encoder process is gone: {err}") from err

    def take(self) -> Result:
        """The next wanted `NOW` result, waiting for it."""
        while True:
            self._pass_unwanted()
            if self._got[NOW]:
                return self._got[NOW].popleft()
            self._receive_one()

    def take_early(self) -> Result:
        """The next `EARLY` result, waiting for it."""
        while not self._got[EARLY]:
            self._receive_one()
        return self._got[EARLY].popleft()

    def _receive_one(self) -> None:
        answer = self._receive()
        if not isinstance(answer, tuple):
            raise ChildFailed(f"the encoder process failed: {answer!r}")
        lane, vectors, counts = answer
        self._got[lane].append((vectors, counts))

    def _receive(self) -> Any:
        try:
            return read_message(self._from)
        except (EOFError, OSError, pickle.UnpicklingError) as err:
            raise ChildFailed(f"the encoder process is gone: {err}") from err

    def close(self) -> None:
        """Tell the child to end, without waiting: one still loading its model is killed now, a
        loaded one ends when its stdin closes (its exit took 0.2 s of the rebuild) and is reaped
        by a thread, killed if it has not ended within 2 s."""
        for stream in (self._to, self._from):
            with contextlib.suppress(OSError):
                stream.close()
        if not self._ready:
            self._proc.kill()
            self._proc.wait()
            return
        threading.Thread(target=_reap, args=(self._proc,), daemon=True).start()

    @property
    def pid(self) -> int:
        return self._proc.pid


def _reap(proc: subprocess.Popen[bytes]) -> None:
    try:
        proc.wait(timeout=2)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def start_child(model: str, settings: RagSettings, texts: int | None) -> ChildEncoder | None:
    """A child encoder for a local model and enough texts to pay for its start (see
    `RagSettings.encode_child_min`); None otherwise, or when no process can be started."""
    if split_remote(model) is not None:
        return None  # a server's model encodes elsewhere already
    if texts is None or not settings.encode_child_min or texts < settings.encode_child_min:
        return None
    onnx_dir = settings.work_root / "models" if settings.query_onnx else None
    try:
        return ChildEncoder(
            model, settings.device, settings.embed_batch_size, str(onnx_dir) if onnx_dir else None
        )
    except OSError:
        return None


CHUNK = 128  # texts per share when one list is encoded here and in the child together
REMEMBERED = 200_000  # token counts the child returned, kept for `count_tokens`
BEHIND_CHUNK = 256  # texts per message handed to the child by `behind` (what a wait can take back)


class SharedEncoder:
    """This process's embedder and, when one runs, the child encoder, used together.

    `encode` shares one list of texts between both processes (each takes chunks from its own
    end), `ahead` hands a rebuild's batches to the child ahead of their adds. The child is
    optional throughout: before it has loaded its model, and for good once it fails, texts are
    encoded here, so the vectors never depend on it.
    """

    def __init__(
        self,
        embedder_of: Callable[[], TextEmbedder],
        child: ChildEncoder | None,
        loaded: Callable[[], bool] = lambda: True,
    ):
        self.embedder_of = embedder_of
        self.child = child
        self.loaded = loaded  # whether `embedder_of` returns at once (no model to load first)
        self.counted: dict[str, int] = {}  # counts the child returned, by text
        # texts handed over by `early`: the chunks in the order sent, each text's chunk, the
        # next chunk to read back, and the vector and count of each text read back
        self._early_sent: list[list[str]] = []
        self._early_chunk: dict[str, int] = {}
        self._early_next = 0
        self._early_rows: dict[str, tuple[np.ndarray, int]] = {}

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """One row per text, in order."""
        texts = list(texts)
        chunks = [texts[i : i + CHUNK] for i in range(0, len(texts), CHUNK)]
        if len(chunks) < 2 or self.child is None:
            return self._local(texts)
        rows: list[np.ndarray | None] = [None] * len(chunks)
        front, back = 0, len(chunks)  # the child works from the back once it has loaded
        sent: list[int] = []  # chunks with the child, oldest first
        try:
            while front < back:
                if self._ready() and (len(sent) < 2 or self._child().answered()):
                    if len(sent) == 2:
                        done = sent.pop(0)
                        rows[done] = self._take(chunks[done])
                    back -= 1
                    self._child().submit(chunks[back])
                    sent.append(back)
                else:
                    rows[front] = self._local(chunks[front])
                    front += 1
            while sent:
                rows[sent[0]] = self._take(chunks[sent[0]])
                sent.pop(0)
        except ChildFailed:
            self.close()
            for i, row in enumerate(rows):  # what the child had not returned, and the rest
                if row is None:
                    rows[i] = self._local(chunks[i])
        return np.concatenate([r for r in rows if r is not None])

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """The embedder's token count per text: as the child counted it, else counted here."""
        counts = [self.counted.get(t, -1) for t in texts]
        todo = [t for t, c in zip(texts, counts, strict=True) if c < 0]
        fresh = iter(self.embedder_of().count_tokens(todo) if todo else [])
        return [c if c >= 0 else next(fresh) for c in counts]

    def ahead(
        self, batches: Iterable[T], texts_of: Callable[[T], list[str]], depth: int
    ) -> Iterator[tuple[T, np.ndarray, list[int]]]:
        """Each batch with the vectors and token counts of its texts, in order.

        Batches are encoded here until the child has loaded its model, then by the child,
        `depth` batches ahead of the one handed out. If the child fails, what it had not
        returned and everything after is encoded here.
        """
        pending: list[tuple[T, list[str]]] = []  # submitted to the child, oldest first
        for batch in batches:
            texts = texts_of(batch)
            if not pending and not self._ready():
                yield from self._here([(batch, texts)])
                continue
            pending.append((batch, texts))  # until its vectors are handed out
            try:
                self._child().submit(texts)
                while len(pending) > depth:
                    vectors, counts = self._child().take()
                    yield pending.pop(0)[0], vectors, counts
            except ChildFailed:
                self.close()
                yield from self._here(pending)
                pending = []
        while pending and self.child is not None:
            try:
                vectors, counts = self.child.take()
            except ChildFailed:
                self.close()
                break
            yield pending.pop(0)[0], vectors, counts
        yield from self._here(pending)

    def together(
        self, batches: Iterable[T], texts_of: Callable[[T], list[str]]
    ) -> Iterator[tuple[T, np.ndarray, list[int]]]:
        """Each batch with the vectors and token counts of its texts, in order, all encoded at
        once by both processes (`encode`): for a change small enough to be added in one go,
        where this process would otherwise wait while the child encodes alone. Texts handed
        over by `early` are not encoded again."""
        held = [(batch, texts_of(batch)) for batch in batches]
        texts = [t for _, batch_texts in held for t in batch_texts]
        sent = [t for t in dict.fromkeys(texts) if t in self._early_chunk]
        rest = [t for t in texts if t not in self._early_chunk]
        if rest:
            own = self.encode(rest), self.count_tokens(rest)
        else:
            own = np.zeros((0, 0), np.float32), []
        vectors, counts = self._with_early(texts, sent, own)
        start = 0
        for batch, batch_texts in held:
            end = start + len(batch_texts)
            yield batch, vectors[start:end], counts[start:end]
            start = end

    def early(self, texts: Sequence[str]) -> bool:
        """Hand the loaded child texts a rebuild expects to embed once its plan is known, to
        encode while this process works the plan out; `behind` and `together` then take their
        vectors from these instead of encoding them again. A request a caller waits for
        (`encode`, `behind`) still goes first in the child. False when no loaded child runs.

        In a rebuild of 1% of 200k records in a process of its own, the child had loaded its
        model ~4 s before the plan was known, then encoded the changed answers (3.5 s) while
        the rebuild waited."""
        if not texts or not self._ready():
            return False
        unique = [t for t in dict.fromkeys(texts) if t not in self._early_chunk]
        try:
            for start in range(0, len(unique), BEHIND_CHUNK):
                chunk = unique[start : start + BEHIND_CHUNK]
                self._child().submit(chunk, EARLY)
                self._early_chunk.update(dict.fromkeys(chunk, len(self._early_sent)))
                self._early_sent.append(chunk)
        except ChildFailed:
            self.close()
            return False
        return True

    def _with_early(
        self, texts: list[str], sent: list[str], own: tuple[np.ndarray, list[int]]
    ) -> tuple[np.ndarray, list[int]]:
        """The rows of `texts` in order: those of `sent` (handed over by `early`) read back from
        the child, or encoded here if it failed; the others, in order, from `own`."""
        if not sent:
            return own
        known = self._take_early(sent)
        missing = [t for t in sent if t not in known]
        if missing:
            vectors, counts = self._one_here(missing)
            known.update(zip(missing, zip(vectors, counts, strict=True), strict=True))
        early = set(sent)
        rows = iter(zip(*own, strict=True))
        picked = [known[t] if t in early else next(rows) for t in texts]
        return np.stack([v for v, _ in picked]), [c for _, c in picked]

    def _take_early(self, texts: list[str]) -> dict[str, tuple[np.ndarray, int]]:
        """The vector and count of each of `texts` the child has encoded from `early`, waiting
        for the chunks they are in; what a failed child never returned is left out."""
        last = max((self._early_chunk.get(t, -1) for t in texts), default=-1)
        try:
            while self._early_next <= last:
                vectors, counts = self._child().take_early()
                chunk = self._early_sent[self._early_next]
                self._early_next += 1
                self._early_rows.update(zip(chunk, zip(vectors, counts, strict=True), strict=True))
        except ChildFailed:
            self.close()
        return {t: self._early_rows[t] for t in texts if t in self._early_rows}

    def behind(self, texts: list[str]) -> Callable[[], tuple[np.ndarray, list[int]]] | None:
        """Hand `texts` to the loaded child to encode while this process does something else
        (an add, which holds this process's GIL); the call returned waits for their vectors and
        token counts. Texts handed over by `early` are not handed again. None when no loaded
        child runs. If the child fails on the way, what it had not returned is encoded here."""
        if not texts or not self._ready():
            return None
        sent = [t for t in dict.fromkeys(texts) if t in self._early_chunk]
        todo = [t for t in texts if t not in self._early_chunk]
        chunks = [todo[i : i + BEHIND_CHUNK] for i in range(0, len(todo), BEHIND_CHUNK)]
        submitted = 0
        try:
            for chunk in chunks:
                self._child().submit(chunk)
                submitted += 1
        except ChildFailed:
            self.close()

        def result() -> tuple[np.ndarray, list[int]]:
            own = self._wait_behind(chunks, submitted)
            return self._with_early(texts, sent, own)

        return result

    def _wait_behind(self, chunks: list[list[str]], sent: int) -> tuple[np.ndarray, list[int]]:
        """The rows of `chunks` handed to the child by `behind` (the first `sent` of them)."""
        # the child returns chunks from the front; those it has not reached when this process
        # comes to wait are encoded here from the back (the add beside it held this process,
        # and its graph threads took the child's core: 2,000 texts were ~0.9 s from done).
        # Only with this process's embedder loaded: a load would cost more.
        if not chunks:
            return np.zeros((0, 0), np.float32), []
        rows: list[tuple[np.ndarray, list[int]] | None] = [None] * len(chunks)
        front, back, steal = 0, sent, self.loaded()
        try:
            while front < back:
                if steal and front < back - 1 and not self._child().answered():
                    back -= 1
                    rows[back] = self._one_here(chunks[back])
                else:
                    rows[front] = self._child().take()
                    front += 1
            if back < sent:
                self._child().forget(sent - back)  # encoded here meanwhile
        except ChildFailed:
            self.close()
        done = [row or self._one_here(chunk) for chunk, row in zip(chunks, rows, strict=True)]
        return np.concatenate([v for v, _ in done]), [c for _, cs in done for c in cs]

    def close(self) -> None:
        """End the child, if one runs; what comes next is encoded here."""
        child, self.child = self.child, None
        if child is not None:
            child.close()
        # texts handed over early and not read back are encoded here when asked for
        self._early_chunk = {t: c for t, c in self._early_chunk.items() if t in self._early_rows}

    def _here(
        self, batches: list[tuple[T, list[str]]]
    ) -> Iterator[tuple[T, np.ndarray, list[int]]]:
        for batch, texts in batches:
            yield batch, *self._one_here(texts)

    def _one_here(self, texts: list[str]) -> tuple[np.ndarray, list[int]]:
        return self._local(texts), self.embedder_of().count_tokens(texts)

    def _local(self, texts: list[str]) -> np.ndarray:
        return _vectors(self.embedder_of().encode, texts)

    def _ready(self) -> bool:
        if self.child is None:
            return False
        try:
            return self.child.ready()
        except ChildFailed:
            self.close()
            return False

    def _child(self) -> ChildEncoder:
        if self.child is None:
            raise ChildFailed("no encoder process")
        return self.child

    def _take(self, texts: list[str]) -> np.ndarray:
        vectors, counts = self._child().take()
        if len(self.counted) + len(texts) > REMEMBERED:
            self.counted.clear()
        self.counted.update(zip(texts, counts, strict=True))
        return vectors


def _vectors(encode: Callable[[list[str]], np.ndarray], texts: list[str]) -> np.ndarray:
    if not texts:
        return np.zeros((0, 0), np.float32)
    return np.asarray(encode(texts), dtype=np.float32)


def _serve(spec: str, requests: IO[bytes], answers: IO[bytes]) -> None:
    """The child: load the embedder, then encode each list of texts that arrives."""
    from rag.embedding import load_embedder

    name, device, batch_size, onnx_dir = json.loads(spec)
    try:
        embedder = load_embedder(name, device, batch_size, Path(onnx_dir) if onnx_dir else None)
    except Exception as err:  # told to the parent, which encodes in-process and will say why
        write_message(answers, f"{type(err).__name__}: {err}")
        return
    inbox = _Inbox()
    outbox: queue.Queue[Any] = queue.Queue()

    def receive() -> None:  # read ahead, so the parent's writes never wait for an encode
        try:
            while True:
                lane, texts = read_message(requests)
                inbox.put(lane, texts)
        except Exception:  # the parent gone, or a message not of this protocol: end, do not hang
            inbox.close()

    def send() -> None:  # write behind, so an encode never waits for the parent to read
        try:
            while (item := outbox.get()) is not None:
                write_message(answers, item)
        except OSError:
            os._exit(0)  # the parent is gone

    threading.Thread(target=receive, daemon=True).start()
    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    outbox.put(READY)
    while (request := inbox.get()) is not None:
        lane, texts = request
        try:
            vectors = _vectors(embedder.encode, texts)
            outbox.put((lane, vectors, embedder.count_tokens(texts) if texts else []))
        except Exception as err:
            outbox.put(f"{type(err).__name__}: {err}")
            break
    outbox.put(None)
    sender.join()


class _Inbox:
    """The child's requests by lane: `get` hands out every `NOW` request before the next `EARLY`
    one, and None once the parent has closed the pipe (what is left is wanted by no one)."""

    def __init__(self) -> None:
        self._lanes: dict[str, deque[list[str]]] = {NOW: deque(), EARLY: deque()}
        self._closed = False
        self._changed = threading.Condition()

    def put(self, lane: str, texts: list[str]) -> None:
        with self._changed:
            self._lanes[lane].append(texts)
            self._changed.notify()

    def close(self) -> None:
        with self._changed:
            self._closed = True
            self._changed.notify()

    def get(self) -> tuple[str, list[str]] | None:
        with self._changed:
            while not self._closed and not any(self._lanes.values()):
                self._changed.wait()
            if self._closed:
                return None
            lane = NOW if self._lanes[NOW] else EARLY
            return lane, self._lanes[lane].popleft()


def main(argv: Sequence[str]) -> None:
    # Ctrl-C in a terminal reaches the whole process group: the rebuild decides what it means,
    # and this process ends when the rebuild closes its input (or dies)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    answers = os.fdopen(os.dup(1), "wb", buffering=0)
    os.dup2(2, 1)  # anything the model's libraries print goes to stderr, not into a message
    sys.stdout = sys.stderr
    _serve(argv[0], sys.stdin.buffer, answers)


if __name__ == "__main__":
    main(sys.argv[1:])
