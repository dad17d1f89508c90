"""Malformed exports are refused with a message, never a crash: a property-based test.

Real exports from files/ are mutated the ways files get damaged on their way from an
information system: bytes flipped or dropped, the file cut short, stray quotes, nulls and line
breaks, other delimiters and line endings, byte-order marks, and (for .xlsx) damage inside the
workbook's own parts. Whatever comes out, previewing it gives either a plan that can be
imported (and is, without an error, then rolled back) or a refusal that says why, and
`manage.py import_families --dry-run` either prints its summary or fails with that refusal.

The examples are derived from the test's own code (derandomize), the same on every run, and
bounded in number, so CI runs it in a few seconds.
"""

import io
import zipfile

import pytest
from django.core.management import CommandError, call_command
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schools.imports import import_apply, import_preview
from tests.schools.test_imports import FILES

SEEDS = {path.name: path.read_bytes() for path in sorted(FILES.iterdir()) if path.suffix in {".csv", ".xlsx"}}
STRAY = [b'"', b'""', b"\x00", b"\r", b"\n", b"\r\n", b",", b";", b"\t", b"\xff", b"\xc3", b"\xe2\x80", b"PK\x03\x04"]
BOMS = [b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff", b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff"]
FUZZ = settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    database=None,
    # The school fixture is shared by the examples: a preview writes nothing, an import is rolled back.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _position(draw, data: bytes, *, end: bool = False) -> int:
    return draw(st.integers(0, len(data) if end else max(len(data) - 1, 0)))


def flip(draw, data: bytes) -> bytes:
    if not data:
        return data
    at = _position(draw, data)
    return data[:at] + bytes([data[at] ^ (1 << draw(st.integers(0, 7)))]) + data[at + 1:]


def cut_short(draw, data: bytes) -> bytes:
    return data[:_position(draw, data, end=True)]


def insert(draw, data: bytes) -> bytes:
    at = _position(draw, data, end=True)
    stray = draw(st.sampled_from(STRAY) | st.binary(min_size=1, max_size=8))
    return data[:at] + stray + data[at:]


def drop(draw, data: bytes) -> bytes:
    at = _position(draw, data, end=True)
    return data[:at] + data[at + draw(st.integers(1, 64)):]


def repeat(draw, data: bytes) -> bytes:
    at = _position(draw, data, end=True)
    return data[:at] + data[at:at + draw(st.integers(1, 64))] * draw(st.integers(2, 5)) + data[at:]


def other_delimiter(draw, data: bytes) -> bytes:
    return data.replace(draw(st.sampled_from([b",", b";", b"\t"])), draw(st.sampled_from([b";", b"\t", b"|", b" ", b""])))


def other_line_endings(draw, data: bytes) -> bytes:
    return data.replace(b"\r\n", draw(st.sampled_from([b"\n", b"\r", b"\n\r", b"\r\r\n", b"\x85", b""])))


def byte_order_mark(draw, data: bytes) -> bytes:
    if draw(st.booleans()):
        data = data.removeprefix(b"\xef\xbb\xbf")
    return draw(st.sampled_from(BOMS)) + data


BYTE_DAMAGE = [flip, cut_short, insert, drop, repeat]


def inside_the_workbook(draw, data: bytes) -> bytes:
    """Damage one part of an .xlsx and zip it up again, so that the zip itself is sound."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as workbook:
            parts = {info.filename: workbook.read(info) for info in workbook.infolist()}
    except Exception:  # noqa: BLE001 - damaged already, so left as it is
        return data
    name = draw(st.sampled_from(sorted(parts)))
    parts[name] = draw(st.sampled_from(BYTE_DAMAGE + [other_delimiter]))(draw, parts[name])
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as workbook:
        for part, content in parts.items():
            workbook.writestr(part, content)
    return out.getvalue()


DAMAGE = [*BYTE_DAMAGE, other_delimiter, other_line_endings, byte_order_mark, inside_the_workbook]


@st.composite
def damaged_exports(draw) -> tuple[str, bytes]:
    name = draw(st.sampled_from(sorted(SEEDS)))
    data = SEEDS[name]
    for damage in draw(st.lists(st.sampled_from(DAMAGE), min_size=1, max_size=3)):
        data = damage(draw, data)
    return name, data


def assert_imported_or_refused_with_a_reason(plan):
    if plan.is_valid:
        return
    assert plan.problems and not plan.has_changes
    for problem in plan.problems:
        assert isinstance(problem, str) and problem.strip()


@pytest.mark.django_db
@FUZZ
@given(export=damaged_exports())
def test_a_damaged_export_is_previewed_or_refused_with_a_reason_never_a_crash(school, export):
    name, data = export

    plan = import_preview(school=school, filename=name, data=data)

    assert_imported_or_refused_with_a_reason(plan)
    if plan.is_valid:  # what a preview accepts, the import writes (to every database we run on)
        with transaction.atomic():
            import_apply(school=school, filename=name, data=data, expected_changes_sha256=plan.changes_sha256)
            transaction.set_rollback(True)


@pytest.mark.django_db
@settings(FUZZ, max_examples=60)
@given(export=damaged_exports())
def test_a_damaged_export_in_a_dry_run_prints_a_summary_or_fails_with_a_reason(school, tmp_path, export):
    name, data = export
    file = tmp_path / name
    file.write_bytes(data)
    out, err = io.StringIO(), io.StringIO()

    try:
        call_command("import_families", school.slug, str(file), "--dry-run", stdout=out, stderr=err)
    except CommandError as refused:
        assert str(refused).startswith("Nothing was imported") and err.getvalue().strip()
    else:
        assert "Dry run" in out.getvalue()
