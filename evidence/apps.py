from django.apps import AppConfig


class EvidenceConfig(AppConfig):
    name = "evidence"
    verbose_name = "Evidence"

    def ready(self):
        from evidence import checks, receivers  # noqa: F401  (registers its check; connects the signals it receives)
