"""``mock-oqs``: make and manage the mock オンライン資格確認 world."""

from __future__ import annotations

import argparse
import datetime as dt
import fcntl
import sqlite3
import sys
import time
from collections.abc import Callable
from pathlib import Path

from mock_oqs import registry
from mock_oqs.faults import FAULTS_FILE, FaultPlan, Faults, load_plan, save_plan
from mock_oqs.limits import BULK_MAX, STATE_FILE, ServiceLimits
from mock_oqs.terminals import check_code, issue_clinic
from mock_oqs.world import World, WorldError, seed_world
from reader.argtypes import fraction, iso_date, port, whole_number
from reader.clock import JST
from reader.safe_text import printable as safe_text


def cmd_faults(args: argparse.Namespace, world: World) -> int:
    path = world.directory / FAULTS_FILE
    if args.facility is not None:
        try:
            check_code(args.facility)
        except ValueError as exc:
            sys.stderr.write(f"mock-oqs: {exc}\n")
            return 2
    # many clinics may change their own faults at once (a training room's desks): one
    # change at a time, or one would undo another's
    with open(path.with_name(path.name + ".lock"), "a+b") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _change_faults(args, path)


def _change_faults(args: argparse.Namespace, path: Path) -> int:
    try:
        # --clear with --facility: that clinic's faults alone, the others' stay
        plan = FaultPlan() if args.clear and args.facility is None else load_plan(path)
    except ValueError as exc:
        sys.stderr.write(f"mock-oqs: {path} is unreadable ({exc}); use --clear\n")
        return 2
    if args.clear and args.facility is not None:
        plan.facilities.pop(args.facility, None)
    current = (
        plan.for_facility(args.facility)
        if args.facility in plan.facilities or (args.facility is None)
        else Faults()
    )
    changes: dict[str, object] = {}
    if args.latency_ms is not None:
        changes["latency_ms"] = args.latency_ms
    if args.error_rate is not None:
        changes["error_rate"] = args.error_rate
    for flag in ("outage", "malformed", "hang"):
        if getattr(args, flag) is not None:
            changes[flag] = getattr(args, flag) == "on"
    if args.facility is not None and not changes and args.clear:
        save_plan(plan, path)
        sys.stdout.write(plan.model_dump_json(by_alias=True, indent=2) + "\n")
        return 0
    updated = current.model_copy(update=changes)
    if args.facility is None:
        plan.global_faults = updated
    else:
        plan.facilities[args.facility] = updated
    save_plan(plan, path)
    sys.stdout.write(plan.model_dump_json(by_alias=True, indent=2) + "\n")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mock-oqs",
        description="The mock online qualification service (オンライン資格確認): "
        "a seeded world of insured persons with their virtual cards.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_seed(sub)
    _add_serve(sub)
    _add_tools(sub)
    return parser


