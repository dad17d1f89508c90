from schools import permissions


def staff_navigation(request):
    """Whether to show the staff navigation: only to signed-in members of staff."""
    user = getattr(request, "user", None)
    return {"is_staff_member": bool(user and user.is_authenticated and permissions.is_staff_member(user))}
