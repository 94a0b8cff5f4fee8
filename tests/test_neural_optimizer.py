"""The learned optimizer's torch.optim API, its update rule, and the shipped checkpoint."""

from __future__ import annotations

import io
import json
import math
import shutil

import pytest

torch = pytest.importorskip("torch")

from sklearn.datasets import load_diabetes, load_wine  # noqa: E402

from autometa.errors import ArtifactError, InputError  # noqa: E402
from autometa.neural import CoordinateLSTM, LearnedOptimizer, load_network, pretrained_path  # noqa: E402
from autometa.neural._checkpoint import FORMAT_VERSION, save_network  # noqa: E402
from autometa.neural._datasets import EXCLUDED_FROM_META_TRAINING, HELD_OUT_DATASETS  # noqa: E402
from autometa.neural._lstm import log_and_sign  # noqa: E402

pytestmark = pytest.mark.usefixtures("torch_one_thread")  # conftest.py


def _wine_problem(seed: int = 0):
    data = load_wine()
    X = torch.tensor((data.data - data.data.mean(0)) / data.data.std(0), dtype=torch.float32)
    y = torch.tensor(data.target)
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(13, 16), torch.nn.Tanh(), torch.nn.Linear(16, 3))
    return model, X, y


def _train(model, opt, X, y, steps: int, seed: int = 0) -> list[float]:
    gen = torch.Generator().manual_seed(seed)
    losses = []
    for _ in range(steps):
        idx = torch.randint(len(X), (32,), generator=gen)
        loss = torch.nn.functional.cross_entropy(model(X[idx]), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(torch.nn.functional.cross_entropy(model(X), y).detach()))
    return losses


def test_log_and_sign_follows_the_paper():
    p = 10.0
    g = torch.tensor([1.0, -0.5, 1e-3, -1e-3, 1e-6, -1e-6, 0.0])
    feats = log_and_sign(g, p)
    for value, (log_part, sign_part) in zip(g.tolist(), feats.tolist(), strict=True):
        if abs(value) >= math.exp(-p):  # (log|g| / p, sign g)
            assert log_part == pytest.approx(math.log(abs(value)) / p, rel=1e-5)
            assert sign_part == math.copysign(1.0, value)
        else:  # (-1, exp(p) g)
            assert log_part == -1.0
            assert sign_part == pytest.approx(math.exp(p) * value, rel=1e-4, abs=1e-12)


def test_in_place_inference_step_matches_the_differentiable_step():
    # LearnedOptimizer runs CoordinateLSTM.step_ (reordered gates, tanh trick, in place); meta-training
    # runs forward. They must be the same function, whatever the weights.
    torch.manual_seed(0)
    net = CoordinateLSTM()
    with torch.no_grad():
        for p in net.parameters():
            p.normal_(0.0, 0.3)
    state_a = net.initial_state(200)
    state_b = {k: v.clone() for k, v in state_a.items()}
    weights = net.inference_weights()
    for _ in range(6):
        grad = torch.randn(200) * 10.0 ** torch.randint(-7, 1, (200,))
        with torch.no_grad():
            expected, state_a = net(grad, state_a)
        got = net.step_(grad, state_b, weights)
        assert torch.allclose(got, expected, rtol=1e-4, atol=1e-7 * float(expected.abs().max()))
        for key in ("h", "c", "exp_avg", "exp_avg_sq"):
            assert torch.allclose(state_b[key], state_a[key], rtol=1e-4, atol=1e-6), key
    assert float(state_b["step"]) == 6


def test_a_step_changes_parameters_and_training_lowers_the_loss():
    model, X, y = _wine_problem()
    before = [p.detach().clone() for p in model.parameters()]
    opt = LearnedOptimizer(model.parameters())  # the shipped, pretrained update rule
    losses = _train(model, opt, X, y, steps=60)
    assert all(not torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))
    assert losses[-1] < 0.5 * losses[0]


def test_untrained_network_is_adam_with_lr_001():
    # The linear path starts as -m_hat/sqrt(v_hat) and the LSTM head at zero: an untrained
    # optimizer must reproduce Adam(lr=0.01) step for step.
    model_a, X, y = _wine_problem(seed=3)
    model_b, _, _ = _wine_problem(seed=3)
    learned = _train(model_a, LearnedOptimizer(model_a.parameters(), checkpoint=None), X, y, steps=25)
    adam = _train(model_b, torch.optim.Adam(model_b.parameters(), lr=0.01), X, y, steps=25)
    assert learned == pytest.approx(adam, rel=1e-4)


