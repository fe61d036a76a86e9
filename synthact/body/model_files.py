"""Find and read SMPL-H model files into plain numpy arrays.

smplx infers the model type from a file name and expects fields that not every
real release has, so SynthAct reads the file itself and hands smplx a ready
``Struct``. Both real SMPL-H forms load as they are, with no conversion step:

- AMASS's ``smplh/{male,female,neutral}/model.npz`` (16 betas, no hand PCA
  fields: they are filled in), and ``SMPLH_{GENDER}.npz`` files;
- the MANO site's ``SMPLH_{MALE,FEMALE}.pkl`` (10 betas, Python 2 pickles of
  chumpy objects with a scipy.sparse ``J_regressor``). These are read by a
  restricted unpickler that stands in for chumpy and scipy, so neither needs to
  be installed, and that refuses every other global, so a pickle cannot run code.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from synthact.errors import SynthActError
from synthact.safe_unpickle import RestrictedUnpickler

REQUIRED_KEYS = ("v_template", "f", "J_regressor", "weights", "kintree_table", "shapedirs", "posedirs")
HAND_PCA_KEYS = ("hands_componentsl", "hands_componentsr", "hands_meanl", "hands_meanr")
GENDERS = ("male", "female", "neutral")
NUM_MODEL_JOINTS = 52
NUM_POSE_BASIS = 459  # 51 non-root joints x 9 rotation-matrix entries
HAND_DIM = 45


class BodyModelError(SynthActError, ValueError):
    """A body model file is missing or malformed."""


# --------------------------------------------------------------------------- finding


def smplh_candidates(gender: str) -> tuple[tuple[str, ...], ...]:
    """Relative paths tried for ``gender`` inside a model folder, in search order."""
    g = _check_gender(gender)
    upper = f"SMPLH_{g.upper()}"
    return (
        ("smplh", f"{upper}.npz"),
        (f"{upper}.npz",),
        ("smplh", g, "model.npz"),
        (g, "model.npz"),
        (f"{upper}.pkl",),
        ("smplh", f"{upper}.pkl"),
    )


def find_smplh_file(model_path: str | Path, gender: str) -> Path:
    """Resolve a model folder or file to the file for ``gender``.

    A folder may hold, in this order of preference: ``smplh/SMPLH_{GENDER}.npz``,
    ``SMPLH_{GENDER}.npz``, ``smplh/{gender}/model.npz``, ``{gender}/model.npz``,
    ``SMPLH_{GENDER}.pkl`` or ``smplh/SMPLH_{GENDER}.pkl``. Names match
    case-insensitively (MANO ships ``SMPLH_male.pkl``).

    Raises:
        BodyModelError: nothing found; the message lists what was tried and
            which other genders the folder does have.
    """
    path = Path(model_path)
    if path.is_file():
        return path
    if not path.is_dir():
        raise BodyModelError(f"SMPL-H model path {path} does not exist")
    found = _first_candidate(path, gender)
    if found is not None:
        return found
    raise BodyModelError(_not_found_message(path, gender))


def _check_gender(gender: str) -> str:
    g = gender.lower()
    if g not in GENDERS:
        raise BodyModelError(f"unknown gender {gender!r}; expected one of {', '.join(GENDERS)}")
    return g


def _first_candidate(folder: Path, gender: str) -> Path | None:
    for parts in smplh_candidates(gender):
        found = _resolve_case_insensitive(folder, parts)
        if found is not None:
            return found
    return None


def _resolve_case_insensitive(folder: Path, parts: tuple[str, ...]) -> Path | None:
    current = folder
    for part in parts:
        exact = current / part
        if exact.exists():
            current = exact
            continue
        if not current.is_dir():
            return None
        matches = sorted(c for c in current.iterdir() if c.name.lower() == part.lower())
        if not matches:
            return None
        current = matches[0]
    return current if current.is_file() else None


def _not_found_message(folder: Path, gender: str) -> str:
    tried = ", ".join("/".join(p) for p in smplh_candidates(gender))
    message = f"no SMPL-H model for gender {gender!r} under {folder} (looked for {tried})"
    others = {g: _first_candidate(folder, g) for g in GENDERS if g != gender.lower()}
    available = {g: p for g, p in others.items() if p is not None}
    if available:
        listing = ", ".join(f"{g} ({p})" for g, p in available.items())
        message += f". This folder has: {listing}. Use gender={next(iter(available))!r}"
        if gender.lower() == "neutral":
            message += ", or add AMASS's smplh/neutral/model.npz (MANO's SMPL-H has no neutral model)"
    return message


# --------------------------------------------------------------------------- loading


def load_smplh_arrays(model_path: str | Path, gender: str) -> tuple[Path, dict[str, np.ndarray]]:
    """Read the model for ``gender``; returns the file used and its arrays.

    The arrays are validated (shapes, face indices) and completed with the hand
    PCA fields smplx reads even with ``use_pca=False``.
    """
    path = find_smplh_file(model_path, gender)
    return path, read_smplh_file(path)


def read_smplh_file(path: Path) -> dict[str, np.ndarray]:
    """Read, complete and validate one SMPL-H file (``.npz`` or ``.pkl``)."""
    path = Path(path)
    reader = _read_pickle if path.suffix.lower() == ".pkl" else _read_npz
    try:
        arrays = reader(path)
    except BodyModelError:
        raise
    except Exception as exc:  # zipfile, OSError, UnpicklingError, ...: all mean "unreadable"
        raise BodyModelError(f"{path}: cannot read SMPL-H model: {type(exc).__name__}: {exc}") from exc
    missing = [k for k in REQUIRED_KEYS if k not in arrays]
    if missing:
        raise BodyModelError(f"{path}: SMPL-H model lacks keys {missing}")
    for key in HAND_PCA_KEYS:
        # Hand PCA is unused with use_pca=False, but smplx reads the fields.
        arrays.setdefault(key, np.eye(HAND_DIM) if key.startswith("hands_components") else np.zeros(HAND_DIM))
    _validate(path, arrays)
    return arrays


def read_body_model_arrays(path: str | Path) -> dict[str, np.ndarray]:
    """The plain arrays of any SMPL-family file (SMPL, SMPL-X, ...), ``.npz`` or ``.pkl``, unvalidated.

    For callers that need only a few arrays of a model that is not SMPL-H (the
    estimates source reads SMPL's and SMPL-X's shape space); chumpy and sparse
    entries become plain arrays as for SMPL-H files.
    """
    path = Path(path)
    reader = _read_pickle if path.suffix.lower() == ".pkl" else _read_npz
    try:
        return reader(path)
    except BodyModelError:
        raise
    except Exception as exc:  # zipfile, OSError, UnpicklingError, ...: all mean "unreadable"
        raise BodyModelError(f"{path}: cannot read body model: {type(exc).__name__}: {exc}") from exc


def as_struct(arrays: dict[str, np.ndarray]) -> Any:
    """Wrap arrays the way smplx's own loader does (a ``smplx.utils.Struct``)."""
    from smplx.utils import Struct

    return Struct(**arrays)


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    arrays: dict[str, np.ndarray] = {}
    with np.load(path, allow_pickle=False) as data:
        for key in data.files:
            try:
                arrays[key] = data[key]
            except ValueError as exc:  # an object array: needs pickle, which we refuse
                if key in REQUIRED_KEYS:
                    raise BodyModelError(f"{path}: key {key!r} is a pickled object array: {exc}") from exc
    return arrays


