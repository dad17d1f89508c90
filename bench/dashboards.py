"""The completion dashboards on the scale dataset: a school's, and the association's.

    .venv/bin/python -m bench.dashboards --db postgres

Makes the full scale dataset (`manage.py generate_scale_data`: 50 schools, 25,000 pupils, 40,000
carers, five years of versions, about 150,000 declarations) in the throwaway database, timing it,
and a second, small association beside it (3 schools) to compare query counts with. gunicorn with
two sync workers serves the portal; wrk, a second process on 127.0.0.1, drives it with 8
connections, about 5 s a run. In each run the floor (GET /bench-floor/page/, a 5 KB template) is
measured first, then the dashboard:

- the school dashboard of the largest school, as its headteacher: budget p95 < 150 ms;
- the association dashboard of all 50 schools, as the association admin: budget p95 < 400 ms.

Each is signed in as staff are: a session whose second factor is verified (django-otp keeps the
verified device in the session), made in the database and sent as the session cookie. One plain
request checks each page is the real dashboard before it is loaded. There is no ratio limit: the
ratio to the floor is reported for comparison. Each page must also take the same number of
queries however big the school or association: counted with Django's test client, in this
process, for the smallest and the largest school and for the small and the full association.
"""

from __future__ import annotations

import statistics
import time

from .common import Check, arguments, figure_from_pairs, paired, record, start
from .http import get, serve, wrk

CONNECTIONS = 8
DURATION = 5
SMALL_ASSOCIATION = {"slug": "bench-small-trust", "name": "Bench Small Trust", "schools": 3, "pupils": 300,
                     "carers": 480}


def verified_session(user) -> str:
    """A session key for `user`, signed in with a verified second factor (their authenticator app),
    as schools/mfa.py leaves it after the verify page."""
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.utils.module_loading import import_string
    from django_otp import DEVICE_ID_SESSION_KEY

    from schools import mfa

    device = mfa.authenticator_for(user)
    store = import_string(settings.SESSION_ENGINE + ".SessionStore")()
    store[SESSION_KEY] = str(user.pk)
    store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    store[HASH_SESSION_KEY] = user.get_session_auth_hash()
    store[DEVICE_ID_SESSION_KEY] = device.persistent_id
    store.create()
    return store.session_key


def user_of(organisation, role):
    from schools.models import StaffRole

    return StaffRole.objects.get(organisation=organisation, role=role).user


def queries_for(path: str, session_key: str) -> int:
    """How many queries one request for `path` takes (a warm-up request first: the first request of
    a process loads things once)."""
    from django.conf import settings
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client()
    client.cookies[settings.SESSION_COOKIE_NAME] = session_key
    assert client.get(path).status_code == 200, path
    with CaptureQueriesContext(connection) as captured:
        response = client.get(path)
    assert response.status_code == 200, path
    return len(captured)


