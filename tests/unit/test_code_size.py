"""The sizes issue 21 set, kept: no module over 600 lines in ``reception/`` or ``mock_oqs/``,
no function over 80 lines in ``reception/``, ``mock_oqs/`` or ``reader/``. A module or a
function that grows past them is split by role before it lands (style.md)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MODULE_LINES = 600
FUNCTION_LINES = 80


def modules(*packages: str) -> list[Path]:
    return [path for package in packages for path in sorted((ROOT / package).rglob("*.py"))]


def long_functions(path: Path, root: Path = ROOT) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return [
        f"{path.relative_to(root)}:{node.lineno} {node.name} ({lines} lines)"
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and (lines := (node.end_lineno or node.lineno) - node.lineno + 1) > FUNCTION_LINES
    ]


def long_modules(paths: list[Path], root: Path = ROOT) -> list[str]:
    return [
        f"{path.relative_to(root)} ({lines} lines)"
        for path in paths
        if (lines := len(path.read_text(encoding="utf-8").splitlines())) > MODULE_LINES
    ]


def test_no_module_over_600_lines() -> None:
    assert long_modules(modules("reception", "mock_oqs")) == []


def test_no_function_over_80_lines() -> None:
    found = [f for path in modules("reception", "mock_oqs", "reader") for f in long_functions(path)]
    assert found == []


def test_the_checks_see_what_they_look_for(tmp_path: Path) -> None:
    big = tmp_path / "big.py"
    body = "\n".join(f"    x{i} = {i}" for i in range(FUNCTION_LINES))
    big.write_text(f"def grown() -> None:\n{body}\n" + "\n" * MODULE_LINES, encoding="utf-8")
    small = tmp_path / "small.py"
    small.write_text("def fine() -> None:\n    pass\n", encoding="utf-8")
    assert long_functions(big, tmp_path) == [f"big.py:1 grown ({FUNCTION_LINES + 1} lines)"]
    lines = FUNCTION_LINES + 1 + MODULE_LINES
    assert long_modules([big, small], tmp_path) == [f"big.py ({lines} lines)"]
    assert long_functions(small, tmp_path) == []
