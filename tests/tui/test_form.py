"""The 被保険者資格申立書 form on its own (issue 22 §1, §4): whose reception it acts on,
refusals beside its top, check boxes that read without colour, every field reachable and
fitting at 80×24, 120×40 and 200×55, errors beside their fields, choices for the closed
lists, every character and every Tab kept in order, and the patient's language."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from textual.containers import VerticalScroll
from textual.pilot import Pilot
from textual.widget import Widget
from textual.widgets import Button, Input, RadioSet, Select, Static

from reception.declaration import SelfDeclaration
from reception.errors import InputError
from reception.store import Store
from reception.tui.screens.declaration import NO_RECEPTION, DeclarationScreen
from reception.tui.widgets.ticks import TICKED, UNTICKED, TickBox
from tests.support.forms import (
    DAY,
    burst,
    click_save,
    form_app,
    form_values,
    reception_of,
    synced,
)

SIZES = [(80, 24), (120, 40), (200, 55)]
PREFILL = {"declared_on": DAY.isoformat(), "reason": "該当資格なし"}


def shown(screen: Any, selector: str) -> str:
    widget = screen.query_one(selector, Static)
    return str(widget.render()) if widget.display else ""


def fill(screen: Any, values: dict[str, str], *, card_shown: bool = True) -> None:
    for key, value in values.items():
        screen.query_one(f"#form-{key}").value = value
    screen.query_one("#form-card_shown", TickBox).value = card_shown


async def key_save(pilot: Pilot[None]) -> None:
    pilot.app.screen.query_one("#form-ok", Button).focus()
    await pilot.pause()
    await pilot.press("enter")
    await pilot.pause()


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / "reception.sqlite")


# --- §1: whose reception, and refusals --------------------------------------------------------


@synced
async def test_the_form_names_the_reception_and_the_patient_at_its_top(store: Store) -> None:
    rid = reception_of(store, "高橋 陽菜")
    app = form_app(DeclarationScreen(PREFILL, store=store, reception_id=rid))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        top = shown(app.screen, "#form-target")
        assert rid in top and "高橋 陽菜" in top and "要代替確認" in top
        assert app.screen.query_one("#form-target").region.y < 4  # at the top, seen at once


@synced
async def test_without_a_reception_the_form_says_so(store: Store) -> None:
    app = form_app(DeclarationScreen(PREFILL))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert shown(app.screen, "#form-target") == NO_RECEPTION


@pytest.mark.parametrize("save", [click_save, key_save], ids=["click", "keys"])
@synced
async def test_a_different_name_is_refused_beside_the_top_and_nothing_saved(
    store: Store, save: Any
) -> None:
    """The trainee's case: 高橋 陽菜's form on another patient's reception."""
    rid = reception_of(store, "伊藤 美咲")
    app = form_app(DeclarationScreen(PREFILL, store=store, reception_id=rid))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        fill(app.screen, form_values(name="高橋 陽菜"))
        await save(pilot)
        refusal = shown(app.screen, "#form-refusal")
        assert "保存できません" in refusal and "高橋 陽菜" in refusal and "伊藤 美咲" in refusal
        assert app.screen.query_one("#form-refusal").region.y < 8  # beside the top, in view
        assert app.closed == []  # the form stays, nothing handed on to be filed
    assert store.pending() == []


@synced
async def test_a_settled_reception_takes_no_declaration(store: Store) -> None:
    rid = reception_of(store, "高橋 陽菜", "confirmed")
    app = form_app(DeclarationScreen(PREFILL, store=store, reception_id=rid))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert "確認済" in shown(app.screen, "#form-target")
        fill(app.screen, form_values(name="高橋 陽菜"))
        await click_save(pilot)
        assert "既に「確認済」" in shown(app.screen, "#form-refusal")
        assert app.closed == []


@synced
async def test_the_same_name_in_either_width_of_space_is_saved(store: Store) -> None:
    rid = reception_of(store, "高橋 陽菜")
    app = form_app(DeclarationScreen(PREFILL, store=store, reception_id=rid))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        fill(app.screen, form_values(name="高橋　陽菜"))
        await click_save(pilot)
        [declaration] = app.closed
        assert isinstance(declaration, SelfDeclaration) and declaration.name == "高橋　陽菜"


