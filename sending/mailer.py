"""The mail server's side of sending: one connection per run, each claimed row's e-mail written
with its link's token, and what a failure means for the rest of the run.

The outbox (sending/outbox.py) decides which rows go and records how they went; nothing here
writes to the database.
"""

from __future__ import annotations

import logging
import smtplib
from dataclasses import dataclass

from django.core.mail import mailers
from django.utils import timezone

from declarations.models import Declaration, SigningRequest
from declarations.services import DEFAULT_LINK_DAYS
from schools.models import Organisation
from sending import emails
from sending.models import LINK_KINDS, OutboxMessage

logger = logging.getLogger(__name__)


class MailServerUnavailable(Exception):
    """The mail backend failed in a way that is not about one message; the run stopped."""


class Mailer:
    """One connection to the mail server for a whole run, opened before the first row is claimed:
    if the server cannot be reached, no row is touched (no try used up, no link replaced)."""

    def __init__(self):
        self._connection = None

    def open(self) -> None:
        if self._connection is None:
            connection = mailers.default
            try:
                connection.open()
            except Exception as error:
                raise MailServerUnavailable(f"Could not connect to the mail server. {describe(error)}") from error
            self._connection = connection

    @property
    def is_open(self) -> bool:
        return self._connection is not None

    def send(self, email) -> None:
        self.open()
        self._connection.send_messages([email])

    def close(self) -> None:
        if self._connection is not None:
            connection, self._connection = self._connection, None
            try:
                connection.close()
            except Exception:  # a dropped connection cannot be closed politely; nothing was lost
                logger.warning("Closing the mail connection failed", exc_info=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class SendContext:
    """What the e-mails of one run share, looked up once per run rather than per e-mail: each
    school's covering letter for a version (signed by its headteacher), and how long its links
    work."""

    def __init__(self):
        self._letters = {}
        self._link_days = {}

    def letter(self, message: OutboxMessage) -> emails.Letter:
        key = (message.school_id, message.version_id, timezone.localdate())
        if key not in self._letters:
            self._letters[key] = emails.covering_letter(school=message.school, version=message.version)
        return self._letters[key]

    def link_days(self, message: OutboxMessage) -> int:
        """How long the school of the carer's request keeps a link working (services.link_issue)."""
        school_id = message.carer.school_id
        if school_id not in self._link_days:
            school = message.school if message.school_id == school_id else Organisation.objects.get(pk=school_id)
            self._link_days[school_id] = school.link_valid_days or DEFAULT_LINK_DAYS
        return self._link_days[school_id]


@dataclass
class Prepared:
    """One claimed row's e-mail, written and ready to go, and the request whose link it carries."""

    message: OutboxMessage
    email: object
    request: SigningRequest | None = None


def prepare(message: OutboxMessage, context: SendContext, link: tuple | None = None, children=None) -> Prepared:
    """The e-mail for a claimed row. One that carries a link gets `link`, (the signing request,
    the token) as sending/claims.py links_for chose it: the token lives only in the e-mail.
    `children`: the carer's children to name, when the caller has read them for many rows."""
    if message.kind in LINK_KINDS:
        request, token = link
        letter = context.letter(message) if message.kind == OutboxMessage.Kind.INVITATION else None
        email = emails.email_for(
            message, token=token, expires_at=request.expires_at, letter=letter, children=children
        )
        return Prepared(message, email, request)
    declaration = Declaration.objects.filter(carer_id=message.carer_id, version_id=message.version_id).first()
    return Prepared(message, emails.email_for(message, declaration=declaration, children=children))


def refused_for_this_message(error: Exception) -> bool:
    """The server (or the message itself) rules out this one e-mail; others may still go."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return True
    if isinstance(error, smtplib.SMTPDataError) and error.smtp_code >= 500:
        return True
    return isinstance(error, ValueError)  # an invalid address or header, found before sending


def describe(error: Exception) -> str:
    """The failure in words staff can act on, with the server's own reply where there is one."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        replies = "; ".join(
            f"{code} {reply.decode(errors='replace') if isinstance(reply, bytes) else reply}"
            for code, reply in error.recipients.values()
        )
        text = f"The mail server refused the address ({replies or 'no reason given'})."
    elif isinstance(error, smtplib.SMTPResponseException):
        reply = error.smtp_error.decode(errors="replace") if isinstance(error.smtp_error, bytes) else error.smtp_error
        text = f"The mail server said: {error.smtp_code} {reply}"
    else:
        text = f"{type(error).__name__}: {error}"
    return text[:1000]
