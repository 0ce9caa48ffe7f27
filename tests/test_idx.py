"""Tests for nnlab.idx: IDX round trips, every kind of damaged file, checksums."""

from __future__ import annotations

import gzip
import hashlib
import struct
from pathlib import Path

import numpy as np
import pytest

from nnlab.idx import (
    OFFICIAL_MD5,
    IDXError,
    read_idx,
    read_md5sums,
    verify_checksum,
    write_idx,
)


def _header(type_code: int, dims: tuple[int, ...]) -> bytes:
    return bytes([0, 0, type_code, len(dims)]) + struct.pack(f">{len(dims)}I", *dims)


def _expect_idx_error(path: Path, *fragments: str) -> IDXError:
    """read_idx(path) must raise IDXError naming the file and each fragment."""
    with pytest.raises(IDXError) as info:
        read_idx(path)
    msg = str(info.value)
    assert str(path) in msg, f"IDXError for {path.name} does not name the file: {msg!r}"
    for fragment in fragments:
        assert fragment in msg, f"IDXError for {path.name} lacks {fragment!r}: {msg!r}"
    return info.value


# ---------------------------------------------------------------------------
# round trips


ROUND_TRIP_CASES = [
    ("ubyte-1d", np.arange(10, dtype=np.uint8)),
    ("ubyte-3d", np.random.default_rng(0).integers(0, 256, size=(4, 28, 28), dtype=np.uint8)),
    ("byte-2d", np.array([[-128, -1, 0], [1, 2, 127]], dtype=np.int8)),
    ("short-1d", np.array([-32768, -2, 0x0102, 32767], dtype=np.int16)),
    ("int-2d", np.array([[-(2**31), -1], [0x01020304, 2**31 - 1]], dtype=np.int32)),
    ("float-3d", np.linspace(-1.5, 2.5, 24, dtype=np.float32).reshape(2, 3, 4)),
    ("double-4d", np.linspace(-1e300, 1e300, 16, dtype=np.float64).reshape(2, 2, 2, 2)),
]


@pytest.mark.parametrize("suffix", [".gz", ""], ids=["gzip", "plain"])
@pytest.mark.parametrize("name,array", ROUND_TRIP_CASES, ids=[c[0] for c in ROUND_TRIP_CASES])
def test_round_trip(tmp_path, name, array, suffix):
    path = tmp_path / f"{name}-idx{suffix}"
    write_idx(path, array)
    back = read_idx(path)
    assert back.shape == array.shape, f"{path.name}: shape {back.shape} != {array.shape}"
    assert back.dtype == array.dtype, f"{path.name}: dtype {back.dtype} != {array.dtype}"
    assert back.dtype.isnative, f"{path.name}: returned array is not native-endian"
    np.testing.assert_array_equal(back, array, err_msg=f"{path.name}: values differ")
    assert back.flags.writeable, f"{path.name}: returned array is read-only"
    is_gz = path.read_bytes()[:2] == b"\x1f\x8b"
    assert is_gz == (suffix == ".gz"), f"{path.name}: gzip={is_gz} but suffix is {suffix!r}"


def test_written_bytes_are_big_endian_idx(tmp_path):
    path = tmp_path / "short-idx1"
    write_idx(path, np.array([0x0102, -2], dtype=np.int16))
    expected = bytes([0, 0, 0x0B, 1, 0, 0, 0, 2, 0x01, 0x02, 0xFF, 0xFE])
    assert path.read_bytes() == expected, f"{path}: wrong IDX bytes {path.read_bytes().hex(' ')}"


def test_reads_hand_made_big_endian_file(tmp_path):
    path = tmp_path / "ints-idx2"
    path.write_bytes(_header(0x0C, (2, 2)) + struct.pack(">4i", 1, -1, 256, 2**31 - 1))
    back = read_idx(path)
    assert back.dtype == np.int32 and back.dtype.isnative
    np.testing.assert_array_equal(back, [[1, -1], [256, 2**31 - 1]])


def test_gzip_detected_by_content_not_suffix(tmp_path):
    array = np.arange(6, dtype=np.uint8).reshape(2, 3)
    gz = tmp_path / "a-idx2-ubyte.gz"
    write_idx(gz, array)
    no_suffix = tmp_path / "gzipped-but-no-suffix"
    no_suffix.write_bytes(gz.read_bytes())
    plain_named_gz = tmp_path / "already-gunzipped.gz"
    plain_named_gz.write_bytes(gzip.decompress(gz.read_bytes()))
    for p in (no_suffix, plain_named_gz):
        np.testing.assert_array_equal(read_idx(p), array, err_msg=f"reading {p.name}")


