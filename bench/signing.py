"""The parent's two requests under load, beside the Python peer: the signing page (GET) and the signature (POST).

    .venv/bin/python -m bench.signing --db postgres
    .venv/bin/python -m bench.signing --db sqlite

One school with the Halton code (the longest of the seeds' shared codes) in force, and carers
each holding a signing session (as if they had opened their e-mailed link). gunicorn with two
sync workers serves the portal and, in the same processes, the peer django-termsandconditions
(bench/peer/: the same code of conduct as its one terms document, and signed-in users who have
not accepted it); wrk, a second process on 127.0.0.1, drives it with 8 connections. In each run
the peer is measured first, then the portal:

- GET /sign/ (the whole code, the declaration naming the carer's child, the form), each request
  a different carer's session, beside the peer's terms page (the document and its accept form),
  each request a different user's. Budget on PostgreSQL: p99 < 50 ms.
- POST /sign/ (CSRF-checked; locks the signing request, inserts the declaration, its audit event
  and the confirmation e-mail's outbox row, queues the PDF), each request a different carer
  signing for the first time, beside the peer's accept POST (CSRF-checked; one acceptance row),
  each a different user accepting for the first time. Budget on PostgreSQL: p99 < 150 ms.
  Afterwards the rows made are checked against the requests wrk made, on both sides: every
  redirect was a real signature or acceptance.

The ratio to the peer (requests per second, portal ÷ peer) is reported, not judged. On SQLite
both are measured for information: the budgets are on PostgreSQL.
"""

from __future__ import annotations

import datetime
import secrets
import statistics
import tempfile
from pathlib import Path

from django.utils.crypto import get_random_string

from . import peer
from .common import Check, arguments, families, figure_from_pairs, paired, record, start
from .http import get, serve, wrk

CONNECTIONS = 8
DURATION = 5
POOL_PER_RUN = 4000  # more carers than any run signs; checked after each run
PEER_POOL_PER_RUN = 8000  # more users than any run of the peer's accepts; checked likewise
P99_GET_MS, P99_POST_MS = 50, 150

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
  local session, who = sessions[n]:match("(%%S+) (%%S+)")
  local headers = {["Cookie"] = "sessionid=" .. session .. "; csrftoken=%(csrf)s"}
  if "%(method)s" == "GET" then
    return wrk.format("GET", "%(path)s", headers)
  end
  headers["Content-Type"] = "application/x-www-form-urlencoded"
  return wrk.format("POST", "%(path)s", headers, %(body)s)
end
"""


def rotating(*, pool: Path, path: str, method: str, csrf: str, body: str = '""', threads: int = 2) -> str:
    """A wrk script sending each request with the next session of `pool` (lines "session who");
    `body` is a Lua expression for a POST's form data, in which `who` is the line's second word."""
    return ROTATE % {"pool": pool, "path": path, "method": method, "csrf": csrf, "body": body, "threads": threads}


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
        file.writelines(f"{session} {who}\n" for session, who in rows)
    return Path(file.name)


def load(url: str, **lua):
    """One run of wrk at CONNECTIONS connections for DURATION seconds; it must meet no error."""
    result = wrk(url, connections=CONNECTIONS, duration=DURATION, lua=rotating(**lua))
    assert result.errors == 0 and result.non_2xx_3xx == 0, result
    return result


def median_p99(results) -> float:
    return statistics.median(r.p99_ms for r in results)


def p99s(results) -> str:
    return ", ".join(f"{r.p99_ms:.1f}" for r in results)


def budget(db: str, limit: int) -> tuple[str, list]:
    """The budget's words, and whether it is judged (on PostgreSQL only)."""
    if db == "postgres":
        return f"p99 < {limit} ms at {CONNECTIONS} connections (ratio to the peer for information)", [limit]
    return "none on SQLite: measured for information (the p99 budget is on PostgreSQL)", []


