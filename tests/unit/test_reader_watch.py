"""The terminal's readers in its own words (reception/cards.py ReaderWatch): which of its
readers got or lost a card, which configured reader is missing — from what the PC/SC
monitor reports, fed here by hand (no pcscd: the monitor is not started)."""

from __future__ import annotations

from typing import Any

from reception.cards import PcscCards, ReaderWatch


def watch_of(**readers: PcscCards) -> tuple[ReaderWatch, list[tuple[Any, ...]]]:
    said: list[tuple[Any, ...]] = []
    watch = ReaderWatch(
        readers,
        on_card=lambda medium, present: said.append(("card", medium, present)),
        on_missing=lambda medium, name, missing: said.append(("missing", medium, name, missing)),
        on_trouble=lambda problem: said.append(("trouble", problem)),
    )
    return watch, said


def test_each_reader_is_its_own_medium_and_a_card_is_said_once() -> None:
    watch, said = watch_of(card=PcscCards("Card R"), phone=PcscCards("NFC R"))
    watch._listed(["Card R", "NFC R"])
    watch._changed("NFC R", True, b"\x3b")
    watch._changed("NFC R", True, b"\x3b")  # nothing new
    watch._changed("Card R", True, b"\x3b")
    watch._changed("Card R", False, b"")
    assert said == [("card", "phone", True), ("card", "card", True), ("card", "card", False)]
    assert watch.present("phone") and not watch.present("card")


def test_the_unnamed_reader_is_any_reader_no_other_names() -> None:
    watch, said = watch_of(card=PcscCards(None), phone=PcscCards("NFC R"))
    watch._listed(["USB R", "NFC R"])
    watch._changed("USB R", True, b"\x3b")
    watch._changed("NFC R", True, b"\x3b")
    assert said == [("card", "card", True), ("card", "phone", True)]


def test_a_missing_reader_is_said_and_so_is_its_return() -> None:
    watch, said = watch_of(card=PcscCards("Card R"), counter=PcscCards("Staff R"))
    watch._listed(["Card R"])
    watch._listed(["Card R", "Staff R"])
    assert said == [
        ("missing", "counter", "Staff R", True),
        ("missing", "counter", "Staff R", False),
    ]


def test_with_pcscd_gone_the_cards_are_gone_and_no_reader_is_called_missing() -> None:
    watch, said = watch_of(card=PcscCards("Card R"))
    watch._listed(["Card R"])
    watch._changed("Card R", True, b"\x3b")
    watch._troubled("pcscd stopped")
    watch._listed([])
    watch._listed(["Card R"])
    watch._troubled(None)
    assert said == [
        ("card", "card", True),
        ("trouble", "pcscd stopped"),
        ("card", "card", False),
        ("trouble", None),
    ]


def test_another_reader_chosen_is_watched_at_once() -> None:
    cards = PcscCards("Card R")
    watch, said = watch_of(card=cards)
    watch._listed(["Card R", "Other R"])
    watch._changed("Other R", True, b"\x3b")
    assert said == []
    cards.reader = "Other R"  # the developer view's choice
    assert said == [("card", "card", True)]
