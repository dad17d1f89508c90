"""What the declarations app announces to the apps built on it, which it never imports."""

from django.dispatch import Signal

# A declaration was recorded, online or from a paper form (sent inside the recording
# transaction, so what receivers write commits or rolls back with it). Argument: declaration.
declaration_recorded = Signal()
