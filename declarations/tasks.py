"""Background tasks: each loads by id and calls a service. Always enqueued on transaction commit."""

from django.tasks import task


@task()
def send_outbox_message(message_id: int) -> None:
    """Send one outbox e-mail (claimed atomically; never sent twice)."""
    raise NotImplementedError  # being built: declarations/invitations.py


@task()
def send_batch(batch_id: int) -> None:
    """Send every pending e-mail of one batch."""
    raise NotImplementedError  # being built: declarations/invitations.py
