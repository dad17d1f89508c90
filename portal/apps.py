from django.apps import AppConfig


class PortalConfig(AppConfig):
    """The project package as an app, so that its system checks (portal/checks.py) are registered."""

    name = "portal"
    verbose_name = "Codes of conduct portal"

    def ready(self):
        from portal import checks, sessions  # noqa: F401  (registers the checks and signal receivers)
