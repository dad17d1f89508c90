"""Staff multi-factor authentication. (Being built: see schools/account_views.py.)"""

from django.contrib.auth.decorators import login_required


def mfa_required(view):
    """Staff views that show pupil or carer data: signed in AND verified with a second factor."""
    return login_required(view)
