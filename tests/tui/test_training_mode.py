"""The TUI's 研修 mode driven by Pilot (issue 25 §2): the start screen, a case played by
the simulated patient on the reader panel, phrases chosen by click and by key, the
documents, the 会計, 対応完了, the feedback, the next case and the final report."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, cast

from textual.pilot import Pilot
from textual.widgets import Button, OptionList

from mock_oqs.world import World
from reception.training.folders import run_folder
from reception.training.phrases import UTTERANCES
from reception.tui.app import ReceptionApp, make_app
from reception.tui.training.feedback import FeedbackScreen, ReportScreen
from reception.tui.training.pane import TrainingPane
from reception.tui.training.session import TrainingChoice
from reception.tui.training.start import TrainingStartApp, TrainingStartScreen
from reception.tui.training.words import phrase_order
from tests.support.training_tui import SCENARIO, training_app
from tests.support.tui import SIZE, services, text, until


def pane(app: ReceptionApp) -> TrainingPane:
    return app.query_one(TrainingPane)


async def case_ready(pilot: Pilot[None], app: ReceptionApp, case_id: str) -> None:
    def shown() -> bool:
        desk = pane(app).case_desk
        return desk is not None and desk.case.id == case_id

    await until(pilot, shown)


def test_a_run_from_the_first_case_to_the_report(tui_world: World, tmp_path: Path) -> None:
    app = training_app(tui_world, tmp_path)
    pin_answer = phrase_order("forgot-pin", UTTERANCES["forgot-pin"])
    card_answer = phrase_order("no-card", UTTERANCES["forgot-card"])
    good_index = next(i for i, p in enumerate(card_answer) if p.id == "kakunin-or-full")

    async def scenario(pilot: Pilot[None]) -> None:
        await case_ready(pilot, app, "forgot-pin")
        assert "研修 1/2 ・ 暗証番号を忘れた" in text(app, "#training-case")
        assert "顔認証で本人確認" in text(app, "#training-situation")
        # the patient works the reader: face chosen, the check-in ends confirmed
        desk = pane(app).case_desk
        assert desk is not None
        await until(pilot, lambda: desk.reception_id is not None and not app.desk.running)
        assert "顔認証を選ぶ" in text(app, "#training-patient")
        assert app.services.store.reception(desk.reception_id or "").status == "confirmed"
        # the patient's words, answered by a click on the first phrase shown
        assert "暗証番号がわかりません" in text(app, "#training-says .said")
        await pilot.click("#say-forgot-pin", offset=(4, 1))
        await until(pilot, lambda: "forgot-pin" in desk.outcome.words)
        assert desk.outcome.words["forgot-pin"] == pin_answer[0].id
        await pilot.click("#accept-card")
        await pilot.click("#charge-3")
        await until(pilot, lambda: desk.outcome.ratio == 3 and desk.outcome.accepted != [])
        assert "負担割合: 3割" in text(app, "#training-charge-label")
        await pilot.click("#training-settle")
        await until(pilot, lambda: isinstance(app.screen, FeedbackScreen))
        feedback = app.screen
        assert "✓ 受付の終わり方" in text(feedback, "#feedback-item-0")
        assert "✓ 負担割合" in text(feedback, "#feedback-item-1")
        assert "顔認証で受付できます" in text(feedback, "#feedback-explain")
        assert "出典: 厚生労働省" in text(feedback, "#feedback-source")
        await pilot.click("#feedback-next")
        # the second patient brings nothing: no card on the reader, the 研修 tab's rungs
        await case_ready(pilot, app, "no-card")
        assert "研修 2/2" in text(app, "#training-case")
        assert app.query_one("#training-nocard").display
        options = app.query_one("#say-forgot-card", OptionList)
        options.focus()
        await pilot.press("home", *["down"] * good_index, "enter")
        second = pane(app).case_desk
        assert second is not None
        await until(pilot, lambda: second.outcome.words.get("forgot-card") == "kakunin-or-full")
        await pilot.click("#training-no-card")
        await pilot.click("#charge-10")
        await until(pilot, lambda: second.reception_id is not None and second.outcome.ratio == 10)
        await pilot.press("f8")
        await until(pilot, lambda: isinstance(app.screen, FeedbackScreen))
        assert "2/2" in text(app.screen, "#feedback-title")
        assert "✓ 受付の終わり方" in text(app.screen, "#feedback-item-0")
        await pilot.press("n")
        await until(pilot, lambda: isinstance(app.screen, ReportScreen))
        report = app.screen
        assert "研修 花子" in text(report, "#report-title")
        assert "報告を保存しました" in text(report, "#report-saved")
        await pilot.click("#report-done")

    asyncio.run(_drive(app, scenario))
    assert (tmp_path / "run" / "report.html").is_file()
    assert "no-card" in (tmp_path / "run" / "report.csv").read_text(encoding="utf-8-sig")


def test_a_wrong_phrase_costs_points_and_says_why(tui_world: World, tmp_path: Path) -> None:
    app = training_app(tui_world, tmp_path)
    order = phrase_order("forgot-pin", UTTERANCES["forgot-pin"])
    wrong = next(i for i, p in enumerate(order) if p.id == "tell-me")

    async def scenario(pilot: Pilot[None]) -> None:
        await case_ready(pilot, app, "forgot-pin")
        desk = pane(app).case_desk
        assert desk is not None
        await until(pilot, lambda: desk.reception_id is not None and not app.desk.running)
        app.query_one("#say-forgot-pin", OptionList).focus()
        await pilot.press("home", *["down"] * wrong, "enter")
        await until(pilot, lambda: desk.outcome.mistakes != [])
        await pilot.press("f8")
        await until(pilot, lambda: isinstance(app.screen, FeedbackScreen))
        mistakes = text(app.screen, "#feedback-mistakes")
        assert "✗ 暗証番号を尋ねた・入力した（−30点）" in mistakes
        assert "本人だけが入力" in mistakes
        assert "✗ 負担割合 0/20" in text(app.screen, "#feedback-item-1")  # none charged

    asyncio.run(_drive(app, scenario))


async def _drive(app: ReceptionApp, scenario: Any) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await scenario(pilot)


def test_the_start_screen_starts_and_resumes(tmp_path: Path) -> None:
    scenario = tmp_path / "set.toml"
    scenario.write_text(SCENARIO, encoding="utf-8")
    data = tmp_path / "data"

    async def choose(app: TrainingStartApp, name: str, button: str) -> None:
        async with app.run_test(size=(100, 30)) as started:
            pilot = cast(Pilot[None], started)
            await until(pilot, lambda: bool(app.screen.query("#start-name")))
            app.screen.query_one("#start-name").focus()
            await pilot.press(*name)
            await pilot.pause()
            await until(pilot, lambda: not app.screen.query_one(button, Button).disabled)
            await pilot.click(button)

    first = TrainingStartApp(data, preset=str(scenario))
    asyncio.run(choose(first, "hana", "#start-new"))
    folder = run_folder(data, "tui", "hana")
    assert first.return_value == TrainingChoice(str(scenario), "hana", folder)
    folder.mkdir(parents=True)
    (folder / "journal.sqlite").write_bytes(b"")
    again = TrainingStartApp(data, preset=str(scenario))
    asyncio.run(choose(again, "hana", "#start-resume"))
    assert again.return_value == TrainingChoice(str(scenario), "hana", folder, resume=True)


def test_a_run_closed_half_way_resumes_at_the_next_case(tui_world: World, tmp_path: Path) -> None:
    """The terminal closed after the first case (its score journaled): opened again on
    the same folder, the run goes on with the second case, the first one kept."""
    first = training_app(tui_world, tmp_path)

    async def one_case(pilot: Pilot[None]) -> None:
        await case_ready(pilot, first, "forgot-pin")
        desk = pane(first).case_desk
        assert desk is not None
        await until(pilot, lambda: desk.reception_id is not None and not first.desk.running)
        await pilot.click("#charge-3")
        await until(pilot, lambda: desk.outcome.ratio == 3)
        await pilot.press("f8")
        await until(pilot, lambda: isinstance(first.screen, FeedbackScreen))

    asyncio.run(_drive(first, one_case))
    assert first.training is not None
    first.training.run.journal.close()  # the terminal closed (reception.sim.training_app)
    again = training_app(tui_world, tmp_path)

    async def resumed(pilot: Pilot[None]) -> None:
        await case_ready(pilot, again, "no-card")
        assert "研修 2/2" in text(again, "#training-case")
        scores = pane(again).session.run.scores()
        assert list(scores) == ["forgot-pin"] and scores["forgot-pin"].items[1].ok

    asyncio.run(_drive(again, resumed))


def test_the_demos_palette_starts_a_run(tui_world: World, tmp_path: Path) -> None:
    """「研修: 開始」 in the demo: the start screen, then the demo's terminal closes for
    the run's own (reception.sim.demo opens it on the run's clinic)."""
    scenario = tmp_path / "set.toml"
    scenario.write_text(SCENARIO, encoding="utf-8")
    app = make_app(services(tui_world, tmp_path))

    async def choose() -> None:
        async with app.run_test(size=SIZE) as pilot:
            commands = [c.title for c in app.get_system_commands(app.screen)]
            assert "研修: 開始" in commands
            app.start_training()
            await until(pilot, lambda: isinstance(app.screen, TrainingStartScreen))
            app.screen.query_one("#start-file").focus()
            await pilot.press(*str(scenario), "tab", *"hana")
            await until(pilot, lambda: not app.screen.query_one("#start-new", Button).disabled)
            await pilot.press("enter")
            await until(pilot, lambda: not app.is_running)

    asyncio.run(choose())
    folder = run_folder(tmp_path / "data", "tui", "hana")
    assert app.training_chosen == TrainingChoice(str(scenario), "hana", folder)


def test_a_trainers_text_is_shown_as_text(tui_world: World, tmp_path: Path) -> None:
    """A scenario is a trainer's file: markup in its words is shown, never applied."""
    marked = SCENARIO.replace('title = "暗証番号を忘れた"', 'title = "[b]暗証番号[/b]を忘れた"')
    app = training_app(tui_world, tmp_path, marked)

    async def scenario(pilot: Pilot[None]) -> None:
        await case_ready(pilot, app, "forgot-pin")
        assert "[b]暗証番号[/b]を忘れた" in text(app, "#training-case")
        desk = pane(app).case_desk
        assert desk is not None  # the patient's check-in ends before the terminal closes
        await until(pilot, lambda: desk.reception_id is not None and not app.desk.running)

    asyncio.run(_drive(app, scenario))
