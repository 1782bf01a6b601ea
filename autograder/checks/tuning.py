"""Checks for Chapter 6 (hyperparameter tuning).

Each ``check_*`` takes the student's function, runs it on seeded cases
against :mod:`autograder.reference.tuning`, returns ``None`` on success and
raises ``AssertionError`` with an actionable message otherwise.
``visible_only=True`` runs the cases the notebook shows; the default runs
them all (the hidden tests do that).

Searches are judged by what they must guarantee rather than by one exact
stream of random numbers: every trial comes from the space, the run is
reproducible from the generator's state and changes with it, the objective
is called once per trial, and the best is the lowest value found.

Helpers written here rather than in ``_core``: ``_call_fresh`` (call without
copying the arguments, for a sampler that must advance the generator it is
given), ``_pair`` (unpack a returned tuple with a clear message) and
``_diagnose`` (name a mistake when the wrong answer equals a known wrong formula).
"""
import math

import numpy as np
from scipy import stats

from autograder.reference import tuning as ref

from . import _core
from ._core import Case


# Bound at import, as in _core: a notebook that later rebinds these numpy functions
# does not change a verdict.
_asarray = np.asarray
_array_equal = np.array_equal
_abs = np.abs
_isfinite = np.isfinite
_log = np.log
_float64 = np.float64


def _rng(seed):
    return np.random.default_rng(seed)


def _call_fresh(name, fn, at, *args):
    """Call fn(*args) on the arguments themselves, with _core's error translation."""
    return _core.call(name, lambda: fn(*args), at)


def _pair(name, got, what, n, at):
    """got must be a tuple/list of n items; the message names them."""
    if not isinstance(got, (tuple, list)) or len(got) != n:
        raise AssertionError(f"{name}: return {what}, got {_core.describe(got)} ({at})")
    return got


def _matches(got, alt, rtol=1e-3, atol=1e-6):
    try:
        got = _asarray(got, dtype=_float64)
        alt = _asarray(alt, dtype=_float64)
        if got.shape != alt.shape or not _isfinite(alt).all():
            return False
        return bool((_abs(got - alt) <= atol + rtol * _abs(alt)).all())
    except Exception:
        return False


def _diagnose(got, alternatives, default):
    """The hint of the first known wrong formula that reproduces ``got``, else ``default``."""
    for make_alt, hint in alternatives:
        try:
            with np.errstate(all="ignore"):
                alt = make_alt()
        except Exception:
            continue
        if _matches(got, alt):
            return hint
    return default


def _number(name, what, value, at):
    try:
        v = float(_asarray(value, dtype=_float64).reshape(()))
    except Exception:
        raise AssertionError(f"{name}: {what} should be a number, got {_core.describe(value)} ({at})") from None
    return v


# ---------------------------------------------------------------- log-uniform sampler
def check_loguniform(loguniform, visible_only=False):
    """loguniform(lo, hi) -> sampler rng -> float with log(x) uniform on [log lo, log hi)."""
    name = "loguniform"
    cases = [
        Case("lo = 1e-5, hi = 1e-1 (four decades)", (1e-5, 1e-1)),
        Case("lo = 1e-3, hi = 10", (1e-3, 10.0)),
        Case("lo = 0.5, hi = 2", (0.5, 2.0), visible=False),
        Case("lo = 1e-8, hi = 1 (eight decades)", (1e-8, 1.0), visible=False),
    ]
    n = 2000
    for k, (at, case) in enumerate(_core.cases_to_run(cases, visible_only)):
        lo, hi = case.args
        sampler = _core.call(name, loguniform, at, lo, hi)
        if not callable(sampler):
            raise AssertionError(
                f"{name}: loguniform(lo, hi) should return a sampler, a function of rng, "
                f"got {_core.describe(sampler)} ({at})")
        draw = _call_fresh(name, lambda r: [sampler(r) for _ in range(n)], at, _rng(1000 + k))
        x = _asarray([_number(name, "each sample", v, at) for v in draw], dtype=_float64)
        if x.min() < lo * (1 - 1e-9) or x.max() > hi * (1 + 1e-9):
            bad = x[(x < lo * (1 - 1e-9)) | (x > hi * (1 + 1e-9))][0]
            raise AssertionError(
                f"{name}: a sample {_core.fmt(bad)} lies outside [{lo:g}, {hi:g}] ({at})\n"
                "  hint: draw u uniformly between log(lo) and log(hi), then return exp(u).")
        u = (_log(x) - math.log(lo)) / (math.log(hi) - math.log(lo))
        p = stats.kstest(u, "uniform").pvalue
        if p < 1e-6:
            frac_low = float((u < 0.25).sum()) / n
            raise AssertionError(
                f"{name}: the samples are not spread evenly over log(x) ({at})\n"
                f"  fraction in the lowest quarter of [log lo, log hi]: expected about 0.25   got {frac_low:.3f}"
                f"  (of {n} draws, KS p = {p:.1e})\n"
                "  hint: sample the exponent, not the value: u ~ uniform(log lo, log hi), x = exp(u). "
                "Uniform sampling puts almost every draw in the top decade.")
        again = _call_fresh(name, lambda r: [sampler(r) for _ in range(20)], at, _rng(1000 + k))
        other = _call_fresh(name, lambda r: [sampler(r) for _ in range(20)], at, _rng(2000 + k))
        if not _array_equal(_asarray(again, dtype=_float64), x[:20]):
            raise AssertionError(
                f"{name}: two generators in the same state gave different samples ({at})\n"
                "  hint: draw every random number from the rng passed to the sampler, "
                "not from np.random or a new generator.")
        if _array_equal(_asarray(other, dtype=_float64), x[:20]):
            raise AssertionError(
                f"{name}: generators with different seeds gave the same samples ({at})\n"
                "  hint: use the rng passed to the sampler; do not create a generator with a fixed seed inside.")


