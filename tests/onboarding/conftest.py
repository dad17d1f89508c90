import re

import pytest
from django.core import mail

LOCMEM = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}


@pytest.fixture(autouse=True)
def immediate_tasks_and_mail(settings):
    """Tasks run as soon as their transaction commits; e-mails are kept in mail.outbox."""
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}
    settings.MAILERS = LOCMEM
    settings.PORTAL_BASE_URL = "https://codes.example.org"
    mail.outbox = []


def link_in(email) -> str:
    """The path of the first portal link in an e-mail's plain text."""
    return re.search(r"https://codes\.example\.org(/\S+)", email.body).group(1)
