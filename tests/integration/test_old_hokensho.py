"""The expired 保険証 headless (persona ``old-hokensho``; reception/old_card.py): its card
falls back (no 保険証利用登録), the numbers printed on its old 保険証 confirm the
qualification by ``reception old-card`` on the interim rule's days (``--today``
2025-12-02..2026-03-31), and are refused before and after with what to do instead. The
お知らせ rung's 有効期限 for a 70+ patient (``step … notice --notice-until``)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mock_oqs.world import World
from reception.store import Store
from tests.support.cli import copied_world, run_cli, service_env
from tests.support.stack import mock_oqs_serving


@pytest.fixture(scope="module")
def old_world(world: World, tmp_path_factory: pytest.TempPathFactory) -> World:
    return copied_world(world, tmp_path_factory, "old-card")


@pytest.fixture(scope="module")
def server(old_world: World) -> Iterator[str]:
    with mock_oqs_serving(old_world, workers=1) as (_, url):
        yield url


@pytest.fixture
def env(old_world: World, server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return service_env(old_world, server, tmp_path, monkeypatch)


run = run_cli


def printed(world: World) -> list[str]:
    """The numbers printed on the persona's old 保険証, as world.json gives them."""
    entry = world.persona("old-hokensho")
    card = entry["expect"]["old_card"]
    args = ["--insurer-number", card["insurer_number"], "--number", card["number"]]
    args += ["--symbol", card["symbol"], "--branch", card["branch"]]
    return [*args, "--birth-date", entry["birth_date"]]


