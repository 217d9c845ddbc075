"""Debian's Chromium, driven headlessly by its ChromeDriver through Selenium, for the
tests that look at pages as a user's browser shows them (the training report, the
training room): one way to start it, a profile of its own, nothing of it left running.

Also the room's desk page read as a screen reader would (:class:`TerminalPage`): the
desk opened with ``?a11y=1`` makes xterm.js keep one DOM row per terminal line
(``.xterm-accessibility-tree``), holding the line's text — a wide (全角) character once,
though it takes two cells on the screen."""

from __future__ import annotations

import contextlib
import io
import shutil
import time
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement

from tests.support.processes import descendants, kill_all, running, start_time, still_running

CHROMIUM = shutil.which("chromium")
CHROMEDRIVER = shutil.which("chromedriver")

needs_chromium = pytest.mark.skipif(
    CHROMIUM is None or CHROMEDRIVER is None,
    reason="Debian's Chromium is not installed (packages chromium and chromium-driver: "
    "scripts/setup --dev installs them)",
)

ARGUMENTS = (
    "--headless=new",
    "--no-sandbox",  # root on CI
    "--disable-gpu",
    "--disable-dev-shm-usage",
    # no connection of its own: the machine's network is closed
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
    "--hide-scrollbars",
)


@contextlib.contextmanager
def chromium(profile: Path, *, width: int = 1280, height: int = 900) -> Iterator[webdriver.Chrome]:
    """Chromium with its profile in ``profile``, a window of ``width`` × ``height``; on
    leaving, it quits and neither ChromeDriver nor any Chromium process is left running
    (asserted: they are killed first, so a failure leaves nothing behind either)."""
    assert CHROMIUM is not None and CHROMEDRIVER is not None
    options = Options()
    options.binary_location = CHROMIUM
    for argument in (*ARGUMENTS, f"--user-data-dir={profile}", f"--window-size={width},{height}"):
        options.add_argument(argument)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    process = driver.service.process
    started: dict[int, str] = {}
    if process is not None:
        start = start_time(process.pid)
        started = ({process.pid: start} if start else {}) | descendants(process.pid)
    try:
        yield driver
    finally:
        if process is not None and running(process.pid):  # the renderers started since
            started |= descendants(process.pid)
        driver.quit()
        left = still_running(started)
        kill_all(started)
        assert not left, f"Chromium still running after quit: {left}"


def screenshot(driver: webdriver.Chrome) -> Image.Image:
    return Image.open(io.BytesIO(driver.get_screenshot_as_png())).convert("RGB")


# -- the desk page's terminal, as text --------------------------------------------------


def cells(text: str) -> int:
    """How many terminal cells ``text`` takes: two for a wide (全角) character."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


@dataclass(frozen=True)
class Place:
    """Where a text stands on the terminal: its row and first column (cells, from 0)."""

    row: int
    column: int
    width: int


LIGHT = 150.0  # a focused button's label: its cells' mean grey (~185; unfocused ones 70–125)
FOCUS_SHOWN = 1.0  # seconds a Tab's redraw may take to reach the page's canvas


class TerminalPage:
    """A desk page opened with ``?a11y=1``: its terminal's lines from the DOM, keys typed
    into the terminal as a trainee types them."""

    ROWS = ".xterm-accessibility-tree > [role=listitem]"

    def __init__(self, driver: webdriver.Chrome) -> None:
        self.driver = driver

    def rows(self) -> list[str]:
        found: list[str] = self.driver.execute_script(
            "return Array.from(document.querySelectorAll(arguments[0]), e => e.textContent);",
            self.ROWS,
        )
        return found

    def text(self) -> str:
        return "\n".join(self.rows())

    def wait_for(self, *texts: str, timeout: float = 60.0) -> str:
        """Until one of ``texts`` is on the terminal: that text (a bound, not a measure)."""
        deadline = time.monotonic() + timeout
        while True:
            screen = self.text()
            for text in texts:
                if text in screen:
                    return text
            if time.monotonic() > deadline:
                raise AssertionError(f"{texts} not on the desk's terminal:\n{screen}")
            time.sleep(0.1)

    def wait_until(self, check: Callable[[str], bool], what: str, timeout: float = 30.0) -> str:
        """Until the terminal's text passes ``check``: that text."""
        deadline = time.monotonic() + timeout
        while True:
            screen = self.text()
            if check(screen):
                return screen
            if time.monotonic() > deadline:
                raise AssertionError(f"never {what} on the desk's terminal:\n{screen}")
            time.sleep(0.1)

    def keys(self, *keys: str) -> None:
        """Keys into the terminal (xterm.js's hidden text area has the browser's focus)."""
        area = self.driver.find_element(By.CSS_SELECTOR, ".xterm-helper-textarea")
        area.send_keys(*keys)

    def place(self, text: str, *, row_with: str = "") -> Place:
        """Where ``text`` stands on the terminal: its first appearance (on a line that
        also holds ``row_with``)."""
        for row, line in enumerate(self.rows()):
            at = line.find(text)
            if at >= 0 and row_with in line:
                return Place(row, cells(line[:at]), cells(text))
        raise AssertionError(f"{text!r} not on the desk's terminal:\n{self.text()}")

    def screen_element(self) -> WebElement:
        return self.driver.find_element(By.CSS_SELECTOR, ".xterm-screen")

    def brightness(self, text: str, *, row_with: str = "") -> float:
        """How light the cells under ``text`` are on the screen (0 black … 255 white): a
        focused button's label stands out light on the dark terminal."""
        place = self.place(text, row_with=row_with)
        rows = self.rows()
        columns = max(cells(line) for line in rows)
        box = self.driver.execute_script(
            "const r = arguments[0].getBoundingClientRect();"
            "return [r.left, r.top, r.width, r.height, devicePixelRatio];",
            self.screen_element(),
        )
        left, top, width, height, ratio = (float(v) for v in box)
        cell_w, cell_h = width / columns * ratio, height / len(rows) * ratio
        x0, y0 = left * ratio + place.column * cell_w, top * ratio + place.row * cell_h
        area = screenshot(self.driver).crop(
            (round(x0), round(y0), round(x0 + place.width * cell_w), round(y0 + cell_h))
        )
        histogram = area.convert("L").histogram()
        pixels = sum(histogram)
        return sum(i * n for i, n in enumerate(histogram)) / pixels if pixels else 0.0

    def focus_on(self, label: str, *, row_with: str = "", presses: int = 40) -> None:
        """Tab through the terminal until the button ``label`` has the focus (drawn light
        on the dark screen), as a trainee does with the keyboard."""
        for _ in range(presses):
            deadline = time.monotonic() + FOCUS_SHOWN
            while True:  # the screen redrawn after the last Tab: a bound, not a measure
                if self.brightness(label, row_with=row_with) > LIGHT:
                    return
                if time.monotonic() > deadline:
                    break
                time.sleep(0.05)
            self.keys("\t")
        raise AssertionError(f"the focus never came to {label!r} in {presses} Tab presses")
