"""The e-mails a carer gets: what they say, in plain text and HTML. Rendering only.

Nothing here writes to the database or sends anything (sending/outbox.py does both).
Every e-mail comes from the school: its name on the portal's sending address, Reply-To the
school's own address when it has one. An invitation is the school's covering letter for that
version with its placeholders filled, then one link. The token in the link is handed in by the
caller and is never kept.

The plain-text part is wrapped at 70 characters so it travels as readable 7bit/8bit text (not
quoted-printable): in the demo the saved .log files can be read, and the link clicked, as is.
"""

from __future__ import annotations

import datetime
import html
import re
import textwrap
from dataclasses import dataclass
from email.headerregistry import Address
from email.utils import parseaddr

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import NoReverseMatch, reverse
from django.utils import dateformat, timezone, translation
from django.utils.safestring import SafeString, mark_safe
from django.utils.text import get_text_list
from django.utils.translation import gettext

from codes import markup
from codes.markup import render_markdown
from declarations import selectors
from portal import languages
from schools.branding import DEFAULT_COLOUR
from schools.models import StaffRole
from sending.models import OutboxMessage, Reminder
from sending.signals import confirmation_copy

# The signing pages (declarations/views.py, "signing:link") swap this link's token for a session.
SIGN_PATH = "/sign/t/{token}/"
CHANGES_PATH = "/sign/t/{token}/changes/"  # the same, then the marked-up comparison ("signing:link_changes")

# The carer's postal address is not held, so letter lines made only of these are removed.
ADDRESS_TOKENS = ("address_line_one", "address_line_two", "address_line_three", "town", "county", "postcode")
NO_HEADTEACHER_NAME = "The Headteacher"
NO_PHONE = "the school office"
TEXT_WIDTH = 70
# What markdown_to_text reads as one literal character: a backslash escape, an HTML entity, or
# a character of the private-use plane it borrows meanwhile as stand-ins (one each, so wrapping
# counts each as one character).
LITERAL_BASE = 0xF0000
LITERAL = re.compile("[\U000F0000-\U000FFFFD]")
ESCAPED_OR_ENTITY = re.compile(
    rf"\\([{re.escape(markup.ESCAPABLE)}])|&(?:#[0-9]+|#[xX][0-9a-fA-F]+|[A-Za-z][A-Za-z0-9]*);|{LITERAL.pattern}"
)

# Used when a version has no covering letter of its own (Peartree Spring, Alsop High).
DEFAULT_LETTER = """Dear parent or carer,

{school} asks every parent and carer to read its social media code of conduct and to sign to say \
that they have read it and will follow it.

If you have any questions, please contact the school on {contact_number}.

Kind regards,

{sender_name}

{sender_job_title}
"""

Kind = OutboxMessage.Kind


@dataclass(frozen=True)
class Letter:
    """A covering letter with its placeholders filled, ready for both parts of an e-mail."""

    text: str
    html: SafeString


# RFC 5322 2.1.1: a line is at most 998 characters; 78 is only what it SHOULD be. Up to this, the
# plain-text part goes as 7bit (ASCII) or 8bit, never quoted-printable, so a long link is never
# cut by a soft line break ("…/chan=" / "ges/") in a saved or forwarded e-mail.
MAX_LINE = 998


class PlainTextFirstEmail(EmailMultiAlternatives):
    """An e-mail whose plain-text part is sent as it reads (7bit or 8bit) when its lines allow."""

    def message(self, *, policy=None):
        message = super().message(**({"policy": policy} if policy is not None else {}))
        for part in message.walk():
            if part.get_content_type() == "text/plain" and not part.is_attachment():
                _as_plain_text(part)
                break
        return message


def _as_plain_text(part) -> None:
    text = part.get_content()
    if any(len(line.encode()) > MAX_LINE for line in text.splitlines()):
        return  # too long for 7bit/8bit: the standard wants an encoding
    charset = part.get_content_charset() or "utf-8"
    had_mime_version = "MIME-Version" in part
    part.set_content(text, subtype="plain", charset=charset, cte="7bit" if text.isascii() else "8bit")
    if not had_mime_version:
        del part["MIME-Version"]  # set_content adds one; a part inside the message needs none


# Dates and addresses.


def possessive(name: str) -> str:
    """"Whitefield Primary School's", "Halton Association of Secondary Headteachers'"."""
    return f"{name}'" if name.endswith("s") else f"{name}'s"


def long_date(day: datetime.date | datetime.datetime) -> str:
    """22 November 2026 (a datetime is shown on its local date)."""
    if isinstance(day, datetime.datetime):
        day = timezone.localtime(day).date()
    return dateformat.format(day, "j F Y")