# ---------------------------------------------------------------- grid search
def _recording(fn):
    """A wrapper that counts its calls (closures survive the deep copy of the arguments)."""
    calls = []

    def wrapped(params):
        calls.append(dict(params))
        return fn(params)

    return wrapped, calls


def _grid_objectives():
    def smooth(p):
        return (math.log10(p["lr"]) + 2.2) ** 2 + 300.0 * p["wd"] + 0.01 * p["wd"] ** 0.5

    def table(p):
        base = {"relu": 0.3, "tanh": 0.5}[p["act"]]
        return base + 0.01 * (64 / p["width"]) + 0.4 * (p["dropout"] - 0.2) ** 2

    def only_lr(p):  # the second hyperparameter does not matter: ties
        return abs(math.log10(p["lr"]) + 2.0)

    def one_key(p):
        return (p["layers"] - 2.6) ** 2

    def with_constant(p):
        return (p["momentum"] - 0.85) ** 2 + 0.1 * p["nesterov"]

    return smooth, table, only_lr, one_key, with_constant


def _grid_cases():
    smooth, table, only_lr, one_key, with_constant = _grid_objectives()
    return [
        Case("lr x wd: 3 x 2 combinations", (smooth, {"lr": [0.1, 0.01, 0.001], "wd": [0.0, 1e-4]})),
        Case("width x act x dropout: 2 x 2 x 3 combinations",
             (table, {"width": [16, 32], "act": ["relu", "tanh"], "dropout": [0.0, 0.25, 0.5]})),
        Case("lr x wd where only lr matters (ties)",
             (only_lr, {"lr": [1e-3, 1e-2, 1e-1], "wd": [1e-5, 1e-4, 1e-3]}), visible=False),
        Case("one hyperparameter, 4 values", (one_key, {"layers": [1, 2, 3, 4]}), visible=False),
        Case("a list with one value (nesterov) and one with three",
             (with_constant, {"nesterov": [False], "momentum": [0.0, 0.9, 0.99]}), visible=False),
    ]


def _check_history(name, history, objective, n, at, count_hint):
    """history: list of n (params, value) pairs whose values are objective(params)."""
    if not isinstance(history, (list, tuple)):
        raise AssertionError(
            f"{name}: history should be a list of (params, value) pairs, got {_core.describe(history)} ({at})")
    if len(history) != n:
        raise AssertionError(f"{name}: history has {len(history)} entries, expected {n} ({at})\n"
                             f"  hint: {count_hint}")
    out = []
    for i, entry in enumerate(history):
        if not isinstance(entry, (tuple, list)) or len(entry) != 2 or not isinstance(entry[0], dict):
            raise AssertionError(
                f"{name}: history[{i}] should be a pair (params_dict, value), got {_core.describe(entry)} ({at})")
        params, value = entry
        value = _number(name, f"the value in history[{i}]", value, at)
        try:
            true = float(objective(params))
        except Exception:
            raise AssertionError(
                f"{name}: history[{i}] holds params {_short(params)} that are not a configuration of "
                f"the search space ({at})") from None
        if not abs(value - true) <= 1e-9 + 1e-6 * abs(true):
            raise AssertionError(
                f"{name}: history[{i}] pairs params {_short(params)} with value {_core.fmt(value)}, "
                f"but objective(params) = {_core.fmt(true)} ({at})\n"
                "  hint: store each configuration together with the value the objective returned for it "
                "(and a new dict per trial, not one dict you keep changing).")
        out.append((params, value))
    return out


def _short(params):
    text = repr(params)
    return text if len(text) <= 70 else text[:67] + "..."


