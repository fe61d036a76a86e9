"""SMPL-H model files in every real form, loaded without chumpy, scipy or conversion."""

from __future__ import annotations

import io
import os
import pickle
import struct
import sys
import types
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest

from synthact.body import model_files
from synthact.body.model_files import BodyModelError, find_smplh_file, load_smplh_arrays, smplh_candidates

J = 52


def _model_arrays(num_vertices: int, num_betas: int, seed: int = 0, hands: bool = True) -> dict[str, np.ndarray]:
    """A structurally valid SMPL-H model with random-ish values."""
    rng = np.random.default_rng(seed)
    n = num_vertices
    weights = rng.random((n, J))
    regressor = np.zeros((J, n))
    regressor[np.arange(J), rng.integers(0, n, J)] = 1.0  # each joint sits on one vertex
    kintree = np.array([[4294967295, *range(J - 1)], range(J)], dtype=np.int64)
    arrays = {
        "v_template": rng.normal(size=(n, 3)) * 0.3,
        "f": rng.integers(0, n, size=(2 * n - 4, 3)).astype(np.uint32),
        "J_regressor": regressor,
        "weights": weights / weights.sum(1, keepdims=True),
        "kintree_table": kintree,
        "shapedirs": rng.normal(size=(n, 3, num_betas)) * 0.01,
        "posedirs": np.zeros((n, 3, 459), dtype=np.float32),
        "bs_style": np.array("lbs"),
    }
    if hands:
        for side in "lr":
            arrays[f"hands_components{side}"] = np.eye(45)[::-1].copy()
            arrays[f"hands_mean{side}"] = np.full(45, 0.1)
    return arrays


# --------------------------------------------------------------------------- Python-2 chumpy pickles


class _Py2Pickler(pickle._Pickler):  # type: ignore[name-defined]
    """Writes bytes as Python 2 ``str`` opcodes, like the MANO-era cPickle files."""

    dispatch: ClassVar[dict] = dict(pickle._Pickler.dispatch)  # type: ignore[attr-defined]

    def save_py2_str(self, obj: bytes) -> None:
        if len(obj) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(obj)]) + obj)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(obj)) + obj)
        self.memoize(obj)

    dispatch[bytes] = save_py2_str


def _fake_chumpy_modules() -> dict[str, types.ModuleType]:
    """Modules named like chumpy's and scipy's, with classes that pickle as theirs do."""

    class Ch:
        def __init__(self, x: np.ndarray) -> None:
            # What chumpy keeps in __dict__ for a plain value (caches are dropped when pickling).
            self.__dict__.update(
                x=x, _dirty_vars=set(), _itr=None, _make_dense=False, _make_sparse=False, _depends_on_deps={}
            )

    class transpose:
        def __init__(self, a: Ch, axes: tuple[int, ...]) -> None:
            self.__dict__.update(a=a, axes=axes, _dirty_vars={"a"}, _itr=None)

    class csc_matrix:
        def __init__(self, dense: np.ndarray) -> None:
            rows, cols = np.nonzero(dense.T)[::-1]  # column-major order, as CSC stores it
            self.data = dense[rows, cols]
            self.indices = rows.astype(np.int32)
            self.indptr = np.concatenate([[0], np.cumsum(np.bincount(cols, minlength=dense.shape[1]))]).astype(np.int32)
            self._shape = dense.shape
            self.maxprint = 50
            self.format = "csc"

    modules = {
        name: types.ModuleType(name)
        for name in ("chumpy", "chumpy.ch", "chumpy.reordering", "scipy", "scipy.sparse", "scipy.sparse.csc")
    }
    for cls, module in ((Ch, "chumpy.ch"), (transpose, "chumpy.reordering"), (csc_matrix, "scipy.sparse.csc")):
        cls.__module__ = module
        cls.__qualname__ = cls.__name__
        setattr(modules[module], cls.__name__, cls)
    return modules


@contextmanager
def _installed(modules: dict[str, types.ModuleType]) -> Iterator[None]:
    saved = {name: sys.modules.get(name) for name in modules}
    sys.modules.update(modules)
    try:
        yield
    finally:
        for name, previous in saved.items():
            if previous is None:
                del sys.modules[name]
            else:
                sys.modules[name] = previous


