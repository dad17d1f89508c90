"""Parents read the portal in their language: complete translations, the carer's home language
from the import, the language switch, and English always one click away."""

import html
import re
import subprocess
from pathlib import Path

import pytest
from django.conf import settings
from django.core import mail
from django.utils.translation.template import templatize

from declarations.models import Declaration
from portal.languages import home_language_code
from tests.declarations.factories import issued_link

pytestmark = pytest.mark.django_db

LOCALE = Path(settings.BASE_DIR) / "locale"
SHIPPED = [code for code, _ in settings.LANGUAGES if code != "en-gb"]
TEMPLATES = Path(settings.BASE_DIR) / "templates"
# Every template a parent or carer sees (pages, e-mails, the declaration PDF).
PARENT_TEMPLATES = sorted(
    [TEMPLATES / name for name in ("base.html", "403.html", "403_csrf.html", "404.html", "500.html",
                                   "accessibility.html", "privacy.html")]
    + [p for p in (TEMPLATES / "codes").glob("*.html")]
    + [p for p in (TEMPLATES / "declarations").glob("*.html")]
    # Not the e-mails to staff: review_due, staff_declines, staff_weekly.
    + [p for p in (TEMPLATES / "emails").glob("*") if p.name != "review_due.txt" and not p.name.startswith("staff_")]
    + [TEMPLATES / "pdf" / "declaration.html", TEMPLATES / "pdf" / "paper_forms.html",
       TEMPLATES / "partials" / "version.html", TEMPLATES / "partials" / "changes.html",
       TEMPLATES / "partials" / "error_summary.html", Path(settings.BASE_DIR) / "api" / "templates" / "api" / "embed.html"]
)


def page(response) -> str:
    return html.unescape(response.content.decode())


# The translations are complete.


