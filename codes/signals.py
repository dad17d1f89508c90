"""What the codes app announces to the apps built on it, which it never imports."""

from django.dispatch import Signal

# A version was published (sent inside the publishing transaction). Argument: version.
version_published = Signal()
