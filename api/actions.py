"""The API's writes: a families import (with a dry run, and the preview's fingerprint to
confirm), invitations to sign, and a ZIP export started and polled. Each calls the service the
staff pages call, acting as the member of staff who made the key."""

from __future__ import annotations

import csv
import io

from django.db.models import Count
from django.http import FileResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import JSONParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from api.access import KeyAudited, school_for
from api.models import ApiKey
from api.problems import problem_response
from api.views import DeclarationQuery
from evidence.models import Export
from evidence.services import export_download, export_request
from schools.imports import ImportPlan, import_preview
from schools.services import families_import
from sending.invitations import invitations_preview, invitations_send
from sending.models import SendBatch

# --- Families import ----------------------------------------------------------------------

MAX_JSON_ROWS = 20_000


class ImportRequest(serializers.Serializer):
    file = serializers.FileField(required=False, help_text="The information system's export: CSV or .xlsx.")
    rows = serializers.ListField(
        child=serializers.DictField(child=serializers.CharField(allow_blank=True, max_length=1000)),
        required=False, max_length=MAX_JSON_ROWS,
        help_text="Instead of a file: one object per pupil and contact, keys as the file's column headers.",
    )
    dry_run = serializers.BooleanField(default=False, help_text="Preview only: nothing is imported.")
    changes_sha256 = serializers.RegexField(
        r"^[0-9a-f]{64}$", required=False,
        help_text="The dry run's changes_sha256: import only if the changes are still exactly those previewed.",
    )

    def validate(self, data):
        if ("file" in data) == ("rows" in data):
            raise serializers.ValidationError("Send either a file or rows, not both and not neither.")
        if "rows" in data and not data["rows"]:
            raise serializers.ValidationError({"rows": ["There are no rows to import."]})
        return data

    def content(self) -> tuple[str, bytes]:
        data = self.validated_data
        if "file" in data:
            return data["file"].name, data["file"].read()
        headers = list(dict.fromkeys(key for row in data["rows"] for key in row))
        text = io.StringIO()
        writer = csv.DictWriter(text, fieldnames=headers)
        writer.writeheader()
        writer.writerows(data["rows"])
        return "rows.json.csv", text.getvalue().encode("utf-8")


class ImportOutcome(serializers.Serializer):
    imported = serializers.BooleanField()
    valid = serializers.BooleanField()
    rows = serializers.IntegerField()
    counts = serializers.DictField(child=serializers.IntegerField())
    problems = serializers.ListField(child=serializers.CharField())
    file_sha256 = serializers.CharField()
    changes_sha256 = serializers.CharField()


def _outcome(plan: ImportPlan, *, imported: bool) -> dict:
    return {
        "imported": imported, "valid": plan.is_valid, "rows": plan.rows, "counts": plan.counts,
        "problems": plan.problems, "file_sha256": plan.file_sha256, "changes_sha256": plan.changes_sha256,
    }


class FamiliesImport(KeyAudited, APIView):
    """Import the school's pupils and contacts: the same rules as the page and the command.
    With dry_run, the preview (what would be added, changed, marked as left, and every bad row).
    Otherwise all or nothing; with changes_sha256, only the changes previewed."""

    required_scope = ApiKey.Scope.IMPORT_FAMILIES
    parser_classes = [MultiPartParser, JSONParser]

    @extend_schema(request={"multipart/form-data": ImportRequest, "application/json": ImportRequest},
                   responses={200: ImportOutcome, 201: ImportOutcome})
    def post(self, request, slug):
        school = school_for(request, slug, families=True)
        form = ImportRequest(data=request.data)
        form.is_valid(raise_exception=True)
        filename, data = form.content()
        if form.validated_data["dry_run"]:
            return Response(_outcome(import_preview(school=school, filename=filename, data=data), imported=False))
        result = families_import(
            school=school, filename=filename, data=data, user=request.user,
            expected_changes_sha256=form.validated_data.get("changes_sha256"), source="api", request=request,
        )
        return Response(_outcome(result.plan, imported=True), status=status.HTTP_201_CREATED)


# --- Invitations --------------------------------------------------------------------------

AUDIENCES = [SendBatch.AudienceKind.ALL, SendBatch.AudienceKind.YEAR, SendBatch.AudienceKind.REG, SendBatch.AudienceKind.CARER]