def _check_best(name, got_params, got_value, history, at):
    values = [v for _, v in history]
    low = min(values)
    v = _number(name, "best_value", got_value, at)
    if not abs(v - low) <= 1e-9 + 1e-6 * abs(low):
        hint = ("the search minimizes: the best value is the smallest in the history."
                if abs(v - max(values)) <= 1e-9 + 1e-6 * abs(max(values)) else
                "best_value is the smallest value in the history.")
        raise AssertionError(
            f"{name}: wrong best_value ({at})\n  expected  {_core.fmt(low)}   got  {_core.fmt(v)}\n  hint: {hint}")
    winners = [p for p, val in history if abs(val - low) <= 1e-9 + 1e-6 * abs(low)]
    if not isinstance(got_params, dict) or got_params not in winners:
        raise AssertionError(
            f"{name}: best_params {_short(got_params)} is not a configuration that reached the best value "
            f"{_core.fmt(low)} ({at})\n  expected e.g. {_short(winners[0])}\n"
            "  hint: return the params stored next to the smallest value.")


def check_grid_search(grid_search, visible_only=False):
    """grid_search(objective, grid) -> (best_params, best_value, history), every combination once in product order."""
    name = "grid_search"
    for at, case in _core.cases_to_run(_grid_cases(), visible_only):
        objective, grid = case.args
        _, _, expected = ref.grid_search(objective, grid)
        wrapped, calls = _recording(objective)
        got = _core.call(name, grid_search, at, wrapped, grid)
        best_params, best_value, history = _pair(name, got, "a triple (best_params, best_value, history)", 3, at)
        n = len(expected)
        history = _check_history(
            name, history, objective, n, at,
            "one entry per combination: the product of the list lengths (itertools.product).")
        order = [p for p, _ in history]
        want = [p for p, _ in expected]
        if order != want:
            same_set = sorted(repr(sorted(p.items())) for p in order) == \
                sorted(repr(sorted(p.items())) for p in want)
            i = next(j for j in range(n) if order[j] != want[j])
            hint = ("every combination is there, but in another order: iterate with "
                    "itertools.product over the lists in the grid's key order (first key slowest)."
                    if same_set else
                    "evaluate every combination exactly once (itertools.product over the grid's lists).")
            raise AssertionError(
                f"{name}: history[{i}] holds the wrong configuration ({at})\n"
                f"  expected  {_short(want[i])}\n  got       {_short(order[i])}\n  hint: {hint}")
        if len(calls) != n:
            raise AssertionError(
                f"{name}: the objective was called {len(calls)} times for {n} combinations ({at})\n"
                "  hint: call it once per combination and keep the value; read the best from the history.")
        _check_best(name, best_params, best_value, history, at)


# ---------------------------------------------------------------- random search
def _random_cases():
    def lr_wd(p):
        return (math.log10(p["lr"]) + 2.5) ** 2 + (math.log10(p["wd"]) + 4.0) ** 2 / 4

    def width_dropout(p):
        return 0.2 + 0.02 * abs(math.log2(p["width"] / 32)) + (p["dropout"] - 0.1) ** 2

    def mixed(p):
        return (p["layers"] - 2) ** 2 * 0.1 + abs(math.log10(p["lr"]) + 1.5) + (0.05 if p["act"] == "tanh" else 0)

    def one(p):
        return (p["x"] - 0.3) ** 2

    lr_wd_space = lambda: {"lr": ref.loguniform(1e-4, 1e-1), "wd": ref.loguniform(1e-6, 1e-2)}
    wd_support = {"lr": lambda v: 1e-4 <= v <= 1e-1, "wd": lambda v: 1e-6 <= v <= 1e-2}
    return [
        Case("lr, wd log-uniform, 8 trials", (lr_wd, lr_wd_space, wd_support, 8, 11)),
        Case("width from [16, 32, 64], dropout uniform on [0, 0.5), 6 trials",
             (width_dropout, lambda: {"width": ref.choice([16, 32, 64]), "dropout": ref.uniform(0.0, 0.5)},
              {"width": lambda v: v in (16, 32, 64), "dropout": lambda v: 0.0 <= v <= 0.5}, 6, 12)),
        Case("layers randint(1, 5), lr log-uniform, act from 2 options, 12 trials",
             (mixed, lambda: {"layers": ref.randint(1, 5), "lr": ref.loguniform(1e-3, 1.0),
                              "act": ref.choice(["relu", "tanh"])},
              {"layers": lambda v: v in (1, 2, 3, 4), "lr": lambda v: 1e-3 <= v <= 1.0,
               "act": lambda v: v in ("relu", "tanh")}, 12, 13), visible=False),
        Case("one trial", (lr_wd, lr_wd_space, wd_support, 1, 14), visible=False),
        Case("x uniform on [0, 1), 40 trials",
             (one, lambda: {"x": ref.uniform(0.0, 1.0)}, {"x": lambda v: 0.0 <= v <= 1.0}, 40, 15), visible=False),
    ]


