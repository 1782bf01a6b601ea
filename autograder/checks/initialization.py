"""Checks for Chapter 2 (weight initialization).

Each ``check_*`` takes the student's function, runs it on seeded cases,
returns ``None`` on success and raises ``AssertionError`` with an actionable
message otherwise.  ``visible_only=True`` runs the cases the notebook shows;
the default runs them all (the hidden tests do that).

``fans`` and ``calculate_gain`` are compared exactly.  A random initializer
cannot be compared entry by entry (a correct solution may draw its numbers in
another order or in float32), so it is judged by what it must get right:

1. the shape, in torch's layout;
2. the generator: two calls with generators seeded alike return the same
   array and generators seeded differently return different arrays (so all
   randomness comes from ``rng``, none from ``np.random``);
3. the distribution, from every entry of the array (n of them):
   * the mean is 0:                  |mean| <= Z sigma / sqrt(n);
   * the standard deviation sqrt(mean(w^2)) is sigma within Z c / sqrt(n)
     relative, c = 1/sqrt(2) for a normal and 1/2 for a uniform distribution;
   * a uniform one stays inside [-b, b] and reaches within 23/n of b;
   * the shape: the Kolmogorov-Smirnov distance to N(0, sigma^2) or U(-b, b)
     is at most KS_T / sqrt(n).

False rejects.  For a correct solution each statistic is a random variable
(over the streams a correct solution may draw); Z = 6.5 and KS_T = 3.3 are
chosen so that each test wrongly fails with probability below 3e-9:
normal mean: exact; normal std: chi-square, exact; uniform mean: Chernoff,
U(-b, b) being strictly sub-Gaussian; uniform std: Bernstein's inequality;
reaching the bound: (1 - 23/n)^n < 1.1e-10; KS: the Dvoretzky-Kiefer-
Wolfowitz-Massart inequality, 2 exp(-2 KS_T^2) < 7e-10.  With at most 6
cases of at most 4 such tests, a check wrongly rejects a correct solution
with probability below 1e-7.  ``tests/test_initialization.py`` recomputes
these bounds for every case.

Orthogonal matrices are checked exactly (W W^T = gain^2 I, to 1e-4 gain^2).
"""
import math as _math

import numpy as np

from autograder.reference import initialization as ref

from . import _core
from ._core import Case

# Bound at import, as in _core: a notebook that rebinds numpy functions does not change the verdict.
_asarray = np.asarray
_float64 = np.float64
_sqrt = np.sqrt
_abs = np.abs
_sort = np.sort
_arange = np.arange
_array_equal = np.array_equal
_isfinite = np.isfinite
_eye = np.eye
_diag = np.diag
_frompyfunc = np.frompyfunc
_default_rng = np.random.default_rng
_erf = _math.erf

Z = 6.5  # z-score limit for the mean and the standard deviation
KS_T = 3.3  # limit on sqrt(n) * (Kolmogorov-Smirnov distance)
C_STD = {"normal": 1.0 / _math.sqrt(2.0), "uniform": 0.5}  # sd of sqrt(n) (s/sigma - 1), with slack for uniform
BOUND_REACH = 23.0  # max |w| must exceed b (1 - BOUND_REACH / n); (1 - 23/n)^n < e^-23 = 1.0e-10
ORTHO_RTOL = 1e-4  # |W W^T - gain^2 I| <= ORTHO_RTOL * gain^2, entrywise


# ---------------------------------------------------------------- fans
def _fans_cases():
    return [
        Case("dense weight (5, 3)", ((5, 3),)),
        Case("conv2d kernel (16, 8, 3, 3)", ((16, 8, 3, 3),)),
        Case("dense weight (3, 7)", ((3, 7),), visible=False),
        Case("conv1d kernel (4, 2, 5)", ((4, 2, 5),), visible=False),
        Case("conv3d kernel (6, 3, 2, 4, 5)", ((6, 3, 2, 4, 5),), visible=False),
        Case("conv2d kernel (8, 4, 1, 1)", ((8, 4, 1, 1),), visible=False),
        Case("conv2d kernel (2, 3, 5, 1)", ((2, 3, 5, 1),), visible=False),
        Case("dense weight (1, 1)", ((1, 1),), visible=False),
    ]


