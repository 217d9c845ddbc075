"""Benchmark of the mock service: card confirmations per second over TLS, and lookups at scale.

1. Seeds a world and starts ``mock-oqs serve --workers N`` on loopback. A load generator
   (its own process, sharing the machine's cores with the server) keeps C keep-alive TLS
   connections, each presenting the terminal's client certificate, busy for a fixed
   duration:

   - **confirmations** (the target): PIN-path card confirmations with signature
     verification. Nonces are issued by the service and signed with the personas' card
     keys *before* the timed window, as the cards at many terminals would have done; the
     window measures the service verifying and answering them.
   - **full rounds**: nonce, signature and confirmation inside the window, all on this
     box — the generator's RSA signing then competes with the server for the cores.
   - ``GET /health``: the floor of the stack (TLS + HTTP + framework), with the ratio.

   The generator speaks HTTP/1.1 over asyncio streams itself: an httpx client costs more
   CPU per request than the handler it measures, and wrk cannot present a client
   certificate.
2. Calls the app directly (in process: no uvicorn, no TLS) for ``/health`` and card
   confirmations and prints their CPU per request and ratio (the floor each has without
   a server), with a confirmation's request and answer sizes.
3. Times the by-number lookup in process against the bare world and against one
   with ``--extra-persons`` generated persons, and prints the ratio.

Run: scripts/bench-oqs [--seconds 10] [--clients 64] [--workers 2] [--extra-persons 1000000]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import datetime as dt
import json
import multiprocessing
import os
import ssl
import statistics
import sys
import tempfile
import time
from collections import deque
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding

from mock_oqs.models import NumberConfirmationRequest
from mock_oqs.pki import medical_institution_code
from mock_oqs.results import to_format
from mock_oqs.service import Clock, QualificationService
from mock_oqs.world import World, seed_world
from reader.children import die_with_parent
from reader.virtual.profile import load_profile
from reception.sim.world import WorldFiles

PERSONAS = ["adult-kyokai", "family", "kokuho", "limit-u", "dialysis", "late-elderly-1wari"]
PREPARED_PER_SECOND = 4_000  # pre-signed nonces per second of the window (the pool's size)


class LeanConnection:
    """One keep-alive HTTP/1.1 connection over TLS that sends requests and reads
    ``Content-Length`` answers — all the generator needs, at little CPU per request."""

    def __init__(self, host: str, port: int, context: ssl.SSLContext) -> None:
        self.host, self.port, self.context = host, port, context
        self._streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def request(self, method: str, path: str, body: bytes = b"") -> tuple[int, bytes]:
        if self._streams is None:
            self._streams = await asyncio.open_connection(self.host, self.port, ssl=self.context)
        reader, writer = self._streams
        writer.write(
            f"{method} {path} HTTP/1.1\r\nHost: {self.host}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        head = await reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        return status, await reader.readexactly(length)

    async def close(self) -> None:
        if self._streams is not None:
            self._streams[1].close()
            self._streams = None


def client_context(world: World) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(world.facility_ca))
    ctx.load_cert_chain(world.terminal_cert, world.terminal_key)
    return ctx


def persona_cards(world: World) -> list[tuple[str, rsa.RSAPrivateKey]]:
    cards = []
    for pid in PERSONAS:
        profile = load_profile(world.directory / world.persona(pid)["card"])
        der = profile.certificate().public_bytes(Encoding.DER)
        cards.append((base64.b64encode(der).decode(), profile.private_key()))
    return cards


def sign(key: rsa.RSAPrivateKey, nonce: str) -> str:
    signature = key.sign(bytes.fromhex(nonce), padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(signature).decode()


def confirmation_body(cert_b64: str, nonce: str, signature: str) -> bytes:
    body = {"certificate": cert_b64, "method": "pin", "nonce": nonce, "signature": signature}
    return json.dumps(body).encode()


def confirmed(status: int, body: bytes) -> bool:
    if status != 200:
        return False
    try:
        return bool(json.loads(body)["MessageBody"]["QualificationValidity"] == "1")
    except (ValueError, KeyError, TypeError):
        return False


_signing_cards: list[tuple[str, rsa.RSAPrivateKey]] = []


def _load_signing_cards(world_dir: str, parent: int) -> None:
    die_with_parent(parent)  # a pool worker: it ends with the benchmark, even on kill -9
    _signing_cards.extend(persona_cards(World.load(Path(world_dir))))


def _sign_batch(batch: list[tuple[int, str]]) -> list[bytes]:
    out = []
    for i, nonce in batch:
        cert_b64, key = _signing_cards[i % len(_signing_cards)]
        out.append(confirmation_body(cert_b64, nonce, sign(key, nonce)))
    return out


async def issue_nonces(world: World, port: int, count: int, clients: int) -> list[str]:
    """``count`` nonces from the service, over ``clients`` connections."""
    ctx = client_context(world)
    nonces: list[str] = []

    async def worker(share: int) -> None:
        conn = LeanConnection("127.0.0.1", port, ctx)
        for _ in range(share):
            status, body = await conn.request("POST", "/v1/nonces")
            if status != 200:
                raise RuntimeError(f"nonce refused: {status} {body[:200]!r}")
            nonces.append(json.loads(body)["nonce"])
        await conn.close()

    shares = [count // clients + (1 if i < count % clients else 0) for i in range(clients)]
    await asyncio.gather(*(worker(n) for n in shares))
    return nonces


def prepare_confirmations(world: World, port: int, count: int, clients: int) -> list[bytes]:
    """Request bodies with fresh nonces signed by the personas' card keys (all cores)."""
    nonces = asyncio.run(issue_nonces(world, port, count, clients))
    workers = os.cpu_count() or 1
    batches = [list(enumerate(nonces))[k::workers] for k in range(workers)]
    with ProcessPoolExecutor(
        workers, initializer=_load_signing_cards, initargs=(str(world.directory), os.getpid())
    ) as pool:
        return [body for part in pool.map(_sign_batch, batches) for body in part]


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    exhausted: bool = False


