"""The terminal's own errors: one titled base class. Every error carries a short
``title`` that a screen can show as is (Japanese, for staff) and a message with the
detail; ``exit_code`` is what the ``reception`` command exits with."""

from __future__ import annotations


class ReceptionError(Exception):
    title = "受付端末のエラー"
    exit_code = 1


class InputError(ReceptionError):
    """Bad input or configuration that the user can correct (exit 2)."""

    title = "入力または設定の誤り"
    exit_code = 2


class NotFound(InputError):
    """No such reception, declaration or persona."""

    title = "見つかりません"
