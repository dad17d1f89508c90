from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from demo.scale_data import ScaleDataRefused, ScaleSpec, generate_scale_data


class Command(BaseCommand):
    help = (
        "Make a made-up association at local-authority scale (by default 50 schools, 25,000 pupils, "
        "40,000 carers, five years of versions, about 150,000 declarations) for benchmarks and for "
        "trying the dashboards. Development only: refused with PORTAL_ENV=production."
    )

    requires_system_checks = []  # refuse in production before touching anything

    def add_arguments(self, parser):
        default = ScaleSpec()
        parser.add_argument(
            "--scale", type=float, default=1.0, help="the default size times this, e.g. 0.01 (default 1)"
        )
        parser.add_argument("--schools", type=int, help=f"member schools (default {default.schools} × scale)")
        parser.add_argument("--pupils", type=int, help=f"pupils in all (default {default.pupils:,} × scale)")
        parser.add_argument("--carers", type=int, help=f"carers in all (default {default.carers:,} × scale)")
        parser.add_argument("--years", type=int, help=f"annual versions of the shared code (default {default.years})")
        parser.add_argument("--name", help=f"the association's name (default {default.name!r})")
        parser.add_argument("--slug", help=f"the association's slug (default {default.slug!r})")
        parser.add_argument("--seed", type=int, help=f"random seed (default {default.seed})")

    def handle(self, *args, scale, **options):
        if settings.PRODUCTION:
            raise CommandError("Scale data is made-up families: it is never generated with PORTAL_ENV=production.")
        if not scale > 0:
            raise CommandError("--scale must be more than 0.")
        overrides = {key: options[key] for key in ("schools", "pupils", "carers", "years", "name", "slug", "seed")}
        spec = ScaleSpec.scaled(scale, **overrides)
        self.stdout.write(
            f"Making {spec.name} ({spec.slug}): {spec.schools} schools, {spec.pupils:,} pupils, "
            f"{spec.carers:,} carers, {spec.years} years of versions…"
        )
        try:
            result = generate_scale_data(spec, log=self.stdout.write)
        except ScaleDataRefused as refusal:
            raise CommandError(str(refusal)) from refusal
        self.stdout.write(self.style.SUCCESS(f"Made {result.association.name} in {result.seconds:.1f} s:"))
        width = max(len(name) for name in result.counts)
        for name, count in result.counts.items():
            self.stdout.write(f"  {name:<{width}}  {count:>9,}")
        self.stdout.write(
            f"Staff sign in as admin.{spec.slug}, or head.<school slug> / office.<school slug> (largest school: "
            f"head.{result.largest_school.slug}), with the demo password and a demo recovery code "
            "(see `manage.py load_demo`)."
        )