def main():
    options = arguments(__doc__.splitlines()[0]).parse_args()
    env = start(options.db)

    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    from demo.scale_data import ScaleSpec, generate_scale_data
    from schools.models import Organisation, Pupil, StaffRole

    print("Generating the scale dataset…", flush=True)
    started = time.perf_counter()
    result = generate_scale_data(ScaleSpec(), log=lambda message: print(message, flush=True))
    generated_in = time.perf_counter() - started
    print(f"  made in {generated_in:.1f} s: {result.counts}", flush=True)
    small = generate_scale_data(ScaleSpec(**SMALL_ASSOCIATION)).association
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:  # as autovacuum soon would after a bulk load
            cursor.execute("VACUUM ANALYZE")
    call_command("check", verbosity=0)

    full = result.association
    schools = Organisation.objects.filter(association=full)
    sizes = {school: Pupil.objects.filter(school=school, on_roll=True).count() for school in schools}
    largest, smallest = max(sizes, key=sizes.get), min(sizes, key=sizes.get)
    head_session = verified_session(user_of(largest, StaffRole.Role.HEADTEACHER))
    admin_session = verified_session(user_of(full, StaffRole.Role.ASSOCIATION_ADMIN))
    school_path = f"/staff/completion/schools/{largest.slug}/"
    association_path = f"/staff/completion/associations/{full.slug}/"

    school_queries = {
        "smallest": queries_for(f"/staff/completion/schools/{smallest.slug}/",
                                verified_session(user_of(smallest, StaffRole.Role.HEADTEACHER))),
        "largest": queries_for(school_path, head_session),
    }
    association_queries = {
        "small": queries_for(f"/staff/completion/associations/{small.slug}/",
                             verified_session(user_of(small, StaffRole.Role.ASSOCIATION_ADMIN))),
        "full": queries_for(association_path, admin_session),
    }
    print(f"  queries: school {school_queries}, association {association_queries}", flush=True)

    cookie = settings.SESSION_COOKIE_NAME
    with serve(env, workers=2) as base:
        pages = [
            ("school", school_path, head_session, f"{largest.name} ({sizes[largest]:,} pupils on roll)", 150,
             school_queries, "smallest school", "largest school"),
            ("association", association_path, admin_session, f"{full.name} ({len(sizes)} schools)", 400,
             association_queries, f"{small.name} ({SMALL_ASSOCIATION['schools']} schools)", "all 50 schools"),
        ]
        for kind, path, session, what, limit, queries, small_name, large_name in pages:
            headers = {"Cookie": f"{cookie}={session}"}
            status, html = get(base + path, headers)
            if status != 200 or "<h1>Completion" not in html:
                raise SystemExit(f"{path} is not the dashboard (status {status}): is the session signed in?")
            print(f"{kind} dashboard: {what}, page {len(html) / 1024:.1f} KiB", flush=True)
            loads, floor_loads = [], []

            def dashboard():
                loads.append(wrk(base + path, connections=CONNECTIONS, duration=DURATION, headers=headers))
                if loads[-1].errors or loads[-1].non_2xx_3xx:
                    raise SystemExit(f"{path}: {loads[-1]}")
                return loads[-1].requests_per_s

            def floor():
                # Waits its turn behind any dashboard requests still queued from the last run, so
                # that they do not eat into the floor's 5 s.
                get(base + "/bench-floor/page/")
                floor_loads.append(wrk(base + "/bench-floor/page/", connections=CONNECTIONS, duration=DURATION))
                return floor_loads[-1].requests_per_s

            measured, floors = paired(dashboard, floor, options.runs)
            p95 = statistics.median(load.p95_ms for load in loads)
            small_n, large_n = queries[next(iter(queries))], queries[list(queries)[-1]]
            record(figure_from_pairs(
                id=f"dashboard-{kind}-{options.db}",
                title=f"{kind.capitalize()} dashboard on the scale dataset",
                db=options.db, unit="requests/s", floor_name="5 KB template view",
                budget=f"p95 < {limit} ms at {CONNECTIONS} connections; query count independent of size "
                       "(no ratio limit: the ratio is for comparison)",
                ratio_limit=None, measured=measured, floors=floors,
                checks=[
                    Check(f"p95 at {CONNECTIONS} connections (median of runs)", p95, limit, "ms"),
                    Check(f"extra queries for the {large_name} over the {small_name}", abs(large_n - small_n), 1,
                          "queries"),
                ],
                notes=f"{what}. Queries per request: {small_n} for the {small_name}, {large_n} for the "
                      f"{large_name}. p95 per run: {', '.join(f'{r.p95_ms:.1f}' for r in loads)} ms; p50 "
                      f"{', '.join(f'{r.p50_ms:.1f}' for r in loads)} ms; floor p95 "
                      f"{', '.join(f'{r.p95_ms:.1f}' for r in floor_loads)} ms. Page {len(html) / 1024:.1f} KiB. "
                      f"Scale dataset generated in {generated_in:.1f} s ({result.counts['declarations']:,} "
                      f"declarations, {result.counts['carers']:,} carers, {result.counts['pupils']:,} pupils).",
            ))


if __name__ == "__main__":
    main()
