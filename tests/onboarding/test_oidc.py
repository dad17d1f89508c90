"""Staff sign-in with Microsoft or Google over OpenID Connect, against a real OpenID Connect
provider started by the test (oidc-provider-mock): the whole code flow, signatures and all."""

from urllib.parse import quote, urlsplit

import pytest
import requests
from django.contrib.auth import SESSION_KEY
from oidc_provider_mock import run_server_in_thread

from schools.models import AuditEvent, StaffRole
from tests.factories import StaffRoleFactory, UserFactory


@pytest.fixture(scope="module")
def provider_server():
    with run_server_in_thread() as server:
        yield f"http://localhost:{server.server_port}"


@pytest.fixture
def provider(provider_server, settings):
    """The mock provider, configured as the portal's "microsoft"; set_user(sub, **claims)."""
    discovery = requests.get(f"{provider_server}/.well-known/openid-configuration", timeout=10).json()
    settings.PORTAL_OIDC_PROVIDERS = {
        "microsoft": {
            "label": "Microsoft 365",
            "client_id": "codes-portal",
            "client_secret": "portal-secret",
            "issuer": discovery["issuer"],
            "authorization_endpoint": discovery["authorization_endpoint"],
            "token_endpoint": discovery["token_endpoint"],
            "userinfo_endpoint": discovery["userinfo_endpoint"],
            "jwks_endpoint": discovery["jwks_uri"],
        },
        "google": {"label": "Google Workspace", "client_id": ""},
    }

    def set_user(sub, **claims):
        response = requests.put(f"{provider_server}/users/{quote(sub)}", json=claims, timeout=10)
        assert response.status_code == 204

    return set_user


@pytest.fixture
def head(school):
    school.sign_in_provider = "microsoft"
    school.staff_email_domain = "whitefield.example.org"
    school.save()
    user = UserFactory(username="helen", email="Helen.Head@whitefield.example.org")
    StaffRoleFactory(user=user, organisation=school, role=StaffRole.Role.HEADTEACHER)
    return user


def sign_in_with_provider(client, sub, next_url=None):
    """Start on the portal, approve as `sub` on the provider's own form, come back to the portal."""
    start = client.get("/staff/sign-in/microsoft/" + (f"?next={next_url}" if next_url else ""))
    assert start.status_code == 302
    approved = requests.post(start.url, data={"sub": sub}, allow_redirects=False, timeout=10)
    assert approved.status_code == 302, approved.text
    callback = urlsplit(approved.headers["Location"])
    assert callback.path == "/staff/sign-in/callback/"
    return client.get(f"{callback.path}?{callback.query}")


def test_the_login_page_offers_only_configured_providers(client, provider, db):
    page = client.get("/staff/login/").content.decode()
    assert "Sign in with Microsoft 365" in page and "Google Workspace" not in page


def test_a_sign_in_with_multi_factor_stands_in_for_the_portals_second_factor(client, provider, head, school):
    provider("helen-sub", email="helen.head@whitefield.example.org", amr=["pwd", "mfa"])

    response = sign_in_with_provider(client, "helen-sub", next_url=f"/staff/families/{school.slug}/pupils/")

    assert response.url == f"/staff/families/{school.slug}/pupils/"
    assert int(client.session[SESSION_KEY]) == head.pk
    assert client.get(response.url).status_code == 200  # pupils' records: no code asked


def test_a_sign_in_without_multi_factor_still_needs_the_portals_own(client, provider, head, school):
    provider("helen-sub", email="helen.head@whitefield.example.org", amr=["pwd"])

    response = sign_in_with_provider(client, "helen-sub")

    assert int(client.session[SESSION_KEY]) == head.pk
    assert response.url.startswith("/staff/account/setup/")  # no authenticator yet: set one up first
    assert client.get(f"/staff/families/{school.slug}/pupils/").url.startswith("/staff/account/setup/")


def test_an_address_nobody_was_invited_with_opens_no_account(client, provider, head):
    provider("stranger", email="someone.else@whitefield.example.org", amr=["mfa"])

    response = sign_in_with_provider(client, "stranger")

    assert response.url == "/staff/login/"
    assert SESSION_KEY not in client.session
    from django.contrib.auth import get_user_model

    assert not get_user_model().objects.filter(email__iexact="someone.else@whitefield.example.org").exists()


def test_a_school_that_has_not_chosen_the_provider_keeps_passwords_only(client, provider, head, school):
    school.sign_in_provider = ""
    school.save()
    provider("helen-sub", email="helen.head@whitefield.example.org", amr=["mfa"])

    assert sign_in_with_provider(client, "helen-sub").url == "/staff/login/"
    assert SESSION_KEY not in client.session


def test_an_address_outside_the_schools_staff_domain_is_refused(client, provider, school):
    school.sign_in_provider, school.staff_email_domain = "microsoft", "whitefield.example.org"
    school.save()
    user = UserFactory(email="helen@gmail.example.com")
    StaffRoleFactory(user=user, organisation=school, role=StaffRole.Role.HEADTEACHER)
    provider("helen-personal", email="helen@gmail.example.com", amr=["mfa"])

    assert sign_in_with_provider(client, "helen-personal").url == "/staff/login/"
    assert SESSION_KEY not in client.session


def test_a_token_from_another_issuer_is_refused(client, provider, head, settings):
    """For Microsoft the issuer names the tenant: a token from any other tenant opens nothing."""
    settings.PORTAL_OIDC_PROVIDERS["microsoft"]["issuer"] = "https://login.microsoftonline.com/our-tenant/v2.0"
    provider("helen-sub", email="helen.head@whitefield.example.org", amr=["mfa"])

    assert sign_in_with_provider(client, "helen-sub").url == "/staff/login/"
    assert SESSION_KEY not in client.session


def test_a_code_the_provider_refuses_shows_the_sign_in_page_again(client, provider, head):
    provider("helen-sub", email="helen.head@whitefield.example.org", amr=["mfa"])
    start = client.get("/staff/sign-in/microsoft/")
    approved = requests.post(start.url.replace("client_id=codes-portal", "client_id=another-app"),
                             data={"sub": "helen-sub"}, allow_redirects=False, timeout=10)
    callback = urlsplit(approved.headers["Location"])

    response = client.get(f"{callback.path}?{callback.query}", follow=True)

    assert b"did not open a portal account" in response.content
    assert SESSION_KEY not in client.session


def test_the_provider_and_domain_are_chosen_on_the_settings_page(client, school, head, verified_client):
    from onboarding.organisation_settings import organisation_settings_update

    with pytest.raises(Exception, match="staff's e-mail domain"):
        organisation_settings_update(user=head, organisation=school, changes={"sign_in_provider": "google", "staff_email_domain": ""})
    organisation_settings_update(user=head, organisation=school, changes={"sign_in_provider": "google", "staff_email_domain": "@Whitefield.Example.org"})
    school.refresh_from_db()
    assert (school.sign_in_provider, school.staff_email_domain) == ("google", "whitefield.example.org")
    assert AuditEvent.objects.filter(action=AuditEvent.Action.SETTINGS_CHANGE).exists()
