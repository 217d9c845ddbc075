"""The Textual terminal driven by Pilot: the main paths at the reader panel and the
staff console, against the real app in process and the personas' virtual cards."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import Button, Checkbox, Select, TabbedContent

from mock_oqs.world import World
from reader.transport import Transport
from reception.questions import ChooseMethod
from reception.store import now_jst
from reception.tui.app import ReceptionApp
from reception.tui.services import Services
from reception.tui.widgets.demo import DemoPanel
from reception.vocabulary import Method
from tests.support.forms import click_save
from tests.support.tui import at_view, drive, pin_to, services, shown, text, type_pin, until


def test_pin_success_with_consents(tui_world: World, tmp_path: Path) -> None:
    svc = services(tui_world, tmp_path)
    pin = tui_world.persona("adult-kyokai")["pin"]

    async def scenario(pilot: Pilot[None], app: ReceptionApp) -> None:
        assert "カードを置いてください" in text(app, "#wait-title")
        app.place_card("adult-kyokai")
        await at_view(pilot, app, "method")
        await pilot.click("#method-pin")
        await at_view(pilot, app, "pin")
        assert "残り3回" in text(app, "#pin-tries")
        await type_pin(pilot, pin)
        await at_view(pilot, app, "consents")
        assert not shown(app, "#limit-title")  # no 限度額 question since 2024-10-07
        await pilot.click("#consent-bundle")  # まとめて同意
        await at_view(pilot, app, "done")
        assert "カードをお取りください" in text(app, "#done-title")
        assert "3割" in text(app, "#done-detail")
        await until(pilot, lambda: "負担割合 3割" in text(app, "#detail"))

    asyncio.run(drive(svc, scenario))
    receptions = svc.store.receptions_on(now_jst().date())
    assert [r.status for r in receptions] == ["confirmed"]
    result = svc.store.results_of(receptions[0].reception_id)[0]
    assert result.entries[0].pharmacists_info_cons_flg == "1"  # the consents reached the service


def test_wrong_pin_then_success(tui_world: World, tmp_path: Path) -> None:
    svc = services(tui_world, tmp_path)
    pin = tui_world.persona("family")["pin"]
    wrong = "0000" if pin != "0000" else "1111"

    async def scenario(pilot: Pilot[None], app: ReceptionApp) -> None:
        app.place_card("family")
        await at_view(pilot, app, "method")
        await pilot.click("#method-pin")
        await at_view(pilot, app, "pin")
        await type_pin(pilot, wrong)
        await until(pilot, lambda: "残り2回" in text(app, "#pin-tries"))
        assert "あと2回" in text(app, "#pin-message")
        await type_pin(pilot, pin)
        await at_view(pilot, app, "consents")
        await pilot.click("#consent-none")
        await at_view(pilot, app, "done")

    asyncio.run(drive(svc, scenario))
    assert [r.status for r in svc.store.receptions_on(now_jst().date())] == ["confirmed"]


def test_blocked_pin_then_face_fails_then_visual(tui_world: World, tmp_path: Path) -> None:
    svc = services(tui_world, tmp_path)

    async def scenario(pilot: Pilot[None], app: ReceptionApp) -> None:
        app.place_card("pin-blocked")
        await at_view(pilot, app, "method")
        await until(pilot, lambda: "ロック" in text(app, "#method-message"))
        assert not shown(app, "#method-pin")  # no PIN button on a blocked card
        await pilot.click("#method-face")
        await at_view(pilot, app, "face")
        for _ in range(3):
            await pilot.click("#scenario-other")
            await pilot.click("#face-shoot")
            await at_view(pilot, app, "method")
            if shown(app, "#method-face"):
                await pilot.click("#method-face")
                await at_view(pilot, app, "face")
        assert not shown(app, "#method-face")  # the face limit is reached
        await pilot.click("#method-visual")
        await until(pilot, lambda: app.screen.__class__.__name__ == "VisualCheckScreen")
        await pilot.click("#visual-ok")
        await at_view(pilot, app, "consents")
        await pilot.click("#consent-none")
        await at_view(pilot, app, "done")

    asyncio.run(drive(svc, scenario))
    reception = svc.store.receptions_on(now_jst().date())[0]
    assert reception.status == "confirmed" and reception.method == "visual"
    assert "visual-check" in [a["action"] for a in svc.store.audit_trail(reception.reception_id)]


def test_card_removed_mid_flow(tui_world: World, tmp_path: Path) -> None:
    svc = services(tui_world, tmp_path)

    async def scenario(pilot: Pilot[None], app: ReceptionApp) -> None:
        app.place_card("adult-kyokai")
        await at_view(pilot, app, "method")
        await pilot.click("#method-pin")
        await at_view(pilot, app, "pin")
        app.remove_card()
        await until(pilot, lambda: not app.desk.running)
        await pilot.pause()

    asyncio.run(drive(svc, scenario))
    reception = svc.store.receptions_on(now_jst().date())[0]
    assert reception.status == "error"


def test_service_down_fallback_declaration_then_reverified(
    tui_world: World, tmp_path: Path
) -> None:
    down = services(tui_world, tmp_path, service_up=False)
    pin = tui_world.persona("adult-kyokai")["pin"]
    n = tui_world.persona("adult-kyokai")["numbers"]
    form = {
        "name": tui_world.persona("adult-kyokai")["name"],
        "name_kana": tui_world.persona("adult-kyokai")["name_kana"],
        "birth_date": tui_world.persona("adult-kyokai")["birth_date"],
        "sex": "男",
        "address": "東京都千代田区",
        "phone": "03-1234-5678",
        "insurance_type": "協会けんぽ",
        "declared_ratio": "20",
        "insurer_number": n["current_insurer_number"],
        "symbol": n["current_symbol"],
        "number": n["current_number"],
    }

    async def scenario(pilot: Pilot[None], app: ReceptionApp) -> None:
        app.place_card("adult-kyokai")
        await at_view(pilot, app, "method")
        await pilot.click("#method-pin")
        await at_view(pilot, app, "pin")
        await type_pin(pilot, pin)
        await at_view(pilot, app, "done")
        assert "受付窓口にお声がけください" in text(app, "#done-title")
        await pilot.click("#ladder-declare")
        await until(pilot, lambda: app.screen.__class__.__name__ == "DeclarationScreen")
        [rid] = [r.reception_id for r in down.store.receptions_on(now_jst().date())]
        assert rid in text(app.screen, "#form-target")  # the form says whose it is
        for key, value in form.items():
            app.screen.query_one(f"#form-{key}").value = value  # type: ignore[attr-defined]
        await click_save(pilot)
        await until(pilot, lambda: "マイナ保険証" in text(app.screen, "#error-card_shown"))
        app.screen.query_one("#form-card_shown", Checkbox).value = True  # staff saw the card
        await click_save(pilot)
        errors = text(app.screen, "#error-declared_ratio")
        assert "3割" in errors  # 20% is not this age's share: the form says so, keeps the data
        app.screen.query_one("#form-declared_ratio").value = "30"  # type: ignore[attr-defined]
        await click_save(pilot)
        await until(pilot, lambda: app.screen.__class__.__name__ != "DeclarationScreen")

    asyncio.run(drive(down, scenario))
    receptions = down.store.receptions_on(now_jst().date())
    assert [r.status for r in receptions] == ["declared"]  # 申立書受付 (issue 22 §2)
    [pending] = down.store.pending()
    assert pending.pdf and Path(pending.pdf).exists()

    up = services(tui_world, tmp_path)  # the service answers again

    async def reverify(pilot: Pilot[None], app: ReceptionApp) -> None:
        await pilot.click("#staff")
        app.query_one("#staff").active = "tab-pending"  # type: ignore[attr-defined]
        await pilot.pause()
        await pilot.click("#reverify")
        await until(pilot, lambda: "一致 1" in text(app, "#pending-status"))

    asyncio.run(drive(up, reverify))
    assert up.store.pending() == []
    assert up.store.declaration(pending.declaration_id).state == "confirmed"


def confirmed_with(svc: Services, *, name: str, insurer: str) -> str:
    """A confirmed reception whose result carries this (hostile) name and insurer name."""
    from reception.results import QualificationResult

    rid = svc.store.begin_reception()
    evil = QualificationResult.parse(
        {
            "MessageHeader": {"ProcessExecutionTime": "20261124090000", "SegmentOfResult": "1"},
            "MessageBody": {
                "ProcessingResultStatus": "1",
                "QualificationValidity": "1",
                "ResultList": {
                    "ResultOfQualificationConfirmation": [{"Name": name, "InsurerName": insurer}]
                },
            },
        }
    )
    svc.store.finish_reception(rid, status="confirmed", method=Method.PIN, result=evil)
    return rid


def test_untrusted_text_is_shown_as_text(tui_world: World, tmp_path: Path) -> None:
    svc = services(tui_world, tmp_path)
    rid = confirmed_with(svc, name="[bold red]偽[/] [link=x]y", insurer="[/]")

    async def scenario(pilot: Pilot[None], app: ReceptionApp) -> None:
        app.show_detail(rid)
        await pilot.pause()
        assert "[bold red]偽[/] [link=x]y" in text(app, "#detail")

    asyncio.run(drive(svc, scenario))


ESC_NAME = "偽\x1b[41;97m赤\x1b]0;PWNED\x07\x00\u202e名"


def test_control_sequences_from_the_service_never_reach_the_terminal(
    tui_world: World, tmp_path: Path
) -> None:
    """A name with ESC/OSC sequences, NUL and a bidi override: shown as ␛ ␀ �, in the
    detail, the 受付一覧 row and the 再確認待ち row alike (issue 9)."""
    from reception.declaration import SelfDeclaration
    from tests.support.forms import valid

    svc = services(tui_world, tmp_path)
    rid = confirmed_with(svc, name=ESC_NAME, insurer="\x1b[2J")
    # a stored declaration from before validation refused controls
    old = SelfDeclaration.parse(valid()).model_copy(update={"name": ESC_NAME})
    svc.store.add_declaration(old)

    def cells(app: ReceptionApp, table_id: str) -> str:
        from textual.coordinate import Coordinate
        from textual.widgets import DataTable

        table = app.query_one(table_id, DataTable)
        return " ".join(
            str(table.get_cell_at(Coordinate(r, c)))
            for r in range(table.row_count)
            for c in range(len(table.columns))
        )

    async def scenario(pilot: Pilot[None], app: ReceptionApp) -> None:
        app.refresh_lists()
        app.show_detail(rid)
        await pilot.pause()
        for shown_text in (text(app, "#detail"), cells(app, "#receptions"), cells(app, "#pending")):
            assert "偽␛[41;97m赤␛]0;PWNED␇␀�名" in shown_text
            for raw in ("\x1b", "\x07", "\x00", "\u202e"):
                assert raw not in shown_text

    asyncio.run(drive(svc, scenario))


def test_reader_unplugged_and_language(tui_world: World, tmp_path: Path) -> None:
    svc = services(tui_world, tmp_path)

    async def scenario(pilot: Pilot[None], app: ReceptionApp) -> None:
        await until(pilot, lambda: app.panel.warmed)
        await pilot.press("f2")
        assert "Please place your My Number card" in text(app, "#wait-title")
        await pilot.press("f2")
        app.query_one(DemoPanel).toggle_reader()  # the reader is unplugged when the card arrives
        app.place_card("adult-kyokai")
        await until(pilot, lambda: app.panel.view == "done")
        assert "受付窓口にお声がけください" in text(app, "#done-title")
        # staff read Japanese; the developer view has the driver's words
        assert any("unplugged" in line for line in app.dev_lines)
        app.query_one(DemoPanel).toggle_reader()

    asyncio.run(drive(svc, scenario))
    [reception] = svc.store.receptions_on(now_jst().date())
    # a ladder case (oqs.md §6), not an error: pending, the rungs offered
    assert reception.status == "pending" and reception.fallback_reason == "reader-fault"
    assert "居宅同意取得型" in (reception.reason or "")
    assert "unplugged" not in (reception.reason or "")


def test_developer_log_shows_service_requests(tui_world: World, tmp_path: Path) -> None:
    svc = services(tui_world, tmp_path)
    pin = tui_world.persona("adult-kyokai")["pin"]

    async def scenario(pilot: Pilot[None], app: ReceptionApp) -> None:
        await pin_to(pilot, app, "adult-kyokai", pin, "consents")
        await pilot.press("n")
        await at_view(pilot, app, "done")
        log = "\n".join(app.dev_lines)
        assert "OQS POST /v1/nonces → 200" in log and "/v1/confirmations/card → 200" in log
        assert "> 00A4040C" in log  # the APDU trace of the check-in
        # VERIFY data redacted: neither the digits as the card gets them (ASCII, hex in
        # the trace) nor as typed (the APDU headers may contain any 4 digits by chance)
        compact = log.replace(" ", "").upper()
        assert pin.encode().hex().upper() not in compact
        verify = [line for line in log.splitlines() if "bytes redacted]" in line]
        assert verify and all(pin not in line.split("[")[1] for line in verify)

    asyncio.run(drive(svc, scenario))


def test_a_crashing_worker_is_reported_and_the_panel_recovers(
    tui_world: World, tmp_path: Path
) -> None:
    svc = services(tui_world, tmp_path)

    def broken() -> Transport:
        raise RuntimeError("driver exploded")

    async def scenario(pilot: Pilot[None], app: ReceptionApp) -> None:
        await until(pilot, lambda: app.panel.warmed)
        svc.cards.transport = broken  # type: ignore[method-assign]
        app.place_card("adult-kyokai")
        await until(pilot, lambda: app.panel.view == "done")
        # the patient reads what to do; the error is for staff and developers
        assert "受付窓口にお声がけください" in text(app, "#done-title")
        assert "driver exploded" not in text(app, "#done-detail")
        assert not app.desk.running
        assert any("driver exploded" in line for line in app.dev_lines)

    asyncio.run(drive(svc, scenario))


def test_face_only_card_and_android_take_their_own_paths(tui_world: World, tmp_path: Path) -> None:
    svc = services(tui_world, tmp_path)
    android_pin = tui_world.persona("android")["pin"]

    async def scenario(pilot: Pilot[None], app: ReceptionApp) -> None:
        app.place_card("face-only")
        await at_view(pilot, app, "method")
        assert not shown(app, "#method-pin") and shown(app, "#method-face")
        await pilot.press("1")  # 顔認証
        await at_view(pilot, app, "face")
        await pilot.click("#face-shoot")  # 本人 (the default scenario)
        await at_view(pilot, app, "consents")
        await pilot.press("n")
        await at_view(pilot, app, "done")
        assert "1割" in text(app, "#done-detail")
        app.remove_card()
        await at_view(pilot, app, "wait")
        app.place_card("android")
        await at_view(pilot, app, "method")
        assert shown(app, "#method-pin") and not shown(app, "#method-face")
        assert not shown(app, "#method-visual")
        await pilot.press("2")
        await at_view(pilot, app, "pin")
        await type_pin(pilot, android_pin)
        await at_view(pilot, app, "consents")
        await pilot.press("y")
        await at_view(pilot, app, "done")

    asyncio.run(drive(svc, scenario))
    statuses = [(r.variant, r.status) for r in svc.store.receptions_on(now_jst().date())]
    assert statuses == [("face-only", "confirmed"), ("android", "confirmed")]


def test_iphone_authenticates_on_the_phone(tui_world: World, tmp_path: Path) -> None:
    svc = services(tui_world, tmp_path)

    async def scenario(pilot: Pilot[None], app: ReceptionApp) -> None:
        app.place_card("iphone")
        await at_view(pilot, app, "method")
        assert "iPhone" in str(app.query_one("#method-pin", Button).label)
        await pilot.press("2")
        await at_view(pilot, app, "consents")  # no PIN pad: the phone checked the holder
        await pilot.press("n")
        await at_view(pilot, app, "done")

    asyncio.run(drive(svc, scenario))
    [reception] = svc.store.receptions_on(now_jst().date())
    assert (reception.variant, reception.status) == ("iphone", "confirmed")


def test_the_declaration_form_takes_the_reason_of_the_selected_reception(
    tui_world: World, tmp_path: Path
) -> None:
    """Issue 10 §7: the reason comes from the reception staff selected (as stored), not
    from the terminal's last check-in."""
    from reception.reasons import FallbackReason

    svc = services(tui_world, tmp_path)
    older = svc.store.begin_reception()
    svc.store.finish_reception(
        older,
        status="fallback",
        reason="保険証利用登録がありません",
        fallback_reason=FallbackReason.NOT_REGISTERED,
    )
    newer = svc.store.begin_reception()
    svc.store.finish_reception(
        newer, status="fallback", reason="複数該当", fallback_reason=FallbackReason.MULTIPLE
    )

    async def scenario(pilot: Pilot[None], app: ReceptionApp) -> None:
        for rid, label in ((older, "保険証利用登録なし"), (newer, "複数該当")):
            app.selected = rid
            app.show_detail(rid)
            app.query_one("#staff", TabbedContent).active = "tab-detail"
            await pilot.pause()
            await pilot.click("#ladder-declare")
            await until(pilot, lambda: app.screen.__class__.__name__ == "DeclarationScreen")
            assert app.screen.query_one("#form-reason", Select).value == label
            assert rid in text(app.screen, "#form-target")  # and names it at the top
            app.screen.dismiss(None)
            await until(pilot, lambda: app.screen.__class__.__name__ != "DeclarationScreen")

    asyncio.run(drive(svc, scenario))


