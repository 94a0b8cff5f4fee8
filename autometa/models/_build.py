"""Fitting a shippable model: the chosen members on all rows, their fusion, and the model card."""

from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from autometa.errors import InputError
from autometa.models._fitted import CARD_FORMAT, CARD_VERSION, FittedModel, Member, describe_columns, plain


@dataclass(frozen=True)
class Candidate:
    """A (family, config) that may join the model, with what the search measured of it.

    Attributes:
        family, config: the pipeline to fit.
        trial: its study trial (None when it comes from elsewhere).
        cv_score: its cross-validated score (None when unknown).
        oof: its out-of-fold predictions on the rows the fusion learns from (None when not kept).
    """

    family: str
    config: dict[str, Any]
    trial: int | None = None
    cv_score: float | None = None
    oof: np.ndarray | None = None


def class_codes(y: Any) -> tuple[np.ndarray, list[Any]]:
    """``(codes, labels)``: class codes ``0..K-1`` in the protocol's order (labels sorted as text, as
    :func:`autometa.evaluation.prepare_data` codes them) and the original label of each code."""
    values = np.asarray(y, dtype=object)
    text = values.astype(str)
    names, first, codes = np.unique(text, return_index=True, return_inverse=True)
    return codes.astype(np.int64), [plain(values[i]) for i in first]


def fit_model(candidates: Sequence[Candidate], dataset: Any, *, kind: str | None = None, metric: str,
              cv: dict[str, Any] | None = None, random_state: int = 0, notes: Sequence[str] = ()) -> FittedModel:
    """Fit a model on every row of ``dataset``: the best candidate alone, or a fusion of the candidates.

    Args:
        candidates: best first. A fusion uses those with out-of-fold predictions (all on the same rows).
        dataset: the :class:`~autometa.data.Dataset` to fit on.
        kind: None or ``"single"`` (the first candidate), ``"selection"``, ``"stacking"`` or ``"mdt"``.
        metric: the metric the candidates were scored by (ensemble selection optimizes it).
        cv: how the candidates' scores were measured (``{"rows": ..., "folds": ..., "y": ...}``:
            ``y`` the targets, as codes, of the rows their out-of-fold predictions cover).
        random_state: seed of every member and of the fusion.
        notes: lines for the card (e.g. why a fusion fell back to one model).

    Raises:
        InputError: no candidate, an unknown kind, or a config that cannot be fitted.
    """
    from autometa.evaluation import HIGHER_IS_BETTER
    from autometa.models._ensemble import CHECK_FOLDS, MAX_CANDIDATES, MAX_STACKED, fuse, held_out_check

    if not candidates:
        raise InputError("There is no model to fit: the study has no finished trial.")
    kind = kind or "single"
    notes = list(notes)
    cv = dict(cv or {})
    y_oof = cv.pop("y", None)
    weights, combiner, chosen = np.ones(1), None, [candidates[0]]
    if kind != "single":
        pool = [c for c in candidates if c.oof is not None][:MAX_CANDIDATES if kind == "selection" else MAX_STACKED]
        if len(pool) < 2 or y_oof is None:
            notes.append(f"{kind} asked for, but {len(pool)} trial(s) had out-of-fold predictions on the same "
                         "rows; the best single model is used.")
            kind = "single"
        else:
            n_classes = pool[0].oof.shape[1] if dataset.task == "classification" else 0
            outputs, y_oof = [c.oof for c in pool], np.asarray(y_oof)
            fused, single = held_out_check(kind, outputs, y_oof, dataset.task, metric, n_classes, random_state)
            cv["fusion_check"] = {"fusion": fused, "best_single": single, "folds": CHECK_FOLDS}
            sign = 1.0 if HIGHER_IS_BETTER.get(metric, True) else -1.0
            if not sign * fused > sign * single:
                notes.append(f"{kind} learned on 4/5 of the out-of-fold rows scored {fused:.4f} {metric} on the "
                             f"other fifth, not better than the best single model's {single:.4f}: the best single "
                             "model is used.")
                kind = "single"
            else:
                weights, combiner = fuse(kind, outputs, y_oof, dataset.task, metric, n_classes, random_state)
                keep = weights > 0
                chosen = [c for c, k in zip(pool, keep, strict=True) if k]
                weights = weights[keep]
                if kind == "selection" and len(chosen) == 1:
                    notes.append("Ensemble selection kept one model: no mix of the candidates scored better.")
                    kind, combiner = "single", None
    decision = None
    if dataset.task == "classification" and y_oof is not None:
        decision = _decision_rule(kind, chosen, weights, combiner, np.asarray(y_oof), dataset, metric, random_state)
        if decision is not None:
            check = decision["check"]
            notes.append(f"Predicted classes weigh each class's probability by its share of the rows to the power "
                         f"-{decision['alpha']:g} (the rule for {metric}): on held-out out-of-fold rows it scored "
                         f"{check['weighted']:.4f} {metric} against {check['most_probable']:.4f} for the most "
                         "probable class. predict_proba is unchanged.")
    members = [_fit_member(c, dataset, random_state) for c in chosen]
    card = _card(kind, members, weights, dataset, metric, cv, notes)
    card["decision"] = plain(decision)
    return FittedModel(members=members, card=card, combiner=combiner)