async def drive(
    world_dir: str, port: int, seconds: float, clients: int, kind: str, prepared: list[bytes]
) -> dict[str, Any]:
    world = World.load(Path(world_dir))
    ctx = client_context(world)
    cards = persona_cards(world) if kind == "full" else []
    pool = deque(prepared)
    tally = Tally()

    async def one(conn: LeanConnection, i: int) -> bool:
        if kind == "health":
            status, _ = await conn.request("GET", "/health")
            return status == 200
        if kind == "confirm":
            status, body = await conn.request("POST", "/v1/confirmations/card", pool.popleft())
            return confirmed(status, body)
        status, body = await conn.request("POST", "/v1/nonces")
        nonce = json.loads(body)["nonce"]
        cert_b64, key = cards[i % len(cards)]
        payload = confirmation_body(cert_b64, nonce, sign(key, nonce))
        status, body = await conn.request("POST", "/v1/confirmations/card", payload)
        return confirmed(status, body)

    conns = [LeanConnection("127.0.0.1", port, ctx) for _ in range(clients)]
    await asyncio.gather(*(c.request("GET", "/health") for c in conns))  # handshakes first
    deadline = time.perf_counter() + seconds

    async def worker(i: int) -> None:
        conn = conns[i]
        while time.perf_counter() < deadline:
            if kind == "confirm" and not pool:
                tally.exhausted = True
                return
            start = time.perf_counter()
            try:
                ok = await one(conn, i)
            except (OSError, asyncio.IncompleteReadError, ValueError, KeyError):
                ok = False
                await conn.close()
            if ok:
                tally.latencies.append(time.perf_counter() - start)
            else:
                tally.errors += 1

    began = time.perf_counter()
    await asyncio.gather(*(worker(i) for i in range(clients)))
    elapsed = time.perf_counter() - began
    for conn in conns:
        await conn.close()
    lat = sorted(tally.latencies)
    return {
        "count": len(lat),
        "errors": tally.errors,
        "seconds": elapsed,
        "exhausted": tally.exhausted,
        "rate": len(lat) / elapsed,
        "p50_ms": statistics.median(lat) * 1000 if lat else float("nan"),
        "p99_ms": lat[max(0, int(len(lat) * 0.99) - 1)] * 1000 if lat else float("nan"),
    }


