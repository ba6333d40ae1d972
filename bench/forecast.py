"""Benchmark the demand forecast on a seeded synthetic catalogue: time per series, method mix, MASE against naive."""
from __future__ import annotations

import os
import sys
import time
from collections import Counter
from pathlib import Path

# One BLAS thread, set before numpy loads: the fits are tiny, and threaded OpenBLAS made them
# about 8 times slower on a busy machine. The nightly job should do the same.
for variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(variable, "1")

import numpy as np  # noqa: E402

# Runnable as `python bench/forecast.py` as well as `python -m bench.forecast`.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.domain.forecast import forecast_series, overall_accuracy  # noqa: E402
from bench._report import write_section  # noqa: E402

SEED = 20240601
HORIZON_DAYS = 28
NIGHTLY_SERIES = 2000
CATALOGUE = {"seasonal": 120, "trending": 80, "intermittent": 100}


def seasonal_series(rng: np.random.Generator, days: int) -> np.ndarray:
    level = rng.uniform(5, 60)
    weekday_profile = rng.uniform(0.6, 1.5, 7)
    noise = rng.normal(0, rng.uniform(0.05, 0.25) * level, days)
    return np.round(np.maximum(0, level * np.resize(weekday_profile, days) + noise))


def trending_series(rng: np.random.Generator, days: int) -> np.ndarray:
    start, growth = rng.uniform(5, 40), rng.uniform(-0.03, 0.08)
    weekday_profile = rng.uniform(0.8, 1.2, 7)
    trend = start + growth * start * np.arange(days) / 7
    noise = rng.normal(0, 0.15 * start, days)
    return np.round(np.maximum(0, trend * np.resize(weekday_profile, days) + noise))


def intermittent_series(rng: np.random.Generator, days: int) -> np.ndarray:
    sells = rng.random(days) < rng.uniform(0.05, 0.4)
    sizes = rng.poisson(rng.uniform(1, 6), days) + 1
    return (sells * sizes).astype(float)


GENERATORS = {"seasonal": seasonal_series, "trending": trending_series, "intermittent": intermittent_series}


def catalogue(rng: np.random.Generator) -> list[tuple[str, np.ndarray]]:
    """The seeded catalogue: each kind's count of series, histories of 8 weeks to a year and a half."""
    return [
        (kind, GENERATORS[kind](rng, int(rng.integers(56, 548))))
        for kind, count in CATALOGUE.items()
        for _ in range(count)
    ]


def timed_forecasts(series: list[tuple[str, np.ndarray]], methods=None) -> tuple[list, list[float], float]:
    """Forecasts, wall seconds per series, and CPU seconds in all."""
    results, seconds = [], []
    cpu_started = time.process_time()
    for _, sales in series:
        started = time.perf_counter()
        results.append(forecast_series(sales, HORIZON_DAYS, methods=methods))
        seconds.append(time.perf_counter() - started)
    return results, seconds, time.process_time() - cpu_started


def mean_mase(results) -> float:
    return overall_accuracy(results).mean_mase or float("nan")


def accuracy_table(series, chosen, naive, seasonal_naive) -> str:
    rows = ["| Series | Count | Chosen MASE | Naive MASE | Seasonal naive MASE | Weighted MAPE % |", "|---|---:|---:|---:|---:|---:|"]
    for kind in [*CATALOGUE, "all"]:
        picked = [i for i, (k, _) in enumerate(series) if kind in (k, "all")]
        subset = lambda results: [results[i] for i in picked]  # noqa: E731
        rows.append(
            f"| {kind} | {len(picked)} | {mean_mase(subset(chosen)):.3f} | {mean_mase(subset(naive)):.3f} "
            f"| {mean_mase(subset(seasonal_naive)):.3f} | {overall_accuracy(subset(chosen)).weighted_mape:.1f} |"
        )
    return "\n".join(rows)


def mix_table(series, chosen) -> str:
    mix = Counter((kind, result.method) for (kind, _), result in zip(series, chosen))
    methods = sorted({method for _, method in mix})
    rows = ["| Series | " + " | ".join(methods) + " |", "|---|" + "---:|" * len(methods)]
    for kind in CATALOGUE:
        rows.append(f"| {kind} | " + " | ".join(str(mix[kind, method]) for method in methods) + " |")
    return "\n".join(rows)


def timing_lines(seconds: list[float], cpu_seconds: float) -> str:
    per_series = np.array(seconds)
    return (
        f"- {len(per_series)} series, {HORIZON_DAYS}-day horizon, one process, "
        f"OPENBLAS_NUM_THREADS={os.environ['OPENBLAS_NUM_THREADS']}: "
        f"{per_series.sum():.1f} s wall, {cpu_seconds:.1f} s CPU\n"
        f"- per series: mean {per_series.mean() * 1000:.0f} ms, median {np.median(per_series) * 1000:.0f} ms, "
        f"95th percentile {np.percentile(per_series, 95) * 1000:.0f} ms, slowest {per_series.max() * 1000:.0f} ms\n"
        f"- {NIGHTLY_SERIES:,} series at this mix: about {per_series.mean() * NIGHTLY_SERIES / 60:.1f} min"
    )


def main() -> None:
    series = catalogue(np.random.default_rng(SEED))
    chosen, seconds, cpu_seconds = timed_forecasts(series)
    naive, _, _ = timed_forecasts(series, methods=["naive"])
    seasonal_naive, _, _ = timed_forecasts(series, methods=["seasonal_naive"])
    classes = Counter(result.demand_class for result in chosen)
    body = "\n\n".join(
        [
            f"`python bench/forecast.py`: seeded catalogue (seed {SEED}) of "
            + ", ".join(f"{count} {kind}" for kind, count in CATALOGUE.items())
            + " series, histories of 56 to 547 days. MASE is the rolling-origin backtest "
            "(4 origins, 7 days ahead each) scaled by in-sample seasonal-naive MAE.",
            timing_lines(seconds, cpu_seconds),
            "Accuracy (mean over series; lower MASE is better):\n\n" + accuracy_table(series, chosen, naive, seasonal_naive),
            "Method chosen, by synthetic kind:\n\n" + mix_table(series, chosen),
            "Demand classes found: " + ", ".join(f"{name} {count}" for name, count in sorted(classes.items())),
        ]
    )
    write_section("forecast", "Demand forecast", body)
    print(body)


if __name__ == "__main__":
    main()
