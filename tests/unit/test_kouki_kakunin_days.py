"""The day rules of the 資格確認書 (issue 24 §2): the 8/1 → 7/31 year, the 後期 暫定運用
until 2026-07-31, the one of a cancelled registration; and the terminal's check of its
有効期限 on the rules' day."""

from __future__ import annotations

import dataclasses
import datetime as dt
import sqlite3

import pytest

from mock_oqs import deregistration, kakunin
from mock_oqs.persona_days import Held
from mock_oqs.personas import KOKI, KOKUHO
from mock_oqs.results import Body, Header, Message
from reception import kakunin as terminal
from reception.results import QualificationResult

D = dt.date


LONG_AGO = D(2020, 4, 1)


def koki(qualified: D = LONG_AGO, lost: D | None = None) -> Held:
    return Held(KOKI, "1", qualified, qualified, disqualification_date=lost, ratio_percent=10)


@pytest.mark.parametrize(
    ("day", "year"),
    [
        (D(2026, 7, 31), (D(2025, 8, 1), D(2026, 7, 31))),
        (D(2026, 8, 1), (D(2026, 8, 1), D(2027, 7, 31))),
        (D(2026, 1, 1), (D(2025, 8, 1), D(2026, 7, 31))),
        (D(2026, 12, 31), (D(2026, 8, 1), D(2027, 7, 31))),
    ],
)
def test_the_card_year_runs_from_august_1_to_july_31(day: D, year: tuple[D, D]) -> None:
    assert kakunin.card_year(day) == year


@pytest.mark.parametrize(
    ("day", "registered", "holds"),
    [
        (D(2026, 7, 31), True, True),  # the 暫定運用's last day: everyone
        (D(2026, 8, 1), True, False),  # from 8/1: not with a マイナ保険証
        (D(2026, 8, 1), False, True),
        (D(2025, 8, 1), True, True),  # the first year of the 後期 資格確認書
        (D(2025, 7, 31), False, False),  # the 被保険者証 still ran
    ],
)
def test_who_holds_one_on_the_edges(day: D, registered: bool, holds: bool) -> None:
    assert kakunin.koki_holds(day, registered=registered) is holds


def test_a_koki_member_on_july_31_and_august_1() -> None:
    july = kakunin.held_card(koki(), D(2026, 7, 31), "linked")
    assert (july.issued_on, july.expires_on) == (D(2025, 8, 1), D(2026, 7, 31))
    august = kakunin.held_card(koki(), D(2026, 8, 1), "linked")
    assert (august.issued_on, august.expires_on) == (None, None)
    for certificate in ("none", "deregistered"):
        held = kakunin.held_card(koki(), D(2026, 8, 1), certificate)
        assert (held.issued_on, held.expires_on) == (D(2026, 8, 1), D(2027, 7, 31))


def test_joined_in_the_year_lost_or_not_yet_or_another_insurer() -> None:
    joined = kakunin.held_card(koki(D(2025, 10, 10)), D(2026, 7, 31), "linked")
    assert joined.issued_on == D(2025, 10, 10) and joined.expires_on == D(2026, 7, 31)
    planned = koki(D(2027, 3, 1))  # the 75th birthday still ahead
    assert kakunin.held_card(planned, D(2026, 7, 31), "linked") == planned
    lost = koki(lost=D(2026, 5, 1))
    assert kakunin.held_card(lost, D(2026, 7, 31), "linked") == lost
    other = dataclasses.replace(koki(), insurer_number=KOKUHO)
    assert kakunin.held_card(other, D(2026, 7, 31), "none") == other
    stated = dataclasses.replace(koki(), expires_on=D(2026, 9, 30))  # the persona's own
    assert kakunin.held_card(stated, D(2026, 7, 31), "linked") == stated


def test_the_document_of_a_cancelled_registration() -> None:
    held = Held(KOKUHO, "1", D(2018, 4, 1), D(2018, 4, 1))
    # cancelled 120 days before 2026-07-31: issued then, ends on the 7/31
    july = kakunin.seeded(held, D(2026, 7, 31), "deregistered")
    assert (july.issued_on, july.expires_on) == (D(2026, 4, 2), D(2026, 7, 31))
    august = kakunin.seeded(held, D(2026, 8, 1), "deregistered")  # renewed on 8/1
    assert (august.issued_on, august.expires_on) == (D(2026, 8, 1), D(2027, 7, 31))
    assert kakunin.seeded(held, D(2026, 8, 1), "linked") == held


def _answer(code: str, text: str) -> Message:
    header = Header.at(dt.datetime(2026, 8, 1, 9, tzinfo=dt.UTC), "1312345678", "1", None)
    body = Body(
        processing_result_status="2",
        processing_result_code=code,
        processing_result_message=text,
        qualification_validity=None,
    )
    return Message(header, body)


def test_the_answer_of_a_cancelled_registration() -> None:
    conn = sqlite3.connect(":memory:")
    assert deregistration.cancelled_on(conn, "P1") is None  # an older world: no table
    plain = _answer("MOCK-R003", deregistration.NOT_REGISTERED)
    assert deregistration.explained(plain, conn, "P1") == plain
    deregistration.record(conn, "P1", D(2026, 4, 2))
    said = deregistration.explained(plain, conn, "P1")
    assert said.body.processing_result_message == (
        "保険証利用登録は2026/04/02に解除されています（利用登録解除済み・資格確認書を交付済み）"
    )
    assert said.notices == ("registration-cancelled",)
    revoked = _answer("MOCK-R001", "電子証明書は失効しています")
    assert deregistration.explained(revoked, conn, "P1") == revoked
    assert deregistration.explained(plain, conn, "P2") == plain


def _result(until: str | None, day: str) -> QualificationResult:
    entry: dict[str, object] = {"InsuredCardExpirationDate": until} if until else {}
    return QualificationResult.model_validate(
        {
            "MessageHeader": {
                "QualificationConfirmationDate": day,
                "ProcessExecutionTime": f"{day}090000",
                "SegmentOfResult": "1",
            },
            "MessageBody": {
                "ProcessingResultStatus": "1",
                "QualificationValidity": "1",
                "ResultList": {"ResultOfQualificationConfirmation": [entry]},
            },
        }
    )


def test_the_terminal_checks_the_document_on_the_rules_day() -> None:
    result = _result("20260731", "20260731")
    assert terminal.expired_on(result, None) is None  # the service's day: its last
    assert terminal.expired_on(result, D(2026, 7, 31)) is None
    assert terminal.expired_on(result, D(2026, 8, 1)) == "20260731"
    assert terminal.expired_on(_result("20260731", "20260801"), None) == "20260731"
    assert terminal.expired_on(_result(None, "20270101"), D(2027, 1, 1)) is None
    assert terminal.refusal("20260731").startswith("資格確認書の有効期限切れ（2026/07/31）")


def test_the_line_staff_read() -> None:
    entry = _result("20270731", "20260801").entries[0]
    assert terminal.card_line(entry) == "資格確認書 有効期限 2027/07/31"
    issued = entry.model_copy(update={"insured_certificate_issuance_date": "20260801"})
    assert terminal.card_line(issued) == "資格確認書 交付 2026/08/01  有効期限 2027/07/31"
    assert terminal.card_line(_result(None, "20260801").entries[0]) is None
