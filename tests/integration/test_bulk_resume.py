"""A bulk job of every kind outlives its service: a job left unfinished by a service that
was killed (its run gone) is taken over by the next service started on the world and
answers the same entries — the patients listed by period when it was asked (not the period
looked up again), the 照会番号 registrations uploaded — with nothing lost or doubled.
(The kill itself, with real processes, is test_link_kill.py's; here the killed run is
written into the state file as a kill -9 leaves it.)"""

from __future__ import annotations

import contextlib
import datetime as dt
import sqlite3
import time
from collections.abc import Callable
from typing import Any

import httpx

from mock_oqs.app import ServiceSettings, create_app
from mock_oqs.limits import STATE_FILE
from mock_oqs.world import World
from tests.support.oqs import client_for, patient_numbers
from tests.support.stack import WORLD_TODAY


def day(offset: int) -> str:
    return f"{WORLD_TODAY + dt.timedelta(days=offset):%Y%m%d}"


def service(world: World) -> httpx.Client:
    app = create_app(ServiceSettings(world=world.directory, today=WORLD_TODAY))
    return client_for(app, world.terminal_cert.read_text())


def timeless(value: Any) -> Any:
    """An answer without its header and the times in it (…Time: when it was made — a
    resumed job makes the rest of its answers later, as a running one would)."""
    if isinstance(value, dict):
        return {
            k: timeless(v)
            for k, v in value.items()
            if k != "MessageHeader" and not k.endswith("Time")
        }
    if isinstance(value, list):
        return [timeless(v) for v in value]
    return value


def done(client: httpx.Client, path: str) -> list[dict[str, Any]]:
    for _ in range(1000):
        body: dict[str, Any] = client.get(path).json()
        if body["SegmentOfResult"] == "1":
            return [timeless(r) for r in body["results"]]
        time.sleep(0.01)
    raise AssertionError(f"{path} never finished")


def killed(world: World, keep: Callable[[int], bool]) -> None:
    """Every job as a kill -9 of its service leaves it: unfinished, its run gone, only the
    answers ``keep`` (by position) stored."""
    with contextlib.closing(sqlite3.connect(world.directory / STATE_FILE)) as db:
        db.execute("UPDATE bulk_jobs SET done = 0, run = 'gone', pid = 1")
        for number, position in db.execute(
            "SELECT reception_number, position FROM bulk_results"
        ).fetchall():
            if not keep(position):
                db.execute(
                    "DELETE FROM bulk_results WHERE reception_number = ? AND position = ?",
                    (number, position),
                )
        db.commit()


def test_every_bulk_kind_is_resumed_by_the_next_service(own_world: World) -> None:
    registration = patient_numbers(own_world, "adult-kyokai")
    del registration["birth_date"]  # 照会番号: the numbers alone
    asks = {
        "/v1/bulk-visits": {"consent_date_from": day(-14), "consent_date_to": day(0)},
        "/v1/bulk-online": {"examination_date_from": day(-30), "examination_date_to": day(0)},
        "/v1/bulk-medical-aid": {"medical_treatment_month": f"{WORLD_TODAY:%Y%m}"},
        "/v1/bulk-reference-numbers": {
            "registrations": [registration | {"reference_number": f"R{i}"} for i in range(3)]
        },
    }
    first = service(own_world)
    jobs, before = {}, {}
    for path, body in asks.items():  # one after the other: two may run at once (MOCK-E019)
        started = first.post(path, json=body)
        assert started.status_code == 202, started.text
        jobs[path] = started.json()["ReceptionNumber"]
        before[path] = done(first, f"{path}/{jobs[path]}")
    assert all(before.values()), before  # every kind lists someone in the world
    killed(own_world, keep=lambda position: position == 0)  # the first answer was stored
    # meanwhile the world changes: a patient examined online today is not in the job
    again = service(own_world)
    after = {path: done(again, f"{path}/{number}") for path, number in jobs.items()}
    assert after == before
