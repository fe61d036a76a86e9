"""Unpickling that cannot run code: only plain data comes out of a pickle.

A pickle names the callables that rebuild its objects, so loading one from
someone else (an estimator's output shared between groups, a body model
downloaded from a mirror) can run anything. Every pickle SynthAct reads goes
through :class:`RestrictedUnpickler`, which admits the globals that plain data
needs (numpy arrays, scalars and dtypes; dicts, lists, tuples, sets, strings
and numbers need no global at all) and refuses every other one before it is
called. Readers of richer files (the body model's chumpy and scipy stand-ins)
subclass it and add their own names.

Three containers hold such pickles: plain pickle files, joblib dumps (a pickle
stream whose arrays are ``NumpyArrayWrapper`` objects followed by their raw
bytes) and ``np.save`` files of object arrays (a header, then a pickle).
"""

from __future__ import annotations

import contextlib
import importlib
import pickle
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, ClassVar

import numpy as np

from synthact.errors import SynthActError


class UnsafePickleError(SynthActError, ValueError):
    """A pickle names a type that plain data does not need; the message names the file and the type."""


class RefusedGlobal(SynthActError, pickle.UnpicklingError):
    """Raised from ``find_class``: the pickle asked for ``qualified_name``, which is not admitted."""

    def __init__(self, qualified_name: str, reason: str):
        super().__init__(f"refusing to load {qualified_name}: {reason}")
        self.qualified_name = qualified_name


def _plain_data_globals() -> dict[tuple[str, str], Any]:
    """The globals numpy arrays, scalars and dtypes pickle with (numpy 1 and 2, Python 2 and 3 spellings)."""
    import _codecs
    import collections
    import copyreg

    from numpy._core import multiarray  # numpy 2 name; numpy >= 1.26 ships it too

    try:
        numeric = importlib.import_module("numpy._core.numeric")
    except ImportError:  # numpy 1.26 has it under its old name only
        numeric = importlib.import_module("numpy.core.numeric")

    table: dict[tuple[str, str], Any] = {("numpy", "ndarray"): np.ndarray, ("numpy", "dtype"): np.dtype}
    for module in ("numpy.core.multiarray", "numpy._core.multiarray"):
        table[(module, "_reconstruct")] = multiarray._reconstruct  # type: ignore[attr-defined]
        table[(module, "scalar")] = multiarray.scalar  # type: ignore[attr-defined]
    for module in ("numpy.core.numeric", "numpy._core.numeric"):
        table[(module, "_frombuffer")] = numeric._frombuffer  # protocol 5 arrays
    for module in ("copy_reg", "copyreg"):
        table[(module, "_reconstructor")] = copyreg._reconstructor  # type: ignore[attr-defined]
    for module in ("__builtin__", "builtins"):
        table.update({(module, "object"): object, (module, "set"): set, (module, "frozenset"): frozenset})
    table[("_codecs", "encode")] = _codecs.encode  # how Python 3 protocol-2 pickles write bytes
    table[("collections", "OrderedDict")] = collections.OrderedDict
    return table


PLAIN_DATA_GLOBALS = _plain_data_globals()


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that admits ``PLAIN_DATA_GLOBALS`` plus a subclass's ``extra_globals``, nothing else."""

    extra_globals: ClassVar[dict[tuple[str, str], Any]] = {}
    refusal = "not plain data (arrays, numbers, strings, containers)"

    def find_class(self, module: str, name: str) -> Any:
        return admitted_global(module, name, self.extra_globals, self.refusal)


def admitted_global(module: str, name: str, extra: dict[tuple[str, str], Any], refusal: str) -> Any:
    """The object a pickle may name as ``module.name``; :class:`RefusedGlobal` for anything else."""
    key = (module, name)
    if key in PLAIN_DATA_GLOBALS:
        return PLAIN_DATA_GLOBALS[key]
    if key in extra:
        return extra[key]
    raise RefusedGlobal(f"{module}.{name}", refusal)


def refusal_error(path: Path, exc: RefusedGlobal, what: str) -> UnsafePickleError:
    return UnsafePickleError(
        f"{path}: refusing to load type {exc.qualified_name}: a {what} holds only arrays, numbers, strings"
        " and containers, so this file would run code or is not one; load only files whose origin you trust"
    )


