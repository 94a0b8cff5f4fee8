"""Meta-training: the batched base tasks, a tiny run that lowers the meta-loss, resume, CLI, evaluation."""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from autometa.errors import InputError  # noqa: E402
from autometa.neural import LearnedRule, MetaTrainConfig, ProgressUpdate, evaluate, load_network, meta_train  # noqa: E402
from autometa.neural._datasets import load_pool  # noqa: E402
from autometa.neural._meta_train import evaluate_meta_loss, sample_horizon  # noqa: E402
from autometa.neural._mlp import make_mlp  # noqa: E402
from autometa.neural._tasks import Architecture, TaskBatch  # noqa: E402
from cli import main  # noqa: E402

NAMES = ["sklearn/iris", "sklearn/wine", "sklearn/diabetes"]  # digits and breast_cancer are held out
TINY = {"unroll": 5, "horizons": (10, 20), "tasks_per_step": 3, "max_rows": 256, "batch_sizes": (32,), "seed": 1}


pytestmark = pytest.mark.usefixtures("torch_one_thread")  # conftest.py


@pytest.fixture(scope="module")
def pool():
    return load_pool(NAMES, None, max_rows=256)


def test_batched_tasks_match_independent_networks(pool):
    # Padded inputs/classes and one weight matrix per task must give exactly each task's own MLP.
    arch = Architecture((8, 5), "tanh")
    tasks = TaskBatch(pool, arch, batch_size=16, generator=np.random.default_rng(0), max_features=20)
    theta = tasks.init_params(torch.Generator().manual_seed(0))
    x, y_cls, y_reg = tasks.sample_batch(torch.Generator().manual_seed(1))
    losses = tasks.loss(theta, x, y_cls, y_reg)
    for i, data in enumerate(pool):
        d, o = int(tasks.n_features[i]), data.n_outputs
        model = make_mlp(d, arch.hidden, o, arch.activation)
        with torch.no_grad():
            linears = [m for m in model if isinstance(m, torch.nn.Linear)]
            for layer, (off, fan_in, fan_out) in zip(linears, tasks.layers, strict=True):
                w = theta[i, off:off + fan_in * fan_out].view(fan_in, fan_out)
                layer.weight.copy_(w[:layer.in_features, :layer.out_features].t())
                layer.bias.copy_(theta[i, off + fan_in * fan_out:off + fan_in * fan_out + layer.out_features])
            out = model(x[i, :, :d])
        if data.task == "classification":
            expected = torch.nn.functional.cross_entropy(out, y_cls[i])
        else:
            expected = torch.nn.functional.mse_loss(out[:, 0], y_reg[i])
        assert float(losses[i]) == pytest.approx(float(expected), rel=1e-5)
    # Coordinates outside `live` (weights of padding) have no effect on any loss.
    (grad,) = torch.autograd.grad(tasks.loss(theta.requires_grad_(), x, y_cls, y_reg).sum(), theta)
    assert float(grad[~tasks.live].abs().max()) == 0.0
    assert int(tasks.live.sum()) == len(tasks.live_index) < tasks.live.numel()


def test_tiny_meta_training_lowers_the_meta_loss(tmp_path, pool):
    config = MetaTrainConfig(steps=24, checkpoint_every=8, **TINY)
    before = evaluate_meta_loss(LearnedRule(), pool, config, trajectories=4)
    updates: list[ProgressUpdate] = []
    record = meta_train(tmp_path, config, datasets=NAMES, progress=updates.append, device="cpu", command="test")
    trained, saved = load_network(tmp_path)
    after = evaluate_meta_loss(trained, pool, config, trajectories=4)
    assert after < before
    assert record["steps_done"] == saved["steps_done"] == 24
    assert saved["datasets"] == NAMES and saved["command"] == "test"
    assert saved["versions"]["torch"] == torch.__version__
    meta = [u for u in updates if u.label == "meta-training"]
    assert len(meta) == 24 and meta[-1].completed == meta[-1].total == 24 and "meta-loss" in meta[-1].info


