"""The results table: every figure in var/bench/*.json, written into bench/README.md.

    .venv/bin/python -m bench.report            # print the table
    .venv/bin/python -m bench.report --write    # and replace the table in bench/README.md,
                                                # and keep the figures in bench/results.json
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
from pathlib import Path

from .common import BASE_DIR, RESULTS_DIR

README = Path(__file__).with_name("README.md")
RESULTS = Path(__file__).with_name("results.json")
START, END = "<!-- results:start -->", "<!-- results:end -->"
ORDER = ["signing-get", "signing-post", "emails", "publish-request", "pdf", "zip", "import", "dashboard-school",
         "dashboard-association", "worker-memory", "scale-out"]


def sort_key(data: dict) -> tuple:
    name = data["id"].rsplit("-", 1)[0]
    return (ORDER.index(name) if name in ORDER else len(ORDER), data["id"])


def number(value: float) -> str:
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.3g}"


def row(data: dict) -> str:
    measured = data["measured"]
    floor = data["floor"]
    ratio = data["ratio"]
    figure = (
        f"{number(measured['median'])} {data['unit']} ({number(measured['min'])}–{number(measured['max'])})"
        if measured else "—"
    )
    floor_text = f"{number(floor['median'])} {data['unit']}: {data['floor_name']}" if floor else data["floor_name"] or "—"
    ratio_text = f"{ratio['median']:.2f}× ({ratio['min']:.2f}–{ratio['max']:.2f})" if ratio else "—"
    checks = "; ".join(
        f"{check['name']}: {number(check['value'])} {check['unit']} ({'<' if check['below'] else '≥'} {check['limit']:g}) "
        f"{'✓' if check['ok'] else '✗'}"
        for check in data["checks"]
    )
    verdict = "met" if data["ok"] else "**missed**"
    return (f"| {data['title']} | {data['db']} | {figure} | {floor_text} | {ratio_text} | {data['budget']} | "
            f"{checks or '—'} | {verdict} |")


def table(figures: list[dict]) -> str:
    lines = [
        "| figure | db | measured, median (min–max) | floor or peer, median | ratio to it, median (min–max) | budget | "
        "other limits | verdict |",
        "|---|---|---|---|---|---|---|---|",
    ]
    lines += [row(data) for data in figures]
    notes = [f"- **{data['title']} [{data['db']}]**: {data['notes']}" for data in figures if data.get("notes")]
    return "\n".join(lines) + ("\n\nNotes from the run:\n\n" + "\n".join(notes) if notes else "")


def machine() -> str:
    cores = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
    load = Path("/proc/loadavg").read_text().split()[:3] if Path("/proc/loadavg").exists() else []
    return f"{platform.machine()}, {cores} cores, Python {platform.python_version()}, load average {' '.join(load)} at the end"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="write the table into bench/README.md and bench/results.json")
    options = parser.parse_args()
    figures = sorted((json.loads(path.read_text()) for path in RESULTS_DIR.glob("*.json")), key=sort_key)
    if not figures:
        raise SystemExit(f"No figures in {RESULTS_DIR.relative_to(BASE_DIR)}: run `make bench` first.")
    dates = sorted(data["measured_at"] for data in figures)
    text = f"Measured {dates[0]} to {dates[-1]} (UTC) on {machine()}.\n\n{table(figures)}"
    print(text)
    if options.write:
        readme = README.read_text()
        before, rest = readme.split(START, 1)
        _, after = rest.split(END, 1)
        README.write_text(f"{before}{START}\n{text}\n{END}{after}")
        RESULTS.write_text(json.dumps(figures, indent=2) + "\n")
        missed = [data["id"] for data in figures if not data["ok"]]
        print(f"\nWrote {README.relative_to(BASE_DIR)} and {RESULTS.relative_to(BASE_DIR)}; "
              f"{len(figures) - len(missed)} of {len(figures)} figures within budget"
              + (f"; missed: {', '.join(missed)}" if missed else ""))


if __name__ == "__main__":
    main()
