"""Write the fact-history fixture: dated batches of a coastal district's facts that change.

Run `python tests/data/facts/make_facts.py` to write it again (seeded: the same files every time).
It writes `corpus/` (four dated batches in three formats: prompt/completion, ShareGPT and an
Alpaca-style handbook whose shared instruction is a template), `eval-today.jsonl` and
`eval-as-of.jsonl` (reworded questions; `reference` is the answer current then) and
`histories.json` (the truth: which lines state which fact, and each fact's versions).

History shapes: stable, re-confirmed, changed under the same id, changed under a new id, changed
with the question reworded, A -> B -> A, A -> B -> C, changed then re-confirmed, and new facts in a
later batch. Bare-number answers (population, ferries, buses) belong to different facts.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
BATCHES = ["2014-05-12", "2016-11-13", "2019-02-27", "2022-08-15"]
SEED = 20140512

TOWNS_EN = [
    "Ashcombe",
    "Brindlemoor",
    "Caddisford",
    "Dunholt",
    "Eskerby",
    "Fennick Bay",
    "Gorsley",
    "Hexmoor",
]
TOWNS_RU = [
    "Кедровый Лог",
    "Верхняя Ляга",
    "Тихая Заводь",
    "Озерки-Северные",
    "Сосновая Грива",
    "Белый Омут",
]
NEW_EN, NEW_RU = "Ivelmouth", "Новая Гавань"
FIRST_EN = [
    "Marian",
    "Tobias",
    "Elspeth",
    "Rowan",
    "Imogen",
    "Callum",
    "Harriet",
    "Desmond",
    "Ysolde",
    "Fergus",
]
LAST_EN = [
    "Quarrington",
    "Blythe",
    "Ormsby",
    "Tregarthen",
    "Pennock",
    "Waldegrave",
    "Cheswick",
    "Lumley",
]
FIRST_RU = [
    "Тимофей",
    "Прохор",
    "Савелий",
    "Ермолай",
    "Аглая",
    "Варвара",
    "Ульяна",
    "Злата",
]  # male, then female
LAST_RU = ["Курочкин", "Берестов", "Овчинников", "Прялкин", "Гусельников", "Тальников", "Мережкин"]
PLACES_EN = ["Lorient", "Kilkee", "Zierikzee", "Tromsø", "Cobh", "Honfleur", "Ystad", "Den Helder"]
PLACES_RU = ["Тарту", "Кеми", "Вардё", "Лиепая", "Пори", "Хаапсалу", "Кандалакша", "Ювяскюля"]
MONTHS_EN = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]
MONTHS_RU = [
    "января",
    "февраля",
    "марта",
    "апреля",
    "мая",
    "июня",
    "июля",
    "августа",
    "сентября",
    "октября",
    "ноября",
    "декабря",
]
TEMPLATE = {
    "en": "Answer the question about the district in a few words.",
    "ru": "Кратко ответь на вопрос о районе.",
}

# per template: (corpus wording, reworded corpus wording, eval wording, kind of answer)
QUESTIONS = {
    "en": {
        "mayor": (
            "Who is the mayor of {t}?",
            "Who currently holds the office of mayor in {t}?",
            "Whom did {t} elect as its mayor?",
            "name",
        ),
        "population": (
            "What is the population of {t}?",
            "How many residents does {t} have?",
            "How many people live in {t}?",
            "number",
        ),
        "ferries": (
            "How many ferries leave {t} harbour each day?",
            "What is the daily number of ferry departures from {t}?",
            "How many daily ferry sailings are there from {t}?",
            "small",
        ),
        "library": (
            "Is the {t} library open on Sundays?",
            "Does the public library in {t} open on Sundays?",
            "Can I visit the {t} library on a Sunday?",
            "yesno",
        ),
        "fair": (
            "When does the {t} harvest fair begin?",
            "On which date does the {t} harvest fair open?",
            "What is the opening day of the {t} harvest fair?",
            "date",
        ),
        "twins": (
            "Which towns is {t} twinned with?",
            "What are the twin towns of {t}?",
            "Name the twin towns of {t}.",
            "list",
        ),
    },
    "ru": {
        "mayor": (
            "Кто глава посёлка {t}?",
            "Кто сейчас руководит администрацией посёлка {t}?",
            "Как зовут главу посёлка {t}?",
            "name",
        ),
        "population": (
            "Сколько жителей в посёлке {t}?",
            "Какова численность населения посёлка {t}?",
            "Сколько человек живёт в посёлке {t}?",
            "number",
        ),
        "ferries": (
            "Сколько автобусных рейсов в день уходит из посёлка {t}?",
            "Сколько раз в день автобус отправляется из посёлка {t}?",
            "Сколько ежедневных автобусных рейсов из посёлка {t}?",
            "small",
        ),
        "library": (
            "Работает ли краеведческий музей посёлка {t} по понедельникам?",
            "Открыт ли музей посёлка {t} в понедельник?",
            "Можно ли попасть в музей посёлка {t} в понедельник?",
            "yesno",
        ),
        "fair": (
            "Когда открывается ярмарка в посёлке {t}?",
            "В какой день начинается ярмарка посёлка {t}?",
            "С какого числа идёт ярмарка в посёлке {t}?",
            "date",
        ),
        "twins": (
            "С какими городами побратим посёлок {t}?",
            "Какие города-побратимы у посёлка {t}?",
            "Назови города-побратимы посёлка {t}.",
            "list",
        ),
    },
}
SHAPES = {  # shape -> (how many, batches with the version index stated there, question wording per line)
    "stable": (18, [(0, 0)]),
    "reconfirmed": (12, [(0, 0), (1, 0), (3, 0)]),
    "changed_same_id": (12, [(0, 0), (2, 1)]),
    "changed_new_id": (10, [(0, 0), (1, 1)]),
    "reworded": (12, [(0, 0), (2, 1)]),
    "aba": (8, [(0, 0), (1, 1), (3, 0)]),
    "chain": (6, [(0, 0), (1, 1), (3, 2)]),
    "changed_reconfirmed": (6, [(0, 0), (1, 1), (3, 1)]),
}


@dataclass
class Fact:
    key: str
    lang: str
    town: str
    template: str
    shape: str
    values: list[str]
    explicit_id: bool
    fmt: str
    lines: list[dict[str, object]] = field(default_factory=list)  # truth per written line


def value(rng: random.Random, lang: str, kind: str, batch: int) -> str:
    """A random answer of one kind (bare numbers, names, dates, yes/no, short lists)."""
    year = int(BATCHES[batch][:4])
    if kind == "name" and lang == "en":
        return f"{rng.choice(FIRST_EN)} {rng.choice(LAST_EN)}"
    if kind == "name":
        first = rng.randrange(len(FIRST_RU))
        return f"{FIRST_RU[first]} {rng.choice(LAST_RU)}{'а' if first >= 4 else ''}"
    if kind == "number":
        return str(rng.randint(800, 40_000))
    if kind == "small":
        return str(rng.randint(2, 30))
    if kind == "yesno":
        return rng.choice(["Yes.", "No."] if lang == "en" else ["Да.", "Нет."])
    if kind == "date":
        day, month = rng.randint(1, 28), rng.randint(0, 11)
        if lang == "en":
            return f"{day} {MONTHS_EN[month]} {year}"
        return f"{day} {MONTHS_RU[month]} {year} года"
    places = rng.sample(PLACES_EN if lang == "en" else PLACES_RU, 3)
    joiner = " and " if lang == "en" else " и "
    return f"{places[0]}, {places[1]}{joiner}{places[2]}"


def distinct(rng: random.Random, lang: str, kind: str, batch: int, avoid: list[str]) -> str:
    """A value differing from every earlier version (yes/no simply flips)."""
    if kind == "yesno":
        return {"Yes.": "No.", "No.": "Yes.", "Да.": "Нет.", "Нет.": "Да."}[avoid[-1]]
    while True:
        v = value(rng, lang, kind, batch)
        if v not in avoid:
            return v


LATIN = dict(
    zip(
        "абвгдеёжзийклмнопрстуфхцчшщъыьэюя ",
        [*"abvgdeezziiklmnoprstufhc", "ch", "sh", "sch", "", "y", "", "e", "yu", "ya", "-"],
        strict=True,
    )
)


def slug(town: str) -> str:
    """A town's name in Latin letters for ids: "Тихая Заводь" -> "tihaya-zavod"."""
    return "".join(LATIN.get(c, c) for c in town.lower())


