"""`mock-oqs serve --help` (a README command) describes every option (issue 22 §6: --world,
--host, --port, --workers and --log-level had no word) — and so does every other
subcommand's help."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest

from mock_oqs.cli import build_parser

MOCK_OQS = Path(sys.executable).parent / "mock-oqs"


def subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    [sub] = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(sub.choices)


def described(action: argparse.Action) -> bool:
    return bool(action.help and action.help != argparse.SUPPRESS and action.help.strip())


@pytest.mark.parametrize("command", sorted(subcommands()))
def test_every_option_has_words(command: str) -> None:
    silent = [
        action.option_strings[0] if action.option_strings else action.dest
        for action in subcommands()[command]._actions
        if not described(action)
    ]
    assert silent == [], f"mock-oqs {command}: undescribed {silent}"


def test_serve_help_shows_every_option_with_its_description() -> None:
    done = subprocess.run(
        [str(MOCK_OQS), "serve", "--help"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    shown = " ".join(done.stdout.split())
    for action in subcommands()["serve"]._actions:
        assert action.option_strings[-1] in shown
        assert action.help is not None and " ".join(action.help.split()) in shown, action.dest
