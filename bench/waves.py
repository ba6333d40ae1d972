"""Wave planning benchmark: the solver against the earliest-cut-off baseline on seeded days.

    python -m bench.waves [--seeds 3] [--time-limit 10]

Writes the `waves` section of docs/BENCHMARKS.md.
"""
from __future__ import annotations

import argparse
import random
import time

from bench._report import write_section
from solvers import waves
from solvers.waves import MAX_ON_TIME, MIN_LABOUR, Order, Problem

CUTOFFS = (12 * 60, 15 * 60, 17 * 60, (24 + 12) * 60)  # the last is tomorrow noon
START = 7 * 60
CREW_BY_HOUR = (5, 7, 9, 9, 9, 9, 7, 7, 5, 5, 3, 3, 2, 2, 2, 2)


def realistic_day(seed: int, orders: int, wave_count: int, mode: str, time_limit_s: float) -> Problem:
    """Orders released from 06:00 to 16:00 (busiest mid-morning), each due at the next cut-off two hours on."""
    rng = random.Random(seed)
    made = []
    for i in range(orders):
        release = 6 * 60 + int(rng.triangular(0, 10 * 60, 2 * 60))
        cutoff = next(c for c in CUTOFFS if c >= release + 120)
        lines = 1 + min(20, int(rng.expovariate(1 / 2.5)))
        priority = rng.choices((1, 2, 3), weights=(80, 15, 5))[0]
        made.append(Order(f"SO-{i:05d}", lines, cutoff, release, priority))
    return Problem(
        start=START, wave_minutes=60, waves=wave_count, pickers=CREW_BY_HOUR[:wave_count],
        max_orders_per_wave=220, minutes_per_order=1.0, minutes_per_line=0.5, pack_minutes=15,
        orders=tuple(made), mode=mode, picker_cost_per_wave=25.0, max_pickers=12, time_limit_s=time_limit_s,
    )


def measure(problem: Problem) -> dict:
    row = {}
    for name, plan in (("baseline", waves.baseline), ("solver", waves.solve)):
        started = time.perf_counter()
        answer = plan(problem)
        seconds = time.perf_counter() - started
        judged = waves.evaluate(problem, answer.assignment, answer.pickers)
        row[name] = {
            "status": answer.status, "late": len(judged.late), "unplanned": len(judged.unplanned),
            "missed_weight": judged.missed_weight, "pickers": sum(answer.pickers),
            "labour_cost": judged.labour_cost, "seconds": seconds,
        }
    return row


def main() -> None:
    """Run the benchmark and write its section of docs/BENCHMARKS.md."""
    ap = argparse.ArgumentParser(prog="python -m bench.waves")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--time-limit", type=float, default=10.0)
    args = ap.parse_args()
    days = [(seed, 1500, 12) for seed in range(1, args.seeds + 1)] + [(args.seeds + 1, 2000, 16)]
    rows = []
    for seed, orders, wave_count in days:
        for mode in (MAX_ON_TIME, MIN_LABOUR):
            problem = realistic_day(seed, orders, wave_count, mode, args.time_limit)
            rows.append((f"seed {seed}: {orders} orders, {wave_count} waves", mode, measure(problem)))
            print(rows[-1])
    write_section("waves", "Wave and labour planning", report(args, rows))


def report(args, rows: list) -> str:
    lines = [
        "| Day | Mode | Plan | Status | Late | Unplanned | Weighted late+unplanned | Picker-waves | Labour cost | Seconds |",
        "|---|---|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for label, mode, row in rows:
        for name, r in row.items():
            lines.append(
                f"| {label} | {mode} | {name} | {r['status']} | {r['late']} | {r['unplanned']} "
                f"| {r['missed_weight']} | {r['pickers']} | {r['labour_cost']:.0f} | {r['seconds']:.2f} |"
            )
    return (
        f"`python -m bench.waves --seeds {args.seeds} --time-limit {args.time_limit:g}`: seeded days starting "
        "07:00 with 60-minute waves; orders released 06:00-16:00 (busiest mid-morning), each due at the next "
        "of the 12:00 / 15:00 / 17:00 cut-offs at least two hours after release (else tomorrow 12:00); 1-21 lines "
        "(1 + 0.5 min per line), priority 1/2/3 at 80/15/5 %, at most 220 orders per wave, 15 min packing. "
        f"max_on_time uses the crew {', '.join(map(str, CREW_BY_HOUR[:12]))} per wave, then 2 in any later "
        "wave; min_labour chooses 0-12 pickers per wave at 25 per picker-wave and must keep on time "
        "every order that 12 pickers in every wave could. The baseline in min_labour places with 12 "
        "pickers per wave, then keeps only the pickers each wave's work needs.\n\n"
        + "\n".join(lines)
    )


if __name__ == "__main__":
    main()
