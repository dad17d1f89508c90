"""What a preview shows and an import reports: the plan of changes, its entries, and the
refusal raised when nothing is imported."""

from __future__ import annotations

import datetime
import enum
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError

from schools.imports.columns import year_label

if TYPE_CHECKING:
    from schools.imports.planning import Writes


@dataclass(frozen=True)
class RowError:
    line: int
    message: str

    def __str__(self):
        return f"Line {self.line}: {self.message}"


@dataclass(frozen=True)
class Change:
    field: str  # in words, e.g. "year group"
    old: Any
    new: Any


@dataclass(frozen=True)
class PupilEntry:
    mis_id: str
    forename: str
    surname: str
    year_group: str
    reg_group: str
    line: int | None = None  # first line in the file; None for pupils not in the file (left)
    changes: tuple[Change, ...] = ()

    @property
    def name(self) -> str:
        return f"{self.forename} {self.surname}"

    @property
    def year_label(self) -> str:
        return year_label(self.year_group)


@dataclass(frozen=True)
class CarerEntry:
    mis_id: str
    title: str
    forename: str
    surname: str
    email: str
    line: int | None = None
    changes: tuple[Change, ...] = ()
    mobile: str = ""
    language: str = ""

    @property
    def name(self) -> str:
        return f"{self.forename} {self.surname}"


@dataclass(frozen=True)
class LinkEntry:
    pupil_mis_id: str
    pupil_name: str
    carer_mis_id: str
    carer_name: str
    relationship: str
    parental_responsibility: bool
    priority: int | None
    line: int | None = None
    changes: tuple[Change, ...] = ()


@dataclass
class ImportPlan:
    """What importing one file into one school would do, or why it cannot be imported.

    When the plan is not valid, the change lists are empty: only the problems are reported.
    """

    school_id: int
    filename: str
    file_sha256: str
    rows: int = 0
    columns: dict[str, str] = field(default_factory=dict)  # field → the file's header used
    file_error: str = ""  # the file as a whole cannot be read, or lacks required columns
    missing_columns: tuple[str, ...] = ()  # labels of the required columns not found
    errors: list[RowError] = field(default_factory=list)
    added_pupils: list[PupilEntry] = field(default_factory=list)
    changed_pupils: list[PupilEntry] = field(default_factory=list)  # includes pupils back on roll
    left_pupils: list[PupilEntry] = field(default_factory=list)
    added_carers: list[CarerEntry] = field(default_factory=list)
    changed_carers: list[CarerEntry] = field(default_factory=list)
    links_added: list[LinkEntry] = field(default_factory=list)
    links_changed: list[LinkEntry] = field(default_factory=list)
    links_removed: list[LinkEntry] = field(default_factory=list)
    changes_sha256: str = ""  # fingerprint of the changes above, to confirm what was previewed
    _writes: Writes | None = field(default=None, repr=False, compare=False)

    @property
    def is_valid(self) -> bool:
        return not self.file_error and not self.errors

    @property
    def returning_pupils(self) -> list[PupilEntry]:
        return [p for p in self.changed_pupils if any(c.field == "on roll" for c in p.changes)]

    @property
    def has_changes(self) -> bool:
        return any(n for n in self.counts.values())

    @property
    def counts(self) -> dict[str, int]:
        return {
            "pupils added": len(self.added_pupils),
            "pupils changed": len(self.changed_pupils),
            "pupils marked as left": len(self.left_pupils),
            "carers added": len(self.added_carers),
            "carers changed": len(self.changed_carers),
            "links added": len(self.links_added),
            "links changed": len(self.links_changed),
            "links removed": len(self.links_removed),
        }

    @property
    def problems(self) -> list[str]:
        """Every reason the file cannot be imported, in plain English, in file order."""
        return ([self.file_error] if self.file_error else []) + [str(error) for error in self.errors]


@dataclass(frozen=True)
class ImportResult:
    plan: ImportPlan
    applied_at: datetime.datetime

    @property
    def counts(self) -> dict[str, int]:
        return self.plan.counts


class ImportRejected(ValidationError):
    """Nothing was imported. `reason` says why, for a caller to act on; `messages` say it in
    words; `plan` is the plan as checked at the time, when there is one."""

    class Reason(enum.StrEnum):
        INVALID = "invalid"  # the file cannot be imported: plan.problems says why
        FILE_CHANGED = "file_changed"  # it is not the file that was previewed
        FAMILIES_CHANGED = "families_changed"  # the school's families changed since the preview
        ALREADY_IMPORTED = "already_imported"  # ... and the file now changes nothing: it is in already
        NOT_WAITING = "not_waiting"  # no upload is waiting to be confirmed (done, cancelled or gone)

    def __init__(self, messages: list[str] | str, plan: ImportPlan | None = None, reason: Reason = Reason.INVALID):
        super().__init__(messages)
        self.plan = plan
        self.reason = reason

