"""The events webhooks report, received from the apps below through their signals (never by
their importing this app), each written as deliveries in the transaction that sent it.

Payloads carry ids, and no more personal data than the event needs: no names, no e-mail
addresses. A receiving system with an API key looks the rest up through the API.
"""

import datetime

from django.dispatch import receiver
from django.utils import timezone

from codes.models import CodeVersion
from codes.services import schools_using_code, version_in_force
from codes.signals import version_published
from declarations.signals import declaration_declined, declaration_recorded
from evidence.signals import export_ready
from sending.scheduler import register_step
from sending.signals import email_bounced
from webhooks.delivery import deliveries_sweep, events_record
from webhooks.models import Event


def _version_data(version) -> dict:
    return {
        "code_owner": version.code.owner.slug,
        "version": version.number,
        "effective_from": version.effective_from.isoformat(),
        "requires_signing": version.requires_signing,
        "fingerprint": version.fingerprint,
        "schools": list(schools_using_code(version.code).values_list("slug", flat=True)),
    }


def _version_organisations(version) -> list:
    return [version.code.owner, *schools_using_code(version.code)]


@receiver(declaration_recorded, dispatch_uid="webhooks.declaration_signed")
def declaration_signed(sender, declaration, **kwargs):
    events_record(
        event=Event.DECLARATION_SIGNED,
        key=str(declaration.pk),
        organisations=[declaration.school],
        data={
            "declaration": declaration.pk,
            "school": declaration.school.slug,
            "carer": declaration.carer_id,
            "version": declaration.version.number,
            "method": declaration.method,
            "signed_at": declaration.signed_at.isoformat(),
        },
    )


@receiver(declaration_declined, dispatch_uid="webhooks.declaration_declined")
def declaration_was_declined(sender, decline, **kwargs):
    events_record(
        event=Event.DECLARATION_DECLINED,
        key=str(decline.pk),
        organisations=[decline.school],
        data={
            "decline": decline.pk,
            "school": decline.school.slug,
            "carer": decline.carer_id,
            "version": decline.version.number,
            "declined_at": decline.declined_at.isoformat(),
        },
    )


@receiver(version_published, dispatch_uid="webhooks.version_published")
def version_was_published(sender, version, **kwargs):
    organisations = _version_organisations(version)
    events_record(event=Event.VERSION_PUBLISHED, key=str(version.pk), organisations=organisations, data=_version_data(version))
    if version.effective_from <= timezone.localdate():  # in force at once; a later date: versions_in_force_report
        events_record(event=Event.VERSION_IN_FORCE, key=str(version.pk), organisations=organisations, data=_version_data(version))


@receiver(export_ready, dispatch_uid="webhooks.export_ready")
def export_is_ready(sender, export, **kwargs):
    events_record(
        event=Event.EXPORT_READY,
        key=str(export.pk),
        organisations=[export.school],
        data={
            "export": export.pk,
            "school": export.school.slug,
            "declarations": export.total,
            "status_url": f"/api/v1/schools/{export.school.slug}/exports/{export.pk}/",
        },
    )


@receiver(email_bounced, dispatch_uid="webhooks.email_bounced")
def email_was_bounced(sender, message, reason: str = "", **kwargs):
    events_record(
        event=Event.EMAIL_BOUNCED,
        key=str(message.pk),
        organisations=[message.school],
        data={
            "email": message.pk,
            "school": message.school.slug,
            "carer": message.carer_id,
            "kind": message.kind,
            "reason": reason[:200],
        },
    )


def versions_in_force_report(now: datetime.datetime | None = None) -> dict:
    """Report each version that has come into force since it was published with a later date
    (those in force at once were reported then); once per endpoint (the delivery's key)."""


    today = timezone.localdate(now)
    made = 0
    recent = CodeVersion.objects.filter(
        status=CodeVersion.Status.PUBLISHED, effective_from__lte=today, effective_from__gt=today - datetime.timedelta(days=7)
    ).select_related("code__owner")
    for version in recent:
        if version_in_force(version.code, today) != version or timezone.localdate(version.published_at) >= version.effective_from:
            continue
        made += events_record(
            event=Event.VERSION_IN_FORCE, key=str(version.pk), organisations=_version_organisations(version),
            data=_version_data(version),
        )
    return {"versions in force reported": made}


def webhooks_step(now: datetime.datetime | None = None) -> dict:
    return {**versions_in_force_report(now), **deliveries_sweep(now)}


register_step("webhooks", webhooks_step)
