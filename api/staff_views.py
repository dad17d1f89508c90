"""Staff pages for API keys: a school's headteachers and an association's admins make and revoke
them (schools.permissions.can_manage_integrations). A new key is shown once, on the answer to
the form that made it, and never again: only its SHA-256 is kept."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_http_methods, require_POST

from api.embed import snippet, website_origin
from api.forms import ApiKeyForm
from api.keys import api_key_create, api_key_revoke, keys_of
from schools import permissions
from schools.mfa import mfa_required


def _organisation(request, slug):
    return get_object_or_404(permissions.managed_organisations(request.user), slug=slug)


NEW_KEY = "api_new_key"  # the session holds a new key only from the POST to the next GET


@mfa_required
@require_http_methods(["GET", "HEAD", "POST"])
def keys(request, slug):
    organisation = _organisation(request, slug)
    form = ApiKeyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            made = api_key_create(
                user=request.user, organisation=organisation, name=form.cleaned_data["name"],
                scopes=form.cleaned_data["scopes"], request=request,
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            # Post, redirect, get: reloading the page makes no second key, and shows this one no more.
            request.session[NEW_KEY] = {"organisation": organisation.pk, "key": made.key}
            return redirect("api_staff:keys", organisation.slug)
    new = request.session.pop(NEW_KEY, None)
    response = render(
        request, "api/keys.html",
        {
            "organisation": organisation, "form": form, "keys": keys_of(organisation),
            "new_key": new["key"] if new and new["organisation"] == organisation.pk else None,
            "snippet": snippet(request, organisation) if organisation.is_school else "",
            "website_origin": website_origin(organisation),
        },
    )
    add_never_cache_headers(response)  # the page may hold a new key: no cache keeps it
    return response


@mfa_required
@require_POST
def revoke(request, slug, pk):
    organisation = _organisation(request, slug)
    key = get_object_or_404(keys_of(organisation), pk=pk)
    api_key_revoke(user=request.user, key=key, request=request)
    messages.success(request, f"The key \"{key.name}\" ({key.prefix}…) no longer works.")
    return redirect("api_staff:keys", organisation.slug)
