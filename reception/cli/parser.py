"""The ``reception`` command line: its parser."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from reader.argtypes import QuietArgumentParser, iso_date
from reception.camera import FaceScenario
from reception.cli.checkin import PRESCRIPTION_CHOICES, _consents
from reception.cli.common import EPILOG, TRANSPORTS
from reception.declaration import SelfDeclaration
from reception.flow import Method, Route
from reception.home_visit.cli import add_commands as add_app_commands
from reception.room.cli import add_commands as add_room_commands
from reception.training.cli import add_commands as add_training_commands
from reception.vocabulary import SharedRecords

AddCommand = Callable[..., argparse.ArgumentParser]
"""``add(name, **kwargs)``: a new subcommand's parser."""


def _checkin_arguments(c: argparse.ArgumentParser) -> None:
    c.add_argument("--world", type=Path, help="a world made by `mock-oqs seed`")
    c.add_argument(
        "--persona",
        help="whose virtual card (an id of the world's index): served into vpcd's --slot "
        "(or in process); the card read must be that persona's (exit 10 otherwise, before "
        "any PIN is sent)",
    )
    c.add_argument("--transport", choices=TRANSPORTS)
    c.add_argument(
        "--reader",
        help="PC/SC reader name (default: the configured one, or the first with a card); "
        "with --persona: the persona's card is already in this reader (put there with "
        "`vcard serve`, say) and is used as it is, not served",
    )
    c.add_argument(
        "--slot",
        type=int,
        choices=[0, 1],
        default=0,
        help="vpcd slot for a persona (exit 11 when it already holds a card)",
    )
    c.add_argument(
        "--medium",
        choices=["card", "phone"],
        default="card",
        help="what the patient chose at the reader: phone reads reader.phone_name where "
        "set (not on a next-generation reader.model); the card itself tells what it is",
    )
    c.add_argument("--wait", type=float, default=0.0, help="seconds to wait for a card")
    c.add_argument("--method", choices=[m.value for m in Method], required=True)
    c.add_argument("--pin-stdin", action="store_true", help="read the PIN from standard input")
    c.add_argument(
        "--face",
        choices=[s.value for s in FaceScenario],
        default="same",
        help="the simulated camera's scenario",
    )
    c.add_argument(
        "--consent",
        type=_consents,
        default=frozenset(),
        help="comma list of medication, checkup, operation, or all (all = まとめて同意: what "
        "the route offers — the 居宅同意取得型 route (--route counter) offers medication and "
        "checkup); limit only counts in the pre-2024 flow (RECEPTION_READER__CONSENT_FLOW="
        "pre-2024): since 2024-10-07 限度額 information is provided without a question",
    )
    c.add_argument(
        "--prescription",
        choices=sorted(PRESCRIPTION_CHOICES),
        help="処方箋の発行形態 the patient chooses, where the reader asks it "
        "(RECEPTION_READER__PRESCRIPTION=outside or inside; refused where it is off)",
    )
    c.add_argument(
        "--subsidies",
        action="store_true",
        help="the patient uses their 医療費助成 受給者証 by card (where the clinic's area runs "
        "the pilot: RECEPTION_READER__PUBLIC_EXPENSE_PILOT=true; elsewhere ignored); not "
        "after 目視 nor on the 居宅同意取得型 route",
    )
    c.add_argument(
        "--register",
        action="store_true",
        help="the card lacks 保険証利用登録: the patient agrees to register it at the reader "
        "(the check-in then goes on; without this flag a 未登録 card goes to the ladder); "
        "only with --method pin or face at the reader — never after 目視",
    )
    c.add_argument(
        "--route",
        choices=[r.value for r in Route],
        default=Route.READER.value,
        help="counter: 居宅同意取得型 at a staff-held reader (consent first, then pin or visual)",
    )
    c.add_argument(
        "--reception", help="the pending reception this check-in settles (with --route counter)"
    )
    c.add_argument("--extended", action="store_true", help="extended-length certificate reads")
    c.add_argument("--trace", type=Path, help="append the APDU trace here (VERIFY redacted)")
    c.add_argument("--seed", type=int, help="the camera's seed (reproducible face scores)")
    c.add_argument("--json", action="store_true")


