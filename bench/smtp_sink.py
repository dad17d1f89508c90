"""A local SMTP server that takes every message and notes who it was for: the benchmarks' mail server.

Both sides of an e-mail benchmark (the portal, and Django sending the same messages by itself)
talk to the same sink, so whatever it costs is a fixed cost both share: it parses nothing,
checks nothing, and per recipient only appends one line, "<address>\t<bytes>", to a log file
(line-buffered, so a line is written before the client hears 250). The byte count is on the
message's first recipient's line, 0 on the others, so the column adds up to the bytes received.

In the benchmark's own process (a thread; it then shares the GIL with the sender):

    with sink(log_path, process=False) as server:
        ... EMAIL_HOST=server.host, EMAIL_PORT=server.port ...
        mark = server.log.mark()
        ... send ...
        counts, total_bytes = server.log.read(since=mark)

As a process of its own, which is what the benchmarks use (`sink(log_path)`, the default), or
by hand:

    .venv/bin/python -m bench.smtp_sink --port 2525 --log var/bench/sink.log
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import threading
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bench.common import stop

HOST = "127.0.0.1"


class SinkLog:
    """The sink's log file: where it is now, and who was sent what since then."""

    def __init__(self, path: Path):
        self.path = Path(path)

    def mark(self) -> int:
        """The log's size now: pass it to read() to count only what arrives after."""
        return self.path.stat().st_size if self.path.exists() else 0

    def read(self, since: int = 0) -> tuple[Counter, int]:
        """Messages per recipient address, and bytes received, since `since`."""
        counts, total = Counter(), 0
        with self.path.open("rb") as log:
            log.seek(since)
            for line in log:
                address, _, size = line.rstrip(b"\n").partition(b"\t")
                counts[address.decode()] += 1
                total += int(size or 0)
        return counts, total


class _Handler:
    """Takes every message: one log line per recipient, written before the 250 goes back."""

    def __init__(self, path: Path):
        self._log = open(path, "a", buffering=1, encoding="utf-8")  # noqa: SIM115 - lives as long as the server
        self._lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        size = len(envelope.original_content or envelope.content or b"")
        lines = "".join(
            f"{address}\t{size if index == 0 else 0}\n" for index, address in enumerate(envelope.rcpt_tos)
        )
        with self._lock:
            self._log.write(lines)
        return "250 OK"

    def close(self) -> None:
        self._log.close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def serve_in_thread(path: Path, port: int = 0):
    """Start the sink on a thread of this process; returns (controller, handler). Stop both."""
    from aiosmtpd.controller import Controller

    handler = _Handler(path)
    # No size limit, no SMTPUTF8 checks, no decoding: the least a server can do and still be SMTP.
    controller = Controller(
        handler, hostname=HOST, port=port or free_port(), data_size_limit=0, decode_data=False, ready_timeout=10
    )
    controller.start()
    return controller, handler


@dataclass
class RunningSink:
    host: str
    port: int
    log: SinkLog

    @property
    def environment(self) -> dict[str, str]:
        """The portal's mail settings (portal/settings.py) that point it at this sink."""
        return {"EMAIL_HOST": self.host, "EMAIL_PORT": str(self.port), "EMAIL_USE_TLS": "0"}

    @property
    def mailers(self) -> dict:
        """The same, as a MAILERS setting, for a process whose settings are loaded already."""
        return {
            "default": {
                "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
                "OPTIONS": {"host": self.host, "port": self.port, "use_tls": False, "timeout": 30},
            }
        }


@contextmanager
def sink(log_path: Path, *, process: bool = True):
    """A running sink writing to `log_path` (emptied first): in its own process by default."""
    log_path = Path(log_path)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log_path.write_text("")
    if not process:
        controller, handler = serve_in_thread(log_path)
        try:
            yield RunningSink(HOST, controller.port, SinkLog(log_path))
        finally:
            controller.stop()
            handler.close()
        return
    child = subprocess.Popen(
        [sys.executable, "-m", "bench.smtp_sink", "--port", "0", "--log", str(log_path)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parent.parent,
    )
    try:
        ready = child.stdout.readline().split()  # "listening 127.0.0.1 <port>"
        if len(ready) != 3 or ready[0] != "listening":
            raise RuntimeError(f"The SMTP sink did not start (it said {ready!r}).")
        yield RunningSink(ready[1], int(ready[2]), SinkLog(log_path))
    finally:
        stop(child, timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description="A local SMTP server that takes everything and logs recipients.")
    parser.add_argument("--port", type=int, default=2525, help="0 for any free port (printed on start)")
    parser.add_argument("--log", type=Path, required=True, help="one line per recipient is appended here")
    args = parser.parse_args()
    controller, handler = serve_in_thread(args.log, args.port)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    print(f"listening {HOST} {controller.port}", flush=True)
    try:
        done.wait()
    finally:
        controller.stop()
        handler.close()
        os._exit(0)


if __name__ == "__main__":
    main()