def test_gzip_output_is_deterministic(tmp_path):
    # Stable bytes -> stable MD5, which the MD5SUMS tests rely on.
    array = np.arange(50, dtype=np.uint8)
    write_idx(tmp_path / "a.gz", array)
    write_idx(tmp_path / "b.gz", array)
    assert (tmp_path / "a.gz").read_bytes() == (tmp_path / "b.gz").read_bytes()


def test_write_rejects_unrepresentable_arrays(tmp_path):
    with pytest.raises(IDXError, match="int64"):
        write_idx(tmp_path / "x", np.arange(3, dtype=np.int64))
    with pytest.raises(IDXError, match="0-D"):
        write_idx(tmp_path / "x", np.array(3, dtype=np.uint8))
    with pytest.raises(IDXError, match="5-D"):
        write_idx(tmp_path / "x", np.zeros((1, 1, 1, 1, 1), dtype=np.uint8))


def test_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_idx(tmp_path / "nope-idx1-ubyte")


# ---------------------------------------------------------------------------
# damaged files: each must be an IDXError naming the file


def test_bad_magic(tmp_path):
    path = tmp_path / "bad-magic"
    path.write_bytes(b"\x01\x00\x08\x01" + struct.pack(">I", 1) + b"\x00")
    _expect_idx_error(path, "bad magic number", "01 00 08 01")


def test_not_idx_at_all_inside_gzip(tmp_path):
    path = tmp_path / "text.gz"
    path.write_bytes(gzip.compress(b"<html>404 Not Found</html>"))
    _expect_idx_error(path, "bad magic number")


def test_unknown_type_code(tmp_path):
    path = tmp_path / "type-0a"
    path.write_bytes(_header(0x0A, (3,)) + b"\x00" * 3)
    _expect_idx_error(path, "unknown IDX type code 0x0A")


@pytest.mark.parametrize("ndim", [0, 5, 255])
def test_bad_number_of_dims(tmp_path, ndim):
    path = tmp_path / f"dims-{ndim}"
    path.write_bytes(bytes([0, 0, 0x08, ndim]) + b"\x00\x00\x00\x01" * ndim + b"\x07")
    _expect_idx_error(path, f"unsupported number of dimensions {ndim}")


def test_truncated_magic(tmp_path):
    path = tmp_path / "two-bytes"
    path.write_bytes(b"\x00\x00")
    _expect_idx_error(path, "truncated header", "found only 2 byte(s)")


def test_empty_file(tmp_path):
    path = tmp_path / "empty"
    path.write_bytes(b"")
    _expect_idx_error(path, "truncated header", "found only 0 byte(s)")


def test_truncated_dimension_sizes(tmp_path):
    path = tmp_path / "short-header-idx3"
    path.write_bytes(bytes([0, 0, 0x08, 3]) + struct.pack(">I", 10) + b"\x00\x00")
    _expect_idx_error(path, "truncated header", "16-byte header", "found only 10 byte(s)")


@pytest.mark.parametrize("suffix", [".gz", ""], ids=["gzip", "plain"])
def test_truncated_data(tmp_path, suffix):
    path = tmp_path / f"t10k-images-idx3-ubyte{suffix}"
    content = _header(0x08, (10, 28, 28)) + b"\x00" * 1234
    path.write_bytes(gzip.compress(content) if suffix else content)
    _expect_idx_error(path, "truncated: header promises 10x28x28 = 7840 bytes of data, found 1234")


def test_truncated_data_multibyte_type(tmp_path):
    path = tmp_path / "floats-idx2"
    path.write_bytes(_header(0x0D, (3, 2)) + b"\x00" * 20)
    _expect_idx_error(path, "truncated", "3x2", "= 24 bytes of data, found 20")


def test_trailing_bytes(tmp_path):
    path = tmp_path / "labels-idx1-ubyte"
    path.write_bytes(_header(0x08, (5,)) + bytes(range(5)) + b"\x00\x00\x00")
    _expect_idx_error(path, "3 unexpected trailing byte(s)", "= 5 bytes of data, found 8")


def test_corrupt_gzip_stream(tmp_path):
    good = tmp_path / "good.gz"
    write_idx(good, np.random.default_rng(1).integers(0, 256, size=(20, 28, 28), dtype=np.uint8))
    blob = bytearray(good.read_bytes())
    middle = len(blob) // 2
    blob[middle : middle + 16] = bytes(b ^ 0xFF for b in blob[middle : middle + 16])
    bad = tmp_path / "bit-rot.gz"
    bad.write_bytes(bytes(blob))
    _expect_idx_error(bad, "corrupt gzip stream")


