"""The cards of a world that are not My Number cards (issue 24): what a patient puts on
the reader by mistake, each with the numbered screen it promises (reception/
error_screens.py: the reader's numbers 【002】, and this simulator's 【S01】).

``seed_world`` writes their card files (reader/virtual/other_cards.py) beside the
personas' and lists them in world.json as ``other_cards``; the demo places them like a
persona's card and ``reception checkin --world W --persona transit-card`` reads one.
They hold no person, no certificate and no PIN: the terminal stops before any of it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from reader.virtual.other_cards import OtherKind, write_other_card


@dataclass(frozen=True)
class OtherCardCase:
    id: str
    kind: OtherKind
    description: str
    screen: str  # the numbered screen the reader shows (without 【】)
    state: str  # the check-in's end (reception.flow.State's value)
    outcome: str  # the reception's status


OTHER_CARDS: tuple[OtherCardCase, ...] = (
    OtherCardCase(
        "transit-card",
        OtherKind.TRANSIT,
        "交通系ICカード（Suica など）を置いた: マイナンバーカード以外【002】",
        "002",
        "card-unreadable",
        "pending",
    ),
    OtherCardCase(
        "credit-card",
        OtherKind.CREDIT,
        "クレジットカード（非接触）を置いた: マイナンバーカード以外【002】",
        "002",
        "card-unreadable",
        "pending",
    ),
    OtherCardCase(
        "juki-card",
        OtherKind.JUKI,
        "古い住民基本台帳カードを置いた: 住基カードは使えない【S01】",
        "S01",
        "card-unreadable",
        "pending",
    ),
)


def seed_other_cards(out: Path) -> list[dict[str, Any]]:
    """Write the other cards' files into ``out/cards`` and return world.json's entries."""
    entries: list[dict[str, Any]] = []
    for case in OTHER_CARDS:
        card = Path("cards") / f"{case.id}.json"
        write_other_card(out / card, case.kind)
        entry = asdict(case)
        entry["kind"] = case.kind.value
        entry["card"] = str(card)
        entry["expect"] = {"screen": case.screen, "state": case.state, "outcome": case.outcome}
        for moved in ("screen", "state", "outcome"):
            del entry[moved]
        entries.append(entry)
    return entries
