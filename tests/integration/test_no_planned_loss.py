"""A 喪失日 is a past event (issue 20): across a whole world — every persona and a
thousand generated persons — and across the days around everyone's 75th birthday, no
有効 result carries ``DisqualificationDate`` or ``ReasonOfLoss``, and no result names a
loss that has not happened yet. The 75th birthday itself still moves the patient."""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mock_oqs.models import NumberConfirmationRequest
from mock_oqs.results import to_format
from mock_oqs.rules import late_elderly_from
from mock_oqs.service import Clock, QualificationService
from mock_oqs.world import World, seed_world
from tests.support.oqs import NO_LIMITS
from tests.support.stack import WORLD_TODAY

EXTRA_PERSONS = 1000


@pytest.fixture(scope="module")
def big_world(tmp_path_factory: pytest.TempPathFactory) -> World:
    out = tmp_path_factory.mktemp("big") / "w"
    return seed_world(out, seed=5, extra_persons=EXTRA_PERSONS, today=WORLD_TODAY)


def qualifications(world: World) -> Iterator[sqlite3.Row]:
    conn = sqlite3.connect(f"file:{world.registry_path}?mode=ro", uri=True)
    conn.row_factory = sqlite3.Row
    try:
        yield from conn.execute(
            "SELECT q.insurer_number, q.symbol, q.number, q.branch, p.birth_date "
            "FROM qualifications q JOIN persons p USING (person_id)"
        )
    finally:
        conn.close()


def answer(service: QualificationService, row: sqlite3.Row) -> dict[str, Any]:
    request = NumberConfirmationRequest(
        insurer_number=row["insurer_number"].strip(),
        symbol=row["symbol"],
        number=row["number"],
        branch=row["branch"],
        birth_date=row["birth_date"].replace("-", ""),
    )
    message = to_format(service.confirm_number(request, "1310000001"))
    body: dict[str, Any] = message["MessageBody"]
    return body


def check(body: dict[str, Any], today: dt.date) -> None:
    entries = (body.get("ResultList") or {}).get("ResultOfQualificationConfirmation") or []
    for entry in entries:
        lost = entry.get("DisqualificationDate")
        if body["QualificationValidity"] == "1":
            assert lost is None and entry.get("ReasonOfLoss") is None, entry
        if lost is not None:  # only a loss that happened, with its reason
            assert lost <= today.strftime("%Y%m%d"), (lost, today)
            assert entry.get("ReasonOfLoss"), entry


def service_on(world: World, today: dt.date, tmp_path: Path) -> QualificationService:
    return QualificationService(
        world,
        clock=Clock(today),
        state_path=tmp_path / f"state-{today}.sqlite",
        limits=NO_LIMITS,
    )


@pytest.mark.parametrize("years", [0, 1, 5, 30])
def test_no_valid_result_names_a_loss_anywhere_in_the_world(
    big_world: World, tmp_path: Path, years: int
) -> None:
    today = WORLD_TODAY + dt.timedelta(days=int(365.25 * years))
    service = service_on(big_world, today, tmp_path)
    rows = list(qualifications(big_world))
    assert len(rows) > EXTRA_PERSONS  # personas and generated persons, every qualification
    valid = 0
    for row in rows:
        body = answer(service, row)
        check(body, today)
        valid += body["QualificationValidity"] == "1"
    assert valid > EXTRA_PERSONS // 2  # the check saw 有効 results, not only refusals


def test_around_the_75th_birthday_the_loss_appears_on_the_day(
    big_world: World, tmp_path: Path
) -> None:
    """Generated persons turning 75 within the next years: the day before, their
    insurer's result is 有効 with no 喪失日; on the day, that qualification is lost
    (事由 03, the birthday) and 後期高齢者医療 answers."""
    seen = 0
    for row in qualifications(big_world):
        birth = dt.date.fromisoformat(row["birth_date"])
        turning = late_elderly_from(birth)
        if row["insurer_number"].startswith("39") or not (
            WORLD_TODAY < turning <= WORLD_TODAY + dt.timedelta(days=3 * 365)
        ):
            continue
        before = answer(service_on(big_world, turning - dt.timedelta(days=1), tmp_path), row)
        assert before["QualificationValidity"] == "1"
        check(before, turning - dt.timedelta(days=1))
        on_the_day = answer(service_on(big_world, turning, tmp_path), row)
        check(on_the_day, turning)
        (lost,) = on_the_day["ResultList"]["ResultOfQualificationConfirmation"]
        assert on_the_day["QualificationValidity"] == "3"  # a newer one (後期) exists
        assert lost["DisqualificationDate"] == turning.strftime("%Y%m%d")
        assert lost["ReasonOfLoss"] == "03"
        seen += 1
        if seen == 5:
            break
    assert seen == 5
