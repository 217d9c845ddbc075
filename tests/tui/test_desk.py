"""The staff console staff can trust (issue 22 §1–§5, the staff side): a click selects
the reception and the detail shows it; the detail and every ladder action name whose
reception it is, offer only the rungs that fit its state and refuse a settled one; the
資格確認書 query takes 和暦; the tabs have keys; the list's words are shown whole."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import DataTable, Input, TabbedContent

from mock_oqs.world import World
from reception.declaration import SelfDeclaration
from reception.errors import InputError
from reception.present import LADDER_HINT
from reception.reasons import FallbackReason
from reception.store import Store, now_jst
from reception.target import same_name
from reception.tui.app import ReceptionApp
from reception.tui.screens.declaration import DeclarationScreen
from reception.tui.widgets.messages import CounterRequested, ReceptionSelected
from reception.vocabulary import Method
from reception.wareki import format_wareki
from tests.support.desk import READER_FAULT, confirmed, listed, result_named, seed_day
from tests.support.forms import valid
from tests.support.tui import drive, services, shown, text, until

LADDER = [
    "ladder-notice",
    "ladder-portal",
    "ladder-number",
    "ladder-declare",
    "ladder-counter",
    "ladder-no-card",
]


def active(app: ReceptionApp) -> str:
    return str(app.query_one("#staff", TabbedContent).active)


def screen_name(app: ReceptionApp) -> str:
    return app.screen.__class__.__name__


def offered(app: ReceptionApp) -> list[str]:
    """The ladder's buttons staff can see on the detail."""
    return [key for key in LADDER if shown(app, f"#{key}")]


def row_y(app: ReceptionApp, reception_id: str) -> int:
    """Where the reception's row starts in the table (below the header)."""
    table = app.query_one("#receptions", DataTable)
    index = table.get_row_index(reception_id)
    return table.header_height + sum(row.height for row in table.ordered_rows[:index])


def cell_text(app: ReceptionApp, reception_id: str, column: int) -> str:
    """What the list shows of one cell of a reception's row, as on screen: its lines
    joined (a wrapped word reads whole)."""
    table = app.query_one("#receptions", DataTable)
    top = row_y(app, reception_id)
    height = table.ordered_rows[table.get_row_index(reception_id)].height
    widths = [c.get_render_width(table) for c in table.ordered_columns]
    left = sum(widths[:column])
    lines = (
        table.render_line(y).crop(left, left + widths[column]).text
        for y in range(top, top + height)
    )
    return "".join(line.strip() for line in lines)


def fallback(store: Store, name: str | None = None) -> str:
    """A reception for the ladder (該当資格なし), with a result naming ``name``."""
    rid = store.begin_reception()
    store.finish_reception(
        rid,
        status="fallback",
        reason="該当資格なし",
        fallback_reason=FallbackReason.NO_MATCH,
        method=Method.PIN,
        # born 1990: under 70, the お知らせ rung asks no 有効期限 (reception/ladder_rules.py)
        result=None if name is None else result_named(name, birth="19900402"),
    )
    return rid


async def select(pilot: Pilot[None], app: ReceptionApp, reception_id: str) -> None:
    app.post_message(ReceptionSelected(reception_id))
    await until(pilot, lambda: app.selected == reception_id)
    await pilot.pause()