def main():
    options = arguments(__doc__.splitlines()[0]).parse_args()
    env = start(options.db, settings="bench.peer.settings")
    from declarations.models import Declaration

    school, version = school_with_code()
    terms = peer.terms_document(name=f"{school.name} code of conduct", markdown=version.body)
    peer_name = f"django-termsandconditions {peer.version()}"
    csrf = get_random_string(32)  # a CSRF secret as Django makes them (letters and digits)
    readers = pool_file(carers_with_sessions(school, version, 500, 0))
    peer_readers = pool_file(peer.users_with_sessions(500, 0))
    with serve(env, workers=2) as base:
        # Each page really is the page, with the whole code, before it is loaded.
        status, html = get(base + "/sign/", {"Cookie": f"sessionid={readers.read_text().split()[0]}"})
        assert status == 200 and "I agree" in html and "Sam Family0" in html, (status, html[:500])
        status, peer_html = get(base + peer.PATH_PAGE, {"Cookie": f"sessionid={peer_readers.read_text().split()[0]}"})
        assert status == 200 and "Please Accept" in peer_html and 'name="terms"' in peer_html, (status, peer_html[:500])
        sizes = f"signing page {len(html) / 1024:.1f} KiB, the peer's {len(peer_html) / 1024:.1f} KiB"
        print(sizes)
        gets, peer_gets = [], []
        get_portal = {"pool": readers, "path": "/sign/", "method": "GET", "csrf": csrf}
        get_peer = {"pool": peer_readers, "path": peer.PATH_PAGE, "method": "GET", "csrf": csrf}
        wrk(base + peer.PATH_PAGE, duration=1, lua=rotating(**get_peer))  # warm both workers up
        wrk(base + "/sign/", duration=1, lua=rotating(**get_portal))

        def page():
            gets.append(load(base + "/sign/", **get_portal))
            return gets[-1].requests_per_s

        def peer_page():
            peer_gets.append(load(base + peer.PATH_PAGE, **get_peer))
            return peer_gets[-1].requests_per_s

        print(f"GET /sign/ beside the peer's GET {peer.PATH_PAGE}, {CONNECTIONS} connections, {DURATION} s a run:")
        measured, peers = paired(page, peer_page, options.runs)
        words, limits = budget(options.db, P99_GET_MS)
        record(figure_from_pairs(
            id=f"signing-get-{options.db}", title="Parent signing page, GET", db=options.db, unit="requests/s",
            floor_name=f"{peer_name}, its terms page (GET), same gunicorn", budget=words, measured=measured,
            floors=peers,
            checks=[Check(f"p99 at {CONNECTIONS} connections (median of runs)", median_p99(gets), limit, "ms")
                    for limit in limits],
            notes=f"p99 per run: {p99s(gets)} ms; the peer's: {p99s(peer_gets)} ms (p99 ratio, portal ÷ peer, "
                  f"{median_p99(gets) / median_p99(peer_gets):.1f}×). Pages: {sizes}.",
        ))

        posts, peer_posts, offset = [], [], [500]

        def submit():
            pool = pool_file(carers_with_sessions(school, version, POOL_PER_RUN, offset[0]))
            offset[0] += POOL_PER_RUN
            before = Declaration.objects.count()
            body = f'"csrfmiddlewaretoken={csrf}&typed_name=Parent+" .. who .. "&agreed=on&version={version.pk}"'
            result = load(base + "/sign/", pool=pool, path="/sign/", method="POST", csrf=csrf, body=body)
            pool.unlink()
            made = Declaration.objects.count() - before
            check_made(result, made, POOL_PER_RUN, "signatures", "POOL_PER_RUN")
            posts.append((result, made))
            return made / result.seconds

        def peer_submit():
            pool = pool_file(peer.users_with_sessions(PEER_POOL_PER_RUN, offset[0]))
            offset[0] += PEER_POOL_PER_RUN
            before = peer.acceptances()
            body = f'"csrfmiddlewaretoken={csrf}&terms={terms.pk}&returnTo=%2F"'
            result = load(base + peer.PATH_ACCEPT, pool=pool, path=peer.PATH_ACCEPT, method="POST", csrf=csrf, body=body)
            pool.unlink()
            made = peer.acceptances() - before
            check_made(result, made, PEER_POOL_PER_RUN, "acceptances", "PEER_POOL_PER_RUN")
            peer_posts.append((result, made))
            return made / result.seconds

        print(f"POST /sign/ beside the peer's POST {peer.PATH_ACCEPT}, {CONNECTIONS} connections, {DURATION} s a run:")
        measured, peers = paired(submit, peer_submit, options.runs)
        words, limits = budget(options.db, P99_POST_MS)
        portal_results, peer_results = [r for r, _ in posts], [r for r, _ in peer_posts]
        record(figure_from_pairs(
            id=f"signing-post-{options.db}", title="Signature submit, POST", db=options.db, unit="declarations/s",
            floor_name=f"{peer_name}, its accept POST (acceptances/s), same gunicorn", budget=words,
            measured=measured, floors=peers,
            checks=[Check(f"p99 at {CONNECTIONS} connections (median of runs)", median_p99(portal_results), limit, "ms")
                    for limit in limits],
            notes=f"Declarations made per run (checked in the database): {', '.join(str(m) for _, m in posts)}; "
                  f"the peer's acceptances: {', '.join(str(m) for _, m in peer_posts)}. p99 per run: "
                  f"{p99s(portal_results)} ms; the peer's: {p99s(peer_results)} ms (p99 ratio, portal ÷ peer, "
                  f"{median_p99(portal_results) / median_p99(peer_results):.1f}×).",
        ))


def check_made(result, made: int, pool: int, what: str, constant: str) -> None:
    """Every request wrk counted made its row: wrk may cut the last ones off mid-flight when the
    run ends (they were made or not), and no session may have been used twice."""
    if result.requests > pool:
        raise SystemExit(f"{result.requests} {what} in a run but only {pool} sessions: raise {constant}")
    assert result.requests <= made <= result.requests + CONNECTIONS, (what, result.requests, made)


if __name__ == "__main__":
    main()
