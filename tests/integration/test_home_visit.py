"""The マイナ資格確認アプリ (居宅同意取得型) headless: the 資格確認端末 issues a code
(`reception app-code`), the app activates with it and reads a persona's card at home
(`reception home-visit`, PIN or 目視, the consents), and the clinic software's 訪問診療 bulk
(OQSmuhvq through a real `reception link`) lists that patient with those consents. Codes of
the wrong form, never issued, used or lapsed are refused before any card is read."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from mock_oqs.world import World
from reception.cli import main
from reception.store import Store
from tests.support.home_visit import app_world, cli, env, issue, server, visit, visits_on
from tests.support.link import Running

__all__ = ["app_world", "env", "server"]  # the fixtures (tests/support/home_visit.py)


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
        units = units_by_name(visits_on(link), app_world)
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
