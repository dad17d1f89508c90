"""Background tasks: each loads by id and calls a service. Always enqueued on transaction commit.

The rules (claiming, never sending twice, retrying a mail server failure) are in
declarations/invitations.py; a task only says which rows to work on. The services import these
tasks to enqueue them, so the tasks import the services when they run, not at import time.
"""

from django.tasks import task


@task()
def send_outbox_message(message_id: int) -> str:
    """Send one outbox e-mail (claimed atomically; never sent twice). Returns what happened."""
    from declarations import invitations

    return invitations.outbox_message_send(message_id)


@task()
def send_batch(batch_id: int) -> dict:
    """Send the pending e-mails of one batch, sharing them with any other worker running this task
    for the batch at the same time (a large batch is queued as several). Returns counts: sent,
    failed, skipped, taken."""
    from declarations import invitations

    return invitations.outbox_send_pending(batch_id=batch_id)


@task(priority=10)
def render_declaration_pdf(declaration_id: int) -> str:
    """Render, seal and store one declaration's PDF, unless it has one already (retry-safe).

    Queued when a declaration is committed, ahead of its confirmation e-mail (a higher priority),
    so that with a worker running the e-mail usually finds the PDF ready to attach."""
    from declarations.models import Declaration
    from declarations.pdf import declaration_pdf_issue

    if not Declaration.objects.filter(pk=declaration_id).exists():
        return "gone"  # deleted (retention) before the worker got to it
    return declaration_pdf_issue(declaration_id=declaration_id).sha256


@task()
def build_export(export_id: int) -> str:
    """Build one export's ZIP of declaration PDFs, rendering any PDF not made yet."""
    from declarations import exports

    return exports.export_build(export_id=export_id)


@task()
def invite_to_new_version(version_id: int) -> dict:
    """A version that requires signing was published: write its invitation step for every school
    using the code, and take the steps already due (those in force today). Retry-safe."""
    from declarations import scheduler

    return scheduler.version_invitations_schedule(version_id=version_id)


@task()
def invite_starters(school_id: int) -> dict:
    """After an import: invite the carers of pupils who joined since the school's invitations went
    out, if the school has that setting on. Retry-safe: nobody is invited twice."""
    from declarations import scheduler

    return scheduler.starters_invite(school_id=school_id)
