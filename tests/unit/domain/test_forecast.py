import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.domain import forecast
from app.domain.forecast import (
    Forecast,
    apply_promotion,
    backtest,
    classify_demand,
    croston_sba,
    forecast_series,
    overall_accuracy,
    tsb,
)

SEASONAL_METHODS = {"holt_winters", "seasonal_naive"}
INTERMITTENT_METHODS = {"croston_sba", "tsb"}


def weekly_seasonal_sales(days=182, seed=1):
    rng = np.random.default_rng(seed)
    weekday_profile = np.array([12, 14, 20, 26, 30, 24, 16])
    return np.round(np.maximum(0, np.resize(weekday_profile, days) + rng.normal(0, 2, days)))


def trending_sales(days=140, seed=2):
    rng = np.random.default_rng(seed)
    return np.round(np.maximum(0, 10 + 0.4 * np.arange(days) + rng.normal(0, 2, days)))


def intermittent_sales(days=182, seed=3, demand_probability=0.25):
    rng = np.random.default_rng(seed)
    sells = rng.random(days) < demand_probability
    return sells * (rng.poisson(3, days) + 2).astype(float)


def test_steady_demand_every_day_is_smooth():
    # ADI = 8 days / 8 demands = 1 < 1.32; sizes 5,6: mean 5.5, var 0.25, CV² = 0.0083 < 0.49
    assert classify_demand([5, 6] * 4) == "smooth"


def test_occasional_similar_sizes_are_intermittent():
    # ADI = 9 / 3 = 3 ≥ 1.32; sizes 4,5,6: mean 5, var 2/3, CV² = 0.027 < 0.49
    assert classify_demand([0, 0, 4, 0, 0, 5, 0, 0, 6]) == "intermittent"


def test_occasional_wildly_varying_sizes_are_lumpy():
    # ADI = 3 ≥ 1.32; sizes 1,1,19: mean 7, var 72, CV² = 1.47 ≥ 0.49
    assert classify_demand([0, 0, 1, 0, 0, 1, 0, 0, 19]) == "lumpy"


def test_daily_wildly_varying_sizes_are_erratic():
    # ADI = 1; sizes 1,1,1,9: mean 3, var 12, CV² = 1.33 ≥ 0.49
    assert classify_demand([1, 1, 1, 9]) == "erratic"


def test_a_weekly_seasonal_series_is_forecast_by_a_seasonal_method_that_beats_naive():
    sales = weekly_seasonal_sales()
    chosen = forecast_series(sales, 14)
    naive = forecast_series(sales, 14, methods=["naive"])
    assert chosen.method in SEASONAL_METHODS
    assert chosen.demand_class == "smooth"
    assert chosen.mase < 1
    assert chosen.mase < naive.mase
    assert chosen.mape is not None and chosen.mape < 20
    assert np.argmax(chosen.daily[:7]) == np.argmax(sales[-7:])  # the busy weekday stays busy


def test_a_trending_series_forecast_keeps_rising():
    sales = trending_sales()
    result = forecast_series(sales, 14)
    first_week, second_week = np.mean(result.daily[:7]), np.mean(result.daily[7:])
    assert first_week > np.mean(sales[-7:])
    assert second_week > first_week


def test_an_intermittent_series_is_forecast_by_croston_or_tsb_near_its_true_rate():
    sales = intermittent_sales()
    result = forecast_series(sales, 7)
    # true rate: 25% of days × mean size (3 + 2) = 1.25 units a day
    assert result.demand_class == "intermittent"
    assert result.method in INTERMITTENT_METHODS
    assert result.mean_daily == pytest.approx(1.25, rel=0.4)
    assert result.std_daily_error > 0


def test_all_zero_history_forecasts_zero():
    result = forecast_series([0] * 60, 5)
    assert result.daily == (0.0,) * 5
    assert (result.method, result.mean_daily, result.std_daily_error) == ("zero", 0.0, 0.0)


def test_an_empty_history_forecasts_zero():
    assert forecast_series([], 3).daily == (0.0, 0.0, 0.0)


def test_a_short_history_forecasts_its_average():
    result = forecast_series([2, 4, 3, 5, 1], 4)
    # mean = 15 / 5 = 3; sample std = √(10 / 4) = 1.5811
    assert result.method == "average"
    assert result.daily == (3.0,) * 4
    assert result.std_daily_error == pytest.approx(1.5811, abs=1e-4)
    assert result.mase is None


def test_three_weeks_of_history_still_backtests_the_simple_methods():
    result = forecast_series(weekly_seasonal_sales(days=21), 7)
    assert result.method in {"ses", "seasonal_naive", "naive"}
    assert result.mase is not None


def test_a_falling_series_is_never_forecast_below_zero():
    falling = np.maximum(0, 60 - 0.6 * np.arange(100)) + np.resize([0, 3], 100)
    assert min(forecast_series(falling, 60).daily) >= 0


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=40), min_size=0, max_size=90), st.integers(1, 30))
def test_forecasts_are_never_negative_and_have_the_horizon_length(sales, horizon):
    result = forecast_series(sales, horizon)
    assert len(result.daily) == horizon
    assert all(units >= 0 for units in result.daily)
    assert result.std_daily_error >= 0


def test_a_candidate_that_raises_is_dropped(monkeypatch):
    def broken():
        def forecaster(training, horizon):
            raise np.linalg.LinAlgError("singular")

        return forecaster

    monkeypatch.setitem(forecast.METHODS, "holt_winters", broken)
    assert forecast_series(weekly_seasonal_sales(), 7).method != "holt_winters"


