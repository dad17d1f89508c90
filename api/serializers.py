"""What the API answers with: ids and the fields another system needs, no more personal data."""

from rest_framework import serializers

from codes.models import CodeVersion
from declarations.models import Declaration
from declarations.selectors import Standing
from schools.models import Organisation, Pupil


class OrganisationSerializer(serializers.ModelSerializer):
    association = serializers.SerializerMethodField(help_text="Slug of the school's association, if any.")
    website = serializers.CharField(read_only=True, help_text="The school's website, or empty.")
    code_url = serializers.SerializerMethodField()

    class Meta:
        model = Organisation
        fields = ["slug", "name", "kind", "association", "website", "code_url"]

    def get_association(self, organisation) -> str | None:
        return organisation.association.slug if organisation.association_id else None

    def get_code_url(self, organisation) -> str:
        return self.context["request"].build_absolute_uri(f"/schools/{organisation.slug}/")


class VersionSummarySerializer(serializers.ModelSerializer):
    state = serializers.CharField(help_text="draft, scheduled, in force or superseded")

    class Meta:
        model = CodeVersion
        fields = ["number", "title", "effective_from", "review_due", "requires_signing", "fingerprint", "published_at", "state"]


class VersionSerializer(VersionSummarySerializer):
    class Meta(VersionSummarySerializer.Meta):
        fields = VersionSummarySerializer.Meta.fields + [
            "body", "declaration_statement", "revision_note", "document_version", "approved_by", "approved_on",
        ]


class CodeSerializer(serializers.Serializer):
    owner = serializers.CharField(help_text="Slug of the school or association whose code it is.")
    title = serializers.CharField()
    in_force = serializers.IntegerField(allow_null=True, help_text="Number of the version in force today.")
    versions = VersionSummarySerializer(many=True)


class ChildSerializer(serializers.ModelSerializer):
    class Meta:
        model = Pupil
        fields = ["id", "mis_id", "year_group", "reg_group"]


class CarerStandingSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    mis_id = serializers.CharField()
    forename = serializers.CharField()
    surname = serializers.CharField()
    has_email = serializers.BooleanField()
    standing = serializers.ChoiceField(choices=Standing.choices)
    signed = serializers.BooleanField()


class DeclarationSerializer(serializers.ModelSerializer):
    carer = serializers.IntegerField(source="carer_id")
    version = serializers.IntegerField(source="version.number")
    children = serializers.SerializerMethodField()
    pdf_url = serializers.SerializerMethodField()

    class Meta:
        model = Declaration
        fields = ["id", "carer", "carer_name", "children", "version", "version_fingerprint", "method", "signed_at", "pdf_url"]

    def get_children(self, declaration) -> list[int]:
        return [child["id"] for child in declaration.children_named or [] if isinstance(child, dict) and "id" in child]

    def get_pdf_url(self, declaration) -> str:
        return self.context["request"].build_absolute_uri(
            f"/api/v1/schools/{declaration.school.slug}/declarations/{declaration.pk}/pdf/"
        )
