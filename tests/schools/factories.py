"""factory_boy factories for a school's families (the school itself comes from tests/factories.py)."""

import factory

from schools.models import Carer, Pupil, PupilCarer
from tests.factories import SchoolFactory

__all__ = ["SchoolFactory", "PupilFactory", "CarerFactory", "PupilCarerFactory"]


class PupilFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Pupil

    school = factory.SubFactory(SchoolFactory)
    mis_id = factory.Sequence(lambda n: f"{1000 + n:06d}")
    forename = factory.Iterator(["Amelia", "Oliver", "Zoë", "Ciarán", "Aoife", "Kacper"])
    surname = factory.Iterator(["Jones", "O'Brien", "Smith-Jones", "Nowak", "Patel"])
    year_group = "3"
    reg_group = "3B"


class CarerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Carer

    school = factory.SubFactory(SchoolFactory)
    mis_id = factory.Sequence(lambda n: f"C{5000 + n}")
    title = "Ms"
    forename = factory.Iterator(["Mary", "Patrick", "Chloë", "Siobhán", "Priya"])
    surname = factory.Iterator(["Jones", "O'Brien", "Smith-Jones", "Patel"])
    email = factory.Sequence(lambda n: f"carer{n}@example.org")


class PupilCarerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PupilCarer

    pupil = factory.SubFactory(PupilFactory)
    carer = factory.SubFactory(CarerFactory, school=factory.SelfAttribute("..pupil.school"))
    relationship = "Mother"
    parental_responsibility = True
    priority = 1