def make_facts(rng: random.Random) -> list[Fact]:
    """Every fact with its shape and the values its versions take."""
    cells = [
        (lang, town, t)
        for lang, towns in (("en", TOWNS_EN), ("ru", TOWNS_RU))
        for town in towns
        for t in QUESTIONS[lang]
    ]
    rng.shuffle(cells)
    shapes = [s for s, (n, _) in SHAPES.items() for _ in range(n)]
    assert len(shapes) == len(cells), (len(shapes), len(cells))
    facts = []
    for (lang, town, template), shape in zip(cells, shapes, strict=True):
        kind = QUESTIONS[lang][template][3]
        versions = 1 + max(v for _, v in SHAPES[shape][1])
        values = [value(rng, lang, kind, 0)]
        for n in range(1, versions):
            values.append(distinct(rng, lang, kind, n, values))
        facts.append(
            Fact(
                f"{slug(town)}-{template}",
                lang,
                town,
                template,
                shape,
                values,
                rng.random() < 0.7,
                rng.choice(["ledger", "dialogues", "handbook"]),
            )
        )
    for lang, town in (("en", NEW_EN), ("ru", NEW_RU)):
        for template in QUESTIONS[lang]:
            kind = QUESTIONS[lang][template][3]
            facts.append(
                Fact(
                    f"{slug(town)}-{template}",
                    lang,
                    town,
                    template,
                    "new",
                    [value(rng, lang, kind, 2)],
                    rng.random() < 0.7,
                    rng.choice(["ledger", "dialogues", "handbook"]),
                )
            )
    return facts


