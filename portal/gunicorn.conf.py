"""gunicorn's settings for the portal in production:

    .venv/bin/gunicorn -c portal/gunicorn.conf.py

Environment variables: WEB_CONCURRENCY (web processes; the one `check --deploy` reads to insist
on a shared cache for rate limits, portal/checks.py), GUNICORN_BIND (default 127.0.0.1:8000),
GUNICORN_ACCESS_LOG and GUNICORN_ERROR_LOG (a file, or "-" for standard output and error).

The access log is Apache's combined format, gunicorn's default, with every signing link's token
replaced by [token] (portal/log_redaction.py): in the request line, the referrer, and any header
or environment value a changed access_log_format might show.
"""

import os
import sys
from pathlib import Path

from gunicorn.glogging import Logger

# gunicorn reads this file before it puts its working directory on the path.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from portal.log_redaction import RedactSigningTokens, redact  # noqa: E402

wsgi_app = "portal.wsgi:application"
bind = [os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")]
workers = int(os.environ.get("WEB_CONCURRENCY", "1"))
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-")
errorlog = os.environ.get("GUNICORN_ERROR_LOG", "-")
access_log_format = '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s"'


class TokenRedactingLogger(Logger):
    """gunicorn's logger, writing signing links without their token."""

    def setup(self, cfg):
        super().setup(cfg)
        # gunicorn's own error messages ("Error handling request /sign/t/...") too.
        self.error_log.addFilter(RedactSigningTokens())

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        return {name: redact(value) if isinstance(value, str) else value for name, value in atoms.items()}


logger_class = TokenRedactingLogger
