"""What a student is told when a test cell fails (nnlab_instructor.grading.decide.explain): no hidden case leaks."""

import numpy as np
import pytest

from nnlab import checks
from nnlab_instructor.grading import decide
from nnlab_instructor.grading.decide import _hidden_lines, explain

TEST_CELL = """\
def check_best(losses, expected):
    got = min(range(len(losses)), key=losses.__getitem__) + 1  # stands for the student's best_epoch
    assert got == expected, f"best_epoch({losses}) is {got}, expected {expected}"

def check_close(value, expected):
    raise checks.CheckFailure(f"softmax(Z)[0, 0] is {value}, expected {expected}", public="softmax(Z)[0, 0] is wrong")

check_best([0.5, 0.4], 2)
### BEGIN HIDDEN TESTS
CASE
### END HIDDEN TESTS
"""


def failure_of(case: str) -> str:
    source = TEST_CELL.replace("CASE", case)
    filename = "<test cell test_best>"
    with pytest.raises(BaseException) as info:
        exec(compile(source, filename, "exec"), {"checks": checks})
    return explain(info.value, filename, _hidden_lines(source))


@pytest.mark.parametrize(
    "case, hidden_text",
    [
        ("check_best([0.5, 0.3, 0.3, 0.4], 1)", ["0.3, 0.3", "expected 1"]),
        ("check_close(0.68, 0.175)", ["0.175"]),
        ("[0.5, 0.3][7]", ["list index out of range"]),
    ],
    ids=["assert-in-a-helper", "check-in-a-helper", "error-in-the-case"],
)
def test_a_failure_inside_a_hidden_test_is_hidden_whichever_frame_raised_it(case, hidden_text):
    told = failure_of(case)
    assert told.startswith("a hidden test failed"), told
    for text in hidden_text:
        assert text not in told, f"feedback shows {text!r} of a hidden case: {told!r}"


def test_a_visible_failure_keeps_its_message():
    source = TEST_CELL.replace("check_best([0.5, 0.4], 2)", "check_best([0.5, 0.4], 1)").replace("CASE", "pass")
    filename = "<test cell test_best>"
    with pytest.raises(AssertionError) as info:
        exec(compile(source, filename, "exec"), {"checks": checks})
    told = explain(info.value, filename, _hidden_lines(source))
    assert told == "best_epoch([0.5, 0.4]) is 2, expected 1"


@pytest.mark.parametrize(
    "arguments",
    [
        [(10**7, 8), {}],  # make_minibatches over ten million samples
        [([np.arange(3)] * 200_000,), {}],  # two hundred thousand batches
        [(), {"epochs": [1, 2, 10**9]}],
    ],
)
def test_the_grader_refuses_to_compute_the_course_versions_on_outsized_arguments(arguments):
    # The student's code chooses these arguments; the grader's process has no time budget of its own.
    with pytest.raises(ValueError, match="than any test of this course passes"):
        decide._check_callback_arguments(arguments)


def test_the_grader_computes_the_course_versions_on_test_sized_arguments():
    X = np.zeros((784, 40))
    decide._check_callback_arguments([(X, np.arange(40), 8, True), {"seed": 0, "batches": [np.arange(8)] * 5}])


def test_the_names_of_the_course_cells_are_remembered_and_a_huge_student_cell_is_not():
    locked = "import numpy as np\nX = np.zeros(3)\n"
    huge = "def f(x):\n    return x\n" + "y = 1\n" * 10_000  # 60 kB: a student's, not the course's
    before = decide._names.cache_info().currsize
    assert decide._names(locked) == (frozenset({"np", "X"}), frozenset({"np"}))
    assert decide._names(locked) is decide._names(locked)  # the second answer is the first, remembered
    assert decide._names.cache_info().currsize == before + 1
    assert decide._names(huge)[0] == {"f", "y"}
    assert decide._free_names(huge) == set()
    assert decide._names.cache_info().currsize == before + 1  # answered, not kept
