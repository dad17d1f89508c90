"""The public verification page, /verify/: is this an unaltered declaration PDF from this portal?

Anyone may use it (a governor, the police, a court): enter the code printed on the PDF, or
upload the PDF itself. It says little (evidence/verification.py decides what): the school,
the version, when and how it was signed and the carer's initials. Lookups are rate-limited per
client address, as the signing links are (portal/ratelimit.py), so codes cannot be guessed.
Uploaded files are checked in memory and never stored.
"""

from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from evidence.forms import VerifyCodeForm, VerifyFileForm
from evidence.verification import lookup_code, verify_pdf
from portal import ratelimit
from portal.pages import signing_form_page


def _limited(request):
    """The "too many" page when this client is over a limit, else None (counting this one)."""
    who = ratelimit.client(request)
    if ratelimit.is_over("verify_miss", who):
        return ratelimit.too_many(request, "verify_miss")
    if ratelimit.count("verify", who):
        return ratelimit.too_many(request, "verify")
    return None


@require_http_methods(["GET", "HEAD", "POST"])
@signing_form_page
def verify(request):
    code_form = VerifyCodeForm(request.GET if "code" in request.GET else None)
    file_form = VerifyFileForm()
    context = {"code_form": code_form, "file_form": file_form, "looked_up": False, "checked": None}
    if request.method == "POST":
        file_form = VerifyFileForm(request.POST, request.FILES)
        context["file_form"] = file_form
        if file_form.is_valid():
            limited = _limited(request)
            if limited is not None:
                return limited
            upload = file_form.cleaned_data["file"]
            upload.seek(0)
            context["checked"] = verify_pdf(upload.read())
    elif code_form.is_bound and code_form.is_valid():
        limited = _limited(request)
        if limited is not None:
            return limited
        found = lookup_code(code_form.cleaned_data["code"])
        if found is None:
            ratelimit.count("verify_miss", ratelimit.client(request))
        context.update(looked_up=True, found=found)
    # "Not valid" is an answer, not an error: the page says so, and why, with a 200.
    return render(request, "declarations/verify.html", context)
