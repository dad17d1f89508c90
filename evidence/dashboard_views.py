"""Completion at a glance: a school's figures, and an association's member schools side by side.

These pages show counts, never a carer's name, so they need a signed-in member of staff with
access to the school (schools.permissions.completion_schools: its headteacher and office staff,
and its association's admins) but not the second factor that pages naming families need. Anyone
else gets a 404, never a hint that the school exists.
"""

from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_safe

from declarations import selectors
from evidence import dashboard
from evidence.completion_chart import chart_for
from schools import permissions


@login_required
@require_safe
def school(request, school_slug):
    """The school's figures for the version its carers are asked to sign."""
    school = get_object_or_404(
        permissions.completion_schools(request.user).select_related("association"), slug=school_slug
    )
    target = selectors.signing_target(school)
    completion = dashboard.school_completion(school, target) if target else None
    return render(
        request,
        "dashboard/school.html",
        {
            "school": school,
            "completion": completion,
            "chart": chart_for(completion.timeline) if completion else None,
            "can_see_families": permissions.can_manage_families(request.user, school),
        },
    )


@login_required
@require_safe
def association(request, association_slug):
    """Each member school's figures, for the version that school's carers are asked to sign."""
    association = get_object_or_404(permissions.administered_associations(request.user), slug=association_slug)
    return render(
        request,
        "dashboard/association.html",
        {"association": association, "completion": dashboard.association_completion(association)},
    )
