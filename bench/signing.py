"""The parent's two requests under load: the signing page (GET) and the signature (POST).

    .venv/bin/python -m bench.signing --db sqlite
    .venv/bin/python -m bench.signing --db postgres

One school with the Halton code (the longest of the seeds' shared codes) in force, and carers
each holding a signing session (as if they had opened their e-mailed link). gunicorn with two
sync workers serves the portal; wrk, a second process on 127.0.0.1, drives it with 8
connections. In each run the floor is measured first, then the portal:

- GET /sign/ (the whole code, the declaration naming the carer's child, the form), each request
  a different carer's session, against the floor GET /bench-floor/page/ (a 5 KB template);
  budget ≥ 0.8× the floor's requests/s, and p99 < 50 ms.
- POST /sign/ (CSRF-checked; locks the signing request, inserts the declaration, its audit event
  and the confirmation e-mail's outbox row, queues the PDF), each request a different carer
  signing for the first time, against the floor POST /bench-floor/insert/ (one 8-field row);
  budget ≥ 0.5× the floor's requests/s. Afterwards the number of declarations is checked against
  the number of requests wrk made: every 303 was a real signature.
"""

from __future__ import annotations

import datetime
import secrets
import tempfile
from pathlib import Path

from django.utils.crypto import get_random_string

from .common import Check, arguments, families, figure_from_pairs, paired, record, start
from .http import get, serve, wrk

CONNECTIONS = 8
DURATION = 5
POOL_PER_RUN = 4000  # more carers than any run signs; checked after each run

ROTATE = r"""
local counter = 0
setup = function(thread)
  thread:set("id", counter)
  counter = counter + 1
end
init = function(args)
  sessions = {}
  for line in io.lines("%(pool)s") do sessions[#sessions + 1] = line end
  i = id
end
request = function()
  local n = (i %% #sessions) + 1
  i = i + %(threads)d
  local session, carer = sessions[n]:match("(%%S+) (%%S+)")
  local headers = {["Cookie"] = "sessionid=" .. session .. "; csrftoken=%(csrf)s"}
  if "%(method)s" == "GET" then
    return wrk.format("GET", "%(path)s", headers)
  end
  headers["Content-Type"] = "application/x-www-form-urlencoded"
  local body = "csrfmiddlewaretoken=%(csrf)s&typed_name=Parent+" .. carer .. "&agreed=on&version=%(version)d&carer=" .. carer
  return wrk.format("POST", "%(path)s", headers, body)
end
"""


def rotating(*, pool: Path, path: str, method: str, csrf: str, version: int = 0, threads: int = 2) -> str:
    return ROTATE % {"pool": pool, "path": path, "method": method, "csrf": csrf, "version": version, "threads": threads}


def school_with_code():
    from django.conf import settings
    from django.utils import timezone

    from codes import services
    from codes.models import Code
    from schools.models import Organisation

    school = Organisation.objects.create(kind="school", name="Bench Primary School", slug="bench-primary")
    code = Code.objects.create(owner=school)
    body = (Path(settings.BASE_DIR) / "codes" / "seed_data" / "halton-code.md").read_text()
    draft = services.version_create_first(code=code, user=None, body=body)
    version = services.version_publish(version=draft, user=None, effective_from=timezone.localdate() - datetime.timedelta(days=1))
    return school, version


def carers_with_sessions(school, version, n: int, start_at: int) -> list[tuple[str, int]]:
    """n carers, each with a child, a live signing request and a signing session; (session key, carer id)."""
    from django.contrib.sessions.backends.db import SessionStore
    from django.contrib.sessions.models import Session
    from django.utils import timezone

    from declarations.models import SigningRequest
    from declarations.session import SESSION_KEY

    _, carers = families(school, n, start=start_at, year_group="4", reg_group="4B")
    now = timezone.now()
    requests = SigningRequest.objects.bulk_create(
        SigningRequest(school=school, carer=c, version=version, token_hash=secrets.token_hex(32), issued_at=now,
                       expires_at=now + datetime.timedelta(days=60), sent_at=now, opened_at=now)
        for c in carers
    )
    store = SessionStore()
    sessions = [
        Session(session_key=store._get_new_session_key(), expire_date=now + datetime.timedelta(days=1),
                session_data=store.encode({SESSION_KEY: {"request": r.pk, "link": r.token_hash}}))
        for r in requests
    ]
    Session.objects.bulk_create(sessions)
    return [(s.session_key, c.pk) for s, c in zip(sessions, carers)]


def pool_file(rows: list[tuple[str, int]]) -> Path:
    with tempfile.NamedTemporaryFile("w", prefix="bench-sessions-", suffix=".txt", delete=False) as file:
        file.writelines(f"{session} {carer}\n" for session, carer in rows)
    return Path(file.name)


