"""The staff console's modal screens, one module each."""

from reception.tui.screens.confirm import LadderConfirmScreen
from reception.tui.screens.declaration import DeclarationScreen
from reception.tui.screens.number import NumberQueryScreen
from reception.tui.screens.visual import VisualCheckScreen

__all__ = ["DeclarationScreen", "LadderConfirmScreen", "NumberQueryScreen", "VisualCheckScreen"]