def _as_pair(name, got, at):
    try:
        pair = [float(v) for v in got]
    except Exception:
        pair = None
    if pair is None or len(pair) != 2:
        raise AssertionError(f"{name}: return a pair (fan_in, fan_out), got {_core.describe(got)} ({at})")
    return pair


def check_fans(fans, visible_only=False):
    """fans(shape) -> (fan_in, fan_out), as torch counts them."""
    name = "fans"
    for at, case in _core.cases_to_run(_fans_cases(), visible_only):
        (shape,) = case.args
        expected = ref.fans(shape)
        got = _as_pair(name, _core.call(name, fans, at, shape), at)
        if got == [float(v) for v in expected]:
            continue
        field = _math.prod(shape[2:])
        if got == [float(expected[1]), float(expected[0])]:
            hint = ("fan_in and fan_out are swapped. torch stores a weight as (fan_out, fan_in, ...): "
                    "shape[1] counts the inputs, shape[0] the outputs.")
        elif field > 1 and got == [float(shape[1]), float(shape[0])]:
            hint = (f"a conv kernel's unit sees C_in * kh * kw inputs: multiply shape[1] and shape[0] by the "
                    f"receptive field, the product of shape[2:] (here {field}).")
        elif field > 1 and (got[0] == expected[0]) != (got[1] == expected[1]):
            hint = "one of the two is right: both fans include the receptive field, the product of shape[2:]."
        else:
            hint = ("fan_in = shape[1] * r and fan_out = shape[0] * r, where r is the product of shape[2:] "
                    "(1 for a dense weight).")
        raise AssertionError(
            f"{name}: wrong result ({at})\n"
            f"  expected (fan_in, fan_out) = ({expected[0]}, {expected[1]})   "
            f"got ({_core.fmt(got[0])}, {_core.fmt(got[1])})\n  hint: {hint}"
        )


# ---------------------------------------------------------------- gains
_GAIN_HINTS = {
    "linear": "a linear layer (and conv1d/2d/3d, their transposes) needs no correction: gain 1.",
    "sigmoid": "torch uses gain 1 for sigmoid.",
    "tanh": "tanh's gain is 5/3; write 5 / 3, not a rounded decimal.",
    "relu": "relu zeroes half of its inputs and so halves the second moment; the std is corrected by sqrt(2) "
            "(the variance by 2).",
    "leaky_relu": "leaky relu keeps a fraction a of the negative half: gain sqrt(2 / (1 + a**2)), "
                  "with a = 0.01 when param is None.",
    "selu": "torch's gain for selu is 3/4.",
}


def _gain_cases():
    cases = [Case(n, (n,)) for n in ["linear", "relu", "tanh", "sigmoid"]]
    cases += [Case("conv2d", ("conv2d",), visible=False), Case("conv1d", ("conv1d",), visible=False),
              Case("conv3d", ("conv3d",), visible=False),
              Case("conv_transpose2d", ("conv_transpose2d",), visible=False),
              Case("leaky_relu, param=0.2", ("leaky_relu", 0.2)),
              Case("leaky_relu, param=None (slope 0.01)", ("leaky_relu",), visible=False),
              Case("leaky_relu, param=0.5", ("leaky_relu", 0.5), visible=False),
              Case("leaky_relu, param=0 (plain relu)", ("leaky_relu", 0), visible=False),
              Case("selu", ("selu",), visible=False)]
    return cases


def check_calculate_gain(calculate_gain, visible_only=False):
    """calculate_gain(nonlinearity, param=None) -> torch's recommended gain."""
    name = "calculate_gain"
    for at, case in _core.cases_to_run(_gain_cases(), visible_only):
        expected = ref.calculate_gain(*case.args)
        got = _core.call(name, calculate_gain, at, *case.args)
        kind = case.args[0]
        hint = _GAIN_HINTS.get(kind, _GAIN_HINTS["linear"])
        _core.assert_close(name, f"the gain for {kind!r}", expected, got, at, rtol=1e-6, atol=0, hint=hint)


