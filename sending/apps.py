from django.apps import AppConfig


class SendingConfig(AppConfig):
    name = "sending"
    verbose_name = "Sending"

    def ready(self):
        from sending import receivers  # noqa: F401  (connects the signals it receives)
