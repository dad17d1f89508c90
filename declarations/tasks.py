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
    """Send every pending e-mail of one batch. Returns counts: sent, failed, skipped, taken."""
    from declarations import invitations

    return invitations.outbox_send_pending(batch_id=batch_id)
