"""``vcard``: make virtual My Number cards and put them into the virtual reader."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from types import FrameType

from reader.argtypes import iso_date, whole_number
from reader.exitcodes import ExitCode
from reader.virtual.card import Honeypot, VirtualCard
from reader.virtual.keys import MockJpkiCa
from reader.virtual.other_cards import (
    OtherCard,
    OtherCardError,
    OtherKind,
    is_other_card,
    load_other_card,
)
from reader.virtual.profile import (
    CardAtr,
    ProfileError,
    Variant,
    load_profile,
    new_profile,
    save_profile,
)
from reader.virtual.vpcd import VPCD_DEFAULT_PORT, VpcdCardServer

EXIT_OK = ExitCode.OK
EXIT_USAGE = ExitCode.USAGE
EXIT_ERROR = ExitCode.ERROR
EXIT_SLOT_TAKEN = ExitCode.SLOT_TAKEN

EPILOG = (
    "exit codes: 0 ok (serve: stopped by SIGTERM or SIGINT); 1 error; 2 bad usage or an "
    "unusable profile; 11 serve: the vpcd slot already holds a card (a reader holds one "
    "card: take the other one out first) — the card was not served."
)


def _pin(text: str) -> str:
    if len(text) != 4 or not text.isascii() or not text.isdigit():
        raise argparse.ArgumentTypeError("a test card's PIN is exactly 4 digits")
    return text


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vcard",
        description="Virtual My Number cards for testing: create profiles and serve them "
        "into pcscd through vsmartcard-vpcd, so that every PC/SC program sees the card in "
        "'Virtual PCD 00 00'. Test cards only: the PIN in a profile is the test PIN.",
        epilog=EPILOG,
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_new(sub)
    show = sub.add_parser("show", help="describe a profile (the PIN is not shown)")
    show.add_argument("profile", type=Path)
    _add_serve(sub)
    for name, what in (("remove", "take the card out"), ("insert", "put the card back")):
        p = sub.add_parser(name, help=f"{what} of a running 'vcard serve' (by its --pid-file)")
        p.add_argument("--pid-file", type=Path, required=True)
    return parser


def _add_new(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``vcard new``."""
    new = sub.add_parser("new", help="create a card profile (JSON)")
    new.add_argument("--out", type=Path, required=True, help="profile file to write")
    new.add_argument("--pin", type=_pin, help="the test PIN (default: random, or from --seed)")
    new.add_argument(
        "--variant",
        choices=[v.value for v in Variant],
        default=Variant.PHYSICAL.value,
        help="physical card (default), face-only (顔認証マイナンバーカード, no PIN), "
        "android, iphone",
    )
    new.add_argument("--ca-cert", type=Path, help="CA certificate (PEM) to issue from")
    new.add_argument("--ca-key", type=Path, help="CA private key (PEM), with --ca-cert")
    new.add_argument(
        "--ca-out",
        type=Path,
        help="when no CA is given: write the throw-away CA here (cert.pem, key.pem)",
    )
    new.add_argument("--seed", type=int, help="make everything reproducible from this number")
    new.add_argument("--birth-date", type=iso_date, help="holder's birth date (YYYY-MM-DD)")
    new.add_argument("--issued", type=iso_date, help="certificate issue date (YYYY-MM-DD)")
    new.add_argument(
        "--tries-left",
        type=int,
        choices=range(4),
        default=3,
        metavar="{0..3}",
        help="PIN tries left (0: blocked card)",
    )
    new.add_argument(
        "--no-extended", action="store_true", help="the card answers 6700 to extended APDUs"
    )
    new.add_argument(
        "--atr",
        choices=[a.value for a in CardAtr],
        default=CardAtr.CONTACTLESS.value,
        help="the ATR card tools see: contactless (default; a My Number card on a "
        "face-recognition or NFC reader, 3B 88 80 01 …), contact (a My Number card in a "
        "contact reader, 3B C5 FF 81 …), juki (the old 住基カード, 3B E0 00 FF …, for tests of "
        "old cards)",
    )
    new.add_argument("--force", action="store_true", help="overwrite an existing file")


