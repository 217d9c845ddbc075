"""The TUI's 研修 mode for the tests: a run on the test world's in-process service, the
patient at pace 0 (at once)."""

from __future__ import annotations

from pathlib import Path

from mock_oqs.world import World
from reception.sim.training import TrainingClinic
from reception.sim.world import WorldFiles
from reception.training.journal import Journal
from reception.training.run import TrainingRun
from reception.training.scenario import parse
from reception.tui.app import ReceptionApp, make_app
from reception.tui.training.session import TrainingSession
from tests.support.stack import WORLD_TODAY
from tests.support.tui import services

SCENARIO = """
id = "tui"
title = "画面の研修"

[[case]]
id = "forgot-pin"
title = "暗証番号を忘れた"
persona = "adult-kyokai"
[case.situation]
method = "face"
says = ["forgot-pin"]
[case.model]
end = "card"
ratio = 3
accept = ["card"]
explain = "暗証番号がわからなくても顔認証で受付できます。"
source = "厚生労働省 オンライン資格確認 運用マニュアル"

[[case]]
id = "no-card"
title = "何も持ってこなかった"
persona = "adult-kyokai"
[case.situation]
brings = []
says = ["forgot-card"]
[case.model]
end = "self-pay"
ratio = 10
explain = "マイナ保険証も資格確認書もなければ10割負担です。"
source = "厚生労働省 資格確認書 Q&A"
"""


def training_app(world: World, tmp_path: Path, text: str = SCENARIO) -> ReceptionApp:
    """The terminal in 研修 mode: the services (the run's own store) of a training
    clinic on the test world, a run of ``text`` for 研修 花子."""
    svc = services(world, tmp_path)  # the same store again for a second app
    svc.settings = svc.settings.model_copy(update={"today": WORLD_TODAY})
    clinic = TrainingClinic(WorldFiles.open(world.directory), svc)
    folder = tmp_path / "run"
    folder.mkdir(exist_ok=True)  # a second app on the same folder resumes its run
    journal = Journal(folder / "journal.sqlite")
    run = TrainingRun(parse(text), journal, clinic, "研修 花子")
    session = TrainingSession(run, folder, pace=0.0, closing=clinic.aclose)
    return make_app(svc, training=session)
