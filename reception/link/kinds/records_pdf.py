"""The PDF answer of 薬剤情報 / 特定健診情報 (``FileCategory`` 1 and 3): an A4 report of the
records (landscape: a drug's name fits its column), Japanese text in IPAex Gothic
(:mod:`reception.fonts`, as the 申立書's :mod:`reception.pdf`), naming the patient.
YUKI-ENT/OQSDrug2 (``OQSDrug/Form1.cs`` ``ProcessResAsync``) takes ``<request name,
req → res>.pdf`` and files it unread in its image server; what the real report looks like
is not public, so its layout is ours: the patient, the period, then one table row per
record (newest first, as the staff console's 診療情報 tab shows them)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fpdf import FPDF
from fpdf.enums import XPos, YPos
from fpdf.fonts import FontFace

from reader.clock import now_jst
from reader.safe_text import printable
from reception.fonts import fallback_font, japanese_font

GETA = "\u3013"  # what stands for a character the report must not print
SEX = {"1": "男", "2": "女"}
# (heading, field, width in mm) on an A4 landscape page (273 mm between the margins)
MEDICATIONS = (
    ("調剤日", "dispensed_on", 28),
    ("調剤した薬局", "institution", 46),
    ("処方した医療機関", "prescribed_by", 46),
    ("薬剤", "drug", 72),
    ("用法・用量", "dose", 62),
    ("日数", "days", 14),
)
TREATMENTS = (
    ("診療日", "treated_on", 28),
    ("医療機関", "institution", 56),
    ("傷病名", "diagnosis", 90),
    ("診療内容", "treatment", 94),
)
CHECKUPS = (
    ("受診日", "examined_on", 30),
    ("項目", "item", 70),
    ("結果", "value", 30),
    ("単位", "unit", 30),
    ("基準値", "reference", 90),
)


def _day(value: str) -> str:
    day = dt.date.fromisoformat(value) if "-" in value else dt.datetime.strptime(value, "%Y%m%d")
    return f"{day.year}年{day.month}月{day.day}日"


def _document(title: str) -> FPDF:
    pdf = FPDF(orientation="L", format="A4", unit="mm")
    pdf.set_creator("myna-reception simulator")
    pdf.set_title(title)
    pdf.set_creation_date(now_jst())
    pdf.add_font("jp", fname=str(japanese_font()))
    fallback = fallback_font()
    if fallback is not None:
        pdf.add_font("jp-fallback", fname=str(fallback))
        pdf.set_fallback_fonts(["jp-fallback"])
    pdf.set_margins(12, 14, 12)
    pdf.set_auto_page_break(auto=True, margin=14)
    pdf.add_page()
    return pdf


def _table(
    pdf: FPDF, columns: tuple[tuple[str, str, int], ...], rows: list[dict[str, Any]]
) -> None:
    pdf.set_font("jp", size=8)
    widths = tuple(width for _, _, width in columns)
    heading = FontFace(emphasis="", fill_color=(238, 238, 238))  # the font has no bold
    with pdf.table(
        col_widths=widths, text_align="LEFT", line_height=4.6, headings_style=heading
    ) as table:
        header = table.row()
        for label, _, _ in columns:
            header.cell(label)
        for row in rows:
            line = table.row()
            for _, key, _ in columns:
                value = str(row.get(key) or "")
                if key.endswith("_on"):
                    value = _day(value)
                line.cell(printable(value, replacement=GETA))
    pdf.ln(3)


def render(
    title: str,
    person: dict[str, str],
    rows: list[dict[str, Any]],
    treatments: list[dict[str, Any]],
    period: str,
) -> bytes:
    """The report: ``rows`` of 特定健診 (``examined_on``) or of 薬剤 (``dispensed_on``), and
    the treatments of 薬剤・診療情報."""
    checkups = bool(rows) and "examined_on" in rows[0]
    heading = "薬剤・診療情報" if treatments and not checkups else title
    pdf = _document(heading)
    pdf.set_font("jp", size=16)
    pdf.cell(0, 10, heading, align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font("jp", size=10)
    birth = person.get("birth_date", "")
    lines = [
        f"氏名: {person.get('name', '')}（{person.get('name_kana', '')}）",
        f"生年月日: {_day(birth) if birth else '—'}　性別: {SEX.get(person.get('sex', ''), '—')}",
        f"対象期間: {period}　作成: {now_jst():%Y年%m月%d日 %H:%M}",
    ]
    for line in lines:
        pdf.cell(0, 6, printable(line, replacement=GETA), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(2)
    newest_first = sorted(rows, key=lambda r: str(r.get("examined_on") or r["dispensed_on"]))[::-1]
    if rows:
        _table(pdf, CHECKUPS if checkups else MEDICATIONS, newest_first)
    if treatments:
        pdf.set_font("jp", size=11)
        pdf.cell(0, 7, "診療情報", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        _table(pdf, TREATMENTS, sorted(treatments, key=lambda r: str(r["treated_on"]))[::-1])
    pdf.set_font("jp", size=7)
    pdf.cell(0, 5, "オンライン資格確認の情報（シミュレーターの出力：実在の人物ではありません）")
    return bytes(pdf.output())
