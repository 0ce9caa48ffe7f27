"""The grader's exchange format carries the checks' known test functions as numbers, never as code."""

from __future__ import annotations

import numpy as np

from nnlab import checks
from nnlab_instructor.grading import wire_format
from nnlab_instructor.grading.wire_format import Opaque


def _round_trip(value):
    arrays: list[np.ndarray] = []
    return wire_format.decode(wire_format.encode(value, arrays), arrays)


def test_a_known_function_crosses_as_its_numbers_and_computes_the_same():
    x = checks.random_scores((3, 2), seed=0)
    for function in (checks.random_quadratic(6, seed=1), checks.random_cubic((3, 2), seed=2)):
        copy = _round_trip([function, x])[0]
        assert type(copy) is type(function)
        assert copy(x) == function(x)
        np.testing.assert_array_equal(copy.gradient(x), function.gradient(x))


def test_a_function_of_any_other_name_or_shape_is_opaque():
    arrays: list[np.ndarray] = []
    described = wire_format.encode(checks.random_cubic((2,), seed=0), arrays)
    assert isinstance(wire_format.decode({**described, "name": "Popen"}, arrays), Opaque)
    assert isinstance(wire_format.decode({**described, "v": {"t": "dict", "v": []}}, arrays), Opaque)
    assert isinstance(_round_trip(lambda x: 0.0), Opaque)
