"""What the evidence app announces to the apps built on it, which it never imports."""

from django.dispatch import Signal

# A ZIP export of declaration PDFs finished building and can be downloaded (sent once, when it
# is marked ready). Argument: export.
export_ready = Signal()
