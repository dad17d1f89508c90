"""Translations of a version's code and declaration, attached by staff for the languages parents
read the portal in. The English text is always the one signed: a translation is shown beside it
to help, with a notice saying so, and a declaration records the fingerprint of the one shown
(declarations.services.declaration_sign), so the evidence names exactly what the parent saw."""

from __future__ import annotations

import hashlib
import json

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.translation import get_language_info

from codes.markup import fill_placeholders, render_markdown
from codes.models import CodeVersion, VersionTranslation
from schools import permissions

TRANSLATED_FIELDS = ("title", "body", "declaration_statement")


def translatable_languages() -> list[tuple[str, str]]:
    """(code, name in English) of every shipped language but English, the language signed."""
    return [(code, get_language_info(code)["name"]) for code, _ in settings.LANGUAGES if code != settings.LANGUAGE_CODE]


def translation_fingerprint(translation: VersionTranslation) -> str:
    """SHA-256 of the translation (its language, text, and the version it translates), as
    canonical JSON: what a declaration records to name the translation shown."""
    content = {"language": translation.language, "version": translation.version.fingerprint}
    content.update({field: getattr(translation, field) for field in TRANSLATED_FIELDS})
    canonical = json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def version_translation_save(
    *, user, version: CodeVersion, language: str, title: str, body: str, declaration_statement: str
) -> VersionTranslation:
    """Attach (or correct) the translation of a published version into `language`.

    Guarantees: only those who may manage the code do it; only a published version, only a
    shipped language other than English, and every text given; the fingerprint is recomputed.
    """
    if not permissions.can_manage_code(user, version.code):
        raise PermissionDenied("You cannot translate this code.")
    errors = {}
    if not version.is_published:
        errors["__all__"] = "Only a published version can be translated: publish the draft first."
    if language not in dict(translatable_languages()):
        errors["language"] = "Choose one of the languages the portal is translated into."
    values = {"title": title.strip(), "body": body.strip(), "declaration_statement": declaration_statement.strip()}
    for field, value in values.items():
        if not value:
            errors[field] = "Enter the translation of this text too."
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        translation, _ = VersionTranslation.objects.select_for_update().get_or_create(
            version=version, language=language, defaults={**values, "fingerprint": "", "updated_by": user}
        )
        for field, value in values.items():
            setattr(translation, field, value)
        translation.updated_by = user
        translation.fingerprint = translation_fingerprint(translation)
        translation.save()
    return translation


def translation_for(version: CodeVersion, language: str) -> VersionTranslation | None:
    if language == settings.LANGUAGE_CODE:
        return None
    return VersionTranslation.objects.filter(version=version, language=language).first()


def translation_context(translation: VersionTranslation | None, *, school_name: str, carer: str = "", children: str = "") -> dict:
    """What templates/declarations/_translation.html shows (empty without a translation)."""
    if translation is None:
        return {"translation": None}
    values = {"carer": carer or "[…]", "children": children or "[…]", "school": school_name}
    return {
        "translation": translation,
        "translation_bidi": get_language_info(translation.language)["bidi"],
        "translation_body_html": render_markdown(translation.body),
        "translation_declaration_html": render_markdown(fill_placeholders(translation.declaration_statement, values)),
    }
