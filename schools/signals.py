"""What the schools app announces to the apps built on it, which it never imports."""

from django.dispatch import Signal

# An information-system import changed a school's families (sent inside the import's transaction).
# Arguments: school, plan (the ImportPlan applied).
families_imported = Signal()