def test_state_dict_round_trip_resumes_exactly():
    model_a, X, y = _wine_problem(seed=1)
    opt_a = LearnedOptimizer(model_a.parameters())
    _train(model_a, opt_a, X, y, steps=10, seed=5)
    buffer = io.BytesIO()
    torch.save({"model": model_a.state_dict(), "opt": opt_a.state_dict()}, buffer)
    reference = _train(model_a, opt_a, X, y, steps=10, seed=6)

    buffer.seek(0)
    saved = torch.load(buffer, weights_only=True)
    model_b, _, _ = _wine_problem(seed=99)
    model_b.load_state_dict(saved["model"])
    # Built with an *untrained* network: load_state_dict must restore the trained LSTM weights too.
    opt_b = LearnedOptimizer(model_b.parameters(), checkpoint=None)
    opt_b.load_state_dict(saved["opt"])
    resumed = _train(model_b, opt_b, X, y, steps=10, seed=6)
    assert resumed == pytest.approx(reference, rel=1e-5)


def test_drop_in_with_param_groups_closure_and_frozen_params():
    data = load_diabetes()
    X = torch.tensor((data.data - data.data.mean(0)) / data.data.std(0), dtype=torch.float32)
    y = torch.tensor((data.target - data.target.mean()) / data.target.std(), dtype=torch.float32)
    torch.manual_seed(0)
    body, head, frozen = torch.nn.Linear(10, 8), torch.nn.Linear(8, 1), torch.nn.Parameter(torch.ones(3))
    opt = LearnedOptimizer([{"params": body.parameters()}, {"params": [*head.parameters(), frozen], "scale": 0.5}])

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(head(torch.relu(body(X)))[:, 0], y)
        loss.backward()
        return loss

    first = float(opt.step(closure).detach())
    for _ in range(80):
        last = float(opt.step(closure).detach())
    assert last < 0.8 * first
    assert torch.equal(frozen, torch.ones(3))  # no gradient, no update
    assert opt.param_groups[1]["scale"] == 0.5


def test_float64_parameters():
    w = torch.zeros(5, dtype=torch.float64, requires_grad=True)
    opt = LearnedOptimizer([w])
    for _ in range(50):
        opt.zero_grad()
        ((w - 1.0) ** 2).sum().backward()
        opt.step()
    assert w.dtype == torch.float64
    assert float(((w - 1.0) ** 2).sum()) < 5.0 * 0.5  # moved well towards the minimum from a loss of 5


def test_shipped_checkpoint_and_its_record():
    net, record = load_network("pretrained")
    assert isinstance(net, CoordinateLSTM)
    assert record["format_version"] == FORMAT_VERSION
    assert record["network"]["hidden_size"] == 20 and record["network"]["num_layers"] == 2
    assert record["steps_done"] >= 1 and record["config"]["unroll"] >= 1
    assert not set(record["datasets"]) & EXCLUDED_FROM_META_TRAINING  # held-out data never trained on
    assert set(HELD_OUT_DATASETS) <= set(record["held_out"])
    assert (pretrained_path() / "optimizer.pt").stat().st_size < 200_000


def test_bad_checkpoints_are_refused(tmp_path):
    with pytest.raises(InputError, match="not a meta-optimizer checkpoint"):
        LearnedOptimizer([torch.zeros(2, requires_grad=True)], checkpoint=tmp_path)
    folder = tmp_path / "ckpt"
    save_network(folder, CoordinateLSTM(), {"steps_done": 0})
    record = json.loads((folder / "record.json").read_text())
    record["format_version"] = FORMAT_VERSION + 1
    (folder / "record.json").write_text(json.dumps(record))
    with pytest.raises(ArtifactError, match="format version"):
        load_network(folder)
    shutil.copy(pretrained_path() / "record.json", folder / "record.json")
    (folder / "optimizer.pt").write_bytes(b"not a torch file")
    with pytest.raises(ArtifactError, match="Cannot load"):
        load_network(folder)
    with pytest.raises(InputError, match="scale"):
        LearnedOptimizer([torch.zeros(2, requires_grad=True)], scale=-1.0)


@pytest.mark.gpu
def test_cuda_parameters():
    model, X, y = _wine_problem()
    model, X, y = model.cuda(), X.cuda(), y.cuda()
    losses = _train(model, LearnedOptimizer(model.parameters()), X, y, steps=30)
    assert losses[-1] < losses[0]
