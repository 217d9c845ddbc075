"""Benchmark of making a world and of the demo's start, machine time only.

- ``mock-oqs seed`` (the personas, no extra persons): wall time of the command, median of
  ``--rounds`` (target ≤ 2 s), and the same world made twice is the same (keys included);
- ``reception demo --loopback`` in a terminal (tmux): from the command to a usable screen
  (the reader panel asking for a card) on a new world (target ≤ 4 s) and reusing that
  world (target ≤ 2 s).

Run: scripts/bench-seed [--rounds 3]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from reader.children import spawn

BIN = Path(sys.executable).parent
READY = "マイナンバーカードを置いてください"


def seed(out: Path) -> float:
    start = time.perf_counter()
    subprocess.run(
        [str(BIN / "mock-oqs"), "seed", "--out", str(out)], check=True, capture_output=True
    )
    return time.perf_counter() - start


def digest(world: Path) -> str:
    """What the seed decides: the index (personas, numbers, PINs, outcomes), the cards with
    their keys and certificates, every private key. (The facility PKI's certificates carry
    ECDSA signatures, random by nature: the same keys, other signature bytes.)"""
    h = hashlib.sha256()
    for path in sorted([*world.rglob("*.json"), *world.rglob("key.pem")]):
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


def demo_start(world: Path, tmp: Path) -> float:
    """Seconds from starting the demo in a terminal to its usable screen."""
    session = "bench-seed"
    # a tmux server of our own, in the foreground: it (and the demo in it) ends with this
    # script, even on kill -9, and nobody else's session is touched
    socket = str(tmp / "tmux.sock")

    def tmux(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["tmux", "-S", socket, *args], capture_output=True, text=True, check=False
        )

    server = spawn(
        ["tmux", "-S", socket, "-f", "/dev/null", "-D"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    env = f"RECEPTION_CONFIG={tmp}/none.toml RECEPTION_DATA_DIR={tmp}/data"
    command = f"{env} {BIN / 'reception'} demo --loopback --world {world}"
    try:
        while tmux("new-session", "-d", "-s", session, "-x", "160", "-y", "50").returncode:
            if server.poll() is not None:
                raise SystemExit("tmux did not start")
            time.sleep(0.05)
        start = time.perf_counter()
        tmux("send-keys", "-t", session, command, "Enter")
        while True:
            screen = tmux("capture-pane", "-p", "-t", session).stdout
            if READY in screen:
                elapsed = time.perf_counter() - start
                break
            if time.perf_counter() - start > 120:
                raise SystemExit(f"the demo did not come up:\n{screen}")
            time.sleep(0.02)
        tmux("send-keys", "-t", session, "C-q")
        time.sleep(1.5)
        return elapsed
    finally:
        tmux("kill-server")
        server.wait(timeout=10)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if shutil.which("tmux") is None:
        raise SystemExit("bench-seed needs tmux (scripts/setup installs it)")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        times = [seed(root / f"w{i}") for i in range(args.rounds)]
        same = len({digest(root / f"w{i}") for i in range(args.rounds)}) == 1
        new_world = demo_start(root / "demo" / "world", root)  # seeds it first
        reused = demo_start(root / "demo" / "world", root)
    print(f"machine: {os.cpu_count()} cpus; python {sys.version.split()[0]}")
    print(
        f"mock-oqs seed: median {statistics.median(times):.2f} s over {args.rounds} "
        f"(min {min(times):.2f}, max {max(times):.2f}; target ≤ 2 s); "
        f"same seed, same world: {'yes' if same else 'NO'}"
    )
    print(
        f"demo to a usable screen: new world {new_world:.2f} s (≤ 4 s), "
        f"reused {reused:.2f} s (≤ 2 s)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