def build_parser() -> argparse.ArgumentParser:
    import reception.cli  # the package's docstring: its first line describes the command

    parser = QuietArgumentParser(
        prog="reception",
        description=(reception.cli.__doc__ or "").split("\n\n")[0],
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        allow_abbrev=False,
    )
    parser.add_argument("--store", type=Path, help="the store file (default: data directory)")
    parser.add_argument(
        "--log-level", default="WARNING", choices=["DEBUG", "INFO", "WARNING", "ERROR"]
    )
    parser.add_argument("--log-file", type=Path, help="write the log here (redacted)")
    parser.add_argument("--staff", default="staff", help="who acts (for the audit trail)")
    parser.add_argument(
        "--today",
        type=iso_date,
        help="play this day's rules (YYYY-MM-DD; the setting `today`): the expired 保険証 "
        "until 2026-03-31, the 後期高齢者's 資格確認書, a お知らせ's validity; with --world, "
        "default: the world's day; else the clinic's day",
    )
    sub = parser.add_subparsers(dest="command")

    def add(name: str, **kwargs: Any) -> argparse.ArgumentParser:
        sub_parser: argparse.ArgumentParser = sub.add_parser(name, allow_abbrev=False, **kwargs)
        return sub_parser

    _checkin_arguments(add("checkin", help="one check-in", epilog=EPILOG))
    _declare_arguments(add("declare", help="record a 被保険者資格申立書 and print it"))
    _ladder_commands(add)
    _tool_commands(add)
    add_app_commands(add)  # the マイナ資格確認アプリ: app-code, home-visit
    add_training_commands(add)  # training runs: train list, check, run
    add_room_commands(add)  # a training room in the browser
    return parser


def _declare_arguments(d: argparse.ArgumentParser) -> None:
    """``declare``: the form's fields as options, from the form's own model."""
    d.add_argument("--json-file", help="the form's fields as JSON (arguments override)")
    for name, field in SelfDeclaration.model_fields.items():
        described = (field.description or "").replace("%", "%%")
        if field.annotation is bool:  # --card-shown: staff saw the マイナ保険証
            option = f"--{name.replace('_', '-')}"
            d.add_argument(option, dest=name, action="store_true", default=None, help=described)
            continue
        d.add_argument(f"--{name.replace('_', '-')}", dest=name, help=described)
    d.add_argument("--reception", help="the reception this declaration belongs to")
    d.add_argument("--out", type=Path, help="where the PDF goes")


def _ladder_commands(add: AddCommand) -> None:
    """The queue, the ladder's rungs, the doctor's records, the query by number."""
    ls = add("list", help="the day's receptions and their status (the 受付一覧)")
    ls.add_argument("--date", type=iso_date, help="the day (default: today, JST)")
    ls.add_argument("--json", action="store_true")

    p = add(
        "pending",
        help="what waits: today's receptions for the ladder (要代替確認, 保留) and the "
        "declarations waiting for re-verification",
    )
    p.add_argument("--json", action="store_true")

    r = add("reverify", help="re-check queued declarations by number")
    r.add_argument("--world", type=Path)
    r.add_argument(
        "--wait", type=float, default=0.0, help="seconds to wait for the service to answer first"
    )

    s = add("step", help="record a rung of the fallback ladder")
    s.add_argument("reception")
    s.add_argument("step", choices=["notice", "portal", "certificate", "declaration"])
    s.add_argument("--detail", required=True, help="what staff saw")
    s.add_argument(
        "--notice-until",
        type=iso_date,
        help="notice: the 有効期限 printed on a 70+ patient's お知らせ (it ends on 7/31)",
    )
    s.add_argument(
        "--birth-date", type=iso_date, help="notice: the patient's, where the reception lacks it"
    )

    nc = add(
        "no-card",
        help="neither マイナ保険証 nor 資格確認書: 10割 now, refund from the insurer later",
    )
    nc.add_argument("--reception", help="the reception (default: a new one)")

    rc = add(
        "records",
        help="the doctor's view: 薬剤情報・診療情報・手術情報・特定健診 of a reception's patient "
        "(only what they consented to share, 24 h; each look is audited)",
    )
    rc.add_argument("reception", help="a reception confirmed by card")
    rc.add_argument(
        "--kind",
        choices=["all", *SharedRecords],
        default="all",
    )
    rc.add_argument("--world", type=Path)
    rc.add_argument("--json", action="store_true")

    n = add("confirm-number", help="query by number (資格確認書)")
    n.add_argument("--world", type=Path)
    n.add_argument("--insurer-number", required=True)
    n.add_argument("--symbol", required=True)
    n.add_argument("--number", required=True)
    n.add_argument("--branch")
    n.add_argument("--birth-date", type=iso_date, required=True)
    n.add_argument("--limit-consent", action="store_true")
    n.add_argument("--reception", help="add to this reception (default: a new one)")
    _old_card_command(add)


