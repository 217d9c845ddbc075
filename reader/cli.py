"""``myna-reader``: the developer's tool for a My Number card in a PC/SC reader.

Every command, ``apdu`` included, goes through the My Number guard. The PIN is
read from a hidden prompt or from standard input (``--pin-stdin``), never from
the command line.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from reader.aids import EF_AUTH_CA_CERT, EF_AUTH_CERT
from reader.apdu import CommandApdu
from reader.argtypes import QuietArgumentParser, seconds
from reader.errors import (
    CardRemoved,
    ForbiddenCommand,
    MalformedApdu,
    NoCard,
    NotAMyNumberCard,
    PinBlocked,
    PinIncorrect,
    PinNotSet,
    ReaderError,
    ReaderUnavailable,
    SecurityStatusNotSatisfied,
)
from reader.exitcodes import EPILOG as EXIT_EPILOG
from reader.exitcodes import ExitCode
from reader.jpki import ExtendedLengthMemory, JpkiClient, ReadMode, TokenKind
from reader.pin import InvalidPin, Pin, PinEntryUnavailable, ask_pin
from reader.safe_text import json_safe, printable
from reader.transport import DEFAULT_DEADLINE_SECONDS, CardChannel, TracingTransport, Transport
from reader.virtual.loopback import LoopbackTransport

EXIT_OK = ExitCode.OK
EXIT_ERROR = ExitCode.ERROR
EXIT_USAGE = ExitCode.USAGE
EXIT_NO_READER = ExitCode.NO_READER
EXIT_FORBIDDEN = ExitCode.FORBIDDEN
EXIT_PIN_WRONG = ExitCode.PIN_WRONG
EXIT_PIN_BLOCKED = ExitCode.PIN_BLOCKED
EXIT_PIN_NOT_SET = ExitCode.NO_PIN

EPILOG = (
    EXIT_EPILOG + "\nThe PIN is never taken from the command line: a hidden prompt, or --pin-stdin."
)


class CliError(Exception):
    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def _common(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("reader selection and output")
    g.add_argument(
        "--reader",
        metavar="NAME",
        help="PC/SC reader (full name or a unique part); default: the first reader with a card",
    )
    g.add_argument(
        "--virtual",
        metavar="PROFILE",
        type=Path,
        help="use a virtual card profile in process instead of a PC/SC reader",
    )
    g.add_argument(
        "--wait",
        metavar="SECONDS",
        type=float,
        default=0.0,
        help="wait this long for a card to be placed (default: 0)",
    )
    g.add_argument(
        "--timeout",
        metavar="SECONDS",
        type=seconds,
        default=DEFAULT_DEADLINE_SECONDS,
        help="give up on a card whose answer to one command (all its pieces) or whose "
        "connection takes longer than this, or one operation (an exclusive transaction) "
        f"twice this (default: {DEFAULT_DEADLINE_SECONDS:g}; a genuine card answers "
        "within a second)",
    )
    g.add_argument(
        "--extended",
        action="store_true",
        help="read certificates with one extended-length APDU (falls back to "
        "short APDUs, remembered per reader, where the reader cannot)",
    )
    g.add_argument(
        "--shared",
        action="store_true",
        help="connect in shared mode, so that other programs may use the card between our "
        "operations (default: exclusive). Either way every operation runs in an exclusive "
        "transaction that begins by selecting the JPKI application",
    )
    g.add_argument("--json", action="store_true", help="machine-readable output on stdout")
    g.add_argument(
        "--trace",
        action="store_true",
        help="print every exchange to stderr ('> HEX', '< HEX SW'); VERIFY data is redacted",
    )


def command(
    sub: argparse._SubParsersAction[QuietArgumentParser],
    name: str,
    help_text: str,
    *,
    common: bool = True,
) -> argparse.ArgumentParser:
    """A subcommand with the shared epilog and, unless told otherwise, the common options."""
    parser = sub.add_parser(
        name,
        help=help_text,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    if common:
        _common(parser)
    return parser


def build_parser() -> argparse.ArgumentParser:
    parser = QuietArgumentParser(
        prog="myna-reader",
        description="Talk to a My Number card (JPKI user-authentication side only) in a PC/SC "
        "reader. The 個人番号 is never read: a guard refuses every command that could reach it.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = command(sub, "list", "list PC/SC readers and whether a card is present", common=False)
    p.add_argument("--json", action="store_true", help="machine-readable output")

    command(sub, "probe", "ATR, JPKI application, token label, PIN tries left")

    p = command(sub, "cert", "read the user-authentication certificate (or its CA)")
    p.add_argument("--ca", action="store_true", help="the CA certificate instead (EF 000B)")
    p.add_argument("--format", choices=["pem", "der", "text"], default="pem")
    p.add_argument("--out", type=Path, help="write to this file instead of stdout")

    command(sub, "pin-status", "tries left of the user-authentication PIN")

    p = command(
        sub,
        "auth-test",
        "full PIN authentication: certificate, PIN, signature over a random challenge, "
        "verified with the certificate's key",
    )
    p.add_argument(
        "--pin-stdin",
        action="store_true",
        help="read the PIN from the first line of standard input",
    )

    p = command(sub, "apdu", "send raw command APDUs (hex), through the guard")
    p.add_argument(
        "apdus",
        nargs="+",
        metavar="HEX",
        help="one command APDU per argument, e.g. 00A4040C0AD392F000260100000001",
    )
    return parser


# --- plumbing -------------------------------------------------------------------------


class Session:
    """An open card connection for one command: transport, channel, JPKI client."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.transport = self._open(args)
        inner: Transport = self.transport
        if args.trace:
            inner = TracingTransport(inner, sys.stderr)
        self.channel = CardChannel(inner, deadline=args.timeout)
        memory = ExtendedLengthMemory.default() if args.virtual is None else None
        self.client = JpkiClient(
            self.channel,
            read_mode=ReadMode.EXTENDED if args.extended else ReadMode.SHORT,
            memory=memory,
        )

    @staticmethod
    def _open(args: argparse.Namespace) -> Transport:
        if args.virtual is not None:
            from reader.virtual.card import VirtualCard
            from reader.virtual.profile import ProfileError, load_profile

            try:
                profile = load_profile(args.virtual)
            except ProfileError as exc:
                raise CliError(str(exc), EXIT_USAGE) from None
            return LoopbackTransport(
                VirtualCard(profile, path=args.virtual), name=f"virtual:{args.virtual.name}"
            )
        from reader.pcsc import PcscTransport

        return PcscTransport(
            args.reader, wait_seconds=args.wait, exclusive=not args.shared, deadline=args.timeout
        )

    def close(self) -> None:
        self.transport.close()