@synced
async def test_a_refusal_of_the_store_is_shown_on_the_form(store: Store) -> None:
    """Filing may refuse at domain level (InputError): the form says why and stays."""
    rid = reception_of(store, "高橋 陽菜")
    tried: list[SelfDeclaration] = []

    def save(declaration: SelfDeclaration) -> None:
        tried.append(declaration)
        raise InputError("この受付は別の端末で確認済になりました")

    app = form_app(DeclarationScreen(PREFILL, store=store, reception_id=rid, save=save))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        fill(app.screen, form_values(name="高橋 陽菜"))
        await click_save(pilot)
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert "別の端末で確認済" in shown(app.screen, "#form-refusal")
        assert len(tried) == 1 and app.closed == []
        assert not app.screen.query_one("#form-ok", Button).disabled  # may be tried again


# --- §4: boxes, reach, errors, choices, fit ---------------------------------------------------


@synced
async def test_the_card_shown_box_reads_unticked_until_ticked_with_the_mouse() -> None:
    app = form_app(DeclarationScreen(PREFILL))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        box = app.screen.query_one("#form-card_shown", TickBox)
        assert str(box.render()).startswith(UNTICKED)
        await pilot.click(box)
        await pilot.pause()
        assert box.value and str(box.render()).startswith(TICKED)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@synced
async def test_the_save_button_can_be_reached_and_clicked(size: tuple[int, int]) -> None:
    """At 200×55 scrolling stopped at the button's top edge: now the form scrolls to
    its end with the whole button in view, and a click on it saves (or says why not)."""
    app = form_app(DeclarationScreen(PREFILL))
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        form = app.screen.query(VerticalScroll).first()  # the form
        form.scroll_end(animate=False)
        await pilot.pause()
        button = app.screen.query_one("#form-ok", Button)
        assert form.scrollable_content_region.contains_region(button.region)
        await pilot.click(button)
        await pilot.pause()
        assert "記入が必要です" in shown(app.screen, "#error-name")


@synced
async def test_the_whole_form_works_by_keyboard_alone_at_80x24() -> None:
    """Tab from the check box through every field to 保存, typing, choosing with arrows."""
    app = form_app(DeclarationScreen(PREFILL))
    typed = {
        "name": "架空 花子",
        "name_kana": "カクウ ハナコ",
        "birth_date": "1990-05-17",
        "address": "東京都千代田区千代田1-1",
        "phone": "03-1234-5678",
        "insurer_number": "01130012",
        "symbol": "1234",
        "number": "56",
        "branch": "01",
    }
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert app.focused is app.screen.query_one("#form-card_shown")
        await pilot.press("space")  # tick: staff saw the card
        for key in ("declared_on", "reason", "name", "name_kana", "birth_date"):
            await pilot.press("tab")
            assert app.focused is app.screen.query_one(f"#form-{key}"), key
            if key in typed:
                await pilot.press(*typed[key])
        await pilot.press("tab", "right", "enter")  # 性別: 女
        for key in ("address", "phone"):
            await pilot.press("tab", *typed[key])
        await pilot.press("tab", "enter", "down", "enter")  # 保険の種類: the first, 協会けんぽ
        await pilot.press("tab", "tab", "tab", "right", "right", "enter")  # 負担割合: 3割
        for key in ("insurer_number", "symbol", "number", "branch"):
            await pilot.press("tab", *typed[key])
        await pilot.press("tab", "tab", "tab")  # 前の保険者番号, 備考, then 保存
        assert app.focused is app.screen.query_one("#form-ok")
        await pilot.press("enter")
        await pilot.pause()
    [declaration] = app.closed
    assert isinstance(declaration, SelfDeclaration)
    assert declaration.card_shown and declaration.sex == "女"
    assert declaration.insurance_type == "協会けんぽ" and declaration.declared_ratio == 30
    for key, value in typed.items():
        assert str(getattr(declaration, key)) == value, key


@synced
async def test_each_error_sits_beside_its_field() -> None:
    app = form_app(DeclarationScreen(PREFILL))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        fill(app.screen, form_values(name_kana="かくう", phone="12"))
        await click_save(pilot)
        screen = app.screen
        for key, words in (("name_kana", "カタカナ"), ("phone", "電話番号の形")):
            assert words in shown(screen, f"#error-{key}"), key
            field, error = screen.query_one(f"#form-{key}"), screen.query_one(f"#error-{key}")
            assert error.virtual_region.y == field.virtual_region.bottom  # right under it
            assert field.parent is error.parent
        assert shown(screen, "#error-name") == ""
        assert shown(screen, "#form-errors") == ""  # nothing left for the top
        assert app.focused is screen.query_one("#form-name_kana")  # the first one at fault
        # corrected; a check across fields (made once each field is right) names its field
        fill(screen, form_values(symbol="1234"))
        await click_save(pilot)
        assert shown(screen, "#error-name_kana") == shown(screen, "#error-phone") == ""
        assert "保険者番号も" in shown(screen, "#error-insurer_number")
        assert app.focused is screen.query_one("#form-insurer_number")


