"""scripts/screenshots' demo data: families at Whitefield, some signed, and a working link."""

import pytest

from codes.seeding import load_seed_codes
from declarations.models import Declaration
from demo import screenshots

pytestmark = pytest.mark.django_db


def test_the_screenshot_data_has_signers_and_a_link_that_opens_the_signing_page(client):
    load_seed_codes()
    link = screenshots.prepare()
    assert Declaration.objects.count() == screenshots.SIGNED_ALREADY
    response = client.get(link)
    assert response.status_code == 303 and response["Location"] == "/sign/"
    assert "Mary Smith" in client.get("/sign/").content.decode()


def test_the_script_runs_on_a_throwaway_copy_of_the_demo():
    script = (screenshots.settings.BASE_DIR / "scripts" / "screenshots").read_text()
    assert 'PORTAL_VAR_DIR="$WORK"' in script and "unset DATABASE_URL" in script
    assert "take_screenshots" in script
