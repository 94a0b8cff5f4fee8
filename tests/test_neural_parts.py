"""Parts the neural modules share: the MLP builder and the training progress bar."""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")

from autometa.neural._mlp import hidden_layers, make_mlp  # noqa: E402
from autometa.neural._progress import LossProgress  # noqa: E402


def test_make_mlp_shape_and_activation():
    model = make_mlp(7, (5, 3), 2, "tanh")
    linears = [m for m in model if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(7, 5), (5, 3), (3, 2)]
    assert sum(isinstance(m, torch.nn.Tanh) for m in model) == 2
    assert model(torch.zeros(4, 7)).shape == (4, 2)
    assert [(m.in_features, m.out_features) for m in make_mlp(7, (), 2) if isinstance(m, torch.nn.Linear)] == [(7, 2)]


def test_the_estimator_and_the_fewshot_body_build_the_same_seeded_layers():
    from autometa.neural import TabularMLPRegressor
    from autometa.neural.fewshot._networks import MLPBody  # the internal part is the unit under test

    torch.manual_seed(3)
    body = MLPBody(6, [8, 4])
    torch.manual_seed(3)
    reference = torch.nn.Sequential(*hidden_layers(6, [8, 4]))
    # Few-shot checkpoints store the body's parameters under these names.
    assert list(body.state_dict()) == ["layers.0.weight", "layers.0.bias", "layers.2.weight", "layers.2.bias"]
    for name, value in reference.state_dict().items():
        assert torch.equal(body.state_dict()[f"layers.{name}"], value)
    torch.manual_seed(3)
    net = TabularMLPRegressor(hidden_layer_sizes=(8, 4))._build(6)  # before the output layer: the same
    assert all(torch.equal(net.state_dict()[k], v) for k, v in reference.state_dict().items())


def test_progress_smooths_the_loss_and_skips_non_finite_values():
    bar = LossProgress("x", 3, enabled=False, smoothing=0.5)
    assert math.isnan(bar.ema)
    bar.advance(4.0)
    bar.advance(float("nan"))
    bar.advance(2.0)
    assert bar.ema == pytest.approx(3.0)
    bar.close()


def test_progress_reports_to_a_callback_and_to_logging_never_to_the_terminal(capsys, caplog):
    updates = []
    with LossProgress("training", 2, enabled=updates.append, info="loss {ema:.2f} at {where}") as bar:
        bar.advance(1.5, where="here")
        bar.advance(1.5, where="there")
    assert [u.completed for u in updates] == [1, 2] and updates[-1].info == "loss 1.50 at there"
    with caplog.at_level("INFO", logger="autometa.neural"):
        with LossProgress("fitting", 1, enabled=True, info="{ema:.1f}") as bar:
            bar.advance(2.0)
    assert "fitting 1/1" in caplog.text
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


def test_library_code_does_not_import_the_cli():
    grimp = pytest.importorskip("grimp")

    graph = grimp.build_graph("autometa")
    neural = [m for m in graph.modules if m.startswith("autometa.neural")]
    assert neural
    for module in neural:
        imported = graph.find_modules_directly_imported_by(module)
        assert not [m for m in imported if m.startswith("autometa._cli")], module
    # no import cycles inside the package (the two that existed: _datasets -> _estimators -> _meta_train
    # -> _datasets, and fewshot's _base -> _checkpoint -> _gradient -> _base)
    for module in neural:
        for imported in graph.find_modules_directly_imported_by(module):
            if imported.startswith("autometa.neural") and imported != module:
                assert not graph.chain_exists(imported, module), (module, imported)
