"""The マイナ資格確認アプリ (居宅同意取得型) headless: the 資格確認端末 issues a code
(`reception app-code`), the app activates with it and reads a persona's card at home
(`reception home-visit`, PIN or 目視, the consents), and the clinic software's 訪問診療 bulk
(OQSmuhvq through a real `reception link`) lists that patient with those consents. Codes of
the wrong form, never issued, used or lapsed are refused before any card is read."""

from __future__ import annotations

import datetime as dt
import io
import json
import shutil
import sqlite3
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mock_oqs.world import World
from reception.cli import main
from reception.store import Store
from tests.integration.test_link_period import day, run
from tests.support.link import Running
from tests.support.stack import mock_oqs_serving

VISIT_TODAY = [
    ("ConsentDateFrom", day(0)),
    ("ConsentDateTo", day(0)),
    ("MedicalTreatmentFlag", "2"),
]


@pytest.fixture(scope="module")
def app_world(world: World, tmp_path_factory: pytest.TempPathFactory) -> World:
    """A copy of the session's world: the app's confirmations are kept in its service."""
    target = tmp_path_factory.mktemp("home-visit") / "w"
    shutil.copytree(
        world.directory,
        target,
        ignore=shutil.ignore_patterns("service-state.sqlite*", "mock-oqs.log", "clinic"),
    )
    return World.load(target)


@pytest.fixture(scope="module")
def server(app_world: World) -> Iterator[str]:
    with mock_oqs_serving(app_world, workers=1) as (_, url):
        yield url


