"""Fault injection, changeable while the service runs.

Faults live in ``faults.json`` in the world directory; every worker re-reads it
when its modification time changes (one ``stat`` per request), so
``mock-oqs faults`` takes effect at once in all workers. A facility's entry
replaces the global one for that facility's terminal.

- ``outage``: every path, ``/health`` included, answers 503 (MOCK-F001);
- ``error_rate``: that share of /v1 requests answers 500 (MOCK-F002);
- ``latency_ms``: /v1 answers come this much later;
- ``malformed``: /v1 answers are cut-off JSON with status 200;
- ``hang``: /v1 requests never get an answer (until the client gives up).
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from reader.files import write_private

log = logging.getLogger(__name__)

FAULTS_FILE = "faults.json"


class Faults(BaseModel):
    model_config = ConfigDict(extra="forbid")

    latency_ms: int = Field(default=0, ge=0, le=600_000)
    error_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    outage: bool = False
    malformed: bool = False
    hang: bool = False

    @property
    def any(self) -> bool:
        return self != Faults()


class FaultPlan(BaseModel):
    model_config = ConfigDict(extra="forbid")

    global_faults: Faults = Field(default_factory=lambda: Faults(), alias="global")
    facilities: dict[str, Faults] = Field(default_factory=dict)

    def for_facility(self, facility: str | None) -> Faults:
        if facility is not None and facility in self.facilities:
            return self.facilities[facility]
        return self.global_faults


class FaultStore:
    """The current plan, reloaded when the file changes; no file means no faults."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stamp: tuple[int, int] | None = None
        self._plan = FaultPlan()

    def plan(self) -> FaultPlan:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            self._stamp, self._plan = None, FaultPlan()
            return self._plan
        stamp = (st.st_mtime_ns, st.st_size)
        if stamp != self._stamp:
            self._stamp = stamp
            try:
                self._plan = FaultPlan.model_validate(json.loads(self.path.read_text("utf-8")))
            except (OSError, ValueError, ValidationError) as exc:
                log.warning("ignoring unreadable %s: %s", self.path, exc)
                self._plan = FaultPlan()
        return self._plan


def load_plan(path: Path) -> FaultPlan:
    if not path.exists():
        return FaultPlan()
    return FaultPlan.model_validate(json.loads(path.read_text("utf-8")))


def save_plan(plan: FaultPlan, path: Path) -> None:
    write_private(path, (plan.model_dump_json(by_alias=True, indent=2) + "\n").encode())