@pytest.mark.parametrize("language", SHIPPED)
def test_every_message_is_translated_and_none_is_fuzzy(language):
    po = LOCALE / language / "LC_MESSAGES" / "django.po"
    result = subprocess.run(
        ["msgfmt", "--check", "--statistics", "-o", "/dev/null", str(po)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert "untranslated" not in result.stderr and "fuzzy" not in result.stderr, result.stderr
    assert not re.search(r"^#, fuzzy", po.read_text(encoding="utf-8"), re.M)


@pytest.mark.parametrize("language", SHIPPED)
def test_the_compiled_catalogue_is_up_to_date(language):
    po = LOCALE / language / "LC_MESSAGES" / "django.po"
    mo = po.with_suffix(".mo")
    assert mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime, "run scripts/bootstrap to compile locale/"


def _catalogue(language) -> set[str]:
    text = (LOCALE / language / "LC_MESSAGES" / "django.po").read_text(encoding="utf-8")
    return {
        re.sub(r'"\n"', "", match).encode().decode("unicode_escape").encode("latin-1").decode("utf-8")
        for match in re.findall(r'^msgid ((?:".*"\n)+)', text, re.M)
        for match in [match.strip()[1:-1]]
    } - {""}


@pytest.mark.parametrize("template", PARENT_TEMPLATES, ids=lambda p: str(p.relative_to(settings.BASE_DIR)))
def test_every_message_of_a_parent_template_is_in_every_catalogue(template):
    source = template.read_text(encoding="utf-8")
    wanted = set()
    for call in re.findall(r"""gettext\((?:'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)")\)|"""
                           r"""ngettext\('((?:[^'\\]|\\.)*)'""", templatize(source)):
        wanted.add(next(part for part in call if part).replace("\\'", "'").replace('\\"', '"'))
    for language in SHIPPED:
        missing = wanted - _catalogue(language)
        assert not missing, f"{language} lacks {missing}: run manage.py makemessages (README, Languages)"


@pytest.mark.parametrize("template", PARENT_TEMPLATES, ids=lambda p: str(p.relative_to(settings.BASE_DIR)))
def test_no_parent_facing_words_are_left_unmarked(template):
    """Text outside {% translate %} and {% blocktranslate %}, and words in alt, title and aria-label
    attributes, would stay English in every language."""
    source = template.read_text(encoding="utf-8")
    source = re.sub(r"{% *comment *%}.*?{% *endcomment *%}", "", source, flags=re.S)
    source = re.sub(r"{% *blocktranslate.*?{% *endblocktranslate *%}", "", source, flags=re.S)
    source = re.sub(r"{%.*?%}|{{.*?}}|{#.*?#}", "", source, flags=re.S)
    source = re.sub(r"<style.*?</style>|<head>.*?<title>|</title>.*?</head>", "", source, flags=re.S)
    attributes = re.findall(r'\b(?:alt|title|aria-label|placeholder)="([^"]*)"', source)
    text = re.sub(r"<[^>]*>", " ", source)
    leftovers = [words for words in attributes + [text] if re.search(r"[A-Za-z]{2,}", words)]
    assert not leftovers, f"unmarked text in {template.name}: {leftovers}"


# Which language a carer sees.


@pytest.mark.parametrize(
    ("written", "code"),
    [("WEL", "cy"), ("Welsh", "cy"), ("Cymraeg", "cy"), ("POL", "pl"), ("Polish (POL)", "pl"), ("URD", "ur"),
     ("PNJ", "pa"), ("Panjabi", "pa"), ("ARA", "ar"), ("RUM", "ro"), ("ROM", "ro"), ("Romanian", "ro"),
     ("ENG", "en-gb"), ("SOM", "so"), ("", ""), ("Information not yet obtained", ""), ("NOT", "")],
)
def test_home_languages_are_read_as_information_systems_write_them(written, code):
    assert home_language_code(written) == code


@pytest.fixture
def welsh_carer(carer):
    carer.language = "cy"
    carer.save()
    return carer


def test_a_welsh_carer_sees_the_signing_page_in_welsh_and_english_is_one_click_away(client, welsh_carer, version):
    _, token = issued_link(welsh_carer, version)
    client.get(f"/sign/t/{token}/")
    text = page(client.get("/sign/"))
    assert '<html lang="cy">' in text
    assert "Llofnodi'r datganiad" in text and "Eich enw llawn" in text
    assert "Parents will be kind online." in text  # the school's code itself, as written
    assert "Mae cod ymddygiad yr ysgol isod yn Saesneg" in text  # and a notice that it is in English
    assert 'name="language" value="en-gb"' in text and ">English</button>" in text

    switched = client.post("/language/", {"language": "en-gb", "next": "/sign/"})
    assert switched.status_code == 302 and switched["Location"] == "/sign/"
    text = page(client.get("/sign/"))  # the same signing session, in English
    assert '<html lang="en-GB">' in text and "Sign the declaration" in text and "Mary Smith" in text

    client.post("/language/", {"language": "cy", "next": "/sign/"})
    client.post("/sign/", {"typed_name": "Mary Smith", "agreed": "on", "version": version.pk})
    assert Declaration.objects.get().language == "cy"
    receipt = page(client.get("/sign/done/"))
    assert "Rydych wedi llofnodi'r cod ymddygiad" in receipt and "Cymraeg" in receipt


def test_without_a_home_language_the_browsers_languages_decide(client, carer, version):
    _, token = issued_link(carer, version)
    client.get(f"/sign/t/{token}/")
    assert "Podpisz deklarację" in page(client.get("/sign/", HTTP_ACCEPT_LANGUAGE="pl,en;q=0.5"))
    assert "Sign the declaration" in page(client.get("/sign/", HTTP_ACCEPT_LANGUAGE="de,fr"))


def test_arabic_and_urdu_pages_run_right_to_left(client, school_code):
    assert '<html lang="ar" dir="rtl">' in client.get("/", HTTP_ACCEPT_LANGUAGE="ar").content.decode()
    assert '<html lang="ur" dir="rtl">' in client.get("/", HTTP_ACCEPT_LANGUAGE="ur").content.decode()


def test_staff_pages_stay_in_english_whatever_the_language_chosen(client):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "cy"
    text = page(client.get("/staff/login/"))
    assert '<html lang="en-GB">' in text and "Dewis" not in text
    assert 'name="language"' not in text  # no switch where nothing is translated


def test_the_switch_refuses_to_send_the_browser_elsewhere(client):
    response = client.post("/language/", {"language": "cy", "next": "https://evil.example/"})
    assert response.status_code == 204 or "evil" not in response.get("Location", "")


# E-mails.


def test_a_welsh_carer_gets_a_welsh_invitation_and_others_english(school, welsh_carer, version, settings, tasks):
    from sending import invitations, outbox
    from tests.declarations.factories import family

    settings.MAILERS = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}
    somali = family(school, forename="Hodan", surname="Ali", email="hodan@example.org",
                    children=(("Ayaan", "Ali", "4", "4A"),))
    somali.language = "so"  # a home language the portal has no translation for: English
    somali.save()
    for carer in (welsh_carer, somali):
        batch = invitations.invitations_send(school=school, audience=("carer", carer.pk), user=None, enqueue=False)
        outbox.outbox_send_pending(batch_id=batch.pk)
    by_address = {email.to[0]: email for email in mail.outbox}
    welsh, english = by_address[welsh_carer.email], by_address["hodan@example.org"]
    assert welsh.subject == (
        "Darllenwch a llofnodwch god ymddygiad cyfryngau cymdeithasol Whitefield Primary School"
        " – ar gyfer Mary Smith (Amy a Ben)"
    )
    assert "Annwyl Mary Smith," in welsh.body
    assert "Darllenwch y cod ymddygiad a llofnodwch y datganiad yma:" in welsh.body
    assert 'lang="cy"' in welsh.alternatives[0].content and welsh.extra_headers["Content-Language"] == "cy"
    assert english.subject == (
        "Please read and sign Whitefield Primary School's social media code of conduct – for Hodan Ali (Ayaan)"
    )


def test_the_switch_never_writes_a_signing_link_into_a_page(client, carer, version):
    _, token = issued_link(carer, version)
    dead_end = page(client.get("/sign/t/not-a-real-token-at-all/"))
    assert "not-a-real-token-at-all" not in dead_end and 'name="language"' not in dead_end
    short_dead_end = page(client.get("/sign/s/ABCD-EFGH-JKLM/"))
    assert "ABCD-EFGH-JKLM" not in short_dead_end and 'name="language"' not in short_dead_end
    client.get(f"/sign/t/{token}/")
    assert token not in page(client.get("/sign/")) and 'name="language"' in page(client.get("/sign/"))
