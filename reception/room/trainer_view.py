"""What the trainer's page shows (issue 26 §1): every desk's trainee, case, score,
mistakes, process and faults, and the room's report (trainees × cases) as HTML rows and
CSV — read from the room's files, never from a desk's process (its journal is read
without its lock, :func:`reception.training.journal.read_progress`).

Pure reading: :mod:`reception.room.trainer` serves it and acts on it.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel

from reader.safe_text import printable
from reception.errors import InputError
from reception.room.desks import DeskStatus
from reception.room.layout import Desk, Room, RoomState
from reception.training.folders import JOURNAL
from reception.training.journal import NO_JOURNAL, Progress, read_progress
from reception.training.report import csv_cell
from reception.training.scenario import Case, load, resolve
from reception.training.scoring import RunReport

FAULTS_FILE = "faults.json"  # the mock service's (mock_oqs.faults; read as plain JSON here)
SLOW_MS = 2500  # what a case's 遅延 sets (reception.sim.training.FAULT_ARGS)


def shown(text: str) -> str:
    """Untrusted text (a name, a scenario's title) with its controls made visible."""
    return printable(text)


# -- the scenario --------------------------------------------------------------------------


@dataclass(frozen=True)
class Played:
    """A scenario the room plays (or played last): what the report's columns are."""

    set_or_file: str
    scenario_id: str
    title: str
    since: dt.datetime | None
    cases: tuple[Case, ...]


class ScenarioBook:
    """Scenarios loaded once per file version (the page asks every few seconds)."""

    def __init__(self) -> None:
        self._loaded: dict[str, tuple[tuple[str, int], Played]] = {}

    def played(
        self, set_or_file: str, since: dt.datetime | None = None, scenario_id: str | None = None
    ) -> Played | None:
        try:
            path = resolve(set_or_file)
            stat = path.stat()
            stamp = (str(path), stat.st_mtime_ns)
            known = self._loaded.get(set_or_file)
            if known is None or known[0] != stamp:
                scenario = load(set_or_file).scenario
                known = (
                    stamp,
                    Played(set_or_file, scenario.id, scenario.title, None, tuple(scenario.cases)),
                )
                self._loaded[set_or_file] = known
        except (InputError, OSError):
            return None
        found = known[1]
        if scenario_id is not None and found.scenario_id != scenario_id:
            return None  # the file changed since: not the scenario the desks played
        return Played(found.set_or_file, found.scenario_id, found.title, since, found.cases)

    def last_played(self, room: Room) -> Played | None:
        """The scenario of the newest run in any desk's folder (the room stopped)."""
        journals = sorted(room.folder.glob(f"desks/*/runs/*/{JOURNAL}"), key=_age)
        for path in journals[:5]:
            meta = read_progress(path).meta
            source = meta.get("scenario_source")
            if source:
                found = self.played(source, _moment(meta.get("started")), path.parent.name)
                if found is not None:
                    return found
        return None


def _age(path: Path) -> float:
    """Newest first."""
    try:
        return -path.stat().st_mtime
    except OSError:
        return 0.0


def _moment(text: str | None) -> dt.datetime | None:
    try:
        return dt.datetime.fromisoformat(text) if text else None
    except ValueError:
        return None


# -- a desk's row --------------------------------------------------------------------------


class CaseNow(BaseModel):
    position: int  # 1-based; count + 1 when every case is settled
    count: int
    title: str
    text: str


class ScoreSoFar(BaseModel):
    points: int
    max: int
    percent: float
    settled: int
    text: str


class ProcessView(BaseModel):
    connected: bool
    pid: int | None
    restarts: int
    down: str | None
    text: str


class Broken(BaseModel):
    """What is broken for a desk (or for everyone: ``reader_unplugged`` unused)."""

    outage: bool = False
    slow: bool = False
    hang: bool = False
    errors: bool = False  # error_rate or malformed answers (set by hand with mock-oqs)
    reader_unplugged: bool = False

    @property
    def text(self) -> str:
        words = [
            label
            for flag, label in (
                (self.outage, "サービス停止"),
                (self.slow, "応答が遅い"),
                (self.hang, "接続切れ（応答なし）"),
                (self.errors, "エラー応答"),
                (self.reader_unplugged, "リーダー未接続"),
            )
            if flag
        ]
        return "・".join(words) or "なし"


class DeskRow(BaseModel):
    code: str
    number: int
    url: str
    facility: str
    trainee: str | None
    case: CaseNow | None
    case_text: str
    score: ScoreSoFar
    mistakes: list[str]
    note: str | None  # why there is no progress to show
    process: ProcessView
    broken: Broken
    broken_text: str


def case_now(played: Played, progress: Progress) -> CaseNow | None:
    """The case a desk is on: the journaled case not settled yet, else the next one."""
    count = len(played.cases)
    titles = {c.id: c.title for c in played.cases}
    open_case = next((c for c in progress.cases if c.score is None), None)
    if open_case is not None:
        title = titles.get(open_case.case_id, open_case.case_id)
        position = open_case.position + 1
        return CaseNow(
            position=position, count=count, title=title, text=f"{position}/{count} ・ {title}"
        )
    settled = {c.case_id for c in progress.cases if c.score is not None}
    if not progress.cases:
        return None
    for i, case in enumerate(played.cases):
        if case.id not in settled:
            return CaseNow(
                position=i + 1,
                count=count,
                title=case.title,
                text=f"{i + 1}/{count} ・ {case.title}（次のケース）",
            )
    return CaseNow(position=count + 1, count=count, title="", text=f"完了（{count}/{count}）")


def run_report(played: Played, progress: Progress, trainee: str) -> RunReport:
    """A desk's run as :class:`RunReport` (the settled cases in the scenario's order)."""
    scores = {c.case_id: c.score for c in progress.cases if c.score is not None}
    started = _moment(progress.started) or played.since or dt.datetime.now(dt.UTC)
    return RunReport(
        scenario_id=played.scenario_id,
        scenario_title=played.title,
        trainee=progress.trainee or trainee,
        day=started.date(),
        started=started,
        finished=_moment(progress.finished),
        cases=[s for c in played.cases if (s := scores.get(c.id)) is not None],
        case_count=len(played.cases),
    )


def mistakes_of(progress: Progress) -> list[str]:
    """Each mistake, in Japanese, with the case it was made on (settled or under way)."""
    found: list[str] = []
    for case in progress.cases:
        kinds = [m.kind for m in case.score.mistakes] if case.score else list(case.mistakes)
        found += [f"{kind.label}（ケース {case.position + 1}）" for kind in kinds]
    return found


def process_view(status: DeskStatus | None) -> ProcessView:
    if status is None:
        return ProcessView(connected=False, pid=None, restarts=0, down=None, text="未接続")
    words = ["接続中" if status.connected else "未接続"]
    if status.restarts:
        words.append(f"再起動 {status.restarts} 回")
    if status.down:
        words.append(f"停止: {status.down}")
    return ProcessView(
        connected=status.connected,
        pid=status.pid,
        restarts=status.restarts,
        down=status.down,
        text=" ・ ".join(words),
    )


def desk_row(
    desk: Desk,
    base_url: str,
    played: Played | None,
    progress: Progress,
    status: DeskStatus | None,
    broken: Broken,
) -> DeskRow:
    report = run_report(played, progress, desk.trainee or "") if played else None
    now = case_now(played, progress) if played else None
    if report is not None and report.cases:
        score = ScoreSoFar(
            points=report.total,
            max=report.max,
            percent=round(report.percent, 1),
            settled=len(report.cases),
            text=f"{report.total}/{report.max} 点（{report.percent:.0f} %）",
        )
    else:
        score = ScoreSoFar(points=0, max=0, percent=0.0, settled=0, text="—")
    if played is None:
        case_text = "研修は行われていません"
    elif now is None:
        unreadable = progress.reason not in (None, NO_JOURNAL)
        case_text = progress.reason if unreadable and progress.reason else "まだ始めていません"
    else:
        case_text = now.text
    return DeskRow(
        code=desk.code,
        number=desk.number,
        url=f"{base_url}/desk/{desk.code}",
        facility=desk.facility,
        trainee=shown(desk.trainee) if desk.trainee else None,
        case=now,
        case_text=shown(case_text),
        score=score,
        mistakes=mistakes_of(progress),
        note=progress.reason,
        process=process_view(status),
        broken=broken,
        broken_text=broken.text,
    )


# -- faults -------------------------------------------------------------------------------


def _broken(entry: object) -> Broken:
    if not isinstance(entry, dict):
        return Broken()
    latency, rate = entry.get("latency_ms"), entry.get("error_rate")
    return Broken(
        outage=entry.get("outage") is True,
        slow=isinstance(latency, int) and latency > 0,
        hang=entry.get("hang") is True,
        errors=entry.get("malformed") is True or (isinstance(rate, float | int) and rate > 0),
    )


@dataclass(frozen=True)
class ServiceFaults:
    """The mock service's faults.json: the global entry and each clinic's own (which
    replaces the global one for that clinic)."""

    everyone: Broken
    facilities: dict[str, Broken]

    def of(self, facility: str) -> Broken:
        return self.facilities.get(facility, self.everyone)

    @classmethod
    def read(cls, world: Path | None) -> ServiceFaults:
        data: object = {}
        if world is not None:
            try:
                data = json.loads((world / FAULTS_FILE).read_text("utf-8"))
            except (OSError, ValueError):
                data = {}
        if not isinstance(data, dict):
            data = {}
        facilities = data.get("facilities")
        own = facilities if isinstance(facilities, dict) else {}
        return cls(_broken(data.get("global")), {str(k): _broken(v) for k, v in own.items()})


# -- the whole room ------------------------------------------------------------------------


def desk_rows(
    room: Room,
    state: RoomState,
    base_url: str,
    played: Played | None,
    statuses: dict[str, DeskStatus],
) -> tuple[list[DeskRow], Broken]:
    """Every desk's row, and what is broken for everyone (blocking: files and SQLite)."""
    world = room.world_folder(state.scenario.scenario_id) if state.scenario else None
    faults = ServiceFaults.read(world)
    rows = []
    for desk in state.desks:
        progress = (
            read_progress(room.run_folder(desk.code, played.scenario_id) / JOURNAL)
            if played is not None
            else Progress({}, reason="研修は行われていません")
        )
        broken = faults.of(desk.facility).model_copy(
            update={"reader_unplugged": bool(room.control(desk.code).get("reader_unplugged"))}
        )
        rows.append(desk_row(desk, base_url, played, progress, statuses.get(desk.code), broken))
    return rows, faults.everyone


# -- the room's report ---------------------------------------------------------------------


@dataclass(frozen=True)
class ReportLine:
    """One trainee's line of the room's report: each case's score (None: not settled)."""

    desk: Desk
    trainee: str
    report: RunReport

    def points(self, case: Case) -> tuple[int, int] | None:
        found = next((s for s in self.report.cases if s.case_id == case.id), None)
        return None if found is None else (found.total, found.max)


def report_lines(room: Room, state: RoomState, played: Played) -> list[ReportLine]:
    """Every desk with a trainee or a run of ``played``, in desk order."""
    lines = []
    for desk in state.desks:
        progress = read_progress(room.run_folder(desk.code, played.scenario_id) / JOURNAL)
        trainee = progress.trainee or desk.trainee
        if not trainee:
            continue
        lines.append(ReportLine(desk, trainee, run_report(played, progress, trainee)))
    return lines


def report_csv(played: Played, lines: list[ReportLine]) -> str:
    """The room's report for a spreadsheet, as reception.training.report writes a run's:
    every row's first cell says 研修, formulas defused, CRLF (the BOM is the caller's)."""
    header: list[object] = ["区分", "デスク", "研修者", "シナリオ"]
    for case in played.cases:
        header += [f"{case.id} {case.title} 得点", f"{case.id} 満点"]
    header += ["合計", "満点", "得点率", "終わったケース"]
    rows: list[list[object]] = [header]
    for line in lines:
        row: list[object] = ["研修", line.desk.number, line.trainee, played.title]
        for case in played.cases:
            got = line.points(case)
            row += ["", case.points.total] if got is None else [got[0], got[1]]
        report = line.report
        row += [report.total, report.max, f"{report.percent:.1f}"]
        row.append(f"{len(report.cases)}/{report.case_count}")
        rows.append(row)
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows([csv_cell(v) for v in r] for r in rows)
    return out.getvalue()
