"""The API's read operations: schools and associations, codes and versions, carers' standing,
declarations and their PDFs. Each asks the selectors and services the pages use."""

from __future__ import annotations

from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from api.access import KeyAudited, reachable_organisations, school_for
from api.serializers import (
    CarerStandingSerializer,
    CodeSerializer,
    DeclarationSerializer,
    OrganisationSerializer,
    VersionSerializer,
)
from codes.selectors import organisation_code
from codes.services import published_versions, version_in_force, version_state
from declarations.selectors import SIGNED, Standing, carers_standing, signing_target
from evidence.exports import DeclarationFilters
from evidence.services import declaration_pdf_download
from schools.models import Pupil


class OrganisationList(KeyAudited, generics.ListAPIView):
    """The schools this key reads (its own, or an association's members) and its association."""

    serializer_class = OrganisationSerializer

    def get_queryset(self):
        return reachable_organisations(self.request).select_related("association").order_by("name", "pk")


class OrganisationDetail(KeyAudited, generics.RetrieveAPIView):
    serializer_class = OrganisationSerializer
    lookup_field = "slug"

    def get_queryset(self):
        return reachable_organisations(self.request).select_related("association")


def _organisation(request, slug):
    return get_object_or_404(reachable_organisations(request), slug=slug)


def _code_of(organisation):
    code = organisation_code(organisation)
    if code is None:
        raise Http404
    return code


class CodeDetail(KeyAudited, APIView):
    """The code the school or association uses, its published versions, and which is in force."""

    @extend_schema(responses=CodeSerializer)
    def get(self, request, slug):
        code = _code_of(_organisation(request, slug))
        in_force = version_in_force(code)
        versions = list(published_versions(code))
        for version in versions:
            version.state = version_state(version, in_force)
        data = {
            "owner": code.owner.slug,
            "title": code.title,
            "in_force": in_force.number if in_force else None,
            "versions": versions,
        }
        return Response(CodeSerializer(data).data)


class VersionDetail(KeyAudited, APIView):
    """One published version, its full text and its SHA-256 fingerprint."""

    @extend_schema(responses=VersionSerializer)
    def get(self, request, slug, number: int):
        code = _code_of(_organisation(request, slug))
        version = get_object_or_404(published_versions(code), number=number)
        version.state = version_state(version, version_in_force(code))
        return Response(VersionSerializer(version).data)


class CarerFilters(serializers.Serializer):
    year = serializers.ChoiceField(choices=Pupil.YearGroup.choices, required=False)
    reg = serializers.CharField(required=False, max_length=40)
    status = serializers.ChoiceField(
        choices=["signed", "declined", "outstanding", *Standing.values], required=False,
        help_text="signed, declined, outstanding, or one standing (e.g. no-email, expired)",
    )


STATUS_STANDINGS = {"signed": SIGNED, "declined": [Standing.DECLINED]}


class CarerList(KeyAudited, generics.ListAPIView):
    """Every carer the school asks to sign and where they stand with the version in force."""

    serializer_class = CarerStandingSerializer

    @extend_schema(parameters=[CarerFilters])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        school = school_for(self.request, self.kwargs["slug"], families=True)
        filters = CarerFilters(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        target = signing_target(school)
        if target is None:
            return []
        chosen = filters.validated_data
        carers = carers_standing(school, target, year_group=chosen.get("year", ""), reg_group=chosen.get("reg", ""))
        status = chosen.get("status")
        if status == "outstanding":
            carers = carers.exclude(standing__in=[*SIGNED, Standing.DECLINED])
        elif status:
            carers = carers.filter(standing__in=STATUS_STANDINGS.get(status, [status]))
        return [
            {
                "id": carer.pk, "mis_id": carer.mis_id, "forename": carer.forename, "surname": carer.surname,
                "has_email": bool(carer.email), "standing": carer.standing, "signed": carer.standing in SIGNED,
            }
            for carer in carers.order_by("surname", "forename", "pk")
        ]


class DeclarationQuery(serializers.Serializer):
    version = serializers.IntegerField(required=False, min_value=1, max_value=100_000)
    year = serializers.ChoiceField(choices=Pupil.YearGroup.choices, required=False)
    reg = serializers.CharField(required=False, max_length=40)
    signed_from = serializers.DateField(required=False)
    signed_to = serializers.DateField(required=False)

    def filters(self) -> DeclarationFilters:
        data = self.validated_data
        return DeclarationFilters(
            version=data.get("version"), year_group=data.get("year", ""), reg_group=data.get("reg", ""),
            signed_from=data.get("signed_from"), signed_to=data.get("signed_to"),
        )


class DeclarationList(KeyAudited, generics.ListAPIView):
    """The school's declarations (the same choice as the exports: version, year, group, dates)."""

    serializer_class = DeclarationSerializer

    @extend_schema(parameters=[DeclarationQuery])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        school = school_for(self.request, self.kwargs["slug"], families=True)
        query = DeclarationQuery(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        return query.filters().declarations(school).select_related("version", "school")


class DeclarationDetail(KeyAudited, generics.RetrieveAPIView):
    serializer_class = DeclarationSerializer

    def get_object(self):
        school = school_for(self.request, self.kwargs["slug"], families=True)
        return get_object_or_404(
            DeclarationFilters().declarations(school).select_related("version", "school"), pk=self.kwargs["pk"]
        )


class DeclarationPdf(KeyAudited, APIView):
    """The declaration's sealed PDF, as stored (made now if the worker has not made it yet)."""

    @extend_schema(responses={(200, "application/pdf"): OpenApiResponse(OpenApiTypes.BINARY)})
    def get(self, request, slug, pk: int):
        school = school_for(request, slug, families=True)
        declaration = get_object_or_404(DeclarationFilters().declarations(school), pk=pk)
        download = declaration_pdf_download(user=request.user, declaration=declaration, request=request)
        return FileResponse(download.content, as_attachment=True, filename=download.filename, content_type=download.content_type)


__all__ = ["OpenApiParameter"]
