"""How sending answers what the apps below it announce (connected in SendingConfig.ready)."""

from django.db import transaction
from django.dispatch import receiver

from codes.signals import version_published
from declarations.signals import declaration_recorded
from schools.signals import families_imported
from sending.bounces import delivery_problem_record
from sending.models import OutboxMessage
from sending.outbox import message_queue
from sending.scheduler import invite_starters, invite_steps_write, invite_to_new_version


@receiver(version_published, dispatch_uid="sending.invite_to_new_version")
def invite_to_published_version(sender, version, **kwargs):
    """Every carer at every school using the code is asked to sign a version that requires it, in
    the background, from the day it comes into force. A minor correction asks nobody.

    The "invite" steps, one per school, are written here, in the publishing transaction, so they
    commit with the version: nothing that happens after the commit can lose them, and the
    scheduler takes each once it is due (`run_scheduled`). The task queued once the publish has
    committed only takes those due already now rather than at the scheduler's next run."""
    if version.requires_signing:
        invite_steps_write(version)
        transaction.on_commit(lambda: invite_to_new_version.enqueue(version.pk))


@receiver(families_imported, dispatch_uid="sending.invite_starters")
def invite_new_families(sender, school, plan, **kwargs):
    """Carers of pupils who joined since the school's invitations went out are invited, if the
    school has that setting on."""
    if school.invite_starters_automatically and (plan.added_pupils or plan.added_carers or plan.links_added):
        transaction.on_commit(lambda: invite_starters.enqueue(school.pk))


@receiver(declaration_recorded, dispatch_uid="sending.confirmation")
def confirm_online_declaration(sender, declaration, **kwargs):
    """A carer who signed online gets a confirmation with their copy, if the school has their address."""
    if declaration.method == declaration.Method.ONLINE and declaration.carer.email:
        message_queue(carer=declaration.carer, version_id=declaration.version_id, kind=OutboxMessage.Kind.CONFIRMATION)


try:  # django-anymail is an optional extra (README, Production)
    from anymail.signals import tracking
except ImportError:  # the portal without an e-mail service
    tracking = None

if tracking is not None:

    @receiver(tracking, dispatch_uid="sending.delivery_problem")
    def e_mail_service_reported(sender, event, esp_name, **kwargs):
        """A bounce, a refusal or a complaint from the e-mail service marks the carer's address
        as needing another way (sending/bounces.py); other events change nothing."""
        delivery_problem_record(event_type=event.event_type, message_id=event.message_id, recipient=event.recipient)
