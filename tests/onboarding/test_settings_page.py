"""The school settings page: name, logo (re-drawn by Pillow), a readable brand colour, contact
details and timings, for headteachers only; branding reaching pages and HTML e-mails."""

import datetime
import io
import re

import pytest
from django.core import mail
from PIL import Image

from onboarding.organisation_settings import organisation_settings_update
from schools.models import AuditEvent, StaffRole
from sending.emails import email_for
from tests.factories import StaffRoleFactory, UserFactory


def png(width=40, height=20, colour=(200, 0, 0), fmt="PNG", **save) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(out, format=fmt, **save)
    return out.getvalue()


@pytest.fixture
def head(school, client, verified_client):
    user = UserFactory()
    StaffRoleFactory(user=user, organisation=school, role=StaffRole.Role.HEADTEACHER)
    verified_client(client, user)
    return user


def form_data(school, **changes):
    data = {
        "name": school.name, "brand_colour": school.brand_colour, "email": "", "phone": "", "address": "",
        "reminder_days": "3,7,14", "max_reminders": 3, "link_valid_days": 60, "declaration_retention_years": 6,
        "invite_starters_automatically": "on",
        "sending_hours_from": "08:00", "sending_hours_until": "19:00", "sending_days": list("123456"),
    }
    data.update(changes)
    return data


def test_a_headteacher_sets_name_contact_details_and_timings(client, school, head):
    url = f"/staff/organisations/{school.slug}/settings/"
    response = client.post(url, form_data(
        school, name="Whitefield Primary", phone="01234 567890", email="office@whitefield.example.org",
        address="1 School Lane\nWidnes", reminder_days="2,5", max_reminders=2, link_valid_days=30,
        declaration_retention_years=7, invite_starters_automatically="",
    ))

    assert response.status_code == 302
    school.refresh_from_db()
    assert (school.name, school.phone, school.reminder_cadence, school.link_valid_days) == (
        "Whitefield Primary", "01234 567890", [2, 5], 30)
    assert (school.declaration_retention_years, school.invite_starters_automatically) == (7, False)
    event = AuditEvent.objects.get(action=AuditEvent.Action.SETTINGS_CHANGE)
    assert "phone" in event.detail["changed"] and event.actor == head


def test_a_brand_colour_white_text_cannot_be_read_on_is_refused(client, school, head):
    response = client.post(f"/staff/organisations/{school.slug}/settings/", form_data(school, brand_colour="#ffcc00", name="Changed"))

    assert b"it needs at least 4.5:1" in response.content
    school.refresh_from_db()
    assert school.brand_colour == "#1d4f91" and school.name != "Changed"
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.SETTINGS_CHANGE).exists()


def test_a_logo_is_redrawn_as_a_png_without_its_metadata(client, school, head):
    from django.core.files.uploadedfile import SimpleUploadedFile

    jpeg = png(1200, 300, fmt="JPEG", comment=b"secret camera serial")
    upload = SimpleUploadedFile("logo.jpg", jpeg, content_type="image/jpeg")
    client.post(f"/staff/organisations/{school.slug}/settings/", {**form_data(school), "logo_upload": upload})

    school.refresh_from_db()
    stored = school.logo.read()
    assert stored.startswith(b"\x89PNG") and b"secret camera serial" not in stored
    assert Image.open(io.BytesIO(stored)).size == (600, 150)
    response = client.get(f"/schools/{school.slug}/logo")
    assert response["Content-Type"] == "image/png" and b"".join(response) == stored


@pytest.mark.parametrize(
    "data, message",
    [
        (b"GIF89a" + b"\0" * 100, b"must be a PNG or JPEG"),
        (b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>", b"must be a PNG or JPEG"),
        (png(400, 400, colour=(1, 2, 3))[:120], b"damaged"),
    ],
)
def test_anything_but_a_png_or_jpeg_logo_is_refused(client, school, head, data, message, monkeypatch):
    from django.core.files.uploadedfile import SimpleUploadedFile
    from PIL import ImageFile

    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)  # as WeasyPrint sets it for the process

    upload = SimpleUploadedFile("logo.png", data, content_type="image/png")
    response = client.post(f"/staff/organisations/{school.slug}/settings/", {**form_data(school), "logo_upload": upload})

    assert message in response.content
    school.refresh_from_db()
    assert not school.logo


def test_office_staff_and_other_schools_cannot_see_the_settings(client, school, office, verified_client, other_school, head):
    assert client.get(f"/staff/organisations/{other_school.slug}/settings/").status_code == 404
    verified_client(client, office)
    assert client.get(f"/staff/organisations/{school.slug}/settings/").status_code == 404


def test_an_association_admin_sets_the_associations_branding_but_no_school_timings(client, association, verified_client):
    admin = StaffRoleFactory(organisation=association, role=StaffRole.Role.ASSOCIATION_ADMIN).user
    verified_client(client, admin)

    response = client.get(f"/staff/organisations/{association.slug}/settings/")

    assert b"Brand colour" in response.content and b"reminder" not in response.content.lower()
    organisation_settings_update(user=admin, organisation=association, changes={"brand_colour": "#006400"})
    association.refresh_from_db()
    assert association.brand_colour == "#006400"


def test_branding_and_contact_details_reach_the_html_e_mail(school, head, carer, version):
    organisation_settings_update(
        user=head, organisation=school, changes={"brand_colour": "#7a1f5c", "address": "1 School Lane"}, logo=png()
    )
    school.refresh_from_db()
    from sending.models import OutboxMessage

    message = OutboxMessage(school=school, carer=carer, version=version, kind=OutboxMessage.Kind.INVITATION)
    email = email_for(message, token="t" * 43, expires_at=version.created_at)
    html = email.alternatives[0].content

    assert "#7a1f5c" in html
    assert f"https://codes.example.org/schools/{school.slug}/logo" in html
    assert "1 School Lane" in html and "1 School Lane" in email.body
    assert mail.outbox == []


def test_a_headteacher_sets_the_hours_and_days_invitations_go_out(client, school, head):
    url = f"/staff/organisations/{school.slug}/settings/"
    school.sending_hours_from, school.sending_hours_until, school.sending_days = (  # the portal's defaults
        datetime.time(8, 0), datetime.time(19, 0), "123456")
    school.save()
    page = client.get(url).content.decode()
    assert 'name="sending_hours_from" value="08:00"' in page
    assert re.findall(r'name="sending_days" value="(\d)"[^>]*checked', page) == list("123456")

    response = client.post(url, form_data(
        school, sending_hours_from="09:00", sending_hours_until="17:30", sending_days=["1", "2", "3", "4", "5"]
    ))
    assert response.status_code == 302
    school.refresh_from_db()
    assert (str(school.sending_hours_from), str(school.sending_hours_until), school.sending_days) == (
        "09:00:00", "17:30:00", "12345")


def test_sending_hours_that_end_before_they_begin_are_refused_and_nothing_changes(client, school, head):
    url = f"/staff/organisations/{school.slug}/settings/"
    response = client.post(url, form_data(
        school, sending_hours_from="19:00", sending_hours_until="08:00", sending_days=["1"]
    ))
    assert response.status_code == 200
    assert "hours" in response.content.decode().lower()
    school.refresh_from_db()
    assert (str(school.sending_hours_from), school.sending_days) != ("19:00:00", "1")
