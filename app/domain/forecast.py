"""Daily demand forecasts per SKU and warehouse, the method chosen per series by backtest.

Candidates: damped additive Holt-Winters with a weekly season and simple exponential
smoothing (statsmodels), Croston with the Syntetos-Boylan correction and TSB (numpy here:
statsmodels has neither), seasonal naive and naive as references. The Syntetos-Boylan class
picks the pool: smooth and erratic series try the continuous methods, intermittent and lumpy
series try Croston and TSB only, because on mostly-zero series MAE rewards forecasting zero,
and a zero forecast never reorders.

Batch callers should run with OPENBLAS_NUM_THREADS=1 (set before numpy loads): the fits are
tiny, and threaded OpenBLAS made them about 8 times slower on a busy machine.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Callable, Iterable, Literal, Sequence

import numpy as np
from statsmodels.tools.sm_exceptions import ConvergenceWarning
from statsmodels.tsa.holtwinters import ExponentialSmoothing, SimpleExpSmoothing

DemandClass = Literal["smooth", "intermittent", "lumpy", "erratic"]
Forecaster = Callable[[np.ndarray, int], np.ndarray]

SEASON_DAYS = 7
ADI_CUTOFF = 1.32
CV2_CUTOFF = 0.49
SHORT_HISTORY_DAYS = 14
BACKTEST_HORIZON_DAYS = 7
BACKTEST_ORIGINS = 4
MIN_TRAINING_DAYS = 7
HOLT_WINTERS_MIN_DAYS = 28
# A year of weekly seasons plus the backtest window: older sales barely move the fitted
# states and only add fit time.
MAX_HISTORY_DAYS = 364 + BACKTEST_ORIGINS * BACKTEST_HORIZON_DAYS
CROSTON_ALPHA = 0.1
TSB_ALPHA = 0.1
TSB_BETA = 0.1

CONTINUOUS_POOL = ("holt_winters", "ses", "seasonal_naive", "naive")
INTERMITTENT_POOL = ("croston_sba", "tsb")


@dataclass(frozen=True)
class Forecast:
    """A series' daily forecast, the method that made it and that method's backtest accuracy."""

    method: str
    daily: tuple[float, ...]
    mase: float | None
    mape: float | None
    demand_class: DemandClass
    mean_daily: float
    std_daily_error: float


@dataclass(frozen=True)
class Accuracy:
    """Catalogue accuracy: mean MASE and volume-weighted MAPE over the series that have them."""

    mean_mase: float | None
    weighted_mape: float | None


@dataclass(frozen=True)
class Backtest:
    """One candidate's rolling-origin errors on one series."""

    method: str
    mae: float
    mase: float | None
    mape: float | None
    rmse: float


def classify_demand(history: Sequence[float]) -> DemandClass:
    """Syntetos-Boylan class from the mean interval between demands (ADI) and size variation (CV²)."""
    sales = _as_array(history)
    sizes = sales[sales > 0]
    if sizes.size == 0:
        return "intermittent"
    adi = sales.size / sizes.size
    cv2 = float(np.var(sizes) / np.mean(sizes) ** 2)
    if adi < ADI_CUTOFF:
        return "smooth" if cv2 < CV2_CUTOFF else "erratic"
    return "intermittent" if cv2 < CV2_CUTOFF else "lumpy"


def forecast_series(
    history: Sequence[float], horizon: int, *, methods: Sequence[str] | None = None
) -> Forecast:
    """Forecast `horizon` days with the candidate method that backtests best on this series."""
    if horizon < 1:
        raise ValueError(f"horizon must be at least 1 day, got {horizon}")
    unknown = set(methods or ()) - METHODS.keys()
    if unknown:
        raise ValueError(f"unknown forecast methods: {sorted(unknown)}")
    sales = _as_array(history)[-MAX_HISTORY_DAYS:]
    demand_class = classify_demand(sales)
    if not sales.any():
        return _flat_forecast("zero", 0.0, 0.0, horizon, demand_class)
    if sales.size < SHORT_HISTORY_DAYS:
        return _average_forecast(sales, horizon, demand_class)
    pool = methods or (INTERMITTENT_POOL if demand_class in ("intermittent", "lumpy") else CONTINUOUS_POOL)
    backtests = sorted(_successful_backtests(sales, pool), key=lambda b: b.mae)
    for best in backtests:
        daily = _predict_or_none(METHODS[best.method](), sales, horizon)
        if daily is not None:
            return _forecast_from(best, daily, demand_class)
    return _average_forecast(sales, horizon, demand_class)


