"""Writes the small MIS export files the import tests read. Run it to regenerate them:

    .venv/bin/python tests/schools/files/make_files.py

Every file holds the same families, laid out as one MIS lays them out (its header names, column
order, year and yes/no spellings). UTF-8 files also hold names that Windows-1252 cannot encode
(Nguyễn, 王), so the Windows-1252 files leave those two families out.
"""

import csv
import io
from pathlib import Path

from openpyxl import Workbook

HERE = Path(__file__).resolve().parent

# (pupil id, forename, surname, year, reg) and (contact id, title, forename, surname, relationship,
# parental responsibility, email, priority). Years: "N", "R" or a number, spelt per MIS below.
FAMILIES = [
    {
        "pupils": [("1001", "Aoife", "O'Brien", "3", "3B"), ("1002", "Ciarán", "O'Brien", "5", "5A")],
        "contacts": [
            ("C501", "Mrs", "Mary", "O'Brien", "Mother", True, "obrien.family@example.org", 1),
            ("C502", "Mr", "Patrick", "O'Brien", "Father", True, "obrien.family@example.org", 2),
        ],
    },
    {
        "pupils": [("1003", "Zoë", "Smith-Jones", "R", "RA")],
        "contacts": [
            ("C503", "Ms", "Chloë", "Smith-Jones", "Mother", True, "chloe.smith-jones@example.org", 1),
            ("C504", "Mrs", "Margaret", "Smith", "Grandmother", False, "margaret.smith@example.org", 2),
        ],
    },
    {
        "pupils": [("1004", "Niamh", "O’Brien", "6", "6C")],
        "contacts": [("C505", "Ms", "Siobhán", "O’Brien", "Mother", True, "", 1)],
    },
    {
        "pupils": [("1005", "Renée", "Dubois", "2", "2D")],
        "contacts": [("C506", "Mr", "François", "Dubois", "Father", True, "francois.dubois@example.org", 1)],
    },
    {
        "utf8_only": True,
        "pupils": [("1006", "Minh", "Nguyễn", "1", "1N")],
        "contacts": [("C507", "Ms", "Thị Lan", "Nguyễn", "Mother", True, "lan.nguyen@example.org", 1)],
    },
    {
        "utf8_only": True,
        "pupils": [("1007", "小明", "王", "N", "Nursery")],
        "contacts": [("C508", "", "芳", "王", "Mother", True, "wang.fang@example.org", 1)],
    },
]


def words_year(year):
    return {"N": "Nursery", "R": "Reception"}.get(year, f"Year {year}")


STYLES = {
    # SIMS: no contact id, a Title column, "Year 3"/"Reception"/"Nursery", Yes/No.
    "sims": dict(
        header=["Adno", "Legal Surname", "Legal Forename", "Year", "Reg", "Title", "Contact Forename",
                "Contact Surname", "Relationship", "Parental Responsibility", "Primary Email", "Priority"],
        row=lambda p, c, utf8: [f"00{p[0]}", p[2], p[1], words_year(p[3]), p[4], c[1], c[2], c[3], c[4],
                                "Yes" if c[5] else "No", c[6], str(c[7])],
    ),
    # Arbor: contact ids, "Y3"/"YR"/"N", TRUE/FALSE, contact columns before pupil columns.
    "arbor": dict(
        header=["Contact ID", "Contact Title", "Contact Forename", "Contact Surname", "Email Address",
                "Contact Relationship", "Has Parental Responsibility", "Contact Priority",
                "Admission Number", "First Name", "Last Name", "Year Group", "Registration Group"],
        row=lambda p, c, utf8: [c[0], c[1], c[2], c[3], c[6], c[4], "TRUE" if c[5] else "FALSE", str(c[7]),
                                f"A{p[0]}", p[1], p[2], f"Y{p[3]}" if p[3] != "N" else "N", p[4]],
    ),
    # Bromcom: run-together headers, "NC Year 3", Y/N.
    "bromcom": dict(
        header=["StudentID", "StudentSurname", "StudentForename", "NC Year", "Form", "ContactID",
                "ContactForename", "ContactSurname", "Relation", "Responsibility", "Contact Email",
                "Contact Order"],
        row=lambda p, c, utf8: [p[0], p[2], p[1], f"NC Year {p[3]}" if p[3].isdigit() else p[3], p[4],
                                c[0], c[2], c[3], c[4], "Y" if c[5] else "N", c[6], str(c[7])],
    ),
    # ScholarPack: UPNs, plain "3"/"R"/"N", 1/0, classes named after trees.
    "scholarpack": dict(
        header=["UPN", "Forename", "Surname", "Year", "Class", "Parent ID", "Parent Forename",
                "Parent Surname", "Relationship", "PR", "Email", "Priority"],
        row=lambda p, c, utf8: [f"H82020000{p[0]}", p[1], p[2], p[3], f"Oak {p[4]}", f"P{c[0][1:]}", c[2],
                                c[3], c[4], "1" if c[5] else "0", c[6], str(c[7])],
    ),
    # ParentMail: Pupil ID, Preferred Forename, ticks for parental responsibility, no priority.
    "parentmail": dict(
        header=["Pupil ID", "Preferred Forename", "Surname", "Year Group", "Class", "Parent Forename",
                "Parent Surname", "Relationship", "Parental Responsibility", "Home Email"],
        row=lambda p, c, utf8: [f"PM{p[0]}", p[1], p[2], words_year(p[3]), p[4], c[2], c[3], c[4],
                                ("✓" if utf8 else "Yes") if c[5] else "", c[6]],
    ),
}


