"""The e-mailed link's token, of which only the SHA-256 is ever stored.

A link is numbered: a signing request's first link is number 1, and each new one takes the next
number, so a link once replaced is never made again. Its token is an HMAC-SHA256, keyed with the
portal's secret (PORTAL_LINK_SECRET, or SECRET_KEY when that is not set), of the request's id and
the link's number. So the portal can write the same link into a second e-mail (one sent again
after a worker died, or a carer's "send me a new link") without ever storing the token.

Why this is as strong as 256 random bits: without the key, HMAC-SHA256 outputs cannot be told
from random ones (it is a pseudo-random function), so a token cannot be guessed or worked out
from other tokens, request ids or numbers; the database holds only each token's SHA-256, from
which the token cannot be recovered, so a copy of the database alone opens no link, as before.
What changes is that whoever holds the key could compute links. The key already signs the
portal's sessions, CSRF tokens and password resets, so it is guarded as closely already. If the
key changes, links already sent keep working (their hashes are stored) but cannot be written
again: the next e-mail to that carer carries a new link instead (see link_resendable).
"""

import base64
import hashlib

from django.conf import settings
from django.utils.crypto import salted_hmac

_PURPOSE = "declarations.tokens.signing-link"


def link_token(request_id: int, number: int) -> str:
    """The token of link `number` of signing request `request_id`: 43 URL-safe characters."""
    secret = getattr(settings, "PORTAL_LINK_SECRET", "") or settings.SECRET_KEY
    digest = salted_hmac(_PURPOSE, f"{request_id}:{number}", secret=secret, algorithm="sha256").digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("ascii", "replace")).hexdigest()


# A printed form's short address: typed in by hand, so 12 letters and digits (60 bits) rather than
# the link's 43 characters. Also an HMAC of the request's id and link number (so it is never
# stored, only its SHA-256), it opens only the link it was made with, and only while that link
# is the request's current one (services.short_link_check); guessing is held back by the signing
# links' rate limits.
_SHORT_PURPOSE = "declarations.tokens.short-link"
_BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
_TYPED = str.maketrans({"0": "O", "1": "I", "8": "B", "9": "G"})  # what a reader may type instead


def short_code(request_id: int, number: int) -> str:
    """E.g. "K7QD-MX2A-PL4R"."""
    secret = getattr(settings, "PORTAL_LINK_SECRET", "") or settings.SECRET_KEY
    digest = salted_hmac(_SHORT_PURPOSE, f"{request_id}:{number}", secret=secret, algorithm="sha256").digest()
    code = base64.b32encode(digest).decode("ascii")[:12]
    return "-".join(code[i : i + 4] for i in range(0, 12, 4))


def short_code_normalised(text: str) -> str | None:
    """The code as made, from what was typed (any case, spaces or dashes, 0 for O...), or None."""
    code = "".join((text or "").upper().split()).replace("-", "").translate(_TYPED)
    if len(code) != 12 or any(char not in _BASE32 for char in code):
        return None
    return "-".join(code[i : i + 4] for i in range(0, 12, 4))


def hash_short_code(code: str) -> str:
    return hashlib.sha256(code.encode("ascii")).hexdigest()
