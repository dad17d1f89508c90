"""factory_boy factories shared by the whole suite."""

import datetime

import factory
from django.contrib.auth import get_user_model

from codes import services
from codes.models import Code, CodeVersion
from schools.models import Organisation, StaffRole


class AssociationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organisation

    kind = Organisation.Kind.ASSOCIATION
    name = factory.Sequence(lambda n: f"Association of Headteachers {n}")
    slug = factory.Sequence(lambda n: f"association-{n}")


class SchoolFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organisation

    kind = Organisation.Kind.SCHOOL
    name = factory.Sequence(lambda n: f"Oakfield Primary School {n}")
    slug = factory.Sequence(lambda n: f"school-{n}")
    # Any time, any day, so that a test sends whenever it runs; tests/sending/test_sending_hours.py
    # checks the real defaults.
    sending_hours_from = datetime.time(0, 0)
    sending_hours_until = datetime.time(0, 0)
    sending_days = "1234567"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()

    username = factory.Sequence(lambda n: f"staff{n}")
    first_name = "Pat"
    last_name = factory.Sequence(lambda n: f"Staff{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.org")
    password = factory.django.Password("correct-horse-battery")


class StaffRoleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = StaffRole

    user = factory.SubFactory(UserFactory)
    organisation = factory.SubFactory(SchoolFactory)
    role = StaffRole.Role.HEADTEACHER


class CodeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Code

    owner = factory.SubFactory(SchoolFactory)


def published_version(
    code: Code,
    *,
    body="## Expectations\n\nParents will be kind online.\n\n- Do not post photos of pupils",
    effective_from=datetime.date(2026, 9, 1),
    review_due=None,
    requires_signing=True,
    **content,
) -> CodeVersion:
    """A published version of `code`, made through the real services (first or next version)."""
    if code.versions.exists():
        draft = services.current_draft(code) or services.draft_start(code=code, user=None)
        services.draft_update(version=draft, user=None, body=body, **content)
    else:
        draft = services.version_create_first(code=code, user=None, body=body, **content)
    return services.version_publish(
        version=draft, user=None, effective_from=effective_from, review_due=review_due, requires_signing=requires_signing
    )


def invitations_taken(version: CodeVersion) -> CodeVersion:
    """Mark the invitation steps the publish of `version` wrote (one per school using the code)
    as taken before the test began: a version long in force, whose invitations the school has
    dealt with. Tests of those steps themselves publish without this."""
    from sending.models import ScheduledStep

    ScheduledStep.objects.filter(version=version, kind=ScheduledStep.Kind.INVITE, done_at__isnull=True).update(
        done_at=version.published_at, outcome="Taken before the test began."
    )
    return version
