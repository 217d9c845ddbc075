"""A run's report (issue 25 §2): one self-contained HTML page a trainer can open or print,
and a CSV of the cases for a spreadsheet — both marked as training on every page and row.

Everything in a report that a person wrote (the trainee's name, a scenario's titles,
explanations and sources, the notes that quote them) is untrusted: its controls, bidi
overrides and noncharacters are replaced by visible stand-ins (␛, �:
:func:`reader.safe_text.printable`, as on the terminal's screens), then it is escaped for
HTML; in the CSV a cell that a spreadsheet would take for a formula is defused.

The page needs nothing from outside (inline CSS, no fonts, scripts or images) and prints
on A4: a row is never cut across pages, the table's header is repeated on each page, and
every printed page's footer says 研修.
"""

from __future__ import annotations

import csv
import datetime as dt
import html
import io
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import urlsplit

from reader.safe_text import printable
from reception.training.scoring import CaseScore, MistakeItem, RunReport, ScoreItem

MARK = "研修（実際の受付記録ではありません）"

# the score items in the order of the table, with their short column headings
ITEMS = (
    ("end", "終わり方"),
    ("ratio", "負担割合"),
    ("documents", "書類"),
    ("words", "声かけ"),
    ("time", "時間"),
)

# a spreadsheet takes a cell starting with one of these for a formula (CSV injection)
_FORMULA_START = ("=", "+", "-", "@")


# --- shared ------------------------------------------------------------------------------


def _clean(text: str, *, multiline: bool = False) -> str:
    """Untrusted text with its controls, bidi overrides and noncharacters made visible."""
    text = text.replace("\r\n", "\n")
    return printable(text, multiline=multiline)


def _item(case: CaseScore, key: str) -> ScoreItem | None:
    return next((i for i in case.items if i.key == key), None)


def _unfinished(report: RunReport) -> bool:
    return report.finished is None or len(report.cases) < report.case_count


def _counts_waiting(report: RunReport) -> bool:
    """A 朝の混雑 set counts the patients' waiting: scoring keeps a case's ``waited`` only
    there (the report does not say which set it was: a rush where nobody waited at all
    shows no 待ち column)."""
    return any(c.waited > 0 for c in report.cases)


def _when(moment: dt.datetime | None) -> str:
    return "—" if moment is None else moment.strftime("%Y-%m-%d %H:%M")


def _lost(case: CaseScore) -> bool:
    return case.total < case.max or bool(case.mistakes)


# --- CSV ---------------------------------------------------------------------------------


def csv_cell(value: object) -> str:
    """One CSV cell: controls made visible, and a leading apostrophe before = + - @ so a
    spreadsheet shows the text instead of running it."""
    text = _clean(str(value))
    return "'" + text if text.startswith(_FORMULA_START) else text


CSV_HEADER = (
    ["区分", "研修者", "シナリオ", "研修の日付", "ケースID", "ケース名", "得点", "満点", "得点率"]
    + [h for _, label in ITEMS for h in (label, f"{label}満点")]
    + ["減点", "誤り", "秒", "待ち秒"]
)


def _csv_case(report: RunReport, case: CaseScore) -> list[object]:
    items: list[object] = []
    for key, _ in ITEMS:
        item = _item(case, key)
        items += ["", ""] if item is None else [item.got, item.max]
    return [
        "研修",
        report.trainee,
        report.scenario_id,
        report.day.isoformat(),
        case.case_id,
        case.title,
        case.total,
        case.max,
        f"{case.percent:.1f}",
        *items,
        sum(m.cost for m in case.mistakes),
        " / ".join(f"{m.label}（{m.cost}点）" for m in case.mistakes),
        f"{case.seconds:.0f}",
        f"{case.waited:.0f}",
    ]