def test_horizon_curriculum_and_losses(pool):
    config = MetaTrainConfig(steps=100, curriculum=0.5, unroll=5, horizons=(10, 50, 100))
    rng = np.random.default_rng(0)
    assert {sample_horizon(config, 0, rng) for _ in range(20)} == {10}
    assert {sample_horizon(config, 99, rng) for _ in range(200)} == {10, 50, 100}
    arch = Architecture((8,), "relu")
    for losses in (("smoothed_cross_entropy", "huber"), ("cross_entropy", "squared")):
        tasks = TaskBatch(pool, arch, batch_size=16, generator=np.random.default_rng(0), losses=losses)
        theta = tasks.init_params(torch.Generator().manual_seed(0))
        values = tasks.full_loss(theta)
        assert torch.isfinite(values).all() and (values > 0).all()


def test_resume_continues_exactly(tmp_path, pool):
    full, part = tmp_path / "full", tmp_path / "part"
    meta_train(full, MetaTrainConfig(steps=6, checkpoint_every=2, **TINY), datasets=NAMES, progress=False)
    first = meta_train(part, MetaTrainConfig(steps=6, checkpoint_every=2, **TINY), datasets=NAMES, progress=False,
                       time_limit=0.0)  # stops after its first trajectory, as an interrupted run would
    assert 0 < first["steps_done"] < 6
    meta_train(part, MetaTrainConfig(steps=6, checkpoint_every=2, **TINY), datasets=NAMES, progress=False, resume=True)
    a, _ = load_network(full)
    b, _ = load_network(part)
    for (name, x), y in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        assert torch.allclose(x, y, atol=1e-6), name
    with pytest.raises(InputError, match="other settings"):
        meta_train(part, MetaTrainConfig(steps=8, **{**TINY, "unroll": 2}), datasets=NAMES, progress=False,
                   resume=True)


def test_bad_settings_are_refused(tmp_path):
    with pytest.raises(InputError, match="held out"):
        meta_train(tmp_path, MetaTrainConfig(steps=1, **TINY), datasets=["sklearn/iris", "sklearn/breast_cancer"])
    with pytest.raises(InputError, match="unroll <= every horizon"):
        meta_train(tmp_path, MetaTrainConfig(steps=1, unroll=20, horizons=(10, 100)), datasets=NAMES)
    with pytest.raises(InputError, match="Cannot resume"):
        meta_train(tmp_path / "new", MetaTrainConfig(steps=1, **TINY), datasets=NAMES, resume=True)
    if not torch.cuda.is_available():
        with pytest.raises(InputError, match="no CUDA device"):
            meta_train(tmp_path, MetaTrainConfig(steps=1, **TINY), datasets=NAMES, device="cuda")


