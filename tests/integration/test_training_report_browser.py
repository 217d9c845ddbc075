"""The training report as a trainer sees it (issue 25, "done when"): report.html opened in
Debian's headless Chromium (driven by its ChromeDriver through Selenium), a screenshot
taken and looked at, the layout measured in the DOM, and the page printed to PDF.

Skipped only where Chromium is not installed; ``scripts/setup --dev`` installs it
(packages chromium and chromium-driver)."""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image
from pypdf import PdfReader
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.common.print_page_options import PrintOptions

from reception.training.report import MARK, write_reports
from reception.training.scoring import RunReport
from tests.support.browser import chromium, needs_chromium, screenshot
from tests.support.training_reports import sample_report

pytestmark = needs_chromium

# the training mark's red (#b00020), give or take anti-aliasing
MARK_RED = (0xB0, 0x00, 0x20)

# a trainee whose name tries to be markup and to act on a terminal
HOSTILE = '<script>document.title="X"</script>\u202e山田\x1b[2J 花子'

# a width for a printed A4 page's text at 96 dpi (210 mm less the 12 mm margins)
A4_TEXT_WIDTH = 703


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[webdriver.Chrome]:
    with chromium(tmp_path_factory.mktemp("chromium-profile"), width=1280, height=900) as driver:
        yield driver


@pytest.fixture
def page(browser: webdriver.Chrome, tmp_path: Path) -> Iterator[webdriver.Chrome]:
    """The sample run's report, as written for a trainer, open in the browser."""
    html, _csv = write_reports(sample_report(trainee=HOSTILE), tmp_path)
    browser.set_window_size(1280, 900)
    browser.get(html.as_uri())
    yield browser
    browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": ""})


def share_not_white(image: Image.Image) -> float:
    grey = image.convert("L")
    dark = sum(grey.histogram()[:240])
    return dark / (image.width * image.height)


def red_pixels(image: Image.Image) -> int:
    """Pixels of the training mark's red."""
    data = image.tobytes()
    return sum(
        1
        for i in range(0, len(data), 3)
        if abs(data[i] - MARK_RED[0]) < 40
        and data[i + 1] < 60
        and abs(data[i + 2] - MARK_RED[2]) < 40
    )


def overflow(driver: webdriver.Chrome) -> dict[str, int]:
    found: dict[str, int] = driver.execute_script(
        "const root = document.documentElement;"
        "const table = document.querySelector('table.cases');"
        "return {scroll: root.scrollWidth, client: root.clientWidth,"
        " tableRight: Math.ceil(table.getBoundingClientRect().right),"
        " tableScroll: table.scrollWidth, tableClient: table.clientWidth};"
    )
    return found


def fits(found: dict[str, int]) -> bool:
    return (
        found["scroll"] <= found["client"]
        and found["tableRight"] <= found["client"]
        and found["tableScroll"] <= found["tableClient"]
    )


def test_the_report_renders_with_its_title_mark_and_cases(page: webdriver.Chrome) -> None:
    assert page.title.startswith("研修報告 — ")
    assert "山田" in page.title and page.title != "X"  # the name's script never ran
    assert page.find_element(By.TAG_NAME, "h1").text == "研修報告"
    mark = page.find_element(By.CSS_SELECTOR, ".training-mark")
    assert mark.is_displayed() and mark.text == MARK
    assert mark.location["y"] < 100  # at the top of the page
    # the name is shown as text: its markup visible, its controls as stand-ins
    trainee = page.find_element(By.CSS_SELECTOR, ".meta dd").text
    assert trainee.startswith('<script>document.title="X"</script>')
    assert "\x1b" not in trainee and "\u202e" not in trainee and "␛" in trainee
    assert page.find_elements(By.TAG_NAME, "script") == []
    rows = page.find_elements(By.CSS_SELECTOR, "table.cases tbody tr")
    assert len(rows) == 9 + 1  # the cases and the total
    assert rows[-1].text.startswith("合計")
    image = screenshot(page)
    assert image.size[0] >= 1200
    assert share_not_white(image) > 0.03, "the page looks blank"
    top = image.crop((0, 0, image.width, 120))
    assert red_pixels(top) > 500, "the training mark is not visible at the top"


def test_the_case_table_fits_the_window_and_an_a4_page(page: webdriver.Chrome) -> None:
    for width in (1280, 1024, 800):
        page.set_window_size(width, 900)
        found = overflow(page)
        assert fits(found), f"{width} px wide: {found}"
    page.set_window_size(A4_TEXT_WIDTH, 1000)
    page.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
    found = overflow(page)
    assert fits(found), f"printed (A4): {found}"


def test_printing_keeps_the_mark_and_the_rows_whole(page: webdriver.Chrome) -> None:
    page.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
    assert page.execute_script("return matchMedia('print').matches") is True
    # the print rules apply: what only the screen shows is gone …
    assert not page.find_element(By.CSS_SELECTOR, ".screen-footer").is_displayed()
    # … and the mark stays
    mark = page.find_element(By.CSS_SELECTOR, ".training-mark")
    assert mark.is_displayed() and mark.text == MARK
    assert red_pixels(screenshot(page).crop((0, 0, 1280, 120))) > 500
    style = page.execute_script(
        "const row = document.querySelector('table.cases tbody tr');"
        "const head = document.querySelector('table.cases thead');"
        "return [getComputedStyle(row).breakInside, getComputedStyle(head).display];"
    )
    assert style == ["avoid", "table-header-group"]


def long_run(report: RunReport, rounds: int) -> RunReport:
    """The sample's cases many times over: a table that runs over several pages."""
    cases = [
        case.model_copy(update={"case_id": f"{case.case_id}-r{n}", "title": f"{case.title}{n}"})
        for n in range(1, rounds + 1)
        for case in report.cases
    ]
    return report.model_copy(update={"cases": cases, "case_count": len(cases)})


def test_every_printed_page_says_training_and_repeats_the_header(
    browser: webdriver.Chrome, tmp_path: Path
) -> None:
    report = long_run(sample_report(), rounds=8)
    html, _csv = write_reports(report, tmp_path)
    browser.get(html.as_uri())
    options = PrintOptions()
    options.page_width, options.page_height = 21.0, 29.7  # A4, in cm
    pdf = PdfReader(io.BytesIO(base64.b64decode(browser.print_page(options))))
    pages = [p.extract_text() or "" for p in pdf.pages]
    assert len(pages) >= 3
    for number, text in enumerate(pages, 1):
        assert MARK in text, f"page {number} has no training mark"
    # the table's pages: each starts with the header row again
    last = report.cases[-1].case_id
    table_pages = []
    for text in pages:
        table_pages.append(text)
        if last in text:
            break
    assert len(table_pages) >= 2
    for number, text in enumerate(table_pages, 1):
        assert "負担" in text and "声か" in text, f"page {number}: no table header"
