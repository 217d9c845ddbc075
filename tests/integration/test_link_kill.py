"""kill -9 in the middle of a 一括照会 (OQSmuquc01 → 02 …), of the terminal's link and,
separately, of the service: after a restart nothing is lost and nothing is doubled —
every request in req/ has exactly one answer, and the clinic fetches its results by its
ReceptionNumber, one unit per patient uploaded, in order. Real processes: `mock-oqs
serve` on a port of its own, `reception link` pointed at it."""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import ssl
import subprocess
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from mock_oqs.world import World, persona_ids
from reception.sim.world import mock_oqs_command
from tests.support.link import Running, answer, drop
from tests.support.link_bulk import bulk_fetch, bulk_upload
from tests.support.stack import WORLD_TODAY, free_port

ENTRIES = 3000  # the service answers one in a fraction of a millisecond: long enough to kill


class Service:
    """`mock-oqs serve` for the world on one port, killed with SIGKILL and started again
    on the same port (the link keeps its URL)."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.port = free_port()
        self.url = f"https://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        command = [
            *mock_oqs_command(),
            *("serve", "--world", str(self.world.directory), "--port", str(self.port)),
            *("--log-level", "warning", "--lookups-per-minute", "0", "--lookups-per-day", "0"),
            *("--bulk-entries", str(ENTRIES)),
        ]
        log = open(self.world.directory / "mock-oqs.log", "ab")  # noqa: SIM115
        with log:
            self.proc = subprocess.Popen(command, stdout=log, stderr=log, start_new_session=True)
        ctx = ssl.create_default_context(cafile=str(self.world.facility_ca))
        deadline = time.monotonic() + 30
        while True:
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{self.url}/health", verify=ctx, timeout=2).status_code == 200:
                    return
            assert self.proc.poll() is None, "mock-oqs serve exited"
            assert time.monotonic() < deadline, "mock-oqs serve did not answer"
            time.sleep(0.05)

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """The whole service (its process group: the server and any worker)."""
        assert self.proc is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, sig)
        self.proc.wait(timeout=20)
        self.proc = None


@pytest.fixture(scope="module")
def service(link_world: World) -> Iterator[Service]:
    serving = Service(link_world)
    serving.start()
    try:
        yield serving
    finally:
        if serving.proc is not None:
            serving.kill(signal.SIGTERM)


@pytest.fixture
def linked(service: Service, tmp_path: Path) -> Iterator[Running]:
    running = Running(
        service.world,
        tmp_path / "clinic",
        tmp_path,
        RECEPTION_OQS__URL=service.url,
        RECEPTION_OQS__BREAKER_COOLDOWN="0.5",  # a service back is asked again at once
    )
    with running.serving():
        yield running


def stored(world: World, number: str) -> tuple[int, int] | None:
    """(answers stored, done) of the job, as the service's state file holds them."""
    conn = sqlite3.connect(f"file:{world.directory / 'service-state.sqlite'}?mode=ro", uri=True)
    try:
        job = conn.execute(
            "SELECT done FROM bulk_jobs WHERE reception_number = ?", (number,)
        ).fetchone()
        (count,) = conn.execute(
            "SELECT count(*) FROM bulk_results WHERE reception_number = ?", (number,)
        ).fetchone()
    finally:
        conn.close()
    return None if job is None else (int(count), int(job[0]))


def upload(link: Running, name: str) -> tuple[str, list[str]]:
    """OQSmuquc01 of ENTRIES patients (every persona, over and over); its ReceptionNumber
    and the 番号 of each entry, in the order uploaded."""
    personas = [persona_ids(WORLD_TODAY)[i % len(persona_ids(WORLD_TODAY))] for i in range(ENTRIES)]
    drop(link.folder, name, bulk_upload(link.world, personas))
    number = answer(link.folder, name, seconds=60).findtext("MessageBody/ReceptionNumber")
    assert number
    numbers = [link.world.persona(p)["numbers"]["current_number"] for p in personas]
    return number, numbers


def results(link: Running, number: str, tag: str) -> ET.Element:
    """OQSmuquc02 asked until the job is done (2 while it runs)."""
    for attempt in range(1, 400):
        name = f"OQSmuquc02req_{tag}_{attempt:04d}.xml"
        drop(link.folder, name, bulk_fetch(number))
        found = answer(link.folder, name, seconds=30)
        assert found.findtext("MessageHeader/ErrorCode") is None, ET.tostring(found)
        if found.findtext("MessageHeader/SegmentOfResult") == "1":
            return found
        time.sleep(0.05)
    raise AssertionError("the 一括照会 never finished")


def each_answered_once(link: Running) -> None:
    """Every request dropped has exactly one answer, and none waits any more."""
    deadline = time.monotonic() + 15  # each is moved aside just after its answer
    while list((link.folder / "req").glob("*.xml")):
        assert time.monotonic() < deadline, list((link.folder / "req").glob("*.xml"))
        time.sleep(0.02)
    done = sorted(p.name for p in (link.folder / "req" / "done").iterdir())
    answers = sorted(p.name for p in (link.folder / "res").iterdir())
    assert answers == sorted(n.replace("req", "res", 1) for n in done)
    assert not [p for p in (link.folder / "req").iterdir() if p.is_file()]


def all_units(result: ET.Element, numbers: list[str]) -> None:
    """One unit per entry uploaded, in order: none lost, none twice."""
    units = result.findall("MessageBody/BulkConfirmUnit")
    found = [
        u.findtext("QualificationConfirmSearchInfo/InsuredIdentificationNumber") for u in units
    ]
    assert found == numbers
    assert result.findtext("MessageHeader/NumberOfProcessingResult") == str(len(numbers))


def test_kill_9_of_the_link_mid_bulk(linked: Running) -> None:
    number, numbers = upload(linked, "OQSmuquc01req_20261124_0001.xml")
    for n in range(1, 4):  # the clinic asks, asks again; the link is killed among them
        drop(linked.folder, f"OQSmuquc02req_early_{n:04d}.xml", bulk_fetch(number))
    linked.stop(signal.SIGKILL)
    state = stored(linked.world, number)
    assert state is not None
    linked.start()
    for n in range(1, 4):  # each answered (once: below), 2 or 1 as the job stood
        segment = answer(linked.folder, f"OQSmuquc02req_early_{n:04d}.xml")
        assert segment.findtext("MessageHeader/SegmentOfResult") in ("1", "2")
    all_units(results(linked, number, "after"), numbers)
    each_answered_once(linked)


def test_kill_9_of_the_service_mid_bulk_resumes_the_job(linked: Running, service: Service) -> None:
    number, numbers = upload(linked, "OQSmuquc01req_20261124_0002.xml")
    deadline = time.monotonic() + 30
    while (state := stored(linked.world, number)) is None or state[0] == 0:
        assert time.monotonic() < deadline
        time.sleep(0.002)
    service.kill()  # some answers made, not all
    count, done = stored(linked.world, number) or (0, 0)
    assert 0 < count < ENTRIES and not done, (count, done)
    service.start()  # a new run: the job is taken over where it stopped
    all_units(results(linked, number, "resumed"), numbers)
    assert stored(linked.world, number) == (ENTRIES, 1)
    each_answered_once(linked)