def test_a_single_click_selects_a_row_and_the_detail_shows_it(
    tui_world: World, tmp_path: Path
) -> None:
    """Issue 22 §1: one click on a 受付一覧 row selects it, and 詳細・代替手段 shows that
    reception — before, a click only moved the cursor and the detail kept the previous
    one (a 申立書 landed on another patient's reception)."""
    svc = services(tui_world, tmp_path)
    [ito] = confirmed(svc.store, "伊藤 美咲")
    takahashi = fallback(svc.store, "高橋 陽菜")

    async def scenario(pilot: Pilot[None], app: ReceptionApp) -> None:
        await listed(pilot, app, [ito, takahashi])
        await pilot.click("#receptions", offset=(3, row_y(app, ito)))
        await until(pilot, lambda: app.selected == ito)
        assert active(app) == "tab-detail"
        assert f"受付 {ito} ・ 伊藤 美咲" in text(app, "#detail-heading")
        app.query_one("#staff", TabbedContent).active = "tab-list"
        await pilot.pause()
        await pilot.click("#receptions", offset=(3, row_y(app, takahashi)))
        await until(pilot, lambda: app.selected == takahashi)
        assert active(app) == "tab-detail"
        assert f"受付 {takahashi} ・ 高橋 陽菜" in text(app, "#detail-heading")
        # by keys too: back to the list, up to 伊藤, Enter
        app.query_one("#staff", TabbedContent).active = "tab-list"
        app.query_one("#receptions").focus()
        await pilot.press("up", "enter")
        await until(pilot, lambda: app.selected == ito)
        assert f"受付 {ito}" in text(app, "#detail-heading")

    asyncio.run(drive(svc, scenario))


def test_the_ladder_is_offered_only_where_the_state_fits(tui_world: World, tmp_path: Path) -> None:
    """Issue 22 §1: no rung on a settled reception (申立書を作る included), none while
    the check-in runs nor on a cancelled one; a reception for the ladder gets every rung
    and the next step said as the CLI says it (§3)."""
    svc = services(tui_world, tmp_path)
    [done] = confirmed(svc.store, "伊藤 美咲")
    waiting = fallback(svc.store, "高橋 陽菜")
    running = svc.store.begin_reception()
    cancelled = svc.store.begin_reception()
    svc.store.finish_reception(cancelled, status="cancelled", reason="中止: 職員が中止")
    self_pay = svc.store.begin_reception()
    svc.store.finish_reception(self_pay, status="self-pay", reason="持参なし")

    async def scenario(pilot: Pilot[None], app: ReceptionApp) -> None:
        await listed(pilot, app, [done, waiting, running, cancelled, self_pay])
        for rid, buttons, said in (
            (done, [], "「確認済」の受付です: 代替手段は要りません"),
            (self_pay, [], "代替手段は要りません"),
            (running, [], "読み取り中です"),
            (cancelled, [], "取り消した受付です"),
            (waiting, LADDER, f"→{LADDER_HINT}"),
        ):
            await select(pilot, app, rid)
            assert offered(app) == buttons, rid
            assert said in text(app, "#ladder-hint"), rid

    asyncio.run(drive(svc, scenario))


def test_a_settled_reception_takes_no_rung_even_when_one_is_pressed(
    tui_world: World, tmp_path: Path
) -> None:
    """A rung pressed on a reception that is settled (confirmed while its button was
    still shown) is refused with a readable message, and nothing is written."""
    svc = services(tui_world, tmp_path)
    buttons = ["#ladder-no-card", "#ladder-notice", "#ladder-number", "#ladder-declare"]
    ids = [fallback(svc.store, "伊藤 美咲") for _ in buttons]

    async def scenario(pilot: Pilot[None], app: ReceptionApp) -> None:
        for rid, button in zip(ids, buttons, strict=True):
            await select(pilot, app, rid)
            assert shown(app, button)
            svc.store.finish_reception(rid, status="confirmed", result=result_named("伊藤 美咲"))
            app.query_one("#ladder-detail", Input).value = "お知らせ 協会けんぽ 3割"
            await pilot.click(button)
            await until(pilot, lambda: offered(app) == [])  # the detail shows it settled
            assert screen_name(app) == "Screen", button  # no form, no confirmation
            said = [str(n.message) for n in app._notifications]
            assert any(f"受付 {rid}（伊藤 美咲）は既に「確認済」です" in n for n in said), said

    asyncio.run(drive(svc, scenario))
    for rid in ids:
        assert svc.store.reception(rid).status == "confirmed"
        assert svc.store.steps_of(rid) == []


