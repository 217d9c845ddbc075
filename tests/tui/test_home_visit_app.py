"""The マイナ資格確認アプリ (居宅同意取得型) screen, by keys and by clicks: the activation
code (refused when wrong, accepted once), the card, the consents, PIN or 目視, the result;
in 資格確認限定型 no consent question. Also the console in that mode: its header says so and
the 診療情報 tab refuses."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest
from textual.pilot import Pilot

from mock_oqs.app import ServiceSettings, create_app
from mock_oqs.world import World
from reception.checkin import ExpectedCard, Terminal
from reception.home_visit.codes import issue
from reception.home_visit.mode import Mode
from reception.oqs_client import OqsClient
from reception.settings import OqsSettings, ReceptionSettings
from reception.sim.cards import LoopbackCards
from reception.sim.world import WorldFiles
from reception.store import Store, now_jst
from reception.tui.app import ReceptionApp
from reception.tui.home_visit_app import HomeVisitApp, HomeVisitServices
from tests.support.oqs import with_client_cert
from tests.support.stack import WORLD_TODAY
from tests.support.tui import drive, services, shown, text, type_pin, until

SIZE = (100, 30)


def app_for(
    world: World, tmp_path: Path, persona: str, mode: Mode = Mode.FULL
) -> tuple[HomeVisitApp, Store]:
    settings = ReceptionSettings(data_dir=tmp_path / "data", mode=mode)
    store = Store(settings.store_path)
    files = WorldFiles.open(world.directory)
    service = create_app(ServiceSettings(world=world.directory, today=WORLD_TODAY))
    pem = world.terminal_cert.read_text()
    client = OqsClient(
        OqsSettings(retries=0),
        transport=httpx.ASGITransport(app=with_client_cert(service, pem)),
    )
    cards = LoopbackCards()
    expected = ExpectedCard(files.certificate_sha256(persona), persona)
    return (
        HomeVisitApp(
            HomeVisitServices(
                store=store,
                terminal=Terminal.load(world.terminal_cert, world.terminal_key),
                settings=settings,
                client=client,
                cards=cards,
                place=lambda: cards.place(persona, files.card(persona), expected),
                persona=persona,
            )
        ),
        store,
    )


async def typed(pilot: Pilot[None], value: str) -> None:
    for char in value:
        await pilot.press(char)
    await pilot.press("enter")


def test_by_keys_a_bad_code_then_a_good_one_pin_and_consents(
    tui_world: World, tmp_path: Path
) -> None:
    app, store = app_for(tui_world, tmp_path, "adult-kyokai")
    code = issue(store).code
    pin = tui_world.persona("adult-kyokai")["pin"]

    async def scenario() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            assert shown(app, "#app-activate") and not shown(app, "#app-card")
            await typed(pilot, "HELLO")
            assert "形式が違います" in text(app, "#app-status")
            await typed(pilot, "ABCD-EFGH-JKLM")
            assert "発行されていません" in text(app, "#app-status")
            await typed(pilot, code.lower())
            await until(pilot, lambda: shown(app, "#app-card"))
            assert "有効化しました" in text(app, "#app-status")
            await pilot.press("enter")  # カードを読み取る (focused)
            await until(pilot, lambda: shown(app, "#counter-consents"))  # consents first
            await pilot.press("y")  # まとめて同意
            await until(pilot, lambda: shown(app, "#counter-methods"))
            assert not app.query("#counter-method-face")  # a phone: no camera
            await pilot.press("2")  # 暗証番号
            await until(pilot, lambda: shown(app, "#counter-pin"))
            await type_pin(pilot, pin)
            await until(pilot, lambda: shown(app, "#app-result"))
            result = text(app, "#app-result-text")
            assert "同意: 薬剤情報・診療情報・特定健診情報" in result, result
            assert "OQSmuhvq" in result

    asyncio.run(scenario())
    receptions = store.receptions_on(now_jst().date())
    assert [(r.status, r.route) for r in receptions] == [("confirmed", "counter")]
    entry = store.results_of(receptions[0].reception_id)[0].entries[0]
    assert entry.pharmacists_info_cons_flg == "1"
    assert entry.specific_health_checkups_info_cons_flg == "1"
    assert entry.operation_info_cons_flg == "0"  # not asked on this route


def test_by_clicks_an_activated_app_confirms_by_sight_without_consents(
    tui_world: World, tmp_path: Path
) -> None:
    app, store = app_for(tui_world, tmp_path, "kokuho")
    code = issue(store).code

    async def scenario() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            app.query_one("#app-code-input").value = code  # type: ignore[attr-defined]
            await pilot.click("#app-activate-ok")
            await until(pilot, lambda: shown(app, "#app-card"))
            await pilot.click("#app-read")
            await until(pilot, lambda: shown(app, "#counter-consents"))
            await pilot.click("#counter-none")  # 同意しない
            await until(pilot, lambda: shown(app, "#counter-methods"))
            await pilot.click("#counter-method-visual")
            await until(pilot, lambda: shown(app, "#counter-visual"))
            await pilot.click("#counter-visual-ok")
            await until(pilot, lambda: shown(app, "#app-result"))
            assert "同意: なし（資格情報のみ）" in text(app, "#app-result-text")
            await pilot.click("#app-next")  # the next patient: no code asked again
            await until(pilot, lambda: shown(app, "#app-card"))

    asyncio.run(scenario())
    receptions = store.receptions_on(now_jst().date())
    assert [(r.status, r.method) for r in receptions] == [("confirmed", "visual")]


def test_an_activated_device_opens_at_the_card_and_a_used_code_is_refused(
    tui_world: World, tmp_path: Path
) -> None:
    from reception.home_visit.codes import activate

    app, store = app_for(tui_world, tmp_path, "kokuho")
    activate(store, issue(store).code, "app-1")

    async def scenario() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            assert shown(app, "#app-card") and not shown(app, "#app-activate")

    asyncio.run(scenario())


def test_limited_mode_app_asks_no_consents(tui_world: World, tmp_path: Path) -> None:
    app, store = app_for(tui_world, tmp_path, "adult-kyokai", Mode.LIMITED)
    code = issue(store).code
    pin = tui_world.persona("adult-kyokai")["pin"]
    seen: list[str] = []

    async def scenario() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            assert app.sub_title == "資格確認限定型"
            await typed(pilot, code)
            await until(pilot, lambda: shown(app, "#app-card"))
            await pilot.click("#app-read")
            await until(pilot, lambda: shown(app, "#counter-methods"))
            seen.append("consents" if shown(app, "#counter-consents") else "")
            await pilot.click("#counter-method-pin")
            await until(pilot, lambda: shown(app, "#counter-pin"))
            await type_pin(pilot, pin)
            await until(pilot, lambda: shown(app, "#app-result"))
            assert "同意: なし（資格情報のみ）" in text(app, "#app-result-text")

    asyncio.run(scenario())
    assert seen == [""]
    receptions = store.receptions_on(now_jst().date())
    entry = store.results_of(receptions[0].reception_id)[0].entries[0]
    flags = [
        entry.pharmacists_info_cons_flg,
        entry.specific_health_checkups_info_cons_flg,
        entry.limit_application_certificate_related_cons_flg,
    ]
    assert flags == ["0", "0", "0"]


def test_limited_mode_console_says_so_and_refuses_the_records(
    tui_world: World, tmp_path: Path
) -> None:
    svc = services(tui_world, tmp_path)
    svc.settings = svc.settings.model_copy(update={"mode": Mode.LIMITED})
    pin = tui_world.persona("adult-kyokai")["pin"]

    async def scenario(pilot: Pilot[None], app: ReceptionApp) -> None:
        assert "資格確認限定型" in app.sub_title
        app.place_card("adult-kyokai")
        await until(pilot, lambda: app.panel.view == "method")
        await pilot.press("2")
        await until(pilot, lambda: app.panel.view == "pin")
        await type_pin(pilot, pin)
        await until(pilot, lambda: app.panel.view == "done")  # the consent view never opened
        await pilot.click("#tab-records")  # 診療情報 tab
        await until(pilot, lambda: "資格確認限定型" in text(app, "#records-patient"))

    asyncio.run(drive(svc, scenario))
    receptions = svc.store.receptions_on(now_jst().date())
    assert [r.status for r in receptions] == ["confirmed"]
    entry = svc.store.results_of(receptions[0].reception_id)[0].entries[0]
    assert entry.pharmacists_info_cons_flg == "0"
    assert entry.limit_application_certificate_related_cons_flg == "0"


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
def test_snapshot_the_app_asks_the_consents(
    snap_compare: Any, tui_world: World, tmp_path: Path, size: tuple[int, int]
) -> None:
    app, store = app_for(tui_world, tmp_path, "adult-kyokai")
    code = issue(store).code

    async def run_before(pilot: Pilot[None]) -> None:
        await typed(pilot, code)
        await until(pilot, lambda: shown(app, "#app-card"))
        await pilot.click("#app-read")
        await until(pilot, lambda: shown(app, "#counter-consents"))

    assert snap_compare(app, terminal_size=size, run_before=run_before)


def test_the_console_issues_a_code_the_app_accepts_once(tui_world: World, tmp_path: Path) -> None:
    from reception.home_visit.codes import ActivationRefused, activate
    from reception.tui.screens.app_code import AppCodeScreen

    svc = services(tui_world, tmp_path)
    shown_code: list[str] = []

    async def scenario(pilot: Pilot[None], app: ReceptionApp) -> None:
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert "アプリのアクティベーションコード" in titles  # the command palette's (Ctrl+P)
        app.show_app_code()
        await until(pilot, lambda: isinstance(app.screen, AppCodeScreen))
        shown_code.append(text(app.screen, "#app-code-value").split()[-1])
        assert "1回限り" in text(app.screen, "#app-code-note")
        await pilot.click("#app-code-close")
        await until(pilot, lambda: not isinstance(app.screen, AppCodeScreen))

    asyncio.run(drive(svc, scenario))
    (code,) = shown_code
    assert activate(svc.store, code, "app-9").device == "app-9"
    with pytest.raises(ActivationRefused, match="使用済み"):
        activate(svc.store, code, "app-10")


def test_by_enter_alone_the_focused_answers(tui_world: World, tmp_path: Path) -> None:
    """Each question focuses its first button (まとめて同意, 暗証番号): Enter answers, as on
    the reader panel — before, nothing had focus and Enter did nothing."""
    app, store = app_for(tui_world, tmp_path, "adult-kyokai")
    code = issue(store).code
    pin = tui_world.persona("adult-kyokai")["pin"]

    async def scenario() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            await typed(pilot, code)
            await until(pilot, lambda: shown(app, "#app-card"))
            await pilot.press("enter")  # カードを読み取る
            await until(pilot, lambda: shown(app, "#counter-consents"))
            await until(
                pilot, lambda: app.focused is not None and app.focused.id == "counter-bundle"
            )
            await pilot.press("enter")  # まとめて同意
            await until(pilot, lambda: shown(app, "#counter-methods"))
            await until(
                pilot, lambda: app.focused is not None and app.focused.id == "counter-method-pin"
            )
            await pilot.press("enter")  # 暗証番号
            await until(pilot, lambda: shown(app, "#counter-pin"))
            await type_pin(pilot, pin)
            await until(pilot, lambda: shown(app, "#app-result"))

    asyncio.run(scenario())
    [reception] = store.receptions_on(now_jst().date())
    assert reception.status == "confirmed"
