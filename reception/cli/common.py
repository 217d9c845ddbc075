"""What every ``reception`` command shares: exit codes, output, the world, the terminal
and the service."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from reader.exitcodes import EPILOG as EXIT_EPILOG
from reader.exitcodes import ExitCode
from reader.safe_text import json_safe, printable
from reception.errors import InputError
from reception.flow import (
    State,
)

# What a command needs is imported by the command: `reception --help` and the quick
# commands start without the HTTP client, the card stack, the PDF or the settings machinery.
if TYPE_CHECKING:
    from reception.checkin import Terminal
    from reception.oqs_client import OqsClient
    from reception.settings import ReceptionSettings
    from reception.sim.world import WorldFiles

TRANSPORTS = ("pcsc", "loopback")  # reception.settings.TransportKind (a test keeps them equal)

EXIT_CONFIRMED = ExitCode.OK
EXIT_ERROR = ExitCode.ERROR
EXIT_USAGE = ExitCode.USAGE
EXIT_FALLBACK = ExitCode.FALLBACK
EXIT_CARD = ExitCode.NO_READER
EXIT_WRONG_PIN = ExitCode.PIN_WRONG
EXIT_PIN_BLOCKED = ExitCode.PIN_BLOCKED
EXIT_FACE = ExitCode.FACE_NOT_MATCHED
EXIT_WRONG_CARD = ExitCode.WRONG_CARD
EXIT_SLOT_TAKEN = ExitCode.SLOT_TAKEN

EXIT_CODES = {
    State.CONFIRMED: EXIT_CONFIRMED,
    State.FALLBACK: EXIT_FALLBACK,
    State.OQS_UNAVAILABLE: EXIT_FALLBACK,
    State.CARD_REMOVED: EXIT_CARD,
    State.READER_LOST: EXIT_CARD,
    State.CARD_UNREADABLE: EXIT_FALLBACK,
    State.PIN_WRONG: EXIT_WRONG_PIN,
    State.PIN_BLOCKED: EXIT_PIN_BLOCKED,
    State.FACE_NOT_MATCHED: EXIT_FACE,
    State.WRONG_CARD: EXIT_WRONG_CARD,
}

EPILOG = (
    EXIT_EPILOG
    + " (checkin: 0 confirmed; 9 also when the service is unreachable or the card cannot "
    "be read, and 3 when the reader fails — the reception is kept as pending for the "
    "ladder)"
)


class UsageError(InputError):
    title = "使い方の誤り"


def _print(text: str) -> None:
    """Every line for the terminal: names and messages from outside may carry controls
    (ESC sequences, bidi overrides), shown as ␛ / � instead of acting."""
    sys.stdout.write(printable(text, multiline=True) + "\n")


def _print_json(data: Any) -> None:
    """JSON on stdout: the same data, with controls as \\uXXXX escapes."""
    sys.stdout.write(json_safe(json.dumps(data, ensure_ascii=False, indent=2)) + "\n")


def _err(text: str) -> None:
    sys.stderr.write(printable(text, multiline=True) + "\n")


@contextlib.contextmanager
def oqs_for(
    args: argparse.Namespace, settings: ReceptionSettings, world: WorldFiles | None
) -> Iterator[OqsClient]:
    from reception.oqs_client import OqsClient

    if settings.oqs.url is None and world is None:
        raise UsageError("no OQS url: set oqs.url (or RECEPTION_OQS__URL), or give --world")
    with contextlib.ExitStack() as stack:
        oqs = settings.oqs
        if world is not None:
            url = oqs.url or stack.enter_context(world.served())
            oqs = world.oqs_settings(oqs, url)
        yield OqsClient(oqs)


def _world(args: argparse.Namespace) -> WorldFiles | None:
    """The simulator's world of ``--world`` (the simulator is loaded only then)."""
    if not args.world:
        return None
    from reception.sim.world import WorldFiles

    return WorldFiles.open(args.world)


def _terminal(settings: ReceptionSettings, world: WorldFiles | None) -> Terminal:
    from reception.checkin import Terminal

    cert, key = settings.oqs.client_cert, settings.oqs.client_key
    face = settings.face.terminal_certificate
    if world is not None:
        cert, key = cert or world.terminal_cert, key or world.terminal_key
        face = face or world.face_certificate
    if cert is None or key is None:
        raise UsageError("no terminal certificate: set oqs.client_cert/client_key or --world")
    return Terminal.load(cert, key, face)
