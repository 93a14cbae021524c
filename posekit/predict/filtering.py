"""Filters for predicted poses: pure functions of an ``(n_frames, n_bodyparts, 3)`` array.

Each filter takes the predictions of one video (x, y, likelihood per frame and
body part; NaN = missing) and returns a new array of the same shape. They are
the filters of DeepLabCut's ``filterpredictions`` plus a Kalman smoother:

* ``median``: a running median of x and y over ``windowlength`` frames (odd),
  as DeepLabCut's ``scipy.signal.medfilt``; likelihoods unchanged;
* ``arima``: x and y of each body part are fitted with an ARMA(``ARdegree``,
  ``MAdegree``) state-space model (statsmodels ``SARIMAX``, observations with
  likelihood below ``p_bound`` treated as missing, the fit shared with
  ``extract_outlier_frames``' ``fitting``); the output is the one-step-ahead
  prediction of every frame (the first frame keeps its observation); series
  with fewer than 11 usable values become NaN; likelihoods unchanged;
* ``spline``: gaps (missing frames) of at most ``windowlength`` frames (any
  length when ``windowlength <= 0``) are filled by a cubic spline through the
  observed frames, which are kept as they are; filled points get likelihood
  :data:`FILLED_LIKELIHOOD` (0.01, DeepLabCut's);
* ``kalman`` (new, see :func:`kalman_filter`): a constant-velocity Kalman
  filter and Rauch-Tung-Striebel smoother per body part and axis; each
  observation's noise variance grows as its likelihood falls, observations
  below ``p_bound`` are missing; observed frames get the smoothed position,
  gaps of at most ``windowlength`` frames are filled (likelihood
  :data:`FILLED_LIKELIHOOD`).

Differences from DeepLabCut, on purpose: the median ignores missing values in
its window and pads the edges with the edge value (``medfilt`` pads with zeros,
which pulls the first and last ``windowlength // 2`` positions towards pixel 0)
and leaves missing frames missing; the spline does not extrapolate before the
first or after the last observation and keeps coordinates equal to 0
(DeepLabCut turns them into NaN); the ARMA fit is centred on the series mean
(see :mod:`posekit.refine.outliers`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = [
    "FILLED_LIKELIHOOD",
    "FILTERS",
    "arima_filter",
    "fillable_gaps",
    "filter_predictions",
    "kalman_filter",
    "median_filter",
    "spline_filter",
]

#: Likelihood given to points a filter filled in (DeepLabCut's spline uses 0.01).
FILLED_LIKELIHOOD = 0.01
#: A body part needs more observed frames than this for a spline (DeepLabCut's rule).
SPLINE_MIN_OBSERVED = 3
#: Smallest noise variances (px²) the Kalman smoother uses, so exact data stay well-posed.
MIN_VARIANCE = 1e-6
#: Prior variance of the first position and velocity (px², px²/frame²): effectively unknown.
DIFFUSE_VARIANCE = 1e8
#: Frames (from the middle of the video) on which the Kalman noise levels are fitted.
NOISE_BLOCK = 3000
#: Candidate acceleration densities (log-spaced, 1e-5 to 1e3) tried per series.
NOISE_GRID_STEPS = 33


def _check_poses(poses: np.ndarray) -> np.ndarray:
    poses = np.asarray(poses, dtype=np.float64)
    if poses.ndim != 3 or poses.shape[2] != 3:
        raise ValueError(
            "poses must have shape (n_frames, n_bodyparts, 3) with x, y, likelihood; "
            f"got {poses.shape}."
        )
    return poses


def _observed(poses: np.ndarray, p_bound: float | None = None) -> np.ndarray:
    """(n, J) bool: x and y finite (and likelihood >= p_bound when given)."""
    good = np.isfinite(poses[..., :2]).all(axis=-1)
    if p_bound is not None:
        with np.errstate(invalid="ignore"):
            good &= poses[..., 2] >= p_bound  # NaN likelihood = not observed
    return good


def fillable_gaps(observed: np.ndarray, max_gap: int) -> np.ndarray:
    """Frames inside gaps that a filter may fill.

    Parameters
    ----------
    observed
        (n, J) bool: True where a body part was observed.
    max_gap
        Longest run of unobserved frames to fill; ``<= 0`` fills gaps of any length.

    Returns
    -------
    numpy.ndarray
        (n, J) bool: unobserved frames with an observation before and after them
        in a run of at most ``max_gap`` frames. Runs at the start or end of the
        video (nothing on one side) are never fillable.
    """
    observed = np.asarray(observed, dtype=bool)
    n = observed.shape[0]
    out = np.zeros_like(observed)
    for j in range(observed.shape[1]):
        seen = np.flatnonzero(observed[:, j])
        if len(seen) < 2:
            continue
        # gaps between consecutive observations: frames seen[k]+1 .. seen[k+1]-1
        lengths = np.diff(seen) - 1
        keep = (lengths > 0) & ((lengths <= max_gap) if max_gap > 0 else True)
        marks = np.zeros(n + 1, dtype=np.int64)
        np.add.at(marks, seen[:-1][keep] + 1, 1)
        np.add.at(marks, seen[1:][keep], -1)
        out[:, j] = np.cumsum(marks[:n]) > 0
    return out


# --------------------------------------------------------------------------- #
# The filters
# --------------------------------------------------------------------------- #


def median_filter(poses: np.ndarray, windowlength: int = 5) -> np.ndarray:
    """Running median of x and y over ``windowlength`` frames (odd; 1 = unchanged).

    Missing values in a window are ignored; missing frames stay missing; the
    edges are padded with the first and last values. Likelihoods are unchanged.
    """
    poses = _check_poses(poses)
    windowlength = _positive_int(windowlength, "windowlength")
    if windowlength % 2 == 0:
        raise ValueError(f"windowlength must be odd for filtertype='median' (the window is "
                         f"centred on each frame), got {windowlength}; use {windowlength + 1}.")
    out = poses.copy()
    n = len(poses)
    if n == 0 or windowlength == 1:
        return out
    half = windowlength // 2
    xy = poses[..., :2]
    padded = np.concatenate([np.repeat(xy[:1], half, 0), xy, np.repeat(xy[-1:], half, 0)])
    windows = np.lib.stride_tricks.sliding_window_view(padded, windowlength, axis=0)
    missing = ~np.isfinite(xy)
    if missing.any():
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN windows
            med = np.nanmedian(windows, axis=-1)
        med[missing] = np.nan
    else:
        med = np.median(windows, axis=-1)
    out[..., :2] = med
    return out


def arima_filter(
    poses: np.ndarray,
    p_bound: float = 0.001,
    ARdegree: int = 3,
    MAdegree: int = 1,
    alpha: float = 0.01,
    n_jobs: int | None = None,
) -> np.ndarray:
    """One-step-ahead ARMA predictions of x and y (DeepLabCut's ``arima`` filter).

    Parameters
    ----------
    poses
        (n, J, 3) x, y, likelihood.
    p_bound
        Observations with a likelihood below it are missing for the fit.
    ARdegree, MAdegree
        ARMA orders.
    alpha
        Level of the prediction interval (computed by the fit; not used by the filter).
    n_jobs
        Worker processes for the 2*J fits (see
        :func:`posekit.refine.outliers.fitting_deviations`).

    Returns
    -------
    numpy.ndarray
        Predictions for every frame (gaps included); frame 0 keeps its
        observation; a series with fewer than 11 usable values is all NaN.
        Likelihoods unchanged.
    """
    from posekit.refine.outliers import arma_fits

    poses = _check_poses(poses)
    ARdegree = _positive_int(ARdegree, "ARdegree", allow_zero=True)
    MAdegree = _positive_int(MAdegree, "MAdegree", allow_zero=True)
    out = poses.copy()
    if len(poses) == 0:
        return out
    fits = arma_fits(poses, p_bound, ARdegree, MAdegree, alpha, n_jobs=n_jobs)
    for j in range(poses.shape[1]):
        for axis in (0, 1):
            mean = fits[2 * j + axis][0]
            out[:, j, axis] = mean
    out[0, :, :2] = poses[0, :, :2]  # no prediction for the first frame (DeepLabCut keeps it)
    return out


def spline_filter(poses: np.ndarray, windowlength: int = 5) -> np.ndarray:
    """Fill gaps of at most ``windowlength`` frames with a cubic spline.

    Each body part's x and y are interpolated by
    :class:`scipy.interpolate.CubicSpline` through its observed frames (x and
    y finite; at least 4 needed). Only gaps with observations on both sides
    are filled; ``windowlength <= 0`` fills them whatever their length.
    Observed frames are unchanged; filled ones get likelihood
    :data:`FILLED_LIKELIHOOD`.
    """
    from scipy.interpolate import CubicSpline

    poses = _check_poses(poses)
    windowlength = int(_number(windowlength, "windowlength"))
    out = poses.copy()
    observed = _observed(poses)
    fill = fillable_gaps(observed, windowlength)
    frames = np.arange(len(poses))
    for j in np.flatnonzero(fill.any(axis=0)):
        seen = observed[:, j]
        if seen.sum() <= SPLINE_MIN_OBSERVED:
            continue
        spline = CubicSpline(frames[seen], poses[seen, j, :2], axis=0)
        out[fill[:, j], j, :2] = spline(frames[fill[:, j]])
        out[fill[:, j], j, 2] = FILLED_LIKELIHOOD
    return out


def _lag2_noise(z: np.ndarray, observed: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Per-series detection noise variance at likelihood 1, from the data.

    For a constant-velocity track with white acceleration observed with white
    noise of variance ``r``, the second differences ``z_{t+1} - 2 z_t + z_{t-1}``
    have autocovariance ``r`` at lag 2 (the motion contributes nothing there),
    averaged over frames observed three in a row; it is rescaled by the mean
    ``1/likelihood`` weight of those frames. NaN where too few frames are observed.
    """
    n, s = z.shape
    r = np.full(s, np.nan)
    if n < 5:
        return r
    d = z[2:] - 2 * z[1:-1] + z[:-2]
    valid = observed[2:] & observed[1:-1] & observed[:-2]
    pairs = valid[2:] & valid[:-2]
    products = np.where(pairs, d[2:] * d[:-2], 0.0)
    count = pairs.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        gamma2 = products.sum(axis=0) / count
        mean_weight = np.where(valid, weight[1:-1], 0.0).sum(axis=0) / valid.sum(axis=0)
        r = np.where(count > 0, gamma2 / mean_weight, np.nan)
    return r


def _fit_noise(z: np.ndarray, observed: np.ndarray, weight: np.ndarray,
               r: np.ndarray | None, q: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Maximum-likelihood noise levels per series, on a grid, over a block of frames.

    ``r`` (detection variance at likelihood 1) and ``q`` (acceleration
    density) that are not given are chosen per series among
    :data:`NOISE_GRID_STEPS` values by the Kalman filter's innovation
    likelihood on the middle :data:`NOISE_BLOCK` frames; the ``r`` values are
    centred on :func:`_lag2_noise`'s estimate. All candidates of all series run
    as the columns of one filter pass.
    """
    n, s = z.shape
    lo = max(0, (n - NOISE_BLOCK) // 2)
    block = slice(lo, lo + NOISE_BLOCK)
    zb, ob, wb = z[block], observed[block], weight[block]
    if r is None:
        guess = _lag2_noise(zb, ob, wb)
        guess = np.where(np.isfinite(guess) & (guess > MIN_VARIANCE), guess, 1.0)
        r_grid = guess[None, :] * np.logspace(-1.5, 1.5, 7)[:, None]  # (R, s)
    else:
        r_grid = r[None, :]
    q_grid = np.logspace(-5, 3, NOISE_GRID_STEPS)[:, None] * np.ones(s) if q is None else q[None, :]
    n_r, n_q = len(r_grid), len(q_grid)
    # candidate columns ordered (r index, q index, series)
    r_cols = np.broadcast_to(r_grid[:, None, :], (n_r, n_q, s)).reshape(-1)
    q_cols = np.broadcast_to(q_grid[None, :, :], (n_r, n_q, s)).reshape(-1)
    tile = n_r * n_q
    obs_var = np.where(np.tile(ob, tile), np.tile(wb, tile) * r_cols, np.inf)
    loglik = _kalman_pass(np.tile(zb, tile), obs_var, q_cols, keep=False)
    best = np.argmax(loglik.reshape(tile, s), axis=0)
    return r_cols.reshape(tile, s)[best, np.arange(s)], q_cols.reshape(tile, s)[best, np.arange(s)]


def kalman_filter(
    poses: np.ndarray,
    p_bound: float = 0.001,
    windowlength: int = 5,
    measurement_noise: float | None = None,
    process_noise: float | None = None,
) -> np.ndarray:
    """Constant-velocity Kalman filter + Rauch-Tung-Striebel smoother per body part.

    Each body part's x and y are smoothed independently with the state
    (position, velocity), advanced one frame at a time with white
    acceleration noise. An observation with likelihood ``l`` has noise
    variance ``measurement_noise**2 / l``, so uncertain detections pull the
    track less; those with ``l < p_bound`` (or NaN) are missing.

    Parameters
    ----------
    poses
        (n, J, 3) x, y, likelihood.
    p_bound
        Likelihood below which an observation is ignored.
    windowlength
        Longest gap (in frames) to fill; ``<= 0`` fills every gap that has
        observations on both sides. Longer gaps, and the frames before the
        first and after the last observation, keep their input values.
    measurement_noise
        Detection noise standard deviation in pixels at likelihood 1.
        Default: estimated per body part and axis (see Notes).
    process_noise
        Square root of the white-acceleration density (px/frame^1.5; about how
        much the velocity changes per frame, in px/frame). Default: estimated.

    Returns
    -------
    numpy.ndarray
        (n, J, 3): observed frames get the smoothed position and keep their
        likelihood; filled frames get the smoothed position and likelihood
        :data:`FILLED_LIKELIHOOD`.

    Notes
    -----
    Noise levels not given are fitted per body part and axis by maximum
    likelihood (the filter's innovations) over a grid, on the middle
    :data:`NOISE_BLOCK` frames. The recursion over frames is sequential; each
    step updates every body part and axis (and, while fitting, every
    candidate noise level) at once with 2 x 2 covariances in closed form, and
    the smoother's gains are computed for all frames in one vectorised pass.
    """
    poses = _check_poses(poses)
    windowlength = int(_number(windowlength, "windowlength"))
    r = None if measurement_noise is None else _positive(measurement_noise, "measurement_noise") ** 2
    q = None if process_noise is None else _positive(process_noise, "process_noise") ** 2
    n, n_parts = poses.shape[:2]
    out = poses.copy()
    observed_part = _observed(poses, p_bound)
    if not observed_part.any():
        return out
    # series k = 2 * part + axis, as columns
    z = poses[..., :2].reshape(n, 2 * n_parts)
    observed = np.repeat(observed_part, 2, axis=1)
    z = np.where(observed, z, 0.0)
    likelihood = np.repeat(poses[..., 2], 2, axis=1)
    weight = np.where(observed, 1.0 / np.clip(np.nan_to_num(likelihood), 1e-12, None), 1.0)
    s = z.shape[1]
    r_s, q_s = _fit_noise(z, observed, weight, None if r is None else np.full(s, r),
                          None if q is None else np.full(s, q))
    obs_var = np.where(observed, weight * np.maximum(r_s, MIN_VARIANCE), np.inf)
    smoothed = _kalman_pass(z, obs_var, np.maximum(q_s, MIN_VARIANCE), keep=True)
    fill_part = fillable_gaps(observed_part, windowlength)
    take = observed | np.repeat(fill_part, 2, axis=1)
    out[..., :2] = np.where(take, smoothed, poses[..., :2].reshape(n, s)).reshape(n, n_parts, 2)
    out[..., 2] = np.where(fill_part, FILLED_LIKELIHOOD, poses[..., 2])
    return out


def _kalman_pass(z: np.ndarray, obs_var: np.ndarray, q: np.ndarray, keep: bool) -> np.ndarray:
    """Filter (and smooth) ``S`` independent constant-velocity series side by side.

    Parameters
    ----------
    z
        (n, S) observations (any finite value where missing).
    obs_var
        (n, S) observation variances; ``inf`` = missing.
    q
        (S,) acceleration noise density: ``Q = q [[1/3, 1/2], [1/2, 1]]``.
    keep
        True: run the Rauch-Tung-Striebel smoother and return the (n, S)
        smoothed positions. False: return the (S,) log-likelihood of the
        observations (innovations after each series' first two observations).

    Returns
    -------
    numpy.ndarray
    """
    n, s = z.shape
    q00, q01, q11 = q / 3.0, q / 2.0, q
    if keep:  # predicted (prior) and filtered (posterior) means and covariances, per frame
        pred = np.empty((n, 2, s))
        filt = np.empty((n, 2, s))
        pred_cov = np.empty((n, 3, s))  # p00, p01, p11
        filt_cov = np.empty((n, 3, s))
    loglik = np.zeros(s)
    seen = np.zeros(s)
    m0 = np.zeros(s)
    m1 = np.zeros(s)
    p00 = np.full(s, DIFFUSE_VARIANCE)
    p01 = np.zeros(s)
    p11 = np.full(s, DIFFUSE_VARIANCE)
    for t in range(n):
        if t:  # predict: x <- F x, P <- F P F' + Q with F = [[1, 1], [0, 1]]
            m0 = m0 + m1
            p00, p01 = p00 + 2.0 * p01 + p11 + q00, p01 + p11 + q01
            p11 = p11 + q11
        if keep:
            pred[t, 0], pred[t, 1] = m0, m1
            pred_cov[t, 0], pred_cov[t, 1], pred_cov[t, 2] = p00, p01, p11
        # update with H = [1, 0]; a missing observation has infinite variance: gain 0
        total = p00 + obs_var[t]
        innovation = z[t] - m0
        gain0 = p00 / total
        gain1 = p01 / total
        if not keep:  # the first two observations only pin down position and velocity
            counted = np.isfinite(total) & (seen >= 2)
            loglik -= np.where(counted, 0.5 * (np.log(np.where(counted, total, 1.0))
                                               + innovation * innovation / total), 0.0)
            seen += np.isfinite(total)
        m0 = m0 + gain0 * innovation
        m1 = m1 + gain1 * innovation
        p11 = p11 - gain1 * p01
        p01 = (1.0 - gain0) * p01
        p00 = (1.0 - gain0) * p00
        if keep:
            filt[t, 0], filt[t, 1] = m0, m1
            filt_cov[t, 0], filt_cov[t, 1], filt_cov[t, 2] = p00, p01, p11
    if not keep:
        return loglik
    # smoother gains G_t = P_t F' inv(P_{t+1|t}), for every frame at once
    a00, a01, a11 = filt_cov[:-1, 0], filt_cov[:-1, 1], filt_cov[:-1, 2]
    c00, c01, c10, c11 = a00 + a01, a01, a01 + a11, a11  # P F'
    b00, b01, b11 = pred_cov[1:, 0], pred_cov[1:, 1], pred_cov[1:, 2]
    det = b00 * b11 - b01 * b01
    i00, i01, i11 = b11 / det, -b01 / det, b00 / det
    g00, g01 = c00 * i00 + c01 * i01, c00 * i01 + c01 * i11
    g10, g11 = c10 * i00 + c11 * i01, c10 * i01 + c11 * i11
    x0 = filt[-1, 0].copy()
    x1 = filt[-1, 1].copy()
    out = np.empty((n, s))
    out[-1] = x0
    for t in range(n - 2, -1, -1):
        d0 = x0 - pred[t + 1, 0]
        d1 = x1 - pred[t + 1, 1]
        x0 = filt[t, 0] + g00[t] * d0 + g01[t] * d1
        x1 = filt[t, 1] + g10[t] * d0 + g11[t] * d1
        out[t] = x0
    return out


# --------------------------------------------------------------------------- #
# Dispatch
# --------------------------------------------------------------------------- #


def _number(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a number, got {value!r}.")
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value!r}.")
    return float(value)


def _positive(value: Any, name: str) -> float:
    number = _number(value, name)
    if number <= 0:
        raise ValueError(f"{name} must be positive (a standard deviation), got {value!r}; "
                         "None estimates it from the data.")
    return number


def _positive_int(value: Any, name: str, allow_zero: bool = False) -> int:
    number = _number(value, name)
    if number != int(number) or number < (0 if allow_zero else 1):
        raise ValueError(f"{name} must be a{' non-negative' if allow_zero else ' positive'} "
                         f"integer, got {value!r}.")
    return int(number)


#: filtertype -> (function, the parameters it takes).
FILTERS: dict[str, tuple[Callable[..., np.ndarray], tuple[str, ...]]] = {
    "median": (median_filter, ("windowlength",)),
    "arima": (arima_filter, ("p_bound", "ARdegree", "MAdegree", "alpha", "n_jobs")),
    "spline": (spline_filter, ("windowlength",)),
    "kalman": (kalman_filter, ("p_bound", "windowlength", "measurement_noise", "process_noise")),
}
#: Every parameter :func:`filter_predictions` knows (those of other filters are ignored).
_KNOWN = frozenset(p for _f, params in FILTERS.values() for p in params)


def filter_predictions(poses: np.ndarray, filtertype: str = "median", **params: Any) -> np.ndarray:
    """Filter predicted poses with one of :data:`FILTERS`.

    Parameters
    ----------
    poses
        (n_frames, n_bodyparts, 3) x, y, likelihood; NaN = missing.
    filtertype
        ``"median"``, ``"arima"``, ``"spline"`` or ``"kalman"``.
    **params
        The filter's parameters (``windowlength``, ``p_bound``, ``ARdegree``,
        ``MAdegree``, ``alpha``, ``n_jobs``, ``measurement_noise``,
        ``process_noise``). Parameters that belong to another filter type are
        ignored, as DeepLabCut's ``filterpredictions`` passes them all.

    Returns
    -------
    numpy.ndarray
        A new (n_frames, n_bodyparts, 3) float64 array.

    Raises
    ------
    ValueError
        For an unknown ``filtertype`` or an invalid parameter value.
    TypeError
        For an unknown parameter name or a parameter that is not a number.
    """
    if filtertype not in FILTERS:
        raise ValueError(f"Unknown filtertype {filtertype!r}; choose one of "
                         f"{', '.join(repr(f) for f in FILTERS)}.")
    unknown = sorted(set(params) - _KNOWN)
    if unknown:
        raise TypeError(f"Unknown filter parameter(s) {unknown}; known: {', '.join(sorted(_KNOWN))}.")
    function, names = FILTERS[filtertype]
    if "p_bound" in params and "p_bound" in names:
        p_bound = _number(params["p_bound"], "p_bound")
        if not 0.0 <= p_bound <= 1.0:
            raise ValueError(f"p_bound is a likelihood between 0 and 1, got {p_bound!r}.")
    return function(poses, **{k: v for k, v in params.items() if k in names})
