"""The carer's home language from the information-system export: SIMS codes and names mapped,
kept when a later file has no such column or a blank cell, changed in place when it differs."""

import pytest

from schools.models import Carer
from tests.schools.test_imports import SIMS, apply, export, pair, preview

pytestmark = pytest.mark.django_db

WITH_LANGUAGE = SIMS + ["Home Language"]


def row(language, **kwargs):
    return {**pair(**kwargs), "Home Language": language}


def test_home_languages_are_stored_as_language_codes(school):
    apply(school, export(
        row("WEL", adno="1", contact_forename="Siân", email="sian@example.org"),
        row("Polish", adno="2", contact_forename="Ola", email="ola@example.org"),
        row("URD", adno="3", contact_forename="Amna", email="amna@example.org"),
        row("PNJ", adno="4", contact_forename="Harpreet", email="harpreet@example.org"),
        row("ARA", adno="5", contact_forename="Layla", email="layla@example.org"),
        row("RUM", adno="6", contact_forename="Ioana", email="ioana@example.org"),
        row("", adno="7", contact_forename="Jo", email="jo@example.org"),
        header=WITH_LANGUAGE,
    ))
    languages = dict(Carer.objects.values_list("forename", "language"))
    assert languages == {"Siân": "cy", "Ola": "pl", "Amna": "ur", "Harpreet": "pa", "Layla": "ar",
                         "Ioana": "ro", "Jo": ""}


@pytest.mark.parametrize("header", ["First Language", "Language", "Main Language"])
def test_other_information_systems_names_for_the_column_are_understood(school, header):
    apply(school, export({**pair(), header: "Welsh"}, header=SIMS + [header]))
    assert Carer.objects.get().language == "cy"


def test_a_file_without_the_column_or_with_a_blank_cell_keeps_the_language(school):
    apply(school, export(row("WEL"), header=WITH_LANGUAGE))
    apply(school, export(pair()))  # no column
    apply(school, export(row(""), header=WITH_LANGUAGE))  # a blank cell
    assert Carer.objects.get().language == "cy"


def test_a_changed_language_is_previewed_and_updated_in_place(school):
    apply(school, export(row("WEL"), header=WITH_LANGUAGE))
    carer = Carer.objects.get()
    plan = preview(school, export(row("POL"), header=WITH_LANGUAGE))
    (changed,) = plan.changed_carers
    assert [(c.field, c.old, c.new) for c in changed.changes] == [("home language", "cy", "pl")]
    apply(school, export(row("POL"), header=WITH_LANGUAGE))
    assert Carer.objects.get().pk == carer.pk and Carer.objects.get().language == "pl"
