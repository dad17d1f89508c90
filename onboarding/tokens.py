"""An invitation link's token, of which only the SHA-256 is stored (as for signing links,
declarations/tokens.py): an HMAC-SHA256 of the invitation's id and random nonce under the
portal's secret, so the worker that e-mails it can write it again from the id alone."""

import base64

from django.conf import settings
from django.utils.crypto import salted_hmac

_PURPOSE = "onboarding.tokens.staff-invitation"


def invitation_token(invitation) -> str:
    """The link's token: 43 URL-safe characters, never stored."""
    secret = getattr(settings, "PORTAL_LINK_SECRET", "") or settings.SECRET_KEY
    digest = salted_hmac(_PURPOSE, f"{invitation.pk}:{invitation.nonce}", secret=secret, algorithm="sha256").digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