def overall_accuracy(results: Iterable[Forecast]) -> Accuracy:
    """Mean MASE and MAPE weighted by each series' mean daily demand."""
    results = list(results)
    mases = [r.mase for r in results if r.mase is not None]
    weighted = [(r.mape, r.mean_daily) for r in results if r.mape is not None and r.mean_daily > 0]
    volume = sum(weight for _, weight in weighted)
    return Accuracy(
        mean_mase=sum(mases) / len(mases) if mases else None,
        weighted_mape=sum(mape * weight for mape, weight in weighted) / volume if volume else None,
    )


def apply_promotion(
    daily: Sequence[float], start_index: int, end_index: int, uplift_pct: float
) -> tuple[float, ...]:
    """Raise days start_index (inclusive) to end_index (exclusive) by uplift_pct percent."""
    if not 0 <= start_index <= end_index:
        raise ValueError(f"promotion days must satisfy 0 <= start <= end, got {start_index}..{end_index}")
    if uplift_pct < -100:
        raise ValueError(f"uplift cannot remove more than all demand, got {uplift_pct}%")
    factor = 1 + float(uplift_pct) / 100
    return tuple(
        float(units) * factor if start_index <= day < end_index else float(units)
        for day, units in enumerate(daily)
    )


def croston_sba(training: np.ndarray, horizon: int, alpha: float = CROSTON_ALPHA) -> np.ndarray:
    """Croston's size over interval, both smoothed at demand days, times the SBA bias correction 1 - alpha/2."""
    demand_days = np.flatnonzero(training > 0)
    if demand_days.size == 0:
        return np.zeros(horizon)
    sizes = training[demand_days]
    intervals = np.diff(demand_days, prepend=-1).astype(float)
    size = _smoothed_level(sizes[0], sizes[1:], alpha)
    interval = _smoothed_level(intervals[0], intervals[1:], alpha)
    return np.full(horizon, (1 - alpha / 2) * size / interval)


def tsb(training: np.ndarray, horizon: int, alpha: float = TSB_ALPHA, beta: float = TSB_BETA) -> np.ndarray:
    """Teunter-Syntetos-Babai: demand probability smoothed every day times size smoothed at demand days."""
    demand_days = np.flatnonzero(training > 0)
    if demand_days.size == 0:
        return np.zeros(horizon)
    sizes = training[demand_days]
    first = demand_days[0]
    occurred = (training[first + 1:] > 0).astype(float)
    size = _smoothed_level(sizes[0], sizes[1:], alpha)
    probability = _smoothed_level(1 / (first + 1), occurred, beta)
    return np.full(horizon, probability * size)


def simple_exponential_smoothing(training: np.ndarray, horizon: int) -> np.ndarray:
    """Statsmodels SES with optimised level and smoothing weight."""
    return SimpleExpSmoothing(training, initialization_method="estimated").fit().forecast(horizon)


def seasonal_naive(training: np.ndarray, horizon: int) -> np.ndarray:
    """Repeat the last week."""
    if training.size < SEASON_DAYS:
        raise ValueError("seasonal naive needs a full week of history")
    return np.resize(training[-SEASON_DAYS:], horizon)


def naive(training: np.ndarray, horizon: int) -> np.ndarray:
    """Repeat the last day."""
    return np.full(horizon, training[-1])


class HoltWinters:
    """Damped additive trend, additive weekly season: optimised on the first window it sees, re-filtered after.

    Backtest windows all start on the same day, so the first fit's initial states and
    smoothing weights stay valid for the longer windows; re-filtering costs a tenth of a fit.
    """

    def __init__(self) -> None:
        self._params: dict | None = None

    def __call__(self, training: np.ndarray, horizon: int) -> np.ndarray:
        if training.size < HOLT_WINTERS_MIN_DAYS:
            raise ValueError(f"Holt-Winters needs {HOLT_WINTERS_MIN_DAYS} days of history")
        fit = self._refilter(training) if self._params else self._optimise(training)
        return fit.forecast(horizon)

    def _optimise(self, training: np.ndarray):
        # The brute-force start grid tripled fit time for no better backtest MASE on the bench catalogue.
        fit = _holt_winters_model(training, initialization_method="estimated").fit(use_brute=False)
        self._params = dict(fit.params)
        return fit

    def _refilter(self, training: np.ndarray):
        p = self._params
        model = _holt_winters_model(
            training,
            initialization_method="known",
            initial_level=p["initial_level"],
            initial_trend=p["initial_trend"],
            initial_seasonal=p["initial_seasons"],
        )
        return model.fit(
            smoothing_level=p["smoothing_level"],
            smoothing_trend=p["smoothing_trend"],
            smoothing_seasonal=p["smoothing_seasonal"],
            damping_trend=p["damping_trend"],
            optimized=False,
        )


def _stateless(forecaster: Forecaster) -> Callable[[], Forecaster]:
    return lambda: forecaster