def check_random_search(random_search, visible_only=False):
    """random_search(objective, space, n_trials, rng) -> (best_params, best_value, history)."""
    name = "random_search"
    for at, case in _core.cases_to_run(_random_cases(), visible_only):
        objective, make_space, support, n, seed = case.args
        wrapped, calls = _recording(objective)
        got = _core.call(name, random_search, at, wrapped, make_space(), n, _rng(seed))
        best_params, best_value, history = _pair(name, got, "a triple (best_params, best_value, history)", 3, at)
        history = _check_history(name, history, objective, n, at, "one entry per trial: n_trials entries.")
        for i, (params, _) in enumerate(history):
            if set(params) != set(support):
                raise AssertionError(
                    f"{name}: history[{i}] has keys {sorted(params)}, expected {sorted(support)} ({at})\n"
                    "  hint: a configuration has one value per key of the space: {name: sampler(rng)}.")
            for key, ok in support.items():
                if not ok(params[key]):
                    raise AssertionError(
                        f"{name}: history[{i}][{key!r}] = {params[key]!r} is not a value the space can produce "
                        f"({at})\n  hint: draw each value by calling the space's sampler with rng: space[name](rng).")
        if n > 1 and all(p == history[0][0] for p, _ in history[1:]):
            raise AssertionError(
                f"{name}: all {n} trials evaluated the same configuration ({at})\n"
                "  hint: draw a new configuration inside the loop, once per trial.")
        if len(calls) != n:
            raise AssertionError(
                f"{name}: the objective was called {len(calls)} times for {n} trials ({at})\n"
                "  hint: call it once per trial and keep the value; read the best from the history.")
        _check_best(name, best_params, best_value, history, at)
        again = _core.call(name, random_search, at, objective, make_space(), n, _rng(seed))
        again = _pair(name, again, "a triple (best_params, best_value, history)", 3, at)
        if repr(again[2]) != repr(got[2]):
            raise AssertionError(
                f"{name}: two generators in the same state gave different trials ({at})\n"
                "  hint: draw every random number from the rng argument (pass it to the samplers), "
                "never from np.random or a generator made inside the function.")
        if n > 1:
            other = _core.call(name, random_search, at, objective, make_space(), n, _rng(seed + 500))
            other = _pair(name, other, "a triple (best_params, best_value, history)", 3, at)
            if repr(other[2]) == repr(got[2]):
                raise AssertionError(
                    f"{name}: generators with different seeds gave the same trials ({at})\n"
                    "  hint: use the rng argument; do not create a generator with a fixed seed inside.")


# ---------------------------------------------------------------- RBF kernel
def _kernel_cases():
    r = _rng(601)
    same = r.normal(size=(5, 3))
    return [
        Case("A (4, 2), B (3, 2), length_scale 1, variance 1",
             (r.normal(size=(4, 2)), r.normal(size=(3, 2)), 1.0, 1.0)),
        Case("A = B (5, 3), length_scale 0.5, variance 2", (same, same.copy(), 0.5, 2.0)),
        Case("A (1, 1), B (6, 1) on [0, 5], length_scale 2, variance 0.3",
             (np.array([[1.0]]), np.linspace(0, 5, 6)[:, None], 2.0, 0.3), visible=False),
        Case("A (3, 4), B (2, 4), length_scale 3, variance 1.5",
             (r.normal(size=(3, 4)), r.normal(size=(2, 4)), 3.0, 1.5), visible=False),
        Case("A (6, 2), B (7, 2) spread over [-3, 3], length_scale 0.7, variance 1",
             (r.uniform(-3, 3, size=(6, 2)), r.uniform(-3, 3, size=(7, 2)), 0.7, 1.0), visible=False),
    ]


def _sqdist(A, B):
    return ((A[:, None, :] - B[None, :, :]) ** 2).sum(-1)


def check_rbf_kernel(rbf_kernel, visible_only=False):
    """rbf_kernel(A, B, length_scale, variance) -> K (n, m), K[i, j] = variance * exp(-|a_i - b_j|^2 / (2 l^2))."""
    name = "rbf_kernel"
    for at, case in _core.cases_to_run(_kernel_cases(), visible_only):
        A, B, ls, var = case.args
        expected = ref.rbf_kernel(A, B, ls, var)
        got = _core.call(name, rbf_kernel, at, A, B, ls, var)
        arr = _core.as_array(name, "K", got, at)
        if arr.shape != expected.shape:
            raise AssertionError(
                f"{name}: K has shape {arr.shape}, expected {expected.shape} ({at})\n"
                "  hint: K[i, j] = k(A[i], B[j]): one row per point of A, one column per point of B.")
        d2 = _sqdist(A, B)
        hint = _diagnose(arr, [
            (lambda: var * np.exp(-np.sqrt(d2) / (2 * ls ** 2)),
             "use the squared distance |a - b|^2, not the distance |a - b|."),
            (lambda: var * np.exp(-d2 / ls ** 2), "the exponent is -|a - b|^2 / (2 l^2): the factor 1/2 is missing."),
            (lambda: var * np.exp(-d2 / (2 * ls)), "divide by the squared length scale, 2 l^2, not 2 l."),
            (lambda: np.exp(-d2 / (2 * ls ** 2)), "multiply by the prior variance (the kernel's value at distance 0)."),
            (lambda: var * np.exp(d2 / (2 * ls ** 2)), "the exponent is negative: far points are less correlated."),
        ], "K[i, j] = variance * exp(-|A[i] - B[j]|^2 / (2 length_scale^2)); check the sum over the feature axis.")
        _core.assert_close(name, "K", expected, arr, at, rtol=1e-5, atol=1e-7, hint=hint)
    _core.assert_inputs_unchanged(name, rbf_kernel, _rng(602).normal(size=(3, 2)), _rng(603).normal(size=(4, 2)),
                                  0.9, 1.2)


