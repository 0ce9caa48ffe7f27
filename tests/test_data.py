"""Tests for nnlab.data: the built-in MNIST, IDX folders, OpenML, Digits, one_hot and split.

All offline: IDX folders are built in tmp_path, OpenML is faked.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import logging
import re
import urllib.error

import numpy as np
import pytest
import scipy.sparse
import sklearn.datasets
import sklearn.datasets._openml
from sklearn.preprocessing import OneHotEncoder
from sklearn.utils import Bunch

from nnlab import data as nndata
from nnlab.data import BUILTIN_DIR, Digits, load_mnist, split, split_validation
from nnlab.idx import OFFICIAL_MD5, IDXError, verify_checksum, write_idx
from nnlab_instructor.reference import one_hot

# ---------------------------------------------------------------------------
# fixtures


def _images(n: int, seed: int, size=(28, 28)) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(n, *size), dtype=np.uint8)


def _labels(n: int, offset: int = 0) -> np.ndarray:
    return ((np.arange(n) + offset) % 10).astype(np.uint8)


@pytest.fixture
def no_mnist_env(monkeypatch):
    """A developer's MNIST_DIR must not reach tests of the other sources."""
    monkeypatch.delenv("MNIST_DIR", raising=False)


@pytest.fixture
def forbid_openml(monkeypatch):
    def fail(*args, **kwargs):
        raise AssertionError("fetch_openml must not be called here")

    monkeypatch.setattr(sklearn.datasets, "fetch_openml", fail)


@pytest.fixture
def make_mnist_dir(tmp_path):
    """Factory: a folder of tiny MNIST-named IDX files.

    ``make(train=12, test=5, gz=True, dotted=False, ...)``; pass ``train=None``
    to leave out both training files. ``.gz`` files get an MD5SUMS entry,
    since their content is of course not the official one.
    """

    def make(train=12, test=5, *, gz=True, dotted=False, folder="mnist", overrides=None):
        d = tmp_path / folder
        d.mkdir()
        arrays = {"t10k-images-idx3-ubyte": _images(test, seed=2), "t10k-labels-idx1-ubyte": _labels(test, offset=3)}
        if train is not None:
            arrays["train-images-idx3-ubyte"] = _images(train, seed=1)
            arrays["train-labels-idx1-ubyte"] = _labels(train)
        arrays.update(overrides or {})
        sums = []
        for base, array in arrays.items():
            if array is None:
                continue
            name = (base.replace("-idx", ".idx") if dotted else base) + (".gz" if gz else "")
            write_idx(d / name, array)
            sums.append(f"{hashlib.md5((d / name).read_bytes()).hexdigest()}  {name}\n")
        if gz:
            (d / "MD5SUMS").write_text("".join(sums))
        return d, arrays

    return make


# ---------------------------------------------------------------------------
# 1. local IDX folder


@pytest.mark.parametrize("gz", [True, False], ids=["gz", "plain"])
@pytest.mark.parametrize("dotted", [False, True], ids=["canonical", "dotted"])
def test_four_files_give_official_split(make_mnist_dir, gz, dotted, forbid_openml):
    folder, arrays = make_mnist_dir(train=12, test=5, gz=gz, dotted=dotted)
    data = load_mnist(folder)
    assert (data.kind, data.n_official_train, data.image_shape) == ("idx", 12, (28, 28))
    assert data.X.shape == (17, 784) and data.X.dtype == np.float64, data.X.shape
    assert data.y.shape == (17,) and data.y.dtype == np.int64, data.y.dtype
    expected_X = (
        np.concatenate([arrays["train-images-idx3-ubyte"], arrays["t10k-images-idx3-ubyte"]]).reshape(17, 784) / 255.0
    )
    np.testing.assert_array_equal(data.X, expected_X, err_msg="train rows then test rows, /255")
    np.testing.assert_array_equal(
        data.y, np.concatenate([arrays["train-labels-idx1-ubyte"], arrays["t10k-labels-idx1-ubyte"]])
    )
    assert data.source == f"MNIST IDX files in {folder}"
    assert data.describe() == (f"MNIST IDX files in {folder}: 17 images of 28x28 (first 12 = official training split)")
    X_train, X_test, y_train, y_test = split(data)
    assert (len(X_train), len(X_test), len(y_train), len(y_test)) == (12, 5, 12, 5)


