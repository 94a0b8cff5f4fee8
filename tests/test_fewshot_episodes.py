"""Episodes, task samplers and the Omniglot readers of autometa.neural.fewshot."""

from __future__ import annotations

import io
import math
import zipfile

import numpy as np
import pytest
import torch

from autometa.errors import InputError
from autometa.neural.fewshot import (
    EpisodeSampler,
    SinusoidTasks,
    TabularEpisodes,
    load_omniglot,
    load_omniglot_runs,
    stack_episodes,
)


def _identifiable(n_classes: int = 12, per_class: int = 9, dim: int = 3):
    """Rows whose first feature is their row index, so support and query rows can be traced back."""
    y = np.repeat(np.arange(n_classes) * 10 + 7, per_class)  # labels are not 0..n-1 on purpose
    X = np.random.default_rng(0).normal(size=(len(y), dim))
    X[:, 0] = np.arange(len(y))
    return X, y


def test_episode_shapes_labels_and_class_order():
    X, y = _identifiable()
    ep = EpisodeSampler(X, y, n_way=5, k_shot=2, n_query=3).sample(np.random.default_rng(1))
    assert ep.support_x.shape == (10, 3) and ep.query_x.shape == (15, 3)
    assert ep.support_x.dtype == torch.float32 and ep.support_y.dtype == torch.int64
    assert ep.support_y.tolist() == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4]
    assert ep.query_y.tolist() == sorted(ep.query_y.tolist()) and set(ep.query_y.tolist()) == set(range(5))
    assert ep.n_way == 5 and ep.is_classification


def test_no_leakage_between_support_and_query_and_labels_consistent():
    X, y = _identifiable()
    sampler = EpisodeSampler(X, y, n_way=4, k_shot=3, n_query=5)
    rng = np.random.default_rng(7)
    for _ in range(50):
        ep = sampler.sample(rng)
        s_rows = ep.support_x[:, 0].long().tolist()
        q_rows = ep.query_x[:, 0].long().tolist()
        assert not set(s_rows) & set(q_rows)
        assert len(set(s_rows)) == len(s_rows) and len(set(q_rows)) == len(q_rows)
        # Within an episode, one episode label always stands for one original class.
        mapping = {}
        for rows, labels in ((s_rows, ep.support_y), (q_rows, ep.query_y)):
            for row, label in zip(rows, labels.tolist(), strict=True):
                assert mapping.setdefault(label, y[row]) == y[row]
        assert len(set(mapping.values())) == 4


def test_seeding_reproduces_and_varies():
    X, y = _identifiable()
    sampler = EpisodeSampler(X, y, n_way=5, k_shot=1, n_query=2)
    a = sampler.sample(np.random.default_rng(3))
    b = sampler.sample(np.random.default_rng(3))
    c = sampler.sample(np.random.default_rng(4))
    assert torch.equal(a.support_x, b.support_x) and torch.equal(a.query_x, b.query_x)
    assert not torch.equal(a.query_x, c.query_x)
    # Labels are a random permutation of the drawn classes: class order varies across episodes.
    rng = np.random.default_rng(0)
    firsts = {y[int(sampler.sample(rng).support_x[0, 0])] for _ in range(30)}
    assert len(firsts) > 3


def test_class_filter_and_too_few_classes():
    X, y = _identifiable(n_classes=6, per_class=4)
    sampler = EpisodeSampler(X, y, n_way=2, k_shot=1, n_query=3, classes=[7, 17, 27])
    rng = np.random.default_rng(0)
    seen = {y[int(r)] for _ in range(20) for r in sampler.sample(rng).support_x[:, 0]}
    assert seen <= {7, 17, 27}
    with pytest.raises(InputError, match="classes"):
        EpisodeSampler(X, y, n_way=5, k_shot=2, n_query=3)  # each class has 4 rows, 5 are needed
    with pytest.raises(InputError):
        EpisodeSampler(X, y[:-1], n_way=2, k_shot=1)


def test_images_get_a_channel_axis_and_stack():
    images = np.random.default_rng(0).random((40, 8, 8))
    labels = np.repeat(np.arange(8), 5)
    sampler = EpisodeSampler(images, labels, n_way=3, k_shot=2, n_query=1, add_channel=True)
    rng = np.random.default_rng(0)
    batch = stack_episodes([sampler.sample(rng) for _ in range(4)])
    assert batch.support_x.shape == (4, 6, 1, 8, 8) and batch.query_y.shape == (4, 3)
    with pytest.raises(InputError):
        other = EpisodeSampler(images, labels, n_way=2, k_shot=2, n_query=1, add_channel=True)
        stack_episodes([sampler.sample(rng), other.sample(rng)])


def test_tabular_episodes_fixed_width_and_no_leakage():
    rng = np.random.default_rng(0)

    def table(n_classes, per_class, dim, offset):
        # Every column holds the row's id (offset + row + 1): any kept column tells the row apart.
        ids = offset + np.arange(n_classes * per_class) + 1.0
        return np.repeat(ids[:, None], dim, axis=1), np.repeat(np.arange(n_classes), per_class)

    wide, narrow = table(5, 10, 30, 0), table(3, 10, 4, 1000)
    tiny = (rng.normal(size=(6, 5)), np.arange(6))  # one row per class: unusable, skipped
    sampler = TabularEpisodes([wide, narrow, tiny], n_way=2, k_shot=3, n_query=4, n_features=8)
    assert len(sampler.samplers) == 2
    widths = set()
    for _ in range(40):
        ep = sampler.sample(rng)
        assert ep.support_x.shape == (6, 8) and ep.query_x.shape == (8, 8)
        widths.add(int((ep.support_x[0] != 0).sum()))
        s_rows, q_rows = set(ep.support_x[:, 0].tolist()), set(ep.query_x[:, 0].tolist())
        assert len(s_rows) == 6 and len(q_rows) == 8 and not s_rows & q_rows
    assert widths == {4, 8}  # the narrow table is zero-padded, the wide one cut to 8 columns
    with pytest.raises(InputError):
        TabularEpisodes([tiny], n_way=2, k_shot=1, n_query=1)


