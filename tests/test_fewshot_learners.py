"""The few-shot learners: one meta-update lowers the query loss, gradients are right, checkpoints round-trip."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from autometa.errors import ArtifactError, InputError
from autometa.neural.fewshot import (
    FOMAML,
    MAML,
    EpisodeSampler,
    FromScratch,
    MatchingNet,
    Pretrained,
    ProtoNet,
    Reptile,
    SinusoidTasks,
    load_learner,
    stack_episodes,
)

SMALL_CONV = {"kind": "conv", "channels": 4, "blocks": 2}
SMALL_MLP = {"kind": "mlp", "hidden": [16, 16]}


class FixedTasks:
    """A task sampler that deals out the same episodes in turn, so a meta-update's effect can be measured."""

    def __init__(self, episodes):
        self.episodes, self.i = episodes, 0

    def sample(self, rng):
        ep = self.episodes[self.i % len(self.episodes)]
        self.i += 1
        return ep


def _blobs(n_classes=10, per_class=12, dim=6, seed=0):
    """Gaussian clusters: classes separable enough that a few shots carry information."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=2.0, size=(n_classes, dim))
    X = np.concatenate([c + rng.normal(size=(per_class, dim)) for c in centres])
    return X.astype(np.float32), np.repeat(np.arange(n_classes), per_class)


def _images(n_classes=8, per_class=6, seed=0):
    rng = np.random.default_rng(seed)
    prototypes = rng.random((n_classes, 8, 8)) > 0.6
    images = np.concatenate([p + 0.3 * rng.normal(size=(per_class, 8, 8)) for p in prototypes])
    return images.astype(np.float32), np.repeat(np.arange(n_classes), per_class)


def _query_loss(learner, episodes):
    """Mean query loss after adaptation (cross-entropy of the logits, or MSE)."""
    losses = []
    for ep in episodes:
        out = learner.adapt(ep)(ep.query_x)
        if ep.is_classification:
            losses.append(float(F.cross_entropy(out, ep.query_y)))
        else:
            losses.append(float(F.mse_loss(out, ep.query_y)))
    return float(np.mean(losses))


def _episodes(kind, n=4):
    rng = np.random.default_rng(1)
    if kind == "sinusoid":
        sampler = SinusoidTasks(k_shot=5, n_query=10)
    elif kind == "images":
        sampler = EpisodeSampler(*_images(), n_way=3, k_shot=2, n_query=3, add_channel=True)
    else:
        sampler = EpisodeSampler(*_blobs(), n_way=3, k_shot=2, n_query=4)
    return [sampler.sample(rng) for _ in range(n)]


# (id, learner factory, episode kind, episodes per meta-batch)
CASES = [
    ("MAML-sinusoid", lambda: MAML(SMALL_MLP, inner_lr=0.01, meta_lr=3e-3, device="cpu"), "sinusoid", 4),
    ("FOMAML-sinusoid", lambda: FOMAML(SMALL_MLP, inner_lr=0.01, meta_lr=3e-3, device="cpu"), "sinusoid", 4),
    # Averaging the weights adapted to several different sinusoids need not help each of them after one
    # step (Reptile follows no query-loss gradient); moving toward one task's solution must help on it.
    ("Reptile-sinusoid", lambda: Reptile(SMALL_MLP, inner_lr=0.02, inner_steps=10, meta_lr=0.5, anneal=False,
                                         device="cpu"), "sinusoid", 1),
    # Pretraining minimizes the loss of the shared network itself, before any fine-tuning: measure that.
    ("Pretrained-sinusoid", lambda: Pretrained(SMALL_MLP, adapt_steps=0, meta_lr=3e-3, device="cpu"), "sinusoid", 4),
    ("MAML-images", lambda: MAML(SMALL_CONV, inner_lr=0.1, meta_lr=3e-3, device="cpu"), "images", 4),
    ("FOMAML-blobs", lambda: FOMAML(SMALL_MLP, inner_lr=0.1, zero_head=True, meta_lr=1e-2, device="cpu"), "blobs", 4),
    ("Reptile-blobs", lambda: Reptile(SMALL_MLP, inner_lr=0.1, inner_steps=10, zero_head=True, meta_lr=1.0,
                                      anneal=False, device="cpu"), "blobs", 4),
    ("ProtoNet-images", lambda: ProtoNet(SMALL_CONV, meta_lr=3e-3, device="cpu"), "images", 4),
    ("MatchingNet-blobs", lambda: MatchingNet(SMALL_MLP, meta_lr=3e-3, device="cpu"), "blobs", 4),
]


@pytest.mark.parametrize("make, kind, n", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_one_meta_update_lowers_the_query_loss(make, kind, n):
    episodes = _episodes(kind, n)
    learner = make()
    learner.meta_fit(FixedTasks(episodes), n_iterations=0)  # nothing happens without an iteration
    assert not hasattr(learner, "model_")
    # Build the network on the batch, then measure; the update below uses exactly these episodes.
    learner.meta_fit(FixedTasks(episodes), n_iterations=1, meta_batch_size=n)
    before = _query_loss(learner, episodes)
    learner.meta_fit(FixedTasks(episodes), n_iterations=1, meta_batch_size=n)
    after = _query_loss(learner, episodes)
    assert after < before
    assert learner.iterations_ == 2 and len(learner.history_) == 2


def _loop_meta_gradient(learner, batch, first_order):
    """The MAML meta-gradient computed task by task with plain autograd (the reference)."""
    params = dict(learner.model_.named_parameters())
    total = 0.0
    for b in range(batch.support_x.shape[0]):
        p = learner._task_params(params, batch.n_way)
        for _ in range(learner.inner_steps):
            loss = learner._loss(p, batch.support_x[b], batch.support_y[b])
            grads = torch.autograd.grad(loss, list(p.values()), create_graph=not first_order)
            p = {k: v - learner.inner_lr * g for (k, v), g in zip(p.items(), grads, strict=True)}
        if first_order:
            p = {k: v.detach().requires_grad_() for k, v in p.items()}
            grads = torch.autograd.grad(learner._loss(p, batch.query_x[b], batch.query_y[b]), list(p.values()))
            total = total + torch.cat([g.flatten() for g in grads])
        else:
            total = total + learner._loss(p, batch.query_x[b], batch.query_y[b])
    if first_order:
        return total / batch.support_x.shape[0]
    grads = torch.autograd.grad(total / batch.support_x.shape[0], list(params.values()))
    return torch.cat([g.flatten() for g in grads])


@pytest.mark.parametrize("first_order", [False, True], ids=["second-order", "first-order"])
def test_maml_meta_gradient_matches_a_per_task_loop(first_order):
    # Batch norm and two inner steps: vmap + torch.func must give the same meta-gradient as a plain loop.
    torch.manual_seed(0)
    episodes = _episodes("images", n=3)
    learner = MAML(SMALL_CONV, inner_lr=0.3, inner_steps=2, first_order=first_order, meta_lr=0.0, device="cpu")
    learner.meta_fit(FixedTasks(episodes), n_iterations=1, meta_batch_size=3)  # lr 0: only builds and computes
    learner.meta_fit(FixedTasks(episodes), n_iterations=1, meta_batch_size=3)
    vmapped = torch.cat([p.grad.flatten() for p in learner.model_.parameters()])
    reference = _loop_meta_gradient(learner, stack_episodes(episodes), first_order)
    assert torch.allclose(vmapped, reference, atol=1e-5, rtol=1e-4)
    if not first_order:  # and the second-order terms matter: FOMAML's gradient is different
        fo = _loop_meta_gradient(learner, stack_episodes(episodes), True)
        assert not torch.allclose(vmapped, fo, atol=1e-4, rtol=1e-3)


def test_zero_head_serves_any_number_of_ways():
    blobs = _blobs()
    learner = MAML(SMALL_MLP, inner_lr=0.5, inner_steps=3, zero_head=True, device="cpu")
    learner.meta_fit(EpisodeSampler(*blobs, n_way=5, k_shot=2, n_query=2), n_iterations=2)
    ep = EpisodeSampler(*blobs, n_way=3, k_shot=3, n_query=4).sample(np.random.default_rng(0))
    assert learner.adapt(ep)(ep.query_x).shape == (12, 3)
    fixed = MAML(SMALL_MLP, device="cpu").meta_fit(EpisodeSampler(*blobs, n_way=5, k_shot=2, n_query=2), 1)
    with pytest.raises(InputError, match="5 outputs"):
        fixed.adapt(ep)


def test_from_scratch_learns_the_support_set_without_meta_training():
    ep = _episodes("blobs", n=1)[0]
    learner = FromScratch(SMALL_MLP, adapt_steps=50, device="cpu").meta_fit(FixedTasks([ep]))
    predictor = learner.adapt(ep)
    assert predictor.score(ep.support_x, ep.support_y) == 1.0
    assert learner.iterations_ == 0


def test_adapt_and_meta_fit_reject_bad_input():
    with pytest.raises(InputError, match="meta_fit"):
        ProtoNet(device="cpu").adapt(_episodes("blobs", 1)[0])
    with pytest.raises(InputError, match="regression"):
        ProtoNet(SMALL_MLP, device="cpu").meta_fit(SinusoidTasks(), n_iterations=1)
    learner = ProtoNet(SMALL_MLP, device="cpu").meta_fit(FixedTasks(_episodes("blobs")), n_iterations=1)
    ep = _episodes("blobs", 1)[0]
    with pytest.raises(InputError, match="0..N-1"):
        learner.adapt((ep.support_x, ep.support_y + 1))
    with pytest.raises(InputError, match="regression"):
        learner.adapt(_episodes("sinusoid", 1)[0])
    with pytest.raises(InputError, match="kind"):
        MAML({"kind": "transformer"}, device="cpu").meta_fit(FixedTasks(_episodes("blobs")), 1)
    if not torch.cuda.is_available():
        with pytest.raises(InputError, match="CUDA"):
            MAML(SMALL_MLP, device="cuda").meta_fit(FixedTasks(_episodes("blobs")), 1)


def test_meta_fit_in_two_calls_equals_one_call():
    sampler = SinusoidTasks(k_shot=5, n_query=5)
    one = MAML(SMALL_MLP, meta_batch_size=2, device="cpu", seed=3).meta_fit(sampler, n_iterations=4, progress=False)
    two = MAML(SMALL_MLP, meta_batch_size=2, device="cpu", seed=3).meta_fit(sampler, n_iterations=2, progress=False)
    two.meta_fit(sampler, n_iterations=2, progress=False)
    for a, b in zip(one.model_.parameters(), two.model_.parameters(), strict=True):
        assert torch.equal(a, b)
    other = MAML(SMALL_MLP, meta_batch_size=2, device="cpu", seed=4).meta_fit(sampler, n_iterations=4, progress=False)
    assert not torch.equal(next(one.model_.parameters()), next(other.model_.parameters()))


@pytest.mark.parametrize("make, kind", [c[1:3] for c in CASES], ids=[c[0] for c in CASES])
def test_save_load_round_trip(tmp_path, make, kind):
    episodes = _episodes(kind)
    learner = make().meta_fit(FixedTasks(episodes), n_iterations=2, meta_batch_size=2)
    learner.save(tmp_path / "ckpt")
    loaded = load_learner(tmp_path / "ckpt")
    assert type(loaded) is type(learner) and loaded.get_params() == learner.get_params()
    assert loaded.iterations_ == 2 and loaded.history_ == pytest.approx(learner.history_, abs=1e-6)
    for ep in episodes[:2]:
        assert torch.allclose(loaded.adapt(ep)(ep.query_x), learner.adapt(ep)(ep.query_x), atol=1e-6)
    # The weights file holds tensors only: it loads with weights_only=True.
    state = torch.load(tmp_path / "ckpt" / "weights.pt", weights_only=True)
    assert all(isinstance(v, torch.Tensor) for v in state.values())


def test_load_refuses_missing_and_foreign_checkpoints(tmp_path):
    with pytest.raises(InputError, match="not a few-shot learner checkpoint"):
        load_learner(tmp_path)
    learner = ProtoNet(SMALL_MLP, device="cpu").meta_fit(FixedTasks(_episodes("blobs")), n_iterations=1)
    folder = learner.save(tmp_path / "ckpt")
    record = json.loads((folder / "record.json").read_text())
    record["format_version"] = 99
    (folder / "record.json").write_text(json.dumps(record))
    with pytest.raises(ArtifactError, match="version"):
        load_learner(folder)


def test_evaluate_reports_mean_and_interval():
    learner = ProtoNet(SMALL_MLP, device="cpu").meta_fit(FixedTasks(_episodes("blobs")), n_iterations=1)
    sampler = EpisodeSampler(*_blobs(seed=1), n_way=3, k_shot=2, n_query=4)
    result = learner.evaluate(sampler, n_episodes=20, seed=0)
    assert result["metric"] == "accuracy" and result["n_episodes"] == 20
    assert 1 / 3 < result["mean"] <= 1.0 and result["ci95"] >= 0  # well separated blobs beat chance
    assert learner.evaluate(sampler, n_episodes=20, seed=0)["scores"] == result["scores"]


@pytest.mark.gpu
def test_meta_fit_on_cuda():
    learner = MAML(SMALL_CONV, device="cuda").meta_fit(FixedTasks(_episodes("images")), n_iterations=2)
    assert next(learner.model_.parameters()).is_cuda
    ep = _episodes("images", 1)[0]
    assert 0.0 <= learner.adapt(ep).score(ep.query_x, ep.query_y) <= 1.0
