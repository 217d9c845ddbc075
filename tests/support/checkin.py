"""Shared test helpers (tests/support): imported by test modules, never the other way."""

from __future__ import annotations

from typing import Any

from mock_oqs.world import World
from reader.virtual.card import VirtualCard
from reader.virtual.profile import load_profile
from reader.virtual.world import WorldFiles
from reception.checkin import ExpectedCard, Terminal


def terminal_of(world: World) -> Terminal:
    return Terminal.load(world.terminal_cert, world.terminal_key, world.face_certificate)


def card_of(world: World, persona: str) -> VirtualCard:
    return VirtualCard(load_profile(world.directory / world.persona(persona)["card"]))


def pin_of(world: World, persona: str, shown: list[int] | None = None) -> Any:
    def source(tries_left: int) -> str:
        if shown is not None:
            shown.append(tries_left)
        pin: str = world.persona(persona)["pin"]
        return pin

    return source


def expected_of(world: World, persona: str) -> ExpectedCard:
    """The persona's card as the terminal expects it (its certificate's fingerprint, from
    the world's files, as ``reception checkin --persona`` and the demo take it)."""
    return ExpectedCard(WorldFiles.open(world.directory).certificate_sha256(persona), persona)
