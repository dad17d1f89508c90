from django.apps import AppConfig


class FloorConfig(AppConfig):
    """Floor views and their one table; installed only by bench.settings (no migrations:
    `migrate --run-syncdb` makes the table in the benchmark's throwaway database)."""

    name = "bench.floor"
    label = "bench_floor"
    default_auto_field = "django.db.models.BigAutoField"
