"""Reading and writing IDX files, the format MNIST is distributed in.

An IDX file is a 4-byte magic number ``00 00 <type> <ndim>``, then ``ndim``
big-endian uint32 dimension sizes, then the values in C order, big-endian.
MNIST ships them gzip-compressed (``*.gz``).

The reader is deliberately strict: a file whose payload is one byte too short
or too long is rejected rather than reshaped, because a silently mangled
dataset shows up much later as a mysteriously bad accuracy.

Public API
----------
read_idx(path) -> np.ndarray
write_idx(path, array) -> None
verify_checksum(path, expected_md5=None) -> str | None
verify_sha256(path, expected) -> str
OFFICIAL_MD5 : dict[str, str]
IDXError : ValueError
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import re
import struct
import zlib
from math import prod
from pathlib import Path

import numpy as np

from .errors import NnlabError

__all__ = [
    "IDX_DTYPES",
    "OFFICIAL_MD5",
    "IDXError",
    "read_idx",
    "read_md5sums",
    "verify_checksum",
    "verify_sha256",
    "write_idx",
]

#: Published MD5 checksums of the official MNIST files (the values that
#: torchvision, tensorflow-datasets and friends verify).
OFFICIAL_MD5: dict[str, str] = {
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}

#: IDX type code -> big-endian numpy dtype, as defined by the format.
IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_TYPE_NAMES = {
    0x08: "unsigned byte",
    0x09: "signed byte",
    0x0B: "short (int16)",
    0x0C: "int (int32)",
    0x0D: "float (float32)",
    0x0E: "double (float64)",
}
# The spec allows up to 255 dimensions, but no real IDX file has more than 4;
# a larger count almost certainly means we are reading something that is not IDX.
_MAX_DIMS = 4

_GZIP_MAGIC = b"\x1f\x8b"
_MD5_LINE = re.compile(r"^([0-9a-fA-F]{32})\s+\*?(.+?)\s*$")


class IDXError(NnlabError, ValueError):
    """An IDX file (or its checksum) is not what it should be.

    The message always starts with the offending file's path.
    """


def _fail(path: os.PathLike | str, what: str) -> IDXError:
    return IDXError(f"{os.fspath(path)}: {what}")


def _is_gzip(path: Path) -> bool:
    # Sniff the content rather than trusting the suffix: people gunzip files
    # and keep the name, or download an already-decompressed file as .gz.
    with open(path, "rb") as f:
        return f.read(2) == _GZIP_MAGIC


def _read_bytes(path: Path) -> bytes:
    if not _is_gzip(path):
        return path.read_bytes()
    try:
        with gzip.open(path, "rb") as f:
            return f.read()
    except (OSError, EOFError, zlib.error) as exc:
        # gzip reports a damaged stream in several ways (BadGzipFile,
        # EOFError for a cut-off download, zlib.error for bad blocks or CRC).
        raise _fail(path, f"corrupt gzip stream ({type(exc).__name__}: {exc})") from exc


def read_idx(path: os.PathLike | str) -> np.ndarray:
    """Read an IDX file, gzip-compressed or plain.

    Parameters
    ----------
    path : str or path-like
        The file. Compression is detected from the gzip magic bytes
        ``1f 8b``, not from the suffix.

    Returns
    -------
    numpy.ndarray
        Array of shape ``dims`` as written in the header (1 to 4 dimensions,
        e.g. ``(10000, 28, 28)`` for MNIST test images, ``(10000,)`` for its
        labels), in native byte order, with dtype uint8, int8, int16, int32,
        float32 or float64 according to the IDX type code.

    Raises
    ------
    IDXError
        If the magic number, type code or dimension count is invalid, the
        header is truncated, the payload is not exactly
        ``prod(dims) * itemsize`` bytes, or the gzip stream is corrupt.
        The message names the file and what is wrong.
    FileNotFoundError
        If the file does not exist.
    """
    path = Path(path)
    raw = _read_bytes(path)

    if len(raw) < 4:
        raise _fail(
            path,
            f"truncated header: an IDX file starts with a 4-byte magic number, found only {len(raw)} byte(s)",
        )
    zero1, zero2, type_code, ndim = raw[0], raw[1], raw[2], raw[3]
    if zero1 != 0 or zero2 != 0:
        raise _fail(
            path,
            f"bad magic number {raw[:4].hex(' ')}: an IDX file must start with two zero "
            f"bytes (is this really an IDX file?)",
        )
    if type_code not in IDX_DTYPES:
        known = ", ".join(f"0x{c:02X} {n}" for c, n in _TYPE_NAMES.items())
        raise _fail(path, f"unknown IDX type code 0x{type_code:02X} (known: {known})")
    if not 1 <= ndim <= _MAX_DIMS:
        raise _fail(path, f"unsupported number of dimensions {ndim} (expected 1 to {_MAX_DIMS})")

    header_len = 4 + 4 * ndim
    if len(raw) < header_len:
        raise _fail(
            path,
            f"truncated header: {ndim} dimension(s) need a {header_len}-byte header, found only {len(raw)} byte(s)",
        )
    dims = struct.unpack(f">{ndim}I", raw[4:header_len])
    dtype = IDX_DTYPES[type_code]
    # Python ints: a corrupt header with huge sizes must not overflow.
    expected = prod(dims) * dtype.itemsize
    found = len(raw) - header_len
    shape_txt = "x".join(str(d) for d in dims)
    what = "" if dtype.itemsize == 1 else f" {_TYPE_NAMES[type_code]} values ({dtype.itemsize} bytes each)"
    if found < expected:
        raise _fail(
            path,
            f"truncated: header promises {shape_txt}{what} = {expected} bytes of data, found {found}",
        )
    if found > expected:
        raise _fail(
            path,
            f"{found - expected} unexpected trailing byte(s): header promises "
            f"{shape_txt}{what} = {expected} bytes of data, found {found}",
        )

    data = np.frombuffer(raw, dtype=dtype, offset=header_len, count=prod(dims))
    # astype to native order also copies, so the result is writable and does
    # not keep the whole raw buffer alive.
    return data.astype(dtype.newbyteorder("="), copy=True).reshape(dims)


def write_idx(path: os.PathLike | str, array: np.ndarray) -> None:
    """Write an array as an IDX file (gzip-compressed if ``path`` ends in ``.gz``).

    Parameters
    ----------
    path : str or path-like
        Destination. Overwritten if it exists.
    array : array_like
        Array of 1 to 4 dimensions (e.g. shape ``(n, 28, 28)`` images or
        ``(n,)`` labels) with dtype uint8, int8, int16, int32, float32 or
        float64. Other dtypes are rejected rather than silently converted.

    Raises
    ------
    IDXError
        If the dtype or the number of dimensions cannot be represented in IDX.

    Notes
    -----
    The gzip header gets no file name and mtime 0, so the same array always
    gives byte-identical files (and therefore the same checksum).
    """
    path = Path(path)
    array = np.asarray(array)
    native_to_code = {dt.newbyteorder("="): code for code, dt in IDX_DTYPES.items()}
    code = native_to_code.get(array.dtype.newbyteorder("="))
    if code is None:
        supported = ", ".join(str(dt.newbyteorder("=")) for dt in IDX_DTYPES.values())
        raise _fail(path, f"cannot write dtype {array.dtype} as IDX (supported: {supported})")
    if not 1 <= array.ndim <= _MAX_DIMS:
        raise _fail(path, f"cannot write a {array.ndim}-D array as IDX (1 to {_MAX_DIMS} dims)")
    if any(d >= 2**32 for d in array.shape):
        raise _fail(path, f"dimension too large for IDX: {array.shape}")

    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    payload = np.ascontiguousarray(array, dtype=IDX_DTYPES[code]).tobytes()

    if path.name.endswith(".gz"):
        buf = io.BytesIO()
        with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0) as gz:
            gz.write(header)
            gz.write(payload)
        path.write_bytes(buf.getvalue())
    else:
        path.write_bytes(header + payload)


def read_md5sums(sums_path: os.PathLike | str) -> dict[str, str]:
    """Parse an ``MD5SUMS`` file as written by ``md5sum``.

    Parameters
    ----------
    sums_path : str or path-like
        File with lines ``<md5>  <filename>`` (``<md5> *<filename>`` for
        binary mode also accepted). Blank lines and ``#`` comments are ignored.

    Returns
    -------
    dict of str to str
        File name -> lower-case hex MD5.

    Raises
    ------
    IDXError
        On a line that is not in that format (naming the line number).
    """
    sums: dict[str, str] = {}
    text = Path(sums_path).read_text(encoding="utf-8", errors="replace")
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        m = _MD5_LINE.match(line.strip())
        if m is None:
            raise _fail(
                sums_path,
                f"line {lineno} is not '<32 hex digits>  <file name>': {line!r}",
            )
        sums[m.group(2)] = m.group(1).lower()
    return sums


def _digest_of(path: Path, algorithm: str) -> str:
    h = hashlib.new(algorithm, usedforsecurity=False)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _md5_of(path: Path) -> str:
    return _digest_of(path, "md5")


def verify_sha256(path: os.PathLike | str, expected: str) -> str:
    """Check a file's SHA-256.

    Parameters
    ----------
    path : str or path-like
        The file to check.
    expected : str
        64 hex digits.

    Returns
    -------
    str
        The verified SHA-256 (lower-case hex).

    Raises
    ------
    IDXError
        If the digest differs (naming the file, the expected and the actual value).
    """
    path = Path(path)
    actual = _digest_of(path, "sha256")
    if actual != expected.lower():
        raise _fail(
            path,
            f"SHA-256 checksum mismatch: expected {expected.lower()}, got {actual}; "
            f"the file is damaged or is not the file it is named after",
        )
    return actual


def verify_checksum(path: os.PathLike | str, expected_md5: str | None = None) -> str | None:
    """Check a file's MD5 against the value it is supposed to have.

    The expected value is, in order of precedence: ``expected_md5``; the
    entry for the file's name in an ``MD5SUMS`` file in the same folder;
    :data:`OFFICIAL_MD5` for the four official MNIST ``.gz`` file names.
    Only the gzip files have published checksums, so plain (decompressed)
    files normally have no expected value and are left to the structural
    checks of :func:`read_idx`.

    Parameters
    ----------
    path : str or path-like
        The file to check.
    expected_md5 : str, optional
        32 hex digits; overrides every other source.

    Returns
    -------
    str or None
        The verified MD5 (lower-case hex), or None when no expected checksum
        is known for this file (nothing was checked).

    Raises
    ------
    IDXError
        If the checksum does not match (naming the file, the expected and
        the actual value and where the expected value came from), or if the
        folder's ``MD5SUMS`` is malformed.
    """
    path = Path(path)
    origin = "given"
    if expected_md5 is None:
        sums_file = path.parent / "MD5SUMS"
        if sums_file.is_file():
            listed = read_md5sums(sums_file)
            if path.name in listed:
                expected_md5, origin = listed[path.name], f"listed in {sums_file}"
        if expected_md5 is None and path.name in OFFICIAL_MD5:
            expected_md5, origin = OFFICIAL_MD5[path.name], "official MNIST checksum"
    if expected_md5 is None:
        return None

    actual = _md5_of(path)
    if actual != expected_md5.lower():
        raise _fail(
            path,
            f"MD5 checksum mismatch: expected {expected_md5.lower()} ({origin}), "
            f"got {actual}; the file is damaged (e.g. an interrupted download) "
            f"or is not the file it is named after",
        )
    return actual
