"""What the sending app asks of the apps built on it, which it never imports."""

from django.dispatch import Signal

# A confirmation e-mail is being written: receivers may return a dict of what the carer's copy
# of their declaration adds to the e-mail (the sealed PDF, where to verify it). Argument: declaration.
confirmation_copy = Signal()
