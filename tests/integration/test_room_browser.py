"""The training room in a real browser (issue 26 §3): Debian's Chromium, headless, driven
by its ChromeDriver through Selenium, against ``reception room`` run as a trainer runs it.

A trainee opens the room's page, joins a free desk, types a name; the desk's terminal
loads (its text read from the page: the desk opened with ``?a11y=1`` has xterm.js keep
each terminal line as DOM text for a screen reader), the reader panel asks for the card,
the simulated patient plays the PIN, the check-in confirms, and the trainee finishes the
case by keyboard alone (Tab to 受け付ける and 3割, Enter, F8 for 対応完了). The trainer's
page then shows that desk's case and score; a room that stops tells the desk's page.

Screenshots are kept, one per step, in ``$ROOM_ARTIFACTS`` (default: the repository's
``.artifacts/room-browser/``, not tracked), each beside the terminal's text at that
moment. Nothing the tests start is left running: Chromium, the room, its desk processes,
its mock service."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

from tests.support.browser import TerminalPage, cells, chromium, needs_chromium
from tests.support.processes import descendants, kill_all, mentioning, still_running
from tests.support.room import ROOT, RoomProcess, running_room

pytestmark = [needs_chromium, pytest.mark.xdist_group("room-browser")]

ARTIFACTS = Path(os.environ.get("ROOM_ARTIFACTS") or ROOT / ".artifacts" / "room-browser")
TRAINEE = "研修 花子"
WINDOW = (1280, 800)
FEEDBACK = re.compile(r"研修 1/9 ・ 暗証番号で受付 — (\d+)/(\d+) 点")


@dataclass
class RoomTree:
    """Every process the room ran (itself, its desks, its service), as seen while it ran."""

    room: RoomProcess
    seen: dict[int, str] = field(default_factory=dict)

    def look(self) -> None:
        self.seen |= descendants(self.room.proc.pid) | mentioning(str(self.room.folder))


@dataclass
class Walk:
    """The trainee's way through the first case: the desk, what the terminal said at
    each step (its DOM text), the feedback's points."""

    driver: webdriver.Chrome
    tree: RoomTree
    code: str = ""
    screens: dict[str, str] = field(default_factory=dict)
    points: tuple[int, int] = (0, 0)

    @property
    def room(self) -> RoomProcess:
        return self.tree.room

    @property
    def terminal(self) -> TerminalPage:
        return TerminalPage(self.driver)

    def shot(self, step: str, *, terminal: bool = True) -> str:
        """A screenshot of the step kept as an artifact, and the terminal's text of the
        same page (saved beside it)."""
        self.driver.save_screenshot(str(ARTIFACTS / f"{step}.png"))
        page = self.driver.find_element(By.TAG_NAME, "body")
        text = self.terminal.text() if terminal else page.text
        (ARTIFACTS / f"{step}.txt").write_text(text, encoding="utf-8")
        self.screens[step] = text
        return text


@pytest.fixture(scope="module")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for old in [*ARTIFACTS.glob("*.png"), *ARTIFACTS.glob("*.txt")]:
        old.unlink()
    return ARTIFACTS


@pytest.fixture(scope="module")
def room(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RoomTree]:
    folder = tmp_path_factory.mktemp("room-browser") / "room"
    with running_room(folder, desks=2, scenario="kihon") as started:
        tree = RoomTree(started)
        tree.look()
        yield tree
        tree.look()
    left = still_running(tree.seen)
    kill_all(tree.seen)
    assert started.proc.returncode == 0, started.output()
    assert not left, f"still running after the room stopped: {left}"


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[webdriver.Chrome]:
    width, height = WINDOW
    with chromium(tmp_path_factory.mktemp("chromium"), width=width, height=height) as driver:
        yield driver


@pytest.fixture(scope="module")
def walk(browser: webdriver.Chrome, room: RoomTree, artifacts: Path) -> Walk:
    """A trainee's first case, by keyboard (failing where a step does not come)."""
    walk = Walk(browser, room)
    browser.get(f"{room.room.url}/?a11y=1")
    walk.shot("01-landing", terminal=False)
    browser.find_element(By.ID, "join").click()  # no desk code: a free desk
    WebDriverWait(browser, 30).until(lambda d: d.current_url.split("?")[0].endswith("/name"))
    walk.code = browser.current_url.split("/desk/")[1].split("/")[0]
    browser.find_element(By.ID, "trainee").send_keys(TRAINEE)
    walk.shot("02-name", terminal=False)
    browser.find_element(By.ID, "start").click()
    terminal = walk.terminal
    terminal.wait_for("研修 1/9")
    room.look()  # the desk's process and the service, while they run
    terminal.wait_for("カードを置いてください")  # the reader panel: the patient's card
    walk.shot("03-card-prompt")
    terminal.wait_for("暗証番号（数字4桁）を入力してください")  # the patient at the PIN pad
    walk.shot("04-pin")
    terminal.wait_for("受付が完了しました")  # the patient played the PIN; confirmed
    walk.shot("05-checked-in")
    terminal.focus_on("受け付ける")
    terminal.keys(Keys.ENTER)
    terminal.wait_for("→ 受け付けた")
    walk.shot("06-card-accepted")
    terminal.focus_on("3割", row_with="10割")
    terminal.keys(Keys.ENTER)
    terminal.wait_for("負担割合: 3割")
    walk.shot("07-charge")
    terminal.keys(Keys.F8)  # 対応完了
    terminal.wait_for(" 点（")
    feedback = walk.shot("08-feedback")
    found = FEEDBACK.search(feedback)
    assert found is not None, feedback
    walk.points = (int(found.group(1)), int(found.group(2)))
    terminal.keys("n")  # 次へ
    terminal.wait_for("研修 2/9")
    walk.shot("09-next-case")
    return walk


