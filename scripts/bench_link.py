"""Benchmark of the folder interface (oqs.md §7), machine time only.

A `reception link` process watches a folder and answers through `mock-oqs serve` over TLS
(started here, so that the service alone can be timed beside it). In this one run:

- single query (OQSsiquc01): time from the request file appearing in req/ (renamed in
  whole) to its answer existing in res/ — median and p99 over ``--singles`` queries
  (target: median ≤ 50 ms); beside it the same query sent to the service directly by a
  kept-alive client: the service's part, so that what the watcher adds shows;
- 一括照会 of ``--bulk`` patients (OQSmuquc01 → OQSmuquc02 until SegmentOfResult 1):
  from the 01 file appearing to the last result (target: 1,000 patients ≤ 5 s);
- the bulk kinds by period, each listing ``--bulk`` patients of the bench's world (seeded
  here: mock_oqs/period_cases.py ``seed_bench``): 訪問診療 (OQSmuhvq, consents of
  yesterday and today), オンライン診療 (OQSmuonq, examinations of today), 医療扶助 (OQSmutic,
  the 医療券 of this month; the persona ``medical-aid`` is one more) — 01 → last result;
- 照会番号一括登録 (OQSmuimm) of ``--bulk`` patients: 01 → the last outcome of 02;
- hostile requests of repeated siblings (issue 19: a 240 KB one froze the TUI for 4.3 s,
  parsed in quadratic time on the event loop): parsing 240 KB and 4 MiB of them, and,
  with a link in this process, the longest event-loop stall while it answers the 4 MiB
  one (target < 50 ms: the TUI's reader panel and PIN pad share that loop).

Run: scripts/bench-link [--singles 200] [--bulk 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from mock_oqs import period_cases, registry
from mock_oqs.personas import FUKUSHI, INSTITUTION_CODE
from mock_oqs.world import World, seed_world
from reader.children import spawn
from reception.oqs_client import NumberQuery, OqsClient
from reception.settings import OqsSettings
from reception.sim.world import WorldFiles, served

RECEPTION = str(Path(sys.executable).parent / "reception")
# a burst of --singles lookups by number and a 一括照会 of --bulk patients are far past what a
# clinic may ask (mock-oqs serve's defaults: 60 lookups a minute, 2,000 a day, 500 entries a
# job; design.md §6.9): the benchmark lifts those limits explicitly for its own service
NO_LOOKUP_LIMITS = (
    "--lookups-per-minute",
    "0",
    "--lookups-per-day",
    "0",
    "--bulk-entries",
    "10000",
)


def request(info: str, file_id: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?><XmlMsg><MessageHeader>'
        f"<ArbitraryFileIdentifier>{file_id}</ArbitraryFileIdentifier></MessageHeader>"
        f"<MessageBody>{info}</MessageBody></XmlMsg>"
    ).encode()


def search_info(insurer: str, symbol: str, number: str, branch: str, birth: str) -> str:
    return (
        f"<QualificationConfirmSearchInfo><InsurerNumber>{insurer.rjust(8)}</InsurerNumber>"
        f"<InsuredCardSymbol>{symbol}</InsuredCardSymbol>"
        f"<InsuredIdentificationNumber>{number}</InsuredIdentificationNumber>"
        f"<InsuredBranchNumber>{branch}</InsuredBranchNumber>"
        f"<Birthdate>{birth.replace('-', '')}</Birthdate></QualificationConfirmSearchInfo>"
    )


def drop_and_wait(folder: Path, name: str, data: bytes, timeout: float = 30.0) -> float:
    """Seconds from the request appearing whole in req/ to its answer in res/."""
    hidden = folder / "req" / f".{name}.tmp"
    hidden.write_bytes(data)
    answer = folder / "res" / name.replace("req", "res", 1)
    start = time.perf_counter()
    os.replace(hidden, folder / "req" / name)
    while not answer.exists():
        if time.perf_counter() - start > timeout:
            raise SystemExit(f"no answer for {name} in {timeout:g} s")
        time.sleep(0.0002)
    return time.perf_counter() - start


def extra_patients(world: World, count: int, *, registering: bool = False) -> list[str]:
    """``count`` patients of the world's crowd: each a QualificationConfirmSearchInfo, or
    (``registering``) a ReferenceNumberRegistrationInfo with a 照会番号 of its own."""
    conn = sqlite3.connect(world.registry_path)
    rows = conn.execute(
        "SELECT q.insurer_number, q.symbol, q.number, q.branch, p.birth_date "
        "FROM qualifications q JOIN persons p USING (person_id) "
        "WHERE p.persona IS NULL AND q.qualification_date <= ? "
        "AND (q.disqualification_date IS NULL OR q.disqualification_date > ?) LIMIT ?",
        (dt.date.today().isoformat(), dt.date.today().isoformat(), count),
    ).fetchall()
    if registering:
        return [registration(i, *row[:4]) for i, row in enumerate(rows, start=1)]
    return [search_info(*row) for row in rows]


def registration(reference: int, insurer: str, symbol: str, number: str, branch: str) -> str:
    """One 照会番号 registration as clinic software writes it (no birth date)."""
    return (
        f"<ReferenceNumberRegistrationInfo><ReferenceNumber>K{reference:06d}</ReferenceNumber>"
        f"<InsurerNumber>{insurer.rjust(8)}</InsurerNumber>"
        f"<InsuredCardSymbol>{symbol}</InsuredCardSymbol>"
        f"<InsuredIdentificationNumber>{number}</InsuredIdentificationNumber>"
        f"<InsuredBranchNumber>{branch}</InsuredBranchNumber></ReferenceNumberRegistrationInfo>"
    )


def service_part(files: WorldFiles, url: str, query: NumberQuery, rounds: int) -> list[float]:
    async def go() -> list[float]:
        async with OqsClient(files.oqs_settings(OqsSettings(), url)) as client:
            await client.confirm_number(query)
            times = []
            for _ in range(rounds):
                start = time.perf_counter()
                await client.confirm_number(query)
                times.append(time.perf_counter() - start)
            return times

    return asyncio.run(go())


def p99(values: list[float]) -> float:
    return sorted(values)[min(len(values) - 1, int(len(values) * 0.99))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--singles", type=int, default=200)
    parser.add_argument("--bulk", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        world = seed_world(root / "world", seed=5, extra_persons=args.bulk)
        today = dt.date.fromisoformat(world.index["today"])
        conn = registry.connect(world.registry_path)
        period_cases.seed_bench(conn, args.bulk, today, INSTITUTION_CODE, FUKUSHI)
        conn.close()
        files = WorldFiles.open(world.directory)
        entry = world.persona("adult-kyokai")
        n = entry["numbers"]
        info = search_info(
            n["current_insurer_number"],
            n["current_symbol"],
            n["current_number"],
            n["current_branch"],
            entry["birth_date"],
        )
        folder = root / "clinic"
        with served(files, options=NO_LOOKUP_LIMITS) as url:
            env = os.environ | {
                "RECEPTION_CONFIG": str(root / "none.toml"),
                "RECEPTION_DATA_DIR": str(root / "data"),
                "RECEPTION_OQS__URL": url,
            }
            command = [RECEPTION, "link", "--folder", str(folder), "--world", str(world.directory)]
            link = spawn(command, env=env, stderr=subprocess.PIPE)
            assert link.stderr is not None
            link.stderr.readline()  # watching
            try:
                drop_and_wait(folder, "OQSsiquc01req_warm_0000.xml", request(info, "warm"))
                singles = [
                    drop_and_wait(folder, f"OQSsiquc01req_b_{i:04d}.xml", request(info, str(i)))
                    for i in range(args.singles)
                ]
                query = NumberQuery(
                    insurer_number=n["current_insurer_number"],
                    symbol=n["current_symbol"],
                    number=n["current_number"],
                    branch=n["current_branch"],
                    birth_date=dt.date.fromisoformat(entry["birth_date"]),
                )
                service = service_part(files, url, query, args.singles)
                bulk_seconds = bulk(folder, extra_patients(world, args.bulk))
                periods = by_period(folder, today)
                registrations = extra_patients(world, args.bulk, registering=True)
                seconds, count = two_phases(
                    folder,
                    "OQSmuimm",
                    request("".join(registrations), "bulk"),
                    unit="BulkRegistrationUnit",
                )
                periods["照会番号一括登録 (OQSmuimm)"] = (count, seconds)
            finally:
                link.terminate()
                link.wait(timeout=20)
    s_med, v_med = statistics.median(singles) * 1000, statistics.median(service) * 1000
    print(f"machine: {os.cpu_count()} cpus; python {sys.version.split()[0]}")
    print(
        f"single query, request file → answer file: median {s_med:.1f} ms, "
        f"p99 {p99(singles) * 1000:.1f} ms over {len(singles)} (target: median ≤ 50 ms)"
    )
    print(
        f"  of which the service (same query, kept-alive client): median {v_med:.1f} ms, "
        f"p99 {p99(service) * 1000:.1f} ms; the link adds {s_med - v_med:.1f} ms"
    )
    print(f"一括照会 of {args.bulk} patients, 01 → last result of 02: {bulk_seconds:.2f} s (≤ 5 s)")
    for label, (patients, seconds) in periods.items():
        print(f"{label} of {patients} patients, 01 → last result of 02: {seconds:.2f} s")
    hostile()
    return 0


def siblings(size: int) -> bytes:
    """A request of nothing but repeated empty siblings, ``size`` bytes."""
    head, tail = b"<XmlMsg><MessageHeader/><MessageBody>", b"</MessageBody></XmlMsg>"
    return head + b"<a/>" * ((size - len(head) - len(tail)) // 4) + tail


def hostile() -> None:
    """Repeated siblings: parse time, and the event loop's longest stall meanwhile."""
    from reception.link import Link
    from reception.results import xml_to_message

    for label, size in (("240 KB", 240 * 1024), ("4 MiB", 4 * 1024 * 1024 - 64)):
        data = siblings(size)
        start = time.perf_counter()
        xml_to_message(data)
        print(
            f"repeated siblings, {label}: parsed in {(time.perf_counter() - start) * 1000:.0f} ms"
        )

    class NoService:
        async def confirm_number(self, query: NumberQuery) -> None:
            raise SystemExit("the 4 MiB request names no patient: it never reaches the service")

    async def answer_while_ticking(root: Path) -> tuple[float, float]:
        folder = root / "clinic"
        link = Link(
            folder,
            NoService(),  # type: ignore[arg-type]
            institution_code="1312345678",
            private_dir=root / "data",
        )
        link.prepare()
        (folder / "req" / ".big").write_bytes(siblings(4 * 1024 * 1024 - 64))
        os.utime(folder / "req" / ".big", (time.time() - 60, time.time() - 60))
        os.replace(folder / "req" / ".big", folder / "req" / "OQSsiquc01req_big_0001.xml")
        worst, done = 0.0, False

        async def tick() -> None:
            nonlocal worst
            while not done:
                before = time.perf_counter()
                await asyncio.sleep(0.001)
                worst = max(worst, time.perf_counter() - before - 0.001)

        ticker = asyncio.create_task(tick())
        start = time.perf_counter()
        await link.sweep()
        took = time.perf_counter() - start
        done = True
        await ticker
        link.close(wait=True)
        return took, worst

    with tempfile.TemporaryDirectory() as tmp:
        took, worst = asyncio.run(answer_while_ticking(Path(tmp)))
    print(
        f"  a link answering the 4 MiB one: {took:.2f} s; the event loop's longest stall "
        f"meanwhile {worst * 1000:.1f} ms (target < 50 ms)"
    )


