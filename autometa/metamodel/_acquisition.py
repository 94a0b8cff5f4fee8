"""The acquisition that keeps using the meta-model after the warm start.

The meta-model's prediction for the new dataset is the *prior mean* of each config's normalized
score; the study's own results correct it locally, as a kernel smoother of the residuals:

    mu(c)    = m(c) + sum_i K(c, c_i) (z_i - m(c_i)) / (lam + sum_i K(c, c_i))
    sigma(c) = s(c) * sqrt(lam / (lam + sum_i K(c, c_i)))
    acq(c)   = mu(c) + kappa * sigma(c)

``z_i`` are the observed scores min-max normalized within the study (1 = best so far, failures 0),
``m``/``s`` the meta-model's mean and standard deviation, and ``K`` a kernel that is zero between
families and, within a family, ``rho + (1 - rho) exp(-d^2 / (2 l^2))`` over the family's unit cube
(``rho`` lets one bad result of a family lower the whole family a little). Far from anything observed
the prior rules; near observed configs the data do; as trials accumulate the prior's influence fades,
which is what protects against negative transfer when the meta-model is wrong about a dataset.

After the warm start this acquisition proposes only every ``meta_every``-th trial (:func:`meta_turn`);
the other trials go to Optuna's TPE, which sees every trial of the study, warm start included. TPE is
better at refining the best region once it has data (the min-max normalization above compresses
differences when every observed config is decent, and the acquisition then keeps circling one
family); the meta-model is better at saying where else to look. A candidate closer than
``min_distance`` (root-mean-square in the unit cube) to a config already tried in its family is never
proposed: a near-copy teaches nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class AcquisitionSettings:
    """Kernel length scale (unit cube), within-family correlation, prior weight and exploration."""

    length_scale: float = 0.2
    family_corr: float = 0.3
    prior_weight: float = 1.0
    kappa: float = 0.5
    meta_every: int = 2
    min_distance: float = 0.05


def meta_turn(n_observed: int, n_warm: int, settings: AcquisitionSettings) -> bool:
    """Whether the trial after ``n_observed`` ones is proposed by the meta-model (else by TPE)."""
    if n_observed < n_warm:
        return True
    every = max(int(settings.meta_every), 0)
    return every > 0 and (n_observed - n_warm) % every == 0


def too_close(cand: np.ndarray, obs: np.ndarray, min_distance: float) -> np.ndarray:
    """Candidates within ``min_distance`` (RMS over the family's parameters) of a tried config."""
    out = np.zeros(len(cand), dtype=bool)
    for code in np.unique(obs[:, 0]) if len(obs) else []:
        ci = np.flatnonzero(cand[:, 0] == code)
        oi = np.flatnonzero(obs[:, 0] == code)
        cols = 1 + np.flatnonzero(np.isfinite(obs[oi][:, 1:]).any(axis=0))
        if not len(ci):
            continue
        if not len(cols):  # no parameters: every config of the family is the one tried
            out[ci] = True
            continue
        a = np.nan_to_num(cand[np.ix_(ci, cols)], nan=0.5)
        b = np.nan_to_num(obs[np.ix_(oi, cols)], nan=0.5)
        d = np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).mean(axis=2))
        out[ci] = (d < min_distance).any(axis=1)
    return out


def normalize_observed(values: np.ndarray, failed: np.ndarray | None = None) -> np.ndarray:
    """Observed scores (higher is better) min-max normalized within the study; failures are 0.

    With fewer than two distinct finite values nothing can be normalized: NaN is returned, which the
    posterior treats as "no information yet" about the residual.
    """
    v = np.asarray(values, dtype=float)
    failed = np.zeros(len(v), dtype=bool) if failed is None else np.asarray(failed, dtype=bool)
    finite = np.isfinite(v) & ~failed
    out = np.full(len(v), np.nan)
    if finite.sum() >= 2 and np.ptp(v[finite]) > 0:
        low, high = v[finite].min(), v[finite].max()
        out[finite] = (v[finite] - low) / (high - low)
        out[failed] = 0.0
    return out


def kernel(cand: np.ndarray, obs: np.ndarray, settings: AcquisitionSettings) -> np.ndarray:
    """``K`` between encoded candidates and observations (rows ``[family code, unit params...]``)."""
    K = np.zeros((len(cand), len(obs)))
    if not len(cand) or not len(obs):
        return K
    for code in np.unique(obs[:, 0]):
        ci = np.flatnonzero(cand[:, 0] == code)
        oi = np.flatnonzero(obs[:, 0] == code)
        if not len(ci):
            continue
        cols = 1 + np.flatnonzero(np.isfinite(obs[oi][:, 1:]).any(axis=0))
        if len(cols):
            a = np.nan_to_num(cand[np.ix_(ci, cols)], nan=0.5)
            b = np.nan_to_num(obs[np.ix_(oi, cols)], nan=0.5)
            d2 = ((a[:, None, :] - b[None, :, :]) ** 2).sum(axis=2) / len(cols)
            local = np.exp(-d2 / (2 * settings.length_scale ** 2))
        else:  # a family without parameters: every config of it is the same config
            local = np.ones((len(ci), len(oi)))
        K[np.ix_(ci, oi)] = settings.family_corr + (1 - settings.family_corr) * local
    return K