# ---------------------------------------------------------------- GP posterior
def _gp_cases():
    r = _rng(701)
    X1 = np.array([[-2.0], [-0.8], [0.3], [1.1], [2.4]])
    X2 = r.uniform(-2, 2, size=(6, 2))
    X3 = r.uniform(-2, 2, size=(8, 3))
    return [
        Case("1-D, 5 training points, 7 test points, length_scale 1, variance 1, noise 1e-6",
             (X1, np.sin(2 * X1[:, 0]), np.linspace(-3, 3, 7)[:, None], 1.0, 1.0, 1e-6)),
        Case("2-D, 6 training points, 4 test points, length_scale 0.8, variance 2.5, noise 0.1",
             (X2, r.normal(size=6), r.uniform(-2, 2, size=(4, 2)), 0.8, 2.5, 0.1)),
        Case("1-D, test points = the training points, length_scale 0.7, variance 1.5, noise 0.01",
             (X1, np.cos(X1[:, 0]) - 0.5, X1.copy(), 0.7, 1.5, 0.01), visible=False),
        Case("3-D, 8 training points, 5 test points, length_scale 1.5, variance 0.5, noise 0.05",
             (X3, r.normal(size=8), r.uniform(-2, 2, size=(5, 3)), 1.5, 0.5, 0.05), visible=False),
        Case("1-D, test points far from the data (prior), length_scale 0.5, variance 3, noise 1e-4",
             (X1, np.sin(X1[:, 0]), np.array([[-20.0], [15.0], [40.0]]), 0.5, 3.0, 1e-4), visible=False),
    ]


def _as_vector(name, what, value, m, at):
    arr = _core.as_array(name, what, value, at)
    if arr.size == m and arr.ndim == 2 and 1 in arr.shape:  # (m, 1) columns are fine
        arr = arr.reshape(m)
    if arr.shape != (m,):
        raise AssertionError(
            f"{name}: {what} has shape {arr.shape}, expected ({m},) -- one number per test point ({at})")
    return arr


def _gp_plain(X, y, Xs, ls, var, noise, test_noise=0.0):
    """The posterior by the textbook formulas with np.linalg.solve (for diagnosing mistakes)."""
    K = ref.rbf_kernel(X, X, ls, var) + noise * np.eye(len(X))
    Ks = ref.rbf_kernel(X, Xs, ls, var)
    mean = Ks.T @ np.linalg.solve(K, y)
    v = var + test_noise - np.sum(Ks * np.linalg.solve(K, Ks), 0)
    return mean, v


def check_gp_posterior(gp_posterior, visible_only=False):
    """gp_posterior(X_train, y_train, X_test, length_scale, variance, noise) -> (mean, std) of f at X_test."""
    name = "gp_posterior"
    for at, case in _core.cases_to_run(_gp_cases(), visible_only):
        X, y, Xs, ls, var, noise = case.args
        e_mean, e_std = ref.gp_posterior(*case.args)
        got = _core.call(name, gp_posterior, at, *case.args)
        mean, std = _pair(name, got, "a pair (mean, std)", 2, at)
        m = len(Xs)
        mean = _as_vector(name, "mean", mean, m, at)
        std = _as_vector(name, "std", std, m, at)
        scale = max(1.0, float(np.abs(y).max()))
        mean_hint = _diagnose(mean, [
            (lambda: _gp_plain(X, y, Xs, ls, var, 0.0)[0],
             "add the noise to the diagonal of K(X_train, X_train) before solving: K + noise * I."),
            (lambda: _gp_plain(X, y, Xs, ls, 1.0, noise)[0],
             "build every kernel matrix with the prior variance given, not with variance 1."),
        ], "mean = k(X_train, X_test).T @ solve(K(X_train, X_train) + noise * I, y_train).")
        _core.assert_close(name, "mean", e_mean, mean, at, rtol=1e-4, atol=1e-4 * scale, hint=mean_hint)
        std_hint = _diagnose(std, [
            (lambda: e_std ** 2, "return the standard deviation: the square root of the posterior variance."),
            (lambda: np.sqrt(np.maximum(_gp_plain(X, y, Xs, ls, var, noise, noise)[1], 0)),
             "std is that of f, the noise-free function: do not add the noise at the test points."),
            (lambda: np.sqrt(np.maximum(_gp_plain(X, y, Xs, ls, var, 0.0)[1], 0)),
             "add the noise to the diagonal of K(X_train, X_train) before solving: K + noise * I."),
            (lambda: np.sqrt(np.maximum(_gp_plain(X, y, Xs, ls, 1.0, noise)[1], 0)),
             "the prior variance enters twice: in every kernel matrix and as k(x*, x*) = variance."),
            (lambda: np.sqrt(np.maximum(1.0 - (var - e_std ** 2), 0)),
             "k(x*, x*) is the prior variance, not 1: var* = variance - k*^T K^-1 k*."),
        ], "var* = variance - sum over training points of k* * solve(K + noise I, k*); std = sqrt(max(var*, 0)).")
        _core.assert_close(name, "std", e_std, std, at, rtol=1e-4, atol=2e-4 * math.sqrt(var), hint=std_hint)
    r = _rng(702)
    _core.assert_inputs_unchanged(name, gp_posterior, r.normal(size=(4, 2)), r.normal(size=4),
                                  r.normal(size=(3, 2)), 1.0, 1.0, 0.01)