@pytest.mark.parametrize("gz", [True, False], ids=["gz", "plain"])
def test_only_t10k_files_give_test_split(make_mnist_dir, gz, forbid_openml):
    folder, arrays = make_mnist_dir(train=None, test=5, gz=gz)
    data = load_mnist(folder)
    assert data.X.shape == (5, 784) and data.n_official_train is None
    np.testing.assert_array_equal(data.X, arrays["t10k-images-idx3-ubyte"].reshape(5, 784) / 255)
    np.testing.assert_array_equal(data.y, arrays["t10k-labels-idx1-ubyte"])
    assert data.describe() == f"MNIST IDX files in {folder}: 5 images of 28x28 (official test split only)"


def test_train_labels_without_train_images_do_not_count(make_mnist_dir, forbid_openml):
    # The layout of the shared offline folder.
    folder, _ = make_mnist_dir(train=12, test=5, overrides={"train-images-idx3-ubyte": None})
    data = load_mnist(folder)
    assert data.X.shape == (5, 784) and data.n_official_train is None


def test_full_reads_the_mnist_dir_env_var(make_mnist_dir, monkeypatch, forbid_openml):
    folder, _arrays = make_mnist_dir(train=12, test=5)
    monkeypatch.setenv("MNIST_DIR", str(folder))
    data = load_mnist(full=True)
    assert data.kind == "idx" and data.source == f"MNIST IDX files in {folder}"
    assert data.n_official_train == 12 and len(data) == 17


def test_mnist_dir_env_var_changes_nothing_without_full(make_mnist_dir, monkeypatch, forbid_openml):
    # An environment variable must never silently change what a notebook computes.
    builtin = load_mnist()
    folder, _ = make_mnist_dir(train=12, test=5)
    monkeypatch.setenv("MNIST_DIR", str(folder))
    data = load_mnist()
    assert data.kind == "builtin" and data.X.shape == (10_000, 784)
    np.testing.assert_array_equal(data.X, builtin.X)


@pytest.mark.parametrize("how", ["argument", "MNIST_DIR"])
def test_full_with_only_the_test_files_is_an_error(make_mnist_dir, monkeypatch, forbid_openml, how):
    folder, _ = make_mnist_dir(train=None, test=5)
    if how == "argument":
        call = lambda: load_mnist(folder, full=True)
    else:
        monkeypatch.setenv("MNIST_DIR", str(folder))
        call = lambda: load_mnist(full=True)
    with pytest.raises(FileNotFoundError) as info:
        call()
    msg = str(info.value)
    for fragment in ("full MNIST set", str(folder), "only the 5 test images", "train-images-idx3-ubyte.gz"):
        assert fragment in msg, f"error lacks {fragment!r}: {msg!r}"


def test_argument_takes_precedence_over_env_var(make_mnist_dir, monkeypatch, tmp_path, forbid_openml):
    folder, _ = make_mnist_dir(train=None, test=5)
    monkeypatch.setenv("MNIST_DIR", str(tmp_path / "does-not-exist"))
    assert load_mnist(folder).source == f"MNIST IDX files in {folder}"


def test_logs_the_source(make_mnist_dir, caplog, forbid_openml):
    folder, _ = make_mnist_dir(train=None, test=5)
    with caplog.at_level(logging.INFO, logger="nnlab"):
        load_mnist(folder)
    lines = [r.getMessage() for r in caplog.records if r.name == "nnlab"]
    assert any(f"MNIST IDX files in {folder}: 5 images" in m for m in lines), lines


