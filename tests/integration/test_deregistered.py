"""利用登録解除 (issue 24 §1): the persona ``deregistered`` cancelled its 保険証利用登録 with
its insurer and holds the 資格確認書 issued then. Its card is refused as not registered —
the message says it was cancelled — and the reader offers the registration again; declined,
the ladder's 資格確認書 rung confirms it by number; agreed (PIN or face), it confirms."""

from __future__ import annotations

import datetime as dt
import io
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from mock_oqs import deregistration
from mock_oqs.registry import connect
from mock_oqs.world import World
from reception.cli import main
from reception.present import reception_detail
from reception.store import Store
from tests.support.cli import number_query
from tests.support.oqs import confirm, face_body, make_client, nonce, pin_body
from tests.support.stack import WORLD_TODAY, mock_oqs_serving

PERSONA = "deregistered"


def test_the_world_keeps_the_cancellation_and_promises_the_document(world: World) -> None:
    entry = world.persona(PERSONA)
    expect = entry["expect"]
    assert expect["outcome"] == "fallback" and expect["reason"] == "not-registered"
    assert expect["number_query"] == {"current": "1"}
    cancelled = WORLD_TODAY - dt.timedelta(days=deregistration.CANCELLED_DAYS_AGO)
    # cancelled 2026-07-27, renewed with every 国保 資格確認書 on 8/1: valid to 2027-07-31
    assert cancelled == dt.date(2026, 7, 27)
    assert expect["kakunin"]["issued"] == "2026-08-01"
    assert expect["kakunin"]["expires"] == "2027-07-31"
    conn = connect(world.directory / "registry.sqlite", readonly=True)
    try:
        assert deregistration.cancelled_on(conn, entry["person_id"]) == cancelled
        registered = conn.execute(
            "SELECT registered_at FROM certificates WHERE person_id = ?", (entry["person_id"],)
        ).fetchall()
        assert [row[0] for row in registered] == [None]  # the card's link: unregistered
        # no one else cancelled
        other = world.persona("not-registered")["person_id"]
        assert deregistration.cancelled_on(conn, other) is None
    finally:
        conn.close()


def test_the_service_says_the_registration_was_cancelled(world: World) -> None:
    with make_client(world) as client:
        answer = confirm(client, pin_body(world, PERSONA, nonce(client))).json()
        body = answer["MessageBody"]
        assert body["ProcessingResultCode"] == "MOCK-R003"
        assert "2026/07/27に解除されています" in body["ProcessingResultMessage"]
        assert "registration-cancelled" in answer["MockNotices"]
        assert answer["RegistrationOffer"]["token"]  # registering again is offered
        # 目視: no offer; the message says both what happened and why not here
        seen = confirm(client, face_body(world, PERSONA, nonce(client), method="visual")).json()
        said = seen["MessageBody"]["ProcessingResultMessage"]
        assert "解除されています" in said and "目視確認では登録できません" in said
        assert "RegistrationOffer" not in seen
        # an unregistered card never cancelled says what it always said
        plain = confirm(client, pin_body(world, "not-registered", nonce(client))).json()
        assert plain["MessageBody"]["ProcessingResultMessage"] == "保険証利用登録がありません"
        assert "registration-cancelled" not in plain["MockNotices"]


def checkin(
    world: World,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    *extra: str,
    method: str = "pin",
) -> tuple[int, dict[str, Any], str]:
    monkeypatch.setattr(sys, "stdin", io.StringIO(f"{world.persona(PERSONA)['pin']}\n"))
    args = [
        "checkin",
        "--world",
        str(world.directory),
        "--persona",
        PERSONA,
        "--transport",
        "loopback",
        "--method",
        method,
        *(["--pin-stdin"] if method == "pin" else []),
        *extra,
    ]
    code = main(args)
    out, err = capsys.readouterr()
    return code, json.loads(out) if out.startswith("{") else {}, out + err


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("RECEPTION_CONFIG", str(tmp_path / "none.toml"))
    monkeypatch.setenv("RECEPTION_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data"


def test_declined_at_the_reader_then_confirmed_by_the_document(
    own_world: World, env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with mock_oqs_serving(own_world) as (_, url):
        monkeypatch.setenv("RECEPTION_OQS__URL", url)
        code, data, text = checkin(own_world, monkeypatch, capsys, "--json")
        assert code == 9 and data["fallback_reason"] == "not-registered", text
        assert data["registered"] is False
        rid = data["reception_id"]
        detail = "\n".join(reception_detail(Store(env / "reception.sqlite"), rid))
        assert "利用登録解除済み" in detail and "資格確認書が交付されています" in detail
        # the ladder: the 資格確認書 by its numbers, on the same reception
        entry = own_world.persona(PERSONA)
        monkeypatch.setenv("RECEPTION_OQS__CLIENT_CERT", str(own_world.terminal_cert))
        monkeypatch.setenv("RECEPTION_OQS__CLIENT_KEY", str(own_world.terminal_key))
        monkeypatch.setenv("RECEPTION_OQS__CA", str(own_world.facility_ca))
        code = main(
            [
                *number_query(entry),
                "--reception",
                rid,
            ]
        )
        out = capsys.readouterr().out
    assert code == 0 and "確認済（資格確認書）" in out, out
    assert "資格確認書 交付 2026/08/01  有効期限 2027/07/31" in out
    assert Store(env / "reception.sqlite").reception(rid).status == "confirmed-certificate"


@pytest.mark.parametrize("method", ["pin", "face"])
def test_registering_again_at_the_reader(
    own_world: World,
    env: Path,
    method: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    with mock_oqs_serving(own_world) as (_, url):
        monkeypatch.setenv("RECEPTION_OQS__URL", url)
        code, _, text = checkin(own_world, monkeypatch, capsys, "--register", method=method)
        assert code == 0, text
        assert "保険証利用登録をしました" in text
        # registered again: the card confirms without a question
        code, data, text = checkin(own_world, monkeypatch, capsys, "--json", method=method)
    assert code == 0 and data["outcome"] == "confirmed" and data["registered"] is False, text


def test_registering_is_refused_after_visual(
    own_world: World, env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with mock_oqs_serving(own_world) as (_, url):
        monkeypatch.setenv("RECEPTION_OQS__URL", url)
        code, _, text = checkin(own_world, monkeypatch, capsys, "--register", method="visual")
    assert code != 0 and "保険証利用登録をしました" not in text, text