def test_cli_train_and_errors(tmp_path, capsys):
    out = tmp_path / "ckpt"
    code = main(["meta-optimizer", "train", "--out", str(out), "--steps", "2", "--unroll", "3", "--horizons", "6",
                 "-k", "2", "--datasets", "sklearn/iris,sklearn/wine", "--threads", "1", "--quiet", "--json"])
    assert code == 0
    record = json.loads(capsys.readouterr().out)
    assert record["steps_done"] == 2 and record["config"]["unroll"] == 3
    assert (out / "optimizer.pt").exists() and (out / "record.json").exists()
    code = main(["meta-optimizer", "train", "--out", str(out), "--datasets", "pmlb/wdbc", "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and "held out" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    code = main(["meta-optimizer", "eval", "--datasets", "sklearn/iris"])
    err = capsys.readouterr().err
    assert code == 2 and "not held-out" in err


def test_benchmark_writes_tables_and_plots(tmp_path, pmlb_dir):
    updates: list[ProgressUpdate] = []
    head = evaluate("pretrained", data_dir=pmlb_dir, horizons=(10, 20), seeds=(0,),
                    datasets=("pmlb/wdbc", "pmlb/529_pollen"), out=tmp_path, prefix="t_", progress=updates.append,
                    timing_sizes=(3000,), timing_steps=5, timing_repeats=1)
    assert head["tasks"] == 3 and head["horizons"] == [10, 20]  # two MLPs and the CNN on the digits
    assert 0.0 <= head["win_rate"][10]["adam"] <= 1.0
    assert set(head["learned_diverged_tasks"]) == {10, 20}
    timing = head["seconds_per_step"]
    assert len(timing) == 3 and all(t["learned"] > 0 and t["adam"] > 0 for t in timing.values())
    assert updates and updates[-1].completed == updates[-1].total == 3 * 16
    names = {p.name for p in tmp_path.iterdir()}
    assert {"t_summary.csv", "t_curves.csv", "t_results.md", "t_curves_T20.png"} <= names
    import pandas as pd

    summary = pd.read_csv(tmp_path / "t_summary.csv")
    assert set(summary["optimizer"]) == {"learned", "adam", "rmsprop", "sgd_momentum"}
    assert set(summary["steps"]) == {10, 20} and len(summary) == 3 * 4 * 2
    assert "sklearn/digits @ cnn8x8" in set(summary["task"])
    assert "learned < Adam" in (tmp_path / "t_results.md").read_text()


def test_divergence_is_loss_above_its_own_minimum():
    import pandas as pd

    from autometa.neural._evaluate import _diverged  # the internal part is the unit under test

    curve = pd.Series([1.0, 0.5, 0.2, 0.21, 0.3], index=[0, 1, 10, 100, 1000])
    assert not _diverged(curve, 100)  # 0.21 <= 1.1 x 0.2
    assert _diverged(curve, 1000)  # 0.3 > 1.1 x 0.2, though far below the initial loss
    assert _diverged(pd.Series([1.0, float("inf")], index=[0, 10]), 10)


def test_meta_loss_is_relative_to_adam(pool):
    # The untrained rule is Adam(0.01), so against an Adam(0.01) reference run on the same batches its
    # meta-loss is ~0 (every step, every task); a rule with a 10x smaller step is clearly worse (> 0).
    config = MetaTrainConfig(**{**TINY, "horizons": (40,)})
    assert abs(evaluate_meta_loss(LearnedRule(), pool, config, trajectories=2)) < 1e-3
    slow = LearnedRule(output_scale=0.001)
    assert evaluate_meta_loss(slow, pool, config, trajectories=2) > 0.05
    # Without a reference it is the old log(L_t / L_0): negative, as training lowers the loss.
    old = MetaTrainConfig(**{**TINY, "horizons": (40,), "reference_lr": None, "loss_floor": 0.0})
    assert evaluate_meta_loss(LearnedRule(), pool, old, trajectories=2) < -0.05
    with pytest.raises(InputError, match="loss_floor"):
        MetaTrainConfig(**{**TINY, "loss_floor": 0.0}).validate()


def test_weight_averaging_is_written_and_resumes(tmp_path, pool):
    config = {**TINY, "average_from": 0.5}
    full, part = tmp_path / "full", tmp_path / "part"
    record = meta_train(full, MetaTrainConfig(steps=12, checkpoint_every=2, **config), datasets=NAMES)
    assert record["averaged_trajectories"] >= 2
    written, _ = load_network(full)
    state = torch.load(full / "training_state.pt", weights_only=False)
    raw = LearnedRule()
    raw.load_state_dict(state["network"])
    assert not torch.equal(written.linear, raw.linear)  # the mean, not the last weights
    meta_train(part, MetaTrainConfig(steps=12, checkpoint_every=2, **config), datasets=NAMES, time_limit=0.0)
    meta_train(part, MetaTrainConfig(steps=12, checkpoint_every=2, **config), datasets=NAMES, resume=True)
    resumed, _ = load_network(part)
    for (name, x), y in zip(written.state_dict().items(), resumed.state_dict().values(), strict=True):
        assert torch.allclose(x, y, atol=1e-6), name
