"""Django admin for operators: what it must not do behind the portal's back."""

import pytest

from tests.factories import AssociationFactory, SchoolFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_association_membership_is_shown_but_not_changed_in_django_admin(client, verified_client):
    association = AssociationFactory(name="Halton Schools")
    school = SchoolFactory(association=association)
    verified_client(client, UserFactory(is_staff=True, is_superuser=True))

    page = client.get(f"/admin/schools/organisation/{school.pk}/change/").content.decode()
    assert 'name="association"' not in page  # joining goes through the Members page: audited, carers invited
    assert "Halton Schools. A school joins or leaves an association on the association&#x27;s Members page" in page
    assert 'name="association"' not in client.get("/admin/schools/organisation/add/").content.decode()