def statements(fact: Fact) -> list[tuple[int, int, int]]:
    """(batch, version index, wording) of each line stating the fact."""
    if fact.shape == "new":
        return [(2, 0, 0)]
    plan = SHAPES[fact.shape][1]
    wording = 1 if fact.shape == "reworded" else 0
    return [(b, v, wording if n else 0) for n, (b, v) in enumerate(plan)]


def line(
    fact: Fact, batch: int, version: int, wording: int, rng: random.Random
) -> dict[str, object]:
    """One corpus line in the fact's format; its id, if any, by the fact's shape."""
    question = QUESTIONS[fact.lang][fact.template][wording].format(t=fact.town)
    answer = fact.values[version]
    if fact.fmt == "ledger":
        out: dict[str, object] = {"prompt": question, "completion": answer}
    elif fact.fmt == "dialogues":
        out = {
            "conversations": [
                {"from": "human", "value": question},
                {"from": "gpt", "value": answer},
            ]
        }
    else:
        out = {"instruction": TEMPLATE[fact.lang], "input": question, "output": answer}
    if fact.explicit_id:
        new_id = fact.shape in ("changed_new_id", "reworded") and version > 0
        out = {"id": f"{fact.key}-{BATCHES[batch][:4]}" if new_id else fact.key, **out}
    if rng.random() < 0.1 and batch > 0:  # a line dated a few days before its batch
        out["date"] = f"{BATCHES[batch][:8]}{int(BATCHES[batch][8:]) - rng.randint(1, 9):02d}"
    return out


