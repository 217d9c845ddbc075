"""design.md §6.3 and §6.7: every flow runs with DEBUG logging and an APDU trace; then
the logs, the traces, the store and the 申立書 PDFs are searched for the PINs and the
synthetic 個人番号 used. Zero hits."""

from __future__ import annotations

import asyncio
import logging
import re
from pathlib import Path

import pytest
from pypdf import PdfReader

from mock_oqs.world import World, seed_world
from reader.transport import TracingTransport
from reader.virtual.card import VirtualCard
from reader.virtual.loopback import LoopbackTransport
from reader.virtual.profile import load_profile, save_profile
from reception.checkin import CheckinOutcome, CheckinRequest, PinSource, check_in
from reception.declaration import SelfDeclaration
from reception.flow import ConsentsGiven, Method
from reception.pdf import render_declaration
from reception.redaction import RedactionFilter
from reception.store import Store
from tests.support.checkin import terminal_of
from tests.support.forms import valid
from tests.support.oqs import in_process
from tests.support.stack import WORLD_TODAY

# PINs that look like no year, month-day or time, so that a hit is a leak
PINS = ["5738", "6492", "8317", "9461", "7853", "6924", "8746", "9583", "7395", "5879"]


@pytest.fixture(scope="module")
def secret_world(tmp_path_factory: pytest.TempPathFactory) -> World:
    world = seed_world(tmp_path_factory.mktemp("secrets") / "w", seed=17, today=WORLD_TODAY)
    for i, entry in enumerate(world.index["personas"]):
        if entry["pin"]:
            path = world.directory / entry["card"]
            profile = load_profile(path)
            assert profile.auth_pin.pin is not None
            profile.auth_pin.pin = PINS[i % len(PINS)]
            save_profile(profile, path)
            entry["pin"] = PINS[i % len(PINS)]
    return world


def typed(pin: str) -> PinSource:
    def source(_tries_left: int) -> str:
        return pin

    return source


def leaks(text: str, secret: str) -> bool:
    plain = re.search(rf"(?<![0-9A-Za-z]){secret}(?![0-9A-Za-z])", text)
    return bool(plain) or secret.encode().hex().upper() in text.upper()


def test_no_pin_and_no_number_anywhere(secret_world: World, tmp_path: Path) -> None:
    world = secret_world
    log_file = tmp_path / "debug.log"
    handler = logging.FileHandler(log_file, encoding="utf-8")
    handler.addFilter(RedactionFilter())
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    trace_file = tmp_path / "trace.txt"
    store = Store(tmp_path / "reception.sqlite")
    numbers = []
    try:
        with open(trace_file, "w", encoding="utf-8") as trace:
            for entry in world.index["personas"]:
                card = VirtualCard(load_profile(world.directory / entry["card"]))
                numbers.append(card.profile.my_number)
                attempts: list[tuple[str, str | None]] = [
                    (m, entry["pin"]) for m in entry["expect"]["methods"]
                ]
                if entry["pin"] and "pin" in entry["expect"]["methods"]:
                    attempts.insert(0, ("pin", "0000"))  # a wrong attempt first
                for method, pin in attempts:
                    transport = TracingTransport(LoopbackTransport(card), trace)
                    request = CheckinRequest(
                        Method(method),
                        pin_source=typed(pin or ""),
                        consents=ConsentsGiven(True, True, True, True),
                        seed=5,
                    )

                    async def go(
                        t: TracingTransport = transport, r: CheckinRequest = request
                    ) -> CheckinOutcome:
                        async with in_process(world) as client:
                            return await check_in(t, client, store, terminal_of(world), r)

                    outcome = asyncio.run(go())
                    logging.getLogger("test").debug("outcome %s", outcome)
        for i, name in enumerate(["unknown", "current"]):
            extra = (
                {}
                if name == "unknown"
                else {"insurer_number": "01130012", "symbol": "1", "number": "2"}
            )
            declaration = SelfDeclaration.parse(valid(**extra))
            did = store.add_declaration(declaration)
            render_declaration(declaration, tmp_path / f"d{i}.pdf", reception_id=did)
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
        handler.close()
        store.close()

    artifacts: dict[str, str] = {
        "log": log_file.read_text(encoding="utf-8"),
        "trace": trace_file.read_text(encoding="utf-8"),
    }
    for path in tmp_path.glob("reception.sqlite*"):
        artifacts[path.name] = path.read_bytes().decode("utf-8", "replace")
    for pdf in tmp_path.glob("*.pdf"):
        text = "".join(page.extract_text() or "" for page in PdfReader(pdf).pages)
        artifacts[pdf.name] = text + pdf.read_bytes().decode("latin-1")
    assert "VERIFY" in artifacts["trace"] or "0020" in artifacts["trace"]  # the trace is real
    assert len(artifacts["log"]) > 1000  # and so is the log
    used_pins = {e["pin"] for e in world.index["personas"] if e["pin"]}
    for name, text in artifacts.items():
        for pin in used_pins:
            assert not leaks(text, pin), f"PIN found in {name}"
        for number in numbers:
            assert number not in text and number.encode().hex().upper() not in text.upper(), (
                f"個人番号 found in {name}"
            )


def test_the_filter_redacts_registered_secrets_and_twelve_digits() -> None:
    from reception.redaction import MASK, redact, secret

    with secret("5738"):
        assert redact("pin 5738 and 15738 and 123456789012") == (f"pin {MASK} and 15738 and {MASK}")
    assert redact("pin 5738") == "pin 5738"  # only while in use