def _add_serve(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``vcard serve``."""
    serve = sub.add_parser(
        "serve",
        help="put the card into the vpcd reader and serve it",
        description="Put the card into a vpcd slot and serve it until SIGTERM or SIGINT. "
        "A slot holds one card: when it already holds one (pcscd says so, or pcscd does "
        "not take this card), the card is refused with exit 11 and the other card stays "
        "as it is.",
        epilog=EPILOG,
    )
    what = serve.add_mutually_exclusive_group(required=True)
    what.add_argument("--profile", type=Path, help="the card's profile (or an other-card file)")
    what.add_argument(
        "--kind",
        choices=[k.value for k in OtherKind],
        help="serve a card that is not a My Number card instead: transit (a FeliCa transit "
        "IC card), credit (a contactless credit card) — both answer SELECT of the JPKI AID "
        "with 6A82 —, or juki (an old 住基カード: token JPKIAPICCTOKEN)",
    )
    serve.add_argument("--host", default="127.0.0.1", help="where pcscd's vpcd listens")
    serve.add_argument(
        "--port",
        type=whole_number(1, 65535, "a port"),
        default=VPCD_DEFAULT_PORT,
        help=f"vpcd port (default {VPCD_DEFAULT_PORT}, slot 0)",
    )
    serve.add_argument(
        "--honeypot-log",
        type=Path,
        help="append every number-bearing access here (JSON lines); the file "
        "is created empty at start",
    )
    serve.add_argument("--pid-file", type=Path, help="write the process id here")
    serve.add_argument(
        "--ready-file",
        type=Path,
        help="write the reader's name here once pcscd has taken the card (removed when the "
        "card leaves): for scripts that wait for this card, not just any card in the reader",
    )
    serve.add_argument(
        "--remove-after-apdus",
        type=whole_number(1, 10**9),
        metavar="N",
        help="test hook: pull the card out when APDU N arrives",
    )
    serve.add_argument("--quiet", action="store_true")


def _err(text: str) -> None:
    sys.stderr.write(f"vcard: {text}\n")


def cmd_new(args: argparse.Namespace) -> int:
    if args.out.exists() and not args.force:
        _err(f"{args.out} exists; use --force to overwrite it")
        return EXIT_USAGE
    if (args.ca_cert is None) != (args.ca_key is None):
        _err("--ca-cert and --ca-key go together")
        return EXIT_USAGE
    ca = None
    if args.ca_cert is not None:
        try:
            ca = MockJpkiCa.from_pem(args.ca_cert.read_bytes(), args.ca_key.read_bytes())
        except (OSError, ValueError) as exc:
            _err(f"cannot load the CA: {exc}")
            return EXIT_USAGE
    variant = Variant(args.variant)
    try:
        profile, ca = new_profile(
            variant=variant,
            pin=args.pin,
            seed=args.seed,
            ca=ca,
            birth_date=args.birth_date,
            issued=args.issued,
            tries_left=args.tries_left,
            atr=CardAtr(args.atr),
        )
    except (ProfileError, ValueError) as exc:
        _err(str(exc))
        return EXIT_USAGE
    if args.no_extended:
        profile.extended_length = False
    try:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        save_profile(profile, args.out)
        if args.ca_cert is None and args.ca_out is not None:
            args.ca_out.mkdir(parents=True, exist_ok=True)
            (args.ca_out / "cert.pem").write_bytes(ca.certificate_pem())
            key_path = args.ca_out / "key.pem"
            key_path.write_bytes(ca.key_pem())
            os.chmod(key_path, 0o600)
    except OSError as exc:
        _err(f"cannot write: {exc}")
        return EXIT_ERROR
    cert = profile.certificate()
    sys.stdout.write(
        f"wrote {args.out}: {variant.value} card, token {profile.token_label}, "
        f"certificate CN={cert.subject.rfc4514_string()[3:]}, "
        f"valid to {cert.not_valid_after_utc.date()}\n"
    )
    return EXIT_OK


def cmd_show(args: argparse.Namespace) -> int:
    try:
        profile = load_profile(args.profile)
    except ProfileError as exc:
        _err(str(exc))
        return EXIT_USAGE
    cert = profile.certificate()
    pin = profile.auth_pin
    lines = [
        f"variant:        {profile.variant.value}",
        f"token label:    {profile.token_label}",
        f"certificate:    {cert.subject.rfc4514_string()}",
        f"issuer:         {cert.issuer.rfc4514_string()}",
        f"valid:          {cert.not_valid_before_utc.date()} .. {cert.not_valid_after_utc.date()}",
        "signing CA:     "
        + (
            "none (EF 0002 answers 6A82)"
            if (sign_ca := profile.sign_ca_certificate()) is None
            else f"{sign_ca.subject.rfc4514_string()} (EF 0002, readable by anyone)"
        ),
        "PIN:            "
        + (
            "not set"
            if pin.pin is None
            else f"set, {pin.tries_left} of {pin.max_tries} tries left"
            + (" (BLOCKED)" if pin.tries_left == 0 else "")
        ),
        f"extended APDUs: {'yes' if profile.extended_length else 'no (6700)'}",
        f"ATR:            {profile.atr.atr.hex(' ').upper()} ({profile.atr.value}: "
        f"{profile.atr.label})",
    ]
    sys.stdout.write("\n".join(lines) + "\n")
    return EXIT_OK


def cmd_serve(args: argparse.Namespace) -> int:
    honeypot = Honeypot(args.honeypot_log)
    card: VirtualCard | OtherCard
    try:
        if args.kind is not None:  # not a My Number card (reader/virtual/other_cards.py)
            card = OtherCard(OtherKind(args.kind))
        elif is_other_card(args.profile):
            card = load_other_card(args.profile)
        else:
            card = VirtualCard(load_profile(args.profile), path=args.profile, honeypot=honeypot)
    except (ProfileError, OtherCardError) as exc:
        _err(str(exc))
        return EXIT_USAGE
    if args.honeypot_log is not None:
        args.honeypot_log.parent.mkdir(parents=True, exist_ok=True)
        args.honeypot_log.touch()

    def event(text: str) -> None:
        if not args.quiet:
            sys.stderr.write(f"vcard: {text}\n")
            sys.stderr.flush()

    ready_file: Path | None = args.ready_file
    if ready_file is not None:
        ready_file.unlink(missing_ok=True)

    def taken(present: bool) -> None:
        if ready_file is None:
            return
        if present:
            tmp = ready_file.with_name(ready_file.name + ".tmp")
            tmp.write_text(f"{server.reader or f'{args.host}:{args.port}'}\n")
            os.replace(tmp, ready_file)
        else:
            ready_file.unlink(missing_ok=True)

    server = VpcdCardServer(
        card,
        args.host,
        args.port,
        remove_after_apdus=args.remove_after_apdus,
        on_event=event,
        on_taken=taken,
    )
    done = threading.Event()

    def on_term(signum: int, frame: FrameType | None) -> None:
        done.set()

    def on_remove(signum: int, frame: FrameType | None) -> None:
        server.remove()

    def on_insert(signum: int, frame: FrameType | None) -> None:
        server.insert()

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    signal.signal(signal.SIGUSR1, on_remove)
    signal.signal(signal.SIGUSR2, on_insert)
    if args.pid_file is not None:
        args.pid_file.write_text(f"{os.getpid()}\n")
    server.start()
    try:
        while not done.wait(0.1) and not server.stopped:
            pass
    finally:
        server.stop()
        if args.pid_file is not None:
            args.pid_file.unlink(missing_ok=True)
        if ready_file is not None:
            ready_file.unlink(missing_ok=True)
    if server.refused is not None:  # said whether quiet or not: the card was not served
        _err(str(server.refused))
        return EXIT_SLOT_TAKEN
    count = len(honeypot.accesses)
    event(f"stopped; honeypot: {count} number-bearing access{'es' if count != 1 else ''}")
    return EXIT_OK


def cmd_signal(args: argparse.Namespace, signum: int) -> int:
    try:
        pid = int(args.pid_file.read_text().strip())
    except (OSError, ValueError):
        _err(f"no running 'vcard serve' recorded in {args.pid_file}")
        return EXIT_ERROR
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        _err(f"'vcard serve' (pid {pid}) is not running")
        return EXIT_ERROR
    return EXIT_OK


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "new": cmd_new,
    "show": cmd_show,
    "serve": cmd_serve,
    "remove": lambda args: cmd_signal(args, signal.SIGUSR1),
    "insert": lambda args: cmd_signal(args, signal.SIGUSR2),
}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="vcard: %(message)s")
    return COMMANDS[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