def _write_mano_pickle(path: Path, arrays: dict[str, np.ndarray], protocol: int = 2) -> None:
    """Write ``arrays`` the way MANO's SMPLH_*.pkl holds them: chumpy values, sparse regressor."""
    modules = _fake_chumpy_modules()
    ch, reordering, sparse = modules["chumpy.ch"], modules["chumpy.reordering"], modules["scipy.sparse.csc"]
    with _installed(modules):
        content: dict[str, object] = dict(arrays)
        content["v_template"] = ch.Ch(arrays["v_template"])
        content["shapedirs"] = ch.Ch(arrays["shapedirs"])
        # weights as a lazy transpose of a Ch, a reordering the loader evaluates.
        content["weights"] = reordering.transpose(ch.Ch(np.ascontiguousarray(arrays["weights"].T)), (1, 0))
        content["J_regressor"] = sparse.csc_matrix(arrays["J_regressor"])
        content["J_regressor_prior"] = sparse.csc_matrix(arrays["J_regressor"][:24])
        buffer = io.BytesIO()
        _Py2Pickler(buffer, protocol=protocol).dump(content)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buffer.getvalue())


# --------------------------------------------------------------------------- finding


def test_search_order() -> None:
    assert ["/".join(p) for p in smplh_candidates("Male")] == [
        "smplh/SMPLH_MALE.npz",
        "SMPLH_MALE.npz",
        "smplh/male/model.npz",
        "male/model.npz",
        "SMPLH_MALE.pkl",
        "smplh/SMPLH_MALE.pkl",
    ]


def test_npz_preferred_over_amass_model_and_pickle(tmp_path: Path) -> None:
    for relative in ("SMPLH_MALE.pkl", "smplh/male/model.npz", "SMPLH_MALE.npz"):
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_bytes(b"")
        assert find_smplh_file(tmp_path, "male") == tmp_path / relative


def test_names_match_case_insensitively(tmp_path: Path) -> None:
    (tmp_path / "SMPLH_female.pkl").write_bytes(b"")  # MANO's spelling
    assert find_smplh_file(tmp_path, "female") == tmp_path / "SMPLH_female.pkl"


def test_missing_neutral_suggests_the_genders_present(tmp_path: Path) -> None:
    (tmp_path / "SMPLH_MALE.pkl").write_bytes(b"")
    (tmp_path / "smplh").mkdir()
    (tmp_path / "smplh/SMPLH_FEMALE.pkl").write_bytes(b"")
    with pytest.raises(BodyModelError) as info:
        find_smplh_file(tmp_path, "neutral")
    message = str(info.value)
    assert "male (" in message and "female (" in message
    assert "gender='male'" in message and "neutral/model.npz" in message


def test_unknown_gender_and_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(BodyModelError, match="unknown gender"):
        find_smplh_file(tmp_path, "other")
    with pytest.raises(BodyModelError, match="does not exist"):
        find_smplh_file(tmp_path / "nope", "male")


# --------------------------------------------------------------------------- reading each form


def test_smplh_npz_with_hands(tmp_path: Path) -> None:
    arrays = _model_arrays(60, 16)
    (tmp_path / "smplh").mkdir()
    np.savez(tmp_path / "smplh/SMPLH_MALE.npz", **arrays)
    path, loaded = load_smplh_arrays(tmp_path, "male")
    assert path == tmp_path / "smplh/SMPLH_MALE.npz"
    np.testing.assert_array_equal(loaded["hands_componentsl"], arrays["hands_componentsl"])


def test_amass_model_npz_gets_hand_fields(tmp_path: Path) -> None:
    arrays = _model_arrays(60, 16, hands=False)
    (tmp_path / "smplh/neutral").mkdir(parents=True)
    np.savez(tmp_path / "smplh/neutral/model.npz", **arrays)
    path, loaded = load_smplh_arrays(tmp_path, "neutral")
    assert path.name == "model.npz"
    assert loaded["shapedirs"].shape == (60, 3, 16)
    np.testing.assert_array_equal(loaded["hands_componentsr"], np.eye(45))
    np.testing.assert_array_equal(loaded["hands_meanl"], np.zeros(45))


@pytest.mark.parametrize("protocol", [2, 1])  # cPickle -1 wrote 2; older tools wrote 0/1 (copy_reg)
def test_mano_pickle_loads_without_chumpy_or_scipy(tmp_path: Path, protocol: int) -> None:
    arrays = _model_arrays(60, 10, seed=3)
    _write_mano_pickle(tmp_path / "SMPLH_male.pkl", arrays, protocol)
    assert "chumpy" not in sys.modules and "chumpy.ch" not in sys.modules
    raw = (tmp_path / "SMPLH_male.pkl").read_bytes()
    assert b"chumpy.ch\nCh" in raw and b"scipy.sparse.csc\ncsc_matrix" in raw and pickle.BINSTRING in raw
    path, loaded = load_smplh_arrays(tmp_path, "male")
    assert path.name == "SMPLH_male.pkl"
    for key in ("v_template", "shapedirs", "weights", "J_regressor", "f", "kintree_table", "hands_meanr"):
        np.testing.assert_array_equal(loaded[key], arrays[key], err_msg=key)
        assert isinstance(loaded[key], np.ndarray)
    np.testing.assert_array_equal(loaded["J_regressor_prior"], arrays["J_regressor"][:24])
    assert "chumpy" not in sys.modules and "scipy" not in sys.modules


