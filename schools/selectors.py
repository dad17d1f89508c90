"""Reads about a school's families.

Who is asked to sign is one rule, CarerQuerySet.asked_to_sign (schools/models.py): a carer with
parental responsibility for at least one pupil on roll, not erased. Those with an e-mail address
are asked online; those without need a paper form. Other carers (no parental responsibility, or
only for pupils who have left) are kept but not asked.
"""

from schools.models import Carer, Pupil


def pupils_on_roll(school):
    return Pupil.objects.filter(school=school, on_roll=True)


def groups_on_roll(school) -> tuple[list[tuple[str, str]], list[str]]:
    """The year groups (value, label, in school order) and registration groups (sorted) that
    have pupils on roll at the school: what staff may filter carers and registers by."""
    on_roll = pupils_on_roll(school)
    present = set(on_roll.values_list("year_group", flat=True).distinct())
    year_groups = [(value, label) for value, label in Pupil.YearGroup.choices if value in present]
    reg_groups = sorted(set(on_roll.exclude(reg_group="").values_list("reg_group", flat=True)))
    return year_groups, reg_groups


def eligible_carers(school):
    """Carers the school asks to sign online."""
    return Carer.objects.filter(school=school).asked_to_sign().reachable_by_email()


def carers_needing_paper_forms(school):
    """Carers the school asks to sign who have no e-mail address: they need a paper form."""
    return Carer.objects.filter(school=school).needing_paper_forms()


def carers_not_eligible(school):
    """Carers kept on record but never asked to sign."""
    return Carer.objects.filter(school=school).exclude(pk__in=Carer.objects.filter(school=school).asked_to_sign())


def carer_is_eligible(carer: Carer) -> bool:
    """Whether this one carer is asked to sign online."""
    return eligible_carers(carer.school_id).filter(pk=carer.pk).exists()
