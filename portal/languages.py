"""The languages parents read the portal in, and which one each parent sees.

English is the portal's own language; the others are shipped as `locale/<code>/LC_MESSAGES/
django.po` (compiled by scripts/bootstrap). A parent's language is, in order: the one they chose
with the switch on every parent page (a cookie, so it survives the signing session untouched),
the home language the school's information system gave for the carer whose link this browser
opened, and the browser's own languages. Staff pages and Django admin stay in English.
"""

from __future__ import annotations

import re

from django.conf import settings
from django.utils import translation
from django.utils.cache import patch_vary_headers

ENGLISH = "en-gb"
# Where the signing session keeps the carer's home language (set when their link is opened).
SESSION_KEY = "carer_language"
# Pages in English whatever the visitor chose: their text is not translated.
ENGLISH_ONLY_PATHS = ("/staff/", "/admin/")
# The e-mailed link's own address, and a paper form's short address for it, answer only with a
# redirect or a dead end: no switch there, whose return address would write the link into the
# page (and a dead end holds no form).
NO_SWITCH_PATHS = ("/sign/t/", "/sign/s/")

# Home languages as information systems write them: SIMS/DfE three- and four-letter codes, ISO
# 639 codes and the languages' names in English and in themselves. A code the portal does not
# ship (say "SOM") still maps, so the carer's language is kept for the day it is translated.
_HOME_LANGUAGES = {
    "cy": ("WEL", "WELSH", "CYM", "CYMRAEG", "CY"),
    "en-gb": ("ENG", "ENGLISH", "EN", "ENB"),
    "pl": ("POL", "POLISH", "POLSKI", "PL"),
    "ur": ("URD", "URDU", "اردو", "UR"),
    "ro": ("RUM", "ROM", "RON", "ROMANIAN", "ROMÂNĂ", "ROMANA", "RO", "MOL", "MOLDOVAN"),
    "pa": ("PNJ", "PAN", "PNJG", "PNJM", "PUNJABI", "PANJABI", "ਪੰਜਾਬੀ", "PA"),
    "ar": ("ARA", "ARAA", "ARAM", "ARAG", "ARAI", "ARAL", "ARAS", "ARAT", "ARAY", "ARABIC", "العربية", "AR"),
    "bn": ("BNG", "BEN", "BENGALI", "BANGLA", "BN"),
    "so": ("SOM", "SOMALI", "SO"),
    "lt": ("LIT", "LITHUANIAN", "LT"),
    "pt": ("POR", "PORTUGUESE", "PT"),
    "es": ("SPA", "SPANISH", "ES"),
    "fr": ("FRN", "FRE", "FRA", "FRENCH", "FR"),
    "tr": ("TUR", "TURKISH", "TR"),
    "gu": ("GUJ", "GUJARATI", "GU"),
    "ta": ("TAM", "TAMIL", "TA"),
}
_BY_NAME = {name.casefold(): code for code, names in _HOME_LANGUAGES.items() for name in names}


def shipped_codes() -> list[str]:
    return [code for code, _ in settings.LANGUAGES]


def home_language_code(written: str) -> str:
    """The language code for what an information system wrote ('WEL', 'Welsh', 'Polish (POL)'),
    or '' when it is blank or not one we know. 'Not known' or 'Information not obtained' is ''."""
    value = " ".join(written.split()).casefold()
    if not value:
        return ""
    if value in _BY_NAME:
        return _BY_NAME[value]
    # "Polish (POL)", "POL - Polish", "Welsh/Cymraeg": any part that names a language.
    for part in re.split(r"[\s()/,;:\-–]+", value):
        if part in _BY_NAME and len(part) > 2:
            return _BY_NAME[part]
    return ""


def shown_language(code: str) -> str:
    """The shipped language to use for a carer whose home language is `code` ('' for English)."""
    return code if code in shipped_codes() else ENGLISH


def language_name(code: str) -> str:
    """A language's name in itself, as the language switch and staff pages show it."""
    if code in dict(settings.LANGUAGES):
        return dict(settings.LANGUAGES)[code]
    try:
        return translation.get_language_info(code)["name_local"]
    except KeyError:  # a home language Django has no name for: its code
        return code


class ParentLanguageMiddleware:
    """Django's LocaleMiddleware, with the carer's home language between the switch's choice and
    the browser's languages, and staff pages kept in English."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        language = self.language_for(request)
        translation.activate(language)
        request.LANGUAGE_CODE = translation.get_language()
        response = self.get_response(request)
        patch_vary_headers(response, ("Accept-Language", "Cookie"))
        response.headers.setdefault("Content-Language", language)
        return response

    @staticmethod
    def language_for(request) -> str:
        if request.path_info.startswith(ENGLISH_ONLY_PATHS):
            return ENGLISH
        shipped = shipped_codes()
        chosen = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME)
        if chosen in shipped:
            return chosen
        session = getattr(request, "session", None)
        home = session.get(SESSION_KEY) if session is not None else None
        if home in shipped:
            return home
        return translation.get_language_from_request(request)


def language_switch(request) -> dict:
    """The language switch for the page's footer, on every page but the English-only ones: each
    shipped language, named in itself, as a button of a form that works without JavaScript."""
    if request.path_info.startswith(ENGLISH_ONLY_PATHS + NO_SWITCH_PATHS):
        return {}
    current = translation.get_language()
    return {
        "language_switch": [
            {"code": code, "name": name, "current": code == current,
             "bidi": translation.get_language_info(code)["bidi"]}
            for code, name in settings.LANGUAGES
        ]
    }
