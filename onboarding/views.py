"""Staff pages for people: who works for an organisation, inviting, changing roles and removing
people, and accepting an invitation. Access is decided in schools/permissions.py; the rules are in
onboarding/invitations.py. Another organisation's page is a 404."""

from django.contrib import messages
from django.contrib.auth import login
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from onboarding import invitations, organisation_settings, organisations
from onboarding.forms import (
    AcceptForm,
    InviteForm,
    MemberAddForm,
    MemberCreateForm,
    RoleChangeForm,
    SettingsForm,
)
from onboarding.models import StaffInvitation
from portal import ratelimit
from portal.pages import signing_page
from schools import permissions
from schools.mfa import mfa_required
from schools.models import Organisation, StaffRole

INVITATION_SESSION_KEY = "onboarding_invitation"


def organisation_for(user, slug, allowed) -> Organisation:
    organisation = get_object_or_404(Organisation, slug=slug)
    if not allowed(user, organisation):
        raise Http404("No such organisation.")
    return organisation


def nav_context(user, organisation) -> dict:
    """What the organisation's staff pages link to, for this user."""
    return {
        "organisation": organisation,
        "can_change_settings": permissions.can_change_settings(user, organisation),
        "can_manage_members": permissions.can_manage_members(user, organisation),
    }


@never_cache
@mfa_required
@require_http_methods(["GET", "POST"])
def people(request, slug):
    organisation = organisation_for(request.user, slug, permissions.can_see_staff)
    roles = permissions.invitable_roles(request.user, organisation)
    form = InviteForm(request.POST or None, roles=roles) if roles else None
    if request.method == "POST" and form is not None and form.is_valid():
        try:
            invitation = invitations.invitation_create(user=request.user, organisation=organisation, request=request,
                                                       **form.cleaned_data)
        except ValidationError as error:
            form.add_error("email", error)
        else:
            messages.success(request, f"Invitation sent to {invitation.email}. The link works for 7 days.")
            return redirect("onboarding:people", slug=organisation.slug)
    can_manage = permissions.can_manage_staff(request.user, organisation)
    return render(
        request,
        "onboarding/people.html",
        {
            **nav_context(request.user, organisation),
            "staff_roles": StaffRole.objects.filter(organisation=organisation).select_related("user")
            .order_by("role", "user__last_name", "user__first_name"),
            "open_invitations": [i for i in organisation.staff_invitations.select_related("invited_by") if i.is_open],
            "form": form,
            "can_manage": can_manage,
            "role_choices": RoleChangeForm.base_fields["role"].choices if organisation.is_school else [],
        },
    )


@mfa_required
@require_POST
def role_change(request, slug, role_id):
    organisation = organisation_for(request.user, slug, permissions.can_manage_staff)
    staff_role = get_object_or_404(StaffRole.objects.select_related("user"), pk=role_id, organisation=organisation)
    form = RoleChangeForm(request.POST)
    try:
        if not form.is_valid():
            raise ValidationError("Choose headteacher or office staff.")
        invitations.staff_role_change(user=request.user, staff_role=staff_role, role=form.cleaned_data["role"],
                                      request=request)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, f"{staff_role.user.get_full_name() or staff_role.user.username}'s role is changed.")
    return redirect("onboarding:people", slug=organisation.slug)


@mfa_required
@require_POST
def role_remove(request, slug, role_id):
    organisation = organisation_for(request.user, slug, permissions.can_manage_staff)
    staff_role = get_object_or_404(StaffRole.objects.select_related("user"), pk=role_id, organisation=organisation)
    try:
        invitations.staff_remove(user=request.user, staff_role=staff_role, request=request)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        who = staff_role.user.get_full_name() or staff_role.user.username
        messages.success(request, f"{who} no longer has the role {staff_role.get_role_display().lower()} here.")
    return redirect("onboarding:people", slug=organisation.slug)


@mfa_required
@require_POST
def invitation_revoke(request, slug, invitation_id):
    organisation = organisation_for(request.user, slug, permissions.can_see_staff)
    invitation = get_object_or_404(StaffInvitation, pk=invitation_id, organisation=organisation)
    invitations.invitation_revoke(user=request.user, invitation=invitation, request=request)
    messages.success(request, f"The invitation to {invitation.email} is withdrawn: its link no longer works.")
    return redirect("onboarding:people", slug=organisation.slug)


# Accepting an invitation (no account needed yet).


@never_cache
@signing_page
def invitation_link(request, token):
    """The e-mailed link: swapped at once for the session, so the token is not left in the address bar."""
    if ratelimit.count("invitation_link", ratelimit.client(request)):
        return ratelimit.too_many(request, "invitation_link")
    invitation = invitations.invitation_for_token(token)
    if invitation is None:
        return render(request, "onboarding/invitation_invalid.html", status=404)
    request.session[INVITATION_SESSION_KEY] = invitation.pk
    return redirect("onboarding:invitation_accept")


