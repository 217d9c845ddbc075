"""The doctor's view of shared records (issue 14 §1): each kind the patient agreed to
share, or why not — 「同意なし」, 「同意期限切れ」 — and every look in the audit trail."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from mock_oqs.world import World
from reader.virtual.loopback import LoopbackTransport
from reception.checkin import CheckinRequest, check_in
from reception.flow import ConsentsGiven, Method, State
from reception.records import CONSENT_EXPIRED, NO_CONSENT, NoRecordsPatient, fetch_records
from reception.store import Store
from tests.support.checkin import card_of, pin_of, terminal_of
from tests.support.oqs import in_process


def visit(world: World, store: Store, persona: str, consents: ConsentsGiven) -> str:
    async def go() -> str:
        async with in_process(world) as client:
            outcome = await check_in(
                LoopbackTransport(card_of(world, persona)),
                client,
                store,
                terminal_of(world),
                CheckinRequest(Method.PIN, pin_source=pin_of(world, persona), consents=consents),
            )
        assert outcome.state is State.CONFIRMED, outcome.flow.message
        return outcome.reception_id

    return asyncio.run(go())


def look(world: World, store: Store, reception_id: str) -> dict[str, tuple[str | None, int]]:
    async def go() -> dict[str, tuple[str | None, int]]:
        async with in_process(world) as client:
            sets = await fetch_records(client, store, reception_id, staff="医師 佐藤")
        return {s.kind.kind: (s.status, len(s.rows)) for s in sets}

    return asyncio.run(go())


def test_what_the_patient_agreed_to_and_nothing_else(
    own_world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = Store(tmp_path / "reception.sqlite")
    nothing = visit(own_world, store, "dialysis", ConsentsGiven())
    assert look(own_world, store, nothing) == {
        kind: (NO_CONSENT, 0) for kind in ("medications", "diagnoses", "operations", "checkups")
    }
    some = visit(own_world, store, "dialysis", ConsentsGiven(medication=True, limit=True))
    seen = look(own_world, store, some)
    assert seen["medications"][0] is None and seen["medications"][1] > 20
    assert seen["diagnoses"][0] is None and seen["diagnoses"][1] > 20
    assert seen["operations"] == (NO_CONSENT, 0)
    assert seen["checkups"] == (NO_CONSENT, 0)
    # a day later the consent has expired: said so, not "none"
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + 25 * 3600)
    assert look(own_world, store, some)["medications"] == (CONSENT_EXPIRED, 0)
    # who, what kind and what came back, for every look
    trail = [r for r in store.audit_trail(some) if r["action"] == "records-view"]
    assert len(trail) == 8 and {r["actor"] for r in trail} == {"医師 佐藤"}
    assert any("薬剤情報" in r["detail"] and "件" in r["detail"] for r in trail)
    assert any("同意期限切れ" in r["detail"] for r in trail)


def test_a_reception_without_a_confirmed_result_names_no_patient(
    world: World, tmp_path: Path
) -> None:
    store = Store(tmp_path / "reception.sqlite")
    reception = store.begin_reception()
    with pytest.raises(NoRecordsPatient, match="有効な資格確認の結果がありません"):
        look(world, store, reception)
