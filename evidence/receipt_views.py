"""The carer's receipt after signing, and their own copy of the declaration as a sealed PDF,
mounted at /sign/done/ and /sign/copy/. Like every signing page they are never cached and send no
referrer (portal.pages)."""

from django.http import FileResponse, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_safe

from codes.markup import render_markdown
from declarations import selectors
from declarations.session import signing_session
from evidence.models import DeclarationPdf
from evidence.pdf import carer_copy_name
from portal.languages import language_name
from portal.pages import see_other, signing_page


@require_safe
@signing_page
def receipt(request):
    """The receipt: what was signed, when, and the version's fingerprint."""
    held = signing_session(request)
    if isinstance(held, HttpResponse):
        return held
    signing_request, version = held
    declaration = selectors.current_declaration(signing_request.carer, version)
    if declaration is None:
        return see_other(reverse("signing:sign"))
    return render(
        request,
        "declarations/done.html",
        {
            "organisation": signing_request.school,
            "declaration": declaration,
            "version": declaration.version,
            "carer": signing_request.carer,
            "statement_html": render_markdown(declaration.statement),
            "pdf": DeclarationPdf.objects.filter(declaration=declaration).first(),
            "language_shown": language_name(declaration.language) if declaration.language else "",
        },
    )


@require_safe
@signing_page
def copy(request):
    """The carer's own copy of their declaration: its sealed PDF, as stored, for this session's
    carer only. Rendered in the background just after signing; until then, a page that says so."""
    held = signing_session(request)
    if isinstance(held, HttpResponse):
        return held
    signing_request, version = held
    declaration = selectors.current_declaration(signing_request.carer, version)
    if declaration is None:
        return see_other(reverse("signing:sign"))
    record = DeclarationPdf.objects.filter(declaration=declaration).first()
    if record is None:
        response = render(
            request, "declarations/copy_preparing.html", {"organisation": signing_request.school}, status=202
        )
        response.headers["Retry-After"] = "5"
        return response
    return FileResponse(
        record.file.open("rb"), as_attachment=True, filename=carer_copy_name(declaration), content_type="application/pdf"
    )