def _csv_total(report: RunReport) -> list[object]:
    label = "合計"
    if _unfinished(report):
        label += f"（途中: {len(report.cases)}/{report.case_count} 件）"
    items: list[object] = []
    for key, _ in ITEMS:
        found = [i for i in (_item(c, key) for c in report.cases) if i is not None]
        items += [sum(i.got for i in found), sum(i.max for i in found)]
    mistakes = [m for c in report.cases for m in c.mistakes]
    return [
        "研修",
        report.trainee,
        report.scenario_id,
        report.day.isoformat(),
        label,
        report.scenario_title,
        report.total,
        report.max,
        f"{report.percent:.1f}",
        *items,
        sum(m.cost for m in mistakes),
        f"{len(mistakes)} 件",
        f"{sum(c.seconds for c in report.cases):.0f}",
        f"{sum(c.waited for c in report.cases):.0f}",
    ]


def to_csv(report: RunReport) -> str:
    """A header row, one row per case scored, and a total row; every row's first cell says
    研修. (The BOM that Excel needs is added by :func:`write_reports`.)"""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    rows: list[list[object]] = [list(CSV_HEADER)]
    rows += [_csv_case(report, case) for case in report.cases]
    rows.append(_csv_total(report))
    writer.writerows([csv_cell(v) for v in row] for row in rows)
    return out.getvalue()


# --- HTML --------------------------------------------------------------------------------


def _h(text: str) -> str:
    """Untrusted text for HTML: controls made visible (line feeds kept), then escaped."""
    return html.escape(_clean(text, multiline=True), quote=True)


def _link(source: str) -> str:
    """A source as a link when it is an http(s) URL (nothing to hide in it), else text."""
    clean = _clean(source)
    parts = urlsplit(clean) if clean == source and not any(c.isspace() for c in source) else None
    if parts is not None and parts.scheme.lower() in ("http", "https") and parts.netloc:
        return f'<a href="{html.escape(source, quote=True)}" rel="noreferrer">{_h(source)}</a>'
    return _h(source)


def _points(got: int, most: int) -> str:
    lost = ' class="lost"' if got < most else ""
    return f'<td{lost}><span class="got">{got}</span><span class="of">/{most}</span></td>'


def _case_row(number: int, case: CaseScore, waiting: bool) -> str:
    cells = [
        f'<th scope="row" class="id">{_h(case.case_id)}</th>',
        f'<td class="title">{_h(case.title)}'
        + (f' <a class="more" href="#case-{number}">振り返り</a>' if _lost(case) else "")
        + "</td>",
        _points(case.total, case.max),
    ]
    for key, _ in ITEMS:
        item = _item(case, key)
        cells.append("<td>—</td>" if item is None else _points(item.got, item.max))
    cells.append(f'<td class="num">{case.seconds:.0f}</td>')
    if waiting:
        cells.append(f'<td class="num">{case.waited:.0f}</td>')
    return "<tr>" + "".join(cells) + "</tr>"


def _total_row(report: RunReport, waiting: bool) -> str:
    cells = [
        '<th scope="row" colspan="2">合計</th>',
        _points(report.total, report.max),
    ]
    for key, _ in ITEMS:
        found = [i for i in (_item(c, key) for c in report.cases) if i is not None]
        cells.append(_points(sum(i.got for i in found), sum(i.max for i in found)))
    cells.append(f'<td class="num">{sum(c.seconds for c in report.cases):.0f}</td>')
    if waiting:
        cells.append(f'<td class="num">{sum(c.waited for c in report.cases):.0f}</td>')
    return '<tr class="total">' + "".join(cells) + "</tr>"


def _table(report: RunReport) -> str:
    waiting = _counts_waiting(report)
    heads = ["ケース", "題", "得点"] + [label for _, label in ITEMS] + ["秒"]
    if waiting:
        heads.append("待ち秒")
    head = "".join(f'<th scope="col">{h}</th>' for h in heads)
    if report.cases:
        body = "\n".join(_case_row(n, c, waiting) for n, c in enumerate(report.cases, 1))
        body += "\n" + _total_row(report, waiting)
    else:
        body = f'<tr><td colspan="{len(heads)}">まだ終わったケースがありません。</td></tr>'
    return (
        '<table class="cases">\n<caption>ケースごとの得点（得点/満点）</caption>\n'
        f"<thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n</tbody>\n</table>"
    )


