"""Benchmark of the mock service: card confirmations per second over TLS, and lookups at scale.

1. Seeds a world, starts ``mock-oqs serve --workers N`` on loopback, and runs a load
   generator (its own process) with C concurrent keep-alive TLS clients for a fixed
   duration: each confirmation asks a nonce, signs it with the persona's card key
   (what the card does, done here with the key from the profile) and posts the PIN-path
   confirmation. Then, in the same run, the rate of ``GET /health`` as the floor.
2. Times the by-number lookup in process against the bare world and against one
   with ``--extra-persons`` generated persons, and prints the ratio.

Run: scripts/bench-oqs [--seconds 10] [--clients 64] [--workers 2] [--extra-persons 1000000]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import datetime as dt
import multiprocessing
import os
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.serialization import Encoding

from mock_oqs.models import NumberConfirmationRequest
from mock_oqs.service import Clock, QualificationService
from mock_oqs.world import World, seed_world
from reader.virtual.profile import load_profile

PERSONAS = ["adult-kyokai", "family", "kokuho", "limit-u", "dialysis", "late-elderly-1wari"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def _load(
    url: str, world_dir: str, seconds: float, clients: int, health: bool
) -> dict[str, Any]:
    world = World.load(Path(world_dir))
    cards = []
    for pid in PERSONAS:
        profile = load_profile(world.directory / world.persona(pid)["card"])
        der = profile.certificate().public_bytes(Encoding.DER)
        cards.append((base64.b64encode(der).decode(), profile.private_key()))
    ctx = ssl.create_default_context(cafile=str(world.directory / "facility-ca" / "cert.pem"))
    ctx.load_cert_chain(world.directory / "terminal" / "cert.pem",
                        world.directory / "terminal" / "key.pem")  # fmt: skip
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds

    async def worker(i: int) -> None:
        nonlocal errors
        cert_b64, key = cards[i % len(cards)]
        async with httpx.AsyncClient(base_url=url, verify=ctx, timeout=10) as client:
            while time.perf_counter() < deadline:
                start = time.perf_counter()
                try:
                    if health:
                        ok = (await client.get("/health")).status_code == 200
                    else:
                        nonce = (await client.post("/v1/nonces")).json()["nonce"]
                        signature = key.sign(bytes.fromhex(nonce), padding.PKCS1v15(),
                                             hashes.SHA256())  # fmt: skip
                        response = await client.post(
                            "/v1/confirmations/card",
                            json={"certificate": cert_b64, "method": "pin", "nonce": nonce,
                                  "signature": base64.b64encode(signature).decode()},
                        )  # fmt: skip
                        ok = (
                            response.status_code == 200
                            and response.json()["MessageBody"]["QualificationValidity"] == "1"
                        )
                except (httpx.HTTPError, ValueError, KeyError):
                    ok = False
                if ok:
                    latencies.append(time.perf_counter() - start)
                else:
                    errors += 1

    began = time.perf_counter()
    await asyncio.gather(*(worker(i) for i in range(clients)))
    elapsed = time.perf_counter() - began
    latencies.sort()
    return {
        "count": len(latencies),
        "errors": errors,
        "rate": len(latencies) / elapsed,
        "p50_ms": statistics.median(latencies) * 1000 if latencies else float("nan"),
        "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000 if latencies else float("nan"),
    }


def _run_load(args: tuple[str, str, float, int, bool], queue: Any) -> None:
    queue.put(asyncio.run(_load(*args)))


def load_in_process(url: str, world: Path, seconds: float, clients: int, health: bool) -> Any:
    queue: Any = multiprocessing.Queue()
    proc = multiprocessing.Process(
        target=_run_load, args=((url, str(world), seconds, clients, health), queue)
    )
    proc.start()
    result = queue.get(timeout=seconds + 120)
    proc.join()
    return result


def lookup_time(world: World, rounds: int) -> float:
    service = QualificationService(world, clock=Clock(dt.date.fromisoformat(world.index["today"])),
                                   state_path=world.directory / "bench-state.sqlite")  # fmt: skip
    entry = world.persona("adult-kyokai")
    n = entry["numbers"]
    request = NumberConfirmationRequest(
        insurer_number=n["current_insurer_number"], symbol=n["current_symbol"],
        number=n["current_number"], branch=n["current_branch"],
        birth_date=entry["birth_date"].replace("-", ""),
    )  # fmt: skip
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        message, _ = service.confirm_number(request, "1312345678")
        times.append(time.perf_counter() - start)
        assert message["MessageBody"]["QualificationValidity"] == "1"
    return statistics.median(times) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--extra-persons", type=int, default=1_000_000)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        world = seed_world(Path(tmp) / "world", seed=7)
        port = free_port()
        url = f"https://127.0.0.1:{port}"
        mock_oqs = Path(sys.executable).parent / "mock-oqs"
        server = subprocess.Popen(
            [str(mock_oqs), "serve", "--world", str(world.directory), "--port", str(port),
             "--workers", str(args.workers), "--log-level", "warning"],
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            ctx = ssl.create_default_context(cafile=str(world.directory / "facility-ca/cert.pem"))
            for _ in range(100):
                try:
                    httpx.get(f"{url}/health", verify=ctx, timeout=1)
                    break
                except httpx.TransportError:
                    time.sleep(0.2)
            conf = load_in_process(url, world.directory, args.seconds, args.clients, False)
            floor = load_in_process(url, world.directory, args.seconds, args.clients, True)
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(30)

        print(f"mock-oqs serve --workers {args.workers}, {args.clients} clients, "
              f"{args.seconds:.0f} s each, TLS keep-alive, load generator in its own process, "
              f"{os.cpu_count()} cores shared")  # fmt: skip
        for label, r in (("card confirmations (PIN path)", conf), ("GET /health (floor)", floor)):
            print(f"{label:32} {r['rate']:8.0f}/s  p50 {r['p50_ms']:7.1f} ms  "
                  f"p99 {r['p99_ms']:7.1f} ms  errors {r['errors']}")  # fmt: skip
        print(f"confirmations / health rate: {conf['rate'] / floor['rate']:.2f}")
        print("target: >= 2000 confirmations/s, p99 < 50 ms, 0 errors")

        bare = lookup_time(world, 2000)
        big = seed_world(Path(tmp) / "big", seed=7, extra_persons=args.extra_persons)
        scaled = lookup_time(big, 2000)
        print(f"by-number lookup, median: bare world {bare:.3f} ms, with "
              f"{args.extra_persons:,} extra persons {scaled:.3f} ms, ratio {scaled / bare:.2f} "
              "(target: at most 1.5)")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
