"""Loading MNIST and preparing it.

Where the digits come from:

- by default, MNIST's official test split (10,000 images), which ships
  inside this package (``nnlab/builtin_mnist/``, checksums verified on every
  load): the same data on every machine, offline or not;
- only when asked for (``full=True``), the full 70,000 images: a local
  folder of IDX files (``mnist_dir`` or the ``MNIST_DIR`` environment
  variable), else OpenML's ``mnist_784`` through
  :func:`sklearn.datasets.fetch_openml` (cached in ``data_home``);
- or any folder of IDX files named explicitly (``mnist_dir``).

Public API
----------
Digits
load_mnist(mnist_dir=None, *, full=False, use_openml=True, data_home=None) -> Digits
split(data, *, test_size=0.2, seed=0) -> X_train, X_test, y_train, y_test
split_validation(data, *, seed=0) -> X_train, X_val, X_test, y_train, y_val, y_test
"""

from __future__ import annotations

import http.client
import logging
import os
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import sklearn.datasets
from sklearn.model_selection import train_test_split

from .errors import NnlabError
from .idx import read_idx, verify_checksum, verify_sha256

__all__ = ["BUILTIN_DIR", "Digits", "MNISTNotFoundError", "load_mnist", "split", "split_validation"]

logger = logging.getLogger("nnlab")

MNIST_IMAGE_SHAPE = (28, 28)
MNIST_N_TRAIN = 60_000
MNIST_N_TOTAL = 70_000

# Canonical IDX base names; each may also be plain or dotted (see _candidates).
_TRAIN_IMAGES = "train-images-idx3-ubyte"
_TRAIN_LABELS = "train-labels-idx1-ubyte"
_TEST_IMAGES = "t10k-images-idx3-ubyte"
_TEST_LABELS = "t10k-labels-idx1-ubyte"
_ALL_BASES = (_TRAIN_IMAGES, _TRAIN_LABELS, _TEST_IMAGES, _TEST_LABELS)

#: MNIST's official test split, shipped with the package (CC BY-SA 3.0, see its README.md).
BUILTIN_DIR = Path(__file__).resolve().parent / "builtin_mnist"
BUILTIN_SOURCE = "MNIST's official test split, built into nnlab"
# SHA-256 of the original files (the MD5 is checked too, by verify_checksum against the published values).
BUILTIN_SHA256 = {
    "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
}

_KINDS = ("builtin", "idx", "openml")


class MNISTNotFoundError(NnlabError, FileNotFoundError):
    """The MNIST files asked for are not where they were looked for; the message says what is missing."""