def posterior(prior_mean: np.ndarray, prior_std: np.ndarray, cand: np.ndarray, obs: np.ndarray,
              obs_prior_mean: np.ndarray, obs_z: np.ndarray,
              settings: AcquisitionSettings = AcquisitionSettings()) -> tuple[np.ndarray, np.ndarray]:
    """Posterior mean and standard deviation of every candidate given the observations."""
    m = np.asarray(prior_mean, dtype=float)
    s = np.maximum(np.asarray(prior_std, dtype=float), 1e-3)
    informative = np.isfinite(obs_z)
    K = kernel(cand, obs[informative], settings) if informative.any() else np.zeros((len(m), 0))
    residual = (obs_z - obs_prior_mean)[informative]
    mass = K.sum(axis=1)
    lam = settings.prior_weight
    mu = m + (K @ residual) / (lam + mass) if K.shape[1] else m.copy()
    # Every observation (informative or not) makes the configs near it less uncertain.
    K_all = kernel(cand, obs, settings) if len(obs) else np.zeros((len(m), 0))
    sigma = s * np.sqrt(lam / (lam + K_all.sum(axis=1)))
    return mu, sigma


def acquisition(prior_mean: np.ndarray, prior_std: np.ndarray, cand: np.ndarray, obs: np.ndarray,
                obs_prior_mean: np.ndarray, obs_z: np.ndarray,
                settings: AcquisitionSettings = AcquisitionSettings()) -> np.ndarray:
    """Upper confidence bound ``mu + kappa * sigma`` of every candidate (higher = try sooner); near-copies
    of tried configs get ``-inf``.

    The numbers of :func:`posterior` and :func:`too_close` (up to floating-point rounding), computed one
    family at a time without the candidates x observations kernel matrix (the sampler calls this on
    every proposal).
    """
    m = np.asarray(prior_mean, dtype=float)
    s = np.maximum(np.asarray(prior_std, dtype=float), 1e-3)
    obs_z = np.asarray(obs_z, dtype=float)
    informative = np.isfinite(obs_z)
    residual = np.where(informative, obs_z - np.asarray(obs_prior_mean, dtype=float), 0.0)
    mass, mass_informative, pull, close = _kernel_sums(cand, obs, informative, residual, settings)
    lam = settings.prior_weight
    mu = m + pull / (lam + mass_informative)
    sigma = s * np.sqrt(lam / (lam + mass))
    score = mu + settings.kappa * sigma
    return np.where(close, -np.inf, score)


def _kernel_sums(cand: np.ndarray, obs: np.ndarray, informative: np.ndarray, residual: np.ndarray,
                 settings: AcquisitionSettings) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per candidate: the sum of :func:`kernel` over all observations and over the informative ones, the
    kernel-weighted sum of the informative residuals, and :func:`too_close`; one family at a time."""
    n = len(cand)
    mass, mass_informative, pull = np.zeros(n), np.zeros(n), np.zeros(n)
    close = np.zeros(n, dtype=bool)
    if not n or not len(obs):
        return mass, mass_informative, pull, close
    rho = settings.family_corr
    for code in np.unique(obs[:, 0]):
        ci = np.flatnonzero(cand[:, 0] == code)
        if not len(ci):
            continue
        oi = np.flatnonzero(obs[:, 0] == code)
        b = obs[oi]
        cols = 1 + np.flatnonzero(np.isfinite(b[:, 1:]).any(axis=0))
        if len(cols):
            a, b = cand[ci][:, cols], b[:, cols]
            # NaN (a parameter a config lacks) sits at the centre, as in kernel(); encodings are never infinite.
            a, b = np.where(np.isnan(a), 0.5, a), np.where(np.isnan(b), 0.5, b)
            d2 = ((a[:, None, :] - b[None, :, :]) ** 2).sum(axis=2) / len(cols)
            block = rho + (1 - rho) * np.exp(-d2 / (2 * settings.length_scale ** 2))
            close[ci] = (np.sqrt(d2) < settings.min_distance).any(axis=1)
        else:  # a family without parameters: every config of it is the same config
            block = np.full((len(ci), len(oi)), 1.0)
            close[ci] = True
        mass[ci] = block.sum(axis=1)
        useful = informative[oi]
        if useful.any():
            block = block[:, useful]
            mass_informative[ci] = block.sum(axis=1)
            pull[ci] = block @ residual[oi][useful]
    return mass, mass_informative, pull, close