def rows(style, utf8):
    spec = STYLES[style]
    out = [spec["header"]]
    for family in FAMILIES:
        if family.get("utf8_only") and not utf8:
            continue
        for pupil in family["pupils"]:
            for contact in family["contacts"]:
                out.append(spec["row"](pupil, contact, utf8))
    return out


def write_csv(path, table, encoding):
    buffer = io.StringIO(newline="")
    csv.writer(buffer, lineterminator="\r\n").writerows(table)  # as Excel writes it
    path.write_bytes(buffer.getvalue().encode(encoding))


def write_xlsx(path, table, leading_blank_rows=0):
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "Contacts"
    for _ in range(leading_blank_rows):
        sheet.append([])
    sheet.append(table[0])
    for row in table[1:]:
        # As Excel holds them: ids, priorities and yes/no as numbers and booleans where they can be.
        cells = []
        for header, value in zip(table[0], row):
            if header in {"StudentID", "Contact Order", "Priority"} and value.isdigit():
                value = int(value)
            elif header == "Responsibility":
                value = value == "Y"
            cells.append(value)
        sheet.append(cells)
    workbook.save(path)


def main():
    for style in STYLES:
        write_csv(HERE / f"{style}_utf8_bom.csv", rows(style, utf8=True), "utf-8-sig")
        write_csv(HERE / f"{style}_windows_1252.csv", rows(style, utf8=False), "cp1252")
    write_xlsx(HERE / "bromcom.xlsx", rows("bromcom", utf8=True), leading_blank_rows=1)
    write_xlsx(HERE / "scholarpack.xlsx", rows("scholarpack", utf8=True))

    # Every kind of bad row, in SIMS layout; lines 3 to 9 are bad, 2 and 10 are fine.
    header = STYLES["sims"]["header"]
    good = ["001001", "O'Brien", "Aoife", "Year 3", "3B", "Mrs", "Mary", "O'Brien", "Mother", "Yes",
            "obrien.family@example.org", "1"]

    def bad(**changes):
        row = dict(zip(header, good))
        row.update({k.replace("_", " "): v for k, v in changes.items()})
        return [row[h] for h in header]

    write_csv(HERE / "bad_rows.csv", [
        header,
        good,                                                              # 2 fine
        bad(Adno="", Legal_Forename="Ciarán"),                            # 3 no pupil id
        bad(Adno="001002", Legal_Forename="Ciarán", Year="Year 5", Contact_Surname=""),  # 4 no contact surname
        bad(Adno="001003", Legal_Forename="Zoë", Primary_Email="mary.obrien@"),           # 5 bad email
        bad(Adno="001004", Legal_Forename="Niamh", Year="Year 15"),        # 6 unknown year
        bad(Year="Year 4", Contact_Forename="Patrick"),                    # 7 differs from line 2
        good,                                                              # 8 same pair as line 2
        bad(Adno="001005", Legal_Forename="Renée", Parental_Responsibility="Maybe"),  # 9 yes or no?
        bad(Adno="001006", Legal_Forename="Minh", Contact_Forename="Lan"),  # 10 fine
    ], "utf-8-sig")

    # An export without the pupil surname column.
    write_csv(HERE / "missing_surname_column.csv", [
        ["Adno", "Forename", "Year", "Reg", "Contact Forename", "Contact Surname", "Relationship", "PR", "Email"],
        ["001001", "Aoife", "Year 3", "3B", "Mary", "O'Brien", "Mother", "Yes", "mary@example.org"],
    ], "utf-8-sig")


if __name__ == "__main__":
    main()