class InvitationRequest(serializers.Serializer):
    audience = serializers.ChoiceField(choices=[(kind.value, kind.label) for kind in AUDIENCES])
    value = serializers.CharField(required=False, allow_blank=True, max_length=100,
                                  help_text="The year group, registration group or carer id.")
    dry_run = serializers.BooleanField(default=False, help_text="Say how many would be e-mailed; send nothing.")

    def chosen_audience(self):
        data = self.validated_data
        return data["audience"] if data["audience"] == SendBatch.AudienceKind.ALL else (data["audience"], data.get("value", ""))


class InvitationOutcome(serializers.Serializer):
    batch = serializers.IntegerField(allow_null=True)
    version = serializers.IntegerField()
    to_send = serializers.IntegerField()
    already_invited = serializers.IntegerField()
    needs_paper_form = serializers.ListField(child=serializers.IntegerField(), help_text="Carer ids with no e-mail.")


class BatchProgress(serializers.Serializer):
    batch = serializers.IntegerField()
    version = serializers.IntegerField()
    finished = serializers.BooleanField()
    statuses = serializers.DictField(child=serializers.IntegerField())


class Invitations(KeyAudited, APIView):
    """Invite carers to sign the version in force, through the outbox: each carer once, ever,
    however often this is called."""

    required_scope = ApiKey.Scope.SEND_INVITATIONS

    @extend_schema(request=InvitationRequest, responses={200: InvitationOutcome, 202: InvitationOutcome})
    def post(self, request, slug):
        school = school_for(request, slug, families=True)
        form = InvitationRequest(data=request.data)
        form.is_valid(raise_exception=True)
        if form.validated_data["dry_run"]:
            summary, batch_id, code = invitations_preview(school=school, audience=form.chosen_audience()), None, 200
        else:
            batch = invitations_send(school=school, audience=form.chosen_audience(), user=request.user, request=request)
            summary, batch_id, code = batch.summary, batch.pk, 202
        return Response(
            {
                "batch": batch_id, "version": summary.version.number, "to_send": summary.to_send,
                "already_invited": summary.already_invited, "needs_paper_form": [c.pk for c in summary.needs_paper_form],
            },
            status=code,
        )


class InvitationBatch(KeyAudited, APIView):
    """How a send is going: its e-mails by status (pending, sending, sent, failed, skipped)."""

    required_scope = ApiKey.Scope.SEND_INVITATIONS

    @extend_schema(responses=BatchProgress)
    def get(self, request, slug, pk: int):
        school = school_for(request, slug, families=True)
        batch = get_object_or_404(SendBatch.objects.select_related("version"), school=school, pk=pk)
        statuses = dict(batch.messages.order_by().values_list("status").annotate(n=Count("pk")))
        return Response(
            {"batch": batch.pk, "version": batch.version.number, "finished": batch.finished_at is not None, "statuses": statuses}
        )


# --- Exports ------------------------------------------------------------------------------


class ExportStatus(serializers.ModelSerializer):
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = Export
        fields = ["id", "status", "description", "done", "total", "created_at", "finished_at", "download_url"]

    def get_download_url(self, export) -> str | None:
        if export.status != Export.Status.DONE:
            return None
        return self.context["request"].build_absolute_uri(f"/api/v1/schools/{export.school.slug}/exports/{export.pk}/download/")


class Exports(KeyAudited, APIView):
    """Start building a ZIP of the chosen declarations' PDFs; poll its status."""

    @extend_schema(request=DeclarationQuery, responses={202: ExportStatus})
    def post(self, request, slug):
        school = school_for(request, slug, families=True)
        query = DeclarationQuery(data=request.data)
        query.is_valid(raise_exception=True)
        export = export_request(user=request.user, school=school, filters=query.filters(), request=request)
        return Response(ExportStatus(export, context={"request": request}).data, status=status.HTTP_202_ACCEPTED)


class ExportDetail(KeyAudited, APIView):
    @extend_schema(responses=ExportStatus)
    def get(self, request, slug, pk: int):
        school = school_for(request, slug, families=True)
        export = get_object_or_404(Export.objects.select_related("school"), school=school, pk=pk)
        return Response(ExportStatus(export, context={"request": request}).data)


class ExportDownload(KeyAudited, APIView):
    @extend_schema(responses={(200, "application/zip"): OpenApiResponse(OpenApiTypes.BINARY)})
    def get(self, request, slug, pk: int):
        school = school_for(request, slug, families=True)
        export = get_object_or_404(Export.objects.select_related("school"), school=school, pk=pk)
        download = export_download(user=request.user, export=export, request=request)
        if download is None:
            return problem_response(status_code=409, detail="This export is not ready, or has been deleted.", request=request)
        return FileResponse(download.content, as_attachment=True, filename=download.filename, content_type=download.content_type)
