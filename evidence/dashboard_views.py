"""Completion at a glance: a school's figures, and an association's member schools side by side.

These pages show counts, never a carer's name, so they need a signed-in member of staff with
access to the school (schools.permissions.completion_schools: its headteacher and office staff,
and its association's admins) but not the second factor that pages naming families need. Anyone
else gets a 404, never a hint that the school exists.
"""

from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, render
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.views.decorators.http import require_safe

from declarations import selectors
from evidence import dashboard
from evidence.completion_chart import chart_for
from evidence.dashboard import Figures
from schools import permissions

# A row's seven figures, the columns of templates/dashboard/_figures_head.html. Made here rather
# than by a template included for each row: a page has up to a hundred rows of seven figures, and
# the template engine took about 30 microseconds a row to look up, localise and escape whole
# numbers (bench/profiles/dashboards.md).
_CELL = '<td class="text-end">{}</td>\n'
_CELL_WITH_PERCENT = '<td class="text-end text-nowrap">{}{}</td>\n'
_PERCENT = ' <span class="percent">({}%)</span>'
_CELLS = _CELL + _CELL_WITH_PERCENT + _CELL + _CELL + _CELL_WITH_PERCENT + _CELL_WITH_PERCENT + _CELL


def figures_cells(f: Figures) -> SafeString:
    """The <td> cells of a row of figures: asked, signed (with its percentage), online, on paper,
    declined (%), outstanding (%), of whom no e-mail address. Percentages are left out when
    nobody is asked."""

    def percent(value):
        return "" if value is None else format_html(_PERCENT, value)

    return format_html(
        _CELLS,
        f.asked,
        f.signed, percent(f.signed_percent),
        f.signed_online,
        f.signed_paper,
        f.declined, percent(f.declined_percent),
        f.outstanding, percent(f.outstanding_percent),
        f.no_email,
    )


@login_required
@require_safe
def school(request, school_slug):
    """The school's figures for the version its carers are asked to sign."""
    school = get_object_or_404(
        permissions.completion_schools(request.user).select_related("association"), slug=school_slug
    )
    version = selectors.version_to_sign(school)
    completion = dashboard.school_completion(school, version) if version else None
    return render(
        request,
        "dashboard/school.html",
        {
            "school": school,
            "completion": completion,
            "by_year_group": [(group, figures_cells(group.figures)) for group in completion.by_year_group]
            if completion else [],
            "by_reg_group": [(group, figures_cells(group.figures)) for group in completion.by_reg_group]
            if completion else [],
            "chart": chart_for(completion.timeline) if completion else None,
            "can_see_families": permissions.can_manage_families(request.user, school),
        },
    )


@login_required
@require_safe
def association(request, association_slug):
    """Each member school's figures, for the version that school's carers are asked to sign."""
    association = get_object_or_404(permissions.administered_associations(request.user), slug=association_slug)
    completion = dashboard.association_completion(association)
    return render(
        request,
        "dashboard/association.html",
        {
            "association": association,
            "completion": completion,
            "rows": [(row, figures_cells(row.figures) if row.target else None) for row in completion.rows],
            "total_cells": figures_cells(completion.total) if completion.schools_counted else None,
        },
    )