# ---------------------------------------------------------------- random initializers: machinery
def _fan_text(shape):
    fan_in, fan_out = ref.fans(shape)
    return f"fan_in={fan_in}, fan_out={fan_out}"


def _normal_cdf(x, sigma):
    erf = _frompyfunc(_erf, 1, 1)
    return 0.5 * (1.0 + _asarray(erf(x / (sigma * _math.sqrt(2.0))), dtype=_float64))


def ks_distance(w, kind, scale):
    """Kolmogorov-Smirnov distance between the entries of w and N(0, scale^2) or U(-scale, scale)."""
    x = _sort(_asarray(w, dtype=_float64).ravel())
    n = x.size
    if kind == "normal":
        cdf = _normal_cdf(x, scale)
    else:
        cdf = (x + scale) / (2.0 * scale)
        cdf = cdf.clip(0.0, 1.0)
    i = _arange(1, n + 1)
    return float(max((i / n - cdf).max(), (cdf - (i - 1) / n).max()))


def distribution_stats(w, kind, scale):
    """Each statistic a random initializer is judged by, as (value, limit): it passes when value <= limit.

    kind: "normal" (scale = sigma) or "uniform" (scale = b, sigma = b / sqrt(3)).
    Used by the checks and by tests/bench to measure the margins.
    """
    x = _asarray(w, dtype=_float64).ravel()
    n = x.size
    sigma = scale if kind == "normal" else scale / _math.sqrt(3.0)
    rms = float(_sqrt((x * x).mean()))
    stats = {
        "mean": (abs(float(x.mean())), Z * sigma / _math.sqrt(n)),
        "std": (abs(rms / sigma - 1.0), Z * C_STD[kind] / _math.sqrt(n)),
    }
    if kind == "uniform":
        top = float(_abs(x).max())
        stats["inside"] = (top, scale * (1.0 + 1e-6))
        stats["reach"] = (scale - top, scale * BOUND_REACH / n)
    stats["ks"] = (ks_distance(x, kind, scale), KS_T / _math.sqrt(n))
    return stats


def _diagnose(rms, sigma, tol, alternatives):
    """The hints of the mistakes whose std explains the observed one, closest first ("" if none does).

    Several mistakes can give the same std (a missing gain of sqrt(2) and a missing factor 2 in the
    variance do), so every match is listed.
    """
    found = []
    for alt_sigma, hint in alternatives:
        if alt_sigma > 0 and abs(alt_sigma / sigma - 1.0) > 3 * tol and abs(rms / alt_sigma - 1.0) <= 2 * tol:
            found.append((abs(_math.log(rms / alt_sigma)), hint))
    hints = []
    for _, hint in sorted(found, key=lambda pair: pair[0]):
        if hint not in hints:
            hints.append(hint)
    return "\n  or: ".join(hints)


def _draw(name, fn, at, shape, seed, kwargs):
    got = _core.call(name, fn, at, shape, _default_rng(seed), **kwargs)
    w = _core.as_array(name, "the result", got, at)
    if w.shape != tuple(shape):
        if len(shape) == 2 and w.shape == tuple(shape)[::-1]:
            hint = ("the shape is transposed: torch stores a dense weight as (fan_out, fan_in) and computes "
                    "x @ W.T; return an array of exactly the shape you were given.")
        else:
            hint = "return an array of exactly the shape you were given, e.g. rng.normal(0, std, size=shape)."
        raise AssertionError(
            f"{name}: the result has shape {w.shape}, expected {tuple(shape)} ({at})\n  hint: {hint}")
    if not _isfinite(w).all():
        raise AssertionError(f"{name}: the result contains inf or nan ({at})\n"
                             "  hint: look for a division by zero in the standard deviation.")
    return w


