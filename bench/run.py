"""`make bench`: every benchmark, SQLite first, then PostgreSQL, then the results table.

    .venv/bin/python -m bench.run                 # the whole suite (8 to 20 minutes)
    .venv/bin/python -m bench.run signing emails  # only these (names as in STEPS)

Each step is its own process (a fresh interpreter, a throwaway database), so one step's caches
and memory never flatter the next. A step that fails is reported and the rest still run; the
command fails at the end if any step failed. A figure outside its budget is not a failure of the
command: the table says "missed", and bench/README.md says what was done about it.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time

from .common import BASE_DIR, PG_SERVER, RESULTS_DIR

# (name, module, arguments)
STEPS = [
    ("signing", "bench.signing", ["--db", "sqlite"]),
    ("signing", "bench.signing", ["--db", "postgres"]),
    ("emails", "bench.emails", ["--db", "sqlite"]),
    ("emails", "bench.emails", ["--db", "postgres"]),
    ("evidence", "bench.evidence", ["--db", "sqlite"]),
    ("evidence", "bench.evidence", ["--db", "postgres"]),
    ("imports", "bench.imports", ["--db", "sqlite"]),
    ("imports", "bench.imports", ["--db", "postgres"]),
    ("dashboards", "bench.dashboards", ["--db", "postgres"]),
    ("scale_out", "bench.scale_out", []),
]


def preflight() -> None:
    problems = []
    if not shutil.which("wrk"):
        problems.append("wrk is not installed (`apt-get install wrk`; `make bench` installs it when run as root).")
    if not shutil.which("psql"):
        problems.append("psql is not installed: the PostgreSQL half needs a PostgreSQL client and server.")
    elif subprocess.run(["psql", PG_SERVER + "/postgres", "-qc", "select 1"], capture_output=True).returncode != 0:
        problems.append(f"PostgreSQL does not answer at {PG_SERVER} (set BENCH_POSTGRES=postgres://user@host:port).")
    if problems:
        raise SystemExit("Cannot run the benchmarks:\n  " + "\n  ".join(problems))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("only", nargs="*", help="step names to run (default: all)")
    parser.add_argument("--runs", type=int, default=3, help="paired runs per figure (default 3)")
    parser.add_argument("--no-write", action="store_true", help="print the table but leave bench/README.md as it is")
    options = parser.parse_args()
    unknown = set(options.only) - {name for name, _, _ in STEPS}
    if unknown:
        raise SystemExit(f"Unknown step(s): {', '.join(sorted(unknown))}. Steps: {', '.join(dict.fromkeys(n for n, _, _ in STEPS))}")
    preflight()
    steps = [step for step in STEPS if not options.only or step[0] in options.only]
    if not options.only:  # a whole run replaces the whole table
        shutil.rmtree(RESULTS_DIR, ignore_errors=True)
    failed, started = [], time.monotonic()
    for name, module, arguments in steps:
        command = [sys.executable, "-m", module, *arguments, "--runs", str(options.runs)]
        print(f"\n==> {' '.join(command[1:])}", flush=True)
        step_started = time.monotonic()
        if subprocess.run(command, cwd=BASE_DIR).returncode != 0:
            failed.append(" ".join(command[2:]))
        print(f"    ({time.monotonic() - step_started:.0f} s)", flush=True)
    print(f"\n==> all steps in {(time.monotonic() - started) / 60:.1f} minutes\n", flush=True)
    subprocess.run([sys.executable, "-m", "bench.report", *([] if options.no_write else ["--write"])], cwd=BASE_DIR)
    if failed:
        raise SystemExit("These steps failed (their output is above):\n  " + "\n  ".join(failed))


if __name__ == "__main__":
    main()