def test_pickle_with_other_globals_is_refused(tmp_path: Path) -> None:
    class Evil:
        def __reduce__(self) -> tuple[object, tuple[str]]:
            return (os.system, ("echo pwned",))

    (tmp_path / "SMPLH_MALE.pkl").write_bytes(pickle.dumps({"v_template": Evil()}, protocol=2))
    with pytest.raises(BodyModelError, match=r"refusing to load .*system"):
        load_smplh_arrays(tmp_path, "male")


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("key", "bad", "expected"),
    [
        ("weights", np.zeros((60, 24)), "(60, 52)"),
        ("J_regressor", np.zeros((24, 60)), "(52, 60)"),
        ("shapedirs", np.zeros((60, 10)), "(60, 3, num_betas)"),
        ("posedirs", np.zeros((60, 3, 207)), "(60, 3, 459)"),
        ("v_template", np.zeros((60, 2)), "(V, 3)"),
        ("kintree_table", np.zeros((2, 24), dtype=np.int64), "(2, 52)"),
    ],
)
def test_bad_shapes_name_file_and_key(tmp_path: Path, key: str, bad: np.ndarray, expected: str) -> None:
    arrays = _model_arrays(60, 16)
    arrays[key] = bad
    np.savez(tmp_path / "SMPLH_MALE.npz", **arrays)
    with pytest.raises(BodyModelError) as info:
        load_smplh_arrays(tmp_path, "male")
    message = str(info.value)
    assert "SMPLH_MALE.npz" in message and repr(key) in message and expected in message


def test_faces_out_of_range(tmp_path: Path) -> None:
    arrays = _model_arrays(60, 16)
    arrays["f"][0, 0] = 60
    np.savez(tmp_path / "SMPLH_MALE.npz", **arrays)
    with pytest.raises(BodyModelError, match=r"'f' indexes vertices outside 0\.\.59"):
        load_smplh_arrays(tmp_path, "male")


def test_missing_key_and_corrupt_file(tmp_path: Path) -> None:
    arrays = _model_arrays(60, 16)
    del arrays["posedirs"]
    np.savez(tmp_path / "SMPLH_MALE.npz", **arrays)
    with pytest.raises(BodyModelError, match=r"lacks keys \['posedirs'\]"):
        load_smplh_arrays(tmp_path, "male")
    (tmp_path / "SMPLH_FEMALE.pkl").write_bytes(b"\x80\x02 garbage")
    with pytest.raises(BodyModelError, match=r"SMPLH_FEMALE\.pkl: cannot read SMPL-H model"):
        load_smplh_arrays(tmp_path, "female")


# --------------------------------------------------------------------------- through smplx


def _pose(model: object, betas: np.ndarray) -> np.ndarray:
    poses = np.zeros((2, 156))
    poses[1, 3:6] = 0.3
    return model.pose(poses, np.zeros((2, 3)), betas).vertices  # type: ignore[attr-defined]


def test_body_model_keeps_all_16_betas(tmp_path: Path) -> None:
    from synthact.body.smplh import BodyModel

    (tmp_path / "smplh/male").mkdir(parents=True)
    np.savez(tmp_path / "smplh/male/model.npz", **_model_arrays(6890, 16, hands=False))
    model = BodyModel(tmp_path, "male")
    assert model.num_betas == 16
    betas = np.zeros(16)
    base = _pose(model, betas)
    betas[15] = 2.0  # smplx 0.1.28 alone would drop components 10..15 silently
    assert np.abs(_pose(model, betas) - base).max() > 1e-4


def test_body_model_from_mano_pickle(tmp_path: Path) -> None:
    from synthact.body.smplh import BodyModel

    _write_mano_pickle(tmp_path / "SMPLH_FEMALE.pkl", _model_arrays(6890, 10, seed=1, hands=True))
    model = BodyModel(tmp_path, "female")
    assert model.num_betas == 10
    vertices = _pose(model, np.ones(16))
    assert vertices.shape == (2, 6890, 3) and np.isfinite(vertices).all()
    assert model_files.read_smplh_file(model.path)["J_regressor"].shape == (52, 6890)