def _check_uses_rng(name, fn, at, shape, seed, kwargs, w):
    again = _core.as_array(name, "the result", _core.call(name, fn, at, shape, _default_rng(seed), **kwargs), at)
    if not _array_equal(again, w):
        raise AssertionError(
            f"{name}: two calls with generators seeded alike returned different arrays ({at})\n"
            "  hint: draw every random number from the `rng` argument (rng.normal, rng.uniform, "
            "rng.standard_normal, ...), not from np.random, so that a seed reproduces the weights.")
    other = _core.call(name, fn, at, shape, _default_rng(seed + 7919), **kwargs)
    if _array_equal(_core.as_array(name, "the result", other, at), w):
        raise AssertionError(
            f"{name}: generators seeded differently returned the same array ({at})\n"
            "  hint: use the `rng` you are given; do not create your own generator with a fixed seed.")


def _check_distribution(name, w, kind, scale, formula, alternatives, at):
    """Judge the entries of w against N(0, scale^2) or U(-scale, scale); see the module docstring."""
    stats = distribution_stats(w, kind, scale)
    n = w.size
    sigma = scale if kind == "normal" else scale / _math.sqrt(3.0)
    x = w.ravel()
    value, limit = stats["mean"]
    if value > limit:
        hint = ("the weights must be centred on 0: rng.uniform(-b, b), not rng.uniform(0, b) or rng.random() * b."
                if kind == "uniform" else "the weights must be centred on 0: use mean (loc) 0.")
        raise AssertionError(
            f"{name}: the mean of the entries is {_core.fmt(x.mean())}, expected 0 "
            f"(within +-{_core.fmt(limit)} for {n} entries) ({at})\n  hint: {hint}")
    value, limit = stats["std"]
    if value > limit:
        rms = float(_sqrt((x * x).mean()))
        hint = _diagnose(rms, sigma, limit, alternatives) or (
            f"the standard deviation must be {formula}; check the fans, the gain and the square root.")
        what = "bound b" if kind == "uniform" else "standard deviation"
        raise AssertionError(
            f"{name}: the entries have standard deviation {_core.fmt(rms)}, expected {_core.fmt(sigma)} "
            f"(within {100 * limit:.1f}% for {n} entries) ({at})\n"
            f"  the {what} should be {formula} = {_core.fmt(scale)}\n  hint: {hint}")
    if kind == "uniform":
        value, limit = stats["inside"]
        if value > limit:
            raise AssertionError(
                f"{name}: an entry reaches {_core.fmt(value)}, outside [-b, b] with b = {_core.fmt(scale)} ({at})\n"
                "  hint: draw from a uniform distribution on [-b, b] (rng.uniform(-b, b, size=shape)); "
                "a normal distribution has no bound.")
        value, limit = stats["reach"]
        if value > limit:
            raise AssertionError(
                f"{name}: the largest |entry| is {_core.fmt(scale - value)}, but the entries should fill "
                f"[-b, b] with b = {_core.fmt(scale)} ({at})\n"
                "  hint: draw uniformly on the whole interval [-b, b].")
    value, limit = stats["ks"]
    if value > limit:
        target = f"N(0, {_core.fmt(sigma)}^2)" if kind == "normal" else f"U(-{_core.fmt(scale)}, {_core.fmt(scale)})"
        hint = ("draw from a normal distribution (rng.normal or rng.standard_normal), not a uniform one."
                if kind == "normal" else "draw from a uniform distribution (rng.uniform or rng.random), "
                                         "not a normal one.")
        raise AssertionError(
            f"{name}: the entries do not look distributed as {target}: Kolmogorov-Smirnov distance "
            f"{value:.3f} > {limit:.3f} for {n} entries ({at})\n  hint: {hint}")


