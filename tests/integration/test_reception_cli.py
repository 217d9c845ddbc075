"""``reception`` headless: every persona end to end over loopback and over pcscd + vpcd
against ``mock-oqs serve`` over real TLS; the other commands with good and bad input."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader

from mock_oqs.world import World, persona_ids
from reader.children import spawn
from reception.cli import main
from reception.store import Store, now_jst
from tests.support.cli import run_cli, service_env
from tests.support.oqs import forget_service_state
from tests.support.stack import WORLD_TODAY, mock_oqs_serving
from tests.support.xmlmsg import check_xmlmsg

EXPECTED_EXIT = {"confirmed": 0, "fallback": 9}


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
    return service_env(cli_world, server, tmp_path, monkeypatch)


run = run_cli


def checkin(
    world: World,
    persona: str,
    transport: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    method: str | None = None,
    extra: list[str] | None = None,
) -> tuple[int, dict[str, Any], str]:
    entry = world.persona(persona)
    method = method or entry["expect"]["methods"][0]
    args = [
        "checkin",
        "--world",
        str(world.directory),
        "--persona",
        persona,
        "--transport",
        transport,
        "--slot",
        "1",
        "--method",
        method,
        "--pin-stdin",
        "--consent",
        "all",
        "--json",
        *(extra or []),
    ]
    code, out, err = run(args, monkeypatch, capsys, f"{entry['pin'] or ''}\n")
    return code, json.loads(out) if out.strip().startswith("{") else {}, err


@pytest.mark.parametrize("persona", persona_ids(WORLD_TODAY))
# the pcsc transport goes through the machine's pcscd: marked, it runs with the other
# tests of the machine's readers, one at a time (tests/conftest.py)
@pytest.mark.parametrize("transport", ["loopback", pytest.param("pcsc", marks=pytest.mark.pcscd)])
def test_every_persona_end_to_end(
    cli_world: World,
    env: Path,
    transport: str,
    persona: str,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    if transport == "pcsc":
        request.getfixturevalue("pcscd")
    entry = cli_world.persona(persona)
    expect = entry["expect"]
    code, data, err = checkin(cli_world, persona, transport, monkeypatch, capsys)
    where = (err, data.get("message"))
    assert code == EXPECTED_EXIT[expect["outcome"]], where
    assert data["outcome"] == expect["outcome"], where
    if expect["outcome"] == "confirmed":
        assert data["ratio"] == expect["ratio"], where
    else:  # a stable code for scripts, beside the Japanese label
        assert data["fallback_reason"] == expect["reason"], where
        assert data["fallback_reason_label"], where
    assert data["apdus"] > 0 and data["timings_ms"]["total"] > 0
    if expect["methods"][0] == "pin" and entry["variant"] != "iphone":
        assert "残り3回" in err, where  # tries shown before the attempt


def test_wrong_pin_then_blocked_exit_codes(
    cli_world: World,
    env: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    entry = cli_world.persona("family")
    wrong = "0000" if entry["pin"] != "0000" else "1111"
    args = family_pin_checkin(cli_world)
    code, out, err = run(args, monkeypatch, capsys, wrong + "\n")
    assert code == 5 and "あと2回" in out and "残り3回" in err
    code, out, err = run(args, monkeypatch, capsys, entry["pin"] + "\n")
    assert code == 0 and "残り2回" in err  # the right PIN; the counter is full again
    code, out, _ = run([*args[:-2], "face", "--face", "other", "--seed", "3"], monkeypatch, capsys)
    assert code == 8 and "顔" in out


def test_usage_errors_say_what(
    cli_world: World,
    env: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, _, err = run(["checkin", "--persona", "x", "--method", "pin"], monkeypatch, capsys)
    assert code == 2 and "--world" in err
    nobody = [
        "checkin",
        "--world",
        str(cli_world.directory),
        "--persona",
        "nobody",
        "--transport",
        "loopback",
        "--method",
        "pin",
    ]
    code, _, err = run(nobody, monkeypatch, capsys)
    assert code == 2 and "adult-kyokai" in err  # the known ids are listed
    code, _, err = run(
        family_pin_checkin(cli_world),
        monkeypatch,
        capsys,
        "",
    )
    assert code == 2 and "empty" in err
    code, _, err = run(
        ["checkin", "--world", "/nonexistent", "--persona", "a", "--method", "pin"],
        monkeypatch,
        capsys,
    )
    assert code == 2 and "world.json" in err
    with pytest.raises(SystemExit) as exit_info:
        main(["checkin", "--method", "pin", "--consent", "gossip"])
    assert exit_info.value.code == 2
    assert "unknown consent gossip" in capsys.readouterr().err


def test_the_pin_is_never_an_argument() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "reception.cli", "checkin", "--method", "pin", "--pin", "1234"],
        capture_output=True,
        text=True,
        check=False,
    )
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
    "card_shown": True,
}


def test_declare_pending_reverify_export(
    cli_world: World,
    env: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    persona = cli_world.persona("adult-kyokai")
    numbers = persona["numbers"]
    form = tmp_path / "form.json"
    form.write_text(
        json.dumps(
            DECLARATION
            | {
                "name": persona["name"],
                "name_kana": persona["name_kana"],
                "birth_date": persona["birth_date"],
                "insurer_number": numbers["current_insurer_number"],
                "symbol": numbers["current_symbol"],
                "number": numbers["current_number"],
                "branch": numbers["current_branch"],
            },
            ensure_ascii=False,
        ),
        encoding="utf-8",
    )
    code, out, err = run(["declare", "--json-file", str(form)], monkeypatch, capsys)
    assert code == 0, err
    pdf = Path(out.split(": ", 1)[1].splitlines()[0])
    assert pdf.exists() and pdf.read_bytes().startswith(b"%PDF")
    # a second one declaring the wrong share, and one without numbers
    code, _, err = run(
        ["declare", "--json-file", str(form), "--declared-ratio", "20"], monkeypatch, capsys
    )
    assert code == 2 and "3割" in err
    run(
        [
            "declare",
            "--json-file",
            str(form),
            "--insurer-number",
            "",
            "--symbol",
            "",
            "--number",
            "",
            "--branch",
            "",
        ],
        monkeypatch,
        capsys,
    )
    code, out, _ = run(["pending", "--json"], monkeypatch, capsys)
    pending = json.loads(out)["declarations"]
    assert [p["queryable"] for p in pending] == [True, False]

    code, out, _ = run(["reverify"], monkeypatch, capsys)
    assert code == 0 and "一致 1" in out and "未確認 1" in out
    code, out, _ = run(["pending", "--json"], monkeypatch, capsys)
    assert [p["queryable"] for p in json.loads(out)["declarations"]] == [False]

    run(
        [
            "checkin",
            "--world",
            str(cli_world.directory),
            "--persona",
            "kokuho",
            "--transport",
            "loopback",
            "--method",
            "visual",
        ],
        monkeypatch,
        capsys,
    )
    pending = json.loads(run(["pending", "--json"], monkeypatch, capsys)[1])
    day = pending["declarations"][0]["created_at"][:10]
    code, out, _ = run(
        ["export", "--date", day, "--format", "xml", "--out", str(tmp_path / "x")],
        monkeypatch,
        capsys,
    )
    files = [Path(line) for line in out.split()]
    assert code == 0 and files and all(f.parent.name == "face" for f in files)
    for file in files:  # real face files' names: 医療機関コード first (issue 20, oqs.md §7)
        root = check_xmlmsg(file.read_bytes())
        facility = root.findtext("MessageHeader/MedicalInstitutionCode")
        stamp = root.findtext("MessageHeader/ProcessExecutionTime")
        assert re.fullmatch(rf"OQSsiquc01res_face_{facility}[0-9a-f]{{20}}_{stamp}\.xml", file.name)
        assert root.find(".//MockNotices") is None
        # and the store still tells whose it is
        found, out, _ = run(["result-file", str(file)], monkeypatch, capsys)
        assert found == 0 and out.strip().startswith("R"), out
    assert not list((tmp_path / "x").rglob(".*"))  # nothing half-written left behind
    code, out, _ = run(
        ["export", "--date", day, "--format", "csv", "--out", str(tmp_path / "c")],
        monkeypatch,
        capsys,
    )
    assert "kokuho" not in Path(out.strip()).read_text(encoding="utf-8-sig")  # ids stay inside
    assert "visual" in Path(out.strip()).read_text(encoding="utf-8-sig")
    with pytest.raises(SystemExit):
        main(["export", "--date", "2026-02-30", "--format", "csv", "--out", "x"])
    assert "2026-02-30" in capsys.readouterr().err


def test_step_and_confirm_number(
    cli_world: World,
    env: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = run(
        [
            "checkin",
            "--world",
            str(cli_world.directory),
            "--persona",
            "new-employee",
            "--transport",
            "loopback",
            "--method",
            "visual",
            "--json",
        ],
        monkeypatch,
        capsys,
    )
    assert code == 9  # not confirmed: the ladder is next
    reception = json.loads(out)["reception_id"]
    code, _, err = run(["step", "R-none", "notice", "--detail", "x"], monkeypatch, capsys)
    assert code == 2 and "R-none" in err
    numbers = cli_world.persona("lost-newer")["numbers"]
    old_numbers = [
        "--insurer-number",
        numbers["old_insurer_number"],
        "--symbol",
        numbers["old_symbol"],
        "--number",
        numbers["old_number"],
        "--birth-date",
        cli_world.persona("lost-newer")["birth_date"],
    ]
    code, out, _ = run(
        ["confirm-number", *old_numbers, "--reception", reception], monkeypatch, capsys
    )
    assert code == 9 and "無効（新しい資格あり）" in out
    assert Store(env / "reception.sqlite").reception(reception).status == "fallback"
    code, out, _ = run(
        # no result names the patient: staff give the birth date (a 70+ お知らせ expires)
        [
            "step",
            reception,
            "notice",
            "--detail",
            "お知らせ: 健保組合 3割",
            "--birth-date",
            "1999-04-01",
        ],
        monkeypatch,
        capsys,
    )
    assert code == 0 and "資格情報のお知らせ" in out and "確認済（お知らせ）" in out
    # settled: the next rung is refused before the service is asked (issue 22 §1)
    code, out, err = run(
        ["confirm-number", *old_numbers, "--reception", reception], monkeypatch, capsys
    )
    assert code == 2 and "既に「確認済（お知らせ）」" in err and "無効" not in out
    # a 資格確認書 accepted by number: a new reception confirmed by it (issue 22 §2)
    kakunin = cli_world.persona("kakunin-expiring")
    current = kakunin["numbers"]
    code, out, err = run(
        [
            "confirm-number",
            "--insurer-number",
            current["current_insurer_number"],
            "--symbol",
            current["current_symbol"],
            "--number",
            current["current_number"],
            "--branch",
            current["current_branch"],
            "--birth-date",
            kakunin["birth_date"],
        ],
        monkeypatch,
        capsys,
    )
    assert code == 0 and "確認済（資格確認書）" in out, err
    by_number = out.split()[1].rstrip(":")
    listed = json.loads(run(["list", "--json"], monkeypatch, capsys)[1])
    statuses = {r["reception_id"]: r["status"] for r in listed}
    assert statuses[by_number] == "confirmed-certificate"
    assert statuses[reception] == "confirmed-notice"
    bad = [
        "confirm-number",
        "--insurer-number",
        "01130013",
        "--symbol",
        "1",
        "--number",
        "2",
        "--birth-date",
        "1990-01-01",
    ]
    code, _, err = run(bad, monkeypatch, capsys)
    assert code == 1 and "MOCK-E006" in err  # the service's refusal, said as it is


def test_a_checkin_the_service_answers_reverifies_the_queue(
    cli_world: World,
    env: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    persona = cli_world.persona("elderly-70-2wari")  # 70–74: may declare 2割 or 3割
    n = persona["numbers"]
    form = DECLARATION | {
        "name": persona["name"],
        "name_kana": persona["name_kana"],
        "birth_date": persona["birth_date"],
        "declared_ratio": 30,
        "insurer_number": n["current_insurer_number"],
        "symbol": n["current_symbol"],
        "number": n["current_number"],
        "branch": n["current_branch"],
    }
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


# --- hardening (issue 9) -------------------------------------------------------------------


def family_pin_checkin(world: World) -> list[str]:
    """A headless PIN check-in of the family persona's card, the PIN on standard input."""
    return [
        "checkin",
        "--world",
        str(world.directory),
        "--persona",
        "family",
        "--transport",
        "loopback",
        "--method",
        "pin",
        "--pin-stdin",
    ]