@dataclass(frozen=True, eq=False)
class Digits:
    """A labelled set of digit images, flattened one image per row.

    Attributes
    ----------
    X : ndarray of shape (n_samples, n_features), float64
        Pixel intensities in [0, 1]; ``n_features == prod(image_shape)``
        (784 for MNIST's 28x28 images).
    y : ndarray of shape (n_samples,), int64
        Digit labels in 0..9.
    source : str
        Short human-readable origin, e.g. ``"OpenML mnist_784"``.
    kind : {"builtin", "idx", "openml"}
        Machine-readable origin: the test split built into nnlab, a folder
        of IDX files, or OpenML.
    image_shape : tuple of int
        ``(28, 28)`` for MNIST.
    n_official_train : int or None
        If set, the first ``n_official_train`` rows are MNIST's official
        training split and the rest its test split (:func:`split` uses it).

    Notes
    -----
    ``X, y = digits`` works (iteration yields ``X`` then ``y``), so code
    written for ``X, y = load_mnist()`` keeps working.
    Equality is identity: comparing large arrays element-wise by ``==`` is
    rarely what is meant.
    """

    X: np.ndarray
    y: np.ndarray
    source: str
    kind: str
    image_shape: tuple[int, ...]
    n_official_train: int | None = None

    def __post_init__(self) -> None:
        # Coerce rather than reject dtypes so hand-made Digits (tests,
        # exercises) are easy to build; reject anything that is actually wrong.
        X = np.asarray(self.X, dtype=np.float64)
        y = np.asarray(self.y)
        if not np.issubdtype(y.dtype, np.integer) and y.size and not np.all(np.mod(y, 1) == 0):
            raise ValueError(f"Digits.y must hold integer labels, got dtype {y.dtype}")
        y = y.astype(np.int64, copy=False)
        image_shape = tuple(int(s) for s in self.image_shape)
        object.__setattr__(self, "X", X)
        object.__setattr__(self, "y", y)
        object.__setattr__(self, "image_shape", image_shape)

        if X.ndim != 2:
            raise ValueError(f"Digits.X must be 2-D (n_samples, n_features), got shape {X.shape}")
        if y.shape != (X.shape[0],):
            raise ValueError(f"Digits.y must have shape ({X.shape[0]},) to match X {X.shape}, got {y.shape}")
        if int(np.prod(image_shape)) != X.shape[1]:
            raise ValueError(f"Digits.image_shape {image_shape} does not match {X.shape[1]} features per row")
        if self.kind not in _KINDS:
            raise ValueError(f"Digits.kind must be one of {_KINDS}, got {self.kind!r}")
        if X.size and (X.min() < 0.0 or X.max() > 1.0):
            raise ValueError(f"Digits.X must be scaled to [0, 1], got values in [{X.min()}, {X.max()}]")
        if y.size and (y.min() < 0 or y.max() > 9):
            raise ValueError(f"Digits.y must be in 0..9, got values in [{y.min()}, {y.max()}]")
        n = self.n_official_train
        if n is not None and not 0 < n < X.shape[0]:
            raise ValueError(
                f"Digits.n_official_train={n} must leave both a training and a test part of the {X.shape[0]} samples"
            )

    def __iter__(self) -> Iterator[np.ndarray]:
        yield self.X
        yield self.y

    def __len__(self) -> int:
        return self.X.shape[0]

    @property
    def max_pixel(self) -> int:
        """Brightest raw pixel value: 255 for MNIST's unsigned bytes."""
        return 255

    def raw_images(self) -> np.ndarray:
        """The images as they are stored on disk, before scaling.

        Returns
        -------
        ndarray of shape (n_samples, *image_shape), uint8
            Pixel values in 0..max_pixel (``X * max_pixel``, rounded).
        """
        return np.rint(self.X * self.max_pixel).astype(np.uint8).reshape(len(self), *self.image_shape)

    def describe(self) -> str:
        """One-line description of the data, e.g. for printing in a notebook.

        Returns
        -------
        str
            E.g. ``"MNIST IDX files in /data: 10,000 images of 28x28
            (official test split only)"``.
        """
        shape = "x".join(str(s) for s in self.image_shape)
        text = f"{self.source}: {len(self):,} images of {shape}"
        if self.n_official_train is not None:
            text += f" (first {self.n_official_train:,} = official training split)"
        elif self.kind == "idx":
            text += " (official test split only)"
        return text


# ---------------------------------------------------------------------------
# 1. a local folder of IDX files


def _candidates(base: str) -> list[str]:
    # "t10k-images.idx3-ubyte" is how several mirrors (and Kaggle) name them.
    dotted = base.replace("-idx", ".idx")
    return [base + ".gz", base, dotted + ".gz", dotted]


def _find(folder: Path, base: str) -> Path | None:
    for name in _candidates(base):
        p = folder / name
        if p.is_file():
            return p
    return None