@contextlib.contextmanager
def session(args: argparse.Namespace) -> Iterator[Session]:
    s = Session(args)
    try:
        yield s
    finally:
        s.close()


def _emit(
    args: argparse.Namespace,
    payload: dict[str, Any],
    text: str,
    out: TextIO | None = None,
    *,
    filtered: bool = False,
) -> None:
    """``payload`` as JSON with ``--json``, else ``text``. Card data (a certificate's
    subject, a reader's name …) may carry controls: shown, not obeyed — the whole text is
    filtered, unless the caller did it field by field (``filtered``) to keep its own
    separators (a tab between columns that scripts split on)."""
    stream = out or sys.stdout
    if getattr(args, "json", False):
        stream.write(json_safe(json.dumps(payload, ensure_ascii=False, indent=2)) + "\n")
    elif filtered:
        stream.write(text.rstrip("\n") + "\n")
    else:
        stream.write(printable(text.rstrip("\n"), multiline=True) + "\n")


def _cert_summary(cert: x509.Certificate) -> dict[str, Any]:
    key = cert.public_key()
    bits = key.key_size if isinstance(key, rsa.RSAPublicKey) else None
    return {
        "subject": cert.subject.rfc4514_string(),
        "issuer": cert.issuer.rfc4514_string(),
        "serial": format(cert.serial_number, "X"),
        "not_before": cert.not_valid_before_utc.isoformat(),
        "not_after": cert.not_valid_after_utc.isoformat(),
        "key": f"RSA-{bits}" if bits else type(key).__name__,
        "signature_algorithm": cert.signature_hash_algorithm.name
        if cert.signature_hash_algorithm
        else None,
        "sha256_fingerprint": cert.fingerprint(hashes.SHA256()).hex().upper(),
    }