def main():
    options = arguments(__doc__.splitlines()[0]).parse_args()
    env = start(options.db)
    from declarations.models import Declaration

    school, version = school_with_code()
    csrf = get_random_string(32)  # a CSRF secret as Django makes them (letters and digits)
    readers = pool_file(carers_with_sessions(school, version, 500, 0))
    with serve(env, workers=2) as base:
        # The page really is the signing page, with the whole code, before it is loaded.
        session = readers.read_text().split()[0]
        status, html = get(base + "/sign/", {"Cookie": f"sessionid={session}"})
        assert status == 200 and "I agree" in html and "Sam Family0" in html, (status, html[:500])
        print(f"signing page: {len(html) / 1024:.1f} KiB; floor page: {len(get(base + '/bench-floor/page/')[1]) / 1024:.1f} KiB")
        wrk(base + "/bench-floor/page/", duration=1)  # warm both workers up
        wrk(base + "/sign/", duration=1, lua=rotating(pool=readers, path="/sign/", method="GET", csrf=csrf))

        gets, get_floor = [], []

        def page():
            result = wrk(base + "/sign/", connections=CONNECTIONS, duration=DURATION,
                         lua=rotating(pool=readers, path="/sign/", method="GET", csrf=csrf))
            assert result.errors == 0 and result.non_2xx_3xx == 0, result
            gets.append(result)
            return result.requests_per_s

        def page_floor():
            result = wrk(base + "/bench-floor/page/", connections=CONNECTIONS, duration=DURATION,
                         headers={"Cookie": f"csrftoken={csrf}"})
            assert result.errors == 0 and result.non_2xx_3xx == 0, result
            get_floor.append(result)
            return result.requests_per_s

        print(f"GET /sign/ vs the 5 KB template, {CONNECTIONS} connections, {DURATION} s a run:")
        measured, floors = paired(page, page_floor, options.runs)
        p99 = sorted(r.p99_ms for r in gets)[len(gets) // 2]
        record(figure_from_pairs(
            id=f"signing-get-{options.db}", title="Parent signing page, GET", db=options.db, unit="requests/s",
            floor_name="a Django view rendering a 5 KB template", budget="≥ 0.8× floor; p99 < 50 ms at 8 connections",
            ratio_limit=0.8, measured=measured, floors=floors,
            checks=[Check("p99 at 8 connections (median of runs)", p99, 50, "ms")],
            notes=f"p99 per run: {', '.join(f'{r.p99_ms:.1f}' for r in gets)} ms; floor p99: "
                  f"{', '.join(f'{r.p99_ms:.1f}' for r in get_floor)} ms. Page {len(html) / 1024:.1f} KiB.",
        ))

        posts, post_floor, offset = [], [], [500]

        def submit():
            rows = carers_with_sessions(school, version, POOL_PER_RUN, offset[0])
            offset[0] += POOL_PER_RUN
            pool = pool_file(rows)
            before = Declaration.objects.count()
            result = wrk(base + "/sign/", connections=CONNECTIONS, duration=DURATION,
                         lua=rotating(pool=pool, path="/sign/", method="POST", csrf=csrf, version=version.pk))
            pool.unlink()
            made = Declaration.objects.count() - before
            assert result.errors == 0 and result.non_2xx_3xx == 0, result
            if result.requests > POOL_PER_RUN:
                raise SystemExit(f"{result.requests} signatures in a run but only {POOL_PER_RUN} carers: raise POOL_PER_RUN")
            # wrk may cut the last requests off mid-flight when the run ends: they were made or not.
            assert result.requests <= made <= result.requests + CONNECTIONS, (result.requests, made)
            posts.append((result, made))
            return made / result.seconds

        def submit_floor():
            from bench.floor.models import FloorRow

            pool = pool_file([("none", i) for i in range(POOL_PER_RUN)])
            before = FloorRow.objects.count()
            result = wrk(base + "/bench-floor/insert/", connections=CONNECTIONS, duration=DURATION,
                         lua=rotating(pool=pool, path="/bench-floor/insert/", method="POST", csrf=csrf))
            pool.unlink()
            assert result.errors == 0 and result.non_2xx_3xx == 0, result
            made = FloorRow.objects.count() - before
            post_floor.append(result)
            return made / result.seconds

        print(f"POST /sign/ vs a view inserting one 8-field row, {CONNECTIONS} connections, {DURATION} s a run:")
        measured, floors = paired(submit, submit_floor, options.runs)
        record(figure_from_pairs(
            id=f"signing-post-{options.db}", title="Signature submit, POST", db=options.db, unit="declarations/s",
            floor_name="a view inserting one 8-field row", budget="≥ 0.5× floor", ratio_limit=0.5,
            measured=measured, floors=floors,
            notes=f"Declarations made per run (checked in the database): {', '.join(str(m) for _, m in posts)}; "
                  f"p99 per run: {', '.join(f'{r.p99_ms:.1f}' for r, _ in posts)} ms; floor p99: "
                  f"{', '.join(f'{r.p99_ms:.1f}' for r in post_floor)} ms.",
        ))


if __name__ == "__main__":
    main()