def test_the_declaration_form_speaks_the_reader_panels_language(
    tui_world: World, tmp_path: Path
) -> None:
    """F2 (the patient's language) glosses the form's labels in English, opened after it
    or toggled on the form; the panel follows the form's F2 too (issue 22 §3)."""
    svc = services(tui_world, tmp_path)
    rid = svc.store.begin_reception()
    svc.store.finish_reception(rid, status="fallback", reason="複数該当")

    async def open_form(pilot: Pilot[None], app: ReceptionApp) -> None:
        app.selected = rid  # the ladder is offered on a reception that needs it
        app.show_detail(rid)
        app.query_one("#staff", TabbedContent).active = "tab-detail"
        await pilot.pause()
        await pilot.click("#ladder-declare")
        await until(pilot, lambda: app.screen.__class__.__name__ == "DeclarationScreen")

    async def scenario(pilot: Pilot[None], app: ReceptionApp) -> None:
        await pilot.press("f2")
        assert app.panel.language == "en"
        await open_form(pilot, app)
        assert text(app.screen, "#label-name") == "氏名 Name"
        await pilot.press("f2")
        await pilot.pause()
        assert text(app.screen, "#label-name") == "氏名" and app.panel.language == "ja"
        await pilot.press("escape")
        await until(pilot, lambda: app.screen.__class__.__name__ != "DeclarationScreen")

    asyncio.run(drive(svc, scenario))