@pytest.mark.parametrize("typed", ["212", "２１２０", "abcd", "12345", ""])
def test_a_malformed_pin_exits_2_spends_no_try_and_cancels_the_reception(
    cli_world: World,
    env: Path,
    typed: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = family_pin_checkin(cli_world)
    code, out, err = run(args, monkeypatch, capsys, typed + "\n")
    assert code == 2, err
    assert "Traceback" not in err
    assert "暗証番号は4桁の半角数字です" in err and "no try was spent" in err
    if typed:
        assert typed not in err + out  # never repeated
    card = json.loads((cli_world.directory / cli_world.persona("family")["card"]).read_text())
    assert card["auth_pin"]["tries_left"] == 3
    store = Store(env / "reception.sqlite")
    (reception,) = store.receptions_on(now_jst().date())
    assert reception.status == "cancelled"
    assert "試行回数は減っていません" in (reception.reason or "")
    assert store.audit_trail(reception.reception_id)[-1]["action"] == "reception-cancelled"


def test_empty_pin_input_cancels_the_reception(
    cli_world: World,
    env: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = family_pin_checkin(cli_world)
    code, _, err = run(args, monkeypatch, capsys, "")
    assert code == 2 and "standard input is empty" in err
    (reception,) = Store(env / "reception.sqlite").receptions_on(now_jst().date())
    assert reception.status == "cancelled"


EVIL = "架空\x1b[41;97m赤\x1b]0;PWNED\x07\u202e名"


def test_text_output_shows_controls_and_json_escapes_them(
    env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A stored name with ESC/OSC/BEL/bidi (from before validation refused them): `pending`
    prints ␛ … instead of the sequences; --json keeps the data as \\u escapes."""
    from reception.declaration import SelfDeclaration
    from tests.support.forms import valid

    store = Store(env / "reception.sqlite")
    store.add_declaration(SelfDeclaration.parse(valid()).model_copy(update={"name": EVIL}))
    code, out, _ = run(["pending"], monkeypatch, capsys)
    assert code == 0 and "架空␛[41;97m赤␛]0;PWNED␇�名" in out
    assert not {"\x1b", "\x07", "\u202e"} & set(out)
    code, out, _ = run(["pending", "--json"], monkeypatch, capsys)
    assert not {"\x1b", "\x07", "\u202e"} & set(out)
    assert "\\u202e" in out
    assert json.loads(out)["declarations"][0]["name"] == EVIL  # the same data, escaped


def test_control_characters_in_a_form_are_refused_by_field(
    env: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    form = tmp_path / "form.json"
    form.write_text(json.dumps(DECLARATION | {"name": EVIL, "address": "東京\x00"}))
    code, _, err = run(["declare", "--json-file", str(form)], monkeypatch, capsys)
    assert code == 2
    assert "氏名: 使えない制御文字" in err and "U+001B (ESC)" in err
    assert "住所: 使えない制御文字" in err and "U+0000 (NUL)" in err
    assert "\x1b" not in err and "\x00" not in err
    assert Store(env / "reception.sqlite").pending() == []


KILLED_DECLARER = """
import sys
from pathlib import Path
from reception.declaration import SelfDeclaration
from reception.ladder import file_declaration
from reception.store import Store, now_jst
from tests.support.forms import valid
store = Store(Path(sys.argv[1]) / "reception.sqlite")
declaration = SelfDeclaration.parse(valid())
while True:
    filed = file_declaration(store, declaration, Path(sys.argv[1]) / "pdf")
    print(filed.declaration_id, flush=True)
"""


def test_a_declaration_killed_mid_way_is_stored_with_its_pdf_or_not_at_all(
    tmp_path: Path,
) -> None:
    import random
    import signal
    import time

    rng = random.Random(9)
    for _ in range(9):
        proc = spawn(
            [sys.executable, "-c", KILLED_DECLARER, str(tmp_path)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout is not None
        assert proc.stdout.readline().strip()  # one filed: the next is under way
        time.sleep(rng.uniform(0.0, 0.3))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    declarations = Store(tmp_path / "reception.sqlite").declarations()
    assert len(declarations) >= 9
    for d in declarations:
        assert d.pdf is not None, f"{d.declaration_id} was committed without its PDF"
        assert Path(d.pdf).stat().st_size > 1000
        assert Path(d.pdf).stat().st_mode & 0o777 == 0o600


KILLED_CHECKIN = """
import sys, time
from pathlib import Path
from reception.store import Store, now_jst
store = Store(Path(sys.argv[1]))
rid = store.begin_reception()
print(rid, flush=True)
time.sleep(60)  # a check-in under way: killed here
"""


def test_a_check_in_killed_mid_way_shows_as_interrupted(
    env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import signal

    path = env / "reception.sqlite"
    proc = spawn(
        [sys.executable, "-c", KILLED_CHECKIN, str(path)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    rid = proc.stdout.readline().strip()
    assert Store(path).reception(rid).status == "in-progress"  # its process is alive
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    store = Store(path)  # the next program to start
    assert store.interrupted == [rid]
    assert store.reception(rid).status == "interrupted"
    assert store.audit_trail(rid)[-1]["action"] == "reception-interrupted"


@pytest.mark.parametrize(
    "argv",
    [
        ["reception", "checkin", "--method", "pin", "--pin-stdin=8407"],
        ["reception", "checkin", "--method", "pin", "--pin-stdin=８４０７"],
        ["reception", "checkin", "--method", "pin", "8407"],
        ["myna-reader", "auth-test", "8407"],
        ["myna-reader", "pin-status", "--reader=x", "1234", "5678"],
    ],
)
def test_a_pin_typed_as_an_argument_is_never_repeated(argv: list[str]) -> None:
    proc = subprocess.run(
        [str(Path(sys.executable).parent / argv[0]), *argv[1:]],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2, proc.stderr
    for secret in ("8407", "８４０７", "1234", "5678"):
        assert secret not in proc.stderr + proc.stdout


def test_every_help_text_renders() -> None:
    from reception.cli import build_parser

    parser = build_parser()
    for name in (
        "checkin",
        "declare",
        "list",
        "pending",
        "reverify",
        "step",
        "confirm-number",
        "export",
        "demo",
    ):
        with pytest.raises(SystemExit) as exit_info:
            parser.parse_args([name, "--help"])
        assert exit_info.value.code == 0
    assert (
        "申し立てる負担割合（%: 10, 20, 30）"
        in subprocess.run(
            [sys.executable, "-m", "reception.cli", "declare", "--help"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )


def test_settings_errors_name_the_variable_or_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("RECEPTION_CONFIG", str(tmp_path / "none.toml"))
    monkeypatch.setenv("RECEPTION_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("RECEPTION_OQS", '{"url": 5')
    code, _, err = run(["pending"], monkeypatch, capsys)
    assert code == 2 and "environment variable RECEPTION_OQS does not parse" in err
    assert "Traceback" not in err
    monkeypatch.delenv("RECEPTION_OQS")
    monkeypatch.setenv("RECEPTION_OQS__URL", "https://127.0.0.1:1")
    monkeypatch.setenv("RECEPTION_OQS__CLIENT_CERT", str(tmp_path / "missing-cert.pem"))
    monkeypatch.setenv("RECEPTION_OQS__CLIENT_KEY", str(tmp_path / "missing-key.pem"))
    code, _, err = run(["reverify"], monkeypatch, capsys)
    assert code == 2
    assert "RECEPTION_OQS__CLIENT_CERT" in err and "missing-cert.pem" in err


def test_the_prescription_choice_from_the_command_line(
    cli_world: World,
    env: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("RECEPTION_READER__ELECTRONIC_PRESCRIPTIONS", "true")
    extra = ["--prescription", "paper"]
    code, data, err = checkin(
        cli_world, "adult-kyokai", "loopback", monkeypatch, capsys, None, extra
    )
    assert code == 0, err
    assert data["qualification"]["PrescriptionIssueSelect"] == "2"
    assert data["qualification"]["LimitApplicationCertificateRelatedConsFlg"] == "1"
    with pytest.raises(SystemExit) as exit_info:
        run(["checkin", "--method", "pin", "--prescription", "pills"], monkeypatch, capsys)
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and "electronic" in err and "paper" in err


def test_a_declaration_needs_the_card_and_no_card_means_self_pay(
    cli_world: World,
    env: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """oqs.md §6: the 申立書 goes with the マイナ保険証 shown; a patient with neither card nor
    資格確認書 pays 10割 now and claims the refund from the insurer."""
    form = tmp_path / "form.json"
    form.write_text(json.dumps(DECLARATION | {"card_shown": False}, ensure_ascii=False))
    code, _, err = run(["declare", "--json-file", str(form)], monkeypatch, capsys)
    assert code == 2 and "マイナ保険証" in err and "10割" in err
    code, out, err = run(["declare", "--json-file", str(form), "--card-shown"], monkeypatch, capsys)
    assert code == 0, err
    pdf = Path(out.split(": ", 1)[1].splitlines()[0])
    text = "".join(page.extract_text() or "" for page in PdfReader(pdf).pages)
    assert "マイナ保険証の提示" in text
    with_reason = DECLARATION | {"reason": "no-card"}
    form.write_text(json.dumps(with_reason, ensure_ascii=False))
    code, _, err = run(["declare", "--json-file", str(form)], monkeypatch, capsys)
    assert code == 2 and "10割" in err

    code, out, err = run(["no-card"], monkeypatch, capsys)
    assert code == 0 and "10割" in out, err
    store = Store(env / "reception.sqlite")
    [reception] = [r for r in store.receptions_on(now_jst().date()) if r.status == "self-pay"]
    assert reception.fallback_reason == "no-card"
    assert [step for step, _ in store.steps_of(reception.reception_id)] == ["持参なし（10割負担）"]


def test_a_headless_checkin_writes_its_face_result(
    cli_world: World,
    env: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """With a link folder set, every card confirmation lands in face/ (oqs.md §7)."""
    monkeypatch.setenv("RECEPTION_LINK__FOLDER", str(tmp_path / "clinic"))
    code, data, err = checkin(cli_world, "elderly-70-2wari", "loopback", monkeypatch, capsys)
    assert code == 0, err
    [face] = (tmp_path / "clinic" / "face").iterdir()
    # the real form (医療機関コード first), and the store maps the file to its reception
    assert re.fullmatch(r"OQSsiquc01res_face_[0-9]{10}[0-9a-f]{20}_[0-9]{14}\.xml", face.name)
    code, out, err = run(["result-file", face.name], monkeypatch, capsys)
    assert (code, out.strip()) == (0, data["reception_id"]), err
    code, _, err = run(["result-file", "OQSsiquc01res_face_1234_x.xml"], monkeypatch, capsys)
    assert code == 2 and "no reception of this store wrote it" in err
    root = check_xmlmsg(face.read_bytes())
    assert root.find(".//ElderlyRecipientCertificateInfo") is not None


def test_the_doctors_view_from_the_command_line(
    cli_world: World,
    env: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, data, err = checkin(cli_world, "limit-u", "loopback", monkeypatch, capsys)
    assert code == 0, err
    reception = data["reception_id"]
    code, out, err = run(["records", reception, "--json"], monkeypatch, capsys)
    assert code == 0, err
    records = json.loads(out)["records"]
    assert records["medications"]["status"] is None and records["medications"]["rows"]
    assert records["checkups"]["rows"] and records["checkups"]["rows"][0]["reference"]
    code, out, _ = run(["records", reception, "--kind", "medications"], monkeypatch, capsys)
    assert code == 0 and out.startswith("薬剤情報（3年）: ")
    assert "用法" not in out and "1日" in out  # the rows, not the headers
    # no consent given at the reader: said per kind, exit 0 (nothing failed)
    forget_service_state(cli_world, "consent_records")  # earlier tests' consents last 24 h
    code, data, _ = checkin(
        cli_world, "kokuho", "loopback", monkeypatch, capsys, extra=["--consent", ""]
    )
    code, out, _ = run(["records", data["reception_id"]], monkeypatch, capsys)
    assert code == 0 and out.count("同意なし") == 4
    # a reception that is not a confirmed card check-in names no patient
    code, _, err = run(["records", "R-nonexistent"], monkeypatch, capsys)
    assert code == 2 and "R-nonexistent" in err
