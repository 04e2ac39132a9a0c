"""Partners and rivals of a question without comparing every pair: looked up by what it names,
with hand-made vectors whose cosines are known."""

from __future__ import annotations

import numpy as np
import pytest

from rag.neighbours import Asker, AskerIndex, Rules, similarity

RULES = Rules(same=0.82, form=0.65, margin=0.03)


def unit(*xs: float) -> np.ndarray:
    v = np.asarray(xs, dtype=np.float32)
    return v / np.linalg.norm(v)


def asker(key: str, *names: str, kind: str | None = None, forms: tuple[str, ...] = ()) -> Asker:
    return Asker(key, key, frozenset(names), kind, frozenset(forms))


def index_of(*rows: tuple[Asker, np.ndarray]) -> AskerIndex:
    index = AskerIndex(len(rows[0][1]))
    for a, v in rows:
        index.add(a, v)
    return index


def test_candidates_are_questions_naming_a_part_or_all_of_the_same_things() -> None:
    index = index_of(
        (asker("a", "ashby", "2019"), unit(1, 0)),
        (asker("b", "ashby"), unit(1, 0)),
        (asker("c"), unit(1, 0)),  # names nothing: compatible with everyone
        (asker("d", "brindle"), unit(1, 0)),
        (asker("e", "ashby", "2019", "harbour"), unit(1, 0)),
    )

    def keys(key: str) -> set[str]:
        me = index.get(key)
        assert me is not None
        return {index.askers[r].key for r in index.candidates(me)}  # type: ignore[union-attr]

    assert keys("a") == {"b", "c", "e"}
    assert keys("c") == {"a", "b", "d", "e"}
    index.remove("b")
    assert keys("a") == {"c", "e"}


@pytest.mark.parametrize(
    ("other", "vector", "joinable", "why"),
    [
        (asker("y", "ashby"), unit(0.9, 0.436), True, "cosine 0.90, same names"),
        (asker("y", "ashby"), unit(0.8, 0.6), False, "cosine 0.80: below 0.82, no shared form"),
        (asker("y", "ashby", forms=("up to # gb",)), unit(0.7, 0.714), True, "0.70 with a shared form"),
        (asker("y", "ashby", forms=("up to # gb",)), unit(0.6, 0.8), False, "0.60: below the form threshold"),
        (asker("y", "ashby", kind="time"), unit(0.9, 0.436), False, "asks for another kind of answer"),
        (asker("y", "brindle"), unit(1, 0), False, "names another place"),
    ],
)  # fmt: skip
def test_partners(other: Asker, vector: np.ndarray, joinable: bool, why: str) -> None:
    me = asker("x", "ashby", kind="person", forms=("up to # gb",))
    index = index_of((me, unit(1, 0)), (other, vector))
    assert bool(index.partners(me, unit(1, 0), RULES)) is joinable, why


def test_a_scan_finds_every_question_above_each_floor() -> None:
    rng = np.random.default_rng(3)
    vectors = rng.standard_normal((300, 8)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    index = index_of(*((asker(f"k{i}"), v) for i, v in enumerate(vectors)))
    index.remove("k7")
    queries, floors = vectors[:3], np.asarray([0.2, 0.5, 0.9], np.float32)
    found = {(q, key) for q, key, _ in index.scan(queries, floors)}
    expected = {
        (q, f"k{i}")
        for q in range(3)
        for i, sim in enumerate(similarity(vectors, queries[q]).tolist())
        if sim > floors[q] and i != 7
    }
    assert found == expected