def test_no_card_at_all_is_self_pay_not_a_declaration(tui_world: World, tmp_path: Path) -> None:
    from reception.reasons import FallbackReason

    svc = services(tui_world, tmp_path)
    rid = svc.store.begin_reception()
    svc.store.finish_reception(
        rid, status="fallback", reason="該当資格なし", fallback_reason=FallbackReason.NO_MATCH
    )

    async def scenario(pilot: Pilot[None], app: ReceptionApp) -> None:
        app.selected = rid
        app.show_detail(rid)
        app.query_one("#staff", TabbedContent).active = "tab-detail"
        await pilot.pause()
        app.query_one("#ladder-no-card", Button).press()
        # whose reception it settles, named on top before anything is written
        await until(pilot, lambda: app.screen.__class__.__name__ == "LadderConfirmScreen")
        assert f"受付 {rid}" in text(app.screen, "#ladder-confirm-heading")
        assert svc.store.reception(rid).status == "fallback"
        await pilot.click("#ladder-confirm-ok")
        await until(pilot, lambda: "10割負担" in text(app, "#detail"))
        assert "持参なし" in text(app, "#detail")

    asyncio.run(drive(svc, scenario))
    reception = svc.store.reception(rid)
    assert reception.status == "self-pay" and reception.fallback_reason == "no-card"


