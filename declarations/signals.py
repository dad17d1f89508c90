"""What the declarations app announces to the apps built on it, which it never imports."""

from django.dispatch import Signal

# A declaration was recorded, online or from a paper form (sent inside the recording
# transaction, so what receivers write commits or rolls back with it). Argument: declaration.
declaration_recorded = Signal()

# A carer declined to sign a version (sent inside the recording transaction, once per carer and
# version: declining twice keeps the first and sends nothing). Argument: decline.
declaration_declined = Signal()