def test_when_every_candidate_fails_the_average_is_used():
    # Holt-Winters needs 28 training days at the first origin; 30 days leave 2
    result = forecast_series(weekly_seasonal_sales(days=30), 7, methods=["holt_winters"])
    assert result.method == "average"


def test_unknown_methods_and_empty_horizons_are_refused():
    with pytest.raises(ValueError, match="unknown"):
        forecast_series([1] * 30, 7, methods=["prophet"])
    with pytest.raises(ValueError, match="horizon"):
        forecast_series([1] * 30, 0)


def test_croston_sba_matches_a_hand_computation():
    sales = np.array([0, 0, 3, 0, 2, 0, 0, 4], dtype=float)
    # sizes 3, 2, 4 and intervals 3, 2, 3, smoothed with α = 0.1 from the first:
    # size 3 → 3 + 0.1(2 − 3) = 2.9 → 2.9 + 0.1(4 − 2.9) = 3.01
    # interval 3 → 3 + 0.1(2 − 3) = 2.9 → 2.9 + 0.1(3 − 2.9) = 2.91
    # SBA: (1 − 0.1/2) × 3.01 / 2.91 = 0.982646
    assert croston_sba(sales, 3, alpha=0.1) == pytest.approx([0.982646] * 3, abs=1e-6)


def test_tsb_matches_a_hand_computation():
    sales = np.array([0, 0, 3, 0, 2, 0, 0, 4], dtype=float)
    # probability starts at 1/3 (first sale on day 3), then β = 0.1 each day after:
    # 0 → 0.3, 1 → 0.37, 0 → 0.333, 0 → 0.2997, 1 → 0.36973
    # size as in Croston: 3.01; forecast 0.36973 × 3.01 = 1.112887
    assert tsb(sales, 2, alpha=0.1, beta=0.1) == pytest.approx([1.112887] * 2, abs=1e-6)


def test_croston_and_tsb_forecast_zero_without_any_sale():
    assert list(croston_sba(np.zeros(10), 2)) == [0, 0]
    assert list(tsb(np.zeros(10), 2)) == [0, 0]


def test_tsb_decays_after_a_long_run_without_sales_while_croston_does_not():
    sales = np.array([5, 0, 5, 0, 5] + [0] * 30, dtype=float)
    assert tsb(sales, 1)[0] < croston_sba(sales, 1)[0] / 5


def test_mase_is_scaled_by_naive_when_seasonal_naive_is_perfect_in_sample():
    sales = np.resize(np.arange(1.0, 8.0), 56)  # 1..7 every week, 8 weeks
    # origins on days 28, 35, 42, 49; the first 28 days repeat exactly, so seasonal naive
    # scores 0 in sample and naive scales: |Δ| is 1 on 24 steps and 6 on 3 wraps, 42 / 27
    # naive forecasts 7 each week against 1..7: errors 6..0, MAE 3; MASE 3 / (42/27) = 1.9286
    assert backtest(sales, "naive").mase == pytest.approx(3 / (42 / 27))
    assert backtest(sales, "seasonal_naive").mase == 0


def test_mape_skips_days_without_sales_and_is_none_without_any():
    sales = np.array([3.0] * 20 + [0.0] * 28)
    assert backtest(sales, "naive").mape is None
    # 4 × 20 days, then 2, 0, 2, 0 ...; origins 20, 27, 34, 41; naive repeats the last day:
    # 4 against four 2s (100% each), 2 against three 2s (0%), 0 against four 2s (100%),
    # 2 against three 2s (0%); zeros skipped: 8 × 100% / 14 = 57.14%
    alternating = np.array([4.0] * 20 + [2.0, 0.0] * 14)
    assert backtest(alternating, "naive").mape == pytest.approx(800 / 14)


def test_overall_accuracy_weights_mape_by_volume():
    results = [
        Forecast("ses", (10.0,), 0.5, 10.0, "smooth", 10.0, 1.0),
        Forecast("tsb", (1.0,), 1.5, 40.0, "intermittent", 1.0, 1.0),
        Forecast("average", (2.0,), None, None, "smooth", 2.0, 1.0),
    ]
    accuracy = overall_accuracy(results)
    # mean MASE (0.5 + 1.5) / 2 = 1.0; MAPE (10 × 10 + 40 × 1) / 11 = 12.727
    assert accuracy.mean_mase == pytest.approx(1.0)
    assert accuracy.weighted_mape == pytest.approx(140 / 11)


def test_overall_accuracy_of_nothing_is_unknown():
    assert overall_accuracy([]) == forecast.Accuracy(None, None)


def test_a_promotion_raises_demand_only_inside_its_days():
    # days 1 and 2 (end exclusive) by 50%
    assert apply_promotion([2, 2, 2, 2], 1, 3, 50) == (2.0, 3.0, 3.0, 2.0)


def test_a_promotion_running_past_the_horizon_stops_at_its_end():
    assert apply_promotion([4, 4], 1, 10, 25) == (4.0, 5.0)


def test_an_impossible_promotion_is_refused():
    with pytest.raises(ValueError):
        apply_promotion([1, 1], 2, 1, 10)
    with pytest.raises(ValueError):
        apply_promotion([1, 1], 0, 1, -150)