def school_from_address(school) -> str:
    """The school's name on the portal's own sending address: "Whitefield Primary School" <no-reply@…>."""
    _, address = parseaddr(settings.DEFAULT_FROM_EMAIL)
    return str(Address(display_name=school.name, addr_spec=address or "no-reply@localhost"))


def sign_link(token: str, *, changes: bool = False) -> str:
    """The carer's personal link; with `changes`, one that opens the comparison with the version
    they last signed instead of the signing page."""
    name, fallback = ("signing:link_changes", CHANGES_PATH) if changes else ("signing:link", SIGN_PATH)
    try:
        path = reverse(name, kwargs={"token": token})
    except NoReverseMatch:  # the signing pages not mounted (a test URLconf, say): their documented path
        path = fallback.format(token=token)
    return settings.PORTAL_BASE_URL + path


def what_changed(carer, version) -> dict:
    """For a carer who signed an earlier version of the code: what they signed, when, and each
    later version's revision note up to `version` (context for the invitation). Else {}."""
    previous = selectors.previous_declaration(carer, version)
    if previous is None:
        return {}
    return {
        "previous": previous,
        "previous_signed_on": long_date(previous.signed_at),
        "revisions": selectors.revisions_since(previous.version, version),
    }


def school_page_link(school) -> str:
    try:
        path = reverse("public:organisation", args=[school.slug])
    except NoReverseMatch:  # pragma: no cover - the public pages are always mounted
        path = "/"
    return settings.PORTAL_BASE_URL + path


def email_branding(school) -> dict:
    """The school's colour (only as a colour: it goes into a style attribute), its logo's address
    and its postal address, for the HTML e-mail's header and footer."""
    colour = school.brand_colour if re.fullmatch(r"#[0-9a-fA-F]{6}", school.brand_colour or "") else DEFAULT_COLOUR
    logo_url = ""
    if school.logo:
        try:
            logo_url = settings.PORTAL_BASE_URL + reverse("public:logo", args=[school.slug])
        except NoReverseMatch:  # pragma: no cover - the public pages are always mounted
            pass
    return {"brand_colour": colour, "logo_url": logo_url, "school_address": school.address.strip()}


def letter_sender(school) -> tuple[str, str]:
    """Who signs the letter: the school's headteacher (name, job title), or "The Headteacher"."""
    role = (
        StaffRole.objects.filter(organisation=school, role=StaffRole.Role.HEADTEACHER)
        .select_related("user")
        .order_by("pk")
        .first()
    )
    if role is None:
        return NO_HEADTEACHER_NAME, ""
    name = role.user.get_full_name().strip()
    if not name:
        return NO_HEADTEACHER_NAME, ""
    return name, role.job_title or "Headteacher"


# The covering letter.


def fill_placeholders(text: str, values: dict[str, str]) -> str:
    """Replace {name} placeholders with the values escaped for Markdown (codes.markup); address
    lines (not held) go; unknown placeholders stay visible."""
    address = "|".join(ADDRESS_TOKENS)
    text = re.sub(rf"(?m)^[ \t]*(\{{(?:{address})\}}[ \t,]*)+\n?", "", text)
    text = re.sub(rf"\{{(?:{address})\}},?[ \t]*", "", text)
    text = markup.fill_placeholders(text, values)
    # A filled value that is empty (no job title) leaves an empty line: tidy the paragraph breaks.
    text = re.sub(r"\n[ \t]+\n", "\n\n", text)
    return re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"


def markdown_to_text(markdown: str, *, width: int = TEXT_WIDTH) -> str:
    """Plain text from the letter's Markdown: no # or ** marks, links as "text (address)", wrapped.

    A backslash-escaped character or an HTML entity (as a filled-in name carries them) is the
    literal character: each is set aside before the marks are read and put back at the end.
    """
    literals = []

    def set_aside(match):
        found = match.group(0)
        literals.append(match.group(1) or (html.unescape(found) if found[0] == "&" else found))
        return chr(LITERAL_BASE + len(literals) - 1)

    text = ESCAPED_OR_ENTITY.sub(set_aside, markdown)
    text = re.sub(r"\[([^\]]+)\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)", r"\1 (\2)", text)
    text = re.sub(r"(\*\*|__)(.+?)\1", r"\2", text)
    text = re.sub(r"(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?![\w*])", r"\1", text)
    text = re.sub(r"(?<![\w_])_(?!\s)(.+?)(?<!\s)_(?![\w_])", r"\1", text)
    blocks = []
    for paragraph in re.split(r"\n[ \t]*\n", text.strip()):
        items = []  # [first-line prefix, following-lines prefix, words, open for continuation]
        for line in paragraph.splitlines():
            heading = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
            bullet = re.match(r"^\s*[-*+]\s+(.*)$", line)
            number = re.match(r"^\s*(\d+[.)])\s+(.*)$", line)
            if heading:
                items.append(["", "", heading.group(1), False])
            elif bullet:
                items.append(["- ", "  ", bullet.group(1), True])
            elif number:
                prefix = number.group(1) + " "
                items.append([prefix, " " * len(prefix), number.group(2), True])
            elif items and items[-1][3]:
                items[-1][2] += " " + line.strip()
            else:
                items.append(["", "", line.strip(), True])
        blocks.append("\n".join(_wrap(words, width, first, rest) for first, rest, words, _ in items))
    text = "\n\n".join(block for block in blocks if block.strip()).strip() + "\n"
    return LITERAL.sub(lambda match: literals[ord(match.group(0)) - LITERAL_BASE], text)


