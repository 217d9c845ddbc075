"""``reception room``: a training room in the browser (issue 26)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, Protocol

from reader.argtypes import whole_number
from reception.room.layout import MAX_DESKS, default_folder, is_loopback

ROOM_EPILOG = """\
Trainees open http://HOST:PORT/ in a browser (no installation) and get a desk of their own;
the trainer opens http://HOST:PORT/trainer. Ctrl+C or SIGTERM closes the room and every
process it started; the desks' runs stay in the room's folder and resume next time.
"""


class AddCommand(Protocol):
    def __call__(self, name: str, **kwargs: Any) -> argparse.ArgumentParser: ...


def add_commands(add: AddCommand) -> None:
    r = add(
        "room",
        help="a training room in the browser: a desk per trainee, the trainer's page",
        description="Serve the 研修 terminal to browsers: one desk (its own terminal, "
        "store, clinic code and folder) per trainee, one mock service, the trainer's page.",
        epilog=ROOM_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    r.add_argument(
        "--desks",
        type=whole_number(1, MAX_DESKS, "desks"),
        default=10,
        metavar="N",
        help=f"how many desks (1–{MAX_DESKS}; default 10; desks made earlier are kept)",
    )
    r.add_argument(
        "--host",
        default="127.0.0.1",
        help="the address to serve on (default 127.0.0.1: this machine only; 0.0.0.0: the "
        "classroom's network, protected by a room code and a trainer password)",
    )
    r.add_argument(
        "--port",
        type=whole_number(1, 65535, "port"),  # not 0: trainees are given the URL printed
        default=8000,
        help="the port (default 8000)",
    )
    r.add_argument(
        "--scenario",
        metavar="SET",
        help="start this scenario (a built-in set's id or a scenario file) at once; "
        "default: the one the room played last, or none until the trainer starts one",
    )
    r.add_argument(
        "--folder", type=Path, metavar="DIR", help="the room's folder (default: DATA_DIR/room)"
    )


def cmd_room(args: argparse.Namespace, session: Any) -> int:
    from reception.room.run import run_room

    folder = args.folder or default_folder(session.settings.data_dir)
    if not is_loopback(args.host):
        sys.stderr.write(
            f"reception room: 注意: {args.host} で公開します — 同じネットワークの誰でも接続を"
            "試みられます。研修室コードと講師用パスワードで守ります（教室のLANだけで使って"
            "ください）\n"
            f"reception room: warning: serving on {args.host}: anyone on this network can "
            "reach it; desks need the room code, the trainer's page its password\n"
        )
    return run_room(
        folder,
        session.settings,
        desks=args.desks,
        host=args.host,
        port=args.port,
        scenario=args.scenario,
    )