def _tries(n: int) -> str:
    return f"{n} {'try' if n == 1 else 'tries'} left"


def _read_pin(args: argparse.Namespace, tries_left: int) -> Pin:
    try:
        text = ask_pin(tries_left, from_stdin=args.pin_stdin)
    except PinEntryUnavailable as exc:
        raise CliError(str(exc), EXIT_USAGE) from None
    try:
        return Pin(text)
    except InvalidPin as exc:
        raise CliError(str(exc), EXIT_USAGE) from None
    finally:
        del text


# --- commands -------------------------------------------------------------------------


def cmd_list(args: argparse.Namespace) -> int:
    from reader.pcsc import list_readers

    readers = list_readers()
    payload = {
        "readers": [
            {"name": r.name, "card_present": r.card_present, "atr": r.atr.hex().upper()}
            for r in readers
        ]
    }
    if not readers:
        text = "no PC/SC readers"
    else:
        # one line a reader: its name, a tab, its state — the name is the driver's (any
        # characters): filtered on its own, so a tab in it cannot shift the columns
        text = "\n".join(
            f"{printable(r.name)}\t{'card ' + r.atr.hex().upper() if r.card_present else 'no card'}"
            for r in readers
        )
    _emit(args, payload, text, filtered=True)
    return EXIT_OK


def cmd_probe(args: argparse.Namespace) -> int:
    with session(args) as s, s.channel.transaction():
        atr = s.transport.atr
        info: dict[str, Any] = {"reader": s.transport.name, "atr": atr.hex().upper()}
        try:
            s.client.select()
        except NotAMyNumberCard:
            info["jpki"] = False
            _emit(
                args,
                info,
                f"reader:  {info['reader']}\nATR:     {info['atr']}\n"
                "JPKI:    not present: this is not a My Number card",
            )
            return EXIT_ERROR
        info["jpki"] = True
        token = s.client.token_info()
        info["token_label"] = token.label
        info["token_kind"] = token.kind.name.lower()
        pin_text: str
        if not token.pin_on_reader:
            info["pin_tries_left"] = None
            pin_text = "checked on the phone (no PIN on the reader)"
        else:
            try:
                tries = s.client.pin_tries_left()
                info["pin_tries_left"] = tries
                pin_text = _tries(tries) if tries else "BLOCKED (0 tries left)"
            except PinNotSet:
                info["pin_tries_left"] = None
                pin_text = "not set (顔認証マイナンバーカード: face recognition or 目視確認)"
        info["apdus"] = s.channel.stats.apdus
        _emit(
            args,
            info,
            f"reader:  {info['reader']}\nATR:     {info['atr']}\nJPKI:    present\n"
            f"token:   {token.label} ({token.kind.value})\nPIN:     {pin_text}",
        )
    return EXIT_OK


def cmd_cert(args: argparse.Namespace) -> int:
    if args.format == "der" and args.out is None and sys.stdout.isatty():
        raise CliError("DER is binary: use --out FILE (or redirect stdout)", EXIT_USAGE)
    with session(args) as s, s.channel.transaction():
        s.client.select()
        token = s.client.token_info()
        try:
            der = s.client.read_certificate_der(EF_AUTH_CA_CERT if args.ca else EF_AUTH_CERT)
        except SecurityStatusNotSatisfied:
            if token.kind is TokenKind.ANDROID and not args.ca:
                raise CliError(
                    "this Android token releases its certificate only after the PIN; use auth-test",
                    EXIT_ERROR,
                ) from None
            raise
    cert = x509.load_der_x509_certificate(der)
    if args.format == "der":
        data = der
    elif args.format == "pem":
        data = cert.public_bytes(serialization.Encoding.PEM)
    else:
        summary = _cert_summary(cert)
        text = printable("\n".join(f"{k}: {v}" for k, v in summary.items()), multiline=True)
        data = (text + "\n").encode()
        if args.json:
            data = (json_safe(json.dumps(summary, ensure_ascii=False, indent=2)) + "\n").encode()
    if args.out is not None:
        try:
            args.out.write_bytes(data)
        except OSError as exc:
            raise CliError(f"cannot write {args.out}: {exc.strerror}", EXIT_ERROR) from None
        sys.stderr.write(f"wrote {args.out} ({len(data)} bytes)\n")
    else:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    return EXIT_OK


