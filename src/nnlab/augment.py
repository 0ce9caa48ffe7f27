"""Random translations of square images, drawn afresh every epoch: data augmentation for training.

A digit moved by a pixel is still the same digit, so showing the network every training image at a
random small offset each epoch teaches it that position does not matter. With 8,000 images that
is worth more than any setting of batch size or learning rate (see benchmarks/README.md).
"""

from __future__ import annotations

import math

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def image_side(n_features: int) -> int:
    """Side of the square images whose pixels make ``n_features`` (784 -> 28, 64 -> 8)."""
    side = math.isqrt(n_features)
    if side * side != n_features:
        raise ValueError(
            f"shifting images needs square images, but {n_features} features is not a square number of pixels"
        )
    return side


class RandomShifts:
    """Batches of images, each moved by its own random offset of at most ``max_shift`` pixels.

    Parameters
    ----------
    X_rows : ndarray of shape (n_samples, n_features)
        The training images, one flattened square image per row (row-major pixels). Not copied.
    max_shift : int
        Largest move along each axis; offsets are drawn uniformly from
        ``-max_shift .. max_shift`` for the rows and the columns independently. Pixels moved in from
        outside the image are 0 (background).

    Notes
    -----
    A batch is gathered into a buffer with ``max_shift`` zero pixels around every image; a shifted
    image is then a window of its padded copy, and the whole batch of windows is one fancy-indexing
    gather from a strided view. Only batch-sized buffers are allocated, never a copy of the data set.
    """

    def __init__(self, X_rows: np.ndarray, max_shift: int):
        if int(max_shift) != max_shift or max_shift < 0:
            raise ValueError(f"max_shift must be a whole number of pixels >= 0, got {max_shift!r}")
        self.max_shift = int(max_shift)
        self.X_rows = X_rows
        n_samples, n_features = X_rows.shape
        self.side = image_side(n_features)
        if self.max_shift >= self.side:
            raise ValueError(f"max_shift {max_shift} would move {self.side}x{self.side} images entirely out of view")
        self._rows = np.full(n_samples, self.max_shift, dtype=np.intp)
        self._cols = np.full(n_samples, self.max_shift, dtype=np.intp)
        self._buffers: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = {}

    def new_epoch(self, rng: np.random.Generator) -> None:
        """Draw every image's offset for the next epoch."""
        n_samples = self._rows.shape[0]
        self._rows = rng.integers(0, 2 * self.max_shift + 1, size=n_samples)
        self._cols = rng.integers(0, 2 * self.max_shift + 1, size=n_samples)

    def offsets(self) -> np.ndarray:
        """This epoch's moves, ndarray of shape (n_samples, 2): pixels down and right for every image."""
        return self.max_shift - np.stack([self._rows, self._cols], axis=1)

    def _buffers_for(self, m: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        if m not in self._buffers:
            k, side = self.max_shift, self.side
            raw = np.empty((m, side * side), dtype=self.X_rows.dtype)
            padded = np.zeros((m, side + 2 * k, side + 2 * k), dtype=self.X_rows.dtype)
            # windows[j, r, c] is padded image j moved down by k - r and right by k - c.
            windows = sliding_window_view(padded, (side, side), axis=(1, 2))
            self._buffers[m] = (raw, padded, windows, np.arange(m))
        return self._buffers[m]

    def batch(self, index: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """The images ``index``, moved by this epoch's offsets.

        Parameters
        ----------
        index : ndarray of shape (m,)
            Sample numbers.
        out : ndarray of shape (m, n_features), optional
            Where to write the batch (a reused buffer); a new array when omitted.

        Returns
        -------
        ndarray of shape (m, n_features), one moved image per row.
        """
        m = index.shape[0]
        k, side = self.max_shift, self.side
        raw, padded, windows, batch_positions = self._buffers_for(m)
        np.take(self.X_rows, index, axis=0, out=raw, mode="clip")
        padded[:, k : k + side, k : k + side] = raw.reshape(m, side, side)
        moved = windows[batch_positions, self._rows[index], self._cols[index]]
        if out is None:
            return moved.reshape(m, -1)
        out[...] = moved.reshape(m, -1)
        return out
