"""Every response tells the browser that the portal uses no powerful feature (camera, location...)."""

import pytest

pytestmark = pytest.mark.django_db

DENIED = ["camera", "microphone", "geolocation", "payment", "usb", "browsing-topics"]


def policy(response) -> dict[str, str]:
    header = response.headers.get("Permissions-Policy", "")
    return dict(part.strip().split("=", 1) for part in header.split(",") if part.strip())


@pytest.mark.parametrize("url", ["/", "/sign/t/not-a-real-token/", "/staff/login/", "/no-such-page/", "/static/css/portal.css"])
def test_every_response_carries_a_permissions_policy_that_allows_nothing(client, school_code, url):
    response = client.get(url)
    features = policy(response)
    for feature in DENIED:
        assert features.get(feature) == "()", f"{url}: {feature} not denied ({response.headers.get('Permissions-Policy')!r})"
