"""In production a webhook goes only to a public internet address, checked on the very lookup the
connection uses: a name that answers with a public address when checked and with one inside the
portal's network a moment later (DNS rebinding) still cannot make the portal post there."""

import datetime
import socket
import ssl
import threading
import urllib.request

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.declarations.factories import family
from tests.webhooks.receiver import Receiver
from tests.webhooks.test_webhooks import register, sign
from webhooks import delivery
from webhooks.delivery import delivery_attempt
from webhooks.models import WebhookAttempt, WebhookDelivery

pytestmark = pytest.mark.django_db

PUBLIC = "93.184.215.14"  # example.org's address: never actually reached, see `connections`


class Listener:
    """A TCP port on this machine, standing for a service inside the portal's network: it counts
    the connections that reach it."""

    def __enter__(self):
        self.server = socket.create_server(("127.0.0.1", 0))
        self.server.settimeout(0.05)
        self.port = self.server.getsockname()[1]
        self.reached = 0
        self.open = True
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()
        return self

    def _accept(self):
        while self.open:
            try:
                connection, _ = self.server.accept()
            except TimeoutError:
                continue
            self.reached += 1
            connection.close()

    def __exit__(self, *exc):
        self.open = False
        self.thread.join(timeout=5)
        self.server.close()


@pytest.fixture
def connections(monkeypatch):
    """Where the portal connects: every address is recorded; the public one is refused here (no
    test reaches the internet), one on this machine is really connected to."""
    made = []
    real = socket.create_connection

    def create_connection(address, *args, **kwargs):
        made.append(address[0])
        if address[0] == PUBLIC:
            raise ConnectionRefusedError(111, "Connection refused")
        return real(address, *args, **kwargs)

    monkeypatch.setattr(socket, "create_connection", create_connection)
    return made


def resolver(answers):
    """A DNS that gives `answers` in turn (the last one from then on)."""
    answers = list(answers)

    def getaddrinfo(host, port, family=0, type=0, proto=0, flags=0):
        address = answers.pop(0) if len(answers) > 1 else answers[0]
        # As the system's getaddrinfo answers when no socket type is asked: one per type.
        return [(socket.AF_INET, kind, proto, "", (address, port or 0))
                for kind, proto in ((socket.SOCK_STREAM, 6), (socket.SOCK_DGRAM, 17), (socket.SOCK_RAW, 0))]

    return getaddrinfo


def test_a_name_that_rebinds_to_the_portals_network_is_never_connected_to(
    settings, monkeypatch, headteacher, school, school_code, connections
):
    settings.PORTAL_WEBHOOKS_ALLOW_HTTP = False
    with Listener() as inside:
        monkeypatch.setattr(socket, "getaddrinfo", resolver([PUBLIC]))
        register(headteacher, school, f"https://hooks.example.org:{inside.port}/hook")  # public when registered
        sign(family(school), school_code.versions.get())
        # Public for the first look-up at delivery, this machine for every one after it.
        monkeypatch.setattr(socket, "getaddrinfo", resolver([PUBLIC, "127.0.0.1"]))

        assert delivery_attempt(WebhookDelivery.objects.get().pk) == WebhookDelivery.Status.PENDING

    assert inside.reached == 0
    assert connections == [PUBLIC]  # the address checked is the address connected to
    assert "refused" in WebhookAttempt.objects.get().error


def test_a_name_that_resolves_inside_the_portals_network_at_delivery_is_refused_with_the_reason(
    settings, monkeypatch, headteacher, school, school_code, connections
):
    settings.PORTAL_WEBHOOKS_ALLOW_HTTP = False
    with Listener() as inside:
        monkeypatch.setattr(socket, "getaddrinfo", resolver([PUBLIC]))
        register(headteacher, school, f"https://hooks.example.org:{inside.port}/hook")
        sign(family(school), school_code.versions.get())
        monkeypatch.setattr(socket, "getaddrinfo", resolver(["127.0.0.1"]))

        assert delivery_attempt(WebhookDelivery.objects.get().pk) == WebhookDelivery.Status.PENDING

    assert inside.reached == 0 and connections == []
    assert WebhookAttempt.objects.get().error == "The address does not resolve to a public internet address."


def certificate_for(name: str, directory) -> tuple[str, str]:
    """A self-signed certificate for `name` and its key, as PEM files: (certificate, key)."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=365))  # the tests' clock is fixed; TLS reads the real one
        .not_valid_after(now + datetime.timedelta(days=365))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / f"{name}.pem", directory / f"{name}.key"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return str(cert_file), str(key_file)


@pytest.mark.parametrize("served_for", ["hooks.example.org", "elsewhere.example.org"])
def test_an_https_endpoint_is_posted_to_over_tls_checked_for_its_name(
    settings, monkeypatch, tmp_path, headteacher, school, school_code, served_for
):
    """The connection goes to the address checked, and TLS still checks the certificate against
    the endpoint's name (not that address): a certificate for another name is refused."""
    settings.PORTAL_WEBHOOKS_ALLOW_HTTP = False
    cert, key = certificate_for(served_for, tmp_path)
    serving = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    serving.load_cert_chain(cert, key)
    (https,) = [handler for handler in delivery._public_only_opener.handlers if isinstance(handler, urllib.request.HTTPSHandler)]
    trusting = ssl.create_default_context(cafile=cert)  # this test's certificate as the only authority
    monkeypatch.setattr(https, "tls", trusting)
    with Receiver(tls=serving) as receiver:
        port = receiver.server.server_address[1]
        # hooks.example.org is this machine, taken for a public address (here only).
        monkeypatch.setattr(delivery, "public_addresses", lambda host, port=None: [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port or 0))
        ] if host == "hooks.example.org" else [])
        endpoint = register(headteacher, school, f"https://hooks.example.org:{port}/hook")
        receiver.secret = endpoint.secret
        sign(family(school), school_code.versions.get())
        status = delivery_attempt(WebhookDelivery.objects.get().pk)

    if served_for == "hooks.example.org":
        assert status == WebhookDelivery.Status.DELIVERED, WebhookAttempt.objects.get().error
        assert [r["verified"] for r in receiver.received] == [[True]]
    else:
        assert status == WebhookDelivery.Status.PENDING and receiver.received == []
        assert "Hostname mismatch" in WebhookAttempt.objects.get().error
