"""Load the seed codes of conduct: the five source documents the portal was designed from.

The data lives in the repository under codes/seed_data/: seeds.toml names the organisations
(two Halton associations, the secondary association's 14 member schools, three schools with a
code of their own) and each code's first version, whose texts are Markdown files beside it.

Loading is idempotent. Organisations are matched by slug and only their name, kind and
association are set. A code that already has any version is left alone: a published version is
frozen (the model and a database trigger both refuse changes), and a draft belongs to whoever is
editing it. A code without versions gets version 1, published at once.
"""

import datetime
import tomllib
from pathlib import Path

from django.db import transaction

from codes import services
from codes.models import Code
from schools.models import Organisation

SEED_DIR = Path(__file__).parent / "seed_data"
SEED_FILE = SEED_DIR / "seeds.toml"

ORGANISATION_KEYS = {"slug", "name", "kind", "association"}
CODE_KEYS = {"owner", "title", "version"}
# Version content read from a Markdown file named in the TOML.
FILE_FIELDS = ("body", "declaration_statement", "covering_letter")
# Version content given in the TOML itself.
TEXT_FIELDS = (
    "author_name",
    "author_job_title",
    "document_version",
    "approved_by",
    "links_to",
    "revision_note",
)
DATE_FIELDS = ("approved_on",)
# Used when publishing, not when creating the draft.
PUBLISH_FIELDS = ("effective_from", "review_due")
# [[old, new], ...]: words of the body replaced, in order, each at least once (a code adapted
# from another's; a template's slot filled with the school's name).
BODY_REPLACEMENTS = "body_replacements"
VERSION_KEYS = set(FILE_FIELDS) | set(TEXT_FIELDS) | set(DATE_FIELDS) | set(PUBLISH_FIELDS) | {BODY_REPLACEMENTS}


class SeedDataError(ValueError):
    """The seed data in codes/seed_data/ is inconsistent (a bug in the repository, not input)."""


def read_seed_data(seed_file: Path = SEED_FILE) -> dict:
    """Parse and check seeds.toml; return organisations and codes with the Markdown texts read.

    Returns {"organisations": [{slug, name, kind, association}], "codes": [{owner, title,
    content: {...version fields...}, publish: {effective_from, review_due}}]}.
    """
    with open(seed_file, "rb") as f:
        data = tomllib.load(f)
    folder = seed_file.parent

    organisations = []
    kinds = {}
    for entry in data.get("organisations", []):
        _check_keys(entry, ORGANISATION_KEYS, {"slug", "name", "kind"}, "organisation")
        slug = entry["slug"]
        if slug in kinds:
            raise SeedDataError(f"Organisation {slug!r} is listed twice.")
        if entry["kind"] not in Organisation.Kind.values:
            raise SeedDataError(f"Organisation {slug!r} has an unknown kind {entry['kind']!r}.")
        association = entry.get("association")
        if association is not None:
            if entry["kind"] != Organisation.Kind.SCHOOL:
                raise SeedDataError(f"Only a school can belong to an association ({slug!r}).")
            if kinds.get(association) != Organisation.Kind.ASSOCIATION:
                raise SeedDataError(
                    f"Organisation {slug!r} belongs to {association!r}, which is not an association "
                    "listed above it."
                )
        kinds[slug] = entry["kind"]
        organisations.append(
            {"slug": slug, "name": entry["name"], "kind": entry["kind"], "association": association}
        )

    codes = []
    owners = set()
    for entry in data.get("codes", []):
        _check_keys(entry, CODE_KEYS, {"owner", "title", "version"}, "code")
        owner = entry["owner"]
        if owner not in kinds:
            raise SeedDataError(f"Code owner {owner!r} is not one of the seed organisations.")
        if owner in owners:
            raise SeedDataError(f"Organisation {owner!r} owns two codes.")
        owners.add(owner)
        version = entry["version"]
        _check_keys(version, VERSION_KEYS, {"body", "effective_from", "review_due"}, f"{owner} version")
        content = {"title": entry["title"]}
        for field in FILE_FIELDS:
            if field in version:
                path = folder / version[field]
                if not path.is_file():
                    raise SeedDataError(f"{owner}: {field} file {version[field]!r} does not exist.")
                content[field] = path.read_text(encoding="utf-8").strip()
        content["body"] = _replaced(content["body"], version.get(BODY_REPLACEMENTS, []), owner)
        for field in TEXT_FIELDS:
            if field in version:
                content[field] = version[field]
        for field in DATE_FIELDS + PUBLISH_FIELDS:
            if field in version and not _is_date(version[field]):
                raise SeedDataError(f"{owner}: {field} must be a TOML date such as 2026-09-01.")
        for field in DATE_FIELDS:
            if field in version:
                content[field] = version[field]
        publish = {field: version[field] for field in PUBLISH_FIELDS}
        codes.append({"owner": owner, "title": entry["title"], "content": content, "publish": publish})

    return {"organisations": organisations, "codes": codes}