def _wrap(text: str, width: int, first: str, rest: str) -> str:
    return textwrap.fill(
        text.strip(),
        width=width,
        initial_indent=first,
        subsequent_indent=rest,
        break_long_words=False,
        break_on_hyphens=False,
    ) or first.rstrip()


def letter_html(markdown: str) -> SafeString:
    """The letter through the portal's sanitiser, its headings made bold paragraphs (the e-mail
    has one heading of its own)."""
    html = str(render_markdown(markdown))
    html = re.sub(r"<h[2-6]>(.*?)</h[2-6]>", r"<p><strong>\1</strong></p>", html, flags=re.S)
    return mark_safe(html)


def covering_letter(*, school, version, today: datetime.date | None = None, sender=None) -> Letter:
    """The version's covering letter for this school, placeholders filled, in text and HTML.

    {school} → the school's name; {contact_number} → its phone (or "the school office");
    {date} → today, e.g. 22 November 2026; {sender_name} and {sender_job_title} → the school's
    headteacher (or "The Headteacher"); address lines → removed, as no address is held.
    """
    today = today or timezone.localdate()
    sender_name, sender_job_title = sender or letter_sender(school)
    values = {
        "school": school.name,
        "contact_number": school.phone.strip() or NO_PHONE,
        "date": long_date(today),
        "sender_name": sender_name,
        "sender_job_title": sender_job_title,
    }
    # A letter saved before line endings were normalised on save may hold CRLF: read it as "\n".
    letter = version.covering_letter.replace("\r\n", "\n").replace("\r", "\n")
    filled = fill_placeholders(letter.strip() or DEFAULT_LETTER, values)
    return Letter(text=markdown_to_text(filled), html=letter_html(filled))


# Whole e-mails.


def school_possessive(school) -> str:
    """The school's name as the e-mails' sentences hold it: "Whitefield Primary School's" in
    English, the name alone in a translation (whose sentence is worded around it)."""
    return possessive(school.name) if translation.get_language() == languages.ENGLISH else school.name


def subject_for(kind: str, school, *, carer=None, children: list | None = None) -> str:
    """The subject, in the language active (email_for activates the carer's); with the carer (and
    their children), it names them, so two carers who share an address can tell their e-mails apart."""
    # Translators: %(school)s is the school's name ("Whitefield Primary School's" in English).
    values = {"school": school_possessive(school)}
    if kind == Kind.INVITATION:
        subject = gettext("Please read and sign %(school)s social media code of conduct") % values
    elif kind in Reminder.values:
        subject = gettext("Reminder: please read and sign %(school)s social media code of conduct") % values
    elif kind == Kind.NEW_LINK:
        subject = gettext("Your link to sign %(school)s social media code of conduct") % values
    elif kind == Kind.CONFIRMATION:
        subject = gettext("Thank you for signing %(school)s social media code of conduct") % values
    else:
        raise ValueError(f"No e-mail for outbox kind {kind!r}")
    if carer is None:
        return subject
    if children:
        # In the e-mail's language ("Amy a Ben"); the declaration itself names them in English.
        forenames = get_text_list([child.forename for child in children], gettext("and"))
        return gettext("%(subject)s – for %(carer)s (%(children)s)") % {
            "subject": subject, "carer": carer.full_name, "children": forenames,
        }
    return gettext("%(subject)s – for %(carer)s") % {"subject": subject, "carer": carer.full_name}


GREETING_TEXT = re.compile(r"(?m)^Dear\b[^\n]*$")
GREETING_HTML = re.compile(r"<p>Dear\b[^<\n]*")


def addressed_to(letter: Letter, name: str) -> Letter:
    """The letter with its greeting ("Dear parents,") naming the carer ("Dear Mary Smith,"), or
    such a greeting put first if the letter has none. The greeting is in the language active."""
    greeting = gettext("Dear %(name)s,") % {"name": name}
    if GREETING_TEXT.search(letter.text):
        text = GREETING_TEXT.sub(lambda _: greeting, letter.text, count=1)
    else:
        text = f"{greeting}\n\n{letter.text}"
    if GREETING_HTML.search(letter.html):
        html_part = GREETING_HTML.sub(lambda _: f"<p>{html.escape(greeting)}", str(letter.html), count=1)
    else:
        html_part = f"<p>{html.escape(greeting)}</p>\n{letter.html}"
    return Letter(text=text, html=mark_safe(html_part))