def _read_pickle(path: Path) -> dict[str, np.ndarray]:
    with path.open("rb") as handle:
        # latin1: the MANO files are Python 2 pickles whose numpy buffers are byte strings.
        raw = _ModelUnpickler(handle, encoding="latin1").load()
    if not isinstance(raw, dict):
        raise BodyModelError(f"{path}: expected a pickled dict, got {type(raw).__name__}")
    arrays: dict[str, np.ndarray] = {}
    for key, value in raw.items():
        array = _plain_array(path, str(key), value)
        if array is not None:
            arrays[str(key)] = array
    return arrays


def _plain_array(path: Path, key: str, value: Any) -> np.ndarray | None:
    """A pickled value as a numpy array; None for values smplx has no use for."""
    if isinstance(value, _ChumpyStandIn):
        return value.to_array(f"{path}: key {key!r}")
    if isinstance(value, _SparseStandIn):
        return value.to_dense()
    if isinstance(value, (np.ndarray, np.generic, str, int, float)):
        return np.asarray(value)
    return None


# --------------------------------------------------------------------------- validation


def _validate(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Check the shapes smplx relies on, naming file and key on failure."""
    v = arrays["v_template"]
    _expect(path, "v_template", v.ndim == 2 and v.shape[1] == 3, v.shape, "(V, 3)")
    n = v.shape[0]
    j = NUM_MODEL_JOINTS
    checks: dict[str, tuple[Callable[[tuple[int, ...]], bool], str]] = {
        "f": (lambda s: len(s) == 2 and s[1] == 3, "(F, 3)"),
        "weights": (lambda s: s == (n, j), f"({n}, {j})"),
        "J_regressor": (lambda s: s == (j, n), f"({j}, {n})"),
        "shapedirs": (lambda s: len(s) == 3 and s[:2] == (n, 3) and s[2] > 0, f"({n}, 3, num_betas)"),
        "posedirs": (lambda s: s == (n, 3, NUM_POSE_BASIS), f"({n}, 3, {NUM_POSE_BASIS})"),
        "kintree_table": (lambda s: s == (2, j), f"(2, {j})"),
        "hands_componentsl": (lambda s: len(s) == 2 and s[1] == HAND_DIM, f"(K, {HAND_DIM})"),
        "hands_componentsr": (lambda s: len(s) == 2 and s[1] == HAND_DIM, f"(K, {HAND_DIM})"),
        "hands_meanl": (lambda s: s == (HAND_DIM,), f"({HAND_DIM},)"),
        "hands_meanr": (lambda s: s == (HAND_DIM,), f"({HAND_DIM},)"),
    }
    for key, (ok, expected) in checks.items():
        shape = tuple(arrays[key].shape)
        _expect(path, key, ok(shape), shape, expected)
    _validate_faces(path, arrays["f"], n)


def _validate_faces(path: Path, faces: np.ndarray, num_vertices: int) -> None:
    if not np.issubdtype(faces.dtype, np.integer):
        raise BodyModelError(f"{path}: key 'f' has dtype {faces.dtype}, expected integers")
    if faces.size and (faces.min() < 0 or faces.max() >= num_vertices):
        raise BodyModelError(f"{path}: key 'f' indexes vertices outside 0..{num_vertices - 1}")


def _expect(path: Path, key: str, ok: bool, shape: tuple[int, ...], expected: str) -> None:
    if not ok:
        raise BodyModelError(f"{path}: key {key!r} has shape {shape}, expected {expected}")


# --------------------------------------------------------------------------- legacy pickles


class _ChumpyStandIn:
    """Captures a pickled chumpy object's state; evaluates the few forms model files use.

    chumpy pickles an object as its class plus ``__dict__`` (minus caches). A
    plain ``Ch`` keeps its value in ``x``; the reorderings keep their input in
    ``a`` and their parameters beside it.
    """

    chumpy_class = "chumpy.ch.Ch"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # Reached only if a pickle calls the class (REDUCE); NEWOBJ skips __init__.
        self._state: dict[str, Any] = dict(kwargs)
        if args:
            self._state.setdefault("x", args[0])

    def __setstate__(self, state: Any) -> None:
        if isinstance(state, tuple):  # (dict state, slot state) form
            state = state[0] or {}
        self._state = dict(state)

    def to_array(self, where: str) -> np.ndarray:
        """The value this object stands for, as a numpy array."""
        name = self.chumpy_class.rsplit(".", 1)[-1]
        operands = {"x", "a"} & self._state.keys()
        if name in _CHUMPY_EVALUATORS and operands:
            return np.asarray(_CHUMPY_EVALUATORS[name](self._state, where))
        raise BodyModelError(
            f"{where} is a chumpy {self.chumpy_class} expression that cannot be evaluated without "
            f"chumpy (state keys: {sorted(self._state)}); export the model to .npz"
        )


def _operand(value: Any, where: str) -> np.ndarray:
    if isinstance(value, _ChumpyStandIn):
        return value.to_array(where)
    return np.asarray(value)


def _select(state: dict[str, Any], where: str) -> np.ndarray:
    picked = _operand(state["a"], where).ravel()[np.asarray(state["idxs"])]
    return picked.reshape(state["preferred_shape"]) if "preferred_shape" in state else picked


_CHUMPY_EVALUATORS: dict[str, Callable[[dict[str, Any], str], np.ndarray]] = {
    "Ch": lambda s, w: _operand(s["x"], w),
    "transpose": lambda s, w: np.transpose(_operand(s["a"], w), s.get("axes")),
    "Reshape": lambda s, w: _operand(s["a"], w).reshape(s["newshape"]),
    "Select": _select,
}


class _SparseStandIn:
    """Captures a pickled scipy.sparse matrix and rebuilds it as a dense array."""

    sparse_format = "csc"

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._state = dict(state)

    def to_dense(self) -> np.ndarray:
        """Dense copy; duplicate entries add up, as in scipy."""
        s = self._state
        shape = tuple(int(d) for d in (s.get("_shape") or s["shape"]))
        data = np.asarray(s["data"])
        if self.sparse_format == "coo":
            rows, cols = np.asarray(s["row"]), np.asarray(s["col"])
        else:
            indptr = np.asarray(s["indptr"])
            major = np.repeat(np.arange(len(indptr) - 1), np.diff(indptr))
            minor = np.asarray(s["indices"])
            rows, cols = (minor, major) if self.sparse_format == "csc" else (major, minor)
        dense = np.zeros(shape, dtype=data.dtype)
        np.add.at(dense, (rows, cols), data)
        return dense


_SPARSE_FORMATS = {"csc_matrix": "csc", "csr_matrix": "csr", "coo_matrix": "coo"}


class _ModelUnpickler(RestrictedUnpickler):
    """Plain data (the shared restricted table), chumpy and scipy.sparse stand-ins, nothing else."""

    _stand_ins: ClassVar[dict[tuple[str, str], type]] = {}  # shared by every unpickler, by design
    refusal = "not part of a body model file"

    def find_class(self, module: str, name: str) -> Any:
        if module == "chumpy" or module.startswith("chumpy."):
            return self._stand_in((module, name), _ChumpyStandIn, chumpy_class=f"{module}.{name}")
        if module.startswith("scipy.sparse") and name in _SPARSE_FORMATS:
            return self._stand_in((module, name), _SparseStandIn, sparse_format=_SPARSE_FORMATS[name])
        return super().find_class(module, name)

    @classmethod
    def _stand_in(cls, key: tuple[str, str], base: type, **attrs: str) -> type:
        # One subclass per pickled class, so that each object knows what it stood for.
        if key not in cls._stand_ins:
            cls._stand_ins[key] = type(f"StandIn_{key[1]}", (base,), attrs)
        return cls._stand_ins[key]
