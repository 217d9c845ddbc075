"""The layers of design.md §1 hold (import-linter contracts in pyproject.toml): checked
here on the tree, shown to fail when a forbidden import is added, and complete."""

from __future__ import annotations

import os
import pkgutil
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import reader

ROOT = Path(__file__).resolve().parents[2]
LINT = Path(sys.executable).parent / "lint-imports"


def lint(tree: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT), "--config", str(tree / "pyproject.toml"), "--no-cache"],
        cwd=tree,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PYTHONPATH": str(tree)},
    )


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    for name in ("reader", "reception", "mock_oqs"):
        shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_the_tree_keeps_every_contract(tree: Path) -> None:
    result = lint(tree)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "5 kept, 0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "forbidden", "contract"),
    [
        ("reception/store.py", "import reader.virtual.card", "terminal (but sim, tui)"),
        ("reception/checkin.py", "import mock_oqs.rules", "terminal (but sim, tui)"),
        ("reception/tui/app.py", "import reception.sim.cards", "tui: no simulator"),
        ("reader/jpki.py", "import reader.virtual.card", "card layer:"),
        ("reader/guard.py", "import reception.store", "reader: no"),
        ("mock_oqs/rules.py", "import reception.flow", "mock_oqs: no"),
    ],
)
def test_a_forbidden_import_breaks_its_contract(
    tree: Path, module: str, forbidden: str, contract: str
) -> None:
    path = tree / module
    path.write_text(path.read_text(encoding="utf-8") + f"\n{forbidden}  # noqa\n")
    result = lint(tree)
    assert result.returncode != 0
    broken = [line for line in result.stdout.splitlines() if "BROKEN" in line]
    assert any(contract in line for line in broken), result.stdout


def test_the_card_layer_contract_names_every_module_outside_virtual() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    contracts = config["tool"]["importlinter"]["contracts"]
    card_layer = next(c for c in contracts if c["name"].startswith("card layer"))
    modules = {
        f"reader.{m.name}" for m in pkgutil.iter_modules(reader.__path__) if m.name != "virtual"
    } - {"reader.__main__"}
    assert modules == set(card_layer["source_modules"])


def test_the_terminal_against_a_real_reader_loads_nothing_of_the_simulator() -> None:
    """`reception` (the TUI against a USB reader) and its headless commands, in a fresh
    interpreter: neither the virtual card, the mock service nor reception.sim is loaded."""
    code = (
        "import sys, reception.cli, reception.tui.launch, reception.tui.app\n"
        "loaded = [m for m in sys.modules if m.startswith(('reader.virtual', 'mock_oqs',"
        " 'reception.sim'))]\n"
        "print(loaded)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    ).stdout
    assert out.strip() == "[]"


def test_no_test_module_imports_another() -> None:
    """Shared helpers live in tests/support; a test module never imports a test module."""
    offenders = []
    for path in (ROOT / "tests").rglob("test_*.py"):
        for line in path.read_text(encoding="utf-8").splitlines():
            stripped = line.strip()
            if stripped.startswith(("from tests.", "import tests.")) and ".support" not in stripped:
                offenders.append(f"{path.relative_to(ROOT)}: {stripped}")
    assert offenders == []


def test_the_cli_transport_choices_are_the_settings_kinds() -> None:
    """reception.cli lists them without importing the settings machinery (start-up time)."""
    from reception.cli import TRANSPORTS
    from reception.settings import TransportKind

    assert tuple(k.value for k in TransportKind) == TRANSPORTS


def test_help_starts_without_the_heavy_layers() -> None:
    """`reception --help` imports no HTTP client, card stack, PDF, store or settings."""
    code = (
        "import sys, contextlib, io\n"
        "from reception.cli import main\n"
        "with contextlib.suppress(SystemExit), contextlib.redirect_stdout(io.StringIO()):\n"
        "    main(['--help'])\n"
        "heavy = ('httpx', 'smartcard', 'fpdf', 'pydantic_settings', 'reception.store',"
        " 'reception.checkin', 'textual')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy or m in heavy))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]", out
