"""Child processes that end with the process that started them — also when it is killed
with ``kill -9``, which no ``finally`` and no signal handler sees.

Linux can do it: ``prctl(PR_SET_PDEATHSIG, SIGKILL)`` in the child asks the kernel to kill
it when its parent goes. "Parent" there is the *thread* that forked it (prctl(2)): a child
started from a short-lived thread (a Textual worker placing a demo card, a thread pool)
would be killed as soon as that thread ends. So :func:`spawn` forks from one thread of its
own that lives as long as the process, and the setting is made in the child between fork
and exec (``preexec_fn``, which does nothing else: no lock, no import). A child that finds
its parent already gone by then ends at once — the parent may die before the setting is
made.

A process started another way — a worker that ``multiprocessing`` or uvicorn starts —
calls :func:`die_with_parent` itself, first thing.

SIGKILL, not SIGTERM: nothing can delay or catch it, and everything we start survives a
kill -9 by design (the registry and the store are SQLite WAL, card profiles are written
atomically). A child that is stopped the normal way — the ``with`` block that started it
ends — still gets its SIGTERM first and stops cleanly.
"""

from __future__ import annotations

import ctypes
import os
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Any

PR_SET_PDEATHSIG = 1

__all__ = ["die_with_parent", "spawn"]


def _load_prctl() -> Callable[..., int] | None:
    if not sys.platform.startswith("linux"):
        return None
    prctl: Callable[..., int] = ctypes.CDLL(None, use_errno=True).prctl
    return prctl


# resolved once, here: the child between fork and exec only calls it
_prctl = _load_prctl()


def _set_pdeathsig() -> None:
    if _prctl is not None and _prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"prctl(PR_SET_PDEATHSIG): {os.strerror(errno)}")


def die_with_parent(parent: int | None = None) -> None:
    """Ask the kernel to kill this process when the thread that started it ends (its
    parent process ending ends that thread too). ``parent``: the pid it was started by —
    when that is no longer the parent, it is gone already and this process ends now."""
    _set_pdeathsig()
    if parent is not None and os.getppid() != parent:
        os.kill(os.getpid(), signal.SIGKILL)


class _Spawner:
    """The one thread children are forked from: it lives as long as the process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._jobs: queue.SimpleQueue[tuple[Callable[[], Any], Future[Any]]] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._pid = 0
        os.register_at_fork(after_in_child=self._forget)

    def _forget(self) -> None:
        # a forked process has no thread but the one that forked: start its own when needed
        self._lock = threading.Lock()
        self._jobs = queue.SimpleQueue()
        self._thread, self._pid = None, 0

    def _serve(self) -> None:
        while True:
            job, future = self._jobs.get()
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(job())
                except BaseException as exc:
                    future.set_exception(exc)

    def run(self, job: Callable[[], Any]) -> Any:
        with self._lock:
            if self._thread is None or self._pid != os.getpid():
                self._thread = threading.Thread(
                    target=self._serve, name="children-spawner", daemon=True
                )
                self._thread.start()
                self._pid = os.getpid()
        future: Future[Any] = Future()
        self._jobs.put((job, future))
        return future.result()


_spawner = _Spawner()


def spawn(args: Sequence[str], **popen: Any) -> subprocess.Popen[Any]:
    """``subprocess.Popen(args, **popen)`` for a child that ends with this process, even
    on kill -9: forked from a thread that outlives it, killed by the kernel when this
    process ends. Stop it the usual way (terminate, wait) when done with it."""
    if "preexec_fn" in popen:
        raise TypeError("spawn() sets preexec_fn itself")
    parent = os.getpid()

    def in_child() -> None:  # between fork and exec: nothing but the prctl and getppid
        _set_pdeathsig()
        if os.getppid() != parent:
            os._exit(1)

    def start() -> subprocess.Popen[Any]:
        return subprocess.Popen(args, preexec_fn=in_child, **popen)

    proc: subprocess.Popen[Any] = _spawner.run(start)
    return proc


def main(argv: list[str] | None = None) -> int:
    """``python -m reader.children PARENT_PID COMMAND…``: run COMMAND as a child that ends
    with the process PARENT_PID (a shell script's ``$$``), even on kill -9 — for the
    scripts that start a program in the background."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) < 2 or not args[0].isdigit():
        sys.stderr.write("usage: python -m reader.children PARENT_PID COMMAND [ARG…]\n")
        return 2
    die_with_parent(int(args[0]))
    os.execvp(args[1], args[1:])  # noqa: S606 (the command the script gave, as given)


if __name__ == "__main__":
    sys.exit(main())
