"""The e-mailed link's token: 256 random bits, of which only the SHA-256 is ever stored."""

import hashlib
import secrets


def new_token() -> tuple[str, str]:
    """A fresh token and its hash. The token goes in the e-mail; only the hash is kept."""
    token = secrets.token_urlsafe(32)
    return token, hash_token(token)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("ascii", "replace")).hexdigest()