def load_pickle_file(path: Path, what: str, encoding: str = "ASCII") -> Any:
    """A plain pickle file through :class:`RestrictedUnpickler`; ``what`` names the file's kind in messages."""
    with path.open("rb") as handle:
        try:
            return RestrictedUnpickler(handle, encoding=encoding).load()
        except RefusedGlobal as exc:
            raise refusal_error(path, exc, what) from None


NPY: Any = np.lib.format  # its readers are not annotated


def load_npy(path: Path, what: str) -> Any:
    """An ``np.save`` file; an object array's pickle goes through :class:`RestrictedUnpickler`."""
    with path.open("rb") as handle:
        version = NPY.read_magic(handle)
        header = _header_reader(version)
        if header is None:  # a newer header: numpy reads it, refusing pickles
            handle.seek(0)
            return NPY.read_array(handle, allow_pickle=False)
        _, _, dtype = header(handle)
        if not dtype.hasobject:
            handle.seek(0)
            return NPY.read_array(handle, allow_pickle=False)
        try:
            return RestrictedUnpickler(handle).load()
        except RefusedGlobal as exc:
            raise refusal_error(path, exc, what) from None


def _header_reader(version: tuple[int, int]) -> Any:
    readers = {(1, 0): NPY.read_array_header_1_0, (2, 0): NPY.read_array_header_2_0}
    return readers.get(version)


def load_joblib_file(path: Path, what: str) -> Any:
    """A ``joblib.dump`` file (any of joblib's compressions), without ``joblib.load``'s open unpickler."""
    unpickler_class = _joblib_unpickler_class()
    with path.open("rb") as raw, _joblib_stream(raw, path) as stream:
        if isinstance(stream, str):
            raise UnsafePickleError(f"{path}: written by joblib < 0.10 (arrays in companion files); not read")
        try:
            return unpickler_class(str(path), stream, ensure_native_byte_order=True).load()
        except RefusedGlobal as exc:
            raise refusal_error(path, exc, what) from None


@contextlib.contextmanager
def _joblib_stream(raw: IO[bytes], path: Path) -> Iterator[Any]:
    """The decompressed stream, as ``joblib.load`` opens it (the helper's name changed in joblib 1.5)."""
    from joblib import numpy_pickle_utils as utils

    opener = getattr(utils, "_validate_fileobject_and_memmap", None)
    if opener is not None:
        with opener(raw, str(path), None) as (stream, _):
            yield stream
    else:
        with utils._read_fileobject(raw, str(path), None) as stream:
            yield stream


_JOBLIB_CLASSES: dict[str, type] = {}


def _joblib_unpickler_class() -> type:
    """joblib's ``NumpyUnpickler`` restricted to plain data and its own array wrapper.

    Built on first use: joblib is imported only by readers of joblib files.
    The wrapper reads an object array's nested pickle itself, through the
    restricted unpickler, because older joblib versions read it with a plain
    ``pickle.load``.
    """
    if "unpickler" in _JOBLIB_CLASSES:
        return _JOBLIB_CLASSES["unpickler"]
    from joblib.numpy_pickle import NumpyArrayWrapper, NumpyUnpickler  # type: ignore[import-untyped]

    class CheckedArrayWrapper(NumpyArrayWrapper):  # type: ignore[misc]
        def read_array(self, unpickler: Any, *args: Any, **kwargs: Any) -> Any:
            if self.dtype.hasobject:
                return RestrictedUnpickler(unpickler.file_handle).load()
            return super().read_array(unpickler, *args, **kwargs)

    wrapper_key = ("joblib.numpy_pickle", "NumpyArrayWrapper")

    class RestrictedJoblibUnpickler(NumpyUnpickler):  # type: ignore[misc]
        def find_class(self, module: str, name: str) -> Any:
            return admitted_global(module, name, {wrapper_key: CheckedArrayWrapper}, RestrictedUnpickler.refusal)

    _JOBLIB_CLASSES["unpickler"] = RestrictedJoblibUnpickler
    return RestrictedJoblibUnpickler
