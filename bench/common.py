"""What every benchmark shares: a throwaway database, timing against a floor, and the results file.

A benchmark script is run as a module from the project folder, against SQLite or PostgreSQL:

    .venv/bin/python -m bench.signing --db sqlite
    .venv/bin/python -m bench.signing --db postgres

`bench.common.start(db)` makes a throwaway database (a temporary SQLite file, or a new PostgreSQL
database on 127.0.0.1:5432 that is dropped at exit), points DATABASE_URL at it, sets Django up
with `bench.settings` and migrates. Nothing of yours is touched.

Each figure is measured beside its floor in the same run: `paired(measure, floor, runs)` calls
the two alternately, `runs` times, and the ratio of each pair is what is judged, so a machine
that slows down for a while slows both. `record()` writes the figure to var/bench/<id>.json;
`python -m bench.report` turns every figure there into the table in bench/README.md.
"""

from __future__ import annotations

import argparse
import atexit
import datetime
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
RESULTS_DIR = BASE_DIR / "var" / "bench"
PG_SERVER = os.environ.get("BENCH_POSTGRES", "postgres://postgres@127.0.0.1:5432")


def arguments(description: str, **extra) -> argparse.ArgumentParser:
    """The options every benchmark takes: which database, how many runs."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--runs", type=int, default=3, help="paired runs of figure and floor (default 3, at least 3)")
    return parser


def _psql(*args: str) -> None:
    subprocess.run(["psql", PG_SERVER + "/postgres", "-v", "ON_ERROR_STOP=1", "-qc", *args], check=True,
                   stdout=subprocess.DEVNULL)


def throwaway_database(db: str) -> str:
    """A new empty database of the kind asked for; its URL. Removed when this process exits."""
    if db == "sqlite":
        folder = Path(tempfile.mkdtemp(prefix="bench-db-"))
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        return f"sqlite:///{folder / 'bench.sqlite3'}"
    name = f"portal_bench_{os.getpid()}_{int(time.time())}"
    _psql(f"CREATE DATABASE {name}")

    def drop():
        from django.db import connections

        connections.close_all()
        _psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    atexit.register(drop)
    return f"{PG_SERVER}/{name}"


def start(db: str, *, media: bool = True, settings: str = "bench.settings") -> dict[str, str]:
    """Make a throwaway database (and media folder), set Django up on it with `settings` and migrate.

    Returns the environment a child process (gunicorn, a worker) needs to use the same ones.
    """
    os.environ["DATABASE_URL"] = throwaway_database(db)
    os.environ["DJANGO_SETTINGS_MODULE"] = settings
    if media:
        folder = Path(tempfile.mkdtemp(prefix="bench-media-"))
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        os.environ["DJANGO_MEDIA_ROOT"] = str(folder)
    if str(BASE_DIR) not in sys.path:
        sys.path.insert(0, str(BASE_DIR))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", run_syncdb=True, verbosity=0)
    return child_environment()


def child_environment() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(BASE_DIR) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def families(school, n: int, *, start: int = 0, year_group: str = "5", reg_group: str = "5B"):
    """n carers at `school`, each with parental responsibility for one child on roll, made with
    bulk inserts (benchmarks set families up; they do not measure that). Carer i is Alex
    Family<i> <parent<i>@<school slug>.example.org>, their child Sam Family<i>. (pupils, carers)."""
    from schools.models import Carer, Pupil, PupilCarer

    numbers = range(start, start + n)
    pupils = Pupil.objects.bulk_create(
        Pupil(school=school, mis_id=f"P{i:06d}", forename="Sam", surname=f"Family{i}", year_group=year_group,
              reg_group=reg_group)
        for i in numbers
    )
    carers = Carer.objects.bulk_create(
        Carer(school=school, mis_id=f"C{i:06d}", forename="Alex", surname=f"Family{i}",
              email=f"parent{i}@{school.slug}.example.org")
        for i in numbers
    )
    PupilCarer.objects.bulk_create(
        PupilCarer(pupil=pupil, carer=carer, parental_responsibility=True, priority=1)
        for pupil, carer in zip(pupils, carers)
    )
    return pupils, carers


def stop(*processes: subprocess.Popen, timeout: float = 30) -> None:
    """Ask child processes to stop (SIGTERM: gunicorn and a task worker finish what is in hand),
    all at once, then wait for each; kill one that will not stop within `timeout` seconds."""
    for process in processes:
        if process.poll() is None:
            process.terminate()
    for process in processes:
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@dataclass
class Spread:
    median: float
    min: float
    max: float
    runs: list[float]

    @classmethod
    def of(cls, values: list[float]) -> Spread:
        return cls(statistics.median(values), min(values), max(values), list(values))


def timed(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def paired(measure: Callable[[], float], floor: Callable[[], float], runs: int) -> tuple[list[float], list[float]]:
    """Call floor and measure alternately, `runs` times each (floor first); their values."""
    if runs < 3:
        raise SystemExit("--runs must be at least 3: a median of fewer says little on a shared machine.")
    measured, floors = [], []
    for run in range(runs):
        floors.append(floor())
        measured.append(measure())
        print(f"  run {run + 1}/{runs}: figure {measured[-1]:.4g}, floor {floors[-1]:.4g}", flush=True)
    return measured, floors


@dataclass
class Check:
    """An absolute limit beside the ratio (p99 < 50 ms, peak memory < 250 MB)."""

    name: str
    value: float
    limit: float
    unit: str
    below: bool = True  # the value must be below the limit (else at least it)

    @property
    def ok(self) -> bool:
        return self.value < self.limit if self.below else self.value >= self.limit


@dataclass
class Figure:
    id: str  # e.g. "signing-get-sqlite": one file per figure and database
    title: str
    db: str
    unit: str  # of the figure and its floor, e.g. "requests/s", "s"
    floor_name: str
    measured: Spread | None
    floor: Spread | None
    ratio: Spread | None  # figure ÷ floor, run by run
    budget: str  # in words, e.g. "≥ 0.8× floor"
    ratio_limit: float | None = None
    higher_is_better: bool = True  # for the ratio: ≥ limit when True, ≤ limit when False
    checks: list[Check] = field(default_factory=list)
    notes: str = ""
    measured_at: str = ""

    @property
    def ok(self) -> bool:
        ratio_ok = True
        if self.ratio_limit is not None and self.ratio is not None:
            ratio_ok = (
                self.ratio.median >= self.ratio_limit if self.higher_is_better else self.ratio.median <= self.ratio_limit
            )
        return ratio_ok and all(check.ok for check in self.checks)


def figure_from_pairs(
    *, measured: list[float], floors: list[float], **kwargs
) -> Figure:
    """A Figure whose ratio is taken pair by pair (figure ÷ floor of the same run)."""
    ratios = [m / f for m, f in zip(measured, floors)]
    return Figure(measured=Spread.of(measured), floor=Spread.of(floors), ratio=Spread.of(ratios), **kwargs)


def record(figure: Figure) -> Figure:
    """Save the figure to var/bench/<id>.json and print it in one line."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    figure.measured_at = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    data = asdict(figure)
    data["ok"] = figure.ok
    for check in data["checks"]:
        check["ok"] = Check(**{k: v for k, v in check.items() if k != "ok"}).ok
    (RESULTS_DIR / f"{figure.id}.json").write_text(json.dumps(data, indent=2))
    print(describe(data), flush=True)
    return figure


def describe(data: dict) -> str:
    parts = [f"{data['title']} [{data['db']}]"]
    if data["measured"]:
        m = data["measured"]
        parts.append(f"{m['median']:.4g} {data['unit']} (min {m['min']:.4g}, max {m['max']:.4g})")
    if data["floor"]:
        parts.append(f"floor {data['floor']['median']:.4g} {data['unit']}")
    if data["ratio"]:
        r = data["ratio"]
        parts.append(f"ratio {r['median']:.2f}× (min {r['min']:.2f}, max {r['max']:.2f})")
    for check in data["checks"]:
        parts.append(f"{check['name']} {check['value']:.4g} {check['unit']} ({'<' if check['below'] else '≥'} {check['limit']:g})")
    parts.append(f"budget {data['budget']}: {'met' if data['ok'] else 'MISSED'}")
    return "; ".join(parts)
