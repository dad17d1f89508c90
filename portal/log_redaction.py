"""Signing links never reach a log.

The e-mailed link `/sign/t/<token>/` is a carer's only key for as long as it works (60 days by
default). A web server's access log keeps every address requested, and Django logs the address of
every request that ends in an error, so either would hold working keys for as long as the logs are
kept, readable by whoever reads logs. Everything here writes `/sign/t/[token]/` instead.

Used by gunicorn's access and error logs (portal/gunicorn.conf.py) and by Django's own log
handlers (LOGGING in portal/settings.py). README.md, "Security", shows the same for nginx and Caddy.
"""

import logging
import re

# The token is whatever stands between /sign/t/ and the next /, ?, # or the end of the address
# (or a quote or space, where a log line goes on).
SIGNING_TOKEN = re.compile(r"(/sign/t/)[^/?#\s\"']+")
REDACTED = r"\1[token]"


def redact(text: str) -> str:
    return SIGNING_TOKEN.sub(REDACTED, text)


class RedactSigningTokens(logging.Filter):
    """A logging filter that takes signing tokens out of the message, whatever logged it."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record: leave it for the handler to report as it would
            return True
        if "/sign/t/" in message:
            record.msg, record.args = redact(message), ()
        return True
