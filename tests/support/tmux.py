"""A terminal for a test (tests/support): a tmux server of the test's own — not the
machine's shared one, where another run's session of the same name would be killed or
driven —, run in the foreground as a child that ends with the test run (even on kill -9;
the programs in its panes get their hang-up)."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from reader.children import spawn


class Tmux:
    def __init__(self, name: str, socket: Path, width: int = 160, height: int = 48) -> None:
        self.socket = str(socket)
        self.session = name
        self.server = spawn(
            ["tmux", "-S", self.socket, "-f", "/dev/null", "-D"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while True:  # the server's socket appears once it listens
            made = self.run("new-session", "-d", "-s", name, "-x", str(width), "-y", str(height))
            if made.returncode == 0:
                break
            if self.server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"tmux did not start: {made.stderr.strip()}")
            time.sleep(0.05)

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["tmux", "-S", self.socket, *args], capture_output=True, text=True, check=False
        )

    def send(self, *keys: str) -> None:
        self.run("send-keys", "-t", self.session, *keys)

    def screen(self) -> str:
        return self.run("capture-pane", "-p", "-t", self.session).stdout

    def close(self) -> None:
        self.run("kill-server")
        try:
            self.server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.server.kill()
            self.server.wait()
