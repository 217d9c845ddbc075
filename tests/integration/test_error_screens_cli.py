"""The reader's numbered error screens headless (issue 24 §1): ``reception checkin
--json`` prints the screen's number, and the store's reason begins with it — for the
cards that are not My Number cards of every world (a transit card and a credit card:
【002】; an old 住基カード: 【S01】, loopback and pcscd + vpcd), a card taken away half-way
(【S02】), a card that cannot be read (【001】) and a revoked certificate (【006】)."""

from __future__ import annotations

import asyncio
import io
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mock_oqs.other_cards import OTHER_CARDS
from mock_oqs.world import World
from reader.virtual.hostile import NonsenseCard
from reader.virtual.loopback import LoopbackTransport
from reception.checkin import CheckinRequest, check_in
from reception.cli import main
from reception.flow import Method, State
from reception.store import Store
from tests.support.checkin import card_of, pin_of, terminal_of
from tests.support.cli import copied_world, service_env
from tests.support.oqs import in_process
from tests.support.stack import CardLeavesAfter, mock_oqs_serving


@pytest.fixture(scope="module")
def screens_world(world: World, tmp_path_factory: pytest.TempPathFactory) -> World:
    return copied_world(world, tmp_path_factory, "screens")


@pytest.fixture(scope="module")
def server(screens_world: World) -> Iterator[str]:
    with mock_oqs_serving(screens_world) as (_, url):
        yield url


@pytest.fixture
def env(screens_world: World, server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return service_env(screens_world, server, tmp_path, monkeypatch)


def checkin(
    world: World,
    persona: str,
    transport: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    *,
    pin: str = "",
    json_out: bool = True,
) -> tuple[int, dict[str, Any], str, str]:
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
        "pin",
        "--pin-stdin",
        *(["--json"] if json_out else []),
    ]
    monkeypatch.setattr(sys, "stdin", io.StringIO(f"{pin}\n"))
    code = main(args)
    out, err = capsys.readouterr()
    data = json.loads(out) if json_out and out.strip().startswith("{") else {}
    return code, data, out, err


def test_every_world_lists_its_other_cards_with_their_promise(screens_world: World) -> None:
    listed = screens_world.index["other_cards"]
    assert [c["id"] for c in listed] == [c.id for c in OTHER_CARDS]
    for entry in listed:
        assert entry["expect"]["screen"] in ("002", "S01")
        assert (screen_file := screens_world.directory / entry["card"]).exists(), screen_file
        assert screens_world.other_card(entry["id"]) == entry
    assert screens_world.other_card("adult-kyokai") is None  # personas are not among them


@pytest.mark.parametrize("case", [c.id for c in OTHER_CARDS])
@pytest.mark.parametrize("transport", ["loopback", pytest.param("pcsc", marks=pytest.mark.pcscd)])
def test_a_card_that_is_not_a_my_number_card(
    screens_world: World,
    env: Path,
    case: str,
    transport: str,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    if transport == "pcsc":
        request.getfixturevalue("pcscd")
    expect = screens_world.other_card(case)["expect"]  # type: ignore[index]
    code, data, _, err = checkin(screens_world, case, transport, monkeypatch, capsys)
    assert code == 9, err  # pending, for the ladder (exit codes unchanged)
    assert data["state"] == expect["state"] and data["outcome"] == expect["outcome"]
    assert data["error_screen"] == expect["screen"], err
    assert data["error_screen_title"]
    assert "残り" not in err  # no PIN was asked: the card was refused before
    store = Store(env / "reception.sqlite")
    reception = store.reception(data["reception_id"])
    assert reception.reason is not None and reception.reason.startswith(f"【{expect['screen']}】")
    # staff's list and queue show the number too
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    assert main(["pending"]) == 0
    assert f"【{expect['screen']}】" in capsys.readouterr().out


def test_the_words_for_staff_name_the_number_and_what_to_do(
    screens_world: World,
    env: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, _, out, _ = checkin(
        screens_world, "juki-card", "loopback", monkeypatch, capsys, json_out=False
    )
    assert code == 9
    assert "画面 【S01】 住民基本台帳カード:" in out and "資格確認書" in out


def test_a_revoked_certificate_shows_006(
    screens_world: World,
    env: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    pin = screens_world.persona("revoked")["pin"]
    code, data, _, err = checkin(screens_world, "revoked", "loopback", monkeypatch, capsys, pin=pin)
    assert code == 9, err
    assert data["fallback_reason"] == "certificate-revoked"
    assert data["error_screen"] == "006"
    assert data["error_screen_title"] == "利用者証明用電子証明書の失効・有効期限切れ"


def test_an_unknown_card_id_is_refused_naming_the_other_cards(
    screens_world: World,
    env: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, _, _, err = checkin(screens_world, "library-card", "loopback", monkeypatch, capsys)
    assert code != 0
    assert "library-card" in err and "transit-card" in err


def test_a_confirmed_check_in_has_no_screen(
    screens_world: World,
    env: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    pin = screens_world.persona("adult-kyokai")["pin"]
    code, data, _, _ = checkin(
        screens_world, "adult-kyokai", "loopback", monkeypatch, capsys, pin=pin
    )
    assert code == 0 and data["error_screen"] is None


@pytest.mark.parametrize(
    ("make", "state", "screen"),
    [
        ("removed", State.CARD_REMOVED, "S02"),
        ("nonsense", State.CARD_UNREADABLE, "001"),
    ],
)
def test_a_card_taken_away_half_way_or_unreadable(
    world: World, tmp_path: Path, make: str, state: State, screen: str
) -> None:
    card = card_of(world, "adult-kyokai")
    transport = (
        CardLeavesAfter(card, after=3)
        if make == "removed"
        else LoopbackTransport(NonsenseCard(card, bytes.fromhex("EAE9")))
    )
    store = Store(tmp_path / "store.sqlite")
    request = CheckinRequest(Method.PIN, pin_source=pin_of(world, "adult-kyokai"))

    async def go() -> Any:
        async with in_process(world) as client:
            return await check_in(transport, client, store, terminal_of(world), request)

    outcome = asyncio.run(go())
    assert outcome.state is state
    assert outcome.screen is not None and outcome.screen.code == screen
    reason = store.reception(outcome.reception_id).reason
    assert reason is not None and reason.startswith(f"【{screen}】")


def test_vcard_serve_kind_rejects_garbage(tmp_path: Path) -> None:
    vcard = str(Path(sys.executable).parent / "vcard")

    def serve(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [vcard, "serve", *args, "--port", "1"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )

    unknown = serve("--kind", "library")
    assert unknown.returncode == 2 and "invalid choice: 'library'" in unknown.stderr
    both = serve("--kind", "transit", "--profile", str(tmp_path / "x.json"))
    assert both.returncode == 2 and "not allowed with" in both.stderr
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "myna-sim/other-card/1", "kind": "library"}')
    said = serve("--profile", str(bad))
    assert said.returncode == 2 and "unknown kind 'library'" in said.stderr
