"""No estimator output runs code when read: joblib dumps and pickled numpy go through a restricted unpickler.

Each payload would create a marker file if it ran (``builtins.open(marker, "w")``);
the tests check that the marker never appears, that the error names the file and
the refused type, and that the estimators' real files still load.
"""

from __future__ import annotations

import pickle
import shutil
from pathlib import Path
from typing import Any, ClassVar

import joblib
import numpy as np
import pytest

from synthact.body.smplh import BodyModel
from synthact.demo.estimator_models import write_source_models
from synthact.fitting.estimates.loading import load_joblib, load_npy_dict
from synthact.fitting.estimates.records import EstimateError
from synthact.safe_unpickle import RestrictedUnpickler, UnsafePickleError, load_pickle_file
from tests.fixtures.estimates import KnownMotion, known_motion, write_phalp, write_tram, write_vibe, write_wham


class Payload:
    """Unpickling this calls ``open(marker, "w")``: the file appears only if the pickle ran code."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (open, (str(self.marker), "w"))


@pytest.fixture(scope="module")
def truth(tmp_path_factory: pytest.TempPathFactory, demo_body_model_dir: Path) -> KnownMotion:
    folder = tmp_path_factory.mktemp("models")
    shutil.copytree(demo_body_model_dir, folder / "smplh_models")
    with np.load(folder / "smplh_models" / "smplh" / "SMPLH_NEUTRAL.npz") as data:
        neutral = {k: data[k] for k in data.files}
    sources = write_source_models(folder / "estimator_models", neutral)
    return known_motion(BodyModel(folder / "smplh_models", "neutral"), sources, max_frames=8)


JOBLIB_WRITERS = {"wham": write_wham, "vibe": write_vibe, "phalp": write_phalp}


def assert_same(got: Any, want: Any) -> None:
    """Equal containers and arrays, recursively."""
    assert type(got) is type(want)
    if isinstance(want, dict):
        assert list(got) == list(want)
        for key in want:
            assert_same(got[key], want[key])
    elif isinstance(want, (list, tuple)):
        assert len(got) == len(want)
        for a, b in zip(got, want, strict=True):
            assert_same(a, b)
    elif isinstance(want, np.ndarray):
        assert got.dtype == want.dtype and np.array_equal(got, want)
    else:
        assert got == want


@pytest.mark.parametrize("estimator", sorted(JOBLIB_WRITERS))
def test_real_joblib_outputs_load_as_joblib_loads_them(tmp_path, truth, estimator):
    path = JOBLIB_WRITERS[estimator](tmp_path, truth)
    assert_same(load_joblib(path), joblib.load(path))  # our own trusted file: joblib.load is the reference


@pytest.mark.parametrize("compress", [0, 3, ("gzip", 3), ("xz", 1)])
def test_compressed_joblib_dumps_load(tmp_path, truth, compress):
    path = write_wham(tmp_path, truth)
    data = joblib.load(path)
    joblib.dump(data, path, compress=compress)
    assert_same(load_joblib(path), data)


def test_real_tram_track_loads_as_numpy_loads_it(tmp_path, truth):
    path = write_tram(tmp_path, truth)
    assert_same(load_npy_dict(path), np.load(path, allow_pickle=True).item())


def planted(data: Any, marker: Path, where: str) -> Any:
    """``data`` with the payload as a plain value, or inside an object array (joblib's nested pickle)."""
    payload: Any = Payload(marker)
    if where == "object array":
        payload = np.array([1.0, payload], dtype=object)
    first = next(iter(data))
    if isinstance(data[first], dict):
        data[first]["extra"] = payload
    else:
        data["extra"] = payload
    return data


@pytest.mark.parametrize("where", ["value", "object array"])
@pytest.mark.parametrize("estimator", sorted(JOBLIB_WRITERS))
def test_a_joblib_payload_never_runs(tmp_path, truth, estimator, where):
    path = JOBLIB_WRITERS[estimator](tmp_path, truth)
    marker = tmp_path / "ran"
    joblib.dump(planted(joblib.load(path), marker, where), path)
    with pytest.raises(EstimateError) as caught:
        load_joblib(path)
    assert not marker.exists()
    assert str(caught.value).startswith(f"{path}: refusing to load type ")
    assert "builtins.open" in str(caught.value) or "io.open" in str(caught.value)


def test_a_tram_payload_never_runs(tmp_path, truth):
    path = write_tram(tmp_path, truth)
    marker = tmp_path / "ran"
    track = np.load(path, allow_pickle=True).item()
    np.save(path, planted(track, marker, "value"), allow_pickle=True)
    with pytest.raises(EstimateError, match=r"refusing to load type (builtins|io)\.open") as caught:
        load_npy_dict(path)
    assert not marker.exists()
    assert str(caught.value).startswith(f"{path}: ")


def test_a_plain_numpy_file_needs_no_pickle(tmp_path):
    path = tmp_path / "plain.npy"
    np.save(path, np.arange(6.0).reshape(2, 3))
    with pytest.raises(EstimateError, match="expected a pickled dict, got ndarray"):
        load_npy_dict(path)


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_plain_pickles_of_every_protocol_load(tmp_path, protocol):
    data = {"a": np.arange(4, dtype=np.float32), "b": [np.int64(3), "x", (1.5, None)], "c": {np.float64(2.0)}}
    path = tmp_path / "data.pkl"
    path.write_bytes(pickle.dumps(data, protocol=protocol))
    got = load_pickle_file(path, "test file")
    assert np.array_equal(got["a"], data["a"]) and got["b"] == data["b"] and got["c"] == data["c"]


def test_a_plain_pickle_payload_names_the_file_and_the_type(tmp_path):
    path, marker = tmp_path / "data.pkl", tmp_path / "ran"
    path.write_bytes(pickle.dumps({"x": Payload(marker)}))
    with pytest.raises(UnsafePickleError, match=r"data\.pkl: refusing to load type (builtins|io)\.open: a test file"):
        load_pickle_file(path, "test file")
    assert not marker.exists()


def test_subclasses_add_names_but_never_widen_the_shared_table(tmp_path):
    class CounterAsDict(RestrictedUnpickler):
        extra_globals: ClassVar[dict[tuple[str, str], Any]] = {("collections", "Counter"): dict}

    path = tmp_path / "data.pkl"
    path.write_bytes(pickle.dumps(__import__("collections").Counter("aab")))
    with path.open("rb") as handle:
        assert CounterAsDict(handle).load() == {"a": 2, "b": 1}
    with pytest.raises(UnsafePickleError, match=r"collections\.Counter"):
        load_pickle_file(path, "test file")


def test_the_payload_is_live_when_loaded_the_usual_way(tmp_path, truth):
    # The control: the same files do run the payload through joblib.load and np.load, so the
    # tests above would see the marker if the restricted readers let it through.
    path, marker = write_wham(tmp_path, truth), tmp_path / "ran"
    joblib.dump(planted(joblib.load(path), marker, "object array"), path)
    joblib.load(path)
    assert marker.exists()
    marker.unlink()
    tram = write_tram(tmp_path, truth)
    np.save(tram, planted(np.load(tram, allow_pickle=True).item(), marker, "value"), allow_pickle=True)
    np.load(tram, allow_pickle=True)
    assert marker.exists()
