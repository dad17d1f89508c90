"""Operators can read the sealed PDFs and exports; nobody changes them here."""

from django.contrib import admin

from declarations.admin import ReadOnlyAdmin
from evidence.models import DeclarationPdf, Export


@admin.register(DeclarationPdf)
class DeclarationPdfAdmin(ReadOnlyAdmin):
    """The sealed PDFs (evidence/pdf.py): their hashes and codes, to answer "is this ours?"."""

    list_display = ["declaration", "verification_code", "sha256", "rendered_at"]
    search_fields = ["verification_code", "sha256"]
    list_select_related = ["declaration__version"]


@admin.register(Export)
class ExportAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "school", "description", "status", "done", "total", "requested_by"]
    list_filter = ["status", "school"]
    list_select_related = ["school", "requested_by"]