def cmd_pin_status(args: argparse.Namespace) -> int:
    with session(args) as s, s.channel.transaction():
        s.client.select()
        try:
            tries = s.client.pin_tries_left()
        except PinNotSet:
            _emit(
                args,
                {"pin_set": False, "tries_left": None, "blocked": False},
                "PIN: not set on this card (顔認証マイナンバーカード): use face recognition "
                "or 目視確認",
            )
            return EXIT_PIN_NOT_SET
    blocked = tries == 0
    _emit(
        args,
        {"pin_set": True, "tries_left": tries, "blocked": blocked},
        "PIN: BLOCKED — 3 wrong attempts; reset at the municipal office (市区町村窓口). "
        "The card still works as 保険証 by face recognition or 目視確認"
        if blocked
        else f"PIN: {_tries(tries)}",
    )
    return EXIT_PIN_BLOCKED if blocked else EXIT_OK


def _auth_test_pin(args: argparse.Namespace, s: Session) -> Pin:
    """The PIN for ``auth-test``, read once the card's tries left are known."""
    try:
        tries = s.client.fetch_pin_tries_left()
    except PinNotSet:
        raise CliError(
            "no PIN is set on this card (顔認証マイナンバーカード): it authenticates "
            "by face recognition or 目視確認, not with a PIN",
            EXIT_PIN_NOT_SET,
        ) from None
    if tries == 0:
        raise PinBlocked()
    return _read_pin(args, tries)


def _wrong_pin(args: argparse.Namespace, exc: PinIncorrect) -> int:
    """Say a wrong PIN (and a PIN blocked by it); the exit code."""
    payload = {"ok": False, "error": "pin_incorrect", "tries_left": exc.tries_left}
    where = sys.stderr if not args.json else None
    if exc.tries_left == 0:
        text = (
            "暗証番号が違います。暗証番号がロックされました / wrong PIN: the PIN is now "
            "BLOCKED. Reset at the municipal office; the card still works as 保険証 "
            "by face recognition or 目視確認"
        )
        _emit(args, payload, text, where)
        return EXIT_PIN_BLOCKED
    _emit(args, payload, f"暗証番号が違います / wrong PIN: {_tries(exc.tries_left)}", where)
    return EXIT_PIN_WRONG


