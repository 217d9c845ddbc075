"""The 被保険者資格申立書: validation with clear messages, billing hints, the A4 PDF."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pypdf import PdfReader

from reception.declaration import (
    DeclarationError,
    SelfDeclaration,
    allowed_ratios,
    check_insurer_number,
    insurer_check_digit,
    today_jst,
)
from reception.pdf import render_declaration
from tests.support.forms import DAY, valid


def test_check_digit_matches_the_documented_example() -> None:
    assert insurer_check_digit("3312001") == 5  # oqs.md §4: 33120015
    assert check_insurer_number("33120015") == "33120015"
    assert check_insurer_number("３３１２００１５") == "33120015"  # full-width from a form


@given(st.text(alphabet="0123456789", min_size=5, max_size=7))
def test_exactly_one_check_digit_fits(prefix: str) -> None:
    fits = [d for d in range(10) if insurer_check_digit(prefix) == d]
    assert len(fits) == 1


@pytest.mark.parametrize(
    ("text", "message"),
    [("33120016", "検証番号"), ("3312001", "8桁"), ("3312-0015", "数字だけ"), ("", "数字")],
)
def test_insurer_number_errors(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        check_insurer_number(text)


@pytest.mark.parametrize(
    ("birth", "on", "ratios"),
    [
        ("2020-04-01", "2026-03-31", (20,)),  # reaches 6 on 2026-03-31: 未就学 to that day
        ("2020-04-01", "2026-04-01", (30,)),
        ("2020-04-02", "2027-03-31", (20,)),  # reaches 6 on 2026-04-01 → until 2027-03-31
        ("2020-04-02", "2027-04-01", (30,)),
        ("1956-12-02", "2026-12-31", (30,)),  # 70th birthday 2026-12-02 → from 2027-01-01
        ("1956-12-02", "2027-01-01", (20, 30)),
        ("1956-12-01", "2026-12-01", (20, 30)),  # birthday on the 1st: that month itself
        ("1956-12-01", "2026-11-30", (30,)),
        ("1951-11-24", "2026-11-23", (20, 30)),
        ("1951-11-24", "2026-11-24", (10, 20, 30)),  # 後期 from the 75th birthday itself
    ],
)
def test_allowed_ratios_on_boundaries(birth: str, on: str, ratios: tuple[int, ...]) -> None:
    assert allowed_ratios(dt.date.fromisoformat(birth), dt.date.fromisoformat(on)) == ratios


def test_valid_declaration_and_unknown_billing() -> None:
    declaration = SelfDeclaration.parse(valid())
    hint = declaration.billing_hint()
    assert hint.kind == "unknown" and hint.insurer_number == "77777777"
    assert set(hint.symbol_number) == {"7"} and "摘要欄" in hint.note
    assert not declaration.queryable


def test_billing_current_and_previous() -> None:
    current = SelfDeclaration.parse(
        valid(insurer_number="01130012", symbol="1234", number="56", branch="01")
    )
    assert current.queryable and current.billing_hint().kind == "current"
    previous = SelfDeclaration.parse(valid(previous_insurer_number="138057"))
    assert previous.billing_hint().kind == "previous"
    assert previous.billing_hint().insurer_number == "138057"


@pytest.mark.parametrize(
    ("changes", "fragments"),
    [
        ({"name_kana": "かくう はなこ"}, ["フリガナ", "カタカナ"]),
        ({"phone": "12345"}, ["電話番号"]),
        ({"birth_date": "2027-01-01"}, ["申立日より後"]),
        ({"birth_date": "1990-02-30"}, ["生年月日"]),
        ({"declared_ratio": 20}, ["3割", "2割"]),
        ({"declared_ratio": 25}, ["10・20・30"]),
        ({"insurer_number": "01130013"}, ["保険者番号", "検証番号"]),
        ({"symbol": "1234", "number": "5"}, ["保険者番号も"]),
        ({"branch": "1"}, ["枝番"]),
        ({"sex": "?"}, ["性別"]),
        ({"reason": "気分"}, ["申立ての理由"]),
        ({"shoe_size": 26}, ["shoe_size"]),
    ],
)
def test_bad_fields_are_named(changes: dict[str, Any], fragments: list[str]) -> None:
    with pytest.raises(DeclarationError) as caught:
        SelfDeclaration.parse(valid(**changes))
    for fragment in fragments:
        assert fragment in str(caught.value)


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(DeclarationError) as caught:
        SelfDeclaration.parse(valid(name="", phone="x", name_kana="abc"))
    assert len(caught.value.problems) == 3


@given(st.dictionaries(st.text(max_size=15), st.text(max_size=20) | st.integers(), max_size=6))
def test_garbage_never_crashes(data: dict[str, Any]) -> None:
    with pytest.raises(DeclarationError):
        SelfDeclaration.parse(data)


def pdf_text(path: Path) -> str:
    return "".join(page.extract_text() or "" for page in PdfReader(path).pages)


def test_pdf_is_a4_with_the_fields_in_japanese(tmp_path: Path) -> None:
    declaration = SelfDeclaration.parse(valid(note="薬の飲み合わせ確認済み"))
    out = render_declaration(declaration, tmp_path / "d.pdf", reception_id="R-1")
    reader = PdfReader(out)
    box = reader.pages[0].mediabox
    assert (round(float(box.width) / 72 * 25.4), round(float(box.height) / 72 * 25.4)) == (
        210,
        297,
    )
    text = pdf_text(out)
    day = f"{DAY.year}年{DAY.month}月{DAY.day}日"
    for expected in (
        "被保険者資格申立書",
        "架空 花子",
        "カクウ ハナコ",
        day,
        "該当資格なし",
        "3割",
        "申立人署名",
        "77777777",
        "R-1",
    ):
        assert expected in text, expected
    assert not list(tmp_path.glob("*.tmp"))


# --- hostile and unprintable input (issue 9) ------------------------------------------------

HOSTILE = ["\x1b[41;97m", "\x1b]0;PWNED\x07", "\x00", "\x7f", "\x9b", "\u202e", "\u2066", "\ufffe"]


@pytest.mark.parametrize("control", HOSTILE)
@pytest.mark.parametrize(
    ("field", "label"),
    [
        ("name", "氏名"),
        ("address", "住所"),
        ("insurer_name", "保険者名"),
        ("note", "備考"),
        ("employer_name", "事業所名"),
    ],
)
def test_control_characters_are_refused_with_the_field_named(
    field: str, label: str, control: str
) -> None:
    with pytest.raises(DeclarationError) as caught:
        SelfDeclaration.parse(valid(**{field: f"架空{control}花子"}))
    message = str(caught.value)
    assert f"{label}: 使えない制御文字" in message
    assert f"U+{ord(control[0]):04X}" in message
    assert control not in message  # named, never echoed


def test_a_name_outside_every_font_is_refused_and_the_character_named() -> None:
    with pytest.raises(DeclarationError) as caught:
        SelfDeclaration.parse(valid(name="架空 花子😀"))
    assert "氏名: 印刷できない文字" in str(caught.value)
    assert "U+1F600" in str(caught.value)


def test_itaiji_of_names_print_through_the_fallback_font(tmp_path: Path) -> None:
    """𠮷田 (U+20BB7) is not in IPAex Gothic: IPAmj Mincho prints it, nothing vanishes."""
    declaration = SelfDeclaration.parse(valid(name="𠮷田 髙子", name_kana="ヨシダ タカコ"))
    text = pdf_text(render_declaration(declaration, tmp_path / "d.pdf"))
    assert "𠮷田 髙子" in text


def test_the_pdf_never_carries_a_control_character(tmp_path: Path) -> None:
    """Validation refuses them; should one come by another way, the PDF shows 〓."""
    declaration = SelfDeclaration.parse(valid()).model_copy(update={"note": "a\x1b[2Jb\u202ec"})
    text = pdf_text(render_declaration(declaration, tmp_path / "d.pdf"))
    assert "a〓[2Jb〓c" in text
    assert "\x1b" not in text and "\u202e" not in text


@pytest.mark.parametrize(
    ("changes", "fragment"),
    [
        ({"declared_on": "1900-01-01"}, "申立日が古すぎます"),
        ({"declared_on": -32}, "申立日が古すぎます"),
        ({"declared_on": 2}, "申立日が未来"),
        ({"birth_date": "1899-12-31"}, "生年月日が古すぎます"),
    ],
)
def test_dates_have_sensible_bounds(changes: dict[str, Any], fragment: str) -> None:
    # days from today are counted when the test runs, not when it is collected (a run
    # that crosses midnight in Japan must not move the bounds under it)
    if isinstance(changes.get("declared_on"), int):
        day = today_jst() + dt.timedelta(days=changes["declared_on"])
        changes = {"declared_on": day.isoformat()}
    with pytest.raises(DeclarationError, match=fragment):
        SelfDeclaration.parse(valid(**changes))
    SelfDeclaration.parse(valid(declared_on=(today_jst() - dt.timedelta(days=31)).isoformat()))


# --- what the person typed, and where each problem belongs (issue 22 §4) ----------------------


@pytest.mark.parametrize("field", ["name", "address", "insurer_name", "employer_name", "note"])
def test_a_full_width_space_typed_is_kept(field: str) -> None:
    """「新井　健」 stays 「新井　健」: NFKC made the U+3000 an ASCII space."""
    declaration = SelfDeclaration.parse(valid(**{field: "\u3000新井\u3000健 ① ㈱ "}))
    assert getattr(declaration, field) == "新井\u3000健 ① ㈱"  # only the blanks around go


def test_the_pdf_prints_the_full_width_space(tmp_path: Path) -> None:
    declaration = SelfDeclaration.parse(valid(name="新井\u3000健", address="東京都\u3000千代田区"))
    text = pdf_text(render_declaration(declaration, tmp_path / "d.pdf"))
    assert "新井\u3000健" in text and "東京都\u3000千代田区" in text


def test_codes_are_still_read_in_either_width() -> None:
    declaration = SelfDeclaration.parse(
        valid(
            phone="０３－１２３４－５６７８",
            insurer_number="０１１３００１２",
            symbol="１２３４",
            number="５６",
            branch="０１",
            name_kana="ｶｸｳ　ﾊﾅｺ",
        )
    )
    assert declaration.phone == "03-1234-5678" and declaration.insurer_number == "01130012"
    assert (declaration.symbol, declaration.number, declaration.branch) == ("1234", "56", "01")
    assert declaration.name_kana == "カクウ\u3000ハナコ"  # half-width kana read as kana


@pytest.mark.parametrize(
    ("changes", "field", "fragment"),
    [
        ({"card_shown": False}, "card_shown", "10割"),
        ({"reason": "マイナ保険証・資格確認書の持参なし"}, "reason", "10割"),
        ({"declared_ratio": 20}, "declared_ratio", "3割"),
        ({"symbol": "1234", "number": "5"}, "insurer_number", "保険者番号も"),
        ({"birth_date": "1899-12-31"}, "birth_date", "古すぎます"),
        ({"declared_on": "1900-01-01"}, "declared_on", "古すぎます"),
        ({"phone": "12"}, "phone", "電話番号の形"),
        ({"sex": "?"}, "sex", "選べない値です"),
    ],
    ids=lambda v: v if isinstance(v, str) and v.isascii() else "",
)
def test_each_problem_names_its_field(changes: dict[str, Any], field: str, fragment: str) -> None:
    """A form puts each message beside its field: checks across fields blame one too."""
    with pytest.raises(DeclarationError) as caught:
        SelfDeclaration.parse(valid(**changes))
    [(blamed, [message])] = caught.value.by_field().items()
    assert blamed == field and fragment in message
    assert [p.field for p in caught.value.found] == [field]


def test_the_card_not_shown_is_said_with_the_other_problems() -> None:
    """Not after the others are corrected: staff fix everything in one go."""
    with pytest.raises(DeclarationError) as caught:
        SelfDeclaration.parse(valid(card_shown=False, phone="x"))
    assert set(caught.value.by_field()) == {"card_shown", "phone"}
    # a declaration stored before the box existed still loads
    data = SelfDeclaration.parse(valid()).model_dump(mode="json") | {"card_shown": False}
    assert not SelfDeclaration.model_validate(data, context={"stored": True}).card_shown
