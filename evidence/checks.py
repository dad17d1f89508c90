"""Deployment check (`manage.py check --deploy`): a production portal without a readable signing
certificate would otherwise find out only when the first declaration PDF is sealed, in the
background, after a parent has signed."""

from django.conf import settings
from django.core.checks import Error, Tags, register
from django.core.exceptions import ImproperlyConfigured


@register(Tags.security, deploy=True)
def signing_certificate_check(app_configs=None, **kwargs):
    """The certificate that seals declaration PDFs is configured and opens with its password.

    In development with nothing configured a self-signed one is made on first use, so there is
    nothing to check then.
    """
    if not (settings.PRODUCTION or settings.PORTAL_SIGNING_CERT):
        return []
    # Imported only when there is a certificate to check: pyHanko takes half a second to import,
    # and every process (web, worker, each management command) registers this check at start-up.
    from evidence.seal import portal_certificate

    try:
        portal_certificate()
    except ImproperlyConfigured as error:
        return [
            Error(
                str(error),
                hint=(
                    "Set PORTAL_SIGNING_CERT to a PKCS#12 file (.p12/.pfx) with the certificate and key "
                    "that seal declaration PDFs, and PORTAL_SIGNING_CERT_PASSWORD to its password."
                ),
                id="portal.E001",
            )
        ]
    return []
