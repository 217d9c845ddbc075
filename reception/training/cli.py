"""``reception train list | check | run`` (issue 25 §1, §2).

- ``list``: the built-in sets, one a line: the ASCII id, a tab, the Japanese title.
- ``check SET_OR_FILE``: validate, then play the model answer headless in a throw-away
  run: every case must score 100 % (exit 1 naming each case that does not: a trainer's
  file cannot teach what the simulator would not do).
- ``run SET_OR_FILE``: the trainee at the terminal — the demo's TUI in 研修 mode for
  the set (a start screen asks the trainee's name unless ``--name`` says it).
- ``run SET_OR_FILE --trainee FILE [--json]``: play a trainee's actions from a file and
  print the score; the run's folder (``--out``, default
  ``<data_dir>/training/<set>-<trainee>``) keeps the journal, the run's own store, the
  world and the report (HTML, CSV). Run again, it resumes where it stood.
- ``run SET_OR_FILE --play-into DIR [--fast] [--json]``: the morning's patients, handled
  as the model answer says, with the folder interface at DIR answering meanwhile
  (:mod:`reception.training.play_into`); the run's folder defaults to
  ``<data_dir>/training/<set>-play-into``.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from reception.cli.common import Session, _err, _print, _print_json
from reception.training.folders import run_folder

AddCommand = Callable[..., argparse.ArgumentParser]


def add_commands(add: AddCommand) -> None:
    t = add(
        "train",
        help="training runs: a trainer's cases, the simulated patient, a score per case",
    )
    sub = t.add_subparsers(dest="train_command", required=True)
    sub.add_parser("list", help="the built-in sets: id and title, one a line")
    check = sub.add_parser(
        "check", help="validate a scenario and play its model answer (must score 100 %%)"
    )
    check.add_argument("scenario", metavar="SET_OR_FILE")
    check.add_argument("--json", action="store_true", help="the model answer's report as JSON")
    run = sub.add_parser("run", help="a training run (headless with --trainee)")
    run.add_argument("scenario", metavar="SET_OR_FILE")
    who = run.add_mutually_exclusive_group()
    who.add_argument(
        "--trainee",
        type=Path,
        metavar="FILE",
        help="play this trainee's actions (TOML, or JSON by suffix) headless",
    )
    who.add_argument(
        "--play-into",
        type=Path,
        metavar="DIR",
        help="play the patients' side with the model handling, into the folder interface at "
        "DIR (face/ files written, requests in DIR/req answered meanwhile)",
    )
    run.add_argument(
        "--fast",
        action="store_true",
        help="with --play-into: as fast as possible (default: the scenario's pacing)",
    )
    run.add_argument("--name", help="the trainee's name (default: the trainee file's)")
    run.add_argument("--out", type=Path, help="the run's folder (default: under data_dir)")
    run.add_argument(
        "--restart", action="store_true", help="start the run over (its folder is emptied)"
    )
    run.add_argument("--json", action="store_true", help="print the report as JSON")
    run.add_argument(
        "--pace",
        type=float,
        default=1.0,
        metavar="FACTOR",
        help="研修 at the terminal: the patient's pace (1 as a person, 0 at once)",
    )


def cmd_train(args: argparse.Namespace, session: Session) -> int:
    from reception.training import scenario as scenarios

    if args.train_command == "list":
        sets = scenarios.builtin_sets()
        width = max((len(s) for s, _t, _p in sets), default=0)
        for set_id, title, _path in sets:
            _print(f"{set_id.ljust(width)}  {title}")
        return 0
    loaded = scenarios.load(args.scenario)
    if args.train_command == "check":
        return _check(loaded, session, as_json=args.json)
    return _run(loaded, args, session)


def report_json(report: Any) -> dict[str, Any]:
    data: dict[str, Any] = report.model_dump(mode="json")
    data |= {"total": report.total, "max": report.max, "percent": round(report.percent, 1)}
    return data


def _check(loaded: Any, session: Session, *, as_json: bool) -> int:
    with tempfile.TemporaryDirectory(prefix="train-check-") as tmp:
        report = asyncio.run(_play(loaded, Path(tmp), session, None, "模範解答"))
    if as_json:
        _print_json(report_json(report))
    failed = [c for c in report.cases if c.total != c.max]
    for case in report.cases:
        mark = "OK " if case.total == case.max else "NG "
        if not as_json:
            _print(f"{mark}{case.case_id}  {case.total}/{case.max}  {case.title}")
        if case.total != case.max:
            for item in case.items:
                if not item.ok:
                    _err(f"  {case.case_id}: {item.label} {item.got}/{item.max}: {item.note}")
            for mistake in case.mistakes:
                _err(f"  {case.case_id}: {mistake.label}: {mistake.detail}")
    if failed:
        _err(f"reception: {loaded.source}: {len(failed)} 件の模範解答が満点になりません")
        return 1
    if not as_json:
        _print(f"{loaded.scenario.id}: {len(report.cases)} 件すべて満点（{report.total} 点）")
    return 0


async def _play(loaded: Any, run_dir: Path, session: Session, trainee: Any, name: str) -> Any:
    from reception.sim.training import training_clinic
    from reception.training.journal import Journal
    from reception.training.play import play
    from reception.training.run import TrainingRun

    with training_clinic(run_dir, loaded.scenario, session.settings) as clinic:
        journal = Journal(run_dir / "journal.sqlite")
        try:
            run = TrainingRun(loaded, journal, clinic, name)
            report = await play(run, trainee)
        finally:
            journal.close()
            await clinic.aclose()
    return report


def _run(loaded: Any, args: argparse.Namespace, session: Session) -> int:
    from reception.training.actions import load_trainee
    from reception.training.report import write_reports

    if args.play_into is not None:
        return _play_into(loaded, args, session)
    if args.trainee is None:  # the trainee at the terminal: the TUI's 研修 mode
        from reception.sim.training_app import run_training_terminal

        return run_training_terminal(
            session.settings,
            args.scenario,
            loaded,
            name=args.name,
            out=args.out,
            restart=args.restart,
            pace=args.pace,
        )
    trainee = load_trainee(args.trainee)
    name = args.name or trainee.trainee
    out: Path = args.out or run_folder(session.settings.data_dir, loaded.scenario.id, name)
    if args.restart and out.exists():
        shutil.rmtree(out)
    report = asyncio.run(_play(loaded, out, session, trainee, name))
    html, csv = write_reports(report, out)
    if args.json:
        _print_json(report_json(report) | {"folder": str(out), "html": str(html), "csv": str(csv)})
        return 0
    for case in report.cases:
        _print(f"{case.case_id}  {case.total}/{case.max}  {case.seconds:.0f}s  {case.title}")
        for item in case.items:
            if not item.ok:
                _print(f"  ✗ {item.label} {item.got}/{item.max}: {item.note}")
        for mistake in case.mistakes:
            _print(f"  ✗ {mistake.label}（-{mistake.cost}）: {mistake.why}")
        if case.total != case.max:
            _print(f"  解説: {case.explain}（出典: {case.source}）")
    _print(f"合計 {report.total}/{report.max}（{report.percent:.0f} %）")
    _print(f"報告: {html}\n      {csv}")
    return 0


def _play_into(loaded: Any, args: argparse.Namespace, session: Session) -> int:
    """``--play-into DIR``: a line per patient as it is settled, or (``--json``) the
    morning's summary at the end. Exit 1 when a case missed its model end state, 128 +
    the signal's number when one ended the morning early (it resumes where it stood)."""
    from reception.link.terms import LinkEvent
    from reception.training import play_into as into

    folder = into.link_folder(args.play_into)
    out: Path = args.out or (
        session.settings.data_dir / "training" / f"{loaded.scenario.id}-play-into"
    )
    if into.fresh_run_folder(out, args.restart) and not args.restart:
        _err(f"reception: {out}: 前回の再生は終わっていたので、最初から再生します")

    def said(event: LinkEvent) -> None:  # the link's own lines, as `reception link` says them
        _err(f"{event.at} {event.kind} {event.name} {event.detail}".rstrip())

    def settled(patient: Any) -> None:
        if not args.json:
            _print(patient.line())

    morning = asyncio.run(
        into.replay(
            loaded,
            out,
            folder,
            session.settings,
            fast=args.fast,
            trainee=args.name or into.TRAINEE,
            on_settled=settled,
            on_event=said,
        )
    )
    if args.json:
        _print_json(morning.as_json())
    else:
        _print(
            f"{len(morning.patients)} 人: face/ に {len(morning.face_files)} 件、"
            f"要求 {len(morning.answered)} 件に回答（{folder}）"
        )
    if morning.interrupted_by is not None:
        _err(f"reception: 中断しました（続きは同じコマンドで: {out}）")
        return 128 + morning.interrupted_by
    missed = [p.case_id for p in morning.patients if not p.reached]
    if missed:
        _err(f"reception: 模範の終わり方に届かなかったケース: {', '.join(missed)}")
        return 1
    return 0