def _run_random(name, fn, visible_only):
    """Run the student's initializer on the cases of RANDOM_CHECKS[name] and judge each result."""
    cases, spec = RANDOM_CHECKS[name]
    for at, case in _core.cases_to_run(cases(), visible_only):
        shape, seed = case.args
        w = _draw(name, fn, at, shape, seed, case.kwargs)
        _check_uses_rng(name, fn, at, shape, seed, case.kwargs, w)
        kind, scale, formula, alternatives = spec(shape, **case.kwargs)
        _check_distribution(name, w, kind, scale, formula, alternatives, at)


def _label(shape, kwargs):
    kind = "dense weight" if len(shape) == 2 else f"conv{len(shape) - 2}d kernel"
    extra = "".join(f", {k}={_core.fmt(v) if isinstance(v, float) else repr(v)}" for k, v in kwargs.items())
    return f"{kind} {tuple(shape)}{extra}"


def _random_cases(base_seed, rows):
    """rows: (shape, kwargs, visible) -> Cases with seeds base_seed, base_seed + 1, ..."""
    return [Case(_label(shape, kw), (shape, base_seed + i), kw, visible=vis)
            for i, (shape, kw, vis) in enumerate(rows)]


# Shapes: dense with fan_in > fan_out and fan_in < fan_out (so swapped fans change the answer), and conv
# kernels of 1, 2 and 3 spatial dimensions (so an ignored receptive field changes it).  The visible cases
# have n >= 10000 entries, which resolves the std to about 3.6%.
_DENSE_WIDE, _DENSE_TALL, _CONV2D = (64, 256), (300, 40), (64, 32, 3, 3)
_CONV1D, _CONV3D = (32, 16, 7), (16, 8, 3, 3, 3)


def _common_alternatives(shape, sigma, gain):
    """Stds that the usual mistakes of every initializer produce, each with the hint that fixes it."""
    field = _math.prod(shape[2:])
    alts = [(sigma * sigma, "you used the variance as the standard deviation: take the square root."),
            (sigma * _math.sqrt(field), "a conv kernel's fans include the receptive field: fan_in = C_in * kh * kw "
                                        "and fan_out = C_out * kh * kw.")]
    if gain != 1.0:
        alts.append((sigma / gain, f"multiply by the gain ({_core.fmt(gain)} here)."))
        alts.append((sigma * gain, "the gain multiplies the standard deviation once: you applied it twice."))
    return alts


# ---------------------------------------------------------------- LeCun
def _lecun_spec(shape):
    fan_in, fan_out = ref.fans(shape)
    sigma = 1.0 / _math.sqrt(fan_in)
    alts = [
        (1.0 / _math.sqrt(fan_out), "LeCun normal divides by fan_in (shape[1] * receptive field), not fan_out."),
        (_math.sqrt(2.0 / fan_in), "that is He's std (for relu); LeCun's has no factor 2: 1 / sqrt(fan_in)."),
        (_math.sqrt(2.0 / (fan_in + fan_out)), "that is Xavier's std; LeCun's is 1 / sqrt(fan_in)."),
    ] + _common_alternatives(shape, sigma, 1.0)
    return "normal", sigma, f"1 / sqrt(fan_in) with {_fan_text(shape)}", alts


def check_lecun_normal(lecun_normal, visible_only=False):
    """lecun_normal(shape, rng) -> N(0, 1/fan_in) entries, drawn from rng."""
    _run_random("lecun_normal", lecun_normal, visible_only)


# ---------------------------------------------------------------- Xavier
def _xavier_alternatives(shape, sigma, gain):
    fan_in, fan_out = ref.fans(shape)
    return [
        (gain * _math.sqrt(2.0 / fan_in), "Xavier averages the two fans: 2 / (fan_in + fan_out), not 2 / fan_in."),
        (gain * _math.sqrt(2.0 / fan_out), "Xavier averages the two fans: 2 / (fan_in + fan_out), not 2 / fan_out."),
        (gain / _math.sqrt(fan_in), "1 / sqrt(fan_in) is LeCun's std; Xavier's is sqrt(2 / (fan_in + fan_out))."),
        (gain * _math.sqrt(1.0 / (fan_in + fan_out)),
         "the variance is 2 / (fan_in + fan_out) (1 over the average fan): you left out the 2."),
    ] + _common_alternatives(shape, sigma, gain)