def test_cut_off_gzip_download(tmp_path):
    good = tmp_path / "good.gz"
    write_idx(good, np.arange(200, dtype=np.uint8))
    cut = tmp_path / "interrupted.gz"
    cut.write_bytes(good.read_bytes()[:-12])
    _expect_idx_error(cut, "corrupt gzip stream")


# ---------------------------------------------------------------------------
# checksums


def test_official_md5_table():
    assert OFFICIAL_MD5 == {
        "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
        "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
        "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
        "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
    }


def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def test_md5sums_entry_matches(tmp_path):
    path = tmp_path / "digits-idx1-ubyte.gz"
    write_idx(path, np.arange(10, dtype=np.uint8))
    (tmp_path / "MD5SUMS").write_text(f"{_md5(path)}  {path.name}\n")
    assert verify_checksum(path) == _md5(path)


def test_md5sums_binary_marker_and_comments(tmp_path):
    path = tmp_path / "x.gz"
    write_idx(path, np.arange(3, dtype=np.uint8))
    (tmp_path / "MD5SUMS").write_text(f"# made by md5sum -b\n\n{_md5(path).upper()} *x.gz\n")
    assert read_md5sums(tmp_path / "MD5SUMS") == {"x.gz": _md5(path)}
    assert verify_checksum(path) == _md5(path)


def test_md5sums_mismatch(tmp_path):
    path = tmp_path / "digits-idx1-ubyte.gz"
    write_idx(path, np.arange(10, dtype=np.uint8))
    wrong = "0" * 32
    (tmp_path / "MD5SUMS").write_text(f"{wrong}  {path.name}\n")
    with pytest.raises(IDXError) as info:
        verify_checksum(path)
    msg = str(info.value)
    for fragment in (str(path), "MD5 checksum mismatch", wrong, _md5(path), "MD5SUMS"):
        assert fragment in msg, f"checksum error lacks {fragment!r}: {msg!r}"


def test_official_name_with_unofficial_content(tmp_path):
    path = tmp_path / "t10k-labels-idx1-ubyte.gz"
    write_idx(path, np.arange(10, dtype=np.uint8))
    with pytest.raises(IDXError) as info:
        verify_checksum(path)
    msg = str(info.value)
    for fragment in (str(path), OFFICIAL_MD5[path.name], _md5(path), "official"):
        assert fragment in msg, f"checksum error lacks {fragment!r}: {msg!r}"


def test_md5sums_overrides_official_value(tmp_path):
    # A folder's own MD5SUMS is how tests and mirrors vouch for their files.
    path = tmp_path / "t10k-labels-idx1-ubyte.gz"
    write_idx(path, np.arange(10, dtype=np.uint8))
    (tmp_path / "MD5SUMS").write_text(f"{_md5(path)}  {path.name}\n")
    assert verify_checksum(path) == _md5(path)


def test_explicit_expected_md5(tmp_path):
    path = tmp_path / "anything"
    path.write_bytes(b"abc")
    assert verify_checksum(path, hashlib.md5(b"abc").hexdigest()) == hashlib.md5(b"abc").hexdigest()
    with pytest.raises(IDXError, match=r"expected 0{32}"):
        verify_checksum(path, "0" * 32)


def test_files_without_known_checksum_are_not_checked(tmp_path):
    plain = tmp_path / "t10k-labels-idx1-ubyte"  # decompressed: no published checksum
    write_idx(plain, np.arange(10, dtype=np.uint8))
    unlisted = tmp_path / "other.gz"
    write_idx(unlisted, np.arange(10, dtype=np.uint8))
    (tmp_path / "MD5SUMS").write_text(f"{'0' * 32}  something-else.gz\n")
    assert verify_checksum(plain) is None
    assert verify_checksum(unlisted) is None


def test_malformed_md5sums(tmp_path):
    path = tmp_path / "x.gz"
    write_idx(path, np.arange(3, dtype=np.uint8))
    sums = tmp_path / "MD5SUMS"
    sums.write_text(f"{_md5(path)}  x.gz\nnot a checksum line\n")
    with pytest.raises(IDXError) as info:
        verify_checksum(path)
    assert str(sums) in str(info.value) and "line 2" in str(info.value), str(info.value)
