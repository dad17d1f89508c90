"""The signing session: the e-mailed link is swapped for a session at once, and every page after
that finds the carer's signing request (and the version they are asked to sign) through it, or
the friendly page that says what went wrong and what to do next."""

from django.http import HttpResponse
from django.shortcuts import render

from codes.models import CodeVersion
from declarations import services
from declarations.models import SigningRequest

SESSION_KEY = "signing"


def link_problem(request, *, reason: str, status: int, school=None) -> HttpResponse:
    """A friendly page: what happened, how to get a new link, who to contact. Nothing else."""
    return render(
        request, "declarations/link_problem.html", {"reason": reason, "organisation": school}, status=status
    )


def held_signing_request(request) -> SigningRequest | HttpResponse:
    """The request this browser opened a link for, or the page to show instead."""
    held = request.session.get(SESSION_KEY) or {}
    signing_request = None
    if held.get("request") and held.get("link"):
        signing_request = (
            SigningRequest.objects.select_related("school", "carer", "version").filter(pk=held["request"]).first()
        )
    if signing_request is None:
        return link_problem(request, reason="no-session", status=403)
    if signing_request.carer.school_id == signing_request.school_id:  # always: a carer is the school's
        signing_request.carer.school = signing_request.school
    if signing_request.token_hash != held["link"]:
        # Staff re-issued the link, perhaps because it went astray: this session ends with it.
        del request.session[SESSION_KEY]
        return link_problem(request, reason="replaced", status=403, school=signing_request.school)
    if not services.link_is_live(signing_request):
        return link_problem(request, reason="expired", status=410, school=signing_request.school)
    return signing_request


def nothing_to_sign(request, signing_request, refused) -> HttpResponse:
    return render(
        request,
        "declarations/nothing_to_sign.html",
        {"organisation": signing_request.school, "message": str(refused)},
    )


def signing_session(request) -> tuple[SigningRequest, CodeVersion] | HttpResponse:
    """(the request this browser holds, the version its carer is asked to sign now), or the page
    to show instead: no session, a replaced or expired link, or nothing to sign."""
    signing_request = held_signing_request(request)
    if isinstance(signing_request, HttpResponse):
        return signing_request
    try:
        return signing_request, services.signing_version_for(signing_request)
    except services.NothingToSign as refused:
        return nothing_to_sign(request, signing_request, refused)
