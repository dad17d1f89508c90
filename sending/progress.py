"""How a batch of e-mails is going, as the staff pages show it."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.db.models import Count, Min, Q
from django.utils import timezone

from sending.claims import superseded
from sending.models import OutboxMessage, SendBatch

Status = OutboxMessage.Status


@dataclass(frozen=True)
class BatchProgress:
    pending: int = 0  # of which `held` wait for the school's sending hours, the first until `held_until`
    sending: int = 0
    sent: int = 0
    failed: int = 0
    skipped: int = 0
    sent_again: int = 0
    held: int = 0
    held_until: datetime.datetime | None = None

    @property
    def due(self) -> int:
        """Waiting to send now: a worker should be taking these."""
        return self.pending - self.held

    @property
    def total(self) -> int:
        return self.pending + self.sending + self.sent + self.failed + self.skipped

    @property
    def in_progress(self) -> bool:
        return bool(self.pending or self.sending)


def batches_progress(batch_ids) -> dict[int, BatchProgress]:
    """Progress of several batches in one query: counts by status, a row sent again counted once."""
    current = Q(superseded=False)
    held = current & Q(status=Status.PENDING, not_before__gt=timezone.now())
    rows = (
        OutboxMessage.objects.filter(batch_id__in=list(batch_ids))
        .annotate(superseded=superseded())
        .values("batch_id")
        .annotate(
            pending=Count("pk", filter=current & Q(status=Status.PENDING)),
            sending=Count("pk", filter=current & Q(status=Status.SENDING)),
            sent=Count("pk", filter=current & Q(status=Status.SENT)),
            failed=Count("pk", filter=current & Q(status=Status.FAILED)),
            skipped=Count("pk", filter=current & Q(status=Status.SKIPPED)),
            sent_again=Count("pk", filter=Q(superseded=True)),
            held=Count("pk", filter=held),
            held_until=Min("not_before", filter=held),
        )
        .order_by()
    )
    progress = {row.pop("batch_id"): BatchProgress(**row) for row in rows}
    return {batch_id: progress.get(batch_id, BatchProgress()) for batch_id in batch_ids}


def batch_progress(batch: SendBatch) -> BatchProgress:
    return batches_progress([batch.pk])[batch.pk]


MESSAGE_FILTERS = {
    "problems": Q(status=Status.FAILED),
    "pending": Q(status=Status.PENDING),
    "sent": Q(status=Status.SENT),
    "skipped": Q(status=Status.SKIPPED),
}


def batch_messages(batch: SendBatch, *, show: str = ""):
    """The batch's e-mails with their carers, each marked `superseded` if sent again since."""
    messages = batch.messages.select_related("carer").annotate(superseded=superseded())
    if show in MESSAGE_FILTERS:
        messages = messages.filter(MESSAGE_FILTERS[show])
    return messages.order_by("carer__surname", "carer__forename", "pk")


def message_state(message: OutboxMessage) -> str:
    """What staff see for one e-mail: its status, or "sent again"."""
    if getattr(message, "superseded", False):
        return "sent again"
    return message.get_status_display().lower()