def _xavier_normal_spec(shape, gain=1.0):
    fan_in, fan_out = ref.fans(shape)
    sigma = gain * _math.sqrt(2.0 / (fan_in + fan_out))
    return ("normal", sigma, f"gain * sqrt(2 / (fan_in + fan_out)) with gain={_core.fmt(gain)}, {_fan_text(shape)}",
            _xavier_alternatives(shape, sigma, gain))


def _xavier_uniform_spec(shape, gain=1.0):
    fan_in, fan_out = ref.fans(shape)
    bound = gain * _math.sqrt(6.0 / (fan_in + fan_out))
    sigma = bound / _math.sqrt(3.0)
    alts = _xavier_alternatives(shape, sigma, gain) + [
        (sigma / _math.sqrt(2.0), "the bound is sqrt(6 / (fan_in + fan_out)): U(-b, b) has variance b**2 / 3, "
                                  "and b**2 / 3 must equal 2 / (fan_in + fan_out). sqrt(3 / ...) is too small."),
        (sigma / _math.sqrt(3.0), "you used sqrt(2 / (fan_in + fan_out)), the normal's std, as the bound; "
                                  "U(-b, b) has std b / sqrt(3), so b = sqrt(6 / (fan_in + fan_out))."),
        (bound * bound / _math.sqrt(3.0), "take the square root in the bound: b = gain * sqrt(6 / (fan_in + fan_out))."),
    ]
    return "uniform", bound, f"gain * sqrt(6 / (fan_in + fan_out)) with gain={_core.fmt(gain)}, {_fan_text(shape)}", alts


def _xavier_rows():
    return [(_DENSE_WIDE, {}, True), (_CONV2D, {"gain": _math.sqrt(2.0)}, True),
            (_DENSE_TALL, {"gain": 5.0 / 3.0}, False), (_CONV1D, {}, False), (_CONV3D, {"gain": 0.75}, False)]


def check_xavier_normal(xavier_normal, visible_only=False):
    """xavier_normal(shape, rng, gain=1.0) -> N(0, gain^2 * 2/(fan_in + fan_out)) entries."""
    _run_random("xavier_normal", xavier_normal, visible_only)


def check_xavier_uniform(xavier_uniform, visible_only=False):
    """xavier_uniform(shape, rng, gain=1.0) -> U(-b, b) entries, b = gain * sqrt(6/(fan_in + fan_out))."""
    _run_random("xavier_uniform", xavier_uniform, visible_only)


# ---------------------------------------------------------------- He
def _he_alternatives(shape, sigma, nonlinearity, mode):
    fan_in, fan_out = ref.fans(shape)
    gain = ref.calculate_gain(nonlinearity)
    fan = fan_in if mode == "fan_in" else fan_out
    other, other_mode = (fan_out, "fan_out") if mode == "fan_in" else (fan_in, "fan_in")
    alts = []
    if nonlinearity == "relu":
        alts.append((2.0 / _math.sqrt(fan), "the gain of relu is sqrt(2), not 2: the *variance* doubles."))
    if nonlinearity == "tanh":
        alts.append((1.0 / _math.sqrt(fan), "tanh's gain is 5/3, not 1."))
    alts += [
        (gain / _math.sqrt(other), f"mode={mode!r} asks for {mode}; you divided by {other_mode}."),
        (gain * _math.sqrt(2.0 / (fan_in + fan_out)), "that is Xavier's std; He's is gain / sqrt(fan)."),
    ]
    return alts + _common_alternatives(shape, sigma, gain)


