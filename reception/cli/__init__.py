"""``reception``: the terminal's headless commands.

  reception checkin   one check-in with a persona's virtual card (or a real card)
  reception declare   a 被保険者資格申立書 → store + printable PDF + re-verification queue
  reception list      the day's receptions and their status
  reception pending   what waits: receptions for the ladder, declarations to re-verify
  reception reverify  re-check the queue by number (waits for the service with --wait)
  reception step      record a rung of the fallback ladder for a reception
  reception confirm-number   query by 保険者番号・記号・番号 (the 資格確認書 rung)
  reception export    a day's results as XmlMsg files or one CSV
  reception result-file   the reception a face/ result file belongs to

Settings: reception.toml in the config directory and RECEPTION_* variables
(see reception/settings.py). A PIN is read from the terminal or, with --pin-stdin,
from standard input — never from the command line.
"""

from __future__ import annotations

import argparse
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from reader.errors import (
    CardRemoved,
    NoCard,
    ReaderError,
    ReaderUnavailable,
    SlotTaken,
    WorldError,
)
from reception.cli.checkin import cmd_checkin
from reception.cli.commands import (
    cmd_confirm_number,
    cmd_declare,
    cmd_demo,
    cmd_export,
    cmd_link,
    cmd_list,
    cmd_no_card,
    cmd_pending,
    cmd_records,
    cmd_result_file,
    cmd_reverify,
    cmd_step,
    cmd_tui,
)
from reception.cli.common import (
    EXIT_CARD,
    EXIT_ERROR,
    EXIT_FALLBACK,
    EXIT_SLOT_TAKEN,
    EXIT_USAGE,
    TRANSPORTS,
    Session,
    UsageError,
    _err,
)
from reception.cli.old_card import cmd_old_card
from reception.cli.parser import build_parser
from reception.declaration import DeclarationError
from reception.errors import InputError, ReceptionError
from reception.home_visit.cli import cmd_app_code, cmd_home_visit
from reception.room.cli import cmd_room
from reception.training.cli import cmd_train

# What a command needs is imported by the command: `reception --help` and the quick
# commands start without the HTTP client, the card stack, the PDF or the settings machinery.
if TYPE_CHECKING:
    from reception.settings import ReceptionSettings

__all__ = ["TRANSPORTS", "build_parser", "main"]


COMMANDS: dict[str, Callable[[argparse.Namespace, Session], int]] = {
    "checkin": cmd_checkin,
    "declare": cmd_declare,
    "list": cmd_list,
    "pending": cmd_pending,
    "reverify": cmd_reverify,
    "step": cmd_step,
    "confirm-number": cmd_confirm_number,
    "old-card": cmd_old_card,
    "no-card": cmd_no_card,
    "records": cmd_records,
    "link": cmd_link,
    "demo": cmd_demo,
    "export": cmd_export,
    "result-file": cmd_result_file,
    "app-code": cmd_app_code,
    "home-visit": cmd_home_visit,
    "train": cmd_train,
    "room": cmd_room,
}


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        # not echoed: a PIN typed on the command line must not reach the screen or a log
        parser.error(
            f"{len(unknown)} unrecognized argument(s), not shown; a PIN is read from the "
            "terminal or with --pin-stdin, never from the command line"
        )
    from reader.pin import InvalidPin
    from reception.oqs_client import OqsError
    from reception.redaction import configure_logging
    from reception.settings import load_settings

    configure_logging(args.log_level, args.log_file)
    settings: ReceptionSettings | None = None
    try:
        settings = load_settings(**({"today": args.today} if args.today else {}))
        if (
            args.command in ("reverify", "confirm-number", "old-card")
            and args.world is None
            and (settings.oqs.url is None)
        ):
            raise UsageError("no OQS url: set oqs.url (or RECEPTION_OQS__URL), or give --world")
        with Session(args, settings) as session:  # `reception` alone: the terminal's UI
            return COMMANDS.get(args.command or "", cmd_tui)(args, session)
    except InvalidPin as exc:  # the message never repeats what was typed
        _err(
            "reception: 暗証番号は4桁の半角数字です。試行回数は減っていません。"
            "受付は取り消しました\n"
            f"reception: {exc}; no try was spent, the reception was cancelled"
        )
        return EXIT_USAGE
    except DeclarationError as exc:
        _err(f"reception: {exc.title}:")
        for problem in exc.problems:
            _err(f"  - {problem}")
        return EXIT_USAGE
    except OqsError as exc:
        _err(f"reception: {exc.title}: {exc}")
        return EXIT_FALLBACK if exc.fallback else EXIT_ERROR
    except SlotTaken as exc:  # the persona's card cannot go into the virtual reader
        _err(f"reception: {exc.title}: {exc.staff_message}\nreception: {exc}")
        return EXIT_SLOT_TAKEN
    except WorldError as exc:  # the simulator's world (--world, --persona)
        _err(f"reception: {exc}")
        return EXIT_USAGE
    except InputError as exc:  # settings, terminal, usage, not found, cancelled
        _err(f"reception: {exc}")
        return EXIT_USAGE
    except sqlite3.Error as exc:  # the store, found damaged past its first pages
        from reception.store import store_problem

        path = args.store or (settings.store_path if settings is not None else Path("?"))
        unusable = store_problem(path, exc)
        _err(f"reception: {unusable.title}: {unusable}")
        return EXIT_ERROR
    except (NoCard, ReaderUnavailable, CardRemoved) as exc:
        # no reader, no card, pcscd not running, the card held by another connection:
        # the reader's state, as myna-reader reports it (reader/exitcodes.py)
        _err(f"reception: {exc.title}: {exc}")
        return EXIT_CARD
    except (ReceptionError, ReaderError, OSError) as exc:
        _err(f"reception: {getattr(exc, 'title', type(exc).__name__)}: {exc}")
        return EXIT_ERROR
    except KeyboardInterrupt:
        _err("reception: interrupted")
        return 130
