"""The conditional search-space encoding shared by every search over several families.

One Optuna study can hold every family: a ``family`` categorical parameter, then that family's
parameters named ``<family>.<param>`` (``lightgbm.learning_rate``), only those that apply to the task,
so that families sharing a parameter name never collide and no trial is spent on a dimension the
estimator ignores. :func:`suggest_config` asks a trial for such a config (define-by-run),
:func:`trial_config` reads one back from a trial's params, and :func:`fixed_params` writes one for
``study.enqueue_trial``. :class:`autometa.metamodel.MetaSampler`, ``autometa.tune`` and the benchmarks use
this one definition.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

#: The name of the parameter that chooses the family.
FAMILY_PARAM = "family"


def param_name(family: str, name: str) -> str:
    """The study's name of ``family``'s parameter ``name`` (``"<family>.<name>"``)."""
    return f"{family}.{name}"


def search_params(family: str, task: str | None = None) -> list[str]:
    """The parameters of ``family`` that a search on ``task`` tunes (all of them when ``task`` is None).

    Parameters that do not apply to the task (SVR's ``epsilon`` for classification) are left out,
    so that no sampler spends trials on a dimension the estimator ignores.
    """
    from autometa.spaces import get_family

    spec = get_family(family)
    return spec.params_for(task) if task else list(spec.space)


def suggest_config(trial: Any, families: Sequence[str], task: str | None = None) -> tuple[str, dict[str, Any]]:
    """Ask ``trial`` for a family (among ``families``) and that family's config for ``task``.

    Returns ``(family, config)``; the trial's params are ``family`` and ``<family>.<param>``.
    """
    from autometa.spaces import get_family

    family = trial.suggest_categorical(FAMILY_PARAM, list(families))
    return family, get_family(family).suggest(trial, task=task, prefix=f"{family}.")


def trial_config(params: Mapping[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """``(family, config)`` of a trial's params, or None when they are incomplete (a running trial).

    Parameters that apply to one task only are optional (a classification study has no SVR
    ``epsilon``); every other parameter of the family must be there.
    """
    from autometa.spaces import get_family, list_families

    family = params.get(FAMILY_PARAM)
    if family not in list_families():
        return None
    spec = get_family(family)
    config = {name: params[param_name(family, name)] for name in spec.space if param_name(family, name) in params}
    required = set(spec.space) - set(spec.task_params)
    return (family, config) if required <= set(config) else None


def fixed_params(family: str, config: Mapping[str, Any], task: str | None = None) -> dict[str, Any]:
    """The params of a trial that evaluates ``config`` of ``family`` on ``task`` (for ``enqueue_trial``)."""
    from autometa.spaces import get_family

    full = get_family(family).validate_config(config)
    return {FAMILY_PARAM: family, **{param_name(family, k): full[k] for k in search_params(family, task)}}