def _he_spec_maker(kind):
    def spec(shape, nonlinearity="relu", mode="fan_in"):
        fan_in, fan_out = ref.fans(shape)
        fan = fan_in if mode == "fan_in" else fan_out
        gain = ref.calculate_gain(nonlinearity)
        sigma = gain / _math.sqrt(fan)
        alts = _he_alternatives(shape, sigma, nonlinearity, mode)
        where = f"gain={_core.fmt(gain)} ({nonlinearity}), fan = {mode} = {fan}"
        if kind == "normal":
            return "normal", sigma, f"gain / sqrt(fan) with {where}", alts
        bound = sigma * _math.sqrt(3.0)
        alts = [(sigma / _math.sqrt(3.0), "you used the normal's std gain / sqrt(fan) as the bound; "
                                          "U(-b, b) has std b / sqrt(3), so b = gain * sqrt(3 / fan)."),
                (sigma * _math.sqrt(2.0), "the 6 in Xavier's bound is 3 * 2 for the average of two fans; "
                                          "He's bound is gain * sqrt(3 / fan)."),
                (gain * gain * 3.0 / fan / _math.sqrt(3.0), "take the square root in the bound: "
                                                             "b = gain * sqrt(3 / fan).")] + alts
        return "uniform", bound, f"gain * sqrt(3 / fan) with {where}", alts
    return spec


def _he_rows():
    return [(_DENSE_WIDE, {}, True), (_CONV2D, {}, True),
            (_DENSE_WIDE, {"mode": "fan_out"}, True),
            (_DENSE_TALL, {"nonlinearity": "leaky_relu"}, False),
            (_CONV1D, {"nonlinearity": "tanh", "mode": "fan_out"}, False),
            (_CONV3D, {"nonlinearity": "linear", "mode": "fan_in"}, False)]


def check_he_normal(he_normal, visible_only=False):
    """he_normal(shape, rng, nonlinearity="relu", mode="fan_in") -> N(0, (gain / sqrt(fan))^2) entries."""
    _run_random("he_normal", he_normal, visible_only)


def check_he_uniform(he_uniform, visible_only=False):
    """he_uniform(shape, rng, nonlinearity="relu", mode="fan_in") -> U(-b, b), b = gain * sqrt(3 / fan)."""
    _run_random("he_uniform", he_uniform, visible_only)


# name: (cases, spec).  spec(shape, **kwargs) -> (kind, scale, formula text, [(alternative std, hint), ...]);
# the seeds differ between initializers so that no two checks draw the same numbers.
RANDOM_CHECKS = {
    "lecun_normal": (lambda: _random_cases(1100, [
        (_DENSE_WIDE, {}, True), (_CONV2D, {}, True),
        (_DENSE_TALL, {}, False), (_CONV1D, {}, False), (_CONV3D, {}, False)]), _lecun_spec),
    "xavier_normal": (lambda: _random_cases(1200, _xavier_rows()), _xavier_normal_spec),
    "xavier_uniform": (lambda: _random_cases(1300, _xavier_rows()), _xavier_uniform_spec),
    "he_normal": (lambda: _random_cases(1400, _he_rows()), _he_spec_maker("normal")),
    "he_uniform": (lambda: _random_cases(1500, _he_rows()), _he_spec_maker("uniform")),
}


# ---------------------------------------------------------------- orthogonal
def _orthogonal_cases():
    return [
        Case("wide (6, 10)", ((6, 10), 1601)),
        Case("tall (10, 4)", ((10, 4), 1602)),
        Case("square (5, 5), gain=2.0", ((5, 5), 1603), {"gain": 2.0}),
        Case("conv2d kernel (8, 4, 3, 3) -> (8, 36)", ((8, 4, 3, 3), 1604), visible=False),
        Case("conv1d kernel (20, 2, 3) -> (20, 6), gain=sqrt(2)", ((20, 2, 3), 1605), {"gain": _math.sqrt(2.0)},
             visible=False),
        Case("square (7, 7), gain=0.5", ((7, 7), 1606), {"gain": 0.5}, visible=False),
        Case("wide (3, 12), gain=1.5", ((3, 12), 1607), {"gain": 1.5}, visible=False),
    ]


