"""The grade table as an instructor reads it in the terminal."""

from nnlab_instructor.grading.table import GradeRow, format_table


def test_the_course_table_keeps_its_columns_aligned_for_long_assignment_names():
    rows = [
        GradeRow("ada", 8.0, 11.0, "graded", "2 points await manual grading"),
        GradeRow("bo", 0.0, 11.0, "graded", ""),
    ]
    table = format_table({"01-data": rows, "08-initialisation": rows, "10-capstone": rows})
    lines = table.splitlines()
    header, body = lines[0], lines[1:4]
    # Every score column ends where its student's name ends in the header, whatever the assignment's name.
    for student, cell in (("ada", "8 / 11 *"), ("bo", "0 / 11  ")):
        end = header.index(student) + len(student)
        for line in body:
            assert line[:end].endswith(cell), f"{line!r}: {student}'s score does not end under their name"
    assert {len(line) for line in [header, *body]} == {len(header)}
    assert [line.split()[0] for line in body] == ["01-data", "08-initialisation", "10-capstone"]
    assert lines[-1].startswith("* written answers await manual grading")
