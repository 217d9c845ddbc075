"""The 研修 start screen: a set (the built-in ones, or a scenario file's path), the
trainee's name, and 開始 — or 再開 when the trainee's folder holds a run already
(``<data_dir>/training/<set>-<name>``, the folder ``reception train run`` uses)."""

from __future__ import annotations

from pathlib import Path

from textual import on
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Button, Header, Input, Label, Select, Static

from reception.errors import InputError
from reception.training.folders import has_run, run_folder
from reception.training.scenario import Loaded, builtin_sets, load
from reception.tui.text import safe
from reception.tui.training.session import TrainingChoice
from reception.tui.widgets.footer import KeysFooter


def builtin_choices() -> list[tuple[str, str]]:
    """The built-in sets as (id, title)."""
    return [(set_id, title) for set_id, title, _path in builtin_sets()]


def _titled(loaded: Loaded) -> str:
    return f"「{loaded.scenario.title}」 {len(loaded.scenario.cases)} 件"


class TrainingStartScreen(Screen[TrainingChoice | None]):
    """Choose the set and say who trains; dismissed with the choice (None: closed)."""

    DEFAULT_CSS = """
    TrainingStartScreen #start-form { padding: 0 2; }
    TrainingStartScreen .title { text-style: bold; }
    TrainingStartScreen #start-folder { height: auto; min-height: 2; }
    TrainingStartScreen #start-buttons { height: auto; }
    TrainingStartScreen #start-buttons Button { margin-right: 1; }
    """
    BINDINGS = [Binding("escape", "close", "閉じる", id="training-start-close")]

    def __init__(
        self,
        data_dir: Path,
        *,
        sets: list[tuple[str, str]] | None = None,
        preset: str | None = None,
        trainee: str = "",
    ) -> None:
        super().__init__()
        self.data_dir = data_dir
        self.sets = builtin_choices() if sets is None else sets
        self.preset = preset
        self.trainee = trainee
        self.choice: TrainingChoice | None = None  # what the buttons would start
        self._loaded: dict[str, Loaded | str] = {}  # set_or_file → loaded, or the error

    def compose(self) -> ComposeResult:
        known = {set_id for set_id, _ in self.sets}
        chosen = self.preset if self.preset in known else None
        yield Header()
        with VerticalScroll(id="start-form"):
            yield Static(
                "研修を始める（研修用の受付・記録で、医療機関の記録には残りません）",
                classes="title",
            )
            yield Label("研修セット")
            yield Select(
                [(safe(f"{title}（{set_id}）"), set_id) for set_id, title in self.sets],
                prompt="セットを選ぶ",
                value=chosen if chosen is not None else Select.NULL,
                id="start-set",
            )
            yield Label("またはシナリオファイル（.toml）のパス")
            yield Input(
                value=self.preset if self.preset and chosen is None else "",
                placeholder="例: /home/trainer/シナリオ.toml",
                id="start-file",
            )
            yield Label("研修生の名前")
            yield Input(value=self.trainee, placeholder="例: 山田 花子", id="start-name")
            yield Static("", id="start-folder")
            with Horizontal(id="start-buttons"):
                yield Button("開始", id="start-new", variant="primary")
                yield Button("再開", id="start-resume", variant="primary")
                yield Button("最初からやり直す", id="start-restart", variant="warning")
                yield Button("閉じる", id="start-close")
        yield KeysFooter()

    def on_mount(self) -> None:
        self.title = "研修"
        self.sub_title = "セットと名前を選んで 開始（Enter）"
        self._update()
        empty = self.query_one("#start-set", Select).value is Select.NULL
        self.query_one("#start-set" if empty and not self.preset else "#start-name").focus()

    def _scenario(self, set_or_file: str) -> Loaded | str:
        if set_or_file not in self._loaded:
            try:
                self._loaded[set_or_file] = load(set_or_file)
            except InputError as exc:
                self._loaded[set_or_file] = str(exc)
        return self._loaded[set_or_file]

    def _update(self) -> None:
        """What the buttons would do, said under the form."""
        path = self.query_one("#start-file", Input).value.strip()
        chosen = self.query_one("#start-set", Select).value
        set_or_file = path or (chosen if isinstance(chosen, str) else "")
        name = self.query_one("#start-name", Input).value.strip()
        self.choice, line = None, ""
        if not set_or_file:
            line = "研修セットを選ぶか、シナリオファイルのパスを入れてください"
        elif isinstance(loaded := self._scenario(set_or_file), str):
            line = loaded
        elif not name:
            line = f"{_titled(loaded)}: 研修生の名前を入れてください"
        elif len(name) > 60:
            line = "名前は60文字までです"
        else:
            folder = run_folder(self.data_dir, loaded.scenario.id, name)
            resume = has_run(folder)
            self.choice = TrainingChoice(set_or_file, name, folder, resume=resume)
            what = "途中の研修があります: 再開できます" if resume else "新しく始めます"
            line = f"{_titled(loaded)} — {what}\n記録: {folder}"
        self.query_one("#start-folder", Static).update(safe(line))
        resume = self.choice is not None and self.choice.resume
        self.query_one("#start-new", Button).disabled = self.choice is None or resume
        self.query_one("#start-resume", Button).disabled = not resume
        self.query_one("#start-restart", Button).disabled = not resume

    @on(Input.Changed)
    @on(Select.Changed)
    def _changed(self) -> None:
        self._update()

    @on(Input.Submitted)
    def _submitted(self) -> None:
        if self.choice is not None:
            self.dismiss(self.choice)

    @on(Button.Pressed, "#start-new, #start-resume")
    def _start(self) -> None:
        if self.choice is not None:
            self.dismiss(self.choice)

    @on(Button.Pressed, "#start-restart")
    def _restart(self) -> None:
        if self.choice is not None:
            c = self.choice
            self.dismiss(TrainingChoice(c.set_or_file, c.trainee, c.folder, restart=True))

    @on(Button.Pressed, "#start-close")
    def action_close(self) -> None:
        self.dismiss(None)


class TrainingStartApp(App[TrainingChoice | None]):
    """The start screen alone (``reception train run SET`` without ``--name``): its
    choice is the app's return value."""

    TITLE = "マイナ保険証 受付端末 — 研修"

    def __init__(
        self,
        data_dir: Path,
        preset: str | None = None,
        *,
        sets: list[tuple[str, str]] | None = None,
    ) -> None:
        super().__init__()
        self.data_dir = data_dir
        self.preset = preset
        self.sets = sets

    def on_mount(self) -> None:
        screen = TrainingStartScreen(self.data_dir, sets=self.sets, preset=self.preset)
        self.push_screen(screen, self.exit)
