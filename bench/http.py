"""Load from a second process: gunicorn serving the portal, wrk driving it over 127.0.0.1.

    with serve(env, workers=2) as base_url:
        result = wrk(base_url + "/bench-floor/page/", connections=8, duration=5)
        result.requests_per_s, result.p95_ms, result.p99_ms

`serve` runs gunicorn (sync workers, as in production: see the README) with the settings and
the throwaway database `bench.common.start()` set up (bench.settings unless a benchmark chose
others); `wrk` runs Debian's wrk with a Lua hook that prints the latency percentiles wrk
itself does not (p95) as one JSON line.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from .common import BASE_DIR, stop

GUNICORN = Path(sys.executable).parent / "gunicorn"

DONE_HOOK = r"""
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests": %d, "duration_us": %d, "p50_us": %d, "p95_us": %d, "p99_us": %d, ' ..
    '"max_us": %d, "connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(95),
    latency:percentile(99), latency.max, e.connect, e.read, e.write, e.status, e.timeout))
end
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def serve(env: dict[str, str], *, workers: int = 2, ready_path: str = "/bench-floor/page/"):
    """gunicorn with `workers` sync workers on a free loopback port; yields its base URL."""
    port = free_port()
    log = tempfile.NamedTemporaryFile(prefix="bench-gunicorn-", suffix=".log", delete=False)
    process = subprocess.Popen(
        [str(GUNICORN), "portal.wsgi:application", "--workers", str(workers), "--bind", f"127.0.0.1:{port}",
         "--worker-class", "sync", "--timeout", "120", "--log-level", "warning"],
        cwd=BASE_DIR, env={"DJANGO_SETTINGS_MODULE": "bench.settings", **env}, stdout=log, stderr=log,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {process.returncode}: {Path(log.name).read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(base_url + ready_path, timeout=5) as response:
                    if response.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"gunicorn did not answer within 60 s: {Path(log.name).read_text()[-2000:]}")
            time.sleep(0.2)
        yield base_url
    finally:
        stop(process)
        Path(log.name).unlink(missing_ok=True)


@dataclass
class WrkResult:
    requests: int
    seconds: float
    requests_per_s: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    errors: int  # connect, read, write errors and timeouts
    non_2xx_3xx: int

    def __str__(self) -> str:
        return (f"{self.requests_per_s:.1f} req/s ({self.requests} in {self.seconds:.1f} s), p50 {self.p50_ms:.1f} ms, "
                f"p95 {self.p95_ms:.1f} ms, p99 {self.p99_ms:.1f} ms, errors {self.errors}, non-2xx/3xx {self.non_2xx_3xx}")


def wrk(url: str, *, connections: int = 8, duration: float = 5, threads: int = 2,
        headers: dict[str, str] | None = None, lua: str = "") -> WrkResult:
    """Run wrk against `url`; `lua` may define init/setup/request/response (not done)."""
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed: `apt-get install wrk` (make bench does this).")
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(lua + "\n" + DONE_HOOK)
    command = ["wrk", "--threads", str(min(threads, connections)), "--connections", str(connections),
               "--duration", f"{duration}s", "--timeout", "10s", "--script", script.name]
    for name, value in (headers or {}).items():
        command += ["--header", f"{name}: {value}"]
    try:
        output = subprocess.run(command + [url], capture_output=True, text=True, check=True).stdout
    finally:
        Path(script.name).unlink(missing_ok=True)
    line = next((line for line in output.splitlines() if line.startswith("WRK_JSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no summary:\n{output}")
    data = json.loads(line.removeprefix("WRK_JSON "))
    seconds = data["duration_us"] / 1e6
    return WrkResult(
        requests=data["requests"],
        seconds=seconds,
        requests_per_s=data["requests"] / seconds,
        p50_ms=data["p50_us"] / 1000,
        p95_ms=data["p95_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        max_ms=data["max_us"] / 1000,
        errors=data["connect"] + data["read"] + data["write"] + data["timeout"],
        non_2xx_3xx=data["status"],
    )


def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, str]:
    """One plain request, not following redirects: to check a page is the real one before loading it."""

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(urllib.request.Request(url, headers=headers or {}), timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(errors="replace")
