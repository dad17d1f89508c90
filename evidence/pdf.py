"""One declaration as a PDF that proves itself: rendered once, sealed, stored, served ever after.

    declaration_pdf_issue(declaration_id=42)  # the sealed PDF's record, rendering it if needed

The PDF (templates/pdf/declaration.html, styled by templates/pdf/declaration.css) holds the
school's name and branding, the full text of the version signed with its number, effective date
and fingerprint, the statement as shown, the carer and children named, the signature block
(typed name, time in UTC and UK time, IP address, browser), the evidence trail, and a
verification code with a link and QR code to the portal's verification page. It is tagged
PDF/A-3a (WeasyPrint's "pdf/a-3a" variant: PDF/A-3 with structure tags, so headings, reading
order, title and language are there for screen readers), in DejaVu fonts from the system, with
nothing fetched from anywhere (images are embedded as data: URIs; every other URL is refused).

Rendering happens once, in the background (render_declaration_pdf below, queued when
a declaration is committed), and is retry-safe: the declaration row is locked while its PDF is
made, and a declaration that already has one is left alone, so rendering twice yields one stored
file and one recorded hash.
"""

from __future__ import annotations

import base64
import datetime
import functools
import hashlib
import io
import re
import secrets
import uuid
import zoneinfo
from dataclasses import dataclass
from urllib.parse import urlencode

import qrcode
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.tasks import task
from django.template.loader import render_to_string
from django.urls import NoReverseMatch, reverse
from django.utils import timezone, translation
from django.utils.safestring import SafeString, mark_safe
from django.utils.text import slugify
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from qrcode.image.pil import PilImage

from codes.markup import render_markdown
from codes.models import VersionTranslation
from codes.translations import translation_context
from declarations.models import Declaration, SigningRequest
from declarations.selectors import names_in_words as declaration_children_in_words
from evidence.models import DeclarationPdf
from portal.languages import ENGLISH, language_name, shown_language
from schools.models import hex_colour
from sending.models import OutboxMessage

PDF_VARIANT = "pdf/a-3a"  # PDF/A-3, conformance level A: archival and tagged
VERIFY_PATH = "/verify/"
DEFAULT_BRAND_COLOUR = "#1d4f91"
CODE_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"  # RFC 4648 base32
CODE_LENGTH = 10  # 50 random bits
LOGO_TYPES = {b"\x89PNG\r\n\x1a\n": "image/png", b"\xff\xd8\xff": "image/jpeg", b"GIF8": "image/gif"}
LOGO_MAX_BYTES = 2 * 1024 * 1024
UK = zoneinfo.ZoneInfo("Europe/London")


# Verification codes.


def new_verification_code() -> str:
    """10 characters of base32 from 50 random bits: unguessable at the page's rate limit, and
    short enough to read out over the phone."""
    return base64.b32encode(secrets.token_bytes(7)).decode("ascii")[:CODE_LENGTH]


def normalise_code(text: str) -> str:
    """What a person typed, as stored: capitals, no spaces or dashes, 0→O and 1→I, 8→B (base32
    has no 0, 1 or 8, and people read them into it)."""
    cleaned = re.sub(r"[\s\-_.]", "", text or "").upper()
    return cleaned.translate(str.maketrans({"0": "O", "1": "I", "8": "B"}))


def verification_url(code: str) -> str:
    try:
        path = reverse("verification:verify")
    except NoReverseMatch:  # the verification page not mounted (a test URLconf): its documented path
        path = VERIFY_PATH
    shown = f"{code[:5]}-{code[5:]}"
    return f"{settings.PORTAL_BASE_URL}{path}?{urlencode({'code': shown})}"


# What the PDF shows.


@dataclass(frozen=True)
class Moment:
    """A time as the PDF shows it: in UTC, and in UK time (GMT or BST)."""

    at: datetime.datetime

    @property
    def utc(self) -> str:
        return self.at.astimezone(datetime.UTC).strftime("%-d %B %Y, %H:%M:%S UTC")

    @property
    def uk(self) -> str:
        local = timezone.localtime(self.at, timezone=UK)
        return local.strftime(f"%-d %B %Y, %H:%M:%S {local.tzname()}")

    @property
    def iso(self) -> str:
        return self.at.astimezone(datetime.UTC).isoformat()