def _load_pair(images_path: Path, labels_path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Read, checksum and cross-check one images/labels pair.

    Returns images of shape (n, 28, 28) uint8 and labels of shape (n,) int64.
    """
    for p in (images_path, labels_path):
        verify_checksum(p)
    images = read_idx(images_path)
    labels = read_idx(labels_path)

    if images.ndim != 3 or images.shape[1:] != MNIST_IMAGE_SHAPE:
        raise ValueError(f"{images_path}: expected MNIST images of shape (n, 28, 28), got {images.shape}")
    if images.dtype != np.uint8:
        # Scaling by 1/255 is only right for unsigned-byte pixels.
        raise ValueError(f"{images_path}: expected unsigned-byte pixels (IDX type 0x08), got {images.dtype}")
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(
            f"{labels_path}: expected a 1-D array of integer labels, got shape {labels.shape} dtype {labels.dtype}"
        )
    bad = np.flatnonzero((labels < 0) | (labels > 9))
    if bad.size:
        i = int(bad[0])
        raise ValueError(
            f"{labels_path}: label {int(labels[i])} at index {i} is not a digit 0..9 ({bad.size} bad label(s) in total)"
        )
    if images.shape[0] != labels.shape[0]:
        raise ValueError(
            f"{images_path} has {images.shape[0]:,} images but {labels_path} has "
            f"{labels.shape[0]:,} labels; they must match one to one"
        )
    if images.shape[0] == 0:
        raise ValueError(f"{images_path}: contains no images")
    return images, labels.astype(np.int64)


def _load_idx_folder(folder: Path, origin: str) -> Digits:
    if not folder.exists():
        raise MNISTNotFoundError(f"MNIST folder {folder} ({origin}) does not exist")
    if not folder.is_dir():
        raise MNISTNotFoundError(f"MNIST folder {folder} ({origin}) is not a directory")

    found = {base: _find(folder, base) for base in _ALL_BASES}
    test_images, test_labels = found[_TEST_IMAGES], found[_TEST_LABELS]
    if test_images is None or test_labels is None:
        present = sorted(p.name for p in folder.iterdir())
        shown = ", ".join(present[:20]) + (", ..." if len(present) > 20 else "")
        raise MNISTNotFoundError(
            f"MNIST folder {folder} ({origin}) has no usable pair of IDX files.\n"
            f"  found: {shown or 'nothing (empty folder)'}\n"
            f"  needs: {_TEST_IMAGES}[.gz] and {_TEST_LABELS}[.gz] (the 10,000 test images),\n"
            f"         plus {_TRAIN_IMAGES}[.gz] and {_TRAIN_LABELS}[.gz] for all 70,000.\n"
            f"  Download them from a MNIST mirror, or point MNIST_DIR elsewhere."
        )

    test_x, test_y = _load_pair(test_images, test_labels)
    source = f"MNIST IDX files in {folder}"

    train_images, train_labels = found[_TRAIN_IMAGES], found[_TRAIN_LABELS]
    if train_images is None or train_labels is None:
        if train_images is not None:
            # Images without labels usually mean a download that stopped halfway.
            logger.warning(
                "ignoring %s: %s[.gz] is missing, using the test split only",
                train_images,
                _TRAIN_LABELS,
            )
        elif train_labels is not None:
            logger.info("ignoring %s: no training images next to it", train_labels)
        X = test_x.reshape(test_x.shape[0], -1).astype(np.float64)
        X /= 255.0
        return Digits(X, test_y, source, "idx", MNIST_IMAGE_SHAPE, None)

    train_x, train_y = _load_pair(train_images, train_labels)
    n_train = train_x.shape[0]
    # Concatenate the uint8 arrays first: converting once to float64 avoids
    # holding two float copies of 70,000 images at the same time.
    pixels = np.concatenate([train_x, test_x]).reshape(n_train + test_x.shape[0], -1)
    X = pixels.astype(np.float64)
    del pixels
    X /= 255.0
    y = np.concatenate([train_y, test_y])
    return Digits(X, y, source, "idx", MNIST_IMAGE_SHAPE, n_train)


# ---------------------------------------------------------------------------
# 2. OpenML

# What counts as "OpenML is unreachable": URLError/HTTPError, timeouts and
# socket errors are all OSError; a connection cut mid-response can surface as
# http.client.IncompleteRead, which is not.
_NETWORK_ERRORS = (OSError, http.client.HTTPException)


def _official_train_count_openml(n_samples: int) -> int | None:
    # mnist_784 stores the 60,000 official training images first; trust that
    # layout only when the row count says it is the real 70,000-row dataset.
    if n_samples == MNIST_N_TOTAL:
        return MNIST_N_TRAIN
    warnings.warn(
        f"OpenML mnist_784 returned {n_samples:,} rows instead of {MNIST_N_TOTAL:,}; "
        f"not treating the first {MNIST_N_TRAIN:,} as the official training split",
        UserWarning,
        stacklevel=4,
    )
    return None


def _load_openml(data_home: str | os.PathLike | None) -> Digits:
    # Looked up on the module at call time so tests can monkeypatch
    # sklearn.datasets.fetch_openml.
    #
    # as_frame=False: the default DataFrame output needs pandas and gives
    # pandas objects where numpy arrays are expected.
    # parser="liac-arff": "auto" picks the pandas parser for a dense dataset
    # like mnist_784 and raises ImportError when pandas is not installed, even
    # with as_frame=False; liac-arff is pure Python and always available.
    bunch = sklearn.datasets.fetch_openml(
        "mnist_784",
        version=1,
        as_frame=False,
        data_home=None if data_home is None else os.fspath(data_home),
        parser="liac-arff",
    )
    data = np.asarray(bunch.data)
    target = np.asarray(bunch.target)
    if data.ndim != 2 or data.shape[1] != 784:
        raise ValueError(f"OpenML mnist_784: expected 784 pixel columns, got shape {data.shape}")
    if target.shape != (data.shape[0],):
        raise ValueError(f"OpenML mnist_784: {data.shape[0]} images but target of shape {target.shape}")
    try:
        # Labels arrive as the strings '0'..'9' (a nominal ARFF attribute).
        y = np.array([int(v) for v in target], dtype=np.int64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"OpenML mnist_784: labels are not digits: {exc}") from exc
    X = np.array(data, dtype=np.float64)  # a copy: we scale it in place
    if X.size and (X.min() < 0 or X.max() > 255):
        raise ValueError(f"OpenML mnist_784: pixel values outside 0..255 ([{X.min()}, {X.max()}])")
    X /= 255.0
    return Digits(
        X,
        y,
        "OpenML mnist_784",
        "openml",
        MNIST_IMAGE_SHAPE,
        _official_train_count_openml(X.shape[0]),
    )


# ---------------------------------------------------------------------------
# 3. the built-in test split


def _load_builtin() -> Digits:
    paths = []
    for base in (_TEST_IMAGES, _TEST_LABELS):
        path = BUILTIN_DIR / f"{base}.gz"
        if not path.is_file():
            raise MNISTNotFoundError(
                f"nnlab's built-in MNIST file {path} is missing: this installation of nnlab is "
                f"incomplete. Reinstall it (pip install --force-reinstall nnlab, or pip install -e . "
                f"in a clone of the course)."
            )
        verify_sha256(path, BUILTIN_SHA256[path.name])
        paths.append(path)
    images, labels = _load_pair(paths[0], paths[1])
    X = images.reshape(images.shape[0], -1).astype(np.float64)
    X /= 255.0
    return Digits(X, labels, BUILTIN_SOURCE, "builtin", MNIST_IMAGE_SHAPE, None)


# ---------------------------------------------------------------------------


def load_mnist(
    mnist_dir: str | os.PathLike | None = None,
    *,
    full: bool = False,
    use_openml: bool = True,
    data_home: str | os.PathLike | None = None,
) -> Digits:
    """Load MNIST: the 10,000 built-in images, or the full 70,000 when asked for.

    With no arguments this returns MNIST's official test split, which ships
    inside nnlab: the same 10,000 images on every machine, with or without a
    network, whatever the environment says. The full data set is read only
    when it is asked for, so no environment variable can silently change
    what a notebook computes.

    Parameters
    ----------
    mnist_dir : str or path-like, optional
        Folder with MNIST IDX files (``.gz`` or plain, canonical or dotted
        names such as ``t10k-images.idx3-ubyte``). With all four files the
        result has 70,000 samples, the first 60,000 being the official
        training split; with only the two ``t10k`` files, the 10,000 test
        images. Checksums are verified where known (see
        :func:`nnlab.idx.verify_checksum`).
    full : bool, default=False
        Load the full 60,000 / 10,000 data: from ``mnist_dir`` if given,
        else from the folder named by the ``MNIST_DIR`` environment
        variable, else OpenML's ``mnist_784``. Fails (never falls back to
        the built-in images) when none of them holds the full set.
    use_openml : bool, default=True
        With ``full=True`` and no folder, try OpenML's ``mnist_784``
        (needs a network once, then ``data_home``'s cache).
    data_home : str or path-like, optional
        scikit-learn's download cache for OpenML.

    Returns
    -------
    Digits
        ``X`` of shape (n_samples, 784), float64 in [0, 1]; ``y`` of shape
        (n_samples,), int64 in 0..9. ``X, y = load_mnist()`` also works.
        ``describe()`` says which data it is.

    Raises
    ------
    FileNotFoundError
        If a folder is named (argument or, with ``full=True``,
        ``MNIST_DIR``) but does not exist or has no usable pair of files; if
        ``full=True`` and no source holds the 60,000 training images; if a
        built-in file is missing.
    nnlab.idx.IDXError
        If a file is corrupt or fails its checksum (the message names it).
    ValueError
        If the images and labels do not fit together (counts, labels outside
        0..9, images not 28x28).
    """
    if mnist_dir is not None:
        data = _load_idx_folder(Path(mnist_dir), "mnist_dir argument")
        if full:
            _require_full(data, f"the folder {mnist_dir}")
    elif full:
        data = _load_full(use_openml=use_openml, data_home=data_home)
    else:
        data = _load_builtin()

    line = f"nnlab: loaded {data.describe()}"
    logger.info(line)
    if not logger.hasHandlers():
        # Logging not configured (typical in a notebook): still say which data
        # is in use, since that decides whether results mean anything.
        print(line)
    return data


def _load_full(*, use_openml: bool, data_home: str | os.PathLike | None) -> Digits:
    if os.environ.get("MNIST_DIR"):
        folder = os.environ["MNIST_DIR"]
        data = _load_idx_folder(Path(folder), "MNIST_DIR environment variable")
        _require_full(data, f"MNIST_DIR={folder}")
        return data
    reason = "MNIST_DIR is not set"
    if use_openml:
        try:
            return _load_openml(data_home)
        except _NETWORK_ERRORS as exc:
            reason += f" and OpenML could not be reached ({type(exc).__name__}: {exc})"
    else:
        reason += " and OpenML was not to be used (use_openml=False)"
    raise MNISTNotFoundError(
        f"the full MNIST set (60,000 training / 10,000 test images) is not available: {reason}.\n"
        f"  Set MNIST_DIR to a folder with {_TRAIN_IMAGES}.gz, {_TRAIN_LABELS}.gz, {_TEST_IMAGES}.gz and "
        f"{_TEST_LABELS}.gz, or connect to the network once so OpenML's mnist_784 can be cached.\n"
        f"  Without full=True, load_mnist() returns the 10,000 images built into nnlab."
    )


def _require_full(data: Digits, where: str) -> None:
    if data.n_official_train is None:
        raise MNISTNotFoundError(
            f"the full MNIST set was asked for, but {where} holds only the {len(data):,} test images: "
            f"add {_TRAIN_IMAGES}.gz and {_TRAIN_LABELS}.gz beside them"
        )


# ---------------------------------------------------------------------------


def split(
    data: Digits, *, test_size: float | int = 0.2, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Split into training and test parts.

    If ``data.n_official_train`` is set, MNIST's official split is used: the
    first ``n_official_train`` rows (60,000) train, the rest (10,000) test;
    ``test_size`` and ``seed`` are then ignored. Otherwise a seeded,
    stratified :func:`sklearn.model_selection.train_test_split` (e.g. 8,000 /
    2,000 of the 10,000 official test images with the defaults).

    Parameters
    ----------
    data : Digits
        From :func:`load_mnist`.
    test_size : float or int, default=0.2
        Fraction (or count) of samples for the test part, as in scikit-learn.
    seed : int, default=0
        Random state of the shuffle; the same seed gives the same split.

    Returns
    -------
    X_train : ndarray of shape (n_train, n_features)
    X_test : ndarray of shape (n_test, n_features)
    y_train : ndarray of shape (n_train,)
    y_test : ndarray of shape (n_test,)
        In scikit-learn's order. For the official split these are views of
        ``data.X`` / ``data.y`` (no copy), so modify them out of place.
    """
    X, y = data.X, data.y
    n = data.n_official_train
    if n is not None:
        return X[:n], X[n:], y[:n], y[n:]
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=test_size, random_state=seed, stratify=y)
    return X_train, X_test, y_train, y_test


