"""How close correct solutions come to the limits of the Chapter 2 checks, and how small an error they catch.

    .venv/bin/python bench/initialization_check_margins.py [streams]

1. False rejects: every random-initializer check is run on `streams` correct solutions that draw
   different numbers from the rng they are given (default 1000 each); the table gives how many were
   rejected (designed: < 1e-7 of them) and the largest value/limit any statistic reached.
2. Power: the same solutions with their standard deviation scaled by a factor; the table gives the
   fraction the check rejects.  The listed mistakes are factors of 0.79 or less and 1.12 or more.
CPU only; about 4 minutes for 1000 streams on one core.
"""
import sys
import time

import numpy as np

from autograder.checks import initialization as chk
from autograder.reference import initialization as ref


def stream(fn, k, scale=1.0):
    """A correct initializer (times `scale`) that draws stream k of the generator it is given."""
    def other(shape, rng, **kw):
        return scale * fn(shape, np.random.default_rng([int(rng.integers(2 ** 62)), k]), **kw)
    return other


def rejected(check, fn):
    try:
        check(fn)
        return False
    except AssertionError:
        return True


def worst_ratio(name, k):
    cases_fn, spec = chk.RANDOM_CHECKS[name]
    worst = {}
    for case in cases_fn():
        shape, seed = case.args
        kind, scale = spec(shape, **case.kwargs)[:2]
        w = getattr(ref, name)(shape, np.random.default_rng([seed, k]), **case.kwargs)
        for stat, (value, limit) in chk.distribution_stats(w, kind, scale).items():
            if stat != "inside":
                worst[stat] = max(worst.get(stat, 0.0), value / limit)
    return worst


def main(streams):
    t0 = time.time()
    print(f"1. correct solutions, {streams} streams per check")
    print(f"{'check':16s} {'rejected':>9s}  largest value/limit per statistic")
    for name in list(chk.RANDOM_CHECKS) + ["orthogonal"]:
        check = getattr(chk, "check_" + name)
        bad = sum(rejected(check, stream(getattr(ref, name), k)) for k in range(streams))
        ratios = {}
        if name != "orthogonal":
            for k in range(streams):
                for stat, r in worst_ratio(name, k).items():
                    ratios[stat] = max(ratios.get(stat, 0.0), r)
        print(f"{name:16s} {bad:9d}  " + "  ".join(f"{s} {r:.2f}" for s, r in ratios.items()))
    factors = [0.90, 0.95, 0.97, 0.98, 1.02, 1.03, 1.05, 1.10]
    n_power = max(20, streams // 10)
    print(f"\n2. fraction rejected when the std is off by a factor ({n_power} streams each)")
    print(f"{'check':16s} " + " ".join(f"{f:>6.2f}" for f in factors))
    for name in chk.RANDOM_CHECKS:
        check = getattr(chk, "check_" + name)
        row = [np.mean([rejected(check, stream(getattr(ref, name), k, f)) for k in range(n_power)]) for f in factors]
        print(f"{name:16s} " + " ".join(f"{r:6.2f}" for r in row))
    print(f"\n{time.time() - t0:.0f} s")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1000)
