"""A school's sending hours: invitations and reminders go only within them, and wait until then.

The hours are the school's own (schools.models.Organisation: sending_hours_from, _until and
sending_days; by default 08:00 to 19:00 UK time, Monday to Saturday). The outbox holds a waiting
e-mail at the moment a worker would claim it (sending/claims.py: claim_next), which every path
that sends an invitation or a reminder goes through, once.
"""

from __future__ import annotations

import datetime

from django.utils import timezone

from schools.models import Organisation

# Sending hours that never hold an e-mail: the same time in both boxes, every day of the week. The
# demo's schools and the benchmarks' have them, so that what they send goes at once.
AT_ANY_TIME = {
    "sending_hours_from": datetime.time(0, 0),
    "sending_hours_until": datetime.time(0, 0),
    "sending_days": "1234567",
}


def _open_on(
    school: Organisation, day: datetime.date
) -> tuple[datetime.datetime, datetime.datetime] | None:
    """When sending opens and closes on `day` (local time, aware), or None if it is not a sending day."""
    if str(day.isoweekday()) not in school.sending_days:
        return None
    start, end = school.sending_hours_from, school.sending_hours_until
    opens = timezone.make_aware(datetime.datetime.combine(day, start))
    if start == end:  # the same time in both boxes: at any time of day
        return opens.replace(hour=0, minute=0, second=0, microsecond=0), timezone.make_aware(
            datetime.datetime.combine(day + datetime.timedelta(days=1), datetime.time.min)
        )
    return opens, timezone.make_aware(datetime.datetime.combine(day, end))


def sending_opens(school: Organisation, now: datetime.datetime) -> datetime.datetime:
    """`now` if it is within the school's sending hours, else when they next begin."""
    today = timezone.localdate(now)
    for offset in range(8):
        window = _open_on(school, today + datetime.timedelta(days=offset))
        if window is None:
            continue
        opens, closes = window
        if now < closes:
            return max(now, opens)
    return now  # no sending day at all cannot be saved (validate_sending_days); never hold for ever


def within_sending_hours(school: Organisation, now: datetime.datetime) -> bool:
    return sending_opens(school, now) == now