@pytest.mark.parametrize("when", ["with-the-card", "as-the-screen-shows"])
def test_a_method_key_typed_at_once_counts(tui_world: World, tmp_path: Path, when: str) -> None:
    """Issue 10 §7: staff type fast — 2 typed right with the card (or the instant the method
    screen appears, before its question is open) opens the PIN pad; never a lost key."""
    svc = services(tui_world, tmp_path)

    async def scenario(pilot: Pilot[None], app: ReceptionApp) -> None:
        app.place_card("adult-kyokai")
        if when == "as-the-screen-shows":
            while app.panel.view != "method":  # no pilot.pause: the very first moment
                await asyncio.sleep(0)
        await pilot.press("2")  # once, no pause before it
        await at_view(pilot, app, "pin")
        assert "残り3回" in text(app, "#pin-tries")

    asyncio.run(drive(svc, scenario))


def test_a_typed_ahead_method_the_card_lacks_is_ignored(tui_world: World, tmp_path: Path) -> None:
    """2 (PIN) typed ahead on a 顔認証マイナンバーカード: the method question is asked."""
    svc = services(tui_world, tmp_path)

    async def scenario(pilot: Pilot[None], app: ReceptionApp) -> None:
        app.place_card("face-only")
        await pilot.press("2")
        await at_view(pilot, app, "method")
        await pilot.pause()
        assert app.panel.view == "method"
        assert isinstance(app.desk.interaction.asking, ChooseMethod)

    asyncio.run(drive(svc, scenario))


