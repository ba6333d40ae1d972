"""The command line every solver shares: read an instance, print one JSON answer."""
from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Callable

from solvers._instance import InstanceError


def run(
    argv: list[str] | None,
    *,
    prog: str,
    parse: Callable[[dict], Any],
    solve: Callable[..., Any],
    baseline: Callable[[Any], Any],
) -> int:
    """Parse argv, read the instance, solve or run the baseline, print the answer as JSON.

    `parse(raw)` turns the JSON object into a problem (raising InstanceError),
    `solve(problem, time_limit_s=...)` and `baseline(problem)` return a result with `to_json()`.
    """
    ap = argparse.ArgumentParser(prog=prog)
    ap.add_argument("instance")
    ap.add_argument("--baseline", action="store_true")
    ap.add_argument("--time-limit", type=float, default=None)
    args = ap.parse_args(argv)
    try:
        with open(args.instance, encoding="utf-8") as fh:
            raw = json.load(fh)
    except OSError as exc:
        print(f"instance: cannot read {args.instance}: {exc.strerror}", file=sys.stderr)
        return 2
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        print(f"instance: not valid JSON ({exc})", file=sys.stderr)
        return 2
    if args.time_limit is not None:
        if args.time_limit <= 0:
            print("--time-limit: must be positive", file=sys.stderr)
            return 2
        if isinstance(raw, dict):
            raw["time_limit_s"] = args.time_limit
    try:
        problem = parse(raw)
    except InstanceError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    result = baseline(problem) if args.baseline else solve(problem, time_limit_s=problem.time_limit_s)
    json.dump(result.to_json(), sys.stdout)
    sys.stdout.write("\n")
    return 0
