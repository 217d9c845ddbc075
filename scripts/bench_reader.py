"""Benchmark of a full PIN authentication: select, token label, certificate, VERIFY, sign.

Over the in-process loopback transport and over pyscard → pcscd → vsmartcard-vpcd →
`vcard serve` (a separate process, slot 1), in short and extended read modes, and
with a card that refuses extended APDUs (automatic fall-back, remembered per reader).
Prints APDUs, bytes moved and the median time per authentication, and what pcscd + vpcd
add per APDU (the two paths measured in this one run) against the bare stack's floor
documented in card.md §9 (target: at most twice it). Measuring the floor in the same run
with a trivial card served the same way is still to come (issue 13).

Run: scripts/bench-reader [--rounds N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from reader.jpki import ExtendedLengthMemory, JpkiClient, ReadMode
from reader.pin import Pin
from reader.transport import CardChannel, Transport
from reader.virtual.card import VirtualCard
from reader.virtual.loopback import LoopbackTransport
from reader.virtual.profile import CardProfile, new_profile, save_profile
from reader.virtual.vpcd import card_in_slot, vpcd_reader

PIN = "2580"
SLOT = 1  # "Virtual PCD 00 01": a running demo keeps slot 0
FLOOR_US = 120.0  # pcscd + vpcd per APDU with TCP_NODELAY + TCP_QUICKACK (card.md §9)


@dataclass
class Figures:
    label: str
    apdus_first: int
    apdus: int
    bytes_moved: int
    median_ms: float
    p90_ms: float


def run(
    label: str, transport: Transport, mode: ReadMode, rounds: int, memory: ExtendedLengthMemory
) -> Figures:
    times: list[float] = []
    counts: list[int] = []
    moved = 0
    for _ in range(rounds):
        channel = CardChannel(transport)
        client = JpkiClient(channel, read_mode=mode, memory=memory)
        start = time.perf_counter()
        client.authenticate(Pin(PIN), b"benchmark challenge")
        times.append((time.perf_counter() - start) * 1000)
        counts.append(channel.stats.apdus)
        moved = channel.stats.bytes_moved
    times.sort()
    return Figures(
        label,
        counts[0],
        counts[-1],
        moved,
        statistics.median(times),
        times[int(len(times) * 0.9) - 1],
    )


def pcscd_runs(profile: CardProfile, rounds: int, tmp: Path) -> list[Figures]:
    from reader.pcsc import PcscTransport

    results: list[Figures] = []
    for extended_card in (True, False):
        copy = profile.model_copy(deep=True)
        copy.extended_length = extended_card
        path = tmp / f"card-{extended_card}.json"
        save_profile(copy, path)
        with card_in_slot(path, SLOT) as reader, PcscTransport(reader) as transport:
            memory = ExtendedLengthMemory()  # fresh: no knowledge of this reader
            if extended_card:
                results.append(run("pcscd  short", transport, ReadMode.SHORT, rounds, memory))
                results.append(run("pcscd  extended", transport, ReadMode.EXTENDED, rounds, memory))
            else:
                label = "pcscd  extended, card refuses (fall-back)"
                results.append(run(label, transport, ReadMode.EXTENDED, rounds, memory))
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=100, help="authentications per case")
    args = parser.parse_args()
    if args.rounds < 2:
        parser.error("--rounds must be at least 2")

    profile, _ = new_profile(pin=PIN, seed=2024)
    results: list[Figures] = []
    for mode in (ReadMode.SHORT, ReadMode.EXTENDED):
        card = VirtualCard(profile.model_copy(deep=True))
        results.append(
            run(
                f"loopback {mode.value}",
                LoopbackTransport(card),
                mode,
                args.rounds,
                ExtendedLengthMemory(),
            )
        )
    with tempfile.TemporaryDirectory() as tmp:
        try:
            from reader.pcsc import list_readers

            have_pcscd = any(r.name == vpcd_reader(SLOT) for r in list_readers())
        except Exception as exc:
            print(f"pcscd path unavailable: {exc}")
            have_pcscd = False
        if have_pcscd:
            results += pcscd_runs(profile, args.rounds, Path(tmp))

    print(f"full PIN authentication, {args.rounds} rounds each (median / p90 per authentication)")
    print(f"{'path':44} {'APDUs':>9} {'bytes':>7} {'median ms':>10} {'p90 ms':>8}")
    for f in results:
        apdus = f"{f.apdus}" if f.apdus == f.apdus_first else f"{f.apdus_first}→{f.apdus}"
        print(f"{f.label:44} {apdus:>9} {f.bytes_moved:>7} {f.median_ms:>10.2f} {f.p90_ms:>8.2f}")
    by = {f.label: f for f in results}
    for mode_name in ("short", "extended"):
        pc, lo = by.get(f"pcscd  {mode_name}"), by.get(f"loopback {mode_name}")
        if pc and lo:
            # what the transport adds per APDU, against the bare stack's floor (card.md §9):
            # a ratio of totals was the wrong yardstick — the faster the card, the worse
            per_apdu = (pc.median_ms - lo.median_ms) / pc.apdus * 1000
            print(
                f"transport cost ({mode_name}): {per_apdu:.0f} µs per APDU = "
                f"{per_apdu / FLOOR_US:.2f}x the bare stack's floor of {FLOOR_US:.0f} µs "
                f"(card.md §9; target ≤ 2x); pcscd / loopback {pc.median_ms / lo.median_ms:.1f}x"
            )
    ext = by.get("loopback extended")
    if ext:
        verdict = "ok" if ext.apdus <= 6 else "OVER TARGET"
        print(f"APDUs with extended reads: {ext.apdus} (target: at most 6) {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
