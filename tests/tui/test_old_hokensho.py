"""The rules of the day on the staff console (reception/tui/widgets/rules_rungs.py): the
rung 「期限切れ保険証で照会」 is offered only 2025-12-02..2026-03-31 of the terminal's day,
its form takes the numbers printed on persona ``old-hokensho``'s old 保険証 (by keys and
by clicks) and settles the reception; a date no 保険証 had is refused in the form. The
お知らせ rung asks a 70+ patient's 有効期限 and refuses an expired one."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

from textual.pilot import Pilot
from textual.widgets import Input

from mock_oqs.world import World
from reception.reasons import FallbackReason
from reception.results import QualificationResult
from reception.store import Store
from reception.tui.app import ReceptionApp, make_app
from reception.tui.services import Services
from reception.vocabulary import Method
from tests.support.tui import drive, services, shown, text, until

LADDER = ["ladder-notice", "ladder-number", "ladder-old-card", "ladder-declare"]


def on_day(svc: Services, day: dt.date) -> Services:
    svc.settings = svc.settings.model_copy(update={"today": day})
    return svc


def born(name: str, birth: str) -> QualificationResult:
    """A result naming the patient with a birth date (not valid: the ladder is next)."""
    entry = {"Name": name, "Birthdate": birth}
    return QualificationResult.parse(
        {
            "MessageHeader": {"ProcessExecutionTime": "20260803090000", "SegmentOfResult": "1"},
            "MessageBody": {
                "ProcessingResultStatus": "1",
                "QualificationValidity": "2",
                "ResultList": {"ResultOfQualificationConfirmation": [entry]},
            },
        }
    )


def fallback(store: Store, result: QualificationResult | None = None) -> str:
    rid = store.begin_reception()
    store.finish_reception(
        rid,
        status="fallback",
        reason="保険証利用登録がありません",
        fallback_reason=FallbackReason.NOT_REGISTERED,
        method=Method.PIN,
        result=result,
    )
    return rid


async def select(pilot: Pilot[None], app: ReceptionApp, rid: str) -> None:
    from reception.tui.widgets.messages import ReceptionSelected

    app.post_message(ReceptionSelected(rid))
    await until(pilot, lambda: app.selected == rid)
    await pilot.pause()


def screen_name(app: ReceptionApp) -> str:
    return app.screen.__class__.__name__


async def type_into(pilot: Pilot[None], selector: str, value: str) -> None:
    """Click the field, then type ``value`` key by key."""
    await pilot.click(selector)
    await pilot.press(*value)


def test_the_rung_is_offered_only_on_the_days_of_the_interim_rule(
    tui_world: World, tmp_path: Path
) -> None:
    for day, offered in [
        (dt.date(2025, 12, 1), False),
        (dt.date(2025, 12, 2), True),
        (dt.date(2026, 3, 31), True),
        (dt.date(2026, 4, 1), False),
    ]:
        svc = on_day(services(tui_world, tmp_path / day.isoformat()), day)
        rid = fallback(svc.store)

        async def scenario(pilot: Pilot[None], app: ReceptionApp) -> None:
            await select(pilot, app, rid)  # noqa: B023 — awaited within the loop's pass
            assert shown(app, "#ladder-number") and shown(app, "#ladder-notice")
            assert shown(app, "#ladder-old-card") is offered, day  # noqa: B023

        asyncio.run(drive(svc, scenario))


def test_the_old_cards_numbers_typed_and_clicked_settle_the_reception(
    tui_world: World, tmp_path: Path
) -> None:
    """On 2026-03-31: the form refuses a 有効期限 no 保険証 had, then the printed numbers
    typed key by key, 照会する clicked — 確認済（資格確認書）, the rung recorded."""
    svc = on_day(services(tui_world, tmp_path), dt.date(2026, 3, 31))
    rid = fallback(svc.store)
    entry = tui_world.persona("old-hokensho")
    card = entry["expect"]["old_card"]

    async def scenario(pilot: Pilot[None], app: ReceptionApp) -> None:
        await select(pilot, app, rid)
        await pilot.click("#ladder-old-card")
        await until(pilot, lambda: screen_name(app) == "OldCardScreen")
        assert f"受付 {rid}" in text(app.screen, "#old-card-heading")
        await type_into(pilot, "#old-card-insurer_number", card["insurer_number"])
        await type_into(pilot, "#old-card-symbol", card["symbol"])
        await type_into(pilot, "#old-card-number", card["number"])
        await type_into(pilot, "#old-card-branch", card["branch"])
        await type_into(pilot, "#old-card-birth_date", entry["birth_date"])
        await type_into(pilot, "#old-card-until", "2026-07-31")
        await pilot.click("#old-card-ok")
        await pilot.pause()
        assert "最長 2025-12-01" in text(app.screen, "#old-card-error")
        assert screen_name(app) == "OldCardScreen"  # nothing sent
        app.screen.query_one("#old-card-until", Input).value = ""
        await type_into(pilot, "#old-card-until", card["printed_until"])
        await pilot.click("#old-card-ok")
        await until(pilot, lambda: svc.store.reception(rid).status == "confirmed-certificate")
        said = [str(n.message) for n in app._notifications]
        assert any("有効期限切れの保険証の照会" in n and "2026-03-31 まで" in n for n in said)

    asyncio.run(drive(svc, scenario))
    [(step, detail)] = svc.store.steps_of(rid)
    assert step == "有効期限切れの保険証" and card["printed_until"] in detail


def test_the_form_by_keys_alone_and_its_refusal_of_a_missing_number(
    tui_world: World, tmp_path: Path
) -> None:
    """Tab and Enter only: a form without its numbers says which are missing; Escape
    closes it and nothing is recorded."""
    svc = on_day(services(tui_world, tmp_path), dt.date(2026, 1, 15))
    rid = fallback(svc.store)

    async def scenario(pilot: Pilot[None], app: ReceptionApp) -> None:
        await select(pilot, app, rid)
        app.query_one("#ladder-old-card").focus()
        await pilot.press("enter")
        await until(pilot, lambda: screen_name(app) == "OldCardScreen")
        app.screen.query_one("#old-card-ok").focus()
        await pilot.press("enter")
        await pilot.pause()
        said = text(app.screen, "#old-card-error")
        assert "保険者番号" in said and "番号" in said and "記入が必要" in said
        await pilot.press("escape")
        await until(pilot, lambda: screen_name(app) != "OldCardScreen")

    asyncio.run(drive(svc, scenario))
    assert svc.store.steps_of(rid) == [] and svc.store.reception(rid).status == "fallback"


def test_a_70_plus_notice_is_asked_its_expiry_and_an_expired_one_refused(
    tui_world: World, tmp_path: Path
) -> None:
    svc = on_day(services(tui_world, tmp_path), dt.date(2026, 8, 3))
    elder = fallback(svc.store, born("山本 誠", "19500402"))
    young = fallback(svc.store, born("田中 結衣", "19900402"))

    async def scenario(pilot: Pilot[None], app: ReceptionApp) -> None:
        await select(pilot, app, elder)
        app.query_one("#ladder-detail", Input).value = "お知らせ 2割"
        await pilot.click("#ladder-notice")
        await until(pilot, lambda: screen_name(app) == "NoticeDatesScreen")
        assert not app.screen.query("#notice-dates-birth")  # the reception knows it
        await type_into(pilot, "#notice-dates-until", "R8.7.31")
        await pilot.click("#notice-dates-ok")
        await pilot.pause()
        said = text(app.screen, "#notice-dates-error")
        assert "有効期限（2026-07-31）が切れています" in said
        app.screen.query_one("#notice-dates-until", Input).value = "2027-07-31"
        await pilot.pause(0.3)  # a Button ignores a click while it still shows the last
        await pilot.click("#notice-dates-ok")
        await until(pilot, lambda: screen_name(app) == "LadderConfirmScreen")
        await pilot.click("#ladder-confirm-ok")
        await until(pilot, lambda: svc.store.reception(elder).status == "confirmed-notice")
        # under 70: no date asked, straight to the confirmation
        await select(pilot, app, young)
        app.query_one("#ladder-detail", Input).value = "お知らせ 3割"
        await pilot.click("#ladder-notice")
        await until(pilot, lambda: screen_name(app) == "LadderConfirmScreen")
        await pilot.press("escape")

    asyncio.run(drive(svc, scenario))
    assert svc.store.reception(young).status == "fallback"


def test_the_old_card_forms_box_reads_without_colour_and_its_labels_fit(
    tui_world: World, tmp_path: Path
) -> None:
    """「お知らせのみ持参」 reads ☐ until ticked (a plain Checkbox drew ▐X▌ either way), and
    every label fits the dialog (the date hints ran past it and were cut); a refusal is
    in view (the buttons' row took the dialog's rest and pushed it out)."""
    from rich.cells import cell_len
    from textual.widgets import Button, Label

    from reception.tui.widgets.ticks import TICKED, UNTICKED

    svc = on_day(services(tui_world, tmp_path), dt.date(2026, 3, 15))
    rid = fallback(svc.store)

    async def scenario(pilot: Pilot[None], app: ReceptionApp) -> None:
        await select(pilot, app, rid)
        app.query_one("#ladder-old-card", Button).press()
        await until(pilot, lambda: screen_name(app) == "OldCardScreen")
        box = app.screen.query_one("#old-card-notice")
        assert UNTICKED in str(box.render()) and TICKED not in str(box.render())
        await pilot.click("#old-card-notice")
        await pilot.pause()
        assert TICKED in str(box.render())
        inner = app.screen.query_one(".dialog").content_region.width - 2  # a scrollbar
        for label in app.screen.query(Label):
            said = str(label.render())
            assert cell_len(said) <= inner, said  # nothing cut at the dialog's edge
        # a refusal is written below the buttons, and is scrolled into view
        app.screen.query_one("#old-card-ok", Button).press()
        await until(pilot, lambda: "記入が必要です" in text(app.screen, "#old-card-error"))
        await pilot.pause(0.3)
        dialog, error = app.screen.query_one(".dialog"), app.screen.query_one("#old-card-error")
        assert dialog.region.contains_region(error.region), (dialog.region, error.region)
        assert app.screen.query_one("#old-card-ok", Button).region.height == 3

    async def small() -> None:  # 80×24: the dialog scrolls, the refusal must still show
        app = make_app(svc)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause()
            await scenario(pilot, app)

    asyncio.run(small())
