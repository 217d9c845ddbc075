"""``reception app-code`` (the 資格確認端末 issues the app's activation code) and
``reception home-visit`` (the マイナ資格確認アプリ, 居宅同意取得型: one check-in at the
patient's home, headless — or its screen without ``--method``).

The app's check-in is ``reception checkin --route counter``'s (reception/cli/checkin.py):
the same consents first, then PIN or 目視, the same result, recorded as the 居宅同意取得型
route — what the clinic software fetches as 訪問診療 (``OQSmuhvq``). What the app adds is
its activation: a device activated once with a code (reception/home_visit/codes.py) reads
cards from then on; a code of the wrong form, never issued, used or lapsed is refused
before the card is touched.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from reception.cli.checkin import _consents
from reception.cli.common import Session, UsageError, _err, _print, _print_json
from reception.flow import Method, Route

AddCommand = Callable[..., argparse.ArgumentParser]
APP_METHODS = (Method.PIN.value, Method.VISUAL.value)  # a phone app has no face check


def add_commands(add: AddCommand) -> None:
    """The two commands' parsers (reception/cli/parser.py calls this)."""
    a = add(
        "app-code",
        help="issue an activation code for the マイナ資格確認アプリ (居宅同意取得型): single use",
    )
    a.add_argument(
        "--ttl",
        default="60",
        help="minutes the code stays valid, 1 … 10080 (default 60); it works once",
    )
    a.add_argument("--json", action="store_true")

    h = add(
        "home-visit",
        help="the マイナ資格確認アプリ (居宅同意取得型, 訪問診療): read a persona's card at home "
        "— PIN or 目視, the consents; without --method its screen opens",
    )
    h.add_argument("--world", type=Path, required=True, help="a world made by `mock-oqs seed`")
    h.add_argument("--persona", help="whose card the patient hands over (in process)")
    h.add_argument(
        "--code",
        help="the activation code from `reception app-code` (activates --device once); "
        "without it the device must have been activated before",
    )
    h.add_argument("--device", default="app-1", help="the app's device name (default app-1)")
    h.add_argument(
        "--method",
        choices=APP_METHODS,
        help="pin (the patient types it) or visual (目視: staff compare the photo)",
    )
    h.add_argument("--pin-stdin", action="store_true", help="read the PIN from standard input")
    h.add_argument(
        "--consent",
        type=_consents,
        default=frozenset(),
        help="comma list of medication, checkup, or all (まとめて同意: what the app offers)",
    )
    h.add_argument("--prescription", choices=["electronic", "paper"])
    h.add_argument("--json", action="store_true")


def cmd_app_code(args: argparse.Namespace, session: Session) -> int:
    from reception.home_visit.codes import issue, ttl_minutes

    issued = issue(session.store, ttl=ttl_minutes(args.ttl), actor=args.staff)
    if args.json:
        _print_json(
            {
                "code": issued.code,
                "issued_at": issued.issued_at.isoformat(timespec="seconds"),
                "expires_at": issued.expires_at.isoformat(timespec="seconds"),
            }
        )
        return 0
    _print(f"アクティベーションコード: {issued.code}")
    _print(
        f"  {issued.expires_at:%Y-%m-%d %H:%M} まで有効・1回限り。マイナ資格確認アプリの"
        "初期登録で入力してください"
    )
    return 0


def activate_device(session: Session, code: str | None, device: str) -> str:
    """The device, activated now with ``code`` or before; else ActivationRefused."""
    from reception.home_visit.codes import activate, activation

    if code is not None:
        done = activate(session.store, code, device, actor=session.args.staff)
        _err(f"マイナ資格確認アプリ {done.device} を有効化しました")
        return done.device
    return activation(session.store, device).device


def cmd_home_visit(args: argparse.Namespace, session: Session) -> int:
    from reception.home_visit.mode import CONSENTS_REFUSED, Mode

    if args.persona is None:
        raise UsageError("--persona: whose card the patient hands over")
    world = session.world
    assert world is not None
    world.card(args.persona)  # an unknown persona is refused before the code is used
    if session.settings.mode is Mode.LIMITED and args.consent:
        raise UsageError(CONSENTS_REFUSED)
    if args.method is None:
        return run_app(session, code=args.code, device=args.device, persona=args.persona)
    if args.pin_stdin and args.method != Method.PIN.value:
        raise UsageError("--pin-stdin goes with --method pin")
    from reception.cli.checkin import _asked, cmd_checkin

    as_checkin = _as_checkin(args)
    # refused before the code is used
    _asked(as_checkin, Route.COUNTER, Method(args.method), session.settings)
    device = activate_device(session, args.code, args.device)
    as_checkin.staff = f"{args.staff}（マイナ資格確認アプリ {device}）"
    return cmd_checkin(as_checkin, session)


def _as_checkin(args: argparse.Namespace) -> argparse.Namespace:
    """``reception checkin --route counter`` with this app's answers."""
    as_checkin: dict[str, Any] = {
        "world": args.world,
        "persona": args.persona,
        "transport": "loopback",  # the phone reads the card itself: in process
        "reader": None,
        "slot": 0,
        "medium": "card",
        "wait": 0.0,
        "method": args.method,
        "pin_stdin": args.pin_stdin,
        "face": "same",
        "consent": args.consent,
        "prescription": args.prescription,
        "subsidies": False,
        "register": False,
        "route": "counter",
        "reception": None,
        "extended": False,
        "trace": None,
        "seed": None,
        "json": args.json,
        "staff": args.staff,
    }
    return argparse.Namespace(**as_checkin)


def run_app(session: Session, *, code: str | None, device: str, persona: str) -> int:
    """The app's screen (reception/tui/home_visit_app.py) with the persona's card read in
    process, as a phone reads the card it is held against."""
    from reception.checkin import ExpectedCard
    from reception.home_visit.codes import checked_device
    from reception.sim.cards import LoopbackCards
    from reception.tui.home_visit_app import HomeVisitApp, HomeVisitServices

    world = session.world
    assert world is not None
    cards = LoopbackCards()
    expected = ExpectedCard(world.certificate_sha256(persona), persona)
    with session.oqs() as client:
        app = HomeVisitApp(
            HomeVisitServices(
                store=session.store,
                terminal=session.terminal,
                settings=session.settings,
                client=client,
                cards=cards,
                place=lambda: cards.place(persona, world.card(persona), expected),
                persona=persona,
                device=checked_device(device),
                code=code,
            )
        )
        app.run()
    return 0