# ---------------------------------------------------------------- expected improvement
def _ei_cases():
    r = _rng(801)
    return [
        Case("5 points, best 0, xi 0",
             (np.array([0.5, 0.0, -0.2, 1.0, 0.1]), np.array([0.3, 1.0, 0.1, 0.5, 0.2]), 0.0, 0.0)),
        Case("sigma = 0 at points with mu >= best - xi, best 0, xi 0.1",
             (np.array([0.3, -0.1, 0.5, -1.0]), np.array([0.0, 0.0, 0.2, 0.4]), 0.0, 0.1)),
        Case("20 random points, best -0.3, xi 0.05",
             (r.normal(size=20), r.uniform(0.01, 2.0, size=20), -0.3, 0.05), visible=False),
        Case("shape (3, 4), best 1, xi 0.01",
             (r.normal(1.0, 1.0, size=(3, 4)), r.uniform(0.05, 1.0, size=(3, 4)), 1.0, 0.01), visible=False),
        Case("far below and far above best (z = +-100)",
             (np.array([-10.0, 10.0, 0.0]), np.array([0.1, 0.1, 1e-3]), 0.0, 0.0), visible=False),
        Case("sigma = 0 with mu >= best - xi, best 2, xi 0.5",
             (np.array([1.5, 2.0, 1.0]), np.array([0.0, 0.0, 0.3]), 2.0, 0.5), visible=False),
    ]


def check_expected_improvement(expected_improvement, visible_only=False):
    """expected_improvement(mu, sigma, best, xi) -> EI for minimization, 0 where sigma = 0."""
    name = "expected_improvement"
    for at, case in _core.cases_to_run(_ei_cases(), visible_only):
        mu, sigma, best, xi = case.args
        expected = ref.expected_improvement(*case.args)
        got = _core.call(name, expected_improvement, at, *case.args)
        arr = _core.as_array(name, "EI", got, at, expected.shape)
        s = np.where(sigma > 0, sigma, 1.0)

        def ei(imp, sd):
            return np.where(sigma > 0, imp * stats.norm.cdf(imp / sd) + sd * stats.norm.pdf(imp / sd), 0.0)

        hint = "no nan: where sigma == 0 the improvement is certain to be at most 0, so EI = 0."
        if np.isfinite(arr).all():
            hint = _diagnose(arr, [
                (lambda: ei(mu - best - xi, s),
                 "this is EI for maximization; here we minimize, so the improvement is best - mu - xi."),
                (lambda: np.where(sigma > 0, (best - mu - xi) * stats.norm.cdf((best - mu - xi) / s), 0.0),
                 "EI has two terms: (best - mu - xi) * Phi(z) + sigma * phi(z); the second rewards uncertainty."),
                (lambda: ei(best - mu + xi, s), "xi makes EI more exploratory: subtract it, best - mu - xi."),
                (lambda: np.where(sigma > 0, (best - mu - xi) * stats.norm.pdf((best - mu - xi) / s)
                                  + s * stats.norm.cdf((best - mu - xi) / s), 0.0),
                 "Phi (the normal cdf) multiplies the improvement and phi (the pdf) multiplies sigma."),
                (lambda: np.where(sigma > 0, (best - mu - xi) * stats.norm.cdf((best - mu - xi) / s ** 2)
                                  + s * stats.norm.pdf((best - mu - xi) / s ** 2), 0.0),
                 "z = (best - mu - xi) / sigma with sigma the standard deviation, not its square."),
                (lambda: np.where(sigma > 0, ei(best - mu - xi, s), np.maximum(best - mu - xi, 0.0)),
                 "where sigma == 0 return 0."),
            ], "EI = (best - mu - xi) * Phi(z) + sigma * phi(z) with z = (best - mu - xi) / sigma, "
               "and 0 where sigma == 0.")
        _core.assert_close(name, "EI", expected, arr, at, rtol=1e-4, atol=1e-6, hint=hint)
    _core.assert_inputs_unchanged(name, expected_improvement, np.array([0.1, -0.2, 0.0]),
                                  np.array([0.2, 0.0, 0.5]), 0.0, 0.01)


