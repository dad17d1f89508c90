from django.apps import AppConfig


class EvidenceConfig(AppConfig):
    name = "evidence"
    verbose_name = "Evidence"

    def ready(self):
        from evidence import receivers  # noqa: F401  (connects the signals it receives)