def bulk(folder: Path, infos: list[str]) -> float:
    seconds, count = two_phases(folder, "OQSmuquc", request("".join(infos), "bulk"))
    if count != len(infos):
        raise SystemExit(f"一括照会 gave {count} results for {len(infos)} patients")
    return seconds


def two_phases(
    folder: Path, prefix: str, upload: bytes, unit: str = "BulkConfirmUnit"
) -> tuple[float, int]:
    """Seconds from the 01 file appearing to the 02 answer with every result; how many
    (``unit``: the element of one entry's result)."""
    hidden = folder / "req" / f".{prefix}01req_bulk_0001.xml.tmp"
    hidden.write_bytes(upload)
    start = time.perf_counter()
    os.replace(hidden, folder / "req" / f"{prefix}01req_bulk_0001.xml")
    answer = folder / "res" / f"{prefix}01res_bulk_0001.xml"
    while not answer.exists():
        time.sleep(0.001)
    text = answer.read_text(encoding="utf-8")
    if "<ReceptionNumber>" not in text:
        raise SystemExit(f"{prefix}01 was not accepted:\n{text}")
    number = text.split("<ReceptionNumber>")[1].split("<")[0]
    fetch = f"<ReceptionNumber>{number}</ReceptionNumber>"
    for attempt in range(1, 10_000):
        name = f"{prefix}02req_bulk_{attempt:04d}.xml"
        drop_and_wait(folder, name, request(fetch, "bulk"))
        result = (folder / "res" / name.replace("req", "res", 1)).read_text(encoding="utf-8")
        if "<SegmentOfResult>1<" in result:
            return time.perf_counter() - start, result.count(f"<{unit}>")
        time.sleep(0.02)
    raise SystemExit(f"{prefix} never finished")


