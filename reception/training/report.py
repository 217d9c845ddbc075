"""A run's report (issue 25 §2): one self-contained HTML page a trainer can open or print,
and a CSV of the cases — both marked as training."""

from __future__ import annotations

import csv
import html
import io
from pathlib import Path

from reception.training.scoring import RunReport


def to_csv(report: RunReport) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(
        ["研修", "trainee", "scenario", "case", "title", "points", "max", "seconds", "mistakes"]
    )
    for case in report.cases:
        writer.writerow(
            [
                "training",
                report.trainee,
                report.scenario_id,
                case.case_id,
                case.title,
                case.total,
                case.max,
                f"{case.seconds:.0f}",
                "; ".join(m.label for m in case.mistakes),
            ]
        )
    return out.getvalue()


def to_html(report: RunReport) -> str:
    e = html.escape
    rows = "\n".join(
        f"<tr><td>{e(c.case_id)}</td><td>{e(c.title)}</td><td>{c.total}/{c.max}</td>"
        f"<td>{c.seconds:.0f}</td></tr>"
        for c in report.cases
    )
    return (
        "<!doctype html><html lang=ja><meta charset=utf-8>"
        f"<title>研修報告 {e(report.trainee)}</title><h1>研修報告（研修用）</h1>"
        f"<table><tr><th>case</th><th>題</th><th>点</th><th>秒</th></tr>{rows}</table>"
        f"<p>合計 {report.total}/{report.max}</p></html>"
    )


def write_reports(report: RunReport, directory: Path) -> tuple[Path, Path]:
    """``report.html`` and ``report.csv`` in ``directory`` (replaced whole)."""
    paths = (directory / "report.html", directory / "report.csv")
    for path, text, encoding in (
        (paths[0], to_html(report), "utf-8"),
        (paths[1], to_csv(report), "utf-8-sig"),
    ):
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(text, encoding=encoding)
        tmp.replace(path)
    return paths