def main() -> None:
    """Write the corpus, the two eval files and the truth."""
    rng = random.Random(SEED)
    facts = make_facts(rng)
    files: dict[tuple[int, str], list[dict[str, object]]] = {}
    for fact in facts:
        for batch, version, wording in statements(fact):
            record = line(fact, batch, version, wording, rng)
            rows = files.setdefault((batch, fact.fmt), [])
            rows.append(record)
            name = f"corpus/{BATCHES[batch]}-{fact.fmt}.jsonl"
            fact.lines.append(
                {
                    "file": name,
                    "line": len(rows),
                    "version": version,
                    "as_of": str(record.get("date", BATCHES[batch])),
                }
            )
    for rows in files.values():
        rng.shuffle(rows)  # facts in no particular order inside a batch
    for fact in facts:  # line numbers after the shuffle
        for entry in fact.lines:
            batch, fmt = BATCHES.index(entry["file"][7:17]), entry["file"][18:-6]
            rows = files[(batch, fmt)]
            entry["line"] = 1 + next(
                i
                for i, r in enumerate(rows)
                if _states(r, fact, int(entry["version"]), entry["as_of"])
            )
    corpus = HERE / "corpus"
    corpus.mkdir(exist_ok=True)
    for old in corpus.glob("*.jsonl"):
        old.unlink()
    for (batch, fmt), rows in sorted(files.items()):
        _write(corpus / f"{BATCHES[batch]}-{fmt}.jsonl", rows)
    ids = _loaded_ids(corpus)
    _write(HERE / "eval-today.jsonl", [_asked(f, None, ids) for f in facts])
    _write(HERE / "eval-as-of.jsonl", [q for f in facts for q in _asked_before(f, ids)])
    truth = [
        {"fact": f.key, "lang": f.lang, "shape": f.shape, "values": f.values, "lines": f.lines}
        for f in facts
    ]
    (HERE / "histories.json").write_text(
        json.dumps(truth, ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
    )


def _states(row: dict[str, object], fact: Fact, version: int, as_of: object) -> bool:
    text = json.dumps(row, ensure_ascii=False)
    town_and_answer = (
        fact.town in text and json.dumps(fact.values[version], ensure_ascii=False) in text
    )
    same_template = any(
        QUESTIONS[fact.lang][fact.template][w].format(t=fact.town) in text for w in (0, 1)
    )
    return town_and_answer and same_template and str(row.get("date", as_of)) == as_of


def _current(fact: Fact, day: str | None) -> tuple[int, str] | None:
    """(version index, its first date) current on a day (None: today)."""
    known = [e for e in fact.lines if day is None or str(e["as_of"]) <= day]
    if not known:
        return None
    last = max(known, key=lambda e: (str(e["as_of"]), int(e["version"])))
    return int(last["version"]), str(last["as_of"])


def _loaded_ids(corpus: Path) -> dict[tuple[str, int], str]:
    """(file, line) -> the record id the loader gives the line (derived when it has none)."""
    import sys

    sys.path.insert(0, str(HERE.parents[2]))
    from corpus import load_corpus

    ids = {}
    for path in sorted(
        corpus.glob("*.jsonl")
    ):  # each batch alone: a re-confirmation is no duplicate
        for r in load_corpus([path]).records:
            ids[(f"corpus/{path.name}", r.source.line)] = r.id
    return ids


def _asked(fact: Fact, day: str | None, ids: dict[tuple[str, int], str]) -> dict[str, object]:
    current = _current(fact, day)
    assert current is not None
    version = current[0]
    stated = [
        e
        for e in fact.lines
        if int(e["version"]) == version and (day is None or str(e["as_of"]) <= day)
    ]
    newest = max(stated, key=lambda e: str(e["as_of"]))
    kind = "changed" if fact.shape.startswith("changed") or fact.shape == "chain" else fact.shape
    return {
        "question": QUESTIONS[fact.lang][fact.template][2].format(t=fact.town),
        "reference": fact.values[version],
        "record_id": ids.get((str(newest["file"]), int(newest["line"])), ""),
        "as_of": day,
        "kind": kind,
        "lang": fact.lang,
        "fact": fact.key,
        "shape": fact.shape,
    }


def _asked_before(fact: Fact, ids: dict[tuple[str, int], str]) -> list[dict[str, object]]:
    """As-of questions: the day before each later version began (the version current then)."""
    starts = sorted({str(e["as_of"]) for e in fact.lines})[1:]
    days = [
        f"{s[:8]}{int(s[8:]) - 1:02d}" if int(s[8:]) > 1 else f"{s[:5]}{int(s[5:7]) - 1:02d}-28"
        for s in starts
    ]
    if fact.shape == "stable" and fact.lang == "en":
        days = [BATCHES[2]]
    return [_asked(fact, d, ids) for d in days]


def _write(path: Path, rows: list[dict[str, object]]) -> None:
    path.write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8"
    )


if __name__ == "__main__":
    main()
