"""The service caches what a card confirmation reads of the registry (issue 21 §2) — and
a change made by another process or connection shows at the very next confirmation: a
trainer's ``mock-oqs revoke`` / ``unregister``, a registration written elsewhere, an
insurer's change to a qualification (by card and by number)."""

from __future__ import annotations

import datetime as dt
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx

from mock_oqs import registry
from mock_oqs.world import World
from tests.support.oqs import confirm, make_client, nonce, patient_numbers, pin_body

BIN = Path(sys.executable).parent


def body_of(client: httpx.Client, world: World, persona: str) -> dict[str, Any]:
    answer = confirm(client, pin_body(world, persona, nonce(client)))
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()["MessageBody"]
    return body


def mock_oqs(world: World, *args: str) -> None:
    """The trainer's command, in a process of its own."""
    subprocess.run(
        [str(BIN / "mock-oqs"), *args, "--world", str(world.directory)],
        check=True,
        capture_output=True,
        timeout=60,
    )


def test_a_revocation_by_another_process_shows_at_the_next_confirmation(
    own_world: World,
) -> None:
    with make_client(own_world) as client:
        for _ in range(2):  # the second one comes from what the service keeps
            assert body_of(client, own_world, "adult-kyokai")["QualificationValidity"] == "1"
        mock_oqs(own_world, "revoke", "adult-kyokai")
        refused = body_of(client, own_world, "adult-kyokai")
        assert refused["ProcessingResultCode"] == "MOCK-R001"


def test_registration_and_its_undoing_elsewhere_show_at_once(own_world: World) -> None:
    with make_client(own_world) as client:
        first = body_of(client, own_world, "not-registered")
        assert first["ProcessingResultCode"] == "MOCK-R003"
        fingerprint = registered_elsewhere(own_world, "not-registered")
        assert fingerprint
        assert body_of(client, own_world, "not-registered")["QualificationValidity"] == "1"
        mock_oqs(own_world, "unregister", "not-registered")
        again = body_of(client, own_world, "not-registered")
        assert again["ProcessingResultCode"] == "MOCK-R003"


def by_number(client: httpx.Client, world: World, persona: str) -> dict[str, Any]:
    answer = client.post("/v1/confirmations/number", json=patient_numbers(world, persona))
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()["MessageBody"]
    return body


def test_an_insurers_change_to_a_qualification_shows_at_once(own_world: World) -> None:
    with make_client(own_world) as client:
        before = body_of(client, own_world, "family")
        assert before["QualificationValidity"] == "1"
        assert by_number(client, own_world, "family")["QualificationValidity"] == "1"
        entry = before["ResultList"]["ResultOfQualificationConfirmation"][0]
        assert "DisqualificationDate" not in entry
        lost = dt.date.fromisoformat(own_world.index["today"]) - dt.timedelta(days=1)
        conn = sqlite3.connect(own_world.registry_path)
        with conn:
            conn.execute(
                "UPDATE qualifications SET disqualification_date = ?, reason_of_loss = '99' "
                "WHERE person_id = ?",
                (lost.isoformat(), own_world.persona("family")["person_id"]),
            )
        conn.close()
        assert by_number(client, own_world, "family")["QualificationValidity"] == "2"
        after = body_of(client, own_world, "family")
        assert after["QualificationValidity"] == "2"
        entry = after["ResultList"]["ResultOfQualificationConfirmation"][0]
        assert entry["DisqualificationDate"] == lost.strftime("%Y%m%d")


def registered_elsewhere(world: World, persona: str) -> str:
    """保険証利用登録 written by another connection (as another worker's would be)."""
    conn = registry.connect(world.registry_path)
    try:
        with registry.transaction(conn):
            (fingerprint,) = conn.execute(
                "SELECT fingerprint FROM certificates WHERE person_id = ?",
                (world.persona(persona)["person_id"],),
            ).fetchone()
            assert registry.register_certificate(conn, fingerprint, dt.datetime.now(dt.UTC))
    finally:
        conn.close()
    return str(fingerprint)
