from django.apps import AppConfig


class PortalConfig(AppConfig):
    """The project package as an app, so that its signal receivers are registered."""

    name = "portal"
    verbose_name = "Codes of conduct portal"

    def ready(self):
        from portal import sessions  # noqa: F401  (registers its signal receiver)
