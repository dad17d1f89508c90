"""The demo's schools: a send tried in the evening or at a weekend is not held for sending hours."""

import datetime

import pytest
from django.core.management import call_command

from demo.accounts import open_demo_sending_hours
from sending.hours import sending_opens
from tests.factories import SchoolFactory

pytestmark = pytest.mark.django_db

SUNDAY_EVENING = datetime.datetime(2026, 11, 22, 21, 0, tzinfo=datetime.UTC)


def test_demo_schools_on_the_default_hours_send_at_once_even_on_a_sunday_evening():
    school = SchoolFactory(sending_hours_from=datetime.time(8), sending_hours_until=datetime.time(19), sending_days="123456")
    assert sending_opens(school, SUNDAY_EVENING) > SUNDAY_EVENING
    call_command("load_demo", verbosity=0)
    school.refresh_from_db()
    assert sending_opens(school, SUNDAY_EVENING) == SUNDAY_EVENING


def test_hours_someone_set_to_try_them_are_kept():
    school = SchoolFactory(sending_hours_from=datetime.time(9), sending_hours_until=datetime.time(17), sending_days="12345")
    assert open_demo_sending_hours() == 0
    school.refresh_from_db()
    assert (school.sending_hours_from, school.sending_days) == (datetime.time(9), "12345")
