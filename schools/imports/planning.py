"""Planning an import: the parsed file against the school's families in the database, as the
list of changes a preview shows and the writes an import makes."""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from dataclasses import dataclass

from schools.imports.columns import AUTO_KEY_PREFIX, fold
from schools.imports.plan import CarerEntry, Change, ImportPlan, LinkEntry, PupilEntry
from schools.imports.validation import CARER_FIELDS, LINK_FIELDS, PUPIL_FIELDS, LinkRecord, Parsed
from schools.models import Carer, Organisation, Pupil, PupilCarer


@dataclass
class Writes:
    """What an import writes besides the plan's added pupils and carers (made only when written)."""

    changed_pupils: list[Pupil]
    left_pupil_ids: list[int]
    changed_carers: list[Carer]
    new_links: list[LinkRecord]
    changed_links: list[PupilCarer]
    removed_link_ids: list[int]


def plan_changes(school: Organisation, filename: str, sha256: str, parsed: Parsed) -> ImportPlan:
    plan = ImportPlan(
        school_id=school.pk, filename=filename, file_sha256=sha256, rows=parsed.rows,
        columns=parsed.columns, file_error=parsed.file_error, missing_columns=parsed.missing_columns,
        errors=parsed.errors,
    )
    if not plan.is_valid:
        return plan
    present = set(parsed.columns)

    pupils = {p.mis_id: p for p in Pupil.objects.filter(school=school)}
    carers = {c.mis_id: c for c in Carer.objects.filter(school=school)}
    carers_by_pk = {c.pk: c for c in carers.values()}
    links = {(link.pupil_id, link.carer_id): link for link in PupilCarer.objects.filter(pupil__school=school)}
    writes = Writes([], [], [], [], [], [])

    # Pupils
    for record in parsed.pupils.values():
        pupil = pupils.get(record.mis_id)
        if pupil is None:
            plan.added_pupils.append(PupilEntry(
                record.mis_id, record.forename, record.surname, record.year_group, record.reg_group, record.line
            ))
            continue
        changes = []
        for name, label in PUPIL_FIELDS:
            if name == "reg_group" and "reg_group" not in present:
                continue
            if getattr(pupil, name) != getattr(record, name):
                changes.append(Change(label, getattr(pupil, name), getattr(record, name)))
                setattr(pupil, name, getattr(record, name))
        if not pupil.on_roll:
            changes.append(Change("on roll", False, True))
            pupil.on_roll, pupil.left_on = True, None
        if changes:
            writes.changed_pupils.append(pupil)
            plan.changed_pupils.append(PupilEntry(
                pupil.mis_id, pupil.forename, pupil.surname, pupil.year_group, pupil.reg_group, record.line,
                tuple(changes),
            ))
    for pupil in pupils.values():
        if pupil.on_roll and pupil.mis_id not in parsed.pupils:
            writes.left_pupil_ids.append(pupil.pk)
            plan.left_pupils.append(PupilEntry(
                pupil.mis_id, pupil.forename, pupil.surname, pupil.year_group, pupil.reg_group, None,
                (Change("on roll", True, False),),
            ))

    # Carers: by identifier, then the derived-key fallback of the docstring.
    matched: dict[str, Carer] = {key: carers[key] for key in parsed.carers if key in carers}
    claimed = {carer.pk for carer in matched.values()}
    carers_of_pupil = defaultdict(set)
    for (pupil_pk, carer_pk) in links:
        carers_of_pupil[pupil_pk].add(carer_pk)
    for key, record in parsed.carers.items():
        if key in matched:
            continue
        candidates = {
            carer_pk
            for mis_id in record.pupils if mis_id in pupils
            for carer_pk in carers_of_pupil[pupils[mis_id].pk]
            if carer_pk not in claimed
            and carers_by_pk[carer_pk].mis_id.startswith(AUTO_KEY_PREFIX)
            and fold(carers_by_pk[carer_pk].forename) == fold(record.forename)
            and fold(carers_by_pk[carer_pk].surname) == fold(record.surname)
        }
        if len(candidates) == 1:
            (carer_pk,) = candidates
            matched[key] = carers_by_pk[carer_pk]
            claimed.add(carer_pk)

    for key, record in parsed.carers.items():
        carer = matched.get(key)
        if carer is None:
            plan.added_carers.append(CarerEntry(
                key, record.title, record.forename, record.surname, record.email, record.line,
                mobile=record.mobile, language=record.language,
            ))
            continue
        changes = []
        if carer.mis_id != key:
            changes.append(Change("contact identifier", carer.mis_id, key))
            carer.mis_id = key
        for name, label in CARER_FIELDS:
            if name in ("title", "mobile") and name not in present:
                continue
            if getattr(carer, name) != getattr(record, name):
                changes.append(Change(label, getattr(carer, name), getattr(record, name)))
                setattr(carer, name, getattr(record, name))
        # A file without the column (or a blank cell) leaves the language the school has.
        if "language" in present and record.language and carer.language != record.language:
            changes.append(Change("home language", carer.language, record.language))
            carer.language = record.language
        if changes:
            writes.changed_carers.append(carer)
            plan.changed_carers.append(CarerEntry(
                carer.mis_id, carer.title, carer.forename, carer.surname, carer.email, record.line,
                tuple(changes), mobile=carer.mobile,
            ))

    # Links: each listed pupil's carers become exactly those in the file.
    wanted = set()
    for (pupil_id, key), record in parsed.links.items():
        pupil, carer = pupils.get(pupil_id), matched.get(key)
        pupil_record, carer_record = parsed.pupils[pupil_id], parsed.carers[key]
        entry = {
            "pupil_mis_id": pupil_id, "pupil_name": f"{pupil_record.forename} {pupil_record.surname}",
            "carer_mis_id": key, "carer_name": carer_record.name, "line": record.line,
        }
        link = links.get((pupil.pk, carer.pk)) if pupil and carer else None
        if link is None:
            writes.new_links.append(record)
            plan.links_added.append(LinkEntry(
                relationship=record.relationship, parental_responsibility=record.parental_responsibility,
                priority=record.priority, **entry,
            ))
            continue
        wanted.add(link.pk)
        changes = []
        for name, label in LINK_FIELDS:
            if name in {"relationship", "priority"} and name not in present:
                continue
            if getattr(link, name) != getattr(record, name):
                changes.append(Change(label, getattr(link, name), getattr(record, name)))
                setattr(link, name, getattr(record, name))
        if changes:
            writes.changed_links.append(link)
            plan.links_changed.append(LinkEntry(
                relationship=link.relationship, parental_responsibility=link.parental_responsibility,
                priority=link.priority, changes=tuple(changes), **entry,
            ))
    listed_pupil_pks = {pupils[m].pk for m in parsed.pupils if m in pupils}
    pupils_by_pk = {p.pk: p for p in pupils.values()}
    for (pupil_pk, carer_pk), link in links.items():
        if pupil_pk in listed_pupil_pks and link.pk not in wanted:
            pupil, carer = pupils_by_pk[pupil_pk], carers_by_pk[carer_pk]
            writes.removed_link_ids.append(link.pk)
            plan.links_removed.append(LinkEntry(
                pupil.mis_id, pupil.full_name, carer.mis_id, carer.full_name, link.relationship,
                link.parental_responsibility, link.priority,
            ))

    plan.left_pupils.sort(key=lambda p: (p.surname, p.forename, p.mis_id))
    plan.links_removed.sort(key=lambda link: (link.pupil_mis_id, link.carer_mis_id))
    plan.changes_sha256 = _changes_fingerprint(plan)
    plan._writes = writes
    return plan


def _changes_fingerprint(plan: ImportPlan) -> str:
    def entries(items):
        return sorted(
            json.dumps(
                {k: v for k, v in item.__dict__.items() if k != "line"}, default=str, sort_keys=True,
                ensure_ascii=False,
            )
            for item in items
        )

    content = {
        "school": plan.school_id,
        **{
            name: entries(getattr(plan, name))
            for name in ("added_pupils", "changed_pupils", "left_pupils", "added_carers", "changed_carers",
                         "links_added", "links_changed", "links_removed")
        },
    }
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode("utf-8")).hexdigest()