def test_sinusoid_tasks_follow_the_maml_family():
    tasks = SinusoidTasks(k_shot=5, n_query=20)
    rng = np.random.default_rng(0)
    for _ in range(20):
        ep = tasks.sample(rng)
        assert ep.support_x.shape == (5, 1) and ep.query_y.shape == (20, 1) and ep.task == "regression"
        x = torch.cat([ep.support_x, ep.query_x]).squeeze(1).double()
        y = torch.cat([ep.support_y, ep.query_y]).squeeze(1).double()
        assert float(x.min()) >= -5 and float(x.max()) <= 5
        # Recover amplitude and phase by least squares on [sin x, cos x]: one sinusoid fits all 25 points.
        design = torch.stack([torch.sin(x), torch.cos(x)], 1)
        coef = torch.linalg.lstsq(design, y.unsqueeze(1)).solution.squeeze(1)
        assert float((design @ coef - y).abs().max()) < 1e-4
        amplitude, phase = float(coef.norm()), math.atan2(-float(coef[1]), float(coef[0]))
        assert 0.1 - 1e-4 <= amplitude <= 5 + 1e-4 and -1e-4 <= phase <= math.pi + 1e-4
    a, b = tasks.sample(np.random.default_rng(5)), tasks.sample(np.random.default_rng(5))
    assert torch.equal(a.support_y, b.support_y)


# -- Omniglot readers, on small zips written by the test ---------------------------------------------


def _png(value: int, mark: int) -> bytes:
    from PIL import Image

    pixels = np.full((105, 105), 255, dtype=np.uint8)
    pixels[10 + mark:30 + mark, 10:20] = value  # a dark stroke whose position tells images apart
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def _background_zip(path, set_name, alphabets):
    with zipfile.ZipFile(path, "w") as archive:
        for alphabet, n_chars in alphabets:
            for c in range(1, n_chars + 1):
                for drawer in range(1, 4):
                    archive.writestr(f"{set_name}/{alphabet}/character{c:02d}/{c:04d}_{drawer:02d}.png",
                                     _png(0, drawer))


def test_load_omniglot_dedupes_shared_alphabets_and_rotates(tmp_path):
    _background_zip(tmp_path / "images_background_small1.zip", "images_background_small1", [("Greek", 2), ("A", 1)])
    _background_zip(tmp_path / "images_background_small2.zip", "images_background_small2", [("Greek", 2), ("B", 2)])
    data = load_omniglot(tmp_path, size=14)
    assert data.classes == ["A/character01", "B/character01", "B/character02", "Greek/character01",
                            "Greek/character02"]
    assert data.images.shape == (15, 14, 14) and data.images.dtype == np.float32
    assert 0.0 <= data.images.min() and data.images.max() <= 1.0 and data.images.mean() < 0.5  # ink = 1
    rotated = load_omniglot(tmp_path, size=14, rotations=True)
    assert len(rotated.classes) == 20 and "Greek/character02@270" in rotated.classes
    first = rotated.labels == rotated.classes.index("A/character01")
    turned = rotated.labels == rotated.classes.index("A/character01@90")
    assert np.allclose(np.rot90(rotated.images[first], 1, axes=(1, 2)), rotated.images[turned])
    assert rotated.classes_of(["B"]) == [i for i, c in enumerate(rotated.classes) if c.startswith("B/")]
    with pytest.raises(InputError):
        load_omniglot(tmp_path / "missing")


def test_load_omniglot_runs_pairs_test_items_with_their_class(tmp_path):
    path = tmp_path / "all_runs.zip"
    order = [2, 0, 1]  # test item i belongs to training class order[i]
    with zipfile.ZipFile(path, "w") as archive:
        for c in range(3):
            archive.writestr(f"run01/training/class{c + 1:02d}.png", _png(0, 10 * c))
        lines = []
        for i, c in enumerate(order):
            archive.writestr(f"run01/test/item{i + 1:02d}.png", _png(0, 10 * c))
            lines.append(f"run01/test/item{i + 1:02d}.png run01/training/class{c + 1:02d}.png")
        archive.writestr("run01/class_labels.txt", "\n".join(lines) + "\n")
    (run,) = load_omniglot_runs(path, size=28)
    assert run.n_way == 3 and run.support_x.shape == (3, 1, 28, 28) and run.support_y.tolist() == [0, 1, 2]
    assert run.query_y.tolist() == order
    for i, c in enumerate(order):  # the test image is the same drawing as its class's training image
        assert torch.allclose(run.query_x[i], run.support_x[c])


def test_real_omniglot_runs(omniglot_dir):
    runs = load_omniglot_runs(omniglot_dir)
    assert len(runs) == 20
    for run in runs:
        assert run.support_x.shape == (20, 1, 28, 28) and sorted(run.query_y.tolist()) == list(range(20))