def test_a_trainee_checks_in_and_settles_the_case_by_keyboard(walk: Walk) -> None:
    assert re.fullmatch(r"[a-z0-9]{6}", walk.code), walk.code
    screens = walk.screens
    assert "研修生の名前" in screens["02-name"]
    # the desk's terminal, read from the page the screenshot was taken of
    prompt = screens["03-card-prompt"]
    assert "研修 1/9 ・ 暗証番号で受付" in prompt
    assert TRAINEE in prompt  # the title: the trainee's name as typed
    assert "カードを置いてください" in prompt
    assert "残り3回" in screens["04-pin"]
    assert "受付が完了しました" in screens["05-checked-in"]
    assert "負担割合 3割" in screens["05-checked-in"]  # the reader's answer
    assert "→ 受け付けた" in screens["06-card-accepted"]
    assert "会計 — 負担割合: 3割" in screens["07-charge"]
    total, most = walk.points
    assert most > 0 and total == most, screens["08-feedback"]  # a model check-in
    assert "誤り" in screens["08-feedback"]
    assert "研修 2/9" in screens["09-next-case"]
    for step in ("01-landing", "03-card-prompt", "08-feedback", "09-next-case"):
        assert (ARTIFACTS / f"{step}.png").stat().st_size > 10_000, step


def test_wide_characters_stand_in_the_page_text_as_on_the_screen(walk: Walk) -> None:
    terminal = walk.terminal
    rows = terminal.rows()
    widths = {cells(row) for row in rows}
    # each line takes the terminal's width: a 全角 character once, for its two cells
    assert len(widths) == 1, [(cells(row), row) for row in rows if cells(row) != max(widths)]
    assert not any("\x00" in row for row in rows)
    heading = terminal.place("研修 2/9")
    # the 研修 tab's lines start at one column, whatever wide text stands left of them
    assert terminal.place("患者さん:").column == heading.column
    assert terminal.place("会計 — 負担割合").column == heading.column
    title = next(row for row in rows if TRAINEE in row)
    assert "マイナ保険証 受付端末" in title


def test_the_trainer_page_shows_the_desk_its_case_and_score(walk: Walk) -> None:
    driver = walk.driver
    driver.get(f"{walk.room.url}/trainer")
    WebDriverWait(driver, 15).until(
        lambda d: d.find_elements(By.CSS_SELECTOR, f"table#desks tr#desk-{walk.code}")
    )
    row = driver.find_element(By.CSS_SELECTOR, f"table#desks tr#desk-{walk.code}")
    cell = {name: row.find_element(By.CSS_SELECTOR, f"td.{name}").text for name in
            ("trainee", "case", "score", "mistakes", "process")}  # fmt: skip
    walk.shot("10-trainer", terminal=False)
    assert cell["trainee"] == TRAINEE
    assert "2/9" in cell["case"] or "顔認証" in cell["case"], cell  # the case it is on
    total, most = walk.points
    assert f"{total}/{most}" in cell["score"], cell  # its score so far: the case settled
    for control in ("form#start select#set", "form#start button#start-button", "form#stop"):
        assert driver.find_element(By.CSS_SELECTOR, control).is_displayed(), control
    for link in ("a#report-html", "a#report-csv"):
        assert driver.find_element(By.CSS_SELECTOR, link).get_attribute("href"), link
    driver.get(f"{walk.room.url}/trainer/status.json")
    assert walk.code in driver.find_element(By.TAG_NAME, "body").text


def reader_panel(screen: str) -> str:
    """The reader panel's text: the left box of the terminal (between its first ┃ and the
    next), line by line."""
    lines = [line.split("┃")[1] for line in screen.splitlines() if line.count("┃") >= 2]
    return "\n".join(line.strip() for line in lines if line.strip())


def japanese(text: str) -> bool:
    return re.search(r"[\u3040-\u30ff\u4e00-\u9fff]", text) is not None


def test_f2_shows_the_reader_panel_in_english_and_back(walk: Walk) -> None:
    driver, terminal = walk.driver, walk.terminal
    driver.get(f"{walk.room.url}/desk/{walk.code}?a11y=1")  # the desk again: its case kept
    terminal.wait_for("研修 2/9")
    terminal.wait_until(lambda screen: japanese(reader_panel(screen)), "the panel in Japanese")
    terminal.keys(Keys.F2)
    english = terminal.wait_until(
        lambda screen: (
            re.search(r"[A-Za-z]{4,}", reader_panel(screen)) is not None
            and not japanese(reader_panel(screen))
        ),
        "the reader panel in English",
    )
    walk.shot("11-english")
    assert "2/9" in english  # the staff's side stays as it was
    terminal.keys(Keys.F2)
    terminal.wait_until(lambda screen: japanese(reader_panel(screen)), "the panel in Japanese")


def test_the_desk_page_says_when_the_room_has_closed(walk: Walk) -> None:
    driver = walk.driver
    if "/desk/" not in driver.current_url:
        driver.get(f"{walk.room.url}/desk/{walk.code}?a11y=1")
        walk.terminal.wait_for("研修 2/9")
    closed = driver.find_element(By.ID, "closed")
    assert not closed.is_displayed()
    walk.tree.look()  # the desk's process now (the page opened again) and the service
    walk.room.stop()  # as Ctrl+C does (SIGTERM)
    WebDriverWait(driver, 30).until(lambda _d: closed.is_displayed())
    text = walk.shot("12-room-closed", terminal=False)
    assert "受付端末との接続が終わりました" in text
    assert driver.find_element(By.CSS_SELECTOR, "#closed button").is_displayed()
