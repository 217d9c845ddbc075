"""``reception`` headless: every persona end to end over loopback and over pcscd + vpcd
against ``mock-oqs serve`` over real TLS; the other commands with good and bad input."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mock_oqs.world import World
from reception.cli import main
from reception.store import Store
from tests.conftest import mock_oqs_serving

EXPECTED_EXIT = {"confirmed": 0, "fallback": 3}


@pytest.fixture(scope="module")
def cli_world(world: World, tmp_path_factory: pytest.TempPathFactory) -> World:
    """A copy of the session world: the CLI persists PIN counters into the cards."""
    target = tmp_path_factory.mktemp("cli") / "w"
    shutil.copytree(world.directory, target)
    return World.load(target)


@pytest.fixture(scope="module")
def server(cli_world: World) -> Iterator[str]:
    with mock_oqs_serving(cli_world, workers=2) as (_, url):
        yield url


@pytest.fixture
def env(cli_world: World, server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Settings through the environment, as a deployment would set them."""
    d = cli_world.directory
    monkeypatch.setenv("RECEPTION_CONFIG", str(tmp_path / "none.toml"))
    monkeypatch.setenv("RECEPTION_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("RECEPTION_OQS__URL", server)
    monkeypatch.setenv("RECEPTION_OQS__CLIENT_CERT", str(d / "terminal" / "cert.pem"))
    monkeypatch.setenv("RECEPTION_OQS__CLIENT_KEY", str(d / "terminal" / "key.pem"))
    monkeypatch.setenv("RECEPTION_OQS__CA", str(d / "facility-ca" / "cert.pem"))
    return tmp_path / "data"


def run(
    args: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    stdin: str = "",
) -> tuple[int, str, str]:  # fmt: skip
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


def checkin(
    world: World, persona: str, transport: str, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str], method: str | None = None, extra: list[str] | None = None,
) -> tuple[int, dict[str, Any], str]:  # fmt: skip
    entry = world.persona(persona)
    method = method or entry["expect"]["methods"][0]
    args = ["checkin", "--world", str(world.directory), "--persona", persona,
            "--transport", transport, "--slot", "1", "--method", method, "--pin-stdin",
            "--consent", "all", "--json", *(extra or [])]  # fmt: skip
    code, out, err = run(args, monkeypatch, capsys, f"{entry['pin'] or ''}\n")
    return code, json.loads(out) if out.strip().startswith("{") else {}, err


