"""A status that follows what staff did (issue 22 §2) and the ladder's guard (§1): each
rung that settles a visit gives the reception its status in the store, in the same
transaction as the rung; a settled reception, or a 申立書 of another patient, is refused
before anything is written (or sent)."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path
from typing import Any, cast

import pytest

from reception.declaration import LadderStep, SelfDeclaration
from reception.errors import InputError
from reception.ladder import (
    LadderRefused,
    confirm_by_number,
    file_declaration,
    record_no_card,
    record_rung,
)
from reception.oqs_client import NumberQuery, OqsClient
from reception.present import reception_row
from reception.results import QualificationResult
from reception.store import ReceptionSettled, ReceptionStatus, Store
from tests.support.forms import valid


def a_result(name: str, validity: str = "1") -> QualificationResult:
    return QualificationResult.parse(
        {
            "MessageHeader": {
                "ProcessExecutionTime": "20261124093000",
                "SegmentOfResult": "1",
                "ReferenceClassification": "2",
            },
            "MessageBody": {
                "ProcessingResultStatus": "1",
                "QualificationValidity": validity,
                "ResultList": {
                    "ResultOfQualificationConfirmation": [
                        # under 70: its お知らせ has no 有効期限 (reception/ladder_rules.py)
                        {
                            "Name": name,
                            "InsuredPartialContributionRatio": "030",
                            "Birthdate": "19900402",
                        }
                    ]
                },
            },
        }
    )


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / "reception.sqlite")


def waiting(store: Store, name: str | None = "高橋 陽菜", *, status: str = "fallback") -> str:
    """A reception the card route did not settle (its patient named by a result)."""
    rid = store.begin_reception()
    result = a_result(name, validity="2") if name else None
    store.finish_reception(rid, status=status, reason="該当資格なし", result=result)
    return rid


def actions(store: Store, rid: str) -> list[str]:
    return [entry["action"] for entry in store.audit_trail(rid)]


@pytest.mark.parametrize("step", [LadderStep.NOTICE, LadderStep.PORTAL])
def test_the_notice_seen_confirms_the_reception_and_the_list_says_so(
    store: Store, step: LadderStep
) -> None:
    rid = waiting(store)
    settled = record_rung(store, rid, step, f"{step.value} 協会けんぽ ３割")
    reception = store.reception(rid)
    assert settled == reception.status == ReceptionStatus.CONFIRMED_NOTICE
    assert reception.reason == "該当資格なし"  # why the card did not: kept
    assert reception_row(store, reception)[3] == "確認済（お知らせ）"
    assert actions(store, rid)[-2:] == ["ladder-step", "reception-confirmed-notice"]


def test_a_notice_without_the_share_seen_is_asked_for_it(store: Store) -> None:
    rid = waiting(store)
    with pytest.raises(InputError, match="負担割合"):
        record_rung(store, rid, LadderStep.NOTICE, "お知らせを確認した")
    assert store.reception(rid).status == "fallback" and store.steps_of(rid) == []


def test_a_document_noted_by_hand_settles_nothing(store: Store) -> None:
    rid = waiting(store, status="pending")
    assert record_rung(store, rid, LadderStep.CERTIFICATE, "資格確認書を見た") is None
    assert store.reception(rid).status == "pending"


def test_a_settled_reception_takes_no_more_rungs(store: Store, tmp_path: Path) -> None:
    rid = waiting(store)
    record_rung(store, rid, LadderStep.PORTAL, "マイナポータル 3割")
    steps, trail = store.steps_of(rid), store.audit_trail(rid)
    with pytest.raises(LadderRefused, match="確認済（お知らせ）"):
        record_rung(store, rid, LadderStep.NOTICE, "お知らせ 3割")
    with pytest.raises(LadderRefused, match="既に"):
        record_no_card(store, rid)
    form = SelfDeclaration.parse(valid(name="高橋 陽菜"))
    with pytest.raises(LadderRefused):
        file_declaration(store, form, tmp_path / "pdf", reception_id=rid)
    assert store.steps_of(rid) == steps and store.audit_trail(rid) == trail
    assert store.declarations() == [] and not list((tmp_path / "pdf").glob("*"))
    assert store.reception(rid).status == "confirmed-notice"


def test_a_declaration_settles_its_reception_as_declared(store: Store, tmp_path: Path) -> None:
    rid = waiting(store)
    form = SelfDeclaration.parse(valid(name="高橋\u3000陽菜"))  # the same name, any space
    filed = file_declaration(store, form, tmp_path, reception_id=rid)
    assert store.reception(rid).status == ReceptionStatus.DECLARED
    assert [d.declaration_id for d in store.pending()] == [filed.declaration_id]
    assert actions(store, rid)[-2:] == ["declaration", "reception-declared"]


def test_a_declaration_of_another_patient_is_not_attached(store: Store, tmp_path: Path) -> None:
    """Issue 22 §1: 高橋 陽菜's 申立書 saved on 伊藤 美咲's reception, without a word."""
    rid = waiting(store, "伊藤 美咲")
    form = SelfDeclaration.parse(valid(name="高橋 陽菜"))
    with pytest.raises(LadderRefused, match=r"高橋 陽菜.*伊藤 美咲"):
        file_declaration(store, form, tmp_path, reception_id=rid)
    assert store.declarations() == [] and store.reception(rid).status == "fallback"
    assert not list(tmp_path.glob("*.pdf"))
    # without a reception it is filed on its own
    file_declaration(store, form, tmp_path)
    assert [d.reception_id for d in store.declarations()] == [None]


def test_no_card_on_a_waiting_reception_is_self_pay(store: Store) -> None:
    rid = waiting(store)
    assert record_no_card(store, rid) == rid
    reception = store.reception(rid)
    assert reception.status == "self-pay" and reception.fallback_reason == "no-card"


class NumberService:
    """The service's answer to a query by number; the queries it was sent."""

    def __init__(self, result: QualificationResult) -> None:
        self.result = result
        self.sent: list[NumberQuery] = []

    async def confirm_number(self, query: NumberQuery) -> QualificationResult:
        self.sent.append(query)
        return self.result