def _add_seed(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    seed = sub.add_parser("seed", help="make a world: CAs, registry, cards, index")
    seed.add_argument("--out", type=Path, required=True, help="new (or empty) directory")
    seed.add_argument("--seed", type=int, default=1, help="everything follows from it")
    seed.add_argument(
        "--extra-persons",
        type=whole_number(0, 50_000_000),
        default=0,
        metavar="N",
        help="N generated persons (registry rows only) for scale tests",
    )
    seed.add_argument("--today", type=iso_date, help="the world's reference day (default: today)")
    seed.add_argument(
        "--generate",
        action="append",
        default=[],
        metavar="ID=PERSONA",
        type=_generated,
        help="one more person with a card, in PERSONA's situation but of their own "
        "(name, card, PIN, numbers), listed as ID (repeatable)",
    )


def _generated(text: str) -> tuple[str, str]:
    new_id, sep, template = text.partition("=")
    if not sep or not new_id or not template:
        raise argparse.ArgumentTypeError(f"{text!r}: write ID=PERSONA (e.g. gen-1=adult-kyokai)")
    return new_id, template


def _add_serve(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    serve = sub.add_parser(
        "serve",
        help="serve the world over HTTPS with client certificates",
        description="Serve a seeded world's registry as the qualification service: HTTPS "
        "with the world's TLS certificate, a client certificate from its facility CA "
        "required on every path but /health. Runs until Ctrl+C or SIGTERM.",
    )
    serve.add_argument(
        "--world", type=Path, required=True, metavar="DIR", help="a world made by `mock-oqs seed`"
    )
    serve.add_argument(
        "--host",
        default="127.0.0.1",
        help="the address to listen on (default 127.0.0.1: this machine only)",
    )
    serve.add_argument(
        "--port", type=port, default=8443, help="the TCP port to listen on (default 8443)"
    )
    serve.add_argument(
        "--workers",
        type=whole_number(1, 64, "workers"),
        default=1,
        metavar="N",
        help="server processes sharing the port (1–64; default 1)",
    )
    serve.add_argument(
        "--today",
        type=iso_date,
        metavar="YYYY-MM-DD",
        help="the service's date (default: the world's reference day, so that "
        "its personas give the outcomes its index promises)",
    )
    serve.add_argument(
        "--log-level",
        default="info",
        choices=["critical", "error", "warning", "info", "debug"],
        help="how much the server logs (default info: one line a request)",
    )
    serve.add_argument(
        "--max-connections",
        type=whole_number(1, 100_000, "connections"),
        default=256,
        metavar="N",
        help="open connections per worker; a newcomer past it gets 503 MOCK-E013 (default 256)",
    )
    serve.add_argument(
        "--request-timeout",
        type=whole_number(1, 3600, "request timeout"),
        default=10,
        metavar="SECONDS",
        help="a request must arrive whole within this time, else 408 MOCK-E012 (default 10)",
    )
    serve.add_argument(
        "--max-outstanding-nonces",
        type=whole_number(0, 10_000_000, "nonces"),
        default=256,
        metavar="N",
        help="unused, unexpired nonces per facility; past it 429 MOCK-E009 (0: no limit; "
        "default 256, a benchmark that pre-issues its nonces needs more)",
    )
    _add_limits(serve)


def _add_limits(serve: argparse.ArgumentParser) -> None:
    limits = serve.add_argument_group(
        "limits per facility",
        "lookups by number (confirmations by number, records, 照会番号, every 一括照会 "
        "entry) and 一括照会 jobs; past them 429 MOCK-E018 / MOCK-E019, each refusal kept "
        "(mock-oqs refusals). The defaults fit a clinic's real load (about 50 patients a "
        "day, one 一括照会 of the day's bookings): a benchmark raises them explicitly.",
    )
    limits.add_argument(
        "--lookups-per-minute",
        type=whole_number(0, 10_000_000, "lookups"),
        default=60,
        metavar="N",
        help="a bucket of N single lookups that refills over a minute (0: no limit; default 60)",
    )
    limits.add_argument(
        "--lookups-per-day",
        type=whole_number(0, 100_000_000, "lookups"),
        default=2000,
        metavar="N",
        help="lookups and 一括照会 entries in a rolling day (0: no limit; default 2000)",
    )
    limits.add_argument(
        "--bulk-entries",
        type=whole_number(1, BULK_MAX, "entries"),
        default=500,
        metavar="N",
        help=f"entries in one 一括照会 (default 500; the format allows {BULK_MAX:,})",
    )
    limits.add_argument(
        "--bulk-running",
        type=whole_number(1, 10_000, "jobs"),
        default=2,
        metavar="N",
        help="一括照会 jobs running at once (default 2)",
    )
    limits.add_argument(
        "--bulk-stored",
        type=whole_number(1, 100_000, "jobs"),
        default=20,
        metavar="N",
        help="一括照会 jobs kept with their results (default 20)",
    )
    limits.add_argument(
        "--bulk-keep-hours",
        type=whole_number(1, 24 * 90, "hours"),
        default=24,
        metavar="H",
        help="hours a 一括照会's results are kept; older ones (and, at start-up, jobs a "
        "stopped server left unfinished) are purged (default 24)",
    )
    limits.add_argument(
        "--birth-dates-per-patient",
        type=whole_number(0, 10_000, "dates"),
        default=3,
        metavar="N",
        help="different birth dates a facility may try with one patient's numbers in a day "
        "— a guesser varies the date, a clinic retypes it once or twice; past it 429 "
        "MOCK-E020 (0: no limit; default 3)",
    )


WORLD_HELP = "a world made by `mock-oqs seed` (its directory)"


def _add_tools(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The trainer's and developer's tools: refusals, openapi, faults, revoke, unregister."""
    refusals = sub.add_parser(
        "refusals",
        help="what the service refused for its limits (429: nonces, lookups, 一括照会 jobs), "
        "per facility and minute, newest first",
    )
    refusals.add_argument("--world", type=Path, required=True, metavar="DIR", help=WORLD_HELP)
    refusals.add_argument("--facility", metavar="CODE", help="one 10-digit 医療機関コード")
    refusals.add_argument("--json", action="store_true", help="one JSON object per line")
    openapi = sub.add_parser(
        "openapi", help="print the service's OpenAPI description (JSON) without serving it"
    )
    openapi.add_argument("--world", type=Path, required=True, metavar="DIR", help=WORLD_HELP)
    faults = sub.add_parser(
        "faults",
        help="inject faults into a running (or future) service: latency, errors, outage, "
        "malformed bodies, hanging responses — globally or for one facility",
    )
    faults.add_argument("--world", type=Path, required=True, metavar="DIR", help=WORLD_HELP)
    faults.add_argument(
        "--facility", metavar="CODE", help="10-digit 医療機関コード (default: every facility)"
    )
    faults.add_argument(
        "--latency-ms",
        type=whole_number(0, 600_000, "latency"),
        metavar="N",
        help="/v1 answers come N ms later (0: none)",
    )
    faults.add_argument(
        "--error-rate",
        type=fraction,
        metavar="R",
        help="this share (0–1) of /v1 requests answers 500 MOCK-F002",
    )
    for flag, what in (
        ("outage", "every path, /health included, answers 503 MOCK-F001 (the service down)"),
        ("malformed", "/v1 answers are cut-off JSON with status 200"),
        ("hang", "/v1 requests never get an answer (until the client gives up)"),
    ):
        faults.add_argument(f"--{flag}", choices=["on", "off"], help=what)
    faults.add_argument(
        "--clear",
        action="store_true",
        help="remove the faults first (with --facility: that facility's alone)",
    )
    terminal = sub.add_parser(
        "terminal",
        help="issue terminal certificates for more clinics (医療機関コード) from the world's "
        "facility CA; each clinic is made like the world's (its 医療券, consents)",
    )
    terminal.add_argument("--world", type=Path, required=True, metavar="DIR", help=WORLD_HELP)
    terminal.add_argument(
        "clinics",
        nargs="+",
        metavar="CODE=DIR",
        help="a clinic's 10-digit 医療機関コード and the folder its cert.pem, key.pem and "
        "face-auth.cvc go to",
    )
    revoke = sub.add_parser("revoke", help="revoke a persona's user-auth certificate")
    revoke.add_argument("--world", type=Path, required=True, metavar="DIR", help=WORLD_HELP)
    revoke.add_argument("persona", help="a persona id of the world's index (world.json)")
    unregister = sub.add_parser(
        "unregister",
        help="undo a persona's 保険証利用登録 (a trainer resetting a card registered at a reader)",
    )
    unregister.add_argument("--world", type=Path, required=True, metavar="DIR", help=WORLD_HELP)
    unregister.add_argument("persona", help="a persona id of the world's index (world.json)")


def cmd_seed(args: argparse.Namespace) -> int:
    start = time.perf_counter()
    world = seed_world(
        args.out,
        seed=args.seed,
        extra_persons=args.extra_persons,
        today=args.today,
        generated=args.generate,
    )
    sys.stdout.write(
        f"world in {args.out}: {len(world.index['personas'])} personas, "
        f"{args.extra_persons} extra persons, reference day {world.index['today']} "
        f"({time.perf_counter() - start:.1f} s)\n"
    )
    return 0


def serve_limits(args: argparse.Namespace) -> ServiceLimits:
    """The limits of ``serve``'s options (0: none)."""
    return ServiceLimits(
        lookups_per_minute=args.lookups_per_minute or None,
        lookups_per_day=args.lookups_per_day or None,
        bulk_entries=args.bulk_entries,
        bulk_running=args.bulk_running,
        bulk_stored=args.bulk_stored,
        bulk_keep_hours=float(args.bulk_keep_hours),
        birth_dates_per_patient=args.birth_dates_per_patient or None,
    )


def cmd_serve(args: argparse.Namespace) -> int:
    from mock_oqs.server import serve

    world = World.load(args.world)
    serve(
        args.world,
        host=args.host,
        port=args.port,
        workers=args.workers,
        today=args.today or dt.date.fromisoformat(world.index["today"]),
        log_level=args.log_level,
        max_connections=args.max_connections,
        request_timeout=args.request_timeout,
        max_outstanding_nonces=args.max_outstanding_nonces,
        limits=serve_limits(args),
    )
    return 0


def cmd_refusals(args: argparse.Namespace) -> int:
    """The refusal audit of the world's service, read-only (a running service goes on)."""
    import json

    world = World.load(args.world)
    path = world.directory / STATE_FILE
    rows: list[sqlite3.Row] = []
    if path.exists():
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        conn.row_factory = sqlite3.Row
        try:
            where, params = ("WHERE facility = ?", (args.facility,)) if args.facility else ("", ())
            rows = conn.execute(
                f"SELECT * FROM refusals {where} ORDER BY minute DESC, facility, code",  # noqa: S608 (a constant)
                params,
            ).fetchall()
        except sqlite3.OperationalError:  # a state file from before the audit
            rows = []
        finally:
            conn.close()
    if not rows and not args.json:
        sys.stdout.write("no refusals recorded\n")
    for row in rows:
        minute = dt.datetime.fromtimestamp(row["minute"] * 60, JST)
        if args.json:
            record = {
                "facility": row["facility"],
                "code": row["code"],
                "minute": minute.isoformat(),
                "count": row["count"],
                "detail": row["detail"],
            }
            sys.stdout.write(json.dumps(record, ensure_ascii=False) + "\n")
            continue
        sys.stdout.write(
            f"{minute:%Y-%m-%d %H:%M} JST  {row['facility']}  {row['code']}  "
            f"×{row['count']}  {safe_text(row['detail'])}\n"
        )
    return 0


def cmd_openapi(args: argparse.Namespace) -> int:
    import json

    from mock_oqs.app import ServiceSettings, create_app

    World.load(args.world)  # a clear error for a directory that is no world
    spec = create_app(ServiceSettings(world=args.world)).openapi()
    sys.stdout.write(json.dumps(spec, ensure_ascii=False, indent=2) + "\n")
    return 0


def _change_persona(
    args: argparse.Namespace, change: Callable[[sqlite3.Connection, str], int]
) -> int:
    """Apply ``change(conn, person_id)`` to the persona's registry rows in one transaction
    (a server running on the world sees it at once); how many rows changed."""
    world = World.load(args.world)
    person_id = world.persona(args.persona)["person_id"]
    conn = registry.connect(world.registry_path)
    try:
        with registry.transaction(conn):
            return change(conn, person_id)
    finally:
        conn.close()


def cmd_revoke(args: argparse.Namespace) -> int:
    count = _change_persona(
        args, lambda conn, pid: registry.revoke_certificate(conn, pid, dt.datetime.now(dt.UTC))
    )
    sys.stdout.write(
        f"{args.persona}: {count} certificate(s) revoked\n"
        if count
        else f"{args.persona}: nothing to revoke (no linked certificate, or already revoked)\n"
    )
    return 0


def cmd_unregister(args: argparse.Namespace) -> int:
    count = _change_persona(args, registry.unregister_person)
    sys.stdout.write(
        f"{args.persona}: 保険証利用登録 undone for {count} card(s)\n"
        if count
        else f"{args.persona}: nothing to undo (no card registered for 保険証 use)\n"
    )
    return 0


def cmd_terminal(args: argparse.Namespace) -> int:
    clinics: list[tuple[str, Path]] = []
    for given in args.clinics:
        code, sep, folder = given.partition("=")
        try:
            if not sep or not folder:
                raise ValueError(f"CODE=DIR expected, got {given!r}")
            clinics.append((check_code(code), Path(folder)))
        except ValueError as exc:
            sys.stderr.write(f"mock-oqs: {exc}\n")
            return 2
    world = World.load(args.world)
    for code, folder in clinics:
        issue_clinic(world, code, folder)
        sys.stdout.write(f"clinic {code}: terminal certificate in {folder}\n")
    return 0


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "terminal": cmd_terminal,
    "seed": cmd_seed,
    "serve": cmd_serve,
    "faults": lambda args: cmd_faults(args, World.load(args.world)),
    "revoke": cmd_revoke,
    "unregister": cmd_unregister,
    "openapi": cmd_openapi,
    "refusals": cmd_refusals,
}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except (WorldError, KeyError, FileExistsError) as exc:
        message = exc.args[0] if isinstance(exc, KeyError) else str(exc)
        sys.stderr.write(f"mock-oqs: {message}\n")
        return 2


if __name__ == "__main__":
    sys.exit(main())