@dataclass(frozen=True)
class TrailEvent:
    what: str
    moment: Moment | None = None
    day: datetime.date | None = None  # for what is known only to the day (a paper form's date)


def evidence_trail(declaration: Declaration) -> list[TrailEvent]:
    """What happened on the way to this declaration, oldest first: invited, e-mailed, reminded,
    opened, signed; or for a paper form, the date on it and who recorded it when."""
    events: list[TrailEvent] = []
    request: SigningRequest | None = declaration.request
    if request is not None:
        events.append(TrailEvent(_("Asked to sign: the school added the carer to those asked"), Moment(request.created_at)))
        emails = list(
            OutboxMessage.objects.filter(
                carer_id=declaration.carer_id,
                version_id=declaration.version_id,
                status=OutboxMessage.Status.SENT,
                sent_at__isnull=False,
                sent_at__lte=declaration.signed_at,
            )
            .exclude(kind=OutboxMessage.Kind.CONFIRMATION)
            .order_by("sent_at", "pk")
        )
        for message in emails:
            events.append(TrailEvent(_("%(email)s e-mailed with a personal link") % {"email": message.get_kind_display()}, Moment(message.sent_at)))
        kinds = {message.kind for message in emails}
        if request.sent_at and OutboxMessage.Kind.INVITATION not in kinds:
            events.append(TrailEvent(_("Invitation sent"), Moment(request.sent_at)))
        reminders = {k for k in kinds if k.startswith("reminder")}
        if request.last_reminded_at and not reminders:
            count = request.reminders_sent
            events.append(
                TrailEvent(
                    ngettext("Reminded (%(count)d reminder; the last one)", "Reminded (%(count)d reminders; the last one)", count)
                    % {"count": count},
                    Moment(request.last_reminded_at),
                )
            )
        if request.opened_at and request.opened_at <= declaration.signed_at:
            events.append(TrailEvent(_("Link first opened"), Moment(request.opened_at)))
    if declaration.method == Declaration.Method.PAPER:
        events.append(TrailEvent(_("Signed on paper (the date written on the form)"), day=_uk_date(declaration.signed_at)))
        staff = staff_name(declaration.recorded_by, _("a member of staff"))
        events.append(TrailEvent(_("Paper form recorded in the portal by %(staff)s, with a scan") % {"staff": staff}, Moment(declaration.recorded_at)))
    else:
        events.append(TrailEvent(_("Signed online: the declaration was submitted"), Moment(declaration.signed_at)))
    return sorted(events, key=_sort_key)


def _sort_key(event: TrailEvent):
    if event.moment is not None:
        return event.moment.at
    # A day: at noon UK time, as the paper form service records it.
    return timezone.make_aware(datetime.datetime.combine(event.day, datetime.time(12)), UK)


def _uk_date(moment: datetime.datetime) -> datetime.date:
    return timezone.localtime(moment, timezone=UK).date()


def staff_name(user, unknown: str = "") -> str:
    """A member of staff as evidence names them: their full name, else their username."""
    if user is None:
        return unknown
    return user.get_full_name().strip() or user.get_username()


def _code_html(markdown: str) -> SafeString:
    """The code's text, its headings one level down: in the PDF they sit under "The code of
    conduct" (h2), so the document's outline stays in order."""
    html = str(render_markdown(markdown))  # sanitised: only the tags codes.markup allows
    return mark_safe(re.sub(r"<(/?)h([2-5])>", lambda match: f"<{match.group(1)}h{int(match.group(2)) + 1}>", html))