# ---------------------------------------------------------------- successive halving
def _curves(seed, n):
    """n learning curves loss(budget) = floor + gap * budget**-rate that cross each other."""
    r = _rng(seed)
    configs = [{"id": i, "lr": float(10 ** r.uniform(-4, -1))} for i in range(n)]
    floor = r.uniform(0.05, 0.5, size=n)
    gap = r.uniform(0.5, 2.0, size=n)
    rate = r.uniform(0.2, 1.2, size=n)

    def train_fn(config, budget):
        i = config["id"]
        return float(floor[i] + gap[i] * float(budget) ** -rate[i])

    return configs, train_fn


def _sh_cases():
    return [
        Case("9 configurations, min_budget 1, eta 3", (901, 9, 1, 3)),
        Case("8 configurations, min_budget 2, eta 2 (8 -> 4 -> 2 -> 1)", (902, 8, 2, 2)),
        Case("8 configurations, min_budget 1, eta 3 (8 -> 2)", (909, 8, 1, 3)),
        Case("10 configurations, min_budget 1, eta 3 (10 -> 3 -> 1)", (903, 10, 1, 3), visible=False),
        Case("27 configurations, min_budget 3, eta 3", (904, 27, 3, 3), visible=False),
        Case("5 configurations, min_budget 9, eta 3 (5 -> 1)", (905, 5, 9, 3), visible=False),
        Case("2 configurations, min_budget 1, eta 3 (one round)", (906, 2, 1, 3), visible=False),
        Case("20 configurations, min_budget 1, eta 4 (20 -> 5 -> 1)", (907, 20, 1, 4), visible=False),
        Case("12 configurations, min_budget 1, eta 2 (12 -> 6 -> 3 -> 1)", (908, 12, 1, 2), visible=False),
    ]


def _round_field(name, rnd, key, i, at):
    try:
        return rnd[key]
    except Exception:
        raise AssertionError(
            f"{name}: rounds[{i}] should be a dict with keys 'budget', 'configs', 'losses', "
            f"got {_core.describe(rnd)} ({at})") from None