def _run_drive(args: tuple[Any, ...], queue: Any, parent: int) -> None:
    die_with_parent(parent)  # it ends with the benchmark, even on kill -9
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    queue.put(asyncio.run(drive(*args)))


def measure(
    world: Path,
    port: int,
    seconds: float,
    clients: int,
    kind: str,
    prepared: list[bytes] | None = None,
) -> Any:
    """One timed window in a forked generator process (the prepared bodies travel by fork)."""
    ctx = multiprocessing.get_context("fork")
    queue: Any = ctx.Queue()
    drive_args = (str(world), port, seconds, clients, kind, prepared or [])
    proc = ctx.Process(target=_run_drive, args=(drive_args, queue, os.getpid()))
    pids = service_pids(world)
    proc.start()
    cpu = cpu_seconds(pids)
    result = queue.get(timeout=seconds + 300)
    result["cpu_us"] = (cpu_seconds(pids) - cpu) / max(1, result["count"]) * 1e6
    proc.join()
    return result


def service_pids(world_dir: Path) -> list[int]:
    """``mock-oqs serve`` of this world and its worker processes (Linux /proc)."""
    needle = str(world_dir).encode()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"serve" in cmdline and needle in cmdline:
            pids = [int(proc.name)]
            for task in (proc / "task").iterdir():
                pids += [int(c) for c in (task / "children").read_text().split()]
            return pids
    return []


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time the processes have used so far."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks


async def _asgi(app: Any, pem: str, method: str, path: str, body: bytes = b"") -> bytes:
    """One request to the app called directly (no server, no TLS); the answer's body."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "https",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"bench"), (b"content-length", str(len(body)).encode())],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 2),
        "extensions": {"tls": {"client_cert_chain": [pem]}},
    }
    messages = [{"type": "http.request", "body": body, "more_body": False}]
    answer = []

    async def receive() -> dict[str, Any]:
        return messages.pop() if messages else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body":
            answer.append(message.get("body", b""))

    await app(scope, receive, send)
    return b"".join(answer)


def in_process(world: World, rounds: int) -> dict[str, float]:
    """CPU per request of ``/health`` and of a card confirmation with the app called
    directly (no uvicorn, no TLS): the floor each kind has without a server; and the sizes
    of a confirmation's request and answer (what TLS carries more than for ``/health``)."""
    from mock_oqs.app import ServiceSettings, create_app

    app = create_app(ServiceSettings(world=world.directory, max_outstanding_nonces=None))
    service: QualificationService = app.state.service
    pem = world.terminal_cert.read_text()
    facility = medical_institution_code(x509.load_pem_x509_certificate(pem.encode()))
    assert facility is not None
    cards = persona_cards(world)
    bodies = []
    for i in range(2 * rounds):
        nonce, _ = service.issue_nonce(facility)
        cert_b64, key = cards[i % len(cards)]
        bodies.append(confirmation_body(cert_b64, nonce, sign(key, nonce)))
    loop = asyncio.new_event_loop()
    answer = b""
    for body in bodies[rounds:]:  # warm-up: caches filled as in a running worker
        answer = loop.run_until_complete(_asgi(app, pem, "POST", "/v1/confirmations/card", body))
        loop.run_until_complete(_asgi(app, pem, "GET", "/health"))
    assert confirmed(200, answer), answer[:200]
    began = time.process_time()
    for _ in range(rounds):
        loop.run_until_complete(_asgi(app, pem, "GET", "/health"))
    health = (time.process_time() - began) / rounds * 1e6
    began = time.process_time()
    for body in bodies[:rounds]:
        loop.run_until_complete(_asgi(app, pem, "POST", "/v1/confirmations/card", body))
    confirm = (time.process_time() - began) / rounds * 1e6
    loop.close()
    return {
        "health_us": health,
        "confirm_us": confirm,
        "request_bytes": len(bodies[0]),
        "answer_bytes": len(answer),
    }


