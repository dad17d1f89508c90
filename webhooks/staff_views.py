"""Staff pages for webhooks: a school's headteachers or an association's admins register
endpoints, choose their events, see every delivery and the response to each attempt, rotate the
signing secret and resume a paused endpoint (schools.permissions.can_manage_integrations)."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_http_methods, require_POST

from schools import permissions
from schools.mfa import mfa_required
from webhooks import services
from webhooks.forms import EndpointForm
from webhooks.models import WebhookEndpoint

DELIVERIES_PER_PAGE = 25


def _organisation(request, slug):
    return get_object_or_404(permissions.managed_organisations(request.user), slug=slug)


def _endpoint(request, slug, pk):
    organisation = _organisation(request, slug)
    return get_object_or_404(WebhookEndpoint.objects.filter(organisation=organisation), pk=pk)


def _form(organisation, data=None, initial=None):
    return EndpointForm(data, initial=initial, events_offered=services.events_offered(organisation))


def _save(request, form, save):
    if request.method != "POST" or not form.is_valid():
        return None
    try:
        return save(form.cleaned_data)
    except ValidationError as error:
        problems = error.message_dict.items() if hasattr(error, "error_dict") else [(None, error.messages)]
        for field, field_messages in problems:
            form.add_error(field if field in form.fields else None, field_messages)
        return None


@mfa_required
@require_http_methods(["GET", "HEAD", "POST"])
def endpoints(request, slug):
    organisation = _organisation(request, slug)
    form = _form(organisation, request.POST or None)
    endpoint = _save(
        request, form,
        lambda data: services.endpoint_create(
            user=request.user, organisation=organisation, url=data["url"], events=data["events"],
            description=data["description"], request=request,
        ),
    )
    if endpoint is not None:
        messages.success(request, "The endpoint is registered. Give its signing secret to the receiving system.")
        return redirect("webhooks_staff:endpoint", organisation.slug, endpoint.pk)
    return render(
        request, "webhooks/endpoints.html",
        {"organisation": organisation, "form": form, "endpoints": WebhookEndpoint.objects.filter(organisation=organisation)},
    )


@mfa_required
@require_http_methods(["GET", "HEAD", "POST"])
def endpoint(request, slug, pk):
    endpoint = _endpoint(request, slug, pk)
    form = _form(endpoint.organisation, request.POST or None,
                 initial={"url": endpoint.url, "description": endpoint.description, "events": endpoint.events})
    if _save(
        request, form,
        lambda data: services.endpoint_update(
            user=request.user, endpoint=endpoint, url=data["url"], events=data["events"],
            description=data["description"], request=request,
        ),
    ):
        messages.success(request, "Saved.")
        return redirect("webhooks_staff:endpoint", endpoint.organisation.slug, endpoint.pk)
    deliveries = endpoint.deliveries.prefetch_related("attempt_log")
    page = Paginator(deliveries, DELIVERIES_PER_PAGE).get_page(request.GET.get("page"))
    response = render(
        request, "webhooks/endpoint.html",
        {"organisation": endpoint.organisation, "endpoint": endpoint, "form": form, "page": page},
    )
    add_never_cache_headers(response)  # it shows the signing secret
    return response


@mfa_required
@require_POST
def rotate(request, slug, pk):
    endpoint = _endpoint(request, slug, pk)
    services.endpoint_secret_rotate(user=request.user, endpoint=endpoint, request=request)
    messages.success(request, "A new secret signs from now on; the old one also signs for 24 hours.")
    return redirect("webhooks_staff:endpoint", endpoint.organisation.slug, endpoint.pk)


@mfa_required
@require_POST
def resume(request, slug, pk):
    endpoint = _endpoint(request, slug, pk)
    waiting = services.endpoint_resume(user=request.user, endpoint=endpoint, request=request)
    messages.success(request, f"Resumed: {waiting} waiting deliveries are being sent.")
    return redirect("webhooks_staff:endpoint", endpoint.organisation.slug, endpoint.pk)


@mfa_required
@require_POST
def delete(request, slug, pk):
    endpoint = _endpoint(request, slug, pk)
    organisation = endpoint.organisation
    services.endpoint_delete(user=request.user, endpoint=endpoint, request=request)
    messages.success(request, "The endpoint is deleted; nothing more is sent to it.")
    return redirect("webhooks_staff:endpoints", organisation.slug)
