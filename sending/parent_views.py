"""The carer's "send me a new link" pages, mounted at /sign/new-link/. Everything works without
JavaScript, and the reply never says whether an address is known: the page only queues the
work (sending.links.send_new_links), the same for every address, so even the time it takes to
answer tells nothing."""

from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_safe

from portal import ratelimit
from portal.pages import see_other, signing_form_page, signing_page
from portal.tasks import enqueue_with_transaction
from sending.forms import NewLinkForm
from sending.links import send_new_links


@require_http_methods(["GET", "HEAD", "POST"])
@signing_form_page
def new_link(request):
    """Ask for a new link by e-mail address."""
    form = NewLinkForm(request.POST if request.method == "POST" else None)
    if request.method == "POST":
        if ratelimit.count("new_link_ip", ratelimit.client(request)):
            return ratelimit.too_many(request, "new_link_ip")
        if form.is_valid():
            email = form.cleaned_data["email"].strip().lower()
            # Past this limit, say the same but send nothing: no one can flood a parent's inbox.
            if not ratelimit.count("new_link_address", email):
                enqueue_with_transaction(send_new_links, email)
            return see_other(reverse("new_link:sent"))
    return render(request, "declarations/new_link.html", {"form": form})


@require_safe
@signing_page
def new_link_sent(request):
    return render(request, "declarations/new_link_sent.html")
