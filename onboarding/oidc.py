"""Staff sign-in with Microsoft 365 (Entra ID) or Google Workspace over OpenID Connect, with
mozilla-django-oidc doing the protocol (state, nonce, PKCE, the token exchange, the ID token's
signature against the provider's keys).

What the portal adds:
- two providers at once, each configured in settings.PORTAL_OIDC_PROVIDERS (from the
  environment); the one a sign-in uses is kept in the session between the start and the callback;
- the ID token must come from that provider's issuer (for Microsoft, one tenant's) and be meant
  for the portal (its audience), which the library does not check itself;
- no account is ever made here: the sign-in opens an existing, invited account with the same
  e-mail address, at an organisation that chose this provider and whose staff e-mail domain the
  address is at (schools.permissions.may_sign_in_with);
- the provider's sign-in stands in for the portal's second factor only when the ID token's `amr`
  claim says multi-factor authentication was used ("mfa"); otherwise the portal asks for its
  own code as after a password (schools/mfa.py).
"""

from __future__ import annotations

import logging

import requests

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import SuspiciousOperation
from django.http import Http404
from django.shortcuts import redirect
from mozilla_django_oidc.auth import OIDCAuthenticationBackend
from mozilla_django_oidc.views import OIDCAuthenticationCallbackView, OIDCAuthenticationRequestView

from schools import mfa, permissions

logger = logging.getLogger(__name__)
PROVIDER_SESSION_KEY = "oidc_provider"
MFA_METHODS = {"mfa"}  # RFC 8176: authentication with more than one factor


def providers() -> dict[str, dict]:
    """The providers configured for this portal (with a client id), by name."""
    return {name: config for name, config in settings.PORTAL_OIDC_PROVIDERS.items() if config.get("client_id")}


def provider_config(name: str) -> dict:
    config = providers().get(name)
    if config is None:
        raise Http404("No such sign-in provider.")
    return config


def used_multi_factor(claims: dict) -> bool:
    amr = claims.get("amr") or []
    return bool(MFA_METHODS & set([amr] if isinstance(amr, str) else amr))


class StaffOIDCBackend(OIDCAuthenticationBackend):
    """Authenticates the provider's callback; configured per provider from the session."""

    def __init__(self, *args, **kwargs):  # the library's reads one global provider: see _configure
        from django.contrib.auth import get_user_model

        self.UserModel = get_user_model()

    def _configure(self, name: str) -> None:
        config = provider_config(name)
        self.provider = name
        self.OIDC_OP_TOKEN_ENDPOINT = config["token_endpoint"]
        self.OIDC_OP_USER_ENDPOINT = config["userinfo_endpoint"]
        self.OIDC_OP_JWKS_ENDPOINT = config["jwks_endpoint"]
        self.OIDC_RP_CLIENT_ID = config["client_id"]
        self.OIDC_RP_CLIENT_SECRET = config["client_secret"]
        self.OIDC_RP_SIGN_ALGO = "RS256"
        self.OIDC_RP_IDP_SIGN_KEY = None
        self.issuer = config["issuer"]

    def authenticate(self, request, **kwargs):
        name = request.session.get(PROVIDER_SESSION_KEY) if request is not None else None
        if not name or "code" not in request.GET:
            return None  # not an OpenID Connect callback: the password backends answer
        self._configure(name)
        try:
            return super().authenticate(request, **kwargs)
        except (SuspiciousOperation, requests.RequestException) as refused:
            # A token from elsewhere, or the provider refusing the code: the sign-in page says so.
            logger.warning("Refused a sign-in with %s: %s", name, refused)
            return None

    def verify_token(self, token, **kwargs):
        payload = super().verify_token(token, **kwargs)
        audience = payload.get("aud")
        audiences = [audience] if isinstance(audience, str) else (audience or [])
        if payload.get("iss") != self.issuer or self.OIDC_RP_CLIENT_ID not in audiences:
            raise SuspiciousOperation("The ID token is not from the configured provider, or not for this portal.")
        self.id_claims = payload
        return payload

    def verify_claims(self, claims):
        return bool(claims.get("email")) and claims.get("email_verified") is not False

    def filter_users_by_claims(self, claims):
        email = claims["email"]
        users = self.UserModel.objects.filter(email__iexact=email, is_active=True)
        return [user for user in users if permissions.may_sign_in_with(user, provider=self.provider, email=email)]

    def get_or_create_user(self, access_token, id_token, payload):
        user = super().get_or_create_user(access_token, id_token, payload)
        if user is not None:
            user.oidc_multi_factor = used_multi_factor(self.id_claims)
            user.oidc_provider = self.provider
        return user

    def create_user(self, claims):  # never: only invited people have accounts
        return None


class SignInStart(OIDCAuthenticationRequestView):
    """/staff/sign-in/<provider>/: remember the provider, then off to it."""

    def __init__(self, *args, **kwargs):
        super(OIDCAuthenticationRequestView, self).__init__(*args, **kwargs)

    def get(self, request, provider):
        config = provider_config(provider)
        self.OIDC_OP_AUTH_ENDPOINT = config["authorization_endpoint"]
        self.OIDC_RP_CLIENT_ID = config["client_id"]
        request.session[PROVIDER_SESSION_KEY] = provider
        return super().get(request)


class SignInCallback(OIDCAuthenticationCallbackView):
    """The provider sends the browser back here; after it, the second factor unless the provider
    reported multi-factor authentication."""

    def login_success(self):
        super().login_success()  # django.contrib.auth.login: a new session id
        provider = self.user.oidc_provider
        url = self.success_url
        if self.user.oidc_multi_factor:
            mfa.verify_with_provider(request=self.request, provider=provider)
            return redirect(url)
        return redirect(mfa.second_factor_redirect(self.request, url) or url)

    def login_failure(self):
        name = providers().get(self.request.session.get(PROVIDER_SESSION_KEY, ""), {}).get("label", "your provider")
        messages.error(
            self.request,
            f"Signing in with {name} did not open a portal account. Use the address your invitation was sent to, "
            "at a school or association that has chosen this way of signing in; or sign in with your password.",
        )
        return redirect(settings.LOGIN_URL)
