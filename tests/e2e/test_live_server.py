"""The server the browser tests talk to answers parallel requests correctly, as a browser makes them:
a page's stylesheet and its logo are fetched at the same moment, on connections of their own."""

import concurrent.futures
import urllib.error
import urllib.request

import pytest

from tests.factories import SchoolFactory

pytestmark = pytest.mark.e2e


def fetch(url: str) -> str:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return f"{response.status} {response.read().decode()}"
    except urllib.error.HTTPError as error:
        return f"{error.code} {url}"


@pytest.mark.django_db(transaction=True)
def test_parallel_requests_each_get_their_own_schools_stylesheet(live_server):
    schools = [SchoolFactory(brand_colour=colour) for colour in ("#7a1f5c", "#1d4f91", "#0b6e4f", "#8a3b12")]
    urls = [f"{live_server.url}/schools/{school.slug}/brand.css" for school in schools]

    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(fetch, urls * 150))

    wrong = [
        (url, answer)
        for url, answer, school in zip(urls * 150, answers, schools * 150, strict=True)
        if not (answer.startswith("200 ") and school.brand_colour in answer)
    ]
    assert not wrong, f"{len(wrong)} of {len(answers)} answers were wrong, e.g. {wrong[:3]}"
