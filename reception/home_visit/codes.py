"""The app's activation codes: issued on the 資格確認端末, entered once in the app.

The ministry's Q&A (京都医報 2025-03-01号) says the マイナ資格確認アプリ works only on the
mobile device of a given institution, after an アクティベーションコード is issued on the
資格確認端末; a clinic's notes (familymed.tsumugifc.com, 2024-11) show it entered once, at the
app's first registration. How long a code stays valid is not public: ours is single use
and lapses after ``ttl`` (default :data:`DEFAULT_TTL`; at most :data:`MAX_TTL`) — our choice.

The store keeps a code's SHA-256 only (a code is a secret until used), when it was issued
and lapses, and — once used — the device it activated and when. An activated device may
read cards from then on without a code. Every issue and activation is in the audit trail.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import re
import secrets
import sqlite3

from reader.clock import now_jst
from reception.errors import InputError
from reception.store import Store

ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud, typed on a phone
GROUPS, GROUP = 3, 4
DEFAULT_TTL = dt.timedelta(minutes=60)
MAX_TTL = dt.timedelta(days=7)
DEVICE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,31}")


class ActivationRefused(InputError):
    title = "アクティベーションできません"


@dataclasses.dataclass(frozen=True)
class IssuedCode:
    code: str  # shown once, on the terminal: XXXX-XXXX-XXXX
    issued_at: dt.datetime
    expires_at: dt.datetime


@dataclasses.dataclass(frozen=True)
class Activation:
    device: str
    activated_at: dt.datetime


def format_code(raw: str) -> str:
    return "-".join(raw[i : i + GROUP] for i in range(0, len(raw), GROUP))


def normalized(code: str) -> str:
    """The code as typed (any case, hyphens or spaces between groups), checked: 12 of the
    code's letters and digits — else ActivationRefused, naming what is wrong."""
    raw = re.sub(r"[\s-]", "", code).upper()
    wrong = sorted({c for c in raw if c not in ALPHABET})
    if len(raw) != GROUPS * GROUP or wrong:
        why = f"使えない文字 {''.join(wrong)!r}" if wrong else f"{len(raw)}文字"
        raise ActivationRefused(
            f"アクティベーションコードの形式が違います（{why}）: XXXX-XXXX-XXXX の英大文字と"
            "数字12文字です（0・O・1・I は使いません）"
        )
    return raw


def checked_device(name: str) -> str:
    if not DEVICE.fullmatch(name):
        raise ActivationRefused(
            f"端末名 {name!r} は使えません: 英数字と _ . - の32文字まで（先頭は英数字）"
        )
    return name


def ttl_minutes(text: str) -> dt.timedelta:
    """``--ttl`` as minutes (1 … 10080)."""
    try:
        minutes = int(text)
    except ValueError:
        raise ActivationRefused(f"--ttl は分の整数です（{text!r}）") from None
    ttl = dt.timedelta(minutes=minutes)
    if not dt.timedelta(minutes=1) <= ttl <= MAX_TTL:
        raise ActivationRefused(f"--ttl は1分から{int(MAX_TTL.total_seconds()) // 60}分までです")
    return ttl


def _sha(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def _conn(store: Store) -> sqlite3.Connection:
    # the store's connection of this thread; the table is made by the store's layout 3
    return store._conn()


def issue(
    store: Store,
    *,
    ttl: dt.timedelta = DEFAULT_TTL,
    actor: str = "staff",
    now: dt.datetime | None = None,
) -> IssuedCode:
    """A new code, valid for ``ttl`` from ``now``; only its hash is kept."""
    if not dt.timedelta(0) < ttl <= MAX_TTL:
        raise ActivationRefused(f"有効時間は {MAX_TTL} までです")
    at = now or now_jst()
    raw = "".join(secrets.choice(ALPHABET) for _ in range(GROUPS * GROUP))
    until = at + ttl
    conn = _conn(store)
    conn.execute(
        "INSERT INTO app_activations (code_sha256, issued_at, expires_at, issued_by) "
        "VALUES (?, ?, ?, ?)",
        (_sha(raw), at.isoformat(), until.isoformat(), actor),
    )
    store.audit(actor, "app-code-issued", f"マイナ資格確認アプリのコード（{until:%H:%M}まで有効）")
    return IssuedCode(format_code(raw), at, until)


def activate(
    store: Store, code: str, device: str, *, actor: str = "staff", now: dt.datetime | None = None
) -> Activation:
    """Use ``code`` to activate ``device``: once, before it lapses. A code of the wrong
    form, one never issued here, one used, or one lapsed is refused, saying which."""
    raw, name = normalized(code), checked_device(device)
    at = now or now_jst()
    conn = _conn(store)
    conn.execute("BEGIN IMMEDIATE")
    try:
        row = conn.execute(
            "SELECT expires_at, device, used_at FROM app_activations WHERE code_sha256 = ?",
            (_sha(raw),),
        ).fetchone()
        refused = _refusal(row, at)
        if refused is None:
            conn.execute(
                "UPDATE app_activations SET device = ?, used_at = ? WHERE code_sha256 = ?",
                (name, at.isoformat(), _sha(raw)),
            )
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    if refused is not None:
        store.audit(actor, "app-activation-refused", f"{name}: {refused}")
        raise ActivationRefused(refused)
    store.audit(actor, "app-activated", f"マイナ資格確認アプリ {name} を有効化")
    return Activation(name, at)


def _refusal(row: sqlite3.Row | None, at: dt.datetime) -> str | None:
    if row is None:
        return (
            "このアクティベーションコードは発行されていません（この資格確認端末のものか、"
            "打ち間違いがないか確かめてください）"
        )
    if row["used_at"] is not None:
        used = dt.datetime.fromisoformat(row["used_at"])
        return (
            f"このアクティベーションコードは使用済みです（{used:%Y-%m-%d %H:%M} に端末 "
            f"{row['device']} で使用）: 資格確認端末で新しいコードを発行してください"
        )
    expires = dt.datetime.fromisoformat(row["expires_at"])
    if at >= expires:
        return (
            f"このアクティベーションコードは有効期限切れです（{expires:%Y-%m-%d %H:%M} まで）: "
            "資格確認端末で新しいコードを発行してください"
        )
    return None


def activation(store: Store, device: str) -> Activation:
    """The device's activation, or ActivationRefused: it was never activated here."""
    name = checked_device(device)
    row = (
        _conn(store)
        .execute(
            "SELECT used_at FROM app_activations WHERE device = ? ORDER BY used_at DESC LIMIT 1",
            (name,),
        )
        .fetchone()
    )
    if row is None:
        raise ActivationRefused(
            f"端末 {name} はまだ有効化されていません: 資格確認端末でアクティベーションコードを"
            "発行し（reception app-code）、アプリで入力してください（--code）"
        )
    return Activation(name, dt.datetime.fromisoformat(row["used_at"]))