@never_cache
@require_http_methods(["GET", "POST"])
def invitation_accept(request):
    invitation = StaffInvitation.objects.select_related("organisation").filter(
        pk=request.session.get(INVITATION_SESSION_KEY)
    ).first()
    if invitation is None or not invitation.is_open:
        return render(request, "onboarding/invitation_invalid.html", status=404)
    existing = invitations.existing_user_for(invitation.email)
    context = {"invitation": invitation, "existing": existing}
    if existing is not None:
        if request.user != existing:
            context["login_url"] = f"{reverse('staff:login')}?{urlencode({'next': request.path})}"
            return render(request, "onboarding/invitation_sign_in.html", context)
        if request.method == "POST":
            try:
                invitations.invitation_accept(invitation_id=invitation.pk, user=request.user, request=request)
            except ValidationError as error:
                messages.error(request, " ".join(error.messages))
                return redirect("staff:dashboard")
            request.session.pop(INVITATION_SESSION_KEY, None)
            messages.success(request, f"You are now {invitation.get_role_display().lower()} at {invitation.organisation}.")
            return redirect("staff:dashboard")
        return render(request, "onboarding/invitation_confirm.html", context)
    form = AcceptForm(request.POST or None, email=invitation.email)
    if request.method == "POST" and form.is_valid():
        try:
            user = invitations.invitation_accept(
                invitation_id=invitation.pk,
                first_name=form.cleaned_data["first_name"],
                last_name=form.cleaned_data["last_name"],
                password=form.cleaned_data["password1"],
                request=request,
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            request.session.pop(INVITATION_SESSION_KEY, None)
            # The second factor straight away: nothing with pupils' data opens without it.
            return redirect(f"{reverse('account:setup')}?{urlencode({'next': reverse('staff:dashboard')})}")
    context["form"] = form
    return render(request, "onboarding/invitation_accept.html", context)


@never_cache
@mfa_required
@require_http_methods(["GET", "POST"])
def settings_page(request, slug):
    organisation = organisation_for(request.user, slug, permissions.can_change_settings)
    fields = organisation_settings.settings_fields(organisation)
    form = SettingsForm(request.POST or None, request.FILES or None, instance=Organisation.objects.get(pk=organisation.pk),
                        fields=fields)
    if request.method == "POST" and form.is_valid():
        try:
            changed = organisation_settings.organisation_settings_update(
                user=request.user,
                organisation=organisation,
                changes={name: form.cleaned_data[name] for name in fields},
                logo=form.cleaned_data.get("logo_upload"),
                remove_logo=form.cleaned_data.get("remove_logo", False),
                request=request,
            )
        except ValidationError as error:
            for field, messages_ in error.message_dict.items():
                form.add_error(field if field in form.fields else ("logo_upload" if field == "logo" else None), messages_)
        else:
            messages.success(request, "Settings saved." if changed else "Nothing was changed.")
            return redirect("onboarding:settings", slug=organisation.slug)
    return render(request, "onboarding/settings.html", {**nav_context(request.user, organisation), "form": form})


@never_cache
@mfa_required
@require_http_methods(["GET", "POST"])
def members(request, slug):
    association = organisation_for(request.user, slug, permissions.can_manage_members)
    action = request.POST.get("action")
    add_form = MemberAddForm(request.POST if action == "add" else None)
    create_form = MemberCreateForm(request.POST if action == "create" else None)
    if action == "add" and add_form.is_valid():
        school = Organisation.objects.filter(slug=add_form.cleaned_data["school"], kind=Organisation.Kind.SCHOOL).first()
        try:
            if school is None:
                raise ValidationError("There is no school with that web address name.")
            organisations.member_add(user=request.user, association=association, school=school, request=request)
        except ValidationError as error:
            add_form.add_error("school", error)
        else:
            messages.success(request, f"{school.name} is now a member. Its parents are asked to sign the code in force.")
            return redirect("onboarding:members", slug=association.slug)
    if action == "create" and create_form.is_valid():
        try:
            school, invitation = organisations.organisation_create(
                user=request.user, kind=Organisation.Kind.SCHOOL, name=create_form.cleaned_data["name"],
                association=association, first_email=create_form.cleaned_data["headteacher_email"], request=request,
            )
        except ValidationError as error:
            create_form.add_error("name", error)
        else:
            messages.success(request, f"{school.name} is created, and {invitation.email} invited as its headteacher.")
            return redirect("onboarding:members", slug=association.slug)
    return render(
        request,
        "onboarding/members.html",
        {
            **nav_context(request.user, association),
            "schools": association.members.order_by("name"),
            "add_form": add_form,
            "create_form": create_form,
            "failed_form": add_form if add_form.errors else create_form,
        },
    )


@mfa_required
@require_POST
def member_remove(request, slug, school_id):
    association = organisation_for(request.user, slug, permissions.can_manage_members)
    school = get_object_or_404(Organisation, pk=school_id, association=association)
    organisations.member_remove(user=request.user, association=association, school=school, request=request)
    messages.success(request, f"{school.name} is no longer a member. Its declarations stay with the school.")
    return redirect("onboarding:members", slug=association.slug)
