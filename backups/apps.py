from django.apps import AppConfig


class BackupsConfig(AppConfig):
    """Operator tooling: `manage.py backup` and `manage.py restore`. No models; it reaches the
    portal's data only through the database connection, default storage and settings."""

    name = "backups"
    verbose_name = "Backups"