def _logo_data_uri(school) -> str:
    """The school's logo as a data: URI (nothing is fetched while rendering), or "" when it has
    none, or it is not a PNG, JPEG or GIF, or it cannot be read."""
    if not school.logo:
        return ""
    try:
        with school.logo.open("rb") as file:
            data = file.read(LOGO_MAX_BYTES + 1)
    except (OSError, ValueError):
        return ""
    if len(data) > LOGO_MAX_BYTES:
        return ""
    for magic, content_type in LOGO_TYPES.items():
        if data.startswith(magic):
            return f"data:{content_type};base64,{base64.b64encode(data).decode('ascii')}"
    return ""


def _qr_data_uri(url: str) -> str:
    """The link as a QR code: a black-and-white PNG from qrcode's Pillow image factory. (Its SVG
    factory draws each module as a path segment, which took WeasyPrint a fifth of a PDF's
    rendering time to paint; bench/profiles/evidence.md.)"""
    image = qrcode.make(url, image_factory=PilImage, border=2)
    png = io.BytesIO()
    image.save(png)
    return "data:image/png;base64," + base64.b64encode(png.getvalue()).decode("ascii")


def _brand_colour(school) -> str:
    try:
        hex_colour(school.brand_colour or "")
    except ValidationError:
        return DEFAULT_BRAND_COLOUR
    return school.brand_colour


def _scan_sha256(declaration: Declaration) -> str:
    if not declaration.paper_scan:
        return ""
    digest = hashlib.sha256()
    try:
        with declaration.paper_scan.open("rb") as file:
            for chunk in iter(lambda: file.read(64 * 1024), b""):
                digest.update(chunk)
    except OSError:
        return ""
    return digest.hexdigest()


def pdf_context(declaration: Declaration, *, verification_code: str, rendered_at: datetime.datetime) -> dict:
    """Everything templates/pdf/declaration.html shows."""
    school, version = declaration.school, declaration.version
    url = verification_url(verification_code)
    return {
        "declaration": declaration,
        "school": school,
        "version": version,
        "title": f"Declaration: {declaration.carer_name}, {school.name}, version {version.number}",
        "brand_colour": _brand_colour(school),
        "logo": _logo_data_uri(school),
        "body_html": _code_html(version.body),
        "statement_html": render_markdown(declaration.statement),
        **_translation_shown(declaration),
        "children": [child.get("name", "") for child in declaration.children_named or []],
        "signed": Moment(declaration.signed_at),
        "signed_on": _uk_date(declaration.signed_at),
        "is_paper": declaration.method == Declaration.Method.PAPER,
        "recorded_by": staff_name(declaration.recorded_by, _("a member of staff")),
        "language_shown": language_name(declaration.language) if declaration.language else "",
        "recorded": Moment(declaration.recorded_at),
        "scan_sha256": _scan_sha256(declaration),
        "trail": evidence_trail(declaration),
        "code": verification_code,
        "code_display": f"{verification_code[:5]}-{verification_code[5:]}",
        "verify_url": url,
        "verify_page": url.split("?", 1)[0],
        "qr": _qr_data_uri(url),
        "rendered": Moment(rendered_at),
        "portal_base_url": settings.PORTAL_BASE_URL,
    }


def _translation_shown(declaration: Declaration) -> dict:
    """The translation shown beside the English when the carer signed, filled in as it was shown,
    when the stored one still has the fingerprint the declaration recorded."""
    fingerprint = declaration.translation_fingerprint
    if not fingerprint:
        return {"translation": None}
    shown = VersionTranslation.objects.filter(
        version_id=declaration.version_id, language=declaration.language, fingerprint=fingerprint
    ).first()
    children = [child.get("name", "") for child in declaration.children_named or []]
    context = translation_context(
        shown,
        school_name=declaration.school.name,
        carer=declaration.carer_name,
        children=declaration_children_in_words(children),
    )
    context["translation_fingerprint"] = fingerprint
    return context