def _old_card_command(add: AddCommand) -> None:
    """The expired 保険証 (or the お知らせ alone): the interim rule until 2026-03-31."""
    o = add(
        "old-card",
        help="query by the numbers of an expired 保険証 (or a お知らせ brought alone): "
        "accepted only 2025-12-02..2026-03-31 of the rules' day (--today)",
    )
    o.add_argument("--world", type=Path)
    o.add_argument("--insurer-number", required=True)
    o.add_argument("--symbol", default="")
    o.add_argument("--number", required=True)
    o.add_argument("--branch")
    o.add_argument("--birth-date", type=iso_date, required=True)
    o.add_argument("--printed-until", type=iso_date, help="the 有効期限 printed on it, if any")
    o.add_argument(
        "--notice-only", action="store_true", help="a 資格情報のお知らせ brought without the card"
    )
    o.add_argument("--reception", help="add to this reception (default: a new one)")


def _tool_commands(add: AddCommand) -> None:
    """The demo, the folder interface, exports, a result file's reception."""
    t = add("demo", help="the TUI with a seeded world, the mock service and virtual cards")
    t.add_argument("--world", type=Path, help="reuse this world (default: a new one)")
    t.add_argument("--loopback", action="store_true", help="cards in process, not via pcscd")
    t.add_argument(
        "--today",
        type=iso_date,
        default=argparse.SUPPRESS,  # else the global --today (before `demo`) is kept
        help="the world's day (as reception --today): a new world is seeded on it, a reused "
        "one is served on it, and the terminal plays that day's rules",
    )

    k = add(
        "link",
        help="the folder interface for clinic software (req/ → res/, face/)",
        description="Watch DIR/req and answer into DIR/res as a 資格確認端末 does (oqs.md §7).",
    )
    k.add_argument("--folder", type=Path, help="the shared folder (default: link.folder)")
    k.add_argument("--world", type=Path, help="a simulator world (its service and terminal)")
    k.add_argument(
        "--remove-done", action="store_true", help="remove answered requests (default: req/done/)"
    )
    k.add_argument("--send", type=Path, help="drop this request file in and print its answer")
    k.add_argument("--timeout", type=float, default=10.0, help="seconds --send waits")

    e = add("export", help="a day's results as XmlMsg files or CSV")
    e.add_argument("--date", type=iso_date, required=True)
    e.add_argument("--format", choices=["xml", "csv"], required=True)
    e.add_argument("--out", type=Path, required=True)
    r = add(
        "result-file",
        help="the reception a face/ result file belongs to",
        description="Print the reception id of a face/ result file, found from its name "
        "(OQSsiquc01res_face_<医療機関コード><20 hex>_<time>.xml); exit 2 when none of this "
        "store's receptions has it.",
    )
    r.add_argument("name", help="the file's name or path (the file itself is not read)")