def checkin(
    world: World, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> dict[str, Any]:
    args = ["checkin", "--world", str(world.directory), "--persona", "old-hokensho"]
    args += ["--transport", "loopback", "--method", "visual", "--json"]
    code, out, err = run(args, monkeypatch, capsys)
    assert code == 9, err  # no 保険証利用登録: the ladder is next
    answer: dict[str, Any] = json.loads(out)
    return answer


def test_world_json_promises_the_old_card(old_world: World) -> None:
    entry = old_world.persona("old-hokensho")
    card = entry["expect"]["old_card"]
    assert card["printed_until"] <= "2025-12-01"
    assert (card["interim_from"], card["interim_until"]) == ("2025-12-02", "2026-03-31")
    assert (card["in_window"], card["after_window"]) == ("confirmed-certificate", "refused")
    numbers = entry["numbers"]
    assert card["insurer_number"] == numbers["current_insurer_number"]
    assert card["number"] == numbers["current_number"] and card["symbol"]
    assert entry["expect"]["reason"] == "not-registered"


@pytest.mark.parametrize("day", ["2025-12-02", "2026-01-20", "2026-03-31"])
def test_in_the_window_the_old_card_confirms_the_reception(
    day: str,
    old_world: World,
    env: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    reception = checkin(old_world, monkeypatch, capsys)["reception_id"]
    until = old_world.persona("old-hokensho")["expect"]["old_card"]["printed_until"]
    args = ["--today", day, "old-card", *printed(old_world), "--printed-until", until]
    code, out, err = run([*args, "--reception", reception], monkeypatch, capsys)
    assert code == 0, err
    assert "有効期限切れの保険証" in out and "確認済（資格確認書）" in out
    assert "2026-03-31 まで" in out and "資格確認書を必ず" in out
    store = Store(env / "reception.sqlite")
    assert store.reception(reception).status == "confirmed-certificate"
    [(step, detail)] = store.steps_of(reception)
    assert step == "有効期限切れの保険証" and f"記載の有効期限 {until}" in detail


@pytest.mark.parametrize("day", ["2026-04-01", "2026-11-24", "2025-12-01"])
def test_outside_the_window_the_old_card_is_refused_before_the_service(
    day: str,
    old_world: World,
    env: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    reception = checkin(old_world, monkeypatch, capsys)["reception_id"]
    args = ["--today", day, "old-card", *printed(old_world), "--reception", reception]
    code, out, err = run(args, monkeypatch, capsys)
    assert code == 2 and out == ""
    if day >= "2026-04-01":
        assert "2026-03-31 で終わりました" in err
        assert "マイナ保険証" in err and "資格確認書" in err and "10割" in err
    else:
        assert "暫定取扱い（2025-12-02〜2026-03-31）の前" in err
    store = Store(env / "reception.sqlite")
    assert store.reception(reception).status == "fallback" and store.steps_of(reception) == []


def test_the_notice_alone_and_a_new_reception(
    old_world: World, env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A お知らせ brought alone, in the window: a new reception, confirmed by its numbers."""
    args = ["--today", "2026-02-10", "old-card", *printed(old_world), "--notice-only"]
    code, out, err = run(args, monkeypatch, capsys)
    assert code == 0, err
    assert "資格情報のお知らせのみ（2026-02-10）" in out and "確認済（資格確認書）" in out
    rid = out.split()[1].rstrip(":")
    assert Store(env / "reception.sqlite").reception(rid).status == "confirmed-certificate"


def test_bad_input_is_refused_with_its_reason(
    old_world: World, env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["--today", "2026-01-10", "old-card", *printed(old_world)]
    code, _, err = run([*base, "--printed-until", "2026-07-31"], monkeypatch, capsys)
    assert code == 2 and "保険証の有効期限は最長 2025-12-01" in err
    with pytest.raises(SystemExit) as exited:
        run([*base, "--printed-until", "R7.7.31x"], monkeypatch, capsys)
    assert exited.value.code == 2 and "--printed-until: not a date" in capsys.readouterr().err
    code, _, err = run([*base, "--reception", "R-none"], monkeypatch, capsys)
    assert code == 2 and "R-none" in err
    wrong = ["--today", "2026-01-10", "old-card", "--insurer-number", "01130015"]
    code, _, err = run([*wrong, "--number", "1", "--birth-date", "1960-01-01"], monkeypatch, capsys)
    assert code == 2 and "検証番号" in err
    unknown = ["--today", "2026-01-10", "old-card", "--insurer-number", "01130012"]
    code, out, err = run(
        [*unknown, "--number", "1", "--birth-date", "1960-01-01"], monkeypatch, capsys
    )
    assert code == 9 and "確認済" not in out, err  # nobody by these numbers


def test_the_notice_rung_asks_the_expiry_of_a_70_plus_notice(
    old_world: World, env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """elderly-70-2wari's お知らせ ends on 7/31 (the ratio changes each 8/1); the reception
    knows nobody (a reader fault), so the birth date is entered."""
    birth = old_world.persona("elderly-70-2wari")["birth_date"]
    young = old_world.persona("adult-kyokai")["birth_date"]
    store_path = env / "reception.sqlite"

    def pending() -> str:
        store = Store(store_path)
        rid = store.begin_reception()
        store.finish_reception(rid, status="fallback", reason="カードを読み取れません")
        return rid

    rid = pending()
    step = ["--today", "2026-08-03", "step", rid, "notice", "--detail", "お知らせ 2割"]
    code, _, err = run(step, monkeypatch, capsys)
    assert code == 2 and "生年月日を入力" in err
    code, _, err = run([*step, "--birth-date", birth], monkeypatch, capsys)
    assert code == 2 and "有効期限を入力" in err
    expired = [*step, "--birth-date", birth, "--notice-until", "2026-07-31"]
    code, _, err = run(expired, monkeypatch, capsys)
    assert code == 2 and "有効期限（2026-07-31）が切れています" in err and "8月1日" in err
    assert Store(store_path).steps_of(rid) == []
    valid = [*step, "--birth-date", birth, "--notice-until", "2027-07-31"]
    code, out, err = run(valid, monkeypatch, capsys)
    assert code == 0 and "確認済（お知らせ）" in out, err
    # under 70: no date asked
    young_rid = pending()
    plain = ["--today", "2026-08-03", "step", young_rid, "notice", "--detail", "お知らせ 3割"]
    code, out, err = run([*plain, "--birth-date", young], monkeypatch, capsys)
    assert code == 0 and "確認済（お知らせ）" in out, err
    code, _, err = run(
        ["step", young_rid, "portal", "--detail", "x 3割", "--notice-until", "2026-07-31"],
        monkeypatch,
        capsys,
    )
    assert code == 2 and "notice rung only" in err
