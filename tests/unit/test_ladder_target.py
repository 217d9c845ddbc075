"""Whose reception a ladder action acts on: the patient named, a settled reception or a
different name refused (issue 22 §1)."""

from __future__ import annotations

from pathlib import Path

import pytest

from reception.results import QualificationResult
from reception.store import ReceptionStatus, Store
from reception.target import ladder_target, refusal, same_name
from tests.support.desk import result_named


def a_result(name: str) -> QualificationResult:
    return result_named(name, ratio="030")


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / "reception.sqlite")


def test_a_confirmed_reception_takes_no_rung_and_says_whose_it_is(store: Store) -> None:
    rid = store.begin_reception()
    store.finish_reception(rid, status=ReceptionStatus.CONFIRMED, result=a_result("伊藤 美咲"))
    target = ladder_target(store, rid)
    assert target.patient == "伊藤 美咲" and target.settled
    assert "伊藤 美咲" in target.heading() and "確認済" in target.heading()
    why = refusal(target, name="高橋 陽菜")
    assert why is not None and "既に「確認済」" in why and "伊藤 美咲" in why


@pytest.mark.parametrize(
    "status",
    [
        ReceptionStatus.CONFIRMED_NOTICE,
        ReceptionStatus.CONFIRMED_CERTIFICATE,
        ReceptionStatus.DECLARED,
        ReceptionStatus.SELF_PAY,
    ],
)
def test_every_settling_rung_settles(store: Store, status: ReceptionStatus) -> None:
    rid = store.begin_reception()
    store.finish_reception(rid, status=status)
    assert refusal(ladder_target(store, rid)) is not None


def test_a_pending_reception_takes_the_same_patient_not_another(store: Store) -> None:
    rid = store.begin_reception()
    store.finish_reception(rid, status=ReceptionStatus.PENDING, result=a_result("高橋 陽菜"))
    target = ladder_target(store, rid)
    assert not target.settled
    assert refusal(target, name="高橋　陽菜") is None
    assert refusal(target, name="高橋陽菜") is None
    why = refusal(target, name="伊藤 美咲")
    assert why is not None and "伊藤 美咲" in why and "高橋 陽菜" in why


def test_a_reception_with_no_name_takes_any_name(store: Store) -> None:
    rid = store.begin_reception()
    store.finish_reception(rid, status=ReceptionStatus.FALLBACK)
    target = ladder_target(store, rid)
    assert target.patient is None and "氏名不明" in target.heading()
    assert refusal(target, name="新井 健") is None


def test_names_compare_as_staff_read_them() -> None:
    assert same_name("ＡＢＣ　太郎", "abc 太郎")
    assert not same_name("高橋 陽菜", "高橋 陽奈")
