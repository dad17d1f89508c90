"""Signing: one place for the rules of asking a carer to sign and recording what they sign."""

import datetime

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from declarations.models import SigningRequest
from declarations.tokens import new_token

DEFAULT_LINK_DAYS = 60


def signing_request_for(*, carer, version) -> SigningRequest:
    """The one request for this carer and version, created if needed (no link issued yet)."""
    request, _ = SigningRequest.objects.get_or_create(
        carer=carer, version=version, defaults={"school_id": carer.school_id}
    )
    return request


@transaction.atomic
def link_issue(*, signing_request: SigningRequest, valid_days: int = DEFAULT_LINK_DAYS) -> str:
    """Make a new link for this request and return its token, which is never stored.

    Any earlier link for the request stops working at once (its hash is replaced).
    """
    token, token_hash = new_token()
    now = timezone.now()
    updated = SigningRequest.objects.filter(pk=signing_request.pk).update(
        token_hash=token_hash,
        issued_at=now,
        expires_at=now + datetime.timedelta(days=valid_days),
        reissued_count=F("reissued_count") + (1 if signing_request.issued_at else 0),
    )
    assert updated == 1
    signing_request.refresh_from_db()
    return token