QUERY = NumberQuery(
    insurer_number="01130012", symbol="1", number="2", birth_date=dt.date(1990, 5, 17)
)


def ask(store: Store, service: NumberService, **kwargs: Any) -> Any:
    client = cast(OqsClient, service)
    return asyncio.run(confirm_by_number(client, store, QUERY, **kwargs))


def test_a_certificate_accepted_by_number_confirms_the_reception(store: Store) -> None:
    rid = waiting(store)
    answer = ask(store, NumberService(a_result("高橋 陽菜")), reception_id=rid)
    reception = store.reception(rid)
    assert answer.accepted and reception.status == ReceptionStatus.CONFIRMED_CERTIFICATE
    assert store.results_of(rid)[-1].confirmed
    assert reception_row(store, reception)[3] == "確認済（資格確認書）"


def test_a_certificate_not_accepted_leaves_the_reception_waiting(store: Store) -> None:
    rid = waiting(store)
    answer = ask(store, NumberService(a_result("高橋 陽菜", validity="2")), reception_id=rid)
    assert not answer.accepted and store.reception(rid).status == "fallback"


def test_a_new_reception_by_number_ends_confirmed_by_the_certificate(store: Store) -> None:
    answer = ask(store, NumberService(a_result("高橋 陽菜")))
    reception = store.reception(answer.reception_id)
    assert reception.status == "confirmed-certificate" and reception.method == "number"


def test_a_settled_reception_is_not_queried(store: Store) -> None:
    rid = waiting(store)
    record_no_card(store, rid)
    service = NumberService(a_result("高橋 陽菜"))
    with pytest.raises(LadderRefused, match="10割"):
        ask(store, service, reception_id=rid)
    assert service.sent == [] and store.reception(rid).status == "self-pay"


def test_the_store_settles_a_reception_once(store: Store, tmp_path: Path) -> None:
    """Under its write lock: another terminal's store, or a check-in still running."""
    rid = waiting(store)
    other = Store(store.path)
    other.record_step(rid, LadderStep.NOTICE, "3割", settles=ReceptionStatus.CONFIRMED_NOTICE)
    with pytest.raises(ReceptionSettled):
        store.record_step(rid, LadderStep.PORTAL, "3割", settles=ReceptionStatus.CONFIRMED_NOTICE)
    assert store.steps_of(rid) == [("資格情報のお知らせ", "3割")]
    running = store.begin_reception()
    with pytest.raises(ReceptionSettled, match="in-progress"):
        store.add_declaration(SelfDeclaration.parse(valid()), reception_id=running, settles=True)
    assert store.declarations() == [] and store.reception(running).status == "in-progress"


def test_a_reception_still_being_read_takes_no_rung(store: Store) -> None:
    running = store.begin_reception()
    service = NumberService(a_result("高橋 陽菜"))
    with pytest.raises(LadderRefused, match="読み取り中"):
        ask(store, service, reception_id=running)
    with pytest.raises(LadderRefused, match="読み取り中"):
        record_rung(store, running, LadderStep.CERTIFICATE, "資格確認書を見た")
    assert service.sent == [] and store.steps_of(running) == []
