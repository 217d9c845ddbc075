"""The training report's HTML and CSV (reception/training/report.py) for a run scored by
the real scoring: what a trainer reads in them, that they say 研修 everywhere, and that
nothing a trainee or a scenario wrote can act as markup, a terminal control or a
spreadsheet formula. (How the page looks in a browser: the integration test.)"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

from reception.training.report import CSV_HEADER, MARK, to_csv, to_html, write_reports
from reception.training.scoring import RunReport
from tests.support.training_reports import sample_report

CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u200e\u200f]")


def text_of(page: str) -> str:
    """The page's text roughly as shown: tags dropped, entities left as they are."""
    return re.sub(r"<[^>]+>", "", page.split("</style>", 1)[1])


def rows_of(report: RunReport) -> list[list[str]]:
    return list(csv.reader(io.StringIO(to_csv(report))))


def with_case(report: RunReport, n: int, **changes: object) -> RunReport:
    cases = list(report.cases)
    cases[n] = cases[n].model_copy(update=changes)
    return report.model_copy(update={"cases": cases})


# --- the HTML page -----------------------------------------------------------------------


def test_the_page_says_training_at_the_top_and_in_the_printed_footer() -> None:
    page = to_html(sample_report())
    assert page.startswith("<!doctype html>") and '<html lang="ja">' in page
    body = page.split("<body>", 1)[1]
    assert body.lstrip().startswith(f'<p class="training-mark" role="note">{MARK}</p>')
    assert body.index(MARK) < body.index("<h1>")
    footer = re.search(r"@bottom-center\s*\{[^}]*\}", page)
    assert footer is not None and f'content: "{MARK}"' in footer.group()
    assert "size: A4" in page


def test_the_page_names_the_trainee_the_scenario_the_day_and_the_times() -> None:
    shown = text_of(to_html(sample_report(trainee="佐藤 一郎")))
    assert "研修者佐藤 一郎" in shown
    assert "シナリオ基本（報告の見本）（report-sample）" in shown
    assert "想定の日付2026-12-07" in shown
    assert "開始2026-12-07 09:02" in shown and "終了2026-12-07 09:33" in shown
    assert "ケース完了（9 件）" in shown


