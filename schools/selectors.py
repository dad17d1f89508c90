"""Reads about a school's families that the product derives rather than stores.

A carer may sign online when they have parental responsibility for at least one pupil on roll
and an email address. A carer with that responsibility but no email needs a paper form. Other
carers (no parental responsibility, or only for pupils who have left) are kept but not asked.
Erased carers are never asked.
"""

from django.db.models import Exists, OuterRef

from schools.models import Carer, Pupil, PupilCarer


def pupils_on_roll(school):
    return Pupil.objects.filter(school=school, on_roll=True)


def _responsible_for_a_pupil_on_roll():
    return Exists(
        PupilCarer.objects.filter(carer=OuterRef("pk"), parental_responsibility=True, pupil__on_roll=True)
    )


def _carers_with_responsibility(school):
    return carers_with_responsibility([school])


def carers_with_responsibility(schools):
    """Every carer asked to sign at any of `schools` (online or on paper), in one query however
    many schools: eligible_carers and carers_needing_paper_forms together."""
    return Carer.objects.filter(_responsible_for_a_pupil_on_roll(), school__in=schools, erased_at__isnull=True)


def eligible_carers(school):
    """Carers who can be asked to sign online."""
    return _carers_with_responsibility(school).exclude(email="")


def carers_needing_paper_forms(school):
    """Carers who would be asked to sign but have no email address: they need a paper form."""
    return _carers_with_responsibility(school).filter(email="")


def carers_not_eligible(school):
    """Carers kept on record but never asked to sign: no parental responsibility for a pupil on
    roll, or erased."""
    return Carer.objects.filter(school=school).exclude(_responsible_for_a_pupil_on_roll(), erased_at__isnull=True)


def carer_is_eligible(carer: Carer) -> bool:
    return bool(carer.email) and carer.erased_at is None and carer.pupil_links.filter(
        parental_responsibility=True, pupil__on_roll=True
    ).exists()