def test_named_empty_folder_is_an_error(tmp_path, forbid_openml):
    folder = tmp_path / "empty"
    folder.mkdir()
    with pytest.raises(FileNotFoundError) as info:
        load_mnist(folder)
    msg = str(info.value)
    for fragment in (str(folder), "nothing", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        assert fragment in msg, f"error lacks {fragment!r}: {msg!r}"


def test_env_folder_without_usable_pair_lists_what_it_found(tmp_path, monkeypatch, forbid_openml):
    # A wrong MNIST_DIR must not silently fall back to OpenML or the built-in images.
    folder = tmp_path / "downloads"
    folder.mkdir()
    write_idx(folder / "t10k-images-idx3-ubyte.gz", _images(2, seed=0))
    (folder / "MD5SUMS").write_text(
        f"{hashlib.md5((folder / 't10k-images-idx3-ubyte.gz').read_bytes()).hexdigest()}  t10k-images-idx3-ubyte.gz\n"
    )
    (folder / "mnist.npz").write_bytes(b"")
    monkeypatch.setenv("MNIST_DIR", str(folder))
    with pytest.raises(FileNotFoundError) as info:
        load_mnist(full=True)
    msg = str(info.value)
    for fragment in ("MNIST_DIR", "MD5SUMS, mnist.npz, t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte"):
        assert fragment in msg, f"error lacks {fragment!r}: {msg!r}"


def test_nonexistent_folder(tmp_path, forbid_openml):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_mnist(tmp_path / "missing")


def test_mismatched_counts(make_mnist_dir, forbid_openml):
    folder, _ = make_mnist_dir(train=None, test=5, overrides={"t10k-labels-idx1-ubyte": _labels(4)})
    with pytest.raises(ValueError) as info:
        load_mnist(folder)
    msg = str(info.value)
    for fragment in ("t10k-images-idx3-ubyte.gz has 5 images", "t10k-labels-idx1-ubyte.gz has 4 labels"):
        assert fragment in msg, f"error lacks {fragment!r}: {msg!r}"


def test_label_out_of_range(make_mnist_dir, forbid_openml):
    bad = _labels(5)
    bad[3] = 10
    folder, _ = make_mnist_dir(train=None, test=5, overrides={"t10k-labels-idx1-ubyte": bad})
    with pytest.raises(ValueError) as info:
        load_mnist(folder)
    msg = str(info.value)
    for fragment in ("t10k-labels-idx1-ubyte.gz", "label 10 at index 3", "0..9"):
        assert fragment in msg, f"error lacks {fragment!r}: {msg!r}"


def test_wrong_image_size(make_mnist_dir, forbid_openml):
    folder, _ = make_mnist_dir(
        train=None, test=5, overrides={"t10k-images-idx3-ubyte": _images(5, seed=0, size=(27, 28))}
    )
    with pytest.raises(ValueError) as info:
        load_mnist(folder)
    msg = str(info.value)
    for fragment in ("t10k-images-idx3-ubyte.gz", "(n, 28, 28)", "(5, 27, 28)"):
        assert fragment in msg, f"error lacks {fragment!r}: {msg!r}"


def test_corrupt_file_in_folder(make_mnist_dir, forbid_openml):
    folder, _ = make_mnist_dir(train=None, test=5, gz=False)
    images = folder / "t10k-images-idx3-ubyte"
    images.write_bytes(images.read_bytes()[:-1])
    with pytest.raises(IDXError, match="truncated"):
        load_mnist(folder)


def test_official_names_with_unofficial_content_fail_checksum(make_mnist_dir, forbid_openml):
    folder, _ = make_mnist_dir(train=None, test=5)
    (folder / "MD5SUMS").unlink()  # now the official checksums apply
    with pytest.raises(IDXError) as info:
        load_mnist(folder)
    assert "MD5 checksum mismatch" in str(info.value) and str(folder) in str(info.value)


# ---------------------------------------------------------------------------
# 2. OpenML (faked)


def _fake_openml_bunch(n: int) -> Bunch:
    rng = np.random.default_rng(3)
    pixels = rng.integers(0, 256, size=(n, 784)).astype(np.float64)
    pixels[0, 0], pixels[0, 1] = 0.0, 255.0  # the extremes must map to 0 and 1
    target = np.array([str(i % 10) for i in range(n)], dtype=object)
    return Bunch(data=pixels, target=target, feature_names=[f"pixel{i}" for i in range(1, 785)])


def test_openml_call_and_conversion(monkeypatch, no_mnist_env, tmp_path):
    calls = []
    bunch = _fake_openml_bunch(20)

    def fake_fetch_openml(*args, **kwargs):
        calls.append((args, kwargs))
        return bunch

    monkeypatch.setattr(sklearn.datasets, "fetch_openml", fake_fetch_openml)
    with pytest.warns(UserWarning, match="20 rows instead of 70,000"):
        data = load_mnist(full=True, data_home=tmp_path / "cache")

    assert len(calls) == 1, calls
    args, kwargs = calls[0]
    name = args[0] if args else kwargs.get("name")
    assert name == "mnist_784", calls
    assert kwargs.get("version") == 1, calls
    # The seed tutorial's bug: the default as_frame gives pandas objects.
    assert kwargs.get("as_frame") is False, calls
    # "auto" would choose the pandas parser for this dense dataset.
    assert kwargs.get("parser") == "liac-arff", calls
    assert kwargs.get("data_home") == str(tmp_path / "cache"), calls

    assert (data.kind, data.source, data.image_shape) == ("openml", "OpenML mnist_784", (28, 28))
    assert isinstance(data.X, np.ndarray) and data.X.dtype == np.float64
    assert data.X.min() == 0.0 and data.X.max() == 1.0, (data.X.min(), data.X.max())
    np.testing.assert_allclose(data.X, bunch.data / 255.0)
    assert data.y.dtype == np.int64
    np.testing.assert_array_equal(data.y, np.arange(20) % 10)
    # Only the real 70,000 rows are known to start with the official training split.
    assert data.n_official_train is None


def test_openml_official_split_count():
    assert nndata._official_train_count_openml(70_000) == 60_000


@pytest.mark.parametrize(
    "error",
    [
        urllib.error.URLError("[Errno -2] Name or service not known"),
        TimeoutError("timed out"),
        ConnectionResetError("reset by peer"),
    ],
    ids=["URLError", "TimeoutError", "ConnectionResetError"],
)
def test_full_without_a_network_says_how_to_get_the_data(monkeypatch, no_mnist_env, error):
    def unreachable(*args, **kwargs):
        raise error

    monkeypatch.setattr(sklearn.datasets, "fetch_openml", unreachable)
    with pytest.raises(FileNotFoundError) as info:
        load_mnist(full=True)
    msg = str(info.value)
    for fragment in (
        "full MNIST set",
        "MNIST_DIR is not set",
        "OpenML could not be reached",
        str(error),
        "train-images-idx3-ubyte.gz",
        "built into nnlab",
    ):
        assert fragment in msg, f"error lacks {fragment!r}: {msg!r}"


def test_full_without_openml_says_so(no_mnist_env, forbid_openml):
    with pytest.raises(FileNotFoundError, match=r"use_openml=False"):
        load_mnist(full=True, use_openml=False)


def test_openml_non_network_error_propagates(monkeypatch, no_mnist_env):
    # E.g. scikit-learn's checksum error for a damaged cache: it must reach
    # the user as it is, not as "no network".
    def damaged(*args, **kwargs):
        raise ValueError("The md5 checksum of the file ... does not match")

    monkeypatch.setattr(sklearn.datasets, "fetch_openml", damaged)
    with pytest.raises(ValueError, match="md5 checksum"):
        load_mnist(full=True)


class _FakeResponse(io.BytesIO):
    def info(self):
        return {}


def _fake_openml_server(n_rows: int):
    """urlopen replacement serving a tiny mnist_784 like openml.org's API."""
    rng = np.random.default_rng(5)
    pixels = rng.integers(0, 256, size=(n_rows, 784))
    labels = [str(i % 10) for i in range(n_rows)]
    arff_lines = ["@RELATION mnist_784", ""]
    arff_lines += [f"@ATTRIBUTE pixel{i} NUMERIC" for i in range(1, 785)]
    arff_lines += ["@ATTRIBUTE class {0,1,2,3,4,5,6,7,8,9}", "", "@DATA"]
    arff_lines += [",".join(map(str, row)) + f",{lab}" for row, lab in zip(pixels, labels)]
    arff = ("\n".join(arff_lines) + "\n").encode()
    features = [
        {
            "index": str(i - 1),
            "name": f"pixel{i}",
            "data_type": "numeric",
            "is_target": "false",
            "is_ignore": "false",
            "is_row_identifier": "false",
            "number_of_missing_values": "0",
        }
        for i in range(1, 785)
    ] + [
        {
            "index": "784",
            "name": "class",
            "data_type": "nominal",
            "nominal_values": json.dumps([str(d) for d in range(10)]),
            "is_target": "true",
            "is_ignore": "false",
            "is_row_identifier": "false",
            "number_of_missing_values": "0",
        }
    ]
    api = "https://www.openml.org/api/v1/json/data/"
    responses = {
        api + "list/data_name/mnist_784/limit/2/data_version/1": {
            "data": {
                "dataset": [
                    {
                        "did": 554,
                        "name": "mnist_784",
                        "version": 1,
                        "status": "active",
                        "format": "ARFF",
                        "file_id": 52667,
                    }
                ]
            }
        },
        api + "554": {
            "data_set_description": {
                "id": "554",
                "name": "mnist_784",
                "version": "1",
                "description": "fake",
                "format": "ARFF",
                "file_id": "52667",
                "status": "active",
                "default_target_attribute": "class",
                "url": "https://www.openml.org/data/v1/download/52667/mnist_784.arff",
                "md5_checksum": hashlib.md5(arff).hexdigest(),
            }
        },
        api + "features/554": {"data_features": {"feature": features}},
        api + "qualities/554": {"data_qualities": {"quality": [{"name": "NumberOfInstances", "value": f"{n_rows}.0"}]}},
    }
    requested = []

    def urlopen(request, *args, **kwargs):
        url = request.get_full_url()
        requested.append(url)
        if url == "https://www.openml.org/data/v1/download/52667/mnist_784.arff":
            return _FakeResponse(arff)
        if url in responses:
            return _FakeResponse(json.dumps(responses[url]).encode())
        raise AssertionError(f"unexpected OpenML request {url}")

    return urlopen, requested, pixels, labels


def test_openml_through_real_fetch_openml_without_pandas(monkeypatch, no_mnist_env, tmp_path):
    """End to end through scikit-learn's fetch_openml with its HTTP layer faked.

    Proves the chosen parser works without pandas, and that the second call is
    served from data_home with no network at all.
    """
    urlopen, requested, pixels, labels = _fake_openml_server(n_rows=15)
    monkeypatch.setattr(sklearn.datasets._openml, "urlopen", urlopen)
    cache = tmp_path / "scikit_learn_data"
    with pytest.warns(UserWarning, match="15 rows"):
        data = load_mnist(full=True, data_home=cache)
    assert data.kind == "openml" and data.X.shape == (15, 784)
    np.testing.assert_allclose(data.X, pixels / 255.0)
    np.testing.assert_array_equal(data.y, [int(s) for s in labels])
    assert any("mnist_784" in u for u in requested), requested

    def offline(request, *args, **kwargs):
        raise AssertionError(f"second load went to the network: {request.get_full_url()}")

    monkeypatch.setattr(sklearn.datasets._openml, "urlopen", offline)
    with pytest.warns(UserWarning, match="15 rows"):
        again = load_mnist(full=True, data_home=cache)
    np.testing.assert_array_equal(again.X, data.X)


# ---------------------------------------------------------------------------
# 3. the built-in test split


def test_builtin_is_mnists_official_test_split(no_mnist_env, forbid_openml, caplog):
    for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        assert verify_checksum(BUILTIN_DIR / name) == OFFICIAL_MD5[name], f"{name}: not the official file"
    with caplog.at_level(logging.INFO, logger="nnlab"):
        data = load_mnist()
    assert [r.getMessage() for r in caplog.records if r.name == "nnlab"] == [
        "nnlab: loaded MNIST's official test split, built into nnlab: 10,000 images of 28x28"
    ]
    assert (data.kind, data.n_official_train, data.image_shape) == ("builtin", None, (28, 28))
    assert data.X.shape == (10_000, 784) and data.y.shape == (10_000,)
    assert data.X.dtype == np.float64 and data.y.dtype == np.int64
    assert data.X.min() == 0.0 and data.X.max() == 1.0, "pixels 0 and 255 should map to exactly 0.0 and 1.0"
    # Known facts about the official test split.
    counts = np.bincount(data.y, minlength=10)
    assert counts.tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009], counts
    assert data.y[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
    X_train, X_test, _y_train, y_test = split(data)
    assert (X_train.shape, X_test.shape) == ((8000, 784), (2000, 784))
    # Stratified: every digit keeps its share in both parts (within one image).
    assert np.all(np.abs(np.bincount(y_test, minlength=10) - counts / 5) <= 1)


def test_builtin_is_printed_when_logging_is_not_configured(no_mnist_env, monkeypatch, capsys):
    # In a notebook nothing configures logging: the line goes to stdout, not a red stderr box.
    monkeypatch.setattr(nndata.logger, "hasHandlers", lambda: False)
    load_mnist()
    captured = capsys.readouterr()
    assert captured.out == "nnlab: loaded MNIST's official test split, built into nnlab: 10,000 images of 28x28\n"
    assert captured.err == ""


@pytest.fixture
def builtin_copy(tmp_path, monkeypatch):
    """A copy of the built-in folder that load_mnist() reads instead, to damage."""
    folder = tmp_path / "builtin_mnist"
    folder.mkdir()
    for path in BUILTIN_DIR.iterdir():
        (folder / path.name).write_bytes(path.read_bytes())
    monkeypatch.setattr(nndata, "BUILTIN_DIR", folder)
    return folder


@pytest.mark.parametrize("name", ["t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"])
def test_builtin_corrupt_file_is_named(builtin_copy, name):
    path = builtin_copy / name
    damaged = bytearray(path.read_bytes())
    damaged[len(damaged) // 2] ^= 0xFF
    path.write_bytes(bytes(damaged))
    with pytest.raises(IDXError) as info:
        load_mnist()
    msg = str(info.value)
    assert str(path) in msg and "SHA-256 checksum mismatch" in msg, msg


@pytest.mark.parametrize("name", ["t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"])
def test_builtin_missing_file_is_named(builtin_copy, name):
    (builtin_copy / name).unlink()
    with pytest.raises(FileNotFoundError) as info:
        load_mnist()
    msg = str(info.value)
    assert str(builtin_copy / name) in msg and "Reinstall" in msg, msg


def test_builtin_data_carries_its_licence():
    notice = (BUILTIN_DIR / "README.md").read_text()
    for fragment in ("CC BY-SA 3.0", "Yann LeCun", "Corinna Cortes", "Burges"):
        assert fragment in notice
    sums = (BUILTIN_DIR / "SHA256SUMS").read_text()
    for name, digest in nndata.BUILTIN_SHA256.items():
        assert f"{digest}  {name}" in sums
        assert hashlib.sha256((BUILTIN_DIR / name).read_bytes()).hexdigest() == digest


# ---------------------------------------------------------------------------
# Digits


def test_digits_unpacks_and_is_frozen():
    d = Digits(np.zeros((3, 4)), np.array([1, 2, 3]), "test", "idx", (2, 2), None)
    X, y = d
    assert X is d.X and y is d.y
    with pytest.raises(dataclasses.FrozenInstanceError):
        d.X = np.ones((3, 4))


@pytest.mark.parametrize(
    "kwargs,fragment",
    [
        (dict(X=np.full((3, 4), 2.0)), "[0, 1]"),
        (dict(image_shape=(3, 3)), "image_shape"),
        (dict(y=np.array([1, 2])), "shape (3,)"),
        (dict(y=np.array([1, 2, 10])), "0..9"),
        (dict(kind="mnist"), "kind"),
        (dict(n_official_train=3), "n_official_train"),
    ],
)
def test_digits_rejects_inconsistent_fields(kwargs, fragment):
    fields = dict(
        X=np.zeros((3, 4)), y=np.array([1, 2, 3]), source="t", kind="idx", image_shape=(2, 2), n_official_train=None
    )
    fields.update(kwargs)
    with pytest.raises(ValueError, match=re.escape(fragment)):
        Digits(**fields)


# ---------------------------------------------------------------------------
# one_hot


def test_one_hot_matches_onehotencoder_and_is_dense():
    y = np.array([3, 0, 9, 3, 1])
    encoded = one_hot(y)
    # Regression: the seed tutorial passed sparse=False, which no longer exists.
    assert isinstance(encoded, np.ndarray) and not scipy.sparse.issparse(encoded), type(encoded)
    assert encoded.shape == (5, 10) and encoded.dtype == np.float64
    reference = OneHotEncoder(sparse_output=False, categories=[range(10)]).fit_transform(y.reshape(-1, 1))
    np.testing.assert_array_equal(encoded, reference)
    np.testing.assert_array_equal(encoded.argmax(axis=1), y)
    assert encoded.sum() == 5


def test_one_hot_keeps_all_columns_and_accepts_integral_floats():
    assert one_hot(np.array([2, 2]), n_classes=4).tolist() == [[0, 0, 1, 0], [0, 0, 1, 0]]
    np.testing.assert_array_equal(one_hot(np.array([1.0, 0.0])), one_hot(np.array([1, 0])))


@pytest.mark.parametrize(
    "y,fragment",
    [
        ([1, 2, 10, 3], "label 10 at index 2 is outside 0..9"),
        ([-1, 0], "label -1 at index 0"),
        ([0.0, 2.5], "label 2.5 at index 1 is not an integer"),
        ([[1, 2]], "1-D"),
    ],
)
def test_one_hot_rejects_bad_labels(y, fragment):
    with pytest.raises(ValueError, match=re.escape(fragment)):
        one_hot(np.array(y))


# ---------------------------------------------------------------------------
# split


def _fake_digits(n: int, y: np.ndarray, n_official_train=None) -> Digits:
    # One feature per sample keeps 70,000-row tests cheap; X encodes the row index.
    X = (np.arange(n, dtype=np.float64) / n).reshape(n, 1)
    return Digits(X, y, "fake", "idx", (1, 1), n_official_train)


def test_split_official_keeps_60000_for_training():
    # Regression: the seed tutorial called train_test_split(..., test_size=60000),
    # training on 10,000 images while its text claimed 60,000.
    n = 70_000
    data = _fake_digits(n, np.arange(n) % 10, n_official_train=60_000)
    X_train, X_test, y_train, y_test = split(data, test_size=0.5, seed=123)  # both ignored
    assert X_train.shape == (60_000, 1) and y_train.shape == (60_000,), X_train.shape
    assert X_test.shape == (10_000, 1) and y_test.shape == (10_000,), X_test.shape
    np.testing.assert_array_equal(X_train, data.X[:60_000], err_msg="train must be the first 60,000 rows")
    np.testing.assert_array_equal(X_test, data.X[60_000:], err_msg="test must be the last 10,000 rows")


def test_split_stratified_8000_2000():
    n = 10_000
    # Deliberately unbalanced classes, so a non-stratified split would drift.
    y = np.repeat(np.arange(10), [400, 1600, 800, 1200, 1000, 900, 1100, 700, 1300, 1000])
    data = _fake_digits(n, y)
    X_train, X_test, y_train, y_test = split(data)
    assert (X_train.shape, X_test.shape, y_train.shape, y_test.shape) == ((8000, 1), (2000, 1), (8000,), (2000,))
    np.testing.assert_array_equal(
        np.bincount(y_test, minlength=10), np.bincount(y, minlength=10) // 5, err_msg="test part is not stratified"
    )
    # Rows stay paired with their labels and no sample is lost or duplicated.
    rows = np.concatenate([X_train[:, 0], X_test[:, 0]]) * n
    idx = np.rint(rows).astype(int)
    assert sorted(idx.tolist()) == list(range(n))
    np.testing.assert_array_equal(np.concatenate([y_train, y_test]), y[idx])


def test_split_is_deterministic_per_seed():
    data = _fake_digits(1000, np.arange(1000) % 10)
    a = split(data, seed=0)
    b = split(data, seed=0)
    c = split(data, seed=1)
    for part_a, part_b in zip(a, b):
        np.testing.assert_array_equal(part_a, part_b, err_msg="same seed gave different splits")
    assert not np.array_equal(a[1], c[1]), "seeds 0 and 1 gave the same test part"


def test_split_test_size():
    data = _fake_digits(1000, np.arange(1000) % 10)
    X_train, X_test, _, _ = split(data, test_size=0.3)
    assert (len(X_train), len(X_test)) == (700, 300)


def test_raw_images_undo_the_scaling():
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, size=(3, 28, 28), dtype=np.uint8)
    data = Digits(pixels.reshape(3, -1) / 255.0, np.array([1, 2, 3]), "test", "idx", (28, 28))
    raw = data.raw_images()
    assert raw.dtype == np.uint8 and raw.shape == (3, 28, 28)
    np.testing.assert_array_equal(raw, pixels)
    assert data.max_pixel == 255


def test_split_validation_keeps_the_training_part_and_halves_the_held_out_part(no_mnist_env, forbid_openml):
    data = load_mnist()
    X_train, X_test, y_train, _y_test = split(data, seed=0)
    Xt, Xv, Xs, yt, yv, ys = split_validation(data, seed=0)
    np.testing.assert_array_equal(Xt, X_train)
    np.testing.assert_array_equal(yt, y_train)
    assert (len(Xv), len(Xs), len(yv), len(ys)) == (1_000, 1_000, 1_000, 1_000)
    # Validation and test are the held-out images, each exactly once, in neither part twice.
    held_out = {row.tobytes() for row in X_test}
    assert {row.tobytes() for row in np.vstack([Xv, Xs])} == held_out
    assert not {row.tobytes() for row in Xv} & {row.tobytes() for row in Xs}
    # Stratified: every digit in both halves, in nearly the held-out proportions.
    assert np.abs(np.bincount(yv, minlength=10) - np.bincount(ys, minlength=10)).max() <= 1


def test_split_validation_of_the_official_split_validates_on_its_last_training_images():
    X = np.linspace(0, 1, 72 * 784).reshape(72, 784)
    y = np.arange(72) % 10
    data = Digits(X=X, y=y, source="test", kind="idx", image_shape=(28, 28), n_official_train=60)
    Xt, Xv, Xs, yt, yv, ys = split_validation(data)
    # As on the real 60,000: the last sixth of the training images validate, the official test part tests.
    np.testing.assert_array_equal(Xt, X[:50])
    np.testing.assert_array_equal(Xv, X[50:60])
    np.testing.assert_array_equal(Xs, X[60:])
    np.testing.assert_array_equal(np.concatenate([yt, yv, ys]), y)