def test_staff_read_japanese_and_developers_get_the_detail(
    tui_world: World, tmp_path: Path
) -> None:
    """Issue 11 §4: an outage of the service (injected: 503 MOCK-F001) — the patient's
    panel and the staff detail say what happened in Japanese; the HTTP status and mock
    code go to the developer view only."""
    import subprocess
    import sys

    svc = services(tui_world, tmp_path)
    mock_oqs = Path(sys.executable).parent / "mock-oqs"
    outage = [str(mock_oqs), "faults", "--world", str(tui_world.directory), "--outage", "on"]
    subprocess.run(outage, check=True, capture_output=True)
    pin = tui_world.persona("adult-kyokai")["pin"]

    async def scenario(pilot: Pilot[None], app: ReceptionApp) -> None:
        await pin_to(pilot, app, "adult-kyokai", pin, "done")
        await until(pilot, lambda: "資格確認サービス" in text(app, "#detail"))
        staff = text(app, "#done-detail") + text(app, "#detail")
        for developer_detail in ("HTTP", "503", "MOCK-", "injected", "/v1/"):
            assert developer_detail not in staff, developer_detail
        assert "資格確認書や申立書などで確認してください" in staff
        assert any("503" in line and "MOCK-F001" in line for line in app.dev_lines)

    asyncio.run(drive(svc, scenario))


