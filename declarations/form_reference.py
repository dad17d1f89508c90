"""A printed paper form's reference: "PF-" and the carer's number with a check letter, so staff
recording a returned form find the carer from it, and a mistyped reference finds nobody rather
than the wrong family. It names no one and opens nothing by itself: only staff who may see the
school's families can look it up (declarations/staff_views.py: paper_find)."""

import re

from schools.models import Carer

_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"  # no I or O: never read as 1 or 0
_REFERENCE = re.compile(r"^(?:PF)?-?\s*(\d{1,12})\s*-?\s*([A-Z])$")


def _check_letter(number: int) -> str:
    weighted = sum((position + 2) * int(digit) for position, digit in enumerate(reversed(str(number))))
    return _LETTERS[weighted % len(_LETTERS)]


def form_reference(carer: Carer) -> str:
    """E.g. "PF-1234-K"."""
    return f"PF-{carer.pk}-{_check_letter(carer.pk)}"


def carer_for_reference(carers, text: str) -> Carer | None:
    """The carer among `carers` whose form has this reference, written in any case and spacing;
    None when it is not a reference, its check letter does not match, or it is not one of them."""
    match = _REFERENCE.match(re.sub(r"\s+", "", (text or "").upper()))
    if match is None:
        return None
    number, letter = int(match.group(1)), match.group(2)
    if _check_letter(number) != letter:
        return None
    return carers.filter(pk=number).first()
