"""The grader's exchange format: arrays as they were; the checks' known test functions as numbers, never code."""

from __future__ import annotations

import numpy as np
import pytest

from nnlab import checks
from nnlab_instructor.grading import kernel_link, wire_format
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


def test_arrays_cross_a_file_with_their_values_dtype_and_memory_order(tmp_path):
    images = np.arange(12.0, dtype=np.float32).reshape(3, 4)
    value = [images.T.astype(np.float32), images.copy(), images[:, ::2], np.arange(5), {"k": np.float64(2.5)}]
    assert value[0].flags.f_contiguous and not value[0].flags.c_contiguous
    wire_format.save(tmp_path / "call.npy", value)
    back = wire_format.load(tmp_path / "call.npy")
    for sent, received in zip(value[:4], back[:4]):
        assert received.dtype == sent.dtype and received.shape == sent.shape
        np.testing.assert_array_equal(received, sent)
    # the student's function gets a Fortran-ordered X as the test made it: column slices stay contiguous
    assert back[0].flags.f_contiguous and not back[0].flags.c_contiguous
    assert back[1].flags.c_contiguous and back[2].flags.c_contiguous
    assert back[4] == {"k": np.float64(2.5)}


def test_a_file_not_written_by_save_is_refused_and_never_unpickled(tmp_path):
    archive = tmp_path / "archive.npz"
    np.savez(archive, a=np.zeros(3))
    pickled = tmp_path / "pickled.npy"
    np.save(pickled, np.array([object()], dtype=object), allow_pickle=True)
    numbers_only = tmp_path / "numbers.npy"
    np.save(numbers_only, np.zeros(3))
    for path in (archive, numbers_only):
        with pytest.raises(ValueError, match="not in the grader's exchange format"):
            wire_format.load(path)
    with pytest.raises(ValueError, match="allow_pickle"):
        wire_format.load(pickled)


def test_the_kernel_sends_back_only_the_arguments_the_students_function_changed(tmp_path):
    def scale_first(a, b, *, c):
        a *= 2
        return float(b.sum() + c.sum())

    a, b, c = np.ones(3), np.full((2, 2), np.nan), np.arange(4)
    wire_format.save(tmp_path / "call.npy", [[a, b], {"c": c}])
    call, reply = tmp_path / "call.npy", tmp_path / "reply.npy"
    kernel_link.serve_call({"scale_first": scale_first}, "scale_first", str(call), str(reply))
    result = wire_format.load(reply)
    (a_after, b_after), kwargs_after = result["after"]
    np.testing.assert_array_equal(a_after, [2.0, 2.0, 2.0])
    assert b_after is None and kwargs_after == {"c": None}  # left alone (NaN included): nothing to restore
    kernel_link.apply_changes((a, b), {"c": c}, *result["after"])
    np.testing.assert_array_equal(a, [2.0, 2.0, 2.0])
    assert np.isnan(b).all() and np.array_equal(c, np.arange(4))
