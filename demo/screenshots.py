"""The README's screenshots: a parent's phone journey and the staff dashboards, taken by Chromium.

Run by scripts/screenshots against a throwaway copy of the demo (its own database and files in a
temporary folder), so the pictures can be refreshed whenever the pages change and the demo a
developer is using is left alone.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from django.conf import settings
from django.db import transaction

from codes.services import code_for_school, version_in_force
from declarations import services as declarations
from schools.models import Carer, Organisation, Pupil, PupilCarer

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}
DESKTOP = {"viewport": {"width": 1280, "height": 900}}
HEADTEACHER = "head.whitefield"
FAMILIES = [
    ("Mary", "Smith", [("Amy", "3", "3B"), ("Ben", "5", "5A")]),
    ("Tom", "Patel", [("Isha", "3", "3B")]),
    ("Grace", "Okafor", [("Daniel", "4", "4A")]),
    ("Liam", "Walsh", [("Erin", "4", "4A")]),
    ("Sofia", "Rossi", [("Luca", "5", "5A")]),
    ("Hannah", "Green", [("Ruby", "6", "6C")]),
    ("Jack", "Evans", [("Noah", "6", "6C")]),
    ("Chloe", "Brown", [("Lily", "3", "3B")]),
]
SIGNED_ALREADY = 5  # of the families after the first: a dashboard with something on it


def _family(school, index, forename, surname, children) -> Carer:
    carer = Carer.objects.create(
        school=school, mis_id=f"SHOT-C{index}", forename=forename, surname=surname,
        email=f"{forename.lower()}.{surname.lower()}@example.org",
    )
    for number, (child, year, reg) in enumerate(children):
        pupil = Pupil.objects.create(
            school=school, mis_id=f"SHOT-P{index}-{number}", forename=child, surname=surname,
            year_group=year, reg_group=reg,
        )
        PupilCarer.objects.create(pupil=pupil, carer=carer, parental_responsibility=True, priority=1)
    return carer


@transaction.atomic
def prepare() -> str:
    """Families at Whitefield, some of whom have signed; returns the first parent's link path."""
    school = Organisation.objects.get(slug="whitefield-primary")
    version = version_in_force(code_for_school(school))
    carers = [_family(school, i, *family) for i, family in enumerate(FAMILIES)]
    for carer in carers[1 : 1 + SIGNED_ALREADY]:
        signing_request = declarations.signing_request_for(carer=carer, version=version)
        declarations.link_issue(signing_request=signing_request)
        declarations.declaration_sign(
            signing_request=signing_request, version_id_shown=version.pk, typed_name=carer.full_name,
            agreed=True, ip=None, user_agent="screenshots",
        )
    signing_request = declarations.signing_request_for(carer=carers[0], version=version)
    return f"/sign/t/{declarations.link_issue(signing_request=signing_request)}/"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(port: int) -> subprocess.Popen:
    server = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
        cwd=settings.BASE_DIR, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2)
            return server
        except OSError:
            time.sleep(0.5)
    server.terminate()
    raise RuntimeError("The portal did not start within a minute.")


def take(folder: Path, *, password: str, recovery_code: str) -> list[Path]:
    """Every screenshot, into `folder`; returns the files written."""
    from playwright.sync_api import sync_playwright

    folder.mkdir(parents=True, exist_ok=True)
    link = prepare()
    port = _free_port()
    server = _serve(port)
    base = f"http://127.0.0.1:{port}"
    written = []
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])

            phone = browser.new_context(base_url=base, locale="en-GB", **PHONE).new_page()

            def shot(page, name, **options):
                path = folder / f"{name}.png"
                page.screenshot(path=str(path), **options)
                written.append(path)

            phone.goto(link)
            phone.wait_for_url("**/sign/")
            shot(phone, "parent-1-the-code")
            phone.get_by_label("Your full name").fill("Mary Smith")
            phone.get_by_label("I agree").check()
            phone.locator(".sign-form").scroll_into_view_if_needed()
            shot(phone, "parent-2-signing")
            phone.get_by_role("button", name="Sign the declaration").click()
            phone.wait_for_url("**/sign/done/")
            shot(phone, "parent-3-receipt")

            desktop = browser.new_context(base_url=base, locale="en-GB", **DESKTOP).new_page()
            desktop.goto("/staff/login/")
            desktop.get_by_label("Username").fill(HEADTEACHER)
            desktop.get_by_label("Password").fill(password)
            desktop.get_by_role("button", name="Sign in").click()
            desktop.wait_for_url("**/staff/account/verify/**")
            desktop.get_by_label("Recovery code").fill(recovery_code)
            desktop.get_by_role("button", name="Continue with a recovery code").click()
            desktop.wait_for_url("**/staff/")
            shot(desktop, "staff-1-dashboard", full_page=True)
            desktop.goto("/staff/completion/schools/whitefield-primary/")
            shot(desktop, "staff-2-completion", full_page=True)
            desktop.goto("/staff/declarations/whitefield-primary/")
            shot(desktop, "staff-3-who-has-signed", full_page=True)
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
    return written

