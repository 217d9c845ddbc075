"""What every ``reception`` command shares: exit codes, output, the world, the terminal
and the service."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import sys
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from reader.exitcodes import EPILOG as EXIT_EPILOG
from reader.exitcodes import ExitCode
from reader.safe_text import json_safe, printable
from reception.errors import InputError
from reception.flow import State

# What a command needs is imported by the command: `reception --help` and the quick
# commands start without the HTTP client, the card stack, the PDF or the settings machinery.
if TYPE_CHECKING:
    from reception.checkin import Terminal
    from reception.oqs_client import OqsClient
    from reception.settings import ReceptionSettings
    from reception.sim.world import WorldFiles
    from reception.store import Store

T = TypeVar("T")

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
    if not getattr(args, "world", None):
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


class Session:
    """What the commands of one ``reception`` run share, each made when a command first
    asks for it and closed when the run ends: the settings, the store, the simulator's
    world (``--world``), the terminal's identity and the qualification service.

    yubikey-manager's CLI is the model (ykman/_cli/__main__.py and util.py): its group
    callback registers the connection and sessions on the click context as resolvers,
    opened only when a command first reads them; here the parser's namespace and the
    settings go in once, and no command opens the store, the world or the service its
    own way."""

    def __init__(self, args: argparse.Namespace, settings: ReceptionSettings) -> None:
        self.args = args
        self.settings = settings
        self._store: Store | None = None
        self._world: WorldFiles | None = None
        self._world_read = False

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._store is not None:
            self._store.close()

    @property
    def store_path(self) -> Path:
        """``--store``, or the store of the configured data directory."""
        given: Path | None = self.args.store
        return given or self.settings.store_path

    @property
    def store(self) -> Store:
        """The store, opened at first use (refused with :class:`StoreUnusable` when it
        cannot be used as it is)."""
        if self._store is None:
            from reception.store import Store

            self._store = Store(self.store_path)
        return self._store

    @property
    def world(self) -> WorldFiles | None:
        """The simulator's world of ``--world``, if the command has one and it was given."""
        if not self._world_read:
            self._world = _world(self.args)
            self._world_read = True
        return self._world

    def rules_day(self) -> dt.date:
        """The day whose rules apply: ``--today`` (the setting), else the world's day
        (``--world``: its service runs on it), else the clinic's day."""
        if self.settings.today is None and self.world is not None:
            return dt.date.fromisoformat(str(self.world.index["today"]))
        return self.settings.rules_day()

    @property
    def terminal(self) -> Terminal:
        """The terminal's certificate and key (from the settings, else the world)."""
        return _terminal(self.settings, self.world)

    def oqs(self) -> contextlib.AbstractContextManager[OqsClient]:
        """The qualification service: the configured one, or the world's (started for
        the command when none is configured)."""
        return oqs_for(self.args, self.settings, self.world)

    def ask_service(self, use: Callable[[OqsClient], Awaitable[T]]) -> T:
        """``use(client)`` run to its end with the service's client open."""
        with self.oqs() as client:

            async def go() -> T:
                async with client:
                    return await use(client)

            return asyncio.run(go())
