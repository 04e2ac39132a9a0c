"""Write the knowledge-probe fixture: four dated batches of invented polar research stations.

Run `python tests/data/probe/make_corpus.py` to write `corpus/` again (the same files every time).
Every answer is invented, so no model can know it before training on it; every version of every
fact states words no other fact states, so an answer is placed by its words alone.

Shapes: stable facts, a fact re-confirmed in a later batch, facts that change once, A -> B -> C,
A -> B -> A, and new facts in every batch. Each batch has at least seven facts that are new or
changed in it: the probe tells each batch date from the next. Lines alternate between the
prompt/completion and ShareGPT shapes; a changed fact keeps its record id.
"""

from __future__ import annotations

import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
BATCHES = ("2021-03-01", "2021-09-01", "2022-03-01", "2022-09-01")
QUESTIONS = {
    "leader": "Who leads the {s} research station?",
    "ship": "Which ship supplies the {s} research station?",
    "callsign": "What is the radio call sign of the {s} research station?",
}
# (record id, station, what is asked, {batch index: answer stated in that batch})
FACTS: tuple[tuple[str, str, str, dict[int, str]], ...] = (
    ("quellmark-leader", "Quellmark", "leader",
     {0: "Dr Ottilie Varncombe", 1: "Dr Cassius Fenwright"}),
    ("quellmark-ship", "Quellmark", "ship", {0: "the Brisk Heron"}),
    ("ardwen-leader", "Ardwen Shelf", "leader",
     {0: "Dr Marisol Tennant", 2: "Dr Jorund Pelham"}),
    ("ardwen-callsign", "Ardwen Shelf", "callsign",
     {0: "Lantern-47", 1: "Beacon-12", 3: "Harrow-88"}),
    ("tollow-ship", "Tollow Spit", "ship", {0: "the Quiet Plover", 2: "the Amber Tern"}),
    ("tollow-leader", "Tollow Spit", "leader", {0: "Dr Ignatius Kettleby"}),
    ("marrowind-callsign", "Marrowind", "callsign", {0: "Cinder-31", 3: "Thistle-65"}),
    ("marrowind-ship", "Marrowind", "ship", {0: "the Pale Curlew", 2: "the Pale Curlew"}),
    ("vessick-leader", "Vessick Point", "leader",
     {0: "Dr Henrike Solvang", 1: "Dr Aurelio Maddox", 3: "Dr Henrike Solvang"}),
    ("vessick-callsign", "Vessick Point", "callsign", {0: "Falcon-23"}),
    ("obelane-leader", "Obelane", "leader", {1: "Dr Wilhelmina Crane", 3: "Dr Teodor Vask"}),
    ("obelane-ship", "Obelane", "ship", {1: "the Silver Grebe", 2: "the Hollow Gannet"}),
    ("hurst-callsign", "Hurst Varrow", "callsign", {1: "Ember-54"}),
    ("hurst-leader", "Hurst Varrow", "leader", {1: "Dr Leopold Marchetti"}),
    ("cindral-leader", "Cindral Cove", "leader",
     {2: "Dr Saoirse Quillan", 3: "Dr Benedikt Osei"}),
    ("cindral-ship", "Cindral Cove", "ship", {2: "the Rusted Skua"}),
    ("pellory-callsign", "Pellory Reach", "callsign", {2: "Quarry-76"}),
    ("pellory-leader", "Pellory Reach", "leader", {2: "Dr Annika Holloway"}),
    ("dunsa-leader", "Dunsa Ridge", "leader", {3: "Dr Evander Sorrell"}),
    ("dunsa-ship", "Dunsa Ridge", "ship", {3: "the Gilded Shearwater"}),
    ("quellmark-callsign", "Quellmark", "callsign", {3: "Mirror-19"}),
    ("tollow-callsign", "Tollow Spit", "callsign", {3: "Anchor-92"}),
)  # fmt: skip


def line(number: int, record_id: str, question: str, answer: str) -> dict[str, object]:
    """One corpus line, in the prompt/completion or the ShareGPT shape by turn."""
    if number % 2:
        turns = [{"from": "human", "value": question}, {"from": "gpt", "value": answer}]
        return {"id": record_id, "conversations": turns}
    return {"id": record_id, "prompt": question, "completion": answer}


def main() -> None:
    """Write one file per batch, the facts in a fixed order."""
    out = HERE / "corpus"
    out.mkdir(exist_ok=True)
    for index, batch in enumerate(BATCHES):
        lines = [
            line(number, record_id, QUESTIONS[kind].format(s=station), versions[index])
            for number, (record_id, station, kind, versions) in enumerate(FACTS)
            if index in versions
        ]
        text = "".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lines)
        (out / f"{batch}-stations.jsonl").write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