def _mistakes(mistakes: Iterable[MistakeItem]) -> str:
    entries = [
        f'<li><p><strong>{_h(m.label)}</strong> <span class="cost">−{m.cost} 点</span></p>'
        f'<p class="detail">{_h(m.detail)}</p><p class="why">なぜ: {_h(m.why)}</p></li>'
        for m in mistakes
    ]
    if not entries:
        return ""
    return '<h4>誤り</h4>\n<ul class="mistakes">\n' + "\n".join(entries) + "\n</ul>"


def _case_detail(number: int, case: CaseScore) -> str:
    items = "\n".join(
        f'<tr><th scope="row">{_h(i.label)}</th>{_points(i.got, i.max)}'
        f'<td class="note">{_h(i.note)}</td></tr>'
        for i in case.items
        if not i.ok
    )
    table = (
        '<table class="items"><thead><tr><th scope="col">項目</th><th scope="col">得点</th>'
        f'<th scope="col">正しい対応と実際の対応</th></tr></thead>\n<tbody>\n{items}\n'
        "</tbody></table>"
        if items
        else ""
    )
    return (
        f'<article class="case" id="case-{number}">\n'
        f'<h3><span class="id">{_h(case.case_id)}</span> {_h(case.title)}'
        f' <span class="score">{case.total}/{case.max} 点</span></h3>\n'
        f"{table}\n{_mistakes(case.mistakes)}\n"
        f'<p class="explain"><strong>解説</strong> {_h(case.explain)}</p>\n'
        f'<p class="source"><strong>出典</strong> {_link(case.source)}</p>\n</article>'
    )


def _details(report: RunReport) -> str:
    lost = [(n, c) for n, c in enumerate(report.cases, 1) if _lost(c)]
    if not report.cases:
        body = ""
    elif not lost:
        body = '<p class="perfect">すべてのケースが満点でした。</p>'
    else:
        body = "\n".join(_case_detail(n, c) for n, c in lost)
    return f'<section class="details">\n<h2>振り返り（点を失ったケース）</h2>\n{body}\n</section>'


def _meta(report: RunReport) -> str:
    done = len(report.cases)
    progress = (
        f"途中（{report.case_count} 件中 {done} 件）"
        if _unfinished(report)
        else f"完了（{done} 件）"
    )
    rows = [
        ("研修者", _h(report.trainee)),
        ("シナリオ", f"{_h(report.scenario_title)}（{_h(report.scenario_id)}）"),
        ("想定の日付", report.day.isoformat()),
        ("開始", _when(report.started)),
        ("終了", _when(report.finished) if report.finished else "未了"),
        ("ケース", progress),
    ]
    return '<dl class="meta">' + "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in rows) + "</dl>"


def _summary(report: RunReport) -> str:
    text = f"合計 <strong>{report.total}</strong> / {report.max} 点（{report.percent:.0f} %）"
    notice = ""
    if _unfinished(report):
        notice = (
            f'<p class="unfinished">この研修は終わっていません: {report.case_count} 件中 '
            f"{len(report.cases)} 件の得点です。</p>"
        )
    return f'<p class="summary">{text}</p>{notice}'


def to_html(report: RunReport) -> str:
    title = f"研修報告 — {report.trainee} — {report.scenario_title}"
    return (
        '<!doctype html>\n<html lang="ja">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_h(title)}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n"
        f'<p class="training-mark" role="note">{MARK}</p>\n'
        f"<header><h1>研修報告</h1>\n{_meta(report)}\n{_summary(report)}</header>\n"
        f"<main>\n{_table(report)}\n{_details(report)}\n</main>\n"
        f'<footer class="screen-footer">{MARK}</footer>\n</body>\n</html>\n'
    )


