"""axe-core checks for the end-to-end tests.

axe-core comes from the copy shipped inside axe_playwright_python (nothing from a CDN). It is
injected with page.evaluate, which goes through the DevTools protocol and is not subject to the
pages' Content Security Policy, so the browser context needs no bypass_csp
(test_axe_really_runs_under_the_content_security_policy guards this).
"""

from axe_playwright_python.sync_playwright import Axe

# WCAG 2.2 level A and AA (axe tags each success criterion with the WCAG version that introduced
# it, so all five WCAG tags are needed), plus axe's best practices (landmarks, heading order...).
AXE_OPTIONS = {
    "runOnly": {
        "type": "tag",
        "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"],
    },
    "resultTypes": ["violations"],
}

_axe = Axe()


def axe_violations(page):
    """Run axe-core on the page as it is now; returns axe_playwright_python's AxeResults."""
    return _axe.run(page, options=AXE_OPTIONS)


def violation_ids(results) -> set[str]:
    return {violation["id"] for violation in results.response["violations"]}


def report(page, results) -> str:
    return f"axe-core found problems on {page.url} ({page.title()!r}):\n{results.generate_report()}"


def assert_accessible(page):
    """Fail with axe-core's report if the page has any WCAG 2.2 AA (or best-practice) violation."""
    results = axe_violations(page)
    assert results.violations_count == 0, report(page, results)


class AxeAudit:
    """For journeys through several pages: check each page, report every problem at the end.

    A problem on one page then hides neither the behaviour of the pages after it nor their problems.
    `unasserted` lists the pages checked since the last assert_clean(): the axe_audit fixture fails
    a test that leaves any, since their problems would otherwise never be reported.
    """

    def __init__(self):
        self.reports = []
        self.unasserted = []

    def check(self, page):
        results = axe_violations(page)
        self.unasserted.append(page.url)
        if results.violations_count:
            self.reports.append(report(page, results))

    def assert_clean(self):
        self.unasserted = []
        summary = f"{len(self.reports)} page(s) with problems:\n\n"
        assert not self.reports, summary + "\n\n".join(self.reports)
