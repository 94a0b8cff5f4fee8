"""CNN meta-training tasks: K grouped convnets equal K separate ones, stay independent, and meta-train."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
F = torch.nn.functional

from autometa.errors import InputError  # noqa: E402
from autometa.neural import LearnedRule, MetaTrainConfig, load_network, meta_train  # noqa: E402
from autometa.neural._cnn_tasks import (  # noqa: E402
    HELD_OUT_CNN_NAME,
    SHAPES,
    TRAIN_CNN_ARCHITECTURES,
    CNNTaskBatch,
    ConvArchitecture,
    ImagePool,
    generated_task,
    sample_cnn_tasks,
)
from autometa.neural._datasets import EXCLUDED_FROM_META_TRAINING  # noqa: E402
from autometa.neural._evaluate import digits_cnn  # noqa: E402
from autometa.neural._meta_train import evaluate_meta_loss  # noqa: E402

pytestmark = pytest.mark.usefixtures("torch_one_thread")  # conftest.py

NAMES = ["sklearn/iris", "sklearn/wine", "sklearn/diabetes"]
DIGIT_NAMES = ("digits", "mfeat", "optdigits", "pendigits", "penbased")


def _tasks(arch: ConvArchitecture, size: int = 12, k: int = 3, seed: int = 0) -> CNNTaskBatch:
    rng = np.random.default_rng(seed)
    datasets = [generated_task(size, rng, n_rows=64) for _ in range(k)]
    assert len({d.n_outputs for d in datasets}) > 1  # padded classes are exercised
    return CNNTaskBatch(datasets, arch, size, batch_size=16)


def _separate_forward(tasks: CNNTaskBatch, theta: torch.Tensor, i: int, x: torch.Tensor) -> torch.Tensor:
    """Task i's network as a plain per-task CNN (F.conv2d, no groups), from its row of ``theta``."""
    arch, kernel = tasks.arch, tasks.arch.kernel
    act = torch.relu if arch.activation == "relu" else torch.tanh
    h = x.view(-1, 1, tasks.size, tasks.size)
    for off, c_in, c_out, stride in tasks.convs:
        n_w = c_out * c_in * kernel * kernel
        w = theta[i, off:off + n_w].view(c_out, c_in, kernel, kernel)
        h = act(F.conv2d(h, w, theta[i, off + n_w:off + n_w + c_out], stride=stride, padding=kernel // 2))
    h = h.flatten(1)
    off, fan_in, fan_out = tasks.layers[0]
    o = int(tasks.n_outputs[i])
    w = theta[i, off:off + fan_in * fan_out].view(fan_in, fan_out)[:, :o]
    return h @ w + theta[i, off + fan_in * fan_out:off + fan_in * fan_out + o]


@pytest.mark.parametrize("arch", [ConvArchitecture((4, 8, 16), 3, (1, 2, 2), "relu"),
                                  ConvArchitecture((8,), 5, (2,), "tanh"),
                                  ConvArchitecture((6, 12), 3, (1, 2), "tanh")], ids=lambda a: a.name)
@pytest.mark.parametrize("size", [8, 12])
def test_grouped_forward_equals_separate_cnns(arch, size):
    tasks = _tasks(arch, size)
    theta = tasks.init_params(torch.Generator().manual_seed(0))
    x, y_cls, y_reg = tasks.sample_batch(torch.Generator().manual_seed(1))
    out = tasks.forward(theta, x)
    losses = tasks.loss(theta, x, y_cls, y_reg)
    for i in range(tasks.k):
        o = int(tasks.n_outputs[i])
        expected = _separate_forward(tasks, theta, i, x[i])
        torch.testing.assert_close(out[i, :, :o], expected, rtol=1e-5, atol=1e-5)
        assert float(losses[i]) == pytest.approx(float(F.cross_entropy(expected, y_cls[i])), rel=1e-5)


def test_gradients_reach_every_live_coordinate_of_its_own_task_only():
    tasks = _tasks(ConvArchitecture((4, 8), 3, (2, 2), "tanh"), size=12)
    theta = tasks.init_params(torch.Generator().manual_seed(0)).requires_grad_(True)
    x, y_cls, y_reg = tasks.sample_batch(torch.Generator().manual_seed(1))
    losses = tasks.loss(theta, x, y_cls, y_reg)
    for i in range(tasks.k):
        (grad,) = torch.autograd.grad(losses[i], theta, retain_graph=True)
        others = torch.arange(tasks.k) != i
        assert float(grad[others].abs().max()) == 0.0  # groups=K: task i's loss sees only its own row
        assert float(grad[i][~tasks.live[i]].abs().sum()) == 0.0  # weights to padded classes are dead
        # tanh: every live weight has a say (a zero here would mean a mis-sliced layout)
        assert float((grad[i][tasks.live[i]] != 0).float().mean()) > 0.99
    assert int(tasks.live.sum()) == len(tasks.live_index) < tasks.live.numel()


def test_drawn_problems_and_shapes_exclude_the_held_out_digits():
    # The benchmark's digits CNN, in this module's notation, is not a meta-training shape.
    convs = [m for m in digits_cnn() if isinstance(m, torch.nn.Conv2d)]
    digits = ConvArchitecture(tuple(c.out_channels for c in convs), convs[0].kernel_size[0],
                              tuple(c.stride[0] for c in convs), "relu")
    assert digits.name == HELD_OUT_CNN_NAME and digits not in TRAIN_CNN_ARCHITECTURES
    assert digits.out_size(8) == 4  # same feature map as digits_cnn's Linear(16 * 4 * 4, ...)
    pool = ImagePool()
    assert pool.sources == ["generated/shapes"]
    rng = np.random.default_rng(0)
    for _ in range(6):
        tasks = sample_cnn_tasks(pool, 4, (32,), rng)
        assert tasks.arch in TRAIN_CNN_ARCHITECTURES and tasks.size in (8, 12)
        for name in tasks.names:
            assert name.startswith("generated/shapes/") and set(name.split("/")[-1].split("+")) <= set(SHAPES)
            assert name not in EXCLUDED_FROM_META_TRAINING and not any(d in name for d in DIGIT_NAMES)
        assert torch.isfinite(tasks.full_loss(tasks.init_params(torch.Generator().manual_seed(0)))).all()


def _fake_omniglot(folder, alphabets=("Runic", "Greek"), characters=6, drawings=3) -> None:
    """Omniglot's zip layout (``<set>/<Alphabet>/characterNN/<id>.png``, 105x105, ink black) with random strokes."""
    import io
    import zipfile

    from PIL import Image

    rng = np.random.default_rng(0)
    for z, name in enumerate(("images_background_small1.zip", "images_background_small2.zip")):
        with zipfile.ZipFile(folder / name, "w") as archive:
            for c in range(characters):
                for d in range(drawings):
                    pixels = np.full((105, 105), 255, dtype=np.uint8)
                    r = int(rng.integers(0, 80))
                    pixels[r:r + 20, 10 * c:10 * c + 30] = 0
                    buffer = io.BytesIO()
                    Image.fromarray(pixels).save(buffer, format="PNG")
                    archive.writestr(f"set/{alphabets[z]}/character{c + 1:02d}/{c}_{d}.png", buffer.getvalue())


def test_omniglot_problems_are_n_way_on_one_alphabet(tmp_path):
    _fake_omniglot(tmp_path)
    pool = ImagePool(tmp_path, omniglot_share=1.0)
    assert pool.alphabets == ["Greek", "Runic"]
    assert pool.sources == ["generated/shapes", "omniglot/images_background_small1+2/Greek",
                            "omniglot/images_background_small1+2/Runic"]
    rng = np.random.default_rng(0)
    for size in (8, 12):
        for _ in range(4):
            data = pool.task(size, rng)
            alphabet, way = data.name.split("/")[-2:]
            n_way = int(way.split("-")[0])
            assert alphabet in pool.alphabets and n_way in (5, 6) and data.n_outputs == n_way  # 6 characters
            assert data.X_train.shape == (n_way * 3, size * size) and list(np.bincount(data.y_train)) == [3] * n_way
            assert abs(float(data.X_train.mean())) < 1e-5  # standardized per pixel


def test_meta_training_with_cnn_tasks_runs_records_and_lowers_the_meta_loss(tmp_path):
    config = MetaTrainConfig(steps=12, checkpoint_every=6, unroll=5, horizons=(10, 20), tasks_per_step=2,
                             max_rows=128, batch_sizes=(16,), seed=1, cnn_share=1.0)
    from autometa.neural._datasets import load_pool

    pool = load_pool(NAMES, None, max_rows=128)
    # 0 = as good as the Adam(0.01) reference, which the untrained rule is; 12 meta-steps reach ~-0.1
    before = evaluate_meta_loss(LearnedRule(), pool, config, trajectories=3)
    record = meta_train(tmp_path, config, datasets=NAMES, progress=False, command="test")
    trained, saved = load_network(tmp_path)
    after = evaluate_meta_loss(trained, pool, config, trajectories=3)
    assert abs(before) < 1e-3 and after < before - 0.02, (before, after)
    history = torch.load(tmp_path / "training_state.pt", weights_only=True)["history"]
    assert len(history) == 12 and all(h["arch"].startswith("cnn") for h in history)
    cnn = saved["cnn_tasks"]
    assert record["cnn_tasks"] == cnn and cnn["share_of_trajectories"] == 1.0 and cnn["sources"] == ["generated/shapes"]
    assert cnn["architectures"] == [a.name for a in TRAIN_CNN_ARCHITECTURES]
    assert HELD_OUT_CNN_NAME not in cnn["architectures"] and "handwritten_digits" in cnn["excluded"]


def test_mlp_trajectories_are_unchanged_by_a_cnn_share(tmp_path):
    # CNN draws come from their own stream: at a share of 0 nothing changes, and the MLP trajectories of
    # a run with CNNs are those the run without would draw at the same meta-steps.
    base = {"steps": 12, "unroll": 5, "horizons": (10,), "tasks_per_step": 3, "max_rows": 128, "batch_sizes": (16,),
            "seed": 3}
    meta_train(tmp_path / "a", MetaTrainConfig(**base), datasets=NAMES, progress=False)
    meta_train(tmp_path / "b", MetaTrainConfig(**base, cnn_share=0.5), datasets=NAMES, progress=False)
    a = torch.load(tmp_path / "a" / "training_state.pt", weights_only=True)["history"]
    b = torch.load(tmp_path / "b" / "training_state.pt", weights_only=True)["history"]
    kinds = [h["arch"].startswith("cnn") for h in b]
    assert any(kinds) and not all(kinds)
    assert all(ha["arch"] == hb["arch"] for ha, hb in zip(a, b, strict=True) if not hb["arch"].startswith("cnn"))
    with pytest.raises(InputError, match="cnn_share"):
        MetaTrainConfig(cnn_share=1.5).validate()


def test_cli_trains_with_cnn_tasks_on_omniglot(tmp_path, capsys):
    import json

    from cli import main

    _fake_omniglot(tmp_path)
    code = main(["meta-optimizer", "train", "--out", str(tmp_path / "ckpt"), "--steps", "2", "--unroll", "3",
                 "--horizons", "6", "-k", "2", "--datasets", "sklearn/iris,sklearn/wine", "--cnn-share", "1",
                 "--omniglot", str(tmp_path), "--threads", "1", "--quiet", "--json"])
    assert code == 0
    record = json.loads(capsys.readouterr().out)
    assert record["steps_done"] == 2 and record["config"]["cnn_share"] == 1.0
    assert record["cnn_tasks"]["sources"][1:] == ["omniglot/images_background_small1+2/Greek",
                                                  "omniglot/images_background_small1+2/Runic"]