STYLE = """
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { margin: 0 auto; max-width: 60rem; padding: 1rem; color: #111; background: #fff;
  font: 15px/1.55 "IPAexGothic", "Noto Sans CJK JP", "Hiragino Sans", "Yu Gothic", "Meiryo",
  sans-serif; overflow-wrap: anywhere; }
.training-mark { margin: 0 0 1rem; padding: .5rem .75rem; border: 3px solid #b00020;
  color: #b00020; font-weight: bold; font-size: 1.15rem; text-align: center;
  -webkit-print-color-adjust: exact; print-color-adjust: exact; }
h1 { font-size: 1.6rem; margin: 0 0 .5rem; }
h2 { font-size: 1.25rem; margin: 1.75rem 0 .5rem; border-bottom: 2px solid #333; }
h3 { font-size: 1.05rem; margin: 0 0 .4rem; }
h4 { font-size: .95rem; margin: .6rem 0 .2rem; }
.meta { display: grid; grid-template-columns: max-content 1fr; gap: .1rem 1rem; margin: 0; }
.meta dt { font-weight: bold; }
.meta dd { margin: 0; white-space: pre-line; }
.summary { font-size: 1.2rem; margin: .75rem 0; }
.unfinished { padding: .4rem .6rem; border: 2px dashed #8a5a00; color: #8a5a00; }
table { border-collapse: collapse; width: 100%; table-layout: fixed; }
caption { text-align: left; font-weight: bold; padding: .25rem 0; }
th, td { border: 1px solid #888; padding: .25rem .35rem; vertical-align: top; }
thead th { background: #eee; font-size: .85rem; -webkit-print-color-adjust: exact;
  print-color-adjust: exact; }
.cases td { text-align: right; }
.got, .of { display: inline-block; }
.cases td.title { text-align: left; white-space: pre-line; }
.cases th.id { text-align: left; font-weight: normal; font-family: monospace;
  font-size: .85rem; }
/* in the header's own ems (.85 of the text's) */
.cases thead th { width: 4.7em; }
.cases thead th:nth-child(1) { width: 8em; }
.cases thead th:nth-child(2) { width: auto; }
.cases thead th:nth-child(3) { width: 5.8em; }
.of { color: #555; font-size: .8em; }
td.lost { background: #fde8ea; font-weight: bold; -webkit-print-color-adjust: exact;
  print-color-adjust: exact; }
tr.total th, tr.total td { border-top: 2px solid #333; font-weight: bold; }
a.more { font-size: .8rem; white-space: nowrap; }
.case { border: 1px solid #bbb; padding: .6rem .8rem; margin: .8rem 0; }
.case h3 .id { font-family: monospace; font-weight: normal; }
.case h3 .score { float: right; }
.items thead th:nth-child(1) { width: 8em; }
.items thead th:nth-child(2) { width: 5.8em; }
.items td { text-align: right; }
.items td.note { text-align: left; white-space: pre-line; }
.mistakes { margin: 0; padding-left: 1.2rem; }
.mistakes p { margin: 0; white-space: pre-line; }
.mistakes .cost { color: #b00020; font-weight: bold; }
.explain, .source { margin: .5rem 0 0; white-space: pre-line; }
.screen-footer { margin-top: 2rem; color: #b00020; text-align: center; font-size: .9rem; }
@page {
  size: A4;
  margin: 14mm 12mm 18mm;
  @bottom-center { content: "研修（実際の受付記録ではありません）"; color: #b00020;
    font-size: 9pt; }
  @bottom-right { content: counter(page) " / " counter(pages); font-size: 9pt; }
}
@media print {
  body { max-width: none; padding: 0; font-size: 10pt; }
  a { color: inherit; text-decoration: none; }
  a.more { display: none; }
  .screen-footer { display: none; }
  thead { display: table-header-group; }
  tr, .case, .mistakes li, .meta, .summary { break-inside: avoid; }
  h2, h3 { break-after: avoid; }
}
"""


def write_reports(report: RunReport, directory: Path) -> tuple[Path, Path]:
    """``report.html`` and ``report.csv`` (UTF-8 with a BOM, for Excel) in ``directory``,
    each replaced whole."""
    paths = (directory / "report.html", directory / "report.csv")
    for path, text, encoding in (
        (paths[0], to_html(report), "utf-8"),
        (paths[1], to_csv(report), "utf-8-sig"),
    ):
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(text, encoding=encoding, newline="")
        tmp.replace(path)
    return paths
