"""A safe file format for values that cross from a student's kernel to the trusted grader.

The grader must never unpickle what a student's kernel wrote (unpickling runs code), so values are
encoded as JSON plus numeric arrays in ``.npy`` records read with ``allow_pickle=False``. Supported:
None, bool, int, float, str, numeric ndarrays and numpy scalars, lists, tuples, dicts with str/int
keys, numpy Generators (their state) and the test functions of :data:`nnlab.checks.KNOWN_FUNCTIONS`
(their numbers: the class is looked up in that list, never imported by name). Anything else becomes an
``Opaque`` placeholder naming its type, which fails every check it meets.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nnlab.checks import KNOWN_FUNCTIONS

MAX_DEPTH = 20


@dataclass(frozen=True)
class Opaque:
    """Stands for a value of a type the exchange format does not carry."""

    type_name: str

    def __repr__(self) -> str:
        return f"<a {self.type_name}>"


def _float(value: float) -> Any:
    return value if math.isfinite(value) else repr(value)


def encode(value: Any, arrays: list[np.ndarray], depth: int = 0) -> Any:
    """JSON-able description of ``value``; arrays are appended to ``arrays`` and referred to by index."""
    if depth > MAX_DEPTH:
        return {"t": "opaque", "type": "deeply nested value"}
    if value is None:
        return {"t": "none"}
    if isinstance(value, (bool, np.bool_)):
        return {"t": "bool", "v": bool(value)}
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in "biuf":
            return {"t": "opaque", "type": f"ndarray of dtype {value.dtype}"}
        # in the caller's memory order: a Fortran-ordered X read in C order makes every column slice of
        # the student's code strided (a minibatch epoch on MNIST half as fast as the same call in-process)
        arrays.append(value if value.flags.f_contiguous else np.ascontiguousarray(value))
        return {"t": "ndarray", "i": len(arrays) - 1}
    if isinstance(value, np.generic):
        if value.dtype.kind not in "biuf":
            return {"t": "opaque", "type": f"numpy {value.dtype}"}
        return {
            "t": "scalar",
            "dtype": value.dtype.str,
            "v": _float(value.item()) if value.dtype.kind == "f" else value.item(),
        }
    if isinstance(value, int):
        return {"t": "int", "v": value}
    if isinstance(value, float):
        return {"t": "float", "v": _float(value)}
    if isinstance(value, str):
        return {"t": "str", "v": value}
    if isinstance(value, (list, tuple)):
        return {"t": type(value).__name__, "v": [encode(v, arrays, depth + 1) for v in value]}
    if isinstance(value, dict):
        items = [
            [encode(k, arrays, depth + 1), encode(v, arrays, depth + 1)]
            for k, v in value.items()
            if isinstance(k, (str, int))
        ]
        if len(items) != len(value):
            return {"t": "opaque", "type": "dict with keys that are not str or int"}
        return {"t": "dict", "v": items}
    return _encode_object(value, arrays, depth)


def _encode_object(value: Any, arrays: list[np.ndarray], depth: int) -> Any:
    """What :func:`encode` makes of a value that is not a number, a string, an array or a container."""
    if isinstance(value, np.random.Generator):
        return {"t": "rng", "state": value.bit_generator.state}
    if type(value) in KNOWN_FUNCTIONS:
        return {"t": "function", "name": type(value).__name__, "v": encode(dict(vars(value)), arrays, depth + 1)}
    return {"t": "opaque", "type": type(value).__name__}


def decode(description: Any, arrays: list[np.ndarray]) -> Any:
    kind = description["t"]
    if kind == "none":
        return None
    if kind in ("bool", "int", "str"):
        return description["v"]
    if kind == "float":
        return float(description["v"])
    if kind == "scalar":
        return np.dtype(description["dtype"]).type(
            float(description["v"]) if isinstance(description["v"], str) else description["v"]
        )
    if kind == "ndarray":
        return arrays[description["i"]].copy(order="K")
    if kind == "list":
        return [decode(v, arrays) for v in description["v"]]
    if kind == "tuple":
        return tuple(decode(v, arrays) for v in description["v"])
    if kind == "dict":
        return {decode(k, arrays): decode(v, arrays) for k, v in description["v"]}
    if kind == "rng":
        rng = np.random.default_rng()
        rng.bit_generator.state = description["state"]
        return rng
    if kind == "function":
        known = {cls.__name__: cls for cls in KNOWN_FUNCTIONS}
        fields = decode(description["v"], arrays)
        if description.get("name") in known and isinstance(fields, dict):
            try:
                return known[description["name"]](**fields)
            except TypeError:
                pass
    return Opaque(description.get("type", "unknown"))


def save(path: Path, value: Any) -> None:
    """Write ``value`` to ``path``, atomically: its JSON description, then each array, as ``.npy`` records.

    One ``.npy`` record after another in one file, not an ``.npz``: a zip archive costs a copy and a CRC
    of every byte each way, which made passing MNIST's training images to a student's function a third
    slower than the function itself.
    """
    arrays: list[np.ndarray] = []
    structure = json.dumps(encode(value, arrays))
    partial = path.with_name(path.name + ".partial")
    with open(partial, "wb") as file:
        np.save(file, np.frombuffer(structure.encode(), dtype=np.uint8), allow_pickle=False)
        for array in arrays:
            np.save(file, array, allow_pickle=False)
    partial.replace(path)


def load(path: Path) -> Any:
    """Read a value written by :func:`save`, never unpickling anything."""
    records: list[np.ndarray] = []
    with open(path, "rb") as file:
        end = os.fstat(file.fileno()).st_size
        while file.tell() < end:
            record = np.load(file, allow_pickle=False)
            if not isinstance(record, np.ndarray):  # an .npz's magic: not what save writes
                raise ValueError(f"{path.name} is not in the grader's exchange format")
            records.append(record)
    if not records or records[0].dtype != np.uint8:
        raise ValueError(f"{path.name} is not in the grader's exchange format")
    structure = json.loads(records[0].tobytes().decode())
    return decode(structure, records[1:])