def test_a_reception_settled_while_its_rung_is_being_confirmed_takes_nothing(
    tui_world: World, tmp_path: Path
) -> None:
    """Confirmed elsewhere while staff read the confirmation: the ladder refuses the
    write right before it, says so, and the buttons follow the new state."""
    svc = services(tui_world, tmp_path)
    rid = fallback(svc.store, "伊藤 美咲")

    async def scenario(pilot: Pilot[None], app: ReceptionApp) -> None:
        await select(pilot, app, rid)
        app.query_one("#ladder-detail", Input).value = "お知らせ 協会けんぽ 3割"
        await pilot.click("#ladder-notice")
        await until(pilot, lambda: screen_name(app) == "LadderConfirmScreen")
        svc.store.finish_reception(rid, status="confirmed", result=result_named("伊藤 美咲"))
        await pilot.click("#ladder-confirm-ok")
        await until(pilot, lambda: offered(app) == [])
        said = [str(n.message) for n in app._notifications]
        assert any(f"受付 {rid}（伊藤 美咲）は既に「確認済」です" in n for n in said), said

    asyncio.run(drive(svc, scenario))
    assert svc.store.reception(rid).status == "confirmed"
    assert svc.store.steps_of(rid) == []


def test_a_rung_names_the_reception_before_it_writes(tui_world: World, tmp_path: Path) -> None:
    """お知らせ seen: a confirmation names the reception and the patient on top; only
    then is the rung recorded — on that reception."""
    svc = services(tui_world, tmp_path)
    other = fallback(svc.store, "伊藤 美咲")
    rid = fallback(svc.store, "高橋 陽菜")

    async def scenario(pilot: Pilot[None], app: ReceptionApp) -> None:
        await listed(pilot, app, [other, rid])
        await select(pilot, app, rid)
        app.query_one("#ladder-detail", Input).value = "協会けんぽ 3割"
        await pilot.click("#ladder-notice")
        await until(pilot, lambda: screen_name(app) == "LadderConfirmScreen")
        heading = text(app.screen, "#ladder-confirm-heading")
        assert f"受付 {rid} ・ 高橋 陽菜" in heading
        assert "「協会けんぽ 3割」" in text(app.screen, "#ladder-confirm-what")
        assert svc.store.steps_of(rid) == []  # nothing before staff confirm
        await pilot.click("#ladder-confirm-ok")
        await until(pilot, lambda: svc.store.steps_of(rid) != [])

    asyncio.run(drive(svc, scenario))
    [(_, seen)] = svc.store.steps_of(rid)
    assert seen == "協会けんぽ 3割"
    assert svc.store.steps_of(other) == []


def test_the_number_query_names_the_reception_and_takes_wareki(
    tui_world: World, tmp_path: Path
) -> None:
    """Issue 22 §2: the 資格確認書 query is headed by the reception it is recorded on, and
    takes the birth date as printed on the document (和暦, e.g. 「昭和61年11月25日」);
    an impossible era date is refused beside its field, nothing sent."""
    svc = services(tui_world, tmp_path)
    persona = tui_world.persona("adult-kyokai")
    numbers = persona["numbers"]
    rid = fallback(svc.store, persona["name"])
    born = format_wareki(dt.date.fromisoformat(persona["birth_date"]))

    async def scenario(pilot: Pilot[None], app: ReceptionApp) -> None:
        await select(pilot, app, rid)
        await pilot.click("#ladder-number")
        await until(pilot, lambda: screen_name(app) == "NumberQueryScreen")
        assert f"受付 {rid}" in text(app.screen, "#number-heading")
        fields = {
            "insurer_number": numbers["current_insurer_number"],
            "symbol": numbers["current_symbol"],
            "number": numbers["current_number"],
            "birth_date": "平成32年1月1日",
        }
        for key, value in fields.items():
            app.screen.query_one(f"#number-{key}", Input).value = value
        await pilot.click("#number-ok")
        await pilot.pause()
        assert "平成は31年4月30日までです" in text(app.screen, "#number-birth_date-error")
        assert screen_name(app) == "NumberQueryScreen"
        app.screen.query_one("#number-birth_date", Input).value = born
        await pilot.pause()
        assert persona["birth_date"].replace("-", "/") in text(app.screen, "#number-birth-read")
        ok = app.screen.query_one("#number-ok")
        ok.scroll_visible(animate=False)
        # a button takes no second click while it shows the first (0.2 s)
        await until(pilot, lambda: not ok.has_class("-active"))
        await pilot.click("#number-ok")
        await until(pilot, lambda: len(svc.store.results_of(rid)) == 2)

    asyncio.run(drive(svc, scenario))
    answer = svc.store.results_of(rid)[-1]
    assert answer.is_valid and same_name(answer.entries[0].name or "", persona["name"])


