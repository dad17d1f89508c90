"""manage.py setup_organisation: a new deployment's first organisation, without Django admin."""

import io

import pytest
from django.core import mail
from django.core.management import CommandError, call_command

from codes.models import Code
from onboarding.models import StaffInvitation
from schools.models import Organisation, StaffRole


def run(*args, stdin_answers=None, monkeypatch=None):
    out = io.StringIO()
    if stdin_answers is not None:
        answers = iter(stdin_answers)
        monkeypatch.setattr("builtins.input", lambda prompt="": next(answers))
    call_command("setup_organisation", *args, stdout=out)
    return out.getvalue()


def test_flags_create_a_school_with_a_draft_code_and_e_mail_its_headteacher(db):
    output = run("--kind", "school", "--name", "Whitefield Primary School", "--email", "head@whitefield.example.org", "--no-input")

    school = Organisation.objects.get()
    assert (school.kind, school.slug) == ("school", "whitefield-primary-school")
    assert Code.objects.get(owner=school).versions.get().is_draft
    [email] = mail.outbox
    assert email.to == ["head@whitefield.example.org"]
    assert "/staff/invitation/" in email.body
    assert StaffInvitation.objects.get().role == StaffRole.Role.HEADTEACHER
    assert "Invitation e-mailed to head@whitefield.example.org" in output


def test_interactive_questions_create_an_association_and_its_admin(db, monkeypatch):
    run(stdin_answers=["association", "Halton Association of Primary Headteachers", "", "admin@halton.example.org"],
        monkeypatch=monkeypatch)

    association = Organisation.objects.get()
    assert association.kind == "association"
    assert StaffInvitation.objects.get().role == StaffRole.Role.ASSOCIATION_ADMIN
    assert len(mail.outbox) == 1


def test_a_member_school_uses_its_associations_code(db):
    run("--kind", "association", "--name", "Halton", "--email", "a@example.org", "--no-input")
    run("--kind", "school", "--name", "Ashley High", "--association", "halton", "--email", "h@example.org", "--no-input")

    school = Organisation.objects.get(slug="ashley-high")
    assert school.association.slug == "halton"
    assert not Code.objects.filter(owner=school).exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--kind", "school", "--name", "X", "--no-input"], "--email is required"),
        (["--kind", "school", "--name", "X", "--email", "not-an-address", "--no-input"], "is not an e-mail address"),
        (["--kind", "school", "--name", "X", "--association", "nowhere", "--email", "a@example.org", "--no-input"],
         "no association"),
    ],
)
def test_bad_input_is_refused_and_creates_nothing(db, args, message):
    with pytest.raises(CommandError, match=message):
        run(*args)
    assert not Organisation.objects.exists()


def test_a_mail_server_failure_creates_nothing(db, settings):
    settings.MAILERS = {"default": {"BACKEND": "django.core.mail.backends.smtp.EmailBackend",
                                    "OPTIONS": {"host": "127.0.0.1", "port": 9, "timeout": 2}}}
    with pytest.raises(CommandError, match="could not be e-mailed"):
        run("--kind", "school", "--name", "X", "--email", "a@example.org", "--no-input")
    assert not Organisation.objects.exists()
