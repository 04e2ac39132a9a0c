"""Write llamafactory_v1_tools.jsonl: 50 chats in LLaMA-Factory v1's own shape (run by hand).

The shape is the one LLaMA-Factory's v1 tool-use demo has (`llamafactory/reason-tool-use-demo-1500`,
rendered by `src/llamafactory/v1/plugins/model_plugins/templates/qwen3.py`): `messages` whose
`content` is a list of parts `{"type": "text" | "reasoning" | "tool_call", "value": ...}`, a
`tool_call` part's value the JSON text of `{"name", "arguments"}`, each call answered by a `tool`
turn of text parts, a `loss_weight` per message, and `tools` as the JSON text of OpenAI-style
function schemas. The content is invented: a public library's desk. 28 chats answer from
reasoning and text alone, 22 call tools (one call, parallel calls, two rounds, a call beside
text), as in the demo, where 22 of 50 lines call tools.

Usage: python tests/data/shapes/make_llamafactory_v1.py
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

OUT = Path(__file__).with_name("llamafactory_v1_tools.jsonl")
SYSTEM = (
    "You are the desk assistant of the Harwick Public Library. Reason before you answer and call "
    "a tool whenever a question needs the catalogue, a loan record, opening hours or a room."
)


def _tool(name: str, description: str, **params: str) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": description,
            "parameters": {
                "type": "object",
                "properties": {k: {"type": "string", "description": v} for k, v in params.items()},
                "required": list(params),
            },
        },
    }


TOOLS = json.dumps(
    [
        _tool("catalogue_search", "Copies of a title and where they are", title="the title"),
        _tool("loan_status", "A card's loan of one item", card="card number", item="item id"),
        _tool("opening_hours", "A branch's hours on a day", branch="branch", day="YYYY-MM-DD"),
        _tool("book_room", "Book a study room", room="room", day="YYYY-MM-DD", slot="HH:MM-HH:MM"),
    ]
)

# (question, reasoning, answer): answered without a tool
PLAIN = [
    (
        "How long is a standard loan?",
        "Loan length is policy, not live data.",
        "Three weeks, renewable twice online.",
    ),
    (
        "Can I renew a loan by phone?",
        "Renewal channels are policy.",
        "Yes, at 0340 118 2200 during opening hours.",
    ),
    (
        "What does a lost card cost?",
        "Replacement fee is in the fee table.",
        "A replacement card costs 2.50.",
    ),
    (
        "Do children need their own card?",
        "Card rules for minors are policy.",
        "Yes; a parent signs for children under 12.",
    ),
    (
        "How many items can I borrow at once?",
        "The limit is fixed per card.",
        "Up to fifteen items on one adult card.",
    ),
    (
        "Are audiobooks free to borrow?",
        "Audiobook lending terms are policy.",
        "Yes, audiobooks are free, like books.",
    ),
    (
        "Can I return books at any branch?",
        "Returns policy covers all branches.",
        "Yes, any Harwick branch takes returns.",
    ),
    (
        "Is there a fine for late DVDs?",
        "Late fees are in the fee table.",
        "DVDs cost 0.30 a day late, at most 6.00.",
    ),
    (
        "Do you lend e-readers?",
        "Device lending is a standing service.",
        "Yes, for four weeks with an adult card.",
    ),
    (
        "Can visitors use the computers?",
        "Computer access rules are policy.",
        "Visitors get one free hour a day with ID.",
    ),
    (
        "Is printing possible?",
        "Printing is a standing service.",
        "Yes, 0.10 a page in black and white.",
    ),
    (
        "Can I suggest a book to buy?",
        "Purchase suggestions have a form.",
        "Yes, use the suggestion form at any desk.",
    ),
    (
        "Does the library offer scanning?",
        "Scanning is a standing service.",
        "Yes, scanning to e-mail is free.",
    ),
    (
        "Are there quiet study areas?",
        "Each branch has a quiet floor.",
        "Yes, the second floor of every branch is silent.",
    ),
    (
        "Can I bring food inside?",
        "House rules cover food.",
        "Covered drinks only; food stays in the cafe.",
    ),
    (
        "Do you have local history archives?",
        "The archive is at the central branch.",
        "Yes, the Mill Street branch keeps them.",
    ),
    (
        "Is there free wifi?",
        "Wifi is available everywhere.",
        "Yes, network HarwickLib, no password.",
    ),
    (
        "Can I pay fines online?",
        "Payment channels are policy.",
        "Yes, with a card in your online account.",
    ),
    (
        "What ID do I need to join?",
        "Joining rules name the documents.",
        "Photo ID and proof of a Harwick address.",
    ),
    (
        "Are reservations charged?",
        "Reservation fees are in the fee table.",
        "Reserving a book costs nothing.",
    ),
    (
        "How do I reset my PIN?",
        "PIN resets go through the account page.",
        "Use 'Forgot PIN' on the account page.",
    ),
    (
        "Is there a book club?",
        "Clubs are listed in the events guide.",
        "Yes, on the first Thursday of each month.",
    ),
    (
        "Do you run coding classes?",
        "Classes are listed in the events guide.",
        "Yes, for ages 10 to 14 on Saturdays.",
    ),
    (
        "Can I borrow board games?",
        "Game lending is a standing service.",
        "Yes, for two weeks, one game at a time.",
    ),
    (
        "Are there lockers?",
        "Lockers are at the central branch.",
        "Yes, free lockers by the Mill Street entrance.",
    ),
    (
        "Can I donate books?",
        "Donations have rules.",
        "Yes, up to ten books in good condition at a time.",
    ),
    (
        "Is the building step-free?",
        "Access is described in the visitor guide.",
        "Yes, every branch has step-free access.",
    ),
    (
        "Do you lend laptops?",
        "Laptop lending is in-building only.",
        "Yes, for use inside the library for three hours.",
    ),
]

# (question, [round of calls: [(name, arguments, result)]], final answer, text beside the first call)
TOOLED: list[tuple[str, list[list[tuple[str, dict[str, str], str]]], str, str]] = [
    (
        "Is 'The Salt Road' on the shelf?",
        [
            [
                (
                    "catalogue_search",
                    {"title": "The Salt Road"},
                    '{"copies": 2, "on_shelf": 1, "shelf": "F SAL"}',
                )
            ]
        ],
        "One copy is on the shelf at F SAL.",
        "",
    ),
    (
        "Where can I find 'Winter Orchard'?",
        [
            [
                (
                    "catalogue_search",
                    {"title": "Winter Orchard"},
                    '{"copies": 1, "on_shelf": 0, "due": "2034-03-02"}',
                )
            ]
        ],
        "Its only copy is out until 2 March 2034.",
        "",
    ),
    (
        "Do you have 'Tidewater Maps'?",
        [[("catalogue_search", {"title": "Tidewater Maps"}, '{"copies": 0}')]],
        "No, the library has no copy of it.",
        "",
    ),
    (
        "When is my copy of 'Lantern Hill' due? Card 40021, item 88-173.",
        [
            [
                (
                    "loan_status",
                    {"card": "40021", "item": "88-173"},
                    '{"due": "2034-02-14", "renewals_left": 1}',
                )
            ]
        ],
        "It is due on 14 February 2034; you can renew it once more.",
        "",
    ),
    (
        "Can I renew item 88-190 on card 40021?",
        [
            [
                (
                    "loan_status",
                    {"card": "40021", "item": "88-190"},
                    '{"due": "2034-02-20", "renewals_left": 0}',
                )
            ]
        ],
        "No renewals are left; please return it by 20 February 2034.",
        "",
    ),
    (
        "Is Mill Street open on 2034-02-18?",
        [
            [
                (
                    "opening_hours",
                    {"branch": "Mill Street", "day": "2034-02-18"},
                    '{"open": "09:00", "close": "17:00"}',
                )
            ]
        ],
        "Yes, from 09:00 to 17:00.",
        "",
    ),
    (
        "Is the Eastgate branch open on 2034-02-19?",
        [[("opening_hours", {"branch": "Eastgate", "day": "2034-02-19"}, '{"closed": true}')]],
        "No, Eastgate is closed that day.",
        "",
    ),
    (
        "Book study room 3 on 2034-02-21 from 10:00 to 12:00.",
        [
            [
                (
                    "book_room",
                    {"room": "3", "day": "2034-02-21", "slot": "10:00-12:00"},
                    '{"booked": true, "ref": "R3-5521"}',
                )
            ]
        ],
        "Booked: room 3 on 21 February 2034, 10:00-12:00, reference R3-5521.",
        "",
    ),
    (
        "Can I have room 5 on 2034-02-22, 14:00-15:00?",
        [
            [
                (
                    "book_room",
                    {"room": "5", "day": "2034-02-22", "slot": "14:00-15:00"},
                    '{"booked": false, "next_free": "15:00"}',
                )
            ]
        ],
        "Room 5 is taken then; it is free from 15:00.",
        "",
    ),
    (
        "Is 'Copper Sky' available?",
        [
            [
                (
                    "catalogue_search",
                    {"title": "Copper Sky"},
                    '{"copies": 3, "on_shelf": 3, "shelf": "SF COP"}',
                )
            ]
        ],
        "All three copies are on the shelf at SF COP.",
        "",
    ),
    (
        "What are the hours at Riverside on 2034-02-25?",
        [
            [
                (
                    "opening_hours",
                    {"branch": "Riverside", "day": "2034-02-25"},
                    '{"open": "10:00", "close": "14:00"}',
                )
            ]
        ],
        "Riverside opens 10:00 to 14:00 that Saturday.",
        "",
    ),
    (
        "Is item 91-004 on card 51870 overdue?",
        [
            [
                (
                    "loan_status",
                    {"card": "51870", "item": "91-004"},
                    '{"due": "2034-01-30", "overdue_days": 5}',
                )
            ]
        ],
        "Yes, it is five days overdue since 30 January 2034.",
        "",
    ),
    (
        "Are 'Harbour Lights' and 'Dune Sea' both in?",
        [
            [
                (
                    "catalogue_search",
                    {"title": "Harbour Lights"},
                    '{"copies": 1, "on_shelf": 1, "shelf": "F HAR"}',
                ),
                ("catalogue_search", {"title": "Dune Sea"}, '{"copies": 2, "on_shelf": 0}'),
            ]
        ],
        "'Harbour Lights' is in at F HAR; both copies of 'Dune Sea' are out.",
        "",
    ),
    (
        "Compare Mill Street and Eastgate hours on 2034-02-20.",
        [
            [
                (
                    "opening_hours",
                    {"branch": "Mill Street", "day": "2034-02-20"},
                    '{"open": "09:00", "close": "20:00"}',
                ),
                (
                    "opening_hours",
                    {"branch": "Eastgate", "day": "2034-02-20"},
                    '{"open": "09:00", "close": "17:00"}',
                ),
            ]
        ],
        "Mill Street stays open until 20:00, Eastgate until 17:00.",
        "",
    ),
    (
        "Check items 88-173 and 88-190 on card 40021.",
        [
            [
                ("loan_status", {"card": "40021", "item": "88-173"}, '{"due": "2034-02-14"}'),
                ("loan_status", {"card": "40021", "item": "88-190"}, '{"due": "2034-02-20"}'),
            ]
        ],
        "88-173 is due 14 February, 88-190 on 20 February 2034.",
        "",
    ),
    (
        "Are rooms 1 and 2 free on 2034-02-23, 09:00-10:00? Book both.",
        [
            [
                (
                    "book_room",
                    {"room": "1", "day": "2034-02-23", "slot": "09:00-10:00"},
                    '{"booked": true, "ref": "R1-7001"}',
                ),
                (
                    "book_room",
                    {"room": "2", "day": "2034-02-23", "slot": "09:00-10:00"},
                    '{"booked": true, "ref": "R2-7002"}',
                ),
            ]
        ],
        "Both booked: R1-7001 and R2-7002.",
        "",
    ),
    (
        "Do you hold 'Glass Rivers' and 'Iron Bell'?",
        [
            [
                ("catalogue_search", {"title": "Glass Rivers"}, '{"copies": 0}'),
                (
                    "catalogue_search",
                    {"title": "Iron Bell"},
                    '{"copies": 1, "on_shelf": 1, "shelf": "F IRO"}',
                ),
            ]
        ],
        "No copy of 'Glass Rivers'; 'Iron Bell' is in at F IRO.",
        "",
    ),
    (
        "If 'North Pier' is in, book room 4 on 2034-02-24 at 11:00-12:00 to read it.",
        [
            [
                (
                    "catalogue_search",
                    {"title": "North Pier"},
                    '{"copies": 1, "on_shelf": 1, "shelf": "REF NOR"}',
                )
            ],
            [
                (
                    "book_room",
                    {"room": "4", "day": "2034-02-24", "slot": "11:00-12:00"},
                    '{"booked": true, "ref": "R4-8100"}',
                )
            ],
        ],
        "'North Pier' is in (REF NOR) and room 4 is booked, reference R4-8100.",
        "",
    ),
    (
        "Is Riverside open on 2034-02-26? If so, book room 6 there at 13:00-14:00.",
        [
            [
                (
                    "opening_hours",
                    {"branch": "Riverside", "day": "2034-02-26"},
                    '{"open": "12:00", "close": "16:00"}',
                )
            ],
            [
                (
                    "book_room",
                    {"room": "6", "day": "2034-02-26", "slot": "13:00-14:00"},
                    '{"booked": true, "ref": "R6-8230"}',
                )
            ],
        ],
        "Riverside is open 12:00-16:00; room 6 is booked, reference R6-8230.",
        "",
    ),
    (
        "Renew 91-120 on card 51870 if it is not overdue, else tell me the fine.",
        [
            [("loan_status", {"card": "51870", "item": "91-120"}, '{"overdue_days": 3}')],
            [("loan_status", {"card": "51870", "item": "91-120-fine"}, '{"fine": "0.90"}')],
        ],
        "It is three days overdue, so it cannot be renewed; the fine is 0.90.",
        "",
    ),
    (
        "Look up 'Saltmarsh Diaries' for me.",
        [
            [
                (
                    "catalogue_search",
                    {"title": "Saltmarsh Diaries"},
                    '{"copies": 2, "on_shelf": 2, "shelf": "NF 942 SAL"}',
                )
            ]
        ],
        "Both copies are in, at NF 942 SAL.",
        "Let me check the catalogue.",
    ),
    (
        "What time does Mill Street close on 2034-03-01?",
        [
            [
                (
                    "opening_hours",
                    {"branch": "Mill Street", "day": "2034-03-01"},
                    '{"open": "09:00", "close": "13:00"}',
                )
            ]
        ],
        "It closes at 13:00 that day.",
        "One moment, I will look at the timetable.",
    ),
]


def _text(value: str) -> list[dict[str, str]]:
    return [{"type": "text", "value": value}]


def _plain(question: str, reasoning: str, answer: str) -> dict[str, Any]:
    return {
        "messages": [
            {"role": "system", "content": _text(SYSTEM), "loss_weight": 0.0},
            {"role": "user", "content": _text(question), "loss_weight": 0.0},
            {
                "role": "assistant",
                "content": [{"type": "reasoning", "value": reasoning}, *_text(answer)],
                "loss_weight": 1.0,
            },
        ],
        "tools": TOOLS,
    }


def _tooled(
    question: str,
    rounds: list[list[tuple[str, dict[str, str], str]]],
    answer: str,
    beside: str,
) -> dict[str, Any]:
    messages = [
        {"role": "system", "content": _text(SYSTEM), "loss_weight": 0.0},
        {"role": "user", "content": _text(question), "loss_weight": 0.0},
    ]
    for n, calls in enumerate(rounds):
        names = " and ".join(name for name, _, _ in calls)
        parts = [{"type": "reasoning", "value": f"This needs live data: call {names}."}]
        if beside and n == 0:
            parts.append({"type": "text", "value": beside})
        parts += [
            {"type": "tool_call", "value": json.dumps({"name": name, "arguments": args})}
            for name, args, _ in calls
        ]
        messages.append({"role": "assistant", "content": parts, "loss_weight": 1.0})
        messages += [
            {"role": "tool", "content": _text(result), "loss_weight": 0.0} for *_, result in calls
        ]
    final = [{"type": "reasoning", "value": "The tool results answer the question."}]
    messages.append({"role": "assistant", "content": final + _text(answer), "loss_weight": 1.0})
    return {"messages": messages, "tools": TOOLS}


def lines() -> list[dict[str, Any]]:
    """The 50 chats, tool chats spread among the plain ones as a mixed demo file has them."""
    plain = [_plain(*row) for row in PLAIN]
    tooled = [_tooled(*row) for row in TOOLED]
    out: list[dict[str, Any]] = []
    while plain or tooled:
        for source, take in ((plain, 4), (tooled, 3)):
            out += [source.pop(0) for _ in range(min(take, len(source)))]
    return out


if __name__ == "__main__":
    rows = lines()
    assert len(rows) == 50
    OUT.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    print(f"wrote {len(rows)} lines to {OUT}")
