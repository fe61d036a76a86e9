"""The generated demo SMPL-H body models: layout, topology, rig, shape space, landmarks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from synthact.body.skeleton import DEMO_REST_JOINTS, JOINT_NAMES, LANDMARK_VERTEX_IDS, PARENTS
from synthact.demo.body_model import GENDERS, SHAPE_COMPONENT_NAMES, build_demo_body_models, write_demo_body_models

J = {name: i for i, name in enumerate(JOINT_NAMES)}
L = LANDMARK_VERTEX_IDS
Generated = tuple[Path, dict[str, Path]]  # output folder, files by gender
Models = dict[str, dict[str, np.ndarray]]


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Generated:
    out = tmp_path_factory.mktemp("body_models")
    return out, write_demo_body_models(out)


@pytest.fixture(scope="module")
def models(generated: Generated) -> Models:
    _, paths = generated
    loaded = {}
    for gender, path in paths.items():
        with np.load(path) as data:
            loaded[gender] = {k: data[k] for k in data.files}
    return loaded


def test_writes_the_three_files_atomically(generated: Generated) -> None:
    out, paths = generated
    assert set(paths) == set(GENDERS)
    for gender, path in paths.items():
        assert path == out / "smplh" / f"SMPLH_{gender.upper()}.npz"
        assert path.is_file()
    assert sorted(p.name for p in (out / "smplh").iterdir()) == sorted(p.name for p in paths.values())


@pytest.mark.parametrize("gender", GENDERS)
def test_keys_shapes_and_dtypes(models: Models, gender: str) -> None:
    m = models[gender]
    expected = {
        "v_template": ((6890, 3), np.float64),
        "f": ((13776, 3), np.uint32),
        "J_regressor": ((52, 6890), np.float64),
        "weights": ((6890, 52), np.float64),
        "kintree_table": ((2, 52), np.uint32),
        "shapedirs": ((6890, 3, 16), np.float64),
        "posedirs": ((6890, 3, 459), np.float32),
        "hands_componentsl": ((45, 45), np.float64),
        "hands_componentsr": ((45, 45), np.float64),
        "hands_meanl": ((45,), np.float64),
        "hands_meanr": ((45,), np.float64),
    }
    assert set(m) == set(expected)
    for key, (shape, dtype) in expected.items():
        assert m[key].shape == shape, key
        assert m[key].dtype == dtype, key
        assert np.all(np.isfinite(m[key])), key


def test_kintree_is_smplh(models: Models) -> None:
    table = models["neutral"]["kintree_table"]
    assert table[0, 0] == 4294967295
    np.testing.assert_array_equal(table[0, 1:], PARENTS[1:])
    np.testing.assert_array_equal(table[1], np.arange(52))


def test_topology_is_shared_across_genders(models: Models) -> None:
    for gender in ("male", "female"):
        np.testing.assert_array_equal(models[gender]["f"], models["neutral"]["f"])
        np.testing.assert_array_equal(models[gender]["weights"], models["neutral"]["weights"])


def _fan_is_one_cycle(faces: np.ndarray) -> bool:
    """Around every vertex, its faces form a single closed fan (no pinches)."""
    succ: dict[int, dict[int, int]] = {}
    for a, b, c in faces.tolist():
        for v, p, q in ((a, b, c), (b, c, a), (c, a, b)):
            succ.setdefault(v, {})[p] = q
    for ring in succ.values():
        start = next(iter(ring))
        cur, steps = ring[start], 1
        while cur != start:
            cur, steps = ring[cur], steps + 1
        if steps != len(ring):
            return False
    return True


def test_surface_is_one_closed_oriented_genus0_manifold(models: Models) -> None:
    faces = models["neutral"]["f"].astype(np.int64)
    v = models["neutral"]["v_template"]
    directed = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    as_set = set(map(tuple, directed.tolist()))
    assert len(as_set) == len(directed), "an edge is used twice in the same direction"
    assert all((b, a) in as_set for a, b in as_set), "an edge has no opposite face"
    edges = len(as_set) // 2
    assert len(v) - edges + len(faces) == 2  # Euler characteristic of a sphere
    assert np.unique(faces).size == len(v)
    assert _fan_is_one_cycle(faces)
    # Connected: flood along edges.
    seen = np.zeros(len(v), dtype=bool)
    seen[0] = True
    und = np.unique(np.sort(directed, axis=1), axis=0)
    while True:
        grow = seen[und[:, 0]] != seen[und[:, 1]]
        if not grow.any():
            break
        seen[und[grow].ravel()] = True
    assert seen.all()
    a, b, c = (v[faces[:, k]] for k in range(3))
    assert np.einsum("ij,ij->i", a, np.cross(b, c)).sum() / 6 > 0.04  # outward, human-sized volume (m^3)
    assert np.linalg.norm(np.cross(b - a, c - a), axis=1).min() > 0  # no degenerate faces


def test_template_is_a_standing_person(models: Models) -> None:
    v = models["neutral"]["v_template"]
    assert v[:, 1].min() == pytest.approx(0.0, abs=1e-4)  # feet on the floor
    assert v[:, 1].max() == pytest.approx(1.70, abs=0.01)  # 1.70 m tall
    assert 1.6 < np.ptp(v[:, 0]) < 1.9  # T-pose arm span
    assert np.ptp(v[:, 2]) < 0.35  # thin front to back
    heights = {g: models[g]["v_template"][:, 1].max() for g in GENDERS}
    assert heights["female"] + 0.03 < heights["neutral"] < heights["male"] - 0.03


def test_joint_regressor_reproduces_the_skeleton(models: Models) -> None:
    m = models["neutral"]
    reg = m["J_regressor"]
    assert np.abs(reg @ m["v_template"] - DEMO_REST_JOINTS).max() < 1e-3
    assert reg.min() >= 0.0
    np.testing.assert_allclose(reg.sum(axis=1), 1.0, atol=1e-9)
    # Joints follow the surface: the wider-hipped female has hips further apart.
    female = models["female"]["J_regressor"] @ models["female"]["v_template"]
    male = models["male"]["J_regressor"] @ models["male"]["v_template"]
    assert female[J["left_hip"], 0] - female[J["right_hip"], 0] > male[J["left_hip"], 0] - male[J["right_hip"], 0]
    assert male[J["head"], 1] > DEMO_REST_JOINTS[J["head"], 1] > female[J["head"], 1]


def test_skinning_weights_are_smooth_and_local(models: Models) -> None:
    w = models["neutral"]["weights"]
    assert w.min() >= 0.0
    np.testing.assert_allclose(w.sum(axis=1), 1.0, atol=1e-12)
    per_vertex = (w > 0).sum(axis=1)
    assert per_vertex.max() <= 4 and np.mean(per_vertex <= 3) > 0.99
    assert np.mean(per_vertex > 1) > 0.3  # blended across joints, not rigid parts
    dominant = np.argmax(w, axis=1)
    for side, prefix in (("left", "l"), ("right", "r")):
        for finger in ("thumb", "index", "middle", "ring", "pinky"):
            assert dominant[L[f"{prefix}{finger}"]] == J[f"{side}_{finger}3"]
    assert dominant[L["nose"]] == J["head"]
    assert dominant[L["LHeel"]] == J["left_ankle"] and dominant[L["RBigToe"]] == J["right_foot"]
    assert np.unique(dominant).size == 52  # every joint carries some skin


def _segment_distance(points: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    ab = b - a
    t = np.clip((points - a) @ ab / max(ab @ ab, 1e-12), 0.0, 1.0)
    return np.linalg.norm(points - a - t[:, None] * ab, axis=1)


def test_skin_only_moves_with_nearby_bones(models: Models) -> None:
    v, w = models["neutral"]["v_template"], models["neutral"]["weights"]
    joints = DEMO_REST_JOINTS
    for j in range(52):
        children = np.nonzero(PARENTS == j)[0]
        ends = [joints[c] for c in children] or [joints[j]]
        near = np.min([_segment_distance(v, joints[j], e) for e in ends], axis=0)
        influenced = w[:, j] > 0.05
        assert near[influenced].max() < 0.2, JOINT_NAMES[j]


def test_landmarks_sit_on_their_body_points(models: Models) -> None:
    v = models["neutral"]["v_template"]
    joints = DEMO_REST_JOINTS
    head = v[v[:, 1] > 1.45]
    assert v[L["nose"], 2] == pytest.approx(head[:, 2].max(), abs=1e-9)  # the most forward point of the head
    assert abs(v[L["nose"], 0]) < 1e-6  # on the midline
    for prefix, sx in (("l", 1), ("r", -1)):
        side = "left" if sx > 0 else "right"
        eye, ear = v[L[f"{prefix}eye"]], v[L[f"{prefix}ear"]]
        assert sx * eye[0] > 0.02 and eye[1] > v[L["nose"], 1] and eye[2] > 0.06
        assert sx * ear[0] > 0.07 and abs(ear[2]) < 0.04
        wrist = joints[J[f"{side}_wrist"]]
        for finger in ("thumb", "index", "middle", "ring", "pinky"):
            tip = v[L[f"{prefix}{finger}"]]
            assert sx * (tip[0] - joints[J[f"{side}_{finger}3"], 0]) > 0.01  # beyond the last finger joint
            assert sx * (tip[0] - wrist[0]) > 0.08
        assert v[L[f"{prefix}thumb"], 2] > wrist[2] + 0.05  # thumb points forward, palm down
        ankle, foot = joints[J[f"{side}_ankle"]], joints[J[f"{side}_foot"]]
        up = prefix.upper()
        heel, big, small = v[L[f"{up}Heel"]], v[L[f"{up}BigToe"]], v[L[f"{up}SmallToe"]]
        assert heel[2] < ankle[2] - 0.02 and heel[1] < ankle[1] - 0.02  # behind and below the ankle
        assert big[2] > foot[2] + 0.04 and small[2] > foot[2] + 0.02  # toes in front of the ball
        assert sx * (small[0] - big[0]) > 0.03  # big toe on the inside
        assert max(heel[1], big[1], small[1]) < 0.04


def test_shape_components_are_meaningful(models: Models) -> None:
    assert len(SHAPE_COMPONENT_NAMES) == 16
    m = models["neutral"]
    dirs, v = m["shapedirs"], m["v_template"]
    assert np.all(np.abs(dirs).reshape(-1, 16).max(axis=0) > 0.005)  # each moves something >= 5 mm
    top = np.argmax(v[:, 1])
    assert 0.05 < dirs[top, 1, SHAPE_COMPONENT_NAMES.index("height")] < 0.09  # ~7 cm per unit
    arm = SHAPE_COMPONENT_NAMES.index("arm_length")
    assert dirs[L["lmiddle"], 0, arm] > 0.02 and dirs[L["rmiddle"], 0, arm] < -0.02
    assert np.abs(dirs[:, :, arm][v[:, 1] < 1.2]).max() < 1e-6  # legs and trunk do not move
    belly = SHAPE_COMPONENT_NAMES.index("belly")
    front = np.argmax(np.where(np.abs(v[:, 1] - 1.02) < 0.03, v[:, 2], -1))
    assert dirs[front, 2, belly] > 0.015
    # Feet stay on the floor for every component.
    sole = v[:, 1] < 1e-3
    assert np.abs(dirs[sole, 1, :]).max() < 1e-3


def test_hand_pca_is_orthonormal(models: Models) -> None:
    for side in "lr":
        c = models["neutral"][f"hands_components{side}"]
        np.testing.assert_allclose(c @ c.T, np.eye(45), atol=1e-10)
    np.testing.assert_allclose(models["neutral"]["hands_meanl"][1::3], -models["neutral"]["hands_meanr"][1::3])


def test_pose_correctives_bulge_bent_joints(models: Models) -> None:
    pd = models["neutral"]["posedirs"].astype(np.float64)
    assert np.abs(pd).max() < 0.01
    elbow = J["left_elbow"]
    cols = [9 * (elbow - 1) + k for k in (0, 4, 8)]
    bulge = -2 * pd[:, :, cols[0]]  # offset at 90 degrees, (V, 3)
    moved = np.linalg.norm(bulge, axis=1) > 1e-4
    assert moved.sum() > 20
    v = models["neutral"]["v_template"]
    assert np.all(np.abs(v[moved, 0] - DEMO_REST_JOINTS[elbow, 0]) < 0.12)  # only around the elbow


def test_smplx_loads_and_poses_each_gender(generated: Generated) -> None:
    smplx = pytest.importorskip("smplx")
    torch = pytest.importorskip("torch")
    out = generated[0]
    for gender in GENDERS:
        model = smplx.create(str(out), model_type="smplh", ext="npz", gender=gender, use_pca=False, flat_hand_mean=True)
        body = torch.zeros(1, 63)
        body[0, 3 * (J["left_knee"] - 1)] = 1.5  # knee bent
        body[0, 3 * (J["left_shoulder"] - 1) + 2] = -1.2  # arm down
        out_ = model(body_pose=body, left_hand_pose=torch.full((1, 45), 0.3))
        verts, joints = out_.vertices[0].detach().numpy(), out_.joints[0].detach().numpy()
        assert verts.shape == (6890, 3) and joints.shape == (73, 3)
        assert np.all(np.isfinite(verts))
        np.testing.assert_allclose(joints[52], verts[L["nose"]], atol=1e-6)  # landmark order
        assert joints[J["left_wrist"], 1] < 1.2  # the arm hangs down
        assert joints[J["left_ankle"], 2] < DEMO_REST_JOINTS[J["left_ankle"], 2] - 0.2  # foot swings back


def test_body_model_uses_all_sixteen_betas(generated: Generated) -> None:
    pytest.importorskip("smplx")
    from synthact.body.smplh import BodyModel

    for gender in GENDERS:
        model = BodyModel(generated[0], gender)
        assert model.num_betas == 16
        poses, trans = np.zeros((1, 156)), np.zeros((1, 3))
        betas = np.zeros(16)
        base = model.pose(poses, trans, betas).vertices
        betas[15] = 2.0
        moved = model.pose(poses, trans, betas).vertices
        assert np.abs(moved - base).max() > 0.01


def test_generation_is_deterministic(models: Models) -> None:
    again = build_demo_body_models()
    for gender in GENDERS:
        for key, value in models[gender].items():
            assert np.array_equal(again[gender][key], value), (gender, key)
