"""Staff pages for sending invitations, mounted at /staff/sending/: choose who, confirm, watch.

Every page shows carers' personal data, so every one needs a second factor (schools.mfa), and
only a headteacher or office staff member of the school may use it (schools.permissions):
anyone else gets a 404, never a hint that the school exists. The rules are in
sending/invitations.py, whose services check the permission again and write the audit log;
these views parse input, call one service, and choose the words staff read.
"""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST, require_safe

from declarations.selectors import carers_asked_to_sign
from schools import permissions
from schools.mfa import mfa_required
from sending import invitations, links
from sending import progress as batch_progress
from sending.forms import AudienceForm
from sending.invitations import ResendRefusal, ResendRefused
from sending.models import OutboxMessage

SkipReason = OutboxMessage.SkipReason

BATCHES_PER_PAGE = 25
MESSAGES_PER_PAGE = 100


def _school(request, school_slug):
    return get_object_or_404(permissions.family_schools(request.user), slug=school_slug)


@mfa_required
@require_safe
def home(request):
    schools = list(permissions.family_schools(request.user))
    if not schools:
        raise Http404("No school.")
    if len(schools) == 1:
        return redirect("sending:batches", school_slug=schools[0].slug)
    return render(request, "sending/home.html", {"schools": schools})


@mfa_required
@require_safe
def batch_list(request, school_slug):
    school = _school(request, school_slug)
    page = Paginator(school.send_batches.select_related("version", "created_by"), BATCHES_PER_PAGE).get_page(
        request.GET.get("page")
    )
    progress = batch_progress.batches_progress([batch.pk for batch in page])
    rows = [(batch, progress[batch.pk]) for batch in page]
    return render(request, "sending/batch_list.html", {"school": school, "page": page, "rows": rows})


@mfa_required
def send(request, school_slug):
    """Choose who to invite (GET, or POST back to change), see what will happen, then confirm."""
    school = _school(request, school_slug)
    initial = {}
    if request.method == "GET" and request.GET.get("carer", "").isdigit():
        initial = {"audience": "carer", "carer": int(request.GET["carer"])}
    form = AudienceForm(request.POST or None, school=school, initial=initial)
    summary = None
    if request.method == "POST" and form.is_valid():
        try:
            if request.POST.get("confirmed") == "yes" and "change" not in request.POST:
                batch = invitations.invitations_send(
                    school=school, audience=form.target(), user=request.user, request=request
                )
                messages.success(request, _sent_message(batch.summary))
                return redirect("sending:batch", school_slug=school.slug, batch_id=batch.pk)
            if "change" not in request.POST:
                summary = invitations.invitations_preview(school=school, audience=form.target())
        except ValidationError as error:
            form.add_error(None, error)
    version = None
    if summary is None:
        try:
            version = invitations.version_to_send(school)
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
    return render(
        request,
        "sending/send_confirm.html" if summary is not None else "sending/send.html",
        {
            "school": school,
            "form": form,
            "summary": summary,
            "version": version or (summary and summary.version),
            "audience_words": form.chosen_in_words() if summary is not None else "",
        },
    )


def _plural(n, one, many=None):
    return f"{n} {one if n == 1 else (many or one + 's')}"


def _sent_message(summary) -> str:
    parts = [f"{_plural(summary.to_send, 'invitation')} queued to send."]
    if summary.already_invited:
        before = _plural(summary.already_invited, "carer was", "carers were")
        parts.append(f"{before} invited before and not e-mailed again.")
    if summary.needs_paper_form:
        if len(summary.needs_paper_form) == 1:
            parts.append("1 carer has no e-mail address that works and needs a paper form.")
        else:
            parts.append(f"{len(summary.needs_paper_form)} carers have no e-mail address that works and need paper forms.")
    return " ".join(parts)


@mfa_required
@require_safe
def batch_detail(request, school_slug, batch_id):
    school = _school(request, school_slug)
    batch = get_object_or_404(school.send_batches.select_related("version", "created_by"), pk=batch_id)
    progress = batch_progress.batch_progress(batch)
    show = request.GET.get("show", "")
    show = show if show in batch_progress.MESSAGE_FILTERS else ""
    page = Paginator(batch_progress.batch_messages(batch, show=show), MESSAGES_PER_PAGE).get_page(request.GET.get("page"))
    rows = [(message, batch_progress.message_state(message)) for message in page]
    # Updating every few seconds is offered, never imposed (WCAG 2.2.1: a page must not refresh
    # itself unless the user chose it); it stops by itself once nothing is waiting.
    auto = request.GET.get("auto") == "1" and progress.in_progress
    return render(
        request,
        "sending/batch_detail.html",
        {
            "school": school,
            "batch": batch,
            "progress": progress,
            "rows": rows,
            "page": page,
            "show": show,
            "auto_refresh": auto,
            # The same e-mails as the rows with a "Send again" button, on every page of the list.
            "to_send_again": progress.failed,
            "paper_carers": list(invitations.batch_paper_carers(batch)),
            "query_prefix": f"show={show}&" if show else "",
        },
    )


