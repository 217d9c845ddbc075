"""The catalogue of the reader's numbered error screens (reception/error_screens.py):
every end of a check-in has its screen, numbers are unique, every screen speaks to the
patient in both languages and tells staff what to do; the cards that are not My Number
cards answer as they should (reader/virtual/other_cards.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from reader.aids import JPKI_AID
from reader.errors import CardUnresponsive, NotAMyNumberCard
from reader.jpki import JpkiClient, TokenKind
from reader.transport import CardChannel
from reader.virtual.loopback import LoopbackTransport
from reader.virtual.other_cards import (
    OtherCard,
    OtherCardError,
    OtherKind,
    is_other_card,
    load_other_card,
    write_other_card,
)
from reception.card_checks import JukiCard, identify
from reception.checkin import CheckinRequest, FixedInteraction
from reception.error_screens import (
    BY_CODE,
    CATALOGUE,
    CERTIFICATE,
    JUKI_CARD,
    NOT_CONFIRMED,
    NOT_MY_NUMBER_CARD,
    REMOVED,
    UNREADABLE,
    Cause,
    Source,
    cause_of,
    screen_for,
    screen_in,
    with_number,
)
from reception.flow import FINAL_STATES, Method, State
from reception.questions import ShowErrorScreen
from reception.reasons import FallbackReason


def test_numbers_are_unique_and_ours_are_marked() -> None:
    codes = [s.code for s in CATALOGUE]
    assert len(codes) == len(set(codes)) == len(BY_CODE)
    for screen in CATALOGUE:
        # the vendors' numbers are three digits; ours carry the letter S (never theirs)
        assert (screen.source is Source.OWN) == screen.code.startswith("S"), screen
        assert screen.number == f"【{screen.code}】"
    assert {s.code for s in CATALOGUE if s.source is Source.VENDOR} == {"001", "002", "006"}


def test_every_screen_speaks_both_languages_and_tells_staff_what_to_do() -> None:
    for screen in CATALOGUE:
        for text in (screen.title_ja, screen.patient_ja, screen.staff_ja):
            assert text and any(ord(c) > 0x3000 for c in text), screen.code
        for text in (screen.title_en, screen.patient_en):
            assert text and text.isascii(), screen.code
        # staff's English keeps the terms of art (資格確認書, お知らせ) as they are printed
        assert screen.staff_en[:1].isascii() and screen.staff_en[:1].isalpha(), screen.code
        assert screen.staff_line().startswith(screen.number)
        assert screen.staff_line("en").startswith(f"({screen.code}) ")


def test_every_end_but_confirmed_has_a_screen() -> None:
    for state in FINAL_STATES - {State.CONFIRMED}:
        assert screen_for(state) is not None, state
    assert screen_for(State.CONFIRMED) is None
    assert screen_for(State.PIN_WRONG) is None  # stopped there on purpose: no end screen


def test_the_vendor_numbers_of_the_issue() -> None:
    assert screen_for(State.CARD_UNREADABLE) is UNREADABLE
    assert screen_for(State.CARD_UNREADABLE, cause=Cause.DEFECT) is UNREADABLE
    assert screen_for(State.CARD_UNREADABLE, cause=Cause.NOT_MY_NUMBER_CARD) is NOT_MY_NUMBER_CARD
    assert (UNREADABLE.code, NOT_MY_NUMBER_CARD.code) == ("001", "002")
    assert screen_for(State.CARD_UNREADABLE, cause=Cause.JUKI_CARD) is JUKI_CARD
    for reason in (FallbackReason.CERTIFICATE_REVOKED, FallbackReason.CERTIFICATE_LAPSED):
        assert screen_for(State.FALLBACK, reason) is CERTIFICATE
    assert CERTIFICATE.code == "006"
    assert screen_for(State.FALLBACK, FallbackReason.NO_MATCH) is NOT_CONFIRMED
    assert screen_for(State.CARD_REMOVED) is REMOVED


def test_causes_of_card_errors() -> None:
    assert cause_of(NotAMyNumberCard("6A82")) is Cause.NOT_MY_NUMBER_CARD
    assert cause_of(JukiCard("old")) is Cause.JUKI_CARD
    assert cause_of(CardUnresponsive("silent")) is Cause.DEFECT
    assert cause_of(RuntimeError("a bug")) is None


def test_the_reason_carries_the_number_once() -> None:
    reason = with_number(NOT_MY_NUMBER_CARD, "カードを読み取れません")
    assert reason == "【002】 カードを読み取れません"
    assert with_number(NOT_MY_NUMBER_CARD, reason) == reason
    assert with_number(None, "x") == "x"
    assert screen_in(reason) is NOT_MY_NUMBER_CARD
    assert screen_in("【999】 unknown") is None
    assert screen_in(None) is None


def test_headless_answers_close_the_screen_at_once() -> None:
    interaction = FixedInteraction(CheckinRequest(Method.PIN))
    assert interaction.answer(ShowErrorScreen(UNREADABLE)) is True


@pytest.mark.parametrize("kind", [OtherKind.TRANSIT, OtherKind.CREDIT])
def test_a_card_without_the_jpki_ap_is_not_a_my_number_card(kind: OtherKind) -> None:
    card = OtherCard(kind)
    jpki = JpkiClient(CardChannel(LoopbackTransport(card)))
    with pytest.raises(NotAMyNumberCard):
        jpki.select()
    assert card.commands[0][5:15] == JPKI_AID  # SELECT by the JPKI AID, answered 6A82
    assert card.process(bytes.fromhex("00A4040C0A") + JPKI_AID)[-2:] == b"\x6a\x82"


def test_the_atrs_are_pcsc_part3_and_the_lists() -> None:
    assert OtherKind.TRANSIT.atr.hex().upper().startswith("3B8F8001804F0CA000000306")
    assert OtherKind.CREDIT.atr.hex().upper().startswith("3B8E80018031")
    assert OtherKind.JUKI.atr == bytes.fromhex("3BE000FF8131FE4514")


def test_a_juki_card_says_jpkiapicctoken_and_is_refused_as_such() -> None:
    card = OtherCard(OtherKind.JUKI)
    jpki = JpkiClient(CardChannel(LoopbackTransport(card)))
    with jpki.channel.transaction():
        jpki.select()
        token = jpki.token_info()
    assert token.label == "JPKIAPICCTOKEN" and token.kind is TokenKind.JUKI_CARD
    with pytest.raises(JukiCard):
        identify(jpki)


def test_card_files(tmp_path: Path) -> None:
    path = tmp_path / "transit.json"
    write_other_card(path, OtherKind.TRANSIT)
    assert is_other_card(path)
    assert load_other_card(path).kind is OtherKind.TRANSIT
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "myna-sim/other-card/1", "kind": "library"}')
    with pytest.raises(OtherCardError, match="unknown kind 'library'"):
        load_other_card(bad)
    garbage = tmp_path / "garbage.json"
    garbage.write_text("not json")
    assert not is_other_card(garbage)
    with pytest.raises(OtherCardError, match="unreadable"):
        load_other_card(garbage)
