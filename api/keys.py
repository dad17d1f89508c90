"""Making, revoking and checking API keys (api/models.py).

    made = api_key_create(user=request.user, organisation=school, name="Arbor", scopes=["read"])
    made.key        # shown once, never stored
    api_key_revoke(user=request.user, key=key)
    key = api_key_check(presented)   # None unless a live key

Keys are 256 random bits; only their SHA-256 is kept, so a copy of the database holds no key
that works (a fast hash is enough for a random key: there is nothing to guess from).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from api.models import ApiKey
from schools import permissions
from schools.audit import audit_record
from schools.models import AuditEvent, Organisation

KEY_START = "cop_"  # "code of conduct portal": lets secret scanners and people recognise a key
LAST_USED_EVERY_SECONDS = 60  # last-used time is written at most this often per key


def key_sha256(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class MadeKey:
    record: ApiKey
    key: str  # the whole key: shown to its maker once, never stored


def _check_may_manage(user, organisation: Organisation) -> None:
    if not permissions.can_manage_integrations(user, organisation):
        raise PermissionDenied("Only the headteacher (or, for an association, its admins) manages API keys.")


def api_key_create(*, user, organisation: Organisation, name: str, scopes: list[str], request=None) -> MadeKey:
    """Make a key for `organisation` acting for `user`, with `scopes`; audited. The returned
    MadeKey.key is the only copy of the key there will ever be."""
    _check_may_manage(user, organisation)
    scopes = sorted(set(scopes))
    if not scopes or not set(scopes) <= set(ApiKey.Scope.values):
        raise ValidationError("Choose at least one thing the key may do.")
    if not name.strip():
        raise ValidationError("Give the key a name that says what uses it.")
    prefix = secrets.token_hex(4)
    key = f"{KEY_START}{prefix}_{secrets.token_urlsafe(32)}"
    with transaction.atomic():
        record = ApiKey.objects.create(
            organisation=organisation, name=name.strip(), prefix=prefix, key_sha256=key_sha256(key),
            scopes=scopes, created_by=user,
        )
        audit_record(
            actor=user, school=organisation, action=AuditEvent.Action.API_REQUEST, target=f"API key {prefix}",
            detail={"key": prefix, "made": True, "scopes": scopes}, request=request,
        )
    return MadeKey(record, key)


def api_key_revoke(*, user, key: ApiKey, request=None) -> ApiKey:
    """Stop the key working at once (it is kept, revoked, for the record); audited."""
    _check_may_manage(user, key.organisation)
    with transaction.atomic():
        if key.revoked_at is None:
            key.revoked_at, key.revoked_by = timezone.now(), user
            key.save(update_fields=["revoked_at", "revoked_by"])
            audit_record(
                actor=user, school=key.organisation, action=AuditEvent.Action.API_REQUEST,
                target=f"API key {key.prefix}", detail={"key": key.prefix, "revoked": True}, request=request,
            )
    return key


def api_key_check(presented: str) -> ApiKey | None:
    """The live key `presented` is, or None (unknown, revoked, or malformed). Notes when it was
    last used (at most once a minute, so a busy key does not write on every request)."""
    if not presented.startswith(KEY_START) or len(presented) > 100:
        return None
    key = (
        ApiKey.objects.select_related("organisation", "created_by")
        .filter(key_sha256=key_sha256(presented), revoked_at__isnull=True)
        .first()
    )
    if key is None or not key.created_by.is_active:
        return None
    now = timezone.now()
    if key.last_used_at is None or (now - key.last_used_at).total_seconds() >= LAST_USED_EVERY_SECONDS:
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
        key.last_used_at = now
    return key


def keys_of(organisation: Organisation):
    return ApiKey.objects.filter(organisation=organisation).select_related("created_by", "revoked_by")