#: The share of the official training images kept back for validation: of 60,000, the usual 10,000.
OFFICIAL_VALIDATION_SHARE = 1 / 6


def split_validation(
    data: Digits, *, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Split into training, validation and test parts.

    The validation part is what settings (learning rate, hidden size, epochs) are chosen on, as often as
    needed; the test part is looked at once, at the end. On the built-in 10,000 images the training part is
    exactly :func:`split`'s 8,000 and its 2,000 held-out images are halved (seeded, stratified): 1,000
    validation, 1,000 test. On the official split the last 10,000 of the 60,000 training images validate
    and the official 10,000 test images test (a sixth of the official training part, for other sizes).

    Parameters
    ----------
    data : Digits
        From :func:`load_mnist`.
    seed : int, default=0
        Random state of the shuffles; the same seed gives the same parts.

    Returns
    -------
    X_train : ndarray of shape (n_train, n_features)
    X_val : ndarray of shape (n_val, n_features)
    X_test : ndarray of shape (n_test, n_features)
    y_train : ndarray of shape (n_train,)
    y_val : ndarray of shape (n_val,)
    y_test : ndarray of shape (n_test,)
    """
    X_train, X_test, y_train, y_test = split(data, seed=seed)
    if data.n_official_train is not None:
        n = len(X_train) - round(len(X_train) * OFFICIAL_VALIDATION_SHARE)
        return X_train[:n], X_train[n:], X_test, y_train[:n], y_train[n:], y_test
    X_val, X_test, y_val, y_test = train_test_split(X_test, y_test, test_size=0.5, random_state=seed, stratify=y_test)
    return X_train, X_val, X_test, y_train, y_val, y_test