METHODS: dict[str, Callable[[], Forecaster]] = {
    "holt_winters": HoltWinters,
    "ses": _stateless(simple_exponential_smoothing),
    "croston_sba": _stateless(croston_sba),
    "tsb": _stateless(tsb),
    "seasonal_naive": _stateless(seasonal_naive),
    "naive": _stateless(naive),
}


def backtest(sales: np.ndarray, method: str) -> Backtest:
    """Rolling-origin errors of `method` over the last weeks of `sales`, a week ahead from each origin."""
    origins = _backtest_origins(sales.size)
    if not origins:
        raise ValueError(f"backtest needs more than {MIN_TRAINING_DAYS} days of history")
    forecaster = METHODS[method]()
    actuals, predictions = [], []
    for origin in origins:
        actual = sales[origin:origin + BACKTEST_HORIZON_DAYS]
        actuals.append(actual)
        predictions.append(_predict(forecaster, sales[:origin], actual.size))
    actual, predicted = np.concatenate(actuals), np.concatenate(predictions)
    return _scored(method, actual, predicted, _mase_scale(sales[:origins[0]]))


def _backtest_origins(days: int) -> list[int]:
    origins = (days - BACKTEST_HORIZON_DAYS * k for k in range(BACKTEST_ORIGINS, 0, -1))
    return [origin for origin in origins if origin >= MIN_TRAINING_DAYS]


def _scored(method: str, actual: np.ndarray, predicted: np.ndarray, scale: float) -> Backtest:
    errors = np.abs(actual - predicted)
    mae = float(errors.mean())
    sold = actual != 0
    return Backtest(
        method=method,
        mae=mae,
        mase=mae / scale if scale > 0 else None,
        mape=float(np.mean(errors[sold] / np.abs(actual[sold])) * 100) if sold.any() else None,
        rmse=float(np.sqrt(np.mean(errors**2))),
    )


def _mase_scale(training: np.ndarray) -> float:
    """In-sample MAE of seasonal naive, or of naive when the seasonal one is zero or impossible."""
    # The scale is shared by every candidate of a series, so ranking by MASE is ranking by MAE.
    for lag in (SEASON_DAYS, 1):
        if training.size > lag:
            scale = float(np.mean(np.abs(training[lag:] - training[:-lag])))
            if scale > 0:
                return scale
    return 0.0


def _successful_backtests(sales: np.ndarray, pool: Sequence[str]) -> list[Backtest]:
    results = []
    for method in pool:
        try:
            results.append(backtest(sales, method))
        except Exception:  # noqa: BLE001 - a candidate that fails is dropped, never fatal
            continue
    return results


def _predict(forecaster: Forecaster, training: np.ndarray, horizon: int) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        predicted = np.asarray(forecaster(training, horizon), dtype=float)
    if predicted.shape != (horizon,) or not np.all(np.isfinite(predicted)):
        raise ValueError("forecaster returned a malformed forecast")
    return np.clip(predicted, 0.0, None)


def _predict_or_none(forecaster: Forecaster, sales: np.ndarray, horizon: int) -> np.ndarray | None:
    try:
        return _predict(forecaster, sales, horizon)
    except Exception:  # noqa: BLE001 - fall through to the next-best candidate
        return None


def _forecast_from(best: Backtest, daily: np.ndarray, demand_class: DemandClass) -> Forecast:
    return Forecast(
        method=best.method,
        daily=tuple(float(units) for units in daily),
        mase=best.mase,
        mape=best.mape,
        demand_class=demand_class,
        mean_daily=float(daily.mean()),
        std_daily_error=best.rmse,
    )


def _average_forecast(sales: np.ndarray, horizon: int, demand_class: DemandClass) -> Forecast:
    spread = float(np.std(sales, ddof=1)) if sales.size > 1 else 0.0
    return _flat_forecast("average", max(float(sales.mean()), 0.0), spread, horizon, demand_class)


def _flat_forecast(method: str, level: float, spread: float, horizon: int, demand_class: DemandClass) -> Forecast:
    return Forecast(method, (level,) * horizon, None, None, demand_class, level, spread)


def _holt_winters_model(training: np.ndarray, **initialisation) -> ExponentialSmoothing:
    return ExponentialSmoothing(
        training, trend="add", damped_trend=True, seasonal="add", seasonal_periods=SEASON_DAYS, **initialisation
    )


def _smoothed_level(initial: float, updates: np.ndarray, alpha: float) -> float:
    """Level after starting at `initial` and moving `alpha` of the way towards each update in turn."""
    steps = updates.size
    weights = alpha * (1 - alpha) ** np.arange(steps - 1, -1, -1)
    return float((1 - alpha) ** steps * initial + weights @ updates)


def _as_array(history: Sequence[float]) -> np.ndarray:
    sales = np.asarray(history, dtype=float).ravel()
    if not np.all(np.isfinite(sales)):
        raise ValueError("sales history must be finite numbers")
    return sales
