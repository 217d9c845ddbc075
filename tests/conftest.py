"""Shared fixtures: seeded test cards, the honeypot invariant, pcscd + vpcd."""

from __future__ import annotations

import datetime as dt
import logging
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from mock_oqs.world import World, seed_world
from reader.jpki import ExtendedLengthMemory, JpkiClient
from reader.transport import CardChannel
from reader.virtual import card as card_module
from reader.virtual.card import Honeypot, VirtualCard
from reader.virtual.keys import MockJpkiCa, SeededStream
from reader.virtual.loopback import LoopbackTransport
from reader.virtual.profile import CardProfile, Variant, new_profile
from tests.support.processes import kill_all, mentioning, still_running
from tests.support.stack import (
    TEST_PIN,
    WORLD_TODAY,
    pcscd_available,
)

# --- one pcscd for the machine ---------------------------------------------------------


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups off the items
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run on several workers (scripts/test: pytest-xdist ``--dist loadgroup``), the tests
    that use the machine's pcscd — and vpcd's two slots, which every test serving a card
    must own — go to one worker, one after the other; the rest spread over the others."""
    for item in items:
        if item.get_closest_marker("pcscd") or "pcscd" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.xdist_group("pcscd"))


# --- nothing outlives the suite ------------------------------------------------------


@pytest.fixture(scope="session", autouse=True)
def nothing_outlives_the_suite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Every program a test starts for its files — a service for a world, a card, a link —
    names a path in the session's temporary directory: none may still run at the end. (A
    run once left `mock-oqs serve --world …/link0/w` running for half an hour.)"""
    yield
    found = mentioning(f"{tmp_path_factory.getbasetemp()}/")
    left = still_running(found)
    kill_all(found)
    assert not left, f"still running after the tests: {left}"


# --- logging as it was -----------------------------------------------------------------


@pytest.fixture(autouse=True)
def root_logging_as_it_was() -> Iterator[None]:
    """A test that runs `reception`'s main() in process gets its log handler on the root
    logger, writing to that test's captured stderr: it is removed afterwards. Left there,
    every later warning (thousands of honeypot warnings in test_guard's property test)
    failed to write to the closed stream and printed a traceback — ten times slower, and
    past hypothesis's deadline on a busy machine."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in root.handlers[:]:
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)


# --- the honeypot invariant (design.md §6.2) ---------------------------------------


@pytest.fixture(autouse=True)
def honeypot_stays_empty(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every virtual card made during any test: zero number accesses at the end.

    Tests that poke the honeypot on purpose (to prove it records) mark theirs
    ``deliberate``.
    """
    made: list[Honeypot] = []
    original = card_module.Honeypot.__init__

    def tracking_init(self: Honeypot, *args: object, **kwargs: object) -> None:
        original(self, *args, **kwargs)  # type: ignore[arg-type]
        made.append(self)

    monkeypatch.setattr(card_module.Honeypot, "__init__", tracking_init)
    yield
    for pot in made:
        if not pot.deliberate:
            assert pot.empty, f"the honeypot recorded number-bearing accesses: {pot.accesses}"


# --- cards ------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def test_ca() -> MockJpkiCa:
    return MockJpkiCa.generate(SeededStream(1, "test-ca"))


_PROFILE_CACHE: dict[tuple[Variant, int], CardProfile] = {}


@pytest.fixture
def make_profile(test_ca: MockJpkiCa) -> Callable[..., CardProfile]:
    """A fresh copy of a seeded card profile (keys are generated once per session)."""

    def make(
        variant: Variant = Variant.PHYSICAL,
        *,
        seed: int = 100,
        tries_left: int = 3,
        extended_length: bool = True,
    ) -> CardProfile:
        key = (variant, seed)
        if key not in _PROFILE_CACHE:
            profile, _ = new_profile(
                variant=variant,
                pin=TEST_PIN if variant.has_reader_pin else None,
                seed=seed,
                ca=test_ca,
                birth_date=dt.date(1980, 6, 15),
                issued=dt.date(2025, 4, 1),
            )
            _PROFILE_CACHE[key] = profile
        profile = _PROFILE_CACHE[key].model_copy(deep=True)
        if variant.has_reader_pin:
            profile.auth_pin.tries_left = tries_left
        profile.extended_length = extended_length
        return profile

    return make


@pytest.fixture
def physical_profile(make_profile: Callable[..., CardProfile]) -> CardProfile:
    return make_profile()


@pytest.fixture
def card(physical_profile: CardProfile) -> VirtualCard:
    return VirtualCard(physical_profile)


@pytest.fixture
def loopback(card: VirtualCard) -> LoopbackTransport:
    return LoopbackTransport(card)


@pytest.fixture
def client(loopback: LoopbackTransport) -> JpkiClient:
    return JpkiClient(CardChannel(loopback), memory=ExtendedLengthMemory())


# --- a seeded world -------------------------------------------------------------------


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    """One seeded world for the session (its registry is only read by the tests)."""
    return seed_world(tmp_path_factory.mktemp("world") / "w", seed=11, today=WORLD_TODAY)


@pytest.fixture
def own_world(world: World, tmp_path: Path) -> World:
    """A private copy of the session's world, for a test that changes the registry (a
    保険証利用登録 at the reader) or the service's state."""
    copy = tmp_path / "own-world"
    shutil.copytree(
        world.directory,
        copy,
        ignore=shutil.ignore_patterns("service-state.sqlite*", "mock-oqs.log", "clinic"),
    )
    return World.load(copy)


# --- pcscd + vsmartcard-vpcd ---------------------------------------------------------


@pytest.fixture(scope="session")
def pcscd() -> None:
    problem = pcscd_available()
    if problem is None:
        return
    if os.environ.get("MYNA_REQUIRE_PCSCD") == "1":
        pytest.fail(f"the PC/SC stack is required here but unavailable: {problem}")
    pytest.skip(problem)