def check_successive_halving(successive_halving, visible_only=False):
    """successive_halving(configs, train_fn, min_budget, eta) -> (best_config, rounds), Li et al.'s inner loop."""
    name = "successive_halving"
    for at, case in _core.cases_to_run(_sh_cases(), visible_only):
        seed, n, min_budget, eta = case.args
        configs, train_fn = _curves(seed, n)
        e_best, e_rounds = ref.successive_halving(configs, train_fn, min_budget, eta)
        calls = []

        def counted(config, budget, _f=train_fn, _calls=calls):
            _calls.append((config["id"], budget))
            return _f(config, budget)

        got = _core.call(name, successive_halving, at, configs, counted, min_budget, eta)
        best, rounds = _pair(name, got, "a pair (best_config, rounds)", 2, at)
        if not isinstance(rounds, (list, tuple)):
            raise AssertionError(f"{name}: rounds should be a list of dicts, got {_core.describe(rounds)} ({at})")
        sizes = [len(r["configs"]) for r in e_rounds]
        sched = ", ".join(f"{len(r['configs'])} @ {r['budget']:g}" for r in e_rounds)
        for i, e in enumerate(e_rounds):
            if i >= len(rounds):
                raise AssertionError(
                    f"{name}: {len(rounds)} rounds, expected {len(e_rounds)}: {sched} ({at})\n"
                    f"  hint: continue while floor(n / eta**i) >= 1: the last survivor is trained at the "
                    f"largest budget too.")
            rnd = rounds[i]
            budget = _number(name, f"rounds[{i}]['budget']", _round_field(name, rnd, "budget", i, at), at)
            r_configs = _round_field(name, rnd, "configs", i, at)
            r_losses = _round_field(name, rnd, "losses", i, at)
            if not abs(budget - e["budget"]) <= 1e-9 * e["budget"]:
                hint = ("the budget must grow: round i trains at min_budget * eta**i."
                        if abs(budget - min_budget) < 1e-12 and i > 0 else
                        "round i trains at min_budget * eta**i (multiply by eta each round).")
                raise AssertionError(
                    f"{name}: wrong budget in round {i} ({at})\n  expected  {e['budget']:g}   got  {budget:g}"
                    f"   (schedule: {sched})\n  hint: {hint}")
            if not isinstance(r_configs, (list, tuple)) or len(r_configs) != sizes[i]:
                size = len(r_configs) if isinstance(r_configs, (list, tuple)) else _core.describe(r_configs)
                raise AssertionError(
                    f"{name}: round {i} trains {size} configurations, expected {sizes[i]} = floor({n} / {eta}**{i}) "
                    f"({at})\n  schedule: {sched}\n"
                    f"  hint: keep the floor(n / eta**(i+1)) best after round i -- divide by eta, round down.")
            if not isinstance(r_losses, (list, tuple, np.ndarray)) or len(r_losses) != sizes[i]:
                raise AssertionError(
                    f"{name}: rounds[{i}]['losses'] should hold {sizes[i]} losses, one per configuration, "
                    f"got {_core.describe(r_losses)} ({at})")
            want = sorted(c["id"] for c in e["configs"])
            try:
                have = sorted(c["id"] for c in r_configs)
            except Exception:
                raise AssertionError(
                    f"{name}: rounds[{i}]['configs'] should hold the configurations themselves, "
                    f"got {_core.describe(r_configs[0])} entries ({at})") from None
            if have != want:
                prev = e_rounds[i - 1]
                worst = sorted(c["id"] for _, c in sorted(zip(prev["losses"], prev["configs"]),
                                                         key=lambda t: -t[0])[:sizes[i]])
                hint = ("you kept the highest losses; keep the lowest (we minimize)." if have == worst else
                        "after each round keep the configurations with the lowest losses of that round.")
                raise AssertionError(
                    f"{name}: round {i} trains the wrong configurations ({at})\n"
                    f"  expected ids {want}\n  got ids      {have}\n  hint: {hint}")
            for c, loss in zip(r_configs, r_losses):
                true = train_fn(c, e["budget"])
                if not abs(_number(name, "a loss", loss, at) - true) <= 1e-9 + 1e-7 * abs(true):
                    raise AssertionError(
                        f"{name}: rounds[{i}] pairs configuration {c['id']} with loss {_core.fmt(loss)}, "
                        f"but train_fn(config, {e['budget']:g}) = {_core.fmt(true)} ({at})\n"
                        "  hint: store each configuration's loss from this round, in the same order as 'configs'.")
        if len(rounds) != len(e_rounds):
            raise AssertionError(
                f"{name}: {len(rounds)} rounds, expected {len(e_rounds)}: {sched} ({at})\n"
                "  hint: stop when floor(n / eta**i) is 0: no configuration is left to train.")
        if len(calls) != sum(sizes):
            raise AssertionError(
                f"{name}: train_fn was called {len(calls)} times, expected {sum(sizes)} = {' + '.join(map(str, sizes))} "
                f"({at})\n  hint: train each configuration once per round and keep the loss; the budget is the point.")
        if best != e_best:
            first = min(zip(e_rounds[0]["losses"], e_rounds[0]["configs"]), key=lambda t: t[0])[1]
            hint = ("that is the best of the first, cheapest round; return the best of the last round, "
                    "trained with the largest budget."
                    if best == first and first != e_best else
                    "return the configuration with the lowest loss in the last round.")
            raise AssertionError(
                f"{name}: wrong best_config ({at})\n  expected  {_short(e_best)}\n  got       {_short(best)}\n"
                f"  hint: {hint}")


# ---------------------------------------------------------------- quiz
def check_quiz_hyperband_brackets(answer):
    """Hyperband with R = 27, eta = 3: the (n, r) each bracket starts with, largest n first."""
    name = "hyperband_brackets"
    expected = [b[0] for b in ref.hyperband_brackets(27, 3)]
    hint = ("s_max = floor(log_3 27) = 3, so there are 4 brackets and B = 4 * 27; bracket s starts with "
            "n = ceil(B / R * 3**s / (s + 1)) configurations at r = 27 / 3**s.")
    if answer is None or answer is Ellipsis:
        raise AssertionError(f"{name}: not answered yet -- replace `None` with your answer.")
    if not isinstance(answer, (list, tuple)) or len(answer) != len(expected):
        raise AssertionError(
            f"{name}: give a list of {len(expected)} pairs (n, r), one per bracket, "
            f"got {_core.describe(answer)}.\n  hint: {hint}")
    for j, ((n, r), item) in enumerate(zip(expected, answer)):
        try:
            a_n, a_r = (float(v) for v in item)
        except Exception:
            raise AssertionError(f"{name}: bracket {j} should be a pair (n, r), got {_repr(item)}.") from None
        if a_n != n or abs(a_r - r) > 1e-9 * r:
            raise AssertionError(f"{name}: bracket {j} (s = {len(expected) - 1 - j}) is not right.\n  hint: {hint}")


def check_quiz_cholesky_cost(answer):
    """The factor by which the Cholesky factorization's time grows from 100 to 400 observations."""
    _core.check_answer("cholesky_cost", answer, 64.0, rtol=1e-6, atol=1e-9,
                       hint="factorizing an n x n matrix takes time proportional to n**3; n grows by a factor of 4.")


def _repr(v):
    text = repr(v)
    return text if len(text) <= 40 else text[:37] + "..."