@synced
async def test_sex_insurance_and_reason_are_choices_not_free_text() -> None:
    app = form_app(DeclarationScreen(PREFILL))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        screen: Any = app.screen
        sex = screen.query_one("#form-sex", RadioSet)
        assert [str(b.label) for b in sex.query("RadioChoice")] == ["男", "女", "未設定"]
        kinds = screen.query_one("#form-insurance_type", Select)
        assert [str(p) for p, _ in kinds._options[1:]] == [
            "協会けんぽ",
            "健康保険組合",
            "共済組合",
            "国民健康保険",
            "後期高齢者医療",
            "わからない",
        ]
        reason = screen.query_one("#form-reason", Select)
        assert reason.value == "該当資格なし"
        choices = screen.query("#form-sex, #form-insurance_type, #form-reason")
        assert len(choices) == 3 and not any(isinstance(w, Input) for w in choices)


def inside(widget: Widget, outer: Widget) -> bool:
    """Whether ``widget`` (scrolled into view) lies wholly, left to right, in ``outer``."""
    area = outer.scrollable_content_region
    return area.x <= widget.region.x and widget.region.right <= area.right


@pytest.mark.parametrize("language", ["ja", "en"])
@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@synced
async def test_no_label_is_cut(size: tuple[int, int], language: str) -> None:
    app = form_app(DeclarationScreen(PREFILL), language=language)  # the panel's language
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        screen = app.screen
        form = screen.query(VerticalScroll).first()  # the form
        assert screen.region.contains_region(form.region)
        labelled = screen.query(".form-label, #form-target, TickBox, RadioChoice, Button, Select")
        for widget in labelled:
            widget.scroll_visible(animate=False, immediate=True)
            await pilot.pause()
            assert inside(widget, form), widget
            width, height = widget.content_size
            if isinstance(widget, Static) and not isinstance(widget, Button):  # wraps
                needed = widget.get_content_height(widget.container_size, screen.size, width)
                assert height >= needed, widget
            elif not isinstance(widget, Select):  # one line, or an ellipsis
                needed = widget.get_content_width(widget.container_size, screen.size)
                assert width >= needed, widget


# --- §4: every character and every Tab, in order ----------------------------------------------


@synced
async def test_a_burst_of_keys_with_tabs_fills_each_field_in_turn() -> None:
    """A scanner or paste: 記号 Tab 番号 Tab 枝番, all queued at once, no waits."""
    app = form_app(DeclarationScreen(PREFILL))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        app.screen.query_one("#form-symbol").focus()
        await pilot.pause()
        burst(app, [*"ABC", "tab", *"123", "tab", *"45"])
        for _ in range(5):
            await pilot.pause()
        values = [app.screen.query_one(f"#form-{k}", Input).value for k in ("symbol", "number")]
        assert values == ["ABC", "123"]
        assert app.screen.query_one("#form-branch", Input).value == "45"


@synced
async def test_a_full_width_space_typed_is_kept() -> None:
    app = form_app(DeclarationScreen(PREFILL))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        app.screen.query_one("#form-name").focus()
        await pilot.pause()
        burst(app, [*"新井\u3000健"])
        for _ in range(3):
            await pilot.pause()
        assert app.screen.query_one("#form-name", Input).value == "新井\u3000健"


# --- both languages ---------------------------------------------------------------------------


@synced
async def test_in_english_each_label_is_the_japanese_term_with_a_gloss() -> None:
    app = form_app(DeclarationScreen(PREFILL), language="en")  # the reader panel's language
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert str(app.screen.query_one("#label-name", Static).render()) == "氏名 Name"
        sex = app.screen.query_one("#form-sex", RadioSet)
        assert str(sex.query("RadioChoice").first().label) == "男 Male"
        await pilot.press("f2")  # back to Japanese, the panel too
        await pilot.pause()
        assert str(app.screen.query_one("#label-name", Static).render()) == "氏名"
        assert app.panel.language == "ja"
        fill(app.screen, form_values(sex="女", insurance_type="国民健康保険"))
        await click_save(pilot)
    [declaration] = app.closed
    assert declaration.sex == "女" and declaration.insurance_type == "国民健康保険"  # data: ja