def by_period(folder: Path, today: dt.date) -> dict[str, tuple[int, float]]:
    """訪問診療, オンライン診療 and 医療扶助 of the bench's world: patients, seconds."""
    yesterday, day = (today - dt.timedelta(days=1)).strftime("%Y%m%d"), today.strftime("%Y%m%d")
    asks = {
        "訪問診療 (OQSmuhvq)": (
            "OQSmuhvq",
            f"<ConsentDateFrom>{yesterday}</ConsentDateFrom><ConsentDateTo>{day}</ConsentDateTo>"
            "<MedicalTreatmentFlag>2</MedicalTreatmentFlag>",
        ),
        "オンライン診療 (OQSmuonq)": (
            "OQSmuonq",
            f"<ExaminationDateFrom>{day}</ExaminationDateFrom>"
            f"<ExaminationDateTo>{day}</ExaminationDateTo><MedicalTreatmentFlag>3</MedicalTreatmentFlag>",
        ),
        "医療扶助 (OQSmutic)": (
            "OQSmutic",
            f"<MedicalTreatmentMonth>{today.strftime('%Y%m')}</MedicalTreatmentMonth>",
        ),
    }
    found = {}
    for label, (prefix, info) in asks.items():
        upload = request(
            f"<QualificationConfirmSearchInfo>{info}</QualificationConfirmSearchInfo>", "bulk"
        )
        seconds, count = two_phases(folder, prefix, upload)
        found[label] = (count, seconds)
    return found


if __name__ == "__main__":
    raise SystemExit(main())