def lookup_time(world: World, rounds: int) -> float:
    service = QualificationService(
        world,
        clock=Clock(dt.date.fromisoformat(world.index["today"])),
        state_path=world.directory / "bench-state.sqlite",
    )
    entry = world.persona("adult-kyokai")
    n = entry["numbers"]
    request = NumberConfirmationRequest(
        insurer_number=n["current_insurer_number"],
        symbol=n["current_symbol"],
        number=n["current_number"],
        branch=n["current_branch"],
        birth_date=entry["birth_date"].replace("-", ""),
    )
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        message = to_format(service.confirm_number(request, "1312345678"))
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
        # the window's nonces are issued to one facility before it starts (the work of many
        # terminals): the per-facility cap of a real deployment is lifted here
        nonces = ("--max-outstanding-nonces", "0")
        served = WorldFiles.open(world.directory).served(workers=args.workers, options=nonces)
        with served as url:
            port = int(url.rsplit(":", 1)[1])
            began = time.perf_counter()
            prepared = prepare_confirmations(
                world, port, int(args.seconds * PREPARED_PER_SECOND), args.clients
            )
            prep_s = time.perf_counter() - began
            conf = measure(world.directory, port, args.seconds, args.clients, "confirm", prepared)
            del prepared
            full = measure(world.directory, port, args.seconds, args.clients, "full")
            floor = measure(world.directory, port, args.seconds, args.clients, "health")

        print(
            f"mock-oqs serve --workers {args.workers}, {args.clients} keep-alive TLS clients "
            f"with the terminal certificate, {args.seconds:.0f} s per window, generator in its "
            f"own process, {os.cpu_count()} cores shared"
        )
        print(
            f"(prepared {int(args.seconds * PREPARED_PER_SECOND):,} signed nonces in "
            f"{prep_s:.1f} s before the first window)"
        )
        for label, r in (
            ("card confirmations (PIN path)", conf),
            ("full rounds (nonce+sign+confirm)", full),
            ("GET /health (floor)", floor),
        ):
            note = "  (pool of prepared nonces ran out)" if r["exhausted"] else ""
            print(
                f"{label:34} {r['rate']:8.0f}/s  p50 {r['p50_ms']:7.1f} ms  "
                f"p99 {r['p99_ms']:7.1f} ms  errors {r['errors']}  "
                f"service CPU {r['cpu_us']:4.0f} µs/request{note}"
            )
        print(
            f"confirmations / health: rate {conf['rate'] / floor['rate']:.2f}, service CPU per "
            f"request {floor['cpu_us'] / conf['cpu_us']:.2f} (target: at least 0.5)"
        )
        print("target: >= 2000 confirmations/s, p99 < 50 ms, 0 errors")

        alone = in_process(world, 2000)
        print(
            f"in process (the app called directly, no uvicorn, no TLS): GET /health "
            f"{alone['health_us']:.0f} µs, card confirmation {alone['confirm_us']:.0f} µs CPU per "
            f"request, ratio {alone['health_us'] / alone['confirm_us']:.2f}; a confirmation "
            f"carries {alone['request_bytes']:,.0f} bytes and answers {alone['answer_bytes']:,.0f}"
        )

        bare = lookup_time(world, 2000)
        big = seed_world(Path(tmp) / "big", seed=7, extra_persons=args.extra_persons)
        scaled = lookup_time(big, 2000)
        print(
            f"by-number lookup, median: bare world {bare:.3f} ms, with "
            f"{args.extra_persons:,} extra persons {scaled:.3f} ms, ratio {scaled / bare:.2f} "
            "(target: at most 1.5)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
