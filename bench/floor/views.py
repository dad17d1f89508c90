"""Floors: the least a Django view of the same kind does, through the same middleware.

- page: renders a 5 KB template (a short text, a small form) — what serving any page costs.
- insert: a POST, CSRF-checked like the signing form, that inserts one 8-field row.
"""

from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from .models import FloorRow

PARAGRAPHS = [f"Paragraph {i}: parents and carers are asked to keep conversations about school respectful." for i in range(13)]


def page(request):
    return render(request, "floor/page.html", {"paragraphs": PARAGRAPHS, "title": "Floor page"})


@require_http_methods(["GET", "POST"])
def insert(request):
    if request.method == "GET":
        return render(request, "floor/page.html", {"paragraphs": PARAGRAPHS[:2], "title": "Floor form"})
    FloorRow.objects.create(
        school_id=1,
        carer_id=int(request.POST.get("carer", "1")),
        version_id=1,
        typed_name=request.POST.get("typed_name", "A Parent"),
        statement="I have read the code of conduct and agree to follow it.",
        agreed=True,
        signed_at=timezone.now(),
        ip_address=request.META.get("REMOTE_ADDR"),
    )
    return render(request, "floor/page.html", {"paragraphs": PARAGRAPHS[:1], "title": "Thank you"})
