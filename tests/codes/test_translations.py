"""Staff attach a translation of a version's code and declaration; parents see it beside the
English (the text signed); the declaration records the language and both fingerprints; the PDF
carries both texts, right to left where the language is, with every character there."""

import html
import io
import unicodedata

import pypdf
import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from codes.models import VersionTranslation
from codes.translations import version_translation_save
from declarations import services
from declarations.models import Declaration
from evidence.pdf import declaration_pdf_issue
from tests.declarations.factories import family, issued_link
from tests.factories import StaffRoleFactory, UserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("tasks")]

TRANSLATIONS = {
    "cy": ("Cod Ymddygiad", "## Cwmpas\n\nBydd rhieni'n garedig ar-lein. Ŵyn, ŷd, â ê î ô û ẃ ẁ ẅ ŷ ỳ.",
           "Rwyf i, {carer}, rhiant {children}, yn datgan fy mod wedi darllen cod {school}."),
    "ar": ("مدونة السلوك", "## النطاق\n\nسيكون أولياء الأمور لطفاء على الإنترنت.",
           "أنا {carer}، وليّ أمر {children}، أُقرّ بأنني قرأت مدونة {school}."),
    "ur": ("ضابطۂ اخلاق", "## دائرہ کار\n\nوالدین آن لائن مہربان رہیں گے۔ ٹ ڈ ڑ ں ے ۓ",
           "میں {carer}، {children} کا والد/والدہ، اقرار کرتا/کرتی ہوں کہ میں نے {school} کا ضابطہ پڑھا۔"),
    "pa": ("ਆਚਾਰ ਸੰਹਿਤਾ", "## ਦਾਇਰਾ\n\nਮਾਪੇ ਔਨਲਾਈਨ ਦਿਆਲੂ ਰਹਿਣਗੇ। ੳ ਅ ੲ ਸ ਹ ਕ ਖ ਗ ਘ ਙ ਜ਼ ੜ",
           "ਮੈਂ {carer}, {children} ਦਾ ਮਾਪਾ, ਐਲਾਨ ਕਰਦਾ/ਕਰਦੀ ਹਾਂ ਕਿ ਮੈਂ {school} ਦੀ ਸੰਹਿਤਾ ਪੜ੍ਹੀ ਹੈ।"),
}


def translate(version, language, user):
    title, body, statement = TRANSLATIONS[language]
    return version_translation_save(
        user=user, version=version, language=language, title=title, body=body, declaration_statement=statement
    )


def page(response) -> str:
    return html.unescape(response.content.decode())


def test_a_headteacher_attaches_a_translation_on_the_codes_page(client, headteacher, school_code, version):
    client.force_login(headteacher)
    assert "/translations/cy/" in page(client.get(f"/staff/codes/{school_code.pk}/"))
    title, body, statement = TRANSLATIONS["cy"]
    url = f"/staff/versions/{version.pk}/translations/cy/"
    assert client.get(url).status_code == 200
    response = client.post(url, {"title": title, "body": body, "declaration_statement": statement})
    assert response.status_code == 302
    translation = VersionTranslation.objects.get(version=version, language="cy")
    assert translation.body == body and len(translation.fingerprint) == 64
    assert client.get(f"/staff/versions/{version.pk}/translations/en-gb/").status_code == 404


def test_a_correction_gets_a_new_fingerprint_and_the_version_stays_frozen(headteacher, version):
    first = translate(version, "cy", headteacher).fingerprint
    changed = version_translation_save(
        user=headteacher, version=version, language="cy", title="Cod", body="Testun newydd.",
        declaration_statement="Rwyf i, {carer}, yn cytuno.",
    )
    assert changed.fingerprint != first and VersionTranslation.objects.count() == 1
    version.refresh_from_db()
    assert "Parents will be kind online." in version.body


def test_bad_translations_are_refused_and_change_nothing(headteacher, version, school_code):
    with pytest.raises(ValidationError) as refused:
        version_translation_save(user=headteacher, version=version, language="fr", title="Code", body="x",
                                 declaration_statement="")
    assert "language" in refused.value.message_dict and "declaration_statement" in refused.value.message_dict
    stranger = UserFactory()
    StaffRoleFactory(user=stranger, role="headteacher")  # of another school
    with pytest.raises(PermissionDenied):
        translate(version, "cy", stranger)
    assert not VersionTranslation.objects.exists()


def test_a_welsh_carer_sees_the_translation_beside_the_english_and_the_declaration_records_both(
    client, headteacher, carer, version
):
    translation = translate(version, "cy", headteacher)
    carer.language = "cy"
    carer.save()
    _, token = issued_link(carer, version)
    client.get(f"/sign/t/{token}/")
    text = page(client.get("/sign/"))
    assert "Bydd rhieni'n garedig ar-lein." in text  # the translation
    assert "Rwyf i, Mary Smith, rhiant Amy Smith a Ben Smith" in text or "Rwyf i, Mary Smith, rhiant Amy Smith" in text
    assert "Y testun Saesneg yn is i lawr yw'r un rydych yn ei lofnodi." in text  # the English is signed
    assert "Parents will be kind online." in text  # and the English is there
    client.post("/sign/", {"typed_name": "Mary Smith", "agreed": "on", "version": version.pk})
    declaration = Declaration.objects.get()
    assert declaration.language == "cy"
    assert declaration.version_fingerprint == version.fingerprint
    assert declaration.translation_fingerprint == translation.fingerprint


def test_an_english_reader_sees_no_translation_and_records_none(client, headteacher, carer, version):
    translate(version, "cy", headteacher)
    _, token = issued_link(carer, version)
    client.get(f"/sign/t/{token}/")
    assert "Bydd rhieni'n garedig" not in page(client.get("/sign/"))
    client.post("/sign/", {"typed_name": "Mary Smith", "agreed": "on", "version": version.pk})
    assert Declaration.objects.get().translation_fingerprint is None


def _pdf_text(declaration) -> str:
    record = declaration_pdf_issue(declaration_id=declaration.pk)
    with record.file.open("rb") as file:
        reader = pypdf.PdfReader(io.BytesIO(file.read()))
    return unicodedata.normalize("NFKC", "\n".join(p.extract_text() for p in reader.pages))


@pytest.mark.parametrize("language", ["cy", "ar", "ur", "pa"])
def test_the_pdf_carries_both_texts_and_every_character_of_the_translation(
    language, school, headteacher, version, media
):
    translation = translate(version, language, headteacher)
    carer = family(school, forename="Sam", surname="Lee", email=f"sam.{language}@example.org",
                   children=(("Ali", "Lee", "3", "3B"),))
    signing_request, _ = issued_link(carer, version)
    declaration = services.declaration_sign(
        signing_request=signing_request, version_id_shown=version.pk, typed_name="Sam Lee", agreed=True,
        ip=None, user_agent="", language=language,
    )
    text = _pdf_text(declaration)
    assert version.fingerprint in text.replace("\n", "") and translation.fingerprint in text.replace("\n", "")
    assert "Parents will be kind online." in text  # the English signed
    title, body, statement = TRANSLATIONS[language]
    wanted = unicodedata.normalize("NFKC", title + body.replace("#", "") + statement.format(
        carer="", children="", school=""))
    missing = {ch for ch in wanted if not ch.isspace() and ch not in text and ch not in "{}"}
    assert not missing, f"characters lost from the {language} PDF: {sorted(missing)}"
