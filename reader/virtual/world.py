"""A seeded world's files, as every side reads them: the index (``world.json``: each
persona with its card, PIN and promised outcome), and the layout — ``terminal/`` (the
facility's terminal certificate, key and face-path certificate), ``facility-ca/``,
``cards/``, ``registry.sqlite``. Described here once: ``mock_oqs`` writes a world and
serves it, the terminal's simulator (``reception.sim``) reads it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

from reader.errors import WorldError

WORLD_FORMAT = "myna-sim/world/4"
FACE_AUTH_FILE = "face-auth.cvc"

__all__ = ["FACE_AUTH_FILE", "WORLD_FORMAT", "WorldError", "WorldFiles"]


@dataclass(frozen=True)
class WorldFiles:
    directory: Path
    index: dict[str, Any]

    @classmethod
    def open(cls, directory: Path) -> Self:
        """The world in ``directory``, or :class:`WorldError` saying what is wrong."""
        path = directory / "world.json"
        try:
            index = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise WorldError(
                f"{directory} is not a world (no world.json); make one with "
                "'mock-oqs seed --out DIR'"
            ) from None
        except (OSError, ValueError) as exc:
            raise WorldError(f"{path}: unreadable: {exc}") from None
        if not isinstance(index, dict) or not isinstance(index.get("personas"), list):
            raise WorldError(f"{path}: not a {WORLD_FORMAT} index")
        if index.get("format") != WORLD_FORMAT:
            raise WorldError(
                f"{directory} was made by another version ({index.get('format')}, this one "
                f"reads {WORLD_FORMAT}); seed a new world with 'mock-oqs seed --out DIR'"
            )
        return cls(directory, index)

    def persona(self, persona_id: str) -> dict[str, Any]:
        for entry in self.index["personas"]:
            if entry.get("id") == persona_id:
                return dict(entry)
        known = ", ".join(
            [str(e.get("id")) for e in self.index["personas"]]
            + [str(e.get("id")) for e in self.index.get("other_cards") or []]
        )
        raise WorldError(f"no persona {persona_id!r} in {self.directory} (known: {known})")

    def card(self, persona_id: str) -> Path:
        """The persona's virtual card profile (or an other card's file, :meth:`other_card`)."""
        other = self.other_card(persona_id)
        if other is not None:
            return self.directory / str(other["card"])
        return self.directory / str(self.persona(persona_id)["card"])

    def other_card(self, card_id: str) -> dict[str, Any] | None:
        """A card of the world that is not a My Number card (``other_cards`` of world.json:
        a transit card, a credit card, a 住基カード — reader/virtual/other_cards.py), with
        the numbered screen it promises; None when ``card_id`` is none of them."""
        for entry in self.index.get("other_cards") or []:
            if isinstance(entry, dict) and entry.get("id") == card_id:
                return dict(entry)
        return None

    def certificate_sha256(self, persona_id: str) -> str:
        """The SHA-256 fingerprint (upper-case hex) of the persona's user-authentication
        certificate, from its card profile: what the terminal expects to read from the
        card in the reader when it is told this persona's card is there."""
        from cryptography.hazmat.primitives.serialization import Encoding

        from reader.virtual.profile import ProfileError, load_profile

        path = self.card(persona_id)
        try:
            der = load_profile(path).certificate().public_bytes(Encoding.DER)
        except ProfileError as exc:
            raise WorldError(f"the card of persona {persona_id!r} is unusable: {exc}") from None
        return hashlib.sha256(der).hexdigest().upper()

    @property
    def registry_path(self) -> Path:
        return self.directory / "registry.sqlite"

    @property
    def terminal_cert(self) -> Path:
        """The terminal's TLS client certificate (its subject carries the 医療機関コード)."""
        return self.directory / "terminal" / "cert.pem"

    @property
    def terminal_key(self) -> Path:
        return self.directory / "terminal" / "key.pem"

    @property
    def face_certificate(self) -> Path:
        """The terminal's card-verifiable certificate for the face path."""
        return self.directory / "terminal" / FACE_AUTH_FILE

    @property
    def facility_ca(self) -> Path:
        """The CA of the service's TLS certificate and of the terminal certificates."""
        return self.directory / "facility-ca" / "cert.pem"