def render_pdf(declaration: Declaration, *, verification_code: str, rendered_at=None) -> bytes:
    """The declaration as PDF bytes (not sealed): pure rendering, nothing stored."""
    # Imported here: WeasyPrint loads Pango and fonts, which only the processes that render need.
    from weasyprint import CSS, HTML

    # Its fixed wording in the language the carer signed in (English for paper forms and for
    # declarations from before the portal recorded a language); the code and statement as signed.
    with translation.override(shown_language(declaration.language or ENGLISH)):
        context = pdf_context(declaration, verification_code=verification_code, rendered_at=rendered_at or timezone.now())
        fetcher = _inline_only_fetcher()
        stylesheet = CSS(string=render_to_string("pdf/declaration.css", context), url_fetcher=fetcher)
        html = render_to_string("pdf/declaration.html", context)
    return HTML(string=html, url_fetcher=fetcher, base_url=settings.PORTAL_BASE_URL + "/").write_pdf(
        stylesheets=[stylesheet], pdf_variant=PDF_VARIANT
    )


@functools.cache
def _inline_only_fetcher():
    """WeasyPrint's fetcher, allowed only data: URLs (everything in a declaration PDF is inline:
    nothing is fetched). Made once per process: making one builds an SSL context, about a
    fifth of a PDF's rendering time (bench/profiles/evidence.md)."""
    from weasyprint.urls import URLFetcher

    return URLFetcher(allowed_protocols={"data"})


# The service.


def declaration_pdf_issue(*, declaration_id: int) -> DeclarationPdf:
    """The declaration's sealed PDF, rendered, sealed and stored now if it has none yet.

    Guarantees: at most one PDF per declaration, whatever the number of calls, retries or
    workers (the declaration row is locked while its PDF is made; one that exists is returned
    as it is, never re-rendered); the stored file's name says nothing about the family; the
    SHA-256 recorded is that of the stored, sealed bytes.
    """
    existing = DeclarationPdf.objects.filter(declaration_id=declaration_id).first()
    if existing is not None:
        return existing
    from evidence.seal import seal_pdf  # here: pyHanko takes most of a second to import

    with transaction.atomic():
        Declaration.objects.select_for_update(no_key=True).filter(pk=declaration_id).values_list("pk").get()
        existing = DeclarationPdf.objects.filter(declaration_id=declaration_id).first()
        if existing is not None:
            return existing
        declaration = Declaration.objects.select_related(
            "school", "version", "request", "recorded_by", "carer"
        ).get(pk=declaration_id)
        code = new_verification_code()
        while DeclarationPdf.objects.filter(verification_code=code).exists():  # 1 in 2**50: but never twice
            code = new_verification_code()
        rendered_at = timezone.now()
        sealed, certificate = seal_pdf(render_pdf(declaration, verification_code=code, rendered_at=rendered_at))
        name = default_storage.save(
            f"declarations/{declaration.school_id}/{rendered_at:%Y/%m}/{uuid.uuid4().hex}.pdf", ContentFile(sealed)
        )
        try:
            with transaction.atomic():
                record = DeclarationPdf.objects.create(
                    declaration=declaration,
                    file=name,
                    sha256=hashlib.sha256(sealed).hexdigest(),
                    verification_code=code,
                    size=len(sealed),
                    rendered_at=rendered_at,
                    certificate_fingerprint=certificate.fingerprint,
                )
        except Exception:
            default_storage.delete(name)
            raise
    return record


def carer_copy_name(declaration: Declaration) -> str:
    """What the carer's own copy is called (downloaded, or attached to their e-mail): the school
    and version, never the family."""
    return f"declaration-{slugify(declaration.school.name)[:60]}-v{declaration.version.number}.pdf"


@task(priority=10)
def render_declaration_pdf(declaration_id: int) -> str:
    """Render, seal and store one declaration's PDF, unless it has one already (retry-safe).

    Queued when a declaration is committed, ahead of its confirmation e-mail (a higher priority),
    so that with a worker running the e-mail usually finds the PDF ready to attach."""
    if not Declaration.objects.filter(pk=declaration_id).exists():
        return "gone"  # deleted (retention) before the worker got to it
    return declaration_pdf_issue(declaration_id=declaration_id).sha256
