"""The axe_audit fixture itself: a test that checks a page with axe-core and never asserts the
result fails at teardown. These run the fixture in a nested pytest, with axe-core stubbed out."""

import pytest

pytest_plugins = ["pytester"]

CONFTEST = """
from tests.e2e import accessibility
from tests.e2e.conftest import axe_audit, pytest_runtest_makereport  # noqa: F401


class Results:
    violations_count = 0


class Page:
    url = "http://testserver/sign/"


accessibility.axe_violations = lambda page: Results()
"""


@pytest.fixture
def nested(pytester):
    pytester.makeconftest(CONFTEST)
    return pytester


def run(nested, test_source):
    nested.makepyfile(test_source)
    return nested.runpytest_inprocess("-p", "no:django", "-p", "no:cacheprovider")


def test_a_page_audited_and_never_asserted_fails_at_teardown(nested):
    result = run(nested, """
from conftest import Page

def test_forgets(axe_audit):
    axe_audit.check(Page())
""")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(
        ["*checked 1 page(s) whose result was never asserted*", "*http://testserver/sign/*"]
    )


def test_a_page_audited_after_the_last_assertion_fails_too(nested):
    result = run(nested, """
from conftest import Page

def test_checks_once_more(axe_audit):
    axe_audit.check(Page())
    axe_audit.assert_clean()
    axe_audit.check(Page())
""")
    result.assert_outcomes(passed=1, errors=1)


def test_audits_that_are_asserted_or_never_made_pass(nested):
    result = run(nested, """
from conftest import Page

def test_asserts(axe_audit):
    axe_audit.check(Page())
    axe_audit.check(Page())
    axe_audit.assert_clean()

def test_never_audits(axe_audit):
    pass
""")
    result.assert_outcomes(passed=2)


def test_a_test_that_failed_already_keeps_only_its_own_failure(nested):
    result = run(nested, """
from conftest import Page

def test_fails_midway(axe_audit):
    axe_audit.check(Page())
    assert False, "the journey broke"
""")
    result.assert_outcomes(failed=1)
