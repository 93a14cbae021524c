"""Outlier detectors on predicted poses: pure functions of an ``(n, J, 3)`` array.

Each detector gets the predictions of one video as an ``(n, J, 3)`` array
(x, y, likelihood per frame and compared body part) and returns a per-frame
*score*, the threshold that score is compared with, and the flagged frame
positions (0-based rows of the array). They follow DeepLabCut 2.3's
``extract_outlier_frames`` (format spec section 13):

* ``uncertain``: any body part's likelihood is below ``p_bound``;
* ``jump``: any body part moved more than ``epsilon`` pixels since the
  previous frame (``dx² + dy² > epsilon²``; the first frame is never flagged,
  a NaN coordinate counts as no motion on that axis, as pandas' ``sum`` does);
* ``fitting``: x and y of each body part are fitted with an ARMA(``ARdegree``,
  ``MAdegree``) state-space model (statsmodels ``SARIMAX``, observations with
  likelihood below ``p_bound`` treated as missing); a frame's score is the
  distance between observation and one-step prediction, averaged over the body
  parts, and frames scoring above ``epsilon`` are flagged; when fewer than
  ``n_min`` frames are, the ``n_min`` largest scores are taken instead.

Differences from DeepLabCut, on purpose: each series is centred (its mean
subtracted) before the zero-mean ARMA fit, so the first predictions are the
series mean rather than 0 (DeepLabCut flags the first frames of every video
because of that); the ``n_min`` fallback never picks NaN scores; the scale is
concentrated out of the likelihood (same maximum, one parameter fewer) and
long series start the optimiser from a fit on a 10 000-frame block, which
makes the whole-series fit converge in a few iterations (with a slightly
looser stopping tolerance, see :func:`fit_arma`).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = [
    "ALGORITHMS",
    "DETECTORS",
    "OutlierScores",
    "arma_fits",
    "check_algorithm",
    "detect_outliers",
    "fit_arma",
    "fitting_deviations",
    "jump_scores",
    "uncertain_scores",
]

#: Detectors that score frames (``manual`` and ``list`` pick frames otherwise).
DETECTORS = ("uncertain", "jump", "fitting")
#: Every ``outlieralgorithm`` value ``extract_outlier_frames`` accepts.
ALGORITHMS = (*DETECTORS, "manual", "list")

#: Series longer than this get start values from a fit on a block of this length.
WARM_START_FRAMES = 10_000
#: Fewer finite observations than this (DeepLabCut: <= 10): no fit, NaN predictions.
MIN_FINITE = 11
#: Total frames (frames x series) above which the fits run in worker processes.
PARALLEL_MIN_WORK = 40_000


@dataclass
class OutlierScores:
    """What a detector found in one video.

    Attributes
    ----------
    algorithm : str
        ``"uncertain"``, ``"jump"`` or ``"fitting"``.
    score : numpy.ndarray
        One value per frame: the smallest likelihood (``uncertain``), the largest
        displacement in pixels (``jump``) or the mean deviation from the fit in
        pixels (``fitting``). NaN where nothing could be computed.
    threshold : float
        ``p_bound`` (flagged below it) or ``epsilon`` (flagged above it).
    candidates : numpy.ndarray
        Flagged frame positions (sorted, int64).
    significant : numpy.ndarray or None
        ``fitting`` only: per frame, the fraction of compared (body part, axis)
        observations outside the ``1 - alpha`` prediction interval.
    """

    algorithm: str
    score: np.ndarray
    threshold: float
    candidates: np.ndarray
    significant: np.ndarray | None = None

    @property
    def below(self) -> bool:
        """True when frames are flagged for scores *below* the threshold."""
        return self.algorithm == "uncertain"

    @property
    def label(self) -> str:
        """Axis label of :attr:`score` for plots."""
        return {
            "uncertain": "lowest likelihood",
            "jump": "largest jump (px)",
            "fitting": "mean deviation from fit (px)",
        }[self.algorithm]


def _check_poses(poses: np.ndarray) -> np.ndarray:
    poses = np.asarray(poses, dtype=np.float64)
    if poses.ndim != 3 or poses.shape[2] != 3:
        raise ValueError(
            f"poses must have shape (n_frames, n_bodyparts, 3) with x, y, likelihood; "
            f"got {poses.shape}."
        )
    return poses


def uncertain_scores(poses: np.ndarray, p_bound: float) -> OutlierScores:
    """Frames where any body part's likelihood is below ``p_bound``.

    NaN likelihoods are never below the bound (as pandas' ``lt``).
    """
    poses = _check_poses(poses)
    likelihood = poses[:, :, 2]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows
        score = np.nanmin(likelihood, axis=1) if poses.shape[1] else np.full(len(poses), np.nan)
    flagged = np.any(likelihood < p_bound, axis=1)
    return OutlierScores("uncertain", score, float(p_bound), np.flatnonzero(flagged))


def jump_scores(poses: np.ndarray, epsilon: float) -> OutlierScores:
    """Frames where any body part moved more than ``epsilon`` px since the previous frame."""
    poses = _check_poses(poses)
    n = len(poses)
    squared = np.zeros((n, poses.shape[1]))
    if n > 1:
        step = np.diff(poses[:, :, :2], axis=0) ** 2
        squared[1:] = np.nansum(step, axis=2)  # NaN axis = no motion (pandas sum skipna)
    largest = squared.max(axis=1) if poses.shape[1] else np.zeros(n)
    flagged = np.any(squared > float(epsilon) ** 2, axis=1)
    return OutlierScores("jump", np.sqrt(largest), float(epsilon), np.flatnonzero(flagged))


def fit_arma(
    y: np.ndarray, ar_degree: int = 3, ma_degree: int = 1, alpha: float = 0.01
) -> tuple[np.ndarray, np.ndarray]:
    """One-step predictions of an ARMA model fitted to one series (NaN = missing).

    The series is centred on the mean of its finite values, fitted with
    ``SARIMAX(order=(ar_degree, 0, ma_degree), simple_differencing=True)`` by
    L-BFGS (at most 50 iterations, DeepLabCut's setting), and the in-sample
    one-step-ahead predictions are returned with their ``1 - alpha`` interval.
    Series longer than 20 000 frames start from the estimate on their middle
    10 000 frames and stop the whole-series fit at a relative likelihood change
    of about 2e-6 (L-BFGS ``factr=1e10``), about 3x faster than full
    convergence for predictions within 0.2 px of it.

    Returns
    -------
    mean : numpy.ndarray
        (n,) predictions; all NaN when the series has fewer than 11 finite values.
    interval : numpy.ndarray
        (n, 2) lower and upper bounds.
    """
    y = np.asarray(y, dtype=np.float64).ravel()
    n = len(y)
    finite = np.isfinite(y)
    if finite.sum() < MIN_FINITE:
        return np.full(n, np.nan), np.full((n, 2), np.nan)
    from statsmodels.tsa.statespace.sarimax import SARIMAX

    offset = float(y[finite].mean())
    centred = y - offset

    def model(series: np.ndarray, relaxed: bool = False) -> SARIMAX:
        extra = (
            {"enforce_stationarity": False, "enforce_invertibility": False} if relaxed else {}
        )
        return SARIMAX(
            series,
            order=(int(ar_degree), 0, int(ma_degree)),
            seasonal_order=(0, 0, 0, 0),
            simple_differencing=True,
            concentrate_scale=True,
            **extra,
        )

    def fit(mod: SARIMAX, start=None, **tolerance):
        return mod.fit(
            start_params=start, method="lbfgs", maxiter=50, disp=False, cov_type="none",
            **tolerance,
        )

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence / non-stationary start warnings
        start = None
        if n > 2 * WARM_START_FRAMES:
            lo = (n - WARM_START_FRAMES) // 2
            block = centred[lo : lo + WARM_START_FRAMES]
            if np.isfinite(block).sum() >= MIN_FINITE:
                try:
                    start = fit(model(block)).params
                except (ValueError, np.linalg.LinAlgError):
                    start = None
        mod = model(centred)
        try:
            # From the block's estimate a looser stop (relative likelihood change
            # ~2e-6) takes 3 instead of ~11 iterations; the predictions move by
            # < 0.2 px (benchmarks/bench_outliers.py data).
            result = fit(mod, start, **({"factr": 1e10} if start is not None else {}))
        except (ValueError, np.linalg.LinAlgError):
            # A non-stationary start makes the default model fail; DeepLabCut
            # relaxes the constraints in that case.
            mod = model(centred, relaxed=True)
            result = fit(mod)
        prediction = result.get_prediction(end=mod.nobs - 1)
        mean = np.asarray(prediction.predicted_mean, dtype=np.float64) + offset
        interval = np.asarray(prediction.conf_int(alpha=alpha), dtype=np.float64) + offset
    return mean, interval


def _fit_task(args: tuple) -> tuple[np.ndarray, np.ndarray]:
    return fit_arma(*args)


def _default_workers(n_tasks: int) -> int:
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, min(n_tasks, cpus or 1))


def arma_fits(
    poses: np.ndarray,
    p_bound: float = 0.01,
    ARdegree: int = 3,
    MAdegree: int = 1,
    alpha: float = 0.01,
    n_jobs: int | None = None,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """:func:`fit_arma` of x and y of every body part, likelihood < ``p_bound`` = missing.

    Shared by the ``fitting`` outlier detector and ``filterpredictions``'
    ``arima`` filter.

    Parameters
    ----------
    poses
        (n, J, 3) x, y, likelihood.
    p_bound, ARdegree, MAdegree, alpha
        Missing-data bound, ARMA orders, prediction-interval level.
    n_jobs
        Worker processes for the 2*J fits (default: the CPUs available; 1 runs
        them here). Short videos are always fitted in this process.

    Returns
    -------
    list of (mean, interval)
        ``2 * J`` fits in the order body part 0 x, body part 0 y, body part 1 x...
    """
    poses = _check_poses(poses)
    n, n_parts = poses.shape[:2]
    tasks = []
    for j in range(n_parts):
        masked = poses[:, j, :2].copy()
        masked[~(poses[:, j, 2] >= p_bound)] = np.nan  # uncertain (or NaN likelihood) = missing
        tasks.extend((masked[:, axis], ARdegree, MAdegree, alpha) for axis in (0, 1))
    workers = _default_workers(len(tasks)) if n_jobs is None else max(1, int(n_jobs))
    if workers > 1 and n * len(tasks) >= PARALLEL_MIN_WORK and len(tasks) > 1:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        # "spawn": forking a kernel that runs JAX (multithreaded) can deadlock.
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            return list(pool.map(_fit_task, tasks))
    return [_fit_task(task) for task in tasks]


def fitting_deviations(
    poses: np.ndarray,
    p_bound: float = 0.01,
    ARdegree: int = 3,
    MAdegree: int = 1,
    alpha: float = 0.01,
    n_jobs: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame deviation of the observations from per-body-part ARMA fits.

    x and y of every body part are fitted separately (:func:`arma_fits`) with
    observations whose likelihood is below ``p_bound`` treated as missing. The
    distance between each (unmasked) observation and its one-step prediction
    is averaged over the body parts that have one.

    Parameters
    ----------
    poses
        (n, J, 3) x, y, likelihood of the compared body parts.
    p_bound, ARdegree, MAdegree, alpha
        As in ``extract_outlier_frames``.
    n_jobs
        Worker processes for the 2*J fits (default: the CPUs available; 1 runs
        them here). Short videos are always fitted in this process.

    Returns
    -------
    distance : numpy.ndarray
        (n,) mean deviation in pixels (NaN where no body part had a fit).
    significant : numpy.ndarray
        (n,) fraction of (body part, axis) observations outside the ``1 - alpha``
        prediction interval.
    """
    poses = _check_poses(poses)
    n, n_parts = poses.shape[:2]
    fits = arma_fits(poses, p_bound, ARdegree, MAdegree, alpha, n_jobs)
    distance = np.full((n, n_parts), np.nan)
    outside = np.full((n, n_parts * 2), np.nan)
    for j in range(n_parts):
        (mean_x, ci_x), (mean_y, ci_y) = fits[2 * j], fits[2 * j + 1]
        x, y = poses[:, j, 0], poses[:, j, 1]
        distance[:, j] = np.sqrt((x - mean_x) ** 2 + (y - mean_y) ** 2)
        for k, (obs, ci) in enumerate(((x, ci_x), (y, ci_y))):
            has = np.isfinite(ci).all(axis=1) & np.isfinite(obs)
            outside[has, 2 * j + k] = ((obs < ci[:, 0]) | (obs > ci[:, 1]))[has]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN frames
        return np.nanmean(distance, axis=1), np.nanmean(outside, axis=1)


def detect_outliers(
    poses: np.ndarray,
    algorithm: str = "jump",
    *,
    epsilon: float = 20,
    p_bound: float = 0.01,
    ARdegree: int = 3,
    MAdegree: int = 1,
    alpha: float = 0.01,
    n_min: int = 0,
    n_jobs: int | None = None,
) -> OutlierScores:
    """Score every frame with one detector and flag the outliers.

    Parameters
    ----------
    poses
        (n, J, 3) x, y, likelihood of the compared body parts (rows = frames).
    algorithm
        ``"uncertain"``, ``"jump"`` or ``"fitting"``.
    epsilon
        Pixels: the jump size (``jump``) or mean deviation (``fitting``) above
        which a frame is an outlier.
    p_bound
        Likelihood bound (``uncertain``; missing-data bound for ``fitting``).
    ARdegree, MAdegree, alpha
        ARMA orders and prediction-interval level (``fitting``).
    n_min
        ``fitting``: when fewer frames exceed ``epsilon``, take the ``n_min``
        largest deviations instead (DeepLabCut uses ``2 * numframes2pick``).
    n_jobs
        ``fitting``: worker processes (see :func:`fitting_deviations`).

    Raises
    ------
    ValueError
        For an unknown algorithm (the message lists the valid ones).
    """
    check_algorithm(algorithm, DETECTORS)
    if algorithm == "uncertain":
        return uncertain_scores(poses, p_bound)
    if algorithm == "jump":
        return jump_scores(poses, epsilon)
    distance, significant = fitting_deviations(
        poses, p_bound, ARdegree, MAdegree, alpha, n_jobs=n_jobs
    )
    flagged = np.flatnonzero(distance > epsilon)
    if len(flagged) < n_min < len(distance):
        ranked = np.where(np.isfinite(distance), distance, -np.inf)
        order = np.argsort(-ranked, kind="stable")[:n_min]
        flagged = np.sort(order[np.isfinite(distance[order])])
    return OutlierScores("fitting", distance, float(epsilon), flagged, significant)


def check_algorithm(algorithm: str, allowed: Sequence[str] = ALGORITHMS) -> str:
    """Return ``algorithm`` if it is one of ``allowed``.

    Raises
    ------
    ValueError
        Naming the valid choices (and what each does).
    """
    if algorithm in allowed:
        return algorithm
    roles = {
        "uncertain": "'uncertain' (likelihood below p_bound)",
        "jump": "'jump' (moved more than epsilon px)",
        "fitting": "'fitting' (ARMA fit deviation above epsilon)",
        "manual": "'manual' (frame grabber)",
        "list": "'list' (frames2use)",
    }
    raise ValueError(
        f"outlieralgorithm={algorithm!r} is not known; use one of "
        + ", ".join(roles.get(a, repr(a)) for a in allowed)
        + "."
    )


def select_bodyparts(
    bodyparts: Sequence[str], comparisonbodyparts: str | Sequence[str]
) -> list[int]:
    """Indices of ``comparisonbodyparts`` (``"all"``, one name, or names) in ``bodyparts``.

    Raises
    ------
    ValueError
        For a name not in ``bodyparts`` or an empty selection (the message lists
        the valid names).
    """
    names = list(bodyparts)
    if isinstance(comparisonbodyparts, str):
        wanted = names if comparisonbodyparts == "all" else [comparisonbodyparts]
    else:
        wanted = list(comparisonbodyparts)
    unknown = [w for w in wanted if w not in names]
    if unknown or not wanted:
        raise ValueError(
            f"comparisonbodyparts={comparisonbodyparts!r}: "
            + (f"{unknown} not among" if unknown else "select at least one of")
            + f" the network's body parts {names} (or pass 'all')."
        )
    return [names.index(w) for w in dict.fromkeys(wanted)]