def email_for(
    message: OutboxMessage,
    *,
    token: str | None = None,
    expires_at: datetime.datetime | None = None,
    declaration=None,
    letter: Letter | None = None,
    children: list | None = None,
    today: datetime.date | None = None,
) -> EmailMultiAlternatives:
    """The e-mail for one outbox row, addressed to the carer's current address.

    Invitations, reminders and new links need the link's `token` and `expires_at`; a
    confirmation needs the `declaration`. `letter` lets a caller sending many invitations fill
    the covering letter once, and `children` (the carer's children to name, as
    declarations.selectors.children_to_name_for gives them) read them for many e-mails at once.

    The portal's own words are in the carer's home language where the portal has it
    (portal/languages.py), else English; the school's covering letter stays as the school wrote it.
    """
    school, carer, version, kind = message.school, message.carer, message.version, message.kind
    if kind == Kind.INVITATION and letter is None:
        letter = covering_letter(school=school, version=version, today=today)
    with translation.override(languages.shown_language(carer.language)):
        return _email_in_language(
            message, token=token, expires_at=expires_at, declaration=declaration, letter=letter, children=children
        )


def _email_in_language(message, *, token, expires_at, declaration, letter, children) -> EmailMultiAlternatives:
    school, carer, version, kind = message.school, message.carer, message.version, message.kind
    if children is None:
        children = selectors.children_to_name(carer)
    subject = subject_for(kind, school, carer=carer, children=children)
    context = {
        "school_possessive": school_possessive(school),
        "kind": kind,
        "school": school,
        "carer": carer,
        "version": version,
        "subject": subject,
        "contact_number": school.phone.strip(),
        "reply_to_school": bool(school.email),
        "school_page": school_page_link(school),
        **email_branding(school),
    }
    if kind == Kind.CONFIRMATION:
        if declaration is None:
            raise ValueError("A confirmation e-mail needs the declaration it confirms.")
        context.update(declaration=declaration, signed_on=long_date(declaration.signed_at), template="confirmation")
        context.update(_copy_context(declaration))
    else:
        if not token or expires_at is None:
            raise ValueError(f"A {kind} e-mail needs a link token and its expiry.")
        context.update(link=sign_link(token), expires_on=long_date(expires_at))
        if kind == Kind.INVITATION:
            context.update(
                letter=addressed_to(letter, carer.full_name),
                template="invitation",
                # No query for a carer the sender already knows never signed an earlier version.
                **(what_changed(carer, version) if getattr(message, "signed_before", True) else {}),
            )
            if "previous" in context:
                context["changes_link"] = sign_link(token, changes=True)
        elif kind in Reminder.values:
            context["template"] = "reminder"
        else:
            context["template"] = "new_link"
    template = context["template"]
    text = _tidy_text(render_to_string(f"emails/{template}.txt", context))
    html = render_to_string(f"emails/{template}.html", context)
    email = PlainTextFirstEmail(
        subject=subject,
        body=text,
        from_email=school_from_address(school),
        to=[carer.email],
        reply_to=[school.email] if school.email else None,
        headers={"Auto-Submitted": "auto-generated", "Content-Language": translation.get_language()},
    )
    email.attach_alternative(html, "text/html")
    if context.get("pdf") is not None:
        with context["pdf"].file.open("rb") as pdf:
            email.attach(context["pdf_filename"], pdf.read(), "application/pdf")
    return email


def _copy_context(declaration) -> dict:
    """The carer's copy of their declaration, as the apps that keep it describe it
    (sending.signals.confirmation_copy), and how long their link still reaches the receipt page."""
    request = declaration.request
    context = {
        "pdf": None,
        "pdf_filename": "",
        "verify_page": "",
        "link_works_until": long_date(request.expires_at) if request is not None and request.expires_at else "",
    }
    for _receiver, copy in confirmation_copy.send(sender=type(declaration), declaration=declaration):
        context.update(copy or {})
    return context


def _tidy_text(text: str) -> str:
    """Template whitespace out of the plain-text part; paragraphs wrapped, links on their own line."""
    paragraphs = [p.strip("\n") for p in re.split(r"\n[ \t]*\n", text)]
    wrapped = []
    for paragraph in paragraphs:
        if not paragraph.strip():
            continue
        lines = [line.rstrip() for line in paragraph.splitlines()]
        wrapped.append(
            "\n".join(
                line if len(line) <= TEXT_WIDTH or "://" in line else _wrap(line, TEXT_WIDTH, "", "")
                for line in lines
            )
        )
    return "\n\n".join(wrapped) + "\n"
