"""The 被保険者資格申立書 as a printable A4 PDF with Japanese text (fpdf2 + IPAex Gothic)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from fpdf import FPDF
from fpdf.enums import XPos, YPos

from reader.files import write_private
from reader.safe_text import printable
from reception.declaration import SelfDeclaration
from reception.fonts import FontMissing, fallback_font, japanese_font
from reception.store import private_directory

__all__ = ["FontMissing", "render_declaration"]
# what stands for a character the form must not print (validation refuses them first)
GETA = "\u3013"


def _wareki_free(day: dt.date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def _rows(d: SelfDeclaration) -> list[tuple[str, str]]:
    """The form's fields, label and value, in the order of the form."""
    return [
        ("申立日", _wareki_free(d.declared_on)),
        ("申立ての理由", d.reason.label),
        ("マイナ保険証の提示", "あり（確認済）" if d.card_shown else "なし"),
        ("氏名", d.name),
        ("フリガナ", d.name_kana),
        ("生年月日", _wareki_free(d.birth_date)),
        ("性別", d.sex.value),
        ("住所", d.address),
        ("電話番号", d.phone),
        ("保険の種類", d.insurance_type.value),
        ("保険者名", d.insurer_name or ""),
        ("事業所名", d.employer_name or ""),
        ("保険者番号", d.insurer_number or ""),
        ("記号・番号・枝番", "・".join(x for x in (d.symbol, d.number, d.branch) if x)),
        ("前の保険者番号", d.previous_insurer_number or ""),
        ("前の記号・番号", "・".join(x for x in (d.previous_symbol, d.previous_number) if x)),
        ("負担割合（申立て）", f"{d.declared_ratio // 10}割"),
        ("備考", d.note or ""),
    ]


def _new_form(day: dt.date) -> FPDF:
    """An A4 page with the form's fonts: IPAex Gothic, and IPAmj Mincho (when installed)
    for the 異体字 of names that IPAex lacks (𠮷田)."""
    pdf = FPDF(format="A4", unit="mm")
    pdf.set_creator("myna-reception simulator")
    pdf.set_title("被保険者資格申立書")
    pdf.set_creation_date(dt.datetime.combine(day, dt.time(), dt.UTC))
    pdf.add_font("jp", fname=str(japanese_font()))
    fallback = fallback_font()
    if fallback is not None:
        pdf.add_font("jp-fallback", fname=str(fallback))
        pdf.set_fallback_fonts(["jp-fallback"])
    pdf.set_margins(18, 16, 18)
    pdf.add_page()
    return pdf


def render_declaration(
    declaration: SelfDeclaration,
    out: Path,
    *,
    reception_id: str | None = None,
    institution_code: str | None = None,
) -> Path:
    """Write the form to ``out`` (atomically) and return the path."""
    d = declaration
    pdf = _new_form(d.declared_on)
    pdf.set_font("jp", size=18)
    pdf.cell(0, 12, "被保険者資格申立書", align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font("jp", size=9)
    pdf.multi_cell(
        0,
        5,
        "マイナ保険証・資格確認書等で資格を確認できなかったため、以下のとおり申し立てます。"
        "（保発0710第1号 令和5年7月10日）",
        new_x=XPos.LMARGIN,
        new_y=YPos.NEXT,
    )
    pdf.ln(2)

    rows = _rows(d)
    pdf.set_font("jp", size=11)
    label_w = 48
    for label, value in rows:
        y = pdf.get_y()
        pdf.set_fill_color(238, 238, 238)
        pdf.multi_cell(label_w, 8, label, border=1, fill=True, new_x=XPos.RIGHT, new_y=YPos.TOP)
        shown = printable(value, replacement=GETA) if value else " "
        pdf.multi_cell(0, 8, shown, border=1, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        if pdf.get_y() < y + 8:
            pdf.set_y(y + 8)

    hint = d.billing_hint()
    pdf.ln(4)
    pdf.set_font("jp", size=10)
    pdf.multi_cell(
        0,
        6,
        f"【医療機関記入欄】請求の区分: {hint.note}\n"
        f"請求に用いる保険者番号: {hint.insurer_number}　記号番号: {hint.symbol_number}\n"
        f"受付番号: {reception_id or '—'}　医療機関コード: {institution_code or '—'}",
        border=1,
        new_x=XPos.LMARGIN,
        new_y=YPos.NEXT,
    )
    pdf.ln(10)
    pdf.set_font("jp", size=11)
    pdf.cell(0, 8, "上記のとおり相違ありません。", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(6)
    pdf.cell(
        0,
        8,
        "申立人署名 ________________________________　　年　　月　　日",
        new_x=XPos.LMARGIN,
        new_y=YPos.NEXT,
    )
    pdf.ln(4)
    pdf.set_font("jp", size=8)
    pdf.cell(
        0, 5, "この書類は医療機関で保管します。（シミュレーターの出力：実在の人物ではありません）"
    )

    private_directory(out.parent)  # made 0700 if missing; an existing one left as it is
    # a fresh name beside the form (O_EXCL: nothing planted there is followed or reused),
    # 0600 from the start: the form carries a name, an address and a birth date
    write_private(out, bytes(pdf.output()))
    return out
