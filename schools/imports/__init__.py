"""Bringing a school's pupils and contacts in from its information system (MIS) export.

The one import, in two steps. Staff come to it through the import service in
schools/services.py (families_import and the families_import_* steps of the web pages), which
checks who may import, keeps the upload between the steps and writes the audit event; the
command line (`manage.py import_families`) previews with import_preview, then imports through
the same service.

    plan = import_preview(school=school, filename=name, data=data)     # writes nothing
    # show plan.problems, or what will be added, changed and marked as left
    result = import_apply(
        school=school, filename=name, data=data,
        expected_sha256=plan.file_sha256,                    # refuse if the file is not the one previewed
        expected_changes_sha256=plan.changes_sha256,         # refuse if the outcome would now differ
    )

The file
    CSV (UTF-8 with or without a byte-order mark, UTF-16 with one, or Windows-1252; comma,
    semicolon or tab separated) or Excel .xlsx, one row per pupil–contact pair, as SIMS, Arbor, Bromcom,
    ScholarPack and ParentMail export them. The header is the first non-empty row. Columns are
    found by name, never by position, ignoring case, spaces and punctuation, with the synonyms in
    COLUMNS. Values keep their exact spelling (curly or straight apostrophes, hyphens, accents,
    any script); only surrounding whitespace is removed. Line numbers in messages are the row
    numbers a spreadsheet shows, so the header is line 1.

Who is who
    Pupils are matched on the MIS identifier (Adno, Admission Number, StudentID, UPN, Pupil ID)
    within the school.

    Contacts (Carer rows) are matched, in this order:
    1. by the contact identifier, when the file has a contact id column and the row a value;
    2. otherwise by forename + surname + email, ignoring case and spacing. A contact listed for
       several siblings is then one carer with several children; two parents who share one
       email address stay two carers because their names differ. Email alone never
       identifies anyone;
    3. a contact with neither an identifier nor an email is matched by forename + surname within
       the pupil's family: the pupils joined to each other through contacts matched by rule 1
       or 2. Two unrelated "John Smith"s without email are therefore never merged; the price is
       that one person listed for two families that share no other contact becomes two carers.
    For rules 2 and 3 the carer's mis_id is a derived key, "auto:" and 24 hex digits of a SHA-256
    of the normalised parts, so the identifier repeats no personal data. When a derived key
    changes (say a contact's email changed and the export has no contact id), the import still
    recognises the carer if exactly one carer with the same name and a derived key was linked to
    one of the same pupils and is no longer in the file: that carer is updated in place and
    keeps their history. The same applies when a school starts exporting contact ids.

What an import does
    The file is always a full export of the school. Pupils in it are added or updated in place
    (names, year and registration group); pupils on roll but missing from it are marked as left
    (on_roll=False, left_on=today), never deleted; pupils who reappear are back on roll. Carers
    are added or updated in place (title, names, email). Each listed pupil's links are made to
    match the file: new links are added, changed ones updated, and links to contacts no longer
    listed for that pupil are removed; the carer row itself is kept. Optional columns that the
    file lacks (registration group, title, relationship, priority) leave the stored values alone.

    If any row is bad, or a required column is missing, nothing is imported: the plan lists
    every problem with its line number. Re-importing the same file changes nothing.

    A file beyond the limits of limits.py (size, unzipped size, rows, columns, cells, a cell's
    length) is refused before it is read further, the message naming the limit. Whatever else
    is wrong with a file (damaged, cut short, another encoding), the answer is a refusal that
    says what, never an error page.

The package, in the order a file goes through it:
    staging.py      an upload waiting between preview and confirm (for the import service)
    limits.py       how much one export may hold (settings), and the refusal of a file
    reading.py      the file's format, encoding and delimiter, and rows of text, one at a time
    workbooks.py    an .xlsx checked before it is parsed (zip bombs), then read by openpyxl
    columns.py      the names each information system gives its columns; year groups
    validation.py   every row checked on its own, and the families the rows describe
    planning.py     the families against the database: what would be added, changed, left
    plan.py         what a preview shows (ImportPlan) and the refusal (ImportRejected)
    applying.py     import_preview and import_apply, and the writes
"""

from schools.imports.applying import import_apply, import_preview
from schools.imports.columns import COLUMNS, Column, normalise_header, normalise_year
from schools.imports.plan import (
    CarerEntry,
    Change,
    ImportPlan,
    ImportRejected,
    ImportResult,
    LinkEntry,
    PupilEntry,
    RowError,
)

__all__ = [
    "COLUMNS", "CarerEntry", "Change", "Column", "ImportPlan", "ImportRejected", "ImportResult",
    "LinkEntry", "PupilEntry", "RowError", "import_apply", "import_preview", "normalise_header",
    "normalise_year",
]
