"""Random shifts of square images (nnlab.augment): the moved images, the offsets, the errors."""

import numpy as np
import pytest

from nnlab.augment import RandomShifts, image_side


def moved_by_hand(image, down, right):
    side = image.shape[0]
    out = np.zeros_like(image)
    for r in range(side):
        for c in range(side):
            if 0 <= r - down < side and 0 <= c - right < side:
                out[r, c] = image[r - down, c - right]
    return out


@pytest.mark.parametrize("max_shift", [1, 2])
def test_every_image_of_a_batch_moves_by_its_own_offset(max_shift):
    rng = np.random.default_rng(0)
    X_rows = rng.random((30, 49))
    shifts = RandomShifts(X_rows, max_shift)
    shifts.new_epoch(np.random.default_rng(1))
    offsets = shifts.offsets()
    assert offsets.shape == (30, 2) and np.abs(offsets).max() <= max_shift
    assert len({tuple(o) for o in offsets}) > 3, "30 images should not all share an offset"
    index = np.array([4, 0, 29, 4, 17])
    out = np.full((5, 49), np.nan)
    returned = shifts.batch(index, out=out)
    assert returned is out
    for row, i in enumerate(index):
        expected = moved_by_hand(X_rows[i].reshape(7, 7), *offsets[i])
        np.testing.assert_array_equal(out[row].reshape(7, 7), expected, err_msg=f"image {i} moved by {offsets[i]}")
    np.testing.assert_array_equal(shifts.batch(index), out)
    strided = np.full((49, 5), np.nan).T  # a transposed buffer: not C-contiguous, must still be written
    shifts.batch(index, out=strided)
    np.testing.assert_array_equal(strided, out)
    assert np.array_equal(X_rows, np.random.default_rng(0).random((30, 49))), "the data must not change"


def test_offsets_cover_every_move_and_before_any_epoch_nothing_moves():
    X_rows = np.arange(2000 * 16, dtype=float).reshape(2000, 16)
    shifts = RandomShifts(X_rows, 1)
    np.testing.assert_array_equal(shifts.batch(np.arange(2000)), X_rows)
    shifts.new_epoch(np.random.default_rng(2))
    moves, counts = np.unique(shifts.offsets(), axis=0, return_counts=True)
    assert len(moves) == 9 and counts.min() > 150, f"offsets of 2,000 images: {dict(zip(map(tuple, moves), counts))}"


def test_a_digit_with_a_blank_border_keeps_its_ink_when_moved():
    image = np.zeros((28, 28))
    image[5:23, 8:20] = 1.0
    shifts = RandomShifts(image.reshape(1, -1), 2)
    for seed in range(10):
        shifts.new_epoch(np.random.default_rng(seed))
        assert shifts.batch(np.array([0])).sum() == image.sum()


def test_bad_shapes_and_shifts_are_named():
    assert image_side(784) == 28 and image_side(64) == 8
    with pytest.raises(ValueError, match="785 features is not a square number of pixels"):
        RandomShifts(np.zeros((2, 785)), 1)
    with pytest.raises(ValueError, match="max_shift 8 would move 8x8 images entirely out of view"):
        RandomShifts(np.zeros((2, 64)), 8)
    with pytest.raises(ValueError, match="whole number of pixels"):
        RandomShifts(np.zeros((2, 64)), 1.5)