@pytest.fixture
def env(app_world: World, server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("RECEPTION_CONFIG", str(tmp_path / "none.toml"))
    monkeypatch.setenv("RECEPTION_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("RECEPTION_OQS__URL", server)
    monkeypatch.setenv("RECEPTION_OQS__CLIENT_CERT", str(app_world.terminal_cert))
    monkeypatch.setenv("RECEPTION_OQS__CLIENT_KEY", str(app_world.terminal_key))
    monkeypatch.setenv("RECEPTION_OQS__CA", str(app_world.facility_ca))
    return tmp_path / "data"


def cli(
    args: list[str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    stdin: str = "",
) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


def issue(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> str:
    code, out, err = cli(["app-code", "--json"], monkeypatch, capsys)
    assert code == 0, err
    return str(json.loads(out)["code"])


def visit(
    world: World,
    persona: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    *extra: str,
    method: str = "pin",
) -> tuple[int, dict[str, Any], str]:
    args = ["home-visit", "--world", str(world.directory), "--persona", persona]
    args += ["--method", method, "--json", *extra]
    pin = f"{world.persona(persona)['pin']}\n" if "--pin-stdin" in extra else ""
    code, out, err = cli(args, monkeypatch, capsys, pin)
    return code, json.loads(out) if out.strip().startswith("{") else {}, err


def flags(unit: ET.Element) -> dict[str, str]:
    wanted = ("PharmacistsInfoConsFlg", "DiagnosisInfoConsFlg", "SpecificHealthCheckupsInfoConsFlg")
    return {e.tag: (e.text or "") for e in unit.iter() if e.tag in wanted}


def units_by_name(root: ET.Element, world: World) -> dict[str, ET.Element]:
    names = {e["name"].replace(" ", "\u3000"): e["id"] for e in world.index["personas"]}
    body = root.find("MessageBody")
    assert body is not None
    found = {}
    for unit in (c for c in body if c.tag == "BulkConfirmUnit"):
        name = next((e.text or "" for e in unit.iter() if e.tag == "Name"), "")
        found[names.get(name, name)] = unit
    return found


def test_the_app_confirms_by_pin_and_by_sight_and_oqsmuhvq_lists_the_consents(
    app_world: World,
    env: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = issue(monkeypatch, capsys)
    first = ("--code", code, "--pin-stdin", "--consent", "medication,checkup")
    status, data, err = visit(app_world, "kokuho", monkeypatch, capsys, *first)
    assert status == 0, err
    assert "有効化しました" in err
    assert data["route"] == "counter" and data["method"] == "pin"
    # the device is activated: the next patient is read without a code, by 目視
    status, data, err = visit(app_world, "elderly-70-active", monkeypatch, capsys, method="visual")
    assert status == 0, err
    assert data["route"] == "counter" and data["method"] == "visual"
    store = Store(env / "reception.sqlite")
    try:
        actions = [a["action"] for a in store.audit_trail()]
        actors = {a["actor"] for a in store.audit_trail() if a["action"] == "reception-confirmed"}
    finally:
        store.close()
    assert "app-code-issued" in actions and "app-activated" in actions
    assert any("マイナ資格確認アプリ app-1" in actor for actor in actors), actors
    link = Running(app_world, tmp_path / "clinic", tmp_path)
    with link.serving():
        units = units_by_name(run(link, "OQSmuhvq", VISIT_TODAY, "Shift_JIS"), app_world)
    assert {"kokuho", "elderly-70-active"} <= set(units)
    assert flags(units["kokuho"]) == {
        "PharmacistsInfoConsFlg": "1",
        "DiagnosisInfoConsFlg": "1",
        "SpecificHealthCheckupsInfoConsFlg": "1",
    }
    assert set(flags(units["elderly-70-active"]).values()) == {"0"}  # no consent given


def test_bad_used_and_lapsed_codes_are_refused_before_any_card_is_read(
    app_world: World,
    env: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    status, _, err = visit(app_world, "kokuho", monkeypatch, capsys, "--code", "hello")
    assert status == 2 and "形式が違います" in err
    status, _, err = visit(app_world, "kokuho", monkeypatch, capsys, "--code", "ABCD-EFGH-JKLM")
    assert status == 2 and "発行されていません" in err
    status, _, err = visit(app_world, "kokuho", monkeypatch, capsys)  # never activated
    assert status == 2 and "まだ有効化されていません" in err
    code = issue(monkeypatch, capsys)
    assert visit(app_world, "kokuho", monkeypatch, capsys, "--code", code, method="visual")[0] == 0
    status, _, err = visit(
        app_world, "kokuho", monkeypatch, capsys, "--code", code.lower(), "--device", "app-2"
    )
    assert status == 2 and "使用済み" in err and "app-1" in err
    lapsed = issue(monkeypatch, capsys)
    conn = sqlite3.connect(env / "reception.sqlite")
    past = (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)).isoformat()
    with conn:
        conn.execute("UPDATE app_activations SET expires_at = ? WHERE used_at IS NULL", (past,))
    conn.close()
    status, _, err = visit(
        app_world, "kokuho", monkeypatch, capsys, "--code", lapsed, "--device", "app-3"
    )
    assert status == 2 and "有効期限切れ" in err
    receptions = cli(["list", "--json"], monkeypatch, capsys)[1]
    assert len(json.loads(receptions)) == 1  # only the one read with a good code


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["app-code", "--ttl", "soon"], "分の整数"),
        (["app-code", "--ttl", "0"], "1分から"),
        (["app-code", "--ttl", "99999"], "10080分まで"),
    ],
)
def test_app_code_refuses_a_bad_ttl(
    env: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    said: str,
) -> None:
    status, _, err = cli(args, monkeypatch, capsys)
    assert status == 2 and said in err


def test_home_visit_refuses_bad_arguments(
    app_world: World, env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code = issue(monkeypatch, capsys)
    cases = [
        (["--code", code, "--device", "../x"], "端末名"),
        (["--code", code, "--consent", "operation"], "居宅同意取得型で同意できるのは"),
        (["--code", code, "--pin-stdin"], "--pin-stdin goes with --method pin"),
    ]
    for extra, said in cases:
        status, _, err = visit(app_world, "kokuho", monkeypatch, capsys, *extra, method="visual")
        assert status == 2 and said in err, (extra, err)
    status, _, err = visit(app_world, "nobody", monkeypatch, capsys, "--code", code)
    assert status == 2, err
    with pytest.raises(SystemExit):
        main(["home-visit", "--world", str(app_world.directory), "--method", "face"])
