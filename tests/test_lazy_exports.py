"""Lazy re-exports of the packages (autometa, autometa.evaluation, autometa.kb, autometa.neural, autometa.neural.fewshot):
cheap imports, every public name resolves to the object of the module that defines it, unknown names fail
as usual."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

PACKAGES = ("autometa", "autometa.evaluation", "autometa.kb", "autometa.neural", "autometa.neural.fewshot")


def test_importing_the_packages_loads_no_heavy_module():
    heavy = ("torch", "sklearn", "optuna", "lightgbm", "openml", "autometa._tune", "autometa._refit", "autometa.kb._verbs",
             "autometa.neural._estimators")
    probe = (f"import sys, {', '.join(PACKAGES)}; "
             f"print(','.join(m for m in {heavy!r} if m in sys.modules))")
    run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == ""


@pytest.mark.parametrize("package", PACKAGES)
def test_every_public_name_resolves_and_is_kept(package):
    module = importlib.import_module(package)
    names = [n for n in module.__all__ if n != "__version__"]
    assert names and set(names) <= set(dir(module))
    for name in names:
        value = getattr(module, name)
        if name not in module._LAZY:  # imported eagerly (autometa.evaluation's metric names)
            continue
        defining = importlib.import_module(module._LAZY[name])
        assert value is getattr(defining, name)
        assert vars(module)[name] is value  # resolved once, then a plain attribute


@pytest.mark.parametrize("package", PACKAGES)
def test_an_unknown_name_is_an_attribute_error(package):
    module = importlib.import_module(package)
    with pytest.raises(AttributeError, match=f"module '{package}' has no attribute 'no_such_name'"):
        module.no_such_name  # noqa: B018
    assert not hasattr(module, "no_such_name")
