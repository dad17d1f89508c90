"""Scale-out on PostgreSQL: a bulk send of 5,000 invitations through two web processes and two workers.

Two gunicorn processes (bench.http.serve, twice) and task workers (`manage.py db_worker`, as
`make run` starts one) run against one PostgreSQL, with the SMTP sink (bench/smtp_sink.py) as a
process of its own. A member of staff, signed in with the second factor verified (a real session
row, as django_otp.login leaves it), sends invitations to every carer of a school of --emails
(5,000) through the real send page on the first gunicorn: a GET for the form's CSRF token, then
the confirming POST, which queues the batch and its sending tasks (sending.invitations:
one task per SENDER_SHARE e-mails, so that several workers share a batch). Timed from the POST
until the batch's outbox is drained (no row pending or sending); the batch page is then fetched
from the second gunicorn. At the sink, each of the 5,000 addresses must have had exactly one
message. Then the same with one worker, on a second school of the same size.

Figure scale-out-postgres: messages/s with two workers; "floor" is the same with one worker, so
the ratio (two ÷ one) says how throughput changes (for information: the machine has 2 cores,
shared by both gunicorns, the workers, the sink and PostgreSQL). Checks: no carer missed, no
carer e-mailed twice, in either run.

    .venv/bin/python -m bench.scale_out
    .venv/bin/python -m bench.scale_out --emails 1000
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from bench.common import BASE_DIR, Check, Figure, Spread, arguments, record, start, stop
from bench.emails import school_with_carers
from bench.http import serve
from bench.smtp_sink import sink

DRAIN_TIMEOUT = 600  # seconds


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def _request(url: str, *, cookies: dict[str, str], data: dict | None = None) -> tuple[int, str, dict[str, str]]:
    """One request with these cookies, redirects not followed: status, body, cookies set."""
    body = urllib.parse.urlencode(data).encode() if data is not None else None
    cookie = "; ".join(f"{name}={value}" for name, value in cookies.items())
    request = urllib.request.Request(url, data=body, headers={"Cookie": cookie})
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        response = opener.open(request, timeout=120)
    except urllib.error.HTTPError as error:
        response = error
    set_cookies = {}
    for header in response.headers.get_all("Set-Cookie") or []:
        name, _, rest = header.partition("=")
        set_cookies[name.strip()] = rest.split(";", 1)[0]
    return response.status, response.read().decode(errors="replace"), set_cookies


def staff_session(user) -> dict[str, str]:
    """A session for `user` past the password and the second factor, saved in the database as a
    sign-in leaves it: the cookies a browser would then send."""
    from django.conf import settings
    from django.test import Client
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = TOTPDevice.objects.create(user=user, name="Bench authenticator", confirmed=True)
    client = Client()
    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return {settings.SESSION_COOKIE_NAME: session.session_key}


def start_workers(env: dict[str, str], count: int) -> list[subprocess.Popen]:
    command = [sys.executable, "manage.py", "db_worker", "--no-reload", "--no-startup-delay", "--interval", "0.2"]
    return [
        subprocess.Popen(command, cwd=BASE_DIR, env={**env, "DJANGO_SETTINGS_MODULE": "bench.settings"},
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(count)
    ]


def stop_workers(workers: list[subprocess.Popen]) -> None:
    stop(*workers, timeout=60)  # one SIGTERM each: a worker finishes the task in hand, then exits


def one_send(*, number: int, emails: int, workers: int, env, web, other_web, server) -> tuple[float, int, int]:
    """Staff send to every carer of a fresh school through `web`; `workers` workers send. Returns
    messages/s, carers missed and e-mails beyond one per carer, at the sink."""
    from schools.models import StaffRole
    from sending.models import OutboxMessage, SendBatch

    school, _, carers = school_with_carers(number, emails)
    staff = StaffRole.objects.get(organisation=school, role="headteacher").user
    cookies = staff_session(staff)
    send_url = f"{web}/staff/sending/{school.slug}/send/"
    status, page, set_cookies = _request(send_url, cookies=cookies)
    assert status == 200, (status, page[:1000])
    cookies.update(set_cookies)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    running = start_workers(env, workers)
    try:
        time.sleep(2)  # the workers are up and polling, as they are when staff send
        mark = server.log.mark()
        started = time.perf_counter()
        status, page, _ = _request(
            send_url, cookies=cookies,
            data={"csrfmiddlewaretoken": token, "audience": "all-unsigned", "confirmed": "yes"},
        )
        assert status == 302, (status, page[:2000])
        batch = SendBatch.objects.get(school=school)
        waiting = OutboxMessage.objects.filter(batch=batch, status__in=["pending", "sending"])
        while waiting.exists():
            if time.perf_counter() - started > DRAIN_TIMEOUT:
                raise SystemExit(f"The outbox was not drained in {DRAIN_TIMEOUT} s.")
            time.sleep(0.1)
        elapsed = time.perf_counter() - started
    finally:
        stop_workers(running)
    status, page, _ = _request(f"{other_web}/staff/sending/{school.slug}/batches/{batch.pk}/", cookies=cookies)
    assert status == 200, (status, page[:1000])
    counts, _ = server.log.read(mark)
    expected = {carer.email for carer in carers}
    missing = sum(1 for address in expected if counts[address] == 0)
    duplicates = sum(count - 1 for count in counts.values() if count > 1) + sum(
        count for address, count in counts.items() if address not in expected
    )
    sent = OutboxMessage.objects.filter(batch=batch, status="sent").count()
    print(f"  {workers} worker{'s' if workers != 1 else ''}: {emails} e-mails in {elapsed:.1f} s "
          f"({emails / elapsed:.0f}/s); rows sent {sent}; missed {missing}, twice or more {duplicates}", flush=True)
    return emails / elapsed, missing, duplicates


def main() -> None:
    parser = arguments(__doc__.splitlines()[0])
    parser.add_argument("--emails", type=int, default=5000, help="carers e-mailed per send (default 5,000)")
    parser.set_defaults(db="postgres", runs=1)
    args = parser.parse_args()
    if args.db != "postgres":
        raise SystemExit("Scale-out is measured on PostgreSQL only (one database, several processes).")
    log = Path(tempfile.mkdtemp(prefix="bench-sink-")) / "sink.log"
    with sink(log) as server:
        os.environ.update(server.environment)  # workers, like this process, send to the sink
        env = start("postgres")
        print(f"Scale-out, {args.emails} invitations, two gunicorn processes, postgres:", flush=True)
        two, one, missing, duplicates = [], [], 0, 0
        with serve(env, workers=1) as first, serve(env, workers=1) as second:
            number = 100
            for _ in range(args.runs):
                for workers, results in ((2, two), (1, one)):
                    number += 1
                    rate, missed, twice = one_send(
                        number=number, emails=args.emails, workers=workers, env=env, web=first, other_web=second,
                        server=server,
                    )
                    results.append(rate)
                    missing, duplicates = missing + missed, duplicates + twice
    ratios = [a / b for a, b in zip(two, one)]
    record(
        Figure(
            id="scale-out-postgres",
            title=f"Bulk send of {args.emails} invitations, two workers (two gunicorn processes)",
            db="postgres",
            unit="messages/s",
            floor_name="the same send with one worker",
            measured=Spread.of(two),
            floor=Spread.of(one),
            ratio=Spread.of(ratios),
            budget="each carer e-mailed exactly once (ratio two ÷ one workers for information)",
            checks=[
                Check("carers not e-mailed", missing, 1, "carers"),
                Check("e-mails beyond one per carer", duplicates, 1, "e-mails"),
            ],
            notes="Timed from the staff's confirming POST to an empty outbox; 2 cores shared by every process.",
        )
    )


if __name__ == "__main__":
    main()