def _signature_valid(cert: x509.Certificate, signature: bytes, challenge: bytes) -> bool:
    """RSA PKCS#1 v1.5 with SHA-256 over the challenge, checked with the certificate."""
    key = cert.public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        return False
    try:
        key.verify(signature, challenge, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        return False
    return True


def cmd_auth_test(args: argparse.Namespace) -> int:
    with session(args) as s:
        # identification in one transaction; the card is free while the patient types
        with s.channel.transaction():
            s.client.select()
            token = s.client.token_info()
        pin = _auth_test_pin(args, s) if token.pin_on_reader else None
        challenge = secrets.token_bytes(32)
        before = s.channel.stats.apdus, s.channel.stats.bytes_moved
        start = time.perf_counter()
        try:
            auth = s.client.authenticate(pin, challenge)
        except PinIncorrect as exc:
            return _wrong_pin(args, exc)
        elapsed = time.perf_counter() - start
        apdus = s.channel.stats.apdus - before[0]
        moved = s.channel.stats.bytes_moved - before[1]
        cert = auth.certificate
        valid = _signature_valid(cert, auth.signature, challenge)
        tries_after = s.client.fetch_pin_tries_left() if token.pin_on_reader else None
        payload = {
            "ok": valid,
            "reader": s.transport.name,
            "token_label": auth.token.label,
            "token_kind": auth.token.kind.name.lower(),
            "certificate": _cert_summary(cert),
            "challenge": challenge.hex(),
            "signature_valid": valid,
            "pin_tries_left": tries_after,
            "apdus": apdus,
            "bytes": moved,
            "milliseconds": round(elapsed * 1000, 2),
        }
        summary = _cert_summary(cert)
        text = "\n".join(
            [
                f"reader:      {s.transport.name}",
                f"token:       {auth.token.label} ({auth.token.kind.value})",
                f"certificate: {summary['subject']} (issuer {summary['issuer']})",
                f"valid:       {summary['not_before'][:10]} .. {summary['not_after'][:10]}",
                "PIN:         "
                + (
                    "verified, " + _tries(tries_after)
                    if tries_after is not None
                    else "checked on the phone"
                ),
                "signature:   "
                + ("VALID" if valid else "INVALID")
                + " (RSA PKCS#1 v1.5, SHA-256, over a random 32-byte challenge)",
                f"exchange:    {apdus} APDUs, {moved} bytes, {elapsed * 1000:.1f} ms",
                "result:      " + ("OK" if valid else "FAILED"),
            ]
        )
        _emit(args, payload, text)
        return EXIT_OK if valid else EXIT_ERROR


def cmd_apdu(args: argparse.Namespace) -> int:
    try:
        commands = [CommandApdu.from_hex(h) for h in args.apdus]
    except MalformedApdu as exc:
        raise CliError(f"bad APDU: {exc}", EXIT_USAGE) from None
    results: list[dict[str, str]] = []
    # One transaction for the whole list: its first command must select an application
    # by AID, and nothing another program does lands between ours.
    with session(args) as s, s.channel.transaction():
        for command in commands:
            response = s.channel.transmit(command)
            results.append({"data": response.data.hex().upper(), "sw": f"{response.sw:04X}"})
            if not args.json:
                line = (f"{results[-1]['data']} " if response.data else "") + results[-1]["sw"]
                sys.stdout.write(line + "\n")
    if args.json:
        sys.stdout.write(json.dumps({"responses": results}, indent=2) + "\n")
    return EXIT_OK


COMMANDS = {
    "list": cmd_list,
    "probe": cmd_probe,
    "cert": cmd_cert,
    "pin-status": cmd_pin_status,
    "auth-test": cmd_auth_test,
    "apdu": cmd_apdu,
}


def _code_for(exc: ReaderError) -> int:
    if isinstance(exc, ForbiddenCommand):
        return EXIT_FORBIDDEN
    if isinstance(exc, ReaderUnavailable | NoCard | CardRemoved):
        return EXIT_NO_READER  # also when the card or the reader left mid-way
    if isinstance(exc, PinBlocked):
        return EXIT_PIN_BLOCKED
    if isinstance(exc, PinIncorrect):
        return EXIT_PIN_WRONG
    if isinstance(exc, PinNotSet):
        return EXIT_PIN_NOT_SET
    return EXIT_ERROR


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if getattr(args, "virtual", None) is not None and args.reader is not None:
        sys.stderr.write("myna-reader: --virtual and --reader exclude each other\n")
        return EXIT_USAGE
    try:
        return COMMANDS[args.command](args)
    except CliError as exc:
        _report(args, "usage" if exc.code == EXIT_USAGE else "error", str(exc))
        return exc.code
    except ReaderError as exc:
        _report(args, type(exc).__name__, f"{exc.title}: {exc.message}")
        return _code_for(exc)
    except KeyboardInterrupt:
        sys.stderr.write("\nmyna-reader: interrupted\n")
        return 130


def _report(args: argparse.Namespace, kind: str, message: str) -> None:
    if getattr(args, "json", False):
        report = {"ok": False, "error": kind, "message": message}
        sys.stdout.write(json_safe(json.dumps(report, ensure_ascii=False)) + "\n")
    prefix = "refused by the My Number guard: " if kind == "ForbiddenCommand" else ""
    sys.stderr.write(printable(f"myna-reader: {prefix}{message}", multiline=True) + "\n")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONIOENCODING", "utf-8")
    sys.exit(main())
