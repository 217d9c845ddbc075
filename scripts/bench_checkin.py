"""Benchmark of a whole check-in (PIN path), machine time only.

Against ``mock-oqs serve`` over TLS (keep-alive, one client as a terminal has), with a
persona's virtual card over the in-process loopback transport and over pyscard →
pcscd → vsmartcard-vpcd → ``vcard serve`` (slot 1). For each transport, in this one run:

- the check-in: identification, tries left, nonce, PIN authentication (VERIFY + sign),
  confirmation in two steps (the card's standing, then the consents for its offer:
  reception/visit.py), the store's two transactions — check-ins per second and the median;
- its parts alone: the reader's PIN authentication (JpkiClient.authenticate) and one
  confirmation (nonce + both steps, the card's signature made outside the timing);
- the ratio of the check-in to the sum of the parts;
- inside the check-in: the card, the service (nonce + both steps: target ≤ 3 ms once
  the terminal runs, on its kept-alive connection) and the rest (flow, store);
- one request on the kept-alive connection, on a new connection resuming the TLS
  session (the terminal after an idle pause), and with a full handshake (a new client,
  as the headless CLI pays once).

Run: scripts/bench-checkin [--rounds 100]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.serialization import Encoding

from mock_oqs.world import World, seed_world
from reader.jpki import JpkiClient
from reader.pcsc import PcscTransport
from reader.pin import Pin
from reader.transport import CardChannel, Transport
from reader.virtual.card import VirtualCard
from reader.virtual.loopback import LoopbackTransport
from reader.virtual.profile import load_profile
from reader.virtual.vpcd import card_in_slot
from reception.checkin import CheckinRequest, Terminal, check_in
from reception.flow import Method, State
from reception.oqs_client import CardConfirmation, OqsClient
from reception.settings import OqsSettings
from reception.sim.world import WorldFiles, served
from reception.store import Store

PERSONA = "adult-kyokai"
SLOT = 1  # "Virtual PCD 00 01": a running demo keeps slot 0


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


async def measure(
    label: str,
    transport: Transport,
    world: World,
    settings: OqsSettings,
    rounds: int,
    tmp: Path,
) -> dict[str, float | str]:
    entry = world.persona(PERSONA)
    pin: str = entry["pin"]
    profile = load_profile(world.directory / entry["card"])
    cert_b64 = base64.b64encode(profile.certificate().public_bytes(Encoding.DER)).decode()
    key = profile.private_key()
    terminal = Terminal.load(world.terminal_cert, world.terminal_key, world.face_certificate)
    store = Store(tmp / f"{label}.sqlite")
    checkins: list[float] = []
    auths: list[float] = []
    confirms: list[float] = []
    card_parts: list[float] = []  # inside the check-in: card I/O (incl. thread hand-over)
    oqs_parts: list[float] = []  # inside the check-in: nonce + confirmation
    apdus = 0

    def pin_source(_tries: int) -> str:
        return pin

    async with OqsClient(settings) as client:
        await client.health()  # connect and handshake before timing
        for _ in range(3):  # warm-up
            await check_in(
                transport,
                client,
                store,
                terminal,
                CheckinRequest(Method.PIN, pin_source=pin_source),
            )
        # interleaved, so that the machine's ups and downs touch all three alike
        wall = 0.0
        for _ in range(rounds):
            start = time.perf_counter()
            outcome = await check_in(
                transport,
                client,
                store,
                terminal,
                CheckinRequest(Method.PIN, pin_source=pin_source),
            )
            checkins.append(time.perf_counter() - start)
            wall += checkins[-1]
            card_parts.append(outcome.timings.get("card", 0.0) / 1000)
            oqs_parts.append(outcome.timings.get("oqs", 0.0) / 1000)
            if outcome.state is not State.CONFIRMED:
                raise RuntimeError(f"check-in not confirmed: {outcome.flow.message}")
            apdus = outcome.apdus
            start = time.perf_counter()
            JpkiClient(CardChannel(transport)).authenticate(Pin(pin), b"\x00" * 16)
            auths.append(time.perf_counter() - start)
            start = time.perf_counter()
            nonce = await client.nonce()
            between = time.perf_counter()
            signature = key.sign(bytes.fromhex(nonce), padding.PKCS1v15(), hashes.SHA256())
            body = CardConfirmation(
                certificate=cert_b64,
                method="pin",
                nonce=nonce,
                signature=base64.b64encode(signature).decode(),
            )
            resumed = time.perf_counter()
            # as the check-in does: the card's standing, then the consents for its offer
            standing = await client.check_card(body)
            if standing.consent_offer is None:
                raise RuntimeError("confirmation alone: the card cannot be confirmed")
            result = await client.give_consents(standing.consent_offer, {"limit": True}, None)
            confirms.append(time.perf_counter() - start - (resumed - between))
            if not result.confirmed:
                raise RuntimeError("confirmation alone failed")
    parts = median_ms(auths) + median_ms(confirms)
    return {
        "label": label,
        "rate": rounds / wall,  # check-ins per second of check-in time
        "checkin_ms": median_ms(checkins),
        "apdus": apdus,
        "auth_ms": median_ms(auths),
        "confirm_ms": median_ms(confirms),
        "sum_ms": parts,
        "ratio": median_ms(checkins) / parts,
        "in_card_ms": median_ms(card_parts),
        "in_oqs_ms": median_ms(oqs_parts),
    }


async def reconnects(settings: OqsSettings, rounds: int) -> tuple[float, float, float]:
    """Median of one request (GET /health) on the kept-alive connection, on a new connection that
    resumes the TLS session (the terminal after an idle pause), and on a new connection
    with a full handshake (a new client: what the headless CLI pays once)."""
    kept: list[float] = []
    resumed: list[float] = []
    full: list[float] = []
    cold = settings.model_copy(update={"keepalive": 0})
    async with OqsClient(settings) as warm, OqsClient(cold) as client:
        await warm.health()
        await client.health()  # the first, full handshake
        assert client.tls is not None
        for _ in range(rounds):
            for samples, who, forget in (
                (kept, warm, False),
                (resumed, client, False),
                (full, client, True),
            ):
                if forget:
                    client.tls.sessions.clear()
                start = time.perf_counter()
                if not await who.health():  # (a nonce each would hit the facility's cap)
                    raise RuntimeError("the service did not answer")
                samples.append(time.perf_counter() - start)
        if client.tls.resumed < rounds:
            sys.stderr.write(f"only {client.tls.resumed} of {rounds} connections resumed\n")
    return median_ms(kept), median_ms(resumed), median_ms(full)


@contextmanager
def pcscd_card(world: World) -> Iterator[Transport]:
    card = world.directory / world.persona(PERSONA)["card"]
    with card_in_slot(card, SLOT) as reader, PcscTransport(reader) as transport:
        yield transport


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=100)
    args = parser.parse_args()
    rows: list[dict[str, float | str]] = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        world = seed_world(tmp / "world", seed=7)
        files = WorldFiles.open(world.directory)
        with served(files) as url:
            settings = files.oqs_settings(OqsSettings(), url)
            card = load_profile(world.directory / world.persona(PERSONA)["card"])
            loopback = LoopbackTransport(VirtualCard(card))
            rows.append(
                asyncio.run(measure("loopback", loopback, world, settings, args.rounds, tmp))
            )
            kept_ms, resumed_ms, full_ms = asyncio.run(reconnects(settings, args.rounds))
            try:
                with pcscd_card(world) as transport:
                    rows.append(
                        asyncio.run(
                            measure("pcscd+vpcd", transport, world, settings, args.rounds, tmp)
                        )
                    )
            except Exception as exc:  # report and go on: pcscd may be absent
                sys.stderr.write(f"pcscd run skipped: {exc}\n")
    sys.stdout.write(
        f"check-in (PIN path), {args.rounds} rounds per transport, mock-oqs serve "
        "over TLS on loopback, machine time only\n"
    )
    for r in rows:
        sys.stdout.write(
            f"{r['label']:11} {r['rate']:6.1f} check-ins/s  median {r['checkin_ms']:6.2f} ms "
            f"({r['apdus']} APDUs)  parts: reader auth {r['auth_ms']:5.2f} ms + confirmation "
            f"{r['confirm_ms']:5.2f} ms = {r['sum_ms']:6.2f} ms  ratio {r['ratio']:.2f}\n"
        )
    for r in rows:
        sys.stdout.write(
            f"{r['label']:11} inside the check-in: card {r['in_card_ms']:5.2f} ms, "
            f"service {r['in_oqs_ms']:5.2f} ms, the rest (flow, store) "
            f"{float(r['checkin_ms']) - float(r['in_card_ms']) - float(r['in_oqs_ms']):5.2f} ms\n"
        )
    sys.stdout.write(
        f"one request (GET /health): kept-alive connection {kept_ms:5.2f} ms, new connection "
        f"resuming the TLS session {resumed_ms:5.2f} ms, with a full handshake "
        f"{full_ms:5.2f} ms\n"
    )
    sys.stdout.write("target: the service inside a check-in at most 3 ms (kept-alive connection)\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
