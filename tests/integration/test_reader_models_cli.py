"""``reception checkin`` headless per reader model and per 処方箋 setting (issue 24 §1:
reader.model, reader.prescription; reception/reader_models.py): the next-generation model
reads a smartphone on the card reader whatever reader.phone_name says (and says so); the
model without 目視 refuses ``--method visual`` before any reception and sends a pin-blocked
card whose face fails to the desk with where to go; the 処方箋 question off sends
nothing and refuses ``--prescription``, outside and inside send PrescriptionIssueSelect."""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mock_oqs.world import World
from reception.cli import main
from reception.reader_models import NO_VISUAL_MESSAGE, PHONE_NAME_UNUSED
from reception.store import Store, now_jst
from tests.support.cli import copied_world, service_env
from tests.support.stack import mock_oqs_serving


@pytest.fixture(scope="module")
def models_world(world: World, tmp_path_factory: pytest.TempPathFactory) -> World:
    """A copy of the session world: the CLI persists PIN counters into the cards."""
    return copied_world(world, tmp_path_factory, "models")


@pytest.fixture(scope="module")
def server(models_world: World) -> Iterator[str]:
    with mock_oqs_serving(models_world, workers=1) as (_, url):
        yield url


@pytest.fixture
def env(models_world: World, server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return service_env(models_world, server, tmp_path, monkeypatch)


def checkin(
    world: World,
    persona: str,
    method: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    *extra: str,
) -> tuple[int, dict[str, Any], str]:
    pin = world.persona(persona)["pin"] or ""
    args = [
        "checkin",
        "--world",
        str(world.directory),
        "--persona",
        persona,
        "--transport",
        "loopback",
        "--method",
        method,
        "--pin-stdin",
        "--consent",
        "all",
        "--json",
        *extra,
    ]
    monkeypatch.setattr(sys, "stdin", io.StringIO(f"{pin}\n"))
    code = main(args)
    out, err = capsys.readouterr()
    return code, json.loads(out) if out.strip().startswith("{") else {}, err


def sent_prescription(data: dict[str, Any]) -> str | None:
    qualification = data.get("qualification") or {}
    value = qualification.get("PrescriptionIssueSelect")
    return None if value is None else str(value)


# -- the models -------------------------------------------------------------------------


@pytest.mark.parametrize("model", ["current", "next-generation", "no-visual"])
def test_a_card_by_pin_is_confirmed_on_every_model(
    models_world: World,
    env: Path,
    model: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("RECEPTION_READER__MODEL", model)
    code, data, err = checkin(models_world, "adult-kyokai", "pin", monkeypatch, capsys)
    assert (code, data["outcome"]) == (0, "confirmed"), err


@pytest.mark.parametrize("persona", ["android", "iphone"])
def test_next_generation_reads_a_smartphone_on_the_card_reader(
    models_world: World,
    env: Path,
    persona: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """--medium phone with a phone reader configured: the next-generation reader does not
    use it (there is no such PC/SC reader here — the current model would try it) and says
    so; the phone persona is read where the card is."""
    monkeypatch.setenv("RECEPTION_READER__MODEL", "next-generation")
    monkeypatch.setenv("RECEPTION_READER__PHONE_NAME", "Generic NFC Reader 00 00")
    code, data, err = checkin(
        models_world, persona, "pin", monkeypatch, capsys, "--medium", "phone"
    )
    assert (code, data["outcome"], data["variant"]) == (0, "confirmed", persona), err
    assert PHONE_NAME_UNUSED in err


def test_no_visual_refuses_the_visual_method_before_any_reception(
    models_world: World,
    env: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("RECEPTION_READER__MODEL", "no-visual")
    code, data, err = checkin(models_world, "pin-blocked", "visual", monkeypatch, capsys)
    assert code == 2 and not data
    assert NO_VISUAL_MESSAGE in err and "--method visual" in err
    assert Store(env / "reception.sqlite").receptions_on(now_jst().date()) == []
    # the 居宅同意取得型 route keeps staff's 目視 (a staff-held reader, not the model's)
    code, data, err = checkin(
        models_world, "pin-blocked", "visual", monkeypatch, capsys, "--route", "counter"
    )
    assert (code, data["outcome"]) == (0, "confirmed"), err


def test_visual_is_taken_on_the_current_model(
    models_world: World,
    env: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, data, err = checkin(models_world, "pin-blocked", "visual", monkeypatch, capsys)
    assert (code, data["outcome"], data["method"]) == (0, "confirmed", "visual"), err


@pytest.mark.parametrize(
    ("model", "exit_code", "state"),
    [("current", 8, "face-not-matched"), ("no-visual", 9, "fallback")],
)
def test_a_pin_blocked_card_whose_face_fails(
    models_world: World,
    env: Path,
    model: str,
    exit_code: int,
    state: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """PIN locked, face not matched three times: today's reader still has 目視 (the
    headless patient stops there); the one without 目視 has nothing left — the desk, with
    the 居宅同意取得型 route or the ladder named."""
    monkeypatch.setenv("RECEPTION_READER__MODEL", model)
    code, data, err = checkin(
        models_world, "pin-blocked", "face", monkeypatch, capsys, "--face", "other", "--seed", "3"
    )
    assert (code, data["state"]) == (exit_code, state), err
    if model == "no-visual":
        assert data["message"] == NO_VISUAL_MESSAGE
        assert data["fallback_reason"] == "no-method"
        assert "居宅同意取得型" in data["message"]


# -- the 処方箋 question ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("setting", "answer", "sent"),
    [
        ("off", None, None),
        ("outside", "electronic", "1"),
        ("outside", "paper", "2"),
        ("inside", "electronic", "1"),
        ("inside", "paper", "2"),
    ],
)
def test_the_prescription_setting_decides_what_is_sent(
    models_world: World,
    env: Path,
    setting: str,
    answer: str | None,
    sent: str | None,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("RECEPTION_READER__PRESCRIPTION", setting)
    extra = ["--prescription", answer] if answer else []
    code, data, err = checkin(models_world, "adult-kyokai", "pin", monkeypatch, capsys, *extra)
    assert (code, data["outcome"]) == (0, "confirmed"), err
    assert sent_prescription(data) == sent


def test_a_prescription_answer_where_the_question_is_off_is_refused(
    models_world: World,
    env: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("RECEPTION_READER__PRESCRIPTION", "off")
    code, data, err = checkin(
        models_world, "adult-kyokai", "pin", monkeypatch, capsys, "--prescription", "paper"
    )
    assert code == 2 and not data
    assert "--prescription paper" in err and "reader.prescription = off" in err
    assert Store(env / "reception.sqlite").receptions_on(now_jst().date()) == []


def test_garbage_is_refused_with_its_name(
    models_world: World,
    env: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exited:  # argparse: the values it takes are said
        checkin(models_world, "adult-kyokai", "pin", monkeypatch, capsys, "--prescription", "院内")
    err = capsys.readouterr().err
    assert exited.value.code == 2 and "--prescription" in err and "electronic" in err
    monkeypatch.setenv("RECEPTION_READER__PRESCRIPTION", "sometimes")
    code, _, err = checkin(models_world, "adult-kyokai", "pin", monkeypatch, capsys)
    assert code != 0 and "reader.prescription" in err
    monkeypatch.delenv("RECEPTION_READER__PRESCRIPTION")
    monkeypatch.setenv("RECEPTION_READER__MODEL", "hi-cara")
    code, _, err = checkin(models_world, "adult-kyokai", "pin", monkeypatch, capsys)
    assert code != 0 and "reader.model" in err and "no-visual" in err


def test_the_old_boolean_still_means_outside(
    models_world: World,
    env: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("RECEPTION_READER__ELECTRONIC_PRESCRIPTIONS", "true")
    code, data, err = checkin(
        models_world, "adult-kyokai", "pin", monkeypatch, capsys, "--prescription", "electronic"
    )
    assert (code, sent_prescription(data)) == (0, "1"), err
    assert "reader.prescription = outside" in err  # the note
