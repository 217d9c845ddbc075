"""後期高齢者 and the 資格確認書 (issue 24 §2): a world seeded on 2026-07-31 gives every 後期
member one (8/1 → 7/31, the 暫定運用); one seeded on 2026-08-01 only those without a マイナ
保険証. The 資格確認書 rung accepts the document on its last day and refuses it the day
after — whether the service's day (``mock-oqs serve --today``) or the terminal's
(``reception --today``) says so."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from mock_oqs.world import World
from reception.cli import main
from tests.support.cli import number_query
from tests.support.stack import mock_oqs_serving

BIN = Path(sys.executable).parent
KOKI_PERSONAS = ("late-elderly-1wari", "late-elderly-2wari", "face-only")


def seeded(directory: Path, day: str) -> World:
    """A world made by the command line, on ``day``."""
    subprocess.run(
        [str(BIN / "mock-oqs"), "seed", "--out", str(directory), "--today", day],
        check=True,
        capture_output=True,
        text=True,
    )
    return World.load(directory)


@pytest.fixture(scope="module")
def july(tmp_path_factory: pytest.TempPathFactory) -> World:
    return seeded(tmp_path_factory.mktemp("kouki") / "0731", "2026-07-31")


@pytest.fixture(scope="module")
def august(tmp_path_factory: pytest.TempPathFactory) -> World:
    return seeded(tmp_path_factory.mktemp("kouki") / "0801", "2026-08-01")


def test_on_july_31_every_koki_member_holds_one(july: World) -> None:
    for persona in KOKI_PERSONAS:
        held = july.persona(persona)["expect"]["kakunin"]
        assert held is not None, persona
        assert (held["issued"], held["expires"]) == ("2025-08-01", "2026-07-31"), persona
        assert held["insurer_number"] == "39130018"


def test_on_august_1_only_those_without_a_myna_card(august: World) -> None:
    for persona in KOKI_PERSONAS:  # each has a registered マイナ保険証
        assert august.persona(persona)["expect"]["kakunin"] is None, persona
    # who has no registration holds one of the new year (the cancelled one: 8/1 → 7/31)
    held = august.persona("deregistered")["expect"]["kakunin"]
    assert (held["issued"], held["expires"]) == ("2026-08-01", "2027-07-31")
    assert august.persona("kakunin-expiring")["expect"]["kakunin"] is not None
    assert august.persona("adult-kyokai")["expect"]["kakunin"] is None


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("RECEPTION_CONFIG", str(tmp_path / "none.toml"))
    monkeypatch.setenv("RECEPTION_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data"


def by_number(
    world: World,
    persona: str,
    url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    *front: str,
) -> tuple[int, str]:
    """``reception [front] confirm-number`` with the persona's numbers, against ``url``."""
    monkeypatch.setenv("RECEPTION_OQS__URL", url)
    monkeypatch.setenv("RECEPTION_OQS__CLIENT_CERT", str(world.terminal_cert))
    monkeypatch.setenv("RECEPTION_OQS__CLIENT_KEY", str(world.terminal_key))
    monkeypatch.setenv("RECEPTION_OQS__CA", str(world.facility_ca))
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    entry = world.persona(persona)
    code = main(
        [
            *front,
            *number_query(entry),
        ]
    )
    out, err = capsys.readouterr()
    return code, out + err


@pytest.fixture(scope="module")
def july_served(july: World) -> Iterator[str]:
    with mock_oqs_serving(july) as (_, url):
        yield url


@pytest.mark.usefixtures("env")
def test_the_document_is_accepted_on_its_last_day_and_refused_the_day_after(
    july: World,
    july_served: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out = by_number(july, "late-elderly-1wari", july_served, monkeypatch, capsys)
    assert code == 0 and "確認済（資格確認書）" in out, out
    assert "資格確認書 交付 2025/08/01  有効期限 2026/07/31" in out
    # the terminal plays 8/1: the same document, one day late
    code, out = by_number(
        july, "late-elderly-1wari", july_served, monkeypatch, capsys, "--today", "2026-08-01"
    )
    assert code == 9, out
    assert "資格確認書の有効期限切れ（2026/07/31）" in out and "確認済" not in out
    # on the service's side: served on 8/1, the world of 7/31
    with mock_oqs_serving(july, options=("--today", "2026-08-01")) as (_, url):
        code, out = by_number(july, "late-elderly-2wari", url, monkeypatch, capsys)
    assert code == 9 and "資格確認書の有効期限切れ（2026/07/31）" in out, out


@pytest.mark.usefixtures("env")
def test_bad_days_are_refused(
    july: World,
    july_served: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for garbage in ("2026-02-30", "2026-7-31x", "tomorrow", ""):
        with pytest.raises(SystemExit) as exc:
            by_number(
                july, "late-elderly-1wari", july_served, monkeypatch, capsys, "--today", garbage
            )
        said = capsys.readouterr().err
        assert exc.value.code == 2 and "--today" in said and "not a date" in said, said
    done = subprocess.run(
        [str(BIN / "mock-oqs"), "seed", "--out", "/nonexistent/x", "--today", "2026-13-01"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2 and "--today" in done.stderr


@pytest.mark.usefixtures("env")
def test_august_world_a_member_without_registration_is_accepted_with_the_new_year(
    august: World, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with mock_oqs_serving(august) as (_, url):
        code, out = by_number(august, "deregistered", url, monkeypatch, capsys)
        assert code == 0 and "資格確認書 交付 2026/08/01  有効期限 2027/07/31" in out, out
        # a 後期 member with a マイナ保険証 holds none: the result states no 資格確認書
        code, out = by_number(august, "late-elderly-1wari", url, monkeypatch, capsys)
    assert code == 0 and "資格確認書 交付" not in out, out
    assert json.loads((august.directory / "world.json").read_text())["today"] == "2026-08-01"