def test_the_declaration_form_gets_the_reception_and_a_wrong_name_is_not_saved(
    tui_world: World, tmp_path: Path
) -> None:
    """The 申立書 form is opened for the selected reception (it names it at its top),
    and a form whose name is another patient's is not attached to it."""
    svc = services(tui_world, tmp_path)
    rid = fallback(svc.store, "高橋 陽菜")

    async def scenario(pilot: Pilot[None], app: ReceptionApp) -> None:
        await select(pilot, app, rid)
        await pilot.click("#ladder-declare")
        await until(pilot, lambda: screen_name(app) == "DeclarationScreen")
        form = app.screen
        assert isinstance(form, DeclarationScreen) and form.reception_id == rid
        assert form.heading().startswith(f"受付 {rid} ・ 高橋 陽菜")
        assert form.save is not None
        with pytest.raises(InputError, match="伊藤 美咲"):  # the desk's save refuses it
            form.save(SelfDeclaration.parse(valid(name="伊藤 美咲")))
        await pilot.press("escape")
        await until(pilot, lambda: screen_name(app) == "Screen")
        await pilot.pause()

    asyncio.run(drive(svc, scenario))
    assert svc.store.declarations() == []
    assert svc.store.reception(rid).status == "fallback"


def test_the_tabs_have_keys(tui_world: World, tmp_path: Path) -> None:
    """Issue 22 §4: Alt+1… bring the tabs forward — also as Textual reads the ESC 1 …
    most terminals send for Alt+1 (「¡」 …), and from the filter's text field."""
    svc = services(tui_world, tmp_path)

    async def scenario(pilot: Pilot[None], app: ReceptionApp) -> None:
        await pilot.press("alt+2")
        assert active(app) == "tab-detail"
        await pilot.press("pound_sign")  # ESC 3
        assert active(app) == "tab-pending"
        await pilot.press("inverted_exclamation_mark")  # ESC 1
        assert active(app) == "tab-list"
        app.query_one("#filter", Input).focus()
        await pilot.pause()
        await pilot.press("alt+2")
        assert active(app) == "tab-detail"
        assert app.query_one("#filter", Input).value == ""

    asyncio.run(drive(svc, scenario))