def check_orthogonal(orthogonal, visible_only=False):
    """orthogonal(shape, rng, gain=1.0) -> gain times a random (semi-)orthogonal matrix, viewed as (rows, rest)."""
    name = "orthogonal"
    for at, case in _core.cases_to_run(_orthogonal_cases(), visible_only):
        shape, seed = case.args
        gain = case.kwargs.get("gain", 1.0)
        w = _draw(name, orthogonal, at, shape, seed, case.kwargs)
        _check_uses_rng(name, orthogonal, at, shape, seed, case.kwargs, w)
        rows = shape[0]
        m = w.reshape(rows, -1)
        wide = rows <= m.shape[1]
        gram = m @ m.T if wide else m.T @ m
        side = "W W^T" if wide else "W^T W"
        target = gain * gain * _eye(gram.shape[0])
        err = float(_abs(gram - target).max())
        if err <= ORTHO_RTOL * gain * gain:
            continue
        lengths = _sqrt(_diag(gram))
        off = gram - _diag(_diag(gram))
        orthogonal_directions = float(_abs(off).max()) <= ORTHO_RTOL * float(lengths.max()) ** 2
        same_length = float(lengths.max() - lengths.min()) <= ORTHO_RTOL * float(lengths.max())
        vectors = "rows" if wide else "columns"
        if orthogonal_directions and same_length:
            c = float(lengths.mean())
            if abs(c - 1.0) <= ORTHO_RTOL:
                hint = f"the {vectors} are orthonormal, but they must have length gain = {_core.fmt(gain)}: multiply by gain."
            else:
                hint = (f"the {vectors} are orthogonal with length {_core.fmt(c)}; they must have length "
                        f"gain = {_core.fmt(gain)} (orthonormal, then times gain once).")
        elif len(shape) > 2:
            hint = ("view the kernel as a (C_out, C_in * kh * kw ...) matrix, make that matrix orthogonal, "
                    "then reshape it back.")
        elif same_length and not orthogonal_directions:
            hint = (f"the {vectors} have equal length but are not orthogonal to each other: normalizing them is not "
                    "enough; orthogonalize a Gaussian matrix with np.linalg.qr (or U @ Vt from the SVD).")
        else:
            hint = ("a Gaussian matrix is not orthogonal: orthogonalize it with np.linalg.qr (take Q) or the SVD "
                    "(take U @ Vt); for a wide matrix work on its transpose, or use full_matrices=False.")
        raise AssertionError(
            f"{name}: {side} is not gain**2 * I ({at})\n"
            f"  largest error |{side} - gain**2 I| = {_core.fmt(err)}  (tolerance {_core.fmt(ORTHO_RTOL * gain * gain)})\n"
            f"  hint: {hint}")


# ---------------------------------------------------------------- quiz
ZERO_INIT_CHOICES = {
    "a": "every gradient is exactly zero, so no weight or bias can ever change",
    "b": "the hidden units of a layer compute the same output and get the same update, so they stay "
         "identical and the layer acts like a single unit",
    "c": "the gradients explode in the first step",
    "d": "the network learns normally but overfits more",
}


def check_quiz_zero_init(answer):
    """What goes wrong when every weight starts at zero (multiple choice, one letter)."""
    if isinstance(answer, str):
        answer = answer.strip().strip("()").lower()
    _core.check_answer(
        "zero_init", answer, "b",
        hint="picture two hidden units with identical incoming and outgoing weights: compare their outputs, "
             "then the gradients backpropagation gives them. (Biases and, with a sigmoid, some weights do "
             "still move, so not every gradient is zero.)")


def check_quiz_he_std(answer):
    """The standard deviation of he_normal for a conv kernel (64, 32, 3, 3), relu, fan_in."""
    _core.check_answer(
        "he_std", answer, ref.calculate_gain("relu") / _math.sqrt(ref.fans((64, 32, 3, 3))[0]),
        hint="fan_in counts every input of one output unit: C_in * kh * kw; then std = sqrt(2 / fan_in). "
             "Give at least three significant digits.",
        rtol=1e-3, atol=0)
