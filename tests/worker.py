"""Running the background worker inside a test, and the settings it runs with: e-mails kept in
memory, tasks queued in the database as in the portal. The fixtures built on these
(`locmem_mail`, `database_tasks`) are in tests/conftest.py."""

import signal
import subprocess
import time

import pytest
from django.core.management import call_command
from django_tasks_db.management.commands import db_worker

LOCMEM_MAIL = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}


def use_database_tasks(settings):
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}


def run_worker():
    """Run every queued task with django-tasks-db's own worker, as `make run` does, then return.

    Two things a real worker does that a test process must not: it closes "old" database
    connections between tasks (inside a test's transaction that is the test's own connection;
    Django's test client switches the same thing off), and it installs its own SIGINT/SIGTERM
    handlers (put back afterwards).
    """
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGQUIT)}
    original_close = db_worker.close_old_connections
    db_worker.close_old_connections = lambda **kwargs: None
    try:
        call_command("db_worker", batch=True, reload=False, startup_delay=False, interval=0, verbosity=0)
    finally:
        db_worker.close_old_connections = original_close
        for sig, handler in saved.items():
            signal.signal(sig, handler)


# Real worker processes (the killed-worker tests on PostgreSQL).


def stop(worker: subprocess.Popen) -> None:
    """Stop a worker process: politely, then not."""
    if worker.poll() is None:
        worker.terminate()
        try:
            worker.wait(timeout=15)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait(timeout=5)


def wait_until(condition, *, seconds: float, what: str, every: float = 0.2, logs=()) -> None:
    """Wait for `condition()`; fail with the tail of each worker's log if it never comes."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            tails = "\n".join(f"--- {log.name}\n{log.read_text()[-3000:]}" for log in logs if log.exists())
            pytest.fail(f"Gave up after {seconds} s waiting for {what}.\n{tails}")
        time.sleep(every)
