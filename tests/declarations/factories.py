"""Families, links and scans for the signing tests, made through the real services.

The fixtures these tests share are in conftest.py beside this file.
"""

from __future__ import annotations

import datetime

from declarations import services
from declarations.models import SigningRequest
from schools.models import Carer, Pupil
from tests.schools.factories import CarerFactory, PupilCarerFactory, PupilFactory

__all__ = ["JPEG", "NOW", "PDF", "PNG", "add_child", "family", "issued_link", "sent_link"]

NOW = datetime.datetime(2026, 11, 22, 12, 0, tzinfo=datetime.UTC)

# The first bytes of each kind of scan a paper form may come as.
PDF = b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xd9"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"


def family(
    school,
    *,
    forename="Mary",
    surname="Smith",
    email="mary.smith@example.org",
    children=(("Amy", "Smith", "3", "3B"), ("Ben", "Smith", "5", "5A")),
) -> Carer:
    """A carer with parental responsibility for each child given (forename, surname, year, reg)."""
    carer = CarerFactory(school=school, forename=forename, surname=surname, email=email)
    for child_forename, child_surname, year_group, reg_group in children:
        pupil = PupilFactory(
            school=school, forename=child_forename, surname=child_surname, year_group=year_group, reg_group=reg_group
        )
        PupilCarerFactory(pupil=pupil, carer=carer, parental_responsibility=True)
    return carer


def add_child(carer, *, forename, surname, parental_responsibility=True, on_roll=True, year_group="3", reg_group="3B") -> Pupil:
    pupil = PupilFactory(
        school=carer.school,
        forename=forename,
        surname=surname,
        year_group=year_group,
        reg_group=reg_group,
        on_roll=on_roll,
        left_on=None if on_roll else datetime.date(2026, 7, 20),
    )
    PupilCarerFactory(pupil=pupil, carer=carer, parental_responsibility=parental_responsibility)
    return pupil


def issued_link(carer, version) -> tuple[SigningRequest, str]:
    """The carer's request for `version` with a fresh link, and the link's token."""
    signing_request = services.signing_request_for(carer=carer, version=version)
    token = services.link_issue(signing_request=signing_request)
    return signing_request, token


def sent_link(carer, version, *, sent_at) -> tuple[SigningRequest, str]:
    """As the invitation sender leaves it: a link issued and the invitation sent."""
    signing_request, token = issued_link(carer, version)
    SigningRequest.objects.filter(pk=signing_request.pk).update(sent_at=sent_at)
    signing_request.refresh_from_db()
    return signing_request, token