@pytest.mark.parametrize("transport", ["loopback", "pcsc"])
def test_every_persona_end_to_end(
    cli_world: World, env: Path, transport: str, request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    if transport == "pcsc":
        request.getfixturevalue("pcscd")
    for entry in cli_world.index["personas"]:
        expect = entry["expect"]
        code, data, err = checkin(cli_world, entry["id"], transport, monkeypatch, capsys)
        where = (entry["id"], transport, err, data.get("message"))
        assert code == EXPECTED_EXIT[expect["outcome"]], where
        assert data["outcome"] == expect["outcome"], where
        if expect["outcome"] == "confirmed":
            assert data["qualification"]["InsuredPartialContributionRatio"] == expect["ratio"]
        assert data["apdus"] > 0 and data["timings_ms"]["total"] > 0
        if expect["methods"][0] == "pin" and entry["variant"] != "iphone":
            assert "残り3回" in err, where  # tries shown before the attempt


def test_wrong_pin_then_blocked_exit_codes(
    cli_world: World, env: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    entry = cli_world.persona("family")
    wrong = "0000" if entry["pin"] != "0000" else "1111"
    args = ["checkin", "--world", str(cli_world.directory), "--persona", "family",
            "--transport", "loopback", "--method", "pin", "--pin-stdin"]  # fmt: skip
    code, out, err = run(args, monkeypatch, capsys, wrong + "\n")
    assert code == 5 and "あと2回" in out and "残り3回" in err
    code, out, err = run(args, monkeypatch, capsys, entry["pin"] + "\n")
    assert code == 0 and "残り2回" in err  # the right PIN; the counter is full again
    code, out, _ = run([*args[:-2], "face", "--face", "other", "--seed", "3"], monkeypatch, capsys)
    assert code == 7 and "顔" in out


def test_usage_errors_say_what(
    cli_world: World, env: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    code, _, err = run(["checkin", "--persona", "x", "--method", "pin"], monkeypatch, capsys)
    assert code == 2 and "--world" in err
    nobody = ["checkin", "--world", str(cli_world.directory), "--persona", "nobody",
              "--transport", "loopback", "--method", "pin"]  # fmt: skip
    code, _, err = run(nobody, monkeypatch, capsys)
    assert code == 2 and "adult-kyokai" in err  # the known ids are listed
    code, _, err = run(["checkin", "--world", str(cli_world.directory), "--persona", "family",
                        "--transport", "loopback", "--method", "pin", "--pin-stdin"],
                       monkeypatch, capsys, "")  # fmt: skip
    assert code == 2 and "empty" in err
    code, _, err = run(["checkin", "--world", "/nonexistent", "--persona", "a",
                        "--method", "pin"], monkeypatch, capsys)  # fmt: skip
    assert code == 2 and "world.json" in err
    with pytest.raises(SystemExit) as exit_info:
        main(["checkin", "--method", "pin", "--consent", "gossip"])
    assert exit_info.value.code == 2
    assert "unknown consent gossip" in capsys.readouterr().err


def test_the_pin_is_never_an_argument() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "reception.cli", "checkin", "--method", "pin", "--pin", "1234"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert proc.returncode == 2 and "unrecognized argument" in proc.stderr
    assert "1234" not in proc.stderr


DECLARATION = {
    "reason": "該当資格なし",
    "name": "架空 一郎",
    "name_kana": "カクウ イチロウ",
    "birth_date": "1986-11-25",
    "sex": "男",
    "address": "東京都千代田区千代田1-1",
    "phone": "03-1234-5678",
    "insurance_type": "協会けんぽ",
    "declared_ratio": 30,
}


def test_declare_pending_reverify_export(
    cli_world: World, env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    numbers = cli_world.persona("adult-kyokai")["numbers"]
    form = tmp_path / "form.json"
    form.write_text(json.dumps(DECLARATION | {
        "insurer_number": numbers["current_insurer_number"], "symbol": numbers["current_symbol"],
        "number": numbers["current_number"], "branch": numbers["current_branch"],
    }, ensure_ascii=False), encoding="utf-8")  # fmt: skip
    code, out, err = run(["declare", "--json-file", str(form)], monkeypatch, capsys)
    assert code == 0, err
    pdf = Path(out.split(": ", 1)[1].splitlines()[0])
    assert pdf.exists() and pdf.read_bytes().startswith(b"%PDF")
    # a second one declaring the wrong share, and one without numbers
    code, _, err = run(["declare", "--json-file", str(form), "--declared-ratio", "20"],
                       monkeypatch, capsys)  # fmt: skip
    assert code == 2 and "3割" in err
    run(["declare", "--json-file", str(form), "--insurer-number", "", "--symbol", "",
         "--number", "", "--branch", ""], monkeypatch, capsys)  # fmt: skip
    code, out, _ = run(["pending", "--json"], monkeypatch, capsys)
    pending = json.loads(out)
    assert [p["queryable"] for p in pending] == [True, False]

    code, out, _ = run(["reverify"], monkeypatch, capsys)
    assert code == 0 and "一致 1" in out and "未確認 1" in out
    code, out, _ = run(["pending", "--json"], monkeypatch, capsys)
    assert [p["queryable"] for p in json.loads(out)] == [False]

    run(["checkin", "--world", str(cli_world.directory), "--persona", "kokuho",
         "--transport", "loopback", "--method", "visual"], monkeypatch, capsys)  # fmt: skip
    day = json.loads(run(["pending", "--json"], monkeypatch, capsys)[1])[0]["created_at"][:10]
    code, out, _ = run(["export", "--date", day, "--format", "xml", "--out",
                        str(tmp_path / "x")], monkeypatch, capsys)  # fmt: skip
    files = [Path(line) for line in out.split()]
    assert code == 0 and files and all(f.parent.name == "face" for f in files)
    assert b"<XmlMsg>" in files[0].read_bytes()
    code, out, _ = run(["export", "--date", day, "--format", "csv", "--out",
                        str(tmp_path / "c")], monkeypatch, capsys)  # fmt: skip
    assert "kokuho" not in Path(out.strip()).read_text(encoding="utf-8-sig")  # ids stay inside
    assert "visual" in Path(out.strip()).read_text(encoding="utf-8-sig")
    with pytest.raises(SystemExit):
        main(["export", "--date", "2026-02-30", "--format", "csv", "--out", "x"])
    assert "2026-02-30" in capsys.readouterr().err


def test_step_and_confirm_number(
    cli_world: World, env: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    code, out, _ = run(["checkin", "--world", str(cli_world.directory), "--persona",
                        "new-employee", "--transport", "loopback", "--method", "visual",
                        "--json"], monkeypatch, capsys)  # fmt: skip
    assert code == 3
    reception = json.loads(out)["reception_id"]
    code, out, _ = run(["step", reception, "notice", "--detail", "お知らせ: 健保組合 3割"],
                       monkeypatch, capsys)  # fmt: skip
    assert code == 0 and "資格情報のお知らせ" in out
    code, _, err = run(["step", "R-none", "notice", "--detail", "x"], monkeypatch, capsys)
    assert code == 2 and "R-none" in err
    numbers = cli_world.persona("lost-newer")["numbers"]
    code, out, _ = run(["confirm-number", "--insurer-number", numbers["old_insurer_number"],
                        "--symbol", numbers["old_symbol"], "--number", numbers["old_number"],
                        "--birth-date", cli_world.persona("lost-newer")["birth_date"],
                        "--reception", reception], monkeypatch, capsys)  # fmt: skip
    assert code == 3 and "無効（新しい資格あり）" in out
    bad = ["confirm-number", "--insurer-number", "01130013", "--symbol", "1", "--number", "2",
           "--birth-date", "1990-01-01"]  # fmt: skip
    code, _, err = run(bad, monkeypatch, capsys)
    assert code == 1 and "MOCK-E006" in err  # the service's refusal, said as it is


def test_a_checkin_the_service_answers_reverifies_the_queue(
    cli_world: World, env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    persona = cli_world.persona("elderly-70-2wari")  # 70–74: may declare 2割 or 3割
    n = persona["numbers"]
    form = DECLARATION | {
        "name_kana": "カクウ ジロウ", "birth_date": persona["birth_date"], "declared_ratio": 30,
        "insurer_number": n["current_insurer_number"], "symbol": n["current_symbol"],
        "number": n["current_number"], "branch": n["current_branch"],
    }  # fmt: skip
    path = tmp_path / "form.json"
    path.write_text(json.dumps(form, ensure_ascii=False), encoding="utf-8")
    code, out, err = run(["declare", "--json-file", str(path)], monkeypatch, capsys)
    assert code == 0, err
    declaration_id = out.split()[1]
    # no `reverify`: the next check-in the service answers re-checks the queue by itself
    code, _, err = checkin(cli_world, "adult-kyokai", "loopback", monkeypatch, capsys)
    assert code == 0 and "相違 1" in err
    code, out, _ = run(["pending", "--json"], monkeypatch, capsys)
    assert declaration_id not in out
    stored = Store(env / "reception.sqlite").declaration(declaration_id)
    assert stored.state == "differing" and stored.difference == {"負担割合": ["3割", "2割"]}