def _decision_rule(kind: str, chosen: list[Candidate], weights: np.ndarray, combiner: Any, y_oof: np.ndarray,
                   dataset: Any, metric: str, random_state: int) -> dict[str, Any] | None:
    """The decision rule learned from the shipped model's out-of-fold probabilities (None: most probable class)."""
    from autometa.models._decision import fit_decision
    from autometa.models._ensemble import apply_fusion

    outputs = [c.oof for c in chosen]
    if any(o is None or len(o) != len(y_oof) for o in outputs):
        return None
    proba = apply_fusion(kind, weights / weights.sum(), combiner, outputs, "classification")
    codes = class_codes(dataset.y)[0]
    shares = np.bincount(codes, minlength=proba.shape[1]) / len(codes)
    return fit_decision(proba, y_oof, metric, shares, random_state)


def _fit_member(candidate: Candidate, dataset: Any, random_state: int) -> Member:
    from threadpoolctl import threadpool_limits

    from autometa.spaces import get_family

    y = class_codes(dataset.y)[0] if dataset.task == "classification" else dataset.y.to_numpy(dtype=float)
    try:
        family = get_family(candidate.family)
        estimator = family.build_estimator(candidate.config, dataset.task, dataset, random_state=random_state)
        # One BLAS thread, as in the search's workers: on small problems threaded BLAS is many times
        # slower when the cores are shared (a logistic regression on 1,800 rows: 6 s instead of 0.2 s).
        with threadpool_limits(limits=1):
            family.fit(estimator, dataset.X, y)
    except InputError:
        raise
    except (ValueError, TypeError, KeyError) as exc:  # a config that does not fit its family (a hand-edited one)
        reason = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        raise InputError(f"The {candidate.family} config {candidate.config} cannot be fitted ({reason}).") from None
    return Member(candidate.family, dict(candidate.config), estimator, candidate.trial, candidate.cv_score)


def _card(kind: str, members: list[Member], weights: np.ndarray, dataset: Any, metric: str,
          cv: dict[str, Any], notes: list[str]) -> dict[str, Any]:
    from autometa import __version__

    card: dict[str, Any] = {
        "format": CARD_FORMAT, "format_version": CARD_VERSION, "kind": kind,
        "task": dataset.task, "target": None if dataset.target is None else str(dataset.target),
        "metric": metric, "columns": describe_columns(dataset.X),
        "classes": class_codes(dataset.y)[1] if dataset.task == "classification" else None,
        "members": [m.describe() for m in members],
        "weights": (weights / weights.sum()).tolist(),
        "cv": plain(cv), "trained_on": {"dataset": dataset.name, "rows": int(dataset.n_rows)},
        "notes": notes, "versions": package_versions(),
        "autometa": __version__,
        "created_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
    return plain(card)


def package_versions() -> dict[str, str]:
    """Versions of the packages a saved model's members depend on."""
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in ("scikit-learn", "lightgbm", "numpy", "pandas", "skops", "torch"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            continue
    return out