def test_a_card_that_is_not_the_placed_persona_is_stopped_before_the_pin(
    tui_world: World, tmp_path: Path
) -> None:
    """The demo knows whose card it placed: when the card on the reader is another one
    (here: adult-kyokai's placed, family's read), the check-in stops at once — the
    patient's panel and staff say so in Japanese, the PIN is never asked nor sent."""
    from reader.virtual.profile import load_profile
    from reception.sim.cards import LoopbackCards
    from tests.support.checkin import expected_of

    svc = services(tui_world, tmp_path)
    cards = svc.cards
    assert isinstance(cards, LoopbackCards)

    async def scenario(pilot: Pilot[None], app: ReceptionApp) -> None:
        await until(pilot, lambda: app.panel.warmed)
        cards.place(
            "adult-kyokai", tui_world.card("family"), expected_of(tui_world, "adult-kyokai")
        )
        app.desk.start()
        await at_view(pilot, app, "done")
        assert "予定のカードではありません" in text(app, "#done-title")
        said = [str(n.message) for n in app._notifications]  # staff words, for staff
        assert any("別のカードです" in m and "adult-kyokai" in m for m in said), said
        assert any("試行回数は減っていません" in m for m in said), said
        assert "別のカードです" not in text(app, "#done-detail")
        assert not any(line.startswith(("method:", "pin:")) for line in app.dev_lines)
        assert any("WrongCard" in line for line in app.dev_lines)  # the detail, in English

    asyncio.run(drive(svc, scenario))
    [reception] = svc.store.receptions_on(now_jst().date())
    assert reception.status == "cancelled"
    assert load_profile(tui_world.card("family")).auth_pin.tries_left == 3


@pytest.mark.usefixtures("pcscd")
def test_the_demo_refuses_to_place_a_card_where_one_is_left(
    tui_world: World, tmp_path: Path
) -> None:
    """`reception demo` through pcscd, with a card left in its reader's slot: placing a
    persona's card is refused and said (reader and port named), the check-in does not
    start, and the card left there stays as it was."""
    from reception.settings import ReceptionSettings
    from reception.sim.demo import demo_services
    from reception.sim.world import WorldFiles
    from tests.support.checkin import card_of
    from tests.support.stack import in_test_slot

    svc = demo_services(
        WorldFiles.open(tui_world.directory),
        "https://127.0.0.1:9",
        ReceptionSettings(data_dir=tmp_path / "data"),
        pcsc_slot=1,  # the tests' slot ("Virtual PCD 00 01")
    )
    left = card_of(tui_world, "family")

    async def scenario(pilot: Pilot[None], app: ReceptionApp) -> None:
        await until(pilot, lambda: app.panel.warmed)
        app.place_card("adult-kyokai")

        def said() -> list[str]:
            return [str(n.message) for n in app._notifications]

        await until(pilot, lambda: any("カードを置けませんでした" in m for m in said()), 20)
        message = next(m for m in said() if "カードを置けませんでした" in m)
        assert "「Virtual PCD 00 01」（vpcd ポート 35964）には別のカードが入っています" in message
        assert any("already holds a card" in line for line in app.dev_lines)
        assert app.panel.view == "wait" and not app.desk.running

    try:
        with in_test_slot(left):
            asyncio.run(drive(svc, scenario))
        assert left.profile.auth_pin.tries_left == 3
    finally:
        assert svc.demo is not None
        svc.demo.remove()
    assert svc.store.receptions_on(now_jst().date()) == []