def load_seed_codes(*, stdout=None) -> dict:
    """Create (or bring up to date) the seed organisations, and give each seed code version 1.

    Returns counts and a one-line summary, which is also written to `stdout` when given.
    """
    data = read_seed_data()
    result = {
        "organisations_created": 0,
        "organisations_updated": 0,
        "codes_created": 0,
        "versions_created": 0,
        "codes_left_alone": 0,
    }
    with transaction.atomic():
        by_slug = {}
        for entry in data["organisations"]:
            association = by_slug[entry["association"]] if entry["association"] else None
            existing = Organisation.objects.filter(slug=entry["slug"]).first()
            before = (existing.name, existing.kind, existing.association_id) if existing else None
            organisation, created = Organisation.objects.update_or_create(
                slug=entry["slug"],
                defaults={"name": entry["name"], "kind": entry["kind"], "association": association},
            )
            by_slug[entry["slug"]] = organisation
            if created:
                result["organisations_created"] += 1
            elif before != (organisation.name, organisation.kind, organisation.association_id):
                result["organisations_updated"] += 1

        for entry in data["codes"]:
            code, created = Code.objects.get_or_create(
                owner=by_slug[entry["owner"]], defaults={"title": entry["title"]}
            )
            result["codes_created"] += created
            if code.versions.exists():
                result["codes_left_alone"] += 1
                continue
            version = services.version_create_first(code=code, user=None, **entry["content"])
            services.version_publish(
                version=version,
                user=None,
                effective_from=entry["publish"]["effective_from"],
                review_due=entry["publish"]["review_due"],
                requires_signing=True,
            )
            result["versions_created"] += 1

    result["summary"] = _summary(result)
    if stdout is not None:
        stdout.write(result["summary"] + "\n")
    return result


def _summary(result: dict) -> str:
    if not (result["organisations_created"] or result["organisations_updated"]
            or result["codes_created"] or result["versions_created"]):
        return "nothing to do: all seed codes already loaded"
    parts = [
        f"created {result['organisations_created']} organisations, "
        f"{result['codes_created']} codes, {result['versions_created']} versions"
    ]
    if result["organisations_updated"]:
        parts.append(f"updated {result['organisations_updated']} organisations")
    if result["codes_left_alone"]:
        parts.append(f"left {result['codes_left_alone']} codes with versions alone")
    return "; ".join(parts)


def _replaced(text: str, replacements: list, owner: str) -> str:
    for pair in replacements:
        if not (isinstance(pair, list) and len(pair) == 2 and all(isinstance(p, str) and p for p in pair)):
            raise SeedDataError(f"{owner}: each body replacement is [old, new], two non-empty strings.")
        old, new = pair
        if old not in text:
            raise SeedDataError(f"{owner}: the body has no {old!r} to replace.")
        text = text.replace(old, new)
    return text


def _check_keys(entry: dict, allowed: set, required: set, what: str) -> None:
    unknown = set(entry) - allowed
    if unknown:
        raise SeedDataError(f"Unknown keys for {what}: {', '.join(sorted(unknown))}")
    missing = required - set(entry)
    if missing:
        raise SeedDataError(f"Missing keys for {what}: {', '.join(sorted(missing))}")


def _is_date(value) -> bool:
    return isinstance(value, datetime.date) and not isinstance(value, datetime.datetime)