def test_the_list_and_detail_say_what_happened_in_staff_words(
    tui_world: World, tmp_path: Path
) -> None:
    """Issue 22 §2, §5: 未登録 and a lapsed certificate are not 「照会エラー」; a reader
    fault chose no method; 限度額 and 特定疾病 are labels; one date form; the list shows
    each status and notice whole (「要代替確」, 「医療扶助（」 were cut)."""
    svc = services(tui_world, tmp_path)
    ids = seed_day(
        tui_world,
        svc,
        ["not-registered", "cert-lapsed", READER_FAULT, "limit-u", "dialysis", "medical-aid"],
    )

    async def scenario(pilot: Pilot[None], app: ReceptionApp) -> None:
        await listed(pilot, app, list(ids.values()))
        said: dict[str, str] = {}
        for persona, rid in ids.items():
            await select(pilot, app, rid)
            said[persona] = text(app, "#detail")
        assert "資格有効性 未登録" in said["not-registered"]
        assert "電子証明書の失効・期限切れ" in said["cert-lapsed"]
        assert not any("照会エラー" in detail for detail in said.values())
        assert "方法 —" in said[READER_FAULT]
        assert "限度額適用区分 区分ウ（A03）" in said["limit-u"]
        assert "特定疾病 人工透析を要する慢性腎不全（1）" in said["dialysis"]
        born = tui_world.persona("limit-u")["birth_date"].replace("-", "/")
        assert f"生年月日 {born}" in said["limit-u"]
        app.query_one("#staff", TabbedContent).active = "tab-list"
        await pilot.pause()
        assert cell_text(app, ids["not-registered"], 2) == "要代替確認—"
        assert cell_text(app, ids[READER_FAULT], 2) == "保留（要代替確認）—"
        assert cell_text(app, ids["medical-aid"], 2) == "確認済医療扶助（負担は医療券の本人支払額）"
        notice = "※医療扶助（生活保護）：問い合わせ先は福祉事務所です（保険者ではありません）"
        assert cell_text(app, ids["medical-aid"], 3) == notice

    asyncio.run(drive(svc, scenario))


def test_the_visual_check_names_the_reception_it_confirms(tui_world: World, tmp_path: Path) -> None:
    """目視確認 names the reception of the check-in under way at its top (the patient's
    name is not known before the service answers, and the heading says so)."""
    svc = services(tui_world, tmp_path)

    async def scenario(pilot: Pilot[None], app: ReceptionApp) -> None:
        app.place_card("pin-blocked")
        await until(pilot, lambda: app.panel.view == "method")
        await pilot.click("#method-visual")
        await until(pilot, lambda: screen_name(app) == "VisualCheckScreen")
        [running] = svc.store.receptions_on(now_jst().date())
        heading = text(app.screen, "#visual-heading")
        assert heading.startswith(f"受付 {running.reception_id} ・ 氏名不明")
        assert "受付中" in heading
        await pilot.click("#visual-ok")
        await until(pilot, lambda: app.panel.view == "consents")

    asyncio.run(drive(svc, scenario))


def test_the_counter_route_names_its_reception_and_refuses_a_settled_one(
    tui_world: World, tmp_path: Path
) -> None:
    """The 居宅同意取得型 screen names the reception it settles; on one settled meanwhile
    it says so and reads no card."""
    svc = services(tui_world, tmp_path)
    rid = fallback(svc.store, "高橋 陽菜")

    async def scenario(pilot: Pilot[None], app: ReceptionApp) -> None:
        await select(pilot, app, rid)
        svc.store.finish_reception(rid, status="confirmed", result=result_named("高橋 陽菜"))
        app.post_message(CounterRequested(rid))  # as if pressed before the detail changed
        await until(pilot, lambda: screen_name(app) == "CounterScreen")
        await pilot.pause()
        assert f"受付 {rid} ・ 高橋 陽菜 ・ 確認済" in text(app.screen, "#counter-heading")
        assert "既に「確認済」です" in text(app.screen, "#counter-status")
        assert not shown(app.screen, "#counter-consents")

    asyncio.run(drive(svc, scenario))
    assert svc.store.steps_of(rid) == []  # no 居宅同意取得型 attempt recorded


def test_every_tab_of_the_console_reads_whole_at_120_columns(
    tui_world: World, tmp_path: Path
) -> None:
    """Issue 22 §5: at 120×40 the staff console's tabs of the demo with the folder
    interface (受付一覧 … 連携, デモ) all fit their pane: none cut at the screen's edge."""
    from textual.widgets import Tab

    from reception.tui.app import make_app

    svc = services(tui_world, tmp_path, link=tmp_path / "link")

    async def go() -> None:
        app = make_app(svc)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            tabs = list(app.query_one("#staff", TabbedContent).query(Tab))
            labels = [str(tab.label) for tab in tabs]
            assert "デモ" in labels and "連携" in labels
            for tab in tabs:
                assert tab.region.width > 0 and tab.region.right <= 120, str(tab.label)

    asyncio.run(go())