@mfa_required
@require_POST
def batch_resume(request, school_slug, batch_id):
    school = _school(request, school_slug)
    batch = get_object_or_404(school.send_batches, pk=batch_id)
    invitations.batch_resume(batch=batch, user=request.user, request=request)
    messages.success(request, "The waiting e-mails have been passed to the background worker again.")
    return redirect("sending:batch", school_slug=school.slug, batch_id=batch.pk)


@mfa_required
@require_POST
def batch_resend(request, school_slug, batch_id):
    school = _school(request, school_slug)
    batch = get_object_or_404(school.send_batches, pk=batch_id)
    result = invitations.batch_resend_problems(batch=batch, user=request.user, request=request)
    (messages.success if result["sent_again"] else messages.warning)(request, _resent_message(result))
    return redirect(reverse("sending:batch", args=[school.slug, batch.pk]) + "?show=problems")


# Why e-mails were not sent again, in words about their carers: "2 were not: they have signed since".
_NOT_SENT_AGAIN_BECAUSE = {
    SkipReason.SIGNED: "they have signed since",
    SkipReason.DECLINED: "they have declined since",
    SkipReason.LEFT: "they are no longer the parent or carer of a pupil on roll",
    SkipReason.NO_ADDRESS: "they have no e-mail address now and need a paper form",
    SkipReason.ERASED: "their details have been erased",
    SkipReason.BOUNCED: "their e-mail address bounced and they need another way",
    SkipReason.NOTHING_TO_CONFIRM: "there is no declaration to confirm",
    ResendRefusal.ALREADY_SENT_AGAIN: "their e-mail had already been sent again",
    ResendRefusal.NOT_FAILED: "their e-mail is no longer failed",
}


def _resent_message(result) -> str:
    """E.g. "The e-mails to 12 carers will be sent again. 2 were not: they have signed since." """
    sent, refused = result["sent_again"], result["refused"]
    if not sent and not refused:
        return "There was nothing to send again."
    why = {_NOT_SENT_AGAIN_BECAUSE[reason]: count for reason, count in refused.items()}
    if sent:
        first = f"The e-mail{'' if sent == 1 else 's'} to {_plural(sent, 'carer')} will be sent again."
        not_sent = sum(why.values())
        lead = f"{not_sent} {'was' if not_sent == 1 else 'were'} not: "
    else:
        first, lead = "", "Nothing was sent again: "
    if not why:
        return first
    if len(why) == 1:
        because = next(iter(why))
    else:
        because = "; ".join(f"{count} because {reason}" for reason, count in why.items())
    return f"{first} {lead}{because}.".strip()


@mfa_required
@require_POST
def message_resend(request, school_slug, message_id):
    school = _school(request, school_slug)
    message = get_object_or_404(OutboxMessage.objects.filter(school=school).select_related("carer"), pk=message_id)
    try:
        again = invitations.outbox_message_resend(message=message, user=request.user, request=request)
    except ResendRefused as refusal:
        messages.error(request, refusal.reason.label)
    else:
        messages.success(request, f"The e-mail to {again.carer.full_name} will be sent again.")
    if message.batch_id:
        return redirect(reverse("sending:batch", args=[school.slug, message.batch_id]) + "?show=problems")
    return redirect("sending:batches", school_slug=school.slug)


@mfa_required
@require_POST
def reissue_link(request, school_slug, carer_id):
    """E-mail the carer a new link; the old one stops working at once."""
    school = _school(request, school_slug)
    carer = get_object_or_404(carers_asked_to_sign(school).select_related("school"), pk=carer_id)
    try:
        links.link_reissue(user=request.user, carer=carer, http_request=request)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(
            request, f"A new link is on its way to {carer.full_name} at {carer.email}. The old link no longer works."
        )
    return redirect(reverse("declarations_staff:status", kwargs={"school_slug": school.slug}) + f"#carer-{carer.pk}")