def test_the_table_has_a_row_per_case_with_each_items_points_and_the_total() -> None:
    report = sample_report()
    page = to_html(report)
    table = page.split('<table class="cases">', 1)[1].split("</table>", 1)[0]
    heads = re.findall(r'<th scope="col">([^<]*)</th>', table)
    assert heads == ["ケース", "題", "得点", "終わり方", "負担割合", "書類", "声かけ", "時間", "秒"]
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", table.split("<tbody>", 1)[1], re.S)
    assert len(rows) == len(report.cases) + 1
    cells = [re.sub(r"<[^>]+>", "", c) for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", rows[3])]
    # elderly-70: 3割 charged where 2割 was right
    assert cells == [
        "elderly-70",
        "70〜74歳の負担割合 振り返り",
        "80/100",
        "40/40",
        "0/20",
        "15/15",
        "15/15",
        "10/10",
        "60",
    ]
    assert 'class="lost"><span class="got">0</span><span class="of">/20</span>' in rows[3]
    total = re.sub(r"<[^>]+>", " ", rows[-1]).split()
    assert total[:2] == ["合計", f"{report.total}"] and f"/{report.max}" in total
    assert f"{sum(c.seconds for c in report.cases):.0f}" == total[-1]
    shown = text_of(page)
    assert f"合計 {report.total} / {report.max} 点（{report.percent:.0f} %）" in shown
    assert (report.total, report.max) == (686, 900)


def test_waiting_is_a_column_only_where_a_morning_rush_counts_it() -> None:
    assert "待ち秒" not in to_html(sample_report())
    page = to_html(sample_report(waits=(0, 120, 480)))
    assert '<th scope="col">待ち秒</th>' in page
    kakunin = re.search(r"<tr><th scope=\"row\" class=\"id\">kakunin</th>.*?</tr>", page)
    assert kakunin is not None and kakunin.group().endswith('<td class="num">480</td></tr>')


def test_a_case_with_lost_points_is_explained_item_by_item_with_its_mistakes() -> None:
    page = to_html(sample_report())
    details = page.split('<section class="details">', 1)[1]
    explained = re.findall(r'<article class="case" id="case-(\d+)">', details)
    # pin, kakunin and child were perfect
    assert explained == ["2", "4", "5", "6", "7", "8"]
    forgot = details.split('id="case-2">', 1)[1].split("</article>", 1)[0]
    assert "「暗証番号がわかりません」: 誤り — 暗証番号は本人だけが入力します。" in forgot
    assert '暗証番号を尋ねた・入力した</strong> <span class="cost">−30 点</span>' in forgot
    assert "「暗証番号を教えていただければ…」と答えた" in forgot
    assert "なぜ: 暗証番号は本人だけが入力します。職員が尋ねたり" in forgot
    assert "<strong>解説</strong> 暗証番号がわからなくても顔認証で受付できます。" in forgot
    assert "<strong>出典</strong> 厚生労働省 オンライン資格確認 運用マニュアル" in forgot
    # only the items that lost points: the end state, 負担割合 … were right here
    assert "受付の終わり方" not in forgot and "負担割合" not in forgot
    declaration = details.split('id="case-5">', 1)[1].split("</article>", 1)[0]
    assert "正: 被保険者資格申立書で受付 / 結果: 未完了（in-progress）" in declaration
    assert declaration.count('<span class="cost">') == 2
    assert '<a class="more" href="#case-5">振り返り</a>' in page


def test_a_source_is_a_link_only_when_it_is_http_or_https() -> None:
    page = to_html(sample_report())
    assert (
        '<a href="https://www.mhlw.go.jp/content/kakuninsho.pdf" rel="noreferrer">' not in page
    )  # kakunin was perfect: not explained
    assert '<a href="https://www.mhlw.go.jp/" rel="noreferrer">https://www.mhlw.go.jp/</a>' in page
    assert "javascript:alert(1)" in page and 'href="javascript' not in page
    report = sample_report()
    for source, linked in (
        ('https://example.jp/a"onmouseover="alert(1)', True),
        ("HTTP://EXAMPLE.JP/X", True),
        ("ftp://example.jp/notice.pdf", False),
        ("data:text/html,<script>alert(1)</script>", False),
        ("https://example.jp/\u202ecod.exe", False),
        ("https:///no-host", False),
    ):
        page = to_html(with_case(report, 1, source=source))
        source_line = page.split('id="case-2">', 1)[1].split('<p class="source">', 1)[1]
        source_line = source_line.split("</p>", 1)[0]
        assert source_line.startswith("<strong>出典</strong> <a href=") is linked, source
        assert "<script" not in source_line and '"onmouseover' not in source_line


def test_names_titles_notes_and_explanations_are_text_never_markup_or_controls() -> None:
    hostile = "<script>alert('x')</script>\x1b[2J\u202e\x07\x85太郎&amp;"
    report = sample_report(trainee=hostile)
    report = report.model_copy(update={"scenario_title": "<b>set</b>\u2066"})
    report = with_case(
        report,
        1,
        case_id="<i>id</i>",
        title='<img src=x onerror="alert(1)">',
        explain="line one\r\nline two <u>\x00",
    )
    page = to_html(report)
    assert "<script" not in page and "<img" not in page and "<i>" not in page
    assert "<b>set" not in page and "<u>" not in page
    assert CONTROLS.search(page) is None
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;␛[2J�␇�太郎&amp;amp;" in page
    assert "<title>研修報告 — &lt;script&gt;" in page
    assert "line one\nline two &lt;u&gt;␀" in page  # its line break kept, \r\n as \n
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in page


def test_the_page_needs_nothing_from_outside() -> None:
    page = to_html(sample_report())
    for outside in ("<script", "<link", "<img", "<iframe", "@import", "url(", "src=", "@font-face"):
        assert outside not in page, outside
    # the only addresses are the sources' links
    hrefs = re.findall(r'href="([^"]*)"', page)
    assert {h for h in hrefs if not h.startswith("#")} == {
        "https://www.mhlw.go.jp/",
        "https://www.mhlw.go.jp/stf/seisakunitsuite/bunya/0000123456.html",
    }


def test_the_print_rules_keep_rows_whole_and_repeat_the_header() -> None:
    page = to_html(sample_report())
    printed = page.split("@media print", 1)[1]
    assert re.search(r"tr, [^{]*\{ break-inside: avoid; \}", printed)
    assert "thead { display: table-header-group; }" in printed
    assert ".training-mark" not in printed  # nothing hides the mark in print


def test_an_unfinished_run_says_how_far_it_got() -> None:
    report = sample_report(cases=4, finished=False)
    shown = text_of(to_html(report))
    assert "ケース途中（9 件中 4 件）" in shown
    assert "この研修は終わっていません: 9 件中 4 件の得点です。" in shown
    assert "終了未了" in shown
    finished_early = sample_report(cases=4, finished=True)  # finished, cases missing
    assert "途中（9 件中 4 件）" in text_of(to_html(finished_early))
    assert "終わっていません" not in text_of(to_html(sample_report()))


def test_a_perfect_run_and_an_empty_one() -> None:
    report = sample_report()
    perfect = report.model_copy(
        update={"cases": [c for c in report.cases if c.total == c.max and not c.mistakes]}
    )
    perfect = perfect.model_copy(update={"case_count": len(perfect.cases)})
    assert "すべてのケースが満点でした。" in to_html(perfect)
    assert "（100 %）" in to_html(perfect)
    empty = report.model_copy(update={"cases": [], "finished": None})
    shown = text_of(to_html(empty))
    assert "まだ終わったケースがありません。" in shown and "合計 0 / 0 点（0 %）" in shown


# --- the CSV -----------------------------------------------------------------------------


def test_the_csv_has_a_header_a_row_per_case_and_a_total_all_marked_training() -> None:
    report = sample_report(waits=(0, 120, 480))
    rows = rows_of(report)
    assert rows[0] == CSV_HEADER
    assert len(rows) == 1 + len(report.cases) + 1
    assert all(row[0] == "研修" for row in rows[1:])
    assert {len(row) for row in rows} == {len(CSV_HEADER)}
    by_name = [dict(zip(CSV_HEADER, row, strict=True)) for row in rows[1:]]
    forgot = by_name[1]
    assert forgot["ケースID"] == "forgot-pin" and forgot["研修者"] == "山田 花子"
    assert (forgot["得点"], forgot["満点"], forgot["得点率"]) == ("55", "100", "55.0")
    assert (forgot["声かけ"], forgot["声かけ満点"]) == ("0", "15")
    assert forgot["減点"] == "30" and forgot["誤り"] == "暗証番号を尋ねた・入力した（30点）"
    assert (forgot["秒"], forgot["待ち秒"]) == ("131", "120")
    total = by_name[-1]
    assert total["ケースID"] == "合計"
    assert (total["得点"], total["満点"]) == (str(report.total), str(report.max))
    assert total["減点"] == str(sum(m.cost for c in report.cases for m in c.mistakes))
    assert total["負担割合"] == str(sum(int(r["負担割合"]) for r in by_name[:-1]))


def test_the_csv_file_has_a_bom_for_excel_and_crlf_rows(tmp_path: Path) -> None:
    _html, path = write_reports(sample_report(), tmp_path)
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf\xe5\x8c\xba\xe5\x88\x86,")  # BOM, then 区分
    assert raw.count(b"\r\n") == 1 + 9 + 1 and b"\r\r\n" not in raw


def test_a_cell_a_spreadsheet_would_run_gets_an_apostrophe() -> None:
    report = sample_report(trainee='=HYPERLINK("http://evil.example","x")')
    report = with_case(report, 0, title="+SUM(A1:A9)", case_id="@cmd")
    report = with_case(report, 2, title="-2+3")
    rows = rows_of(report)
    assert {row[1] for row in rows[1:]} == {'\'=HYPERLINK("http://evil.example","x")'}
    assert rows[1][4:6] == ["'@cmd", "'+SUM(A1:A9)"]
    assert rows[3][5] == "'-2+3"
    assert rows[2][5] == "暗証番号を忘れた"  # ordinary text as it is
    for row in rows:
        for cell in row:
            assert not cell.startswith(("=", "+", "-", "@")), cell


def test_the_csv_shows_controls_as_stand_ins() -> None:
    rows = rows_of(sample_report(trainee="\t=1+1\x1b[31m\u202e花子\r\n"))
    assert rows[1][1] == "␉=1+1␛[31m�花子␊"  # a line break (CR LF or LF) as one ␊
    cells = to_csv(sample_report(trainee="a\x1b\u202eb")).replace("\r\n", "")
    assert CONTROLS.search(cells) is None


def test_an_unfinished_runs_csv_says_so_in_its_total_row() -> None:
    rows = rows_of(sample_report(cases=3, finished=False))
    assert len(rows) == 1 + 3 + 1
    assert rows[-1][0] == "研修" and rows[-1][4] == "合計（途中: 3/9 件）"


def test_writing_replaces_both_files_and_leaves_no_temporary_one(tmp_path: Path) -> None:
    (tmp_path / "report.html").write_text("old")
    html, csv_path = write_reports(sample_report(trainee="一回目"), tmp_path)
    write_reports(sample_report(trainee="二回目"), tmp_path)
    assert "二回目" in html.read_text(encoding="utf-8")
    assert "一回目" not in csv_path.read_text(encoding="utf-8-sig")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.csv", "report.html"]
