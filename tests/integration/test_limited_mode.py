"""資格確認限定型 (``mode = limited``, RECEPTION_MODE): the terminal of a 柔道整復・あはき
施術所 or a facility not obliged to run OQS confirms the qualification only — the check-in
asks and sends no consents (every consent flag 0), and the records are refused: `reception
records`, and the link's YZK / TKK (LINK-E011). A mode that is not one is refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mock_oqs.world import World
from reception.store import Store
from tests.support.home_visit import app_world, cli, env, issue, server, visit
from tests.support.link import Running, drop
from tests.support.oqsdrug2 import loaded, oqsdrug2_request, reply, request_name

__all__ = ["app_world", "env", "server"]  # the fixtures (tests/support/home_visit.py)


@pytest.fixture
def limited(env: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("RECEPTION_MODE", "limited")
    return env


def checkin(
    world: World,
    persona: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    *extra: str,
) -> tuple[int, str, str]:
    args = ["checkin", "--world", str(world.directory), "--persona", persona]
    args += ["--transport", "loopback", "--method", "pin", "--pin-stdin", "--json", *extra]
    return cli(args, monkeypatch, capsys, f"{world.persona(persona)['pin']}\n")


def test_a_check_in_asks_and_sends_no_consents(
    app_world: World,
    limited: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    status, out, err = checkin(app_world, "adult-kyokai", monkeypatch, capsys)
    assert status == 0, err
    data = json.loads(out)
    assert data["outcome"] == "confirmed"
    store = Store(limited / "reception.sqlite")
    try:
        entry = store.results_of(data["reception_id"])[0].entries[0]
    finally:
        store.close()
    flags = {
        name: getattr(entry, name)
        for name in (
            "pharmacists_info_cons_flg",
            "diagnosis_info_cons_flg",
            "specific_health_checkups_info_cons_flg",
            "operation_info_cons_flg",
            "limit_application_certificate_related_cons_flg",
            "specific_diseases_certificate_related_cons_flg",
        )
    }
    assert set(flags.values()) == {"0"}, flags
    # the records of this patient: refused by the mode, before the service is asked
    status, _, err = cli(["records", data["reception_id"]], monkeypatch, capsys)
    assert status == 2 and "資格確認限定型" in err and "閲覧できません" in err


def test_consents_asked_of_a_limited_terminal_are_refused(
    app_world: World,
    limited: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    status, _, err = checkin(app_world, "adult-kyokai", monkeypatch, capsys, "--consent", "all")
    assert status == 2 and "資格確認限定型" in err and "--consent" in err
    code = issue(monkeypatch, capsys)
    status, _, err = visit(
        app_world, "kokuho", monkeypatch, capsys, "--code", code, "--consent", "medication"
    )
    assert status == 2 and "資格確認限定型" in err
    # the app itself runs: qualification only
    status, data, err = visit(
        app_world, "kokuho", monkeypatch, capsys, "--code", code, method="visual"
    )
    assert status == 0 and data["route"] == "counter", err


def test_a_mode_that_is_not_one_is_refused(
    env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("RECEPTION_MODE", "half")
    status, _, err = cli(["list"], monkeypatch, capsys)
    assert status == 2 and "mode" in err and "'full' or 'limited'" in err


def test_the_link_refuses_the_records_kinds(link_world: World, tmp_path: Path) -> None:
    link = Running(link_world, tmp_path / "clinic", tmp_path, RECEPTION_MODE="limited")
    with link.serving():
        for kind in ("YZK", "TKK"):
            name = request_name(kind, 2, "77")
            drop(link.folder, name, oqsdrug2_request(link_world, "adult-kyokai", kind, 2))
            root = loaded(reply(link.folder, name))
            assert root.findtext("MessageHeader/ErrorCode") == "LINK-E011", kind
            assert "資格確認限定型" in (root.findtext("MessageHeader/ErrorMessage") or "")
        link.said("LINK-E011")
