"""Checks for Chapter 4 (normalization).

Each ``check_*`` takes the student's function(s), runs them on seeded cases
against :mod:`autograder.reference.normalization`, returns ``None`` on
success and raises ``AssertionError`` with an actionable message otherwise.
``visible_only=True`` runs the cases the notebook shows; the default runs
them all (the hidden tests do that).  A backward check takes the student's
forward *and* backward: only the student's forward makes the cache the
student's backward reads.

Where a wrong answer matches a known mistake (unbiased variance, epsilon
outside the square root, the wrong axes, ...) the hint names that mistake.

Two generic helpers live here rather than in ``_core``: :func:`_close`
(a comparison whose absolute tolerance scales with the size of the expected
values, so float32 answers pass on large gradients) and
:func:`_assert_unchanged` (the in-place check with keyword arguments).
"""
import copy
import functools
import warnings

import numpy as np

from autograder.reference import normalization as ref

from . import _core
from ._core import Case

_asarray = np.asarray
_allclose = np.allclose
_abs = np.abs
_float64 = np.float64


def _rng(seed):
    return np.random.default_rng(seed)


def _quiet(check):
    """Run a check with numpy's warnings off: computing a known mistake (say, an unbiased
    variance of a single entry) must not print to stderr, which would score the cell 0."""
    @functools.wraps(check)
    def run(*args, **kwargs):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with np.errstate(all="ignore"):
                return check(*args, **kwargs)
    return run


# ---------------------------------------------------------------- helpers
def _close(name, what, expected, got, at, rtol=1e-4, scale=1e-5, hint=None):
    """assert_close with atol = scale * max|expected|: float32 answers pass, real mistakes do not."""
    expected = _asarray(expected, dtype=_float64)
    atol = max(scale * (float(_abs(expected).max()) if expected.size else 0.0), 1e-10)
    _core.assert_close(name, what, expected, got, at, rtol=rtol, atol=atol, hint=hint)


def _matches(got, candidate):
    """True when got has candidate's shape and values (loosely): used to name a mistake."""
    try:
        with np.errstate(all="ignore"):
            g = _asarray(got, dtype=_float64)
            c = _asarray(candidate, dtype=_float64)
            return g.shape == c.shape and bool(_allclose(g, c, rtol=1e-3, atol=1e-3 * (_abs(c).max() + 1e-12)))
    except Exception:
        return False


def _diagnose(got, candidates, default):
    """The hint of the first known mistake that got reproduces, else the default hint."""
    for candidate, hint in candidates:
        if _matches(got, candidate):
            return hint
    return default


def _tuple(name, got, names, at):
    """The student returned a tuple of len(names) items."""
    if not isinstance(got, (tuple, list)) or len(got) != len(names):
        raise AssertionError(
            f"{name}: return a tuple ({', '.join(names)}), got {_core.describe(got)} ({at})")
    return got


_IN_PLACE_HINT = ("build new arrays (`out = x - mean`, `new_running_mean = (1 - momentum) * running_mean + "
                  "momentum * mean`) instead of writing into the arrays you were given (`x -= ...`, "
                  "`running_mean[:] = ...`).")


def _assert_unchanged(name, fn, args, kwargs):
    """Call fn on copies of the case's arrays without copying again; none of them may change."""
    args = copy.deepcopy(args)
    before = copy.deepcopy(args)
    _core.call_uncopied(name, fn, "inputs must not be modified", args, dict(kwargs))
    for i, (b, a) in enumerate(zip(before, args)):
        if isinstance(b, np.ndarray) and not np.array_equal(a, b):
            raise AssertionError(f"{name}: input {i + 1} was modified in place\n  hint: {_IN_PLACE_HINT}")


def _stats(x, axes, ddof=0):
    mean = x.mean(axis=axes, keepdims=True)
    return mean, x.var(axis=axes, keepdims=True, ddof=ddof)


def _std_norm(x, axes, eps, ddof=0, eps_outside=False):
    """x standardized over axes, optionally with a known mistake."""
    mean, var = _stats(x, axes, ddof)
    return (x - mean) / ((np.sqrt(var) + eps) if eps_outside else np.sqrt(var + eps))


def _per_channel(a, ndim):
    return _asarray(a, dtype=_float64).reshape((1, -1) + (1,) * (ndim - 2))


# ---------------------------------------------------------------- batch normalization: cases
def _bn_case(seed, label, shape, *, train, momentum=0.1, eps=1e-5, scale=2.0, shift=0.5, visible=True):
    r = _rng(seed)
    c = shape[1]
    x = r.normal(loc=shift, scale=scale, size=shape)
    x = x + r.normal(scale=shift, size=c).reshape((1, c) + (1,) * (len(shape) - 2))  # a mean per channel
    gamma = r.uniform(0.5, 2.0, size=c)
    beta = r.normal(size=c)
    rm = r.normal(scale=0.5, size=c)
    rv = r.uniform(0.5, 2.0, size=c)
    return Case(label, (x, gamma, beta, rm, rv), {"train": train, "momentum": momentum, "eps": eps},
                visible=visible)


def _bn_forward_cases():
    return [
        _bn_case(401, "dense x (4, 5), train", (4, 5), train=True),
        _bn_case(402, "spatial x (2, 3, 4, 4), train", (2, 3, 4, 4), train=True),
        _bn_case(403, "dense x (4, 5), eval", (4, 5), train=False),
        _bn_case(404, "spatial x (3, 2, 3, 3), eval", (3, 2, 3, 3), train=False, visible=False),
        _bn_case(405, "dense x (6, 3), train, momentum 0.3", (6, 3), train=True, momentum=0.3, visible=False),
        _bn_case(406, "spatial x (2, 4, 3, 3), small variance (std 0.01), eps 1e-4", (2, 4, 3, 3),
                 train=True, eps=1e-4, scale=0.01, shift=0.01, visible=False),
        _bn_case(407, "spatial x (1, 2, 3, 3): batch of one, train", (1, 2, 3, 3), train=True, visible=False),
        _bn_case(408, "dense x (2, 4): batch of two, train, momentum 1.0", (2, 4), train=True, momentum=1.0,
                 visible=False),
    ]


def _bn_mistakes(case):
    """Outputs and running statistics of known mistakes, for naming them in a hint."""
    x, gamma, beta, rm, rv = case.args
    train, mom, eps = case.kwargs["train"], case.kwargs["momentum"], case.kwargs["eps"]
    nd = x.ndim
    g, b = _per_channel(gamma, nd), _per_channel(beta, nd)
    axes = (0,) + tuple(range(2, nd))
    out, run = [], []
    if train:
        out.append((g * _std_norm(x, axes, eps, ddof=1) + b,
                    "normalize with the biased variance (divide by m, not m - 1); only the running "
                    "variance is stored unbiased."))
        out.append((g * _std_norm(x, axes, eps, eps_outside=True) + b,
                    "eps goes inside the square root: (x - mean) / sqrt(var + eps)."))
        if nd > 2:
            out.append((g * _std_norm(x, (0,), eps) + b,
                        "spatial batch norm keeps one mean and variance per channel: average over N, H "
                        "and W (axes 0, 2, 3), not over N alone."))
        out.append((_std_norm(x, axes, eps),
                    "scale by gamma and shift by beta after normalizing: out = gamma * x_hat + beta."))
        m = x.size // x.shape[1]
        mean, var = x.mean(axis=axes), x.var(axis=axes)
        run += [
            ((mom * rm + (1 - mom) * mean, mom * rv + (1 - mom) * var * m / (m - 1)),
             "torch's momentum weights the *new* batch statistic: running = (1 - momentum) * running "
             "+ momentum * batch (momentum = 0.1 keeps 90% of the old value)."),
            ((rm, (1 - mom) * rv + mom * var),
             "the running variance is updated with the unbiased batch variance, var * m / (m - 1), "
             "where m = entries per channel (N, or N*H*W)."),
            ((rm, rv), "in training mode update the running statistics and return the new arrays."),
        ]
    else:
        out.append((g * _std_norm(x, axes, eps) + b,
                    "in eval mode normalize with running_mean and running_var, not with the "
                    "statistics of the batch."))
        out.append((g * (x - _per_channel(rm, nd)) / (np.sqrt(_per_channel(rv, nd)) + eps) + b,
                    "eps goes inside the square root: (x - running_mean) / sqrt(running_var + eps)."))
    return out, run


_BN_OUT_HINT = ("x_hat = (x - mean) / sqrt(var + eps) with the batch mean and biased variance per channel "
                "(over N, and H, W for images) in training, the running statistics in eval mode; "
                "then out = gamma * x_hat + beta.")


@_quiet
def check_batchnorm_forward(batchnorm_forward, visible_only=False):
    """batchnorm_forward(x, gamma, beta, running_mean, running_var, *, train, momentum, eps)
    -> (out, cache, running_mean, running_var), as torch's F.batch_norm in both modes."""
    name = "batchnorm_forward"
    for at, case in _core.cases_to_run(_bn_forward_cases(), visible_only):
        out_e, _, rm_e, rv_e = ref.batchnorm_forward(*case.args, **case.kwargs)
        got = _core.call(name, batchnorm_forward, at, *case.args, **case.kwargs)
        out, _, rm, rv = _tuple(name, got, ("out", "cache", "running_mean", "running_var"), at)
        out_m, run_m = _bn_mistakes(case)
        _close(name, "out", out_e, out, at, hint=_diagnose(out, out_m, _BN_OUT_HINT))
        if case.kwargs["train"]:
            hint = next((h for (cm, cv), h in run_m if _matches(rm, cm) and _matches(rv, cv)), None)
            _close(name, "running_mean", rm_e, rm, at,
                   hint=hint or "running_mean = (1 - momentum) * running_mean + momentum * batch mean.")
            _close(name, "running_var", rv_e, rv, at,
                   hint=hint or "running_var = (1 - momentum) * running_var + momentum * unbiased batch "
                                "variance (var * m / (m - 1)).")
        else:
            hint = "in eval mode the running statistics are used, not changed: return them as they are."
            _close(name, "running_mean", rm_e, rm, at, hint=hint)
            _close(name, "running_var", rv_e, rv, at, hint=hint)
    for train in (True, False):
        case = _bn_case(409, "", (3, 2, 2, 2), train=train)
        _assert_unchanged(name, batchnorm_forward, case.args, case.kwargs)


# ---------------------------------------------------------------- the normalizations as specs
# A spec is a pair of functions of a case's positional arguments (x, gamma, beta[, num_groups]):
#   view(args)   -> (x reshaped so that its statistics are taken over `axes`, axes)
#   affine(args) -> (gamma, beta) broadcastable against x
def _x(args):
    return _asarray(args[0], dtype=_float64)


def _chan(args):
    return _per_channel(args[1], _x(args).ndim), _per_channel(args[2], _x(args).ndim)


def _feat(args):
    x = _x(args)
    shape = (1,) + x.shape[1:]
    return (_asarray(args[1], dtype=_float64).reshape(shape), _asarray(args[2], dtype=_float64).reshape(shape))


_SPECS = {
    "batchnorm": (lambda a: (_x(a).reshape(_x(a).shape[0], _x(a).shape[1], -1), (0, 2)), _chan),
    "layernorm": (lambda a: (_x(a).reshape(_x(a).shape[0], -1), (1,)), _feat),
    "instancenorm": (lambda a: (_x(a).reshape(_x(a).shape[0], _x(a).shape[1], -1), (2,)), _chan),
    "groupnorm": (lambda a: (_x(a).reshape(_x(a).shape[0], a[3], -1), (2,)), _chan),
}


def _eps(case):
    return case.kwargs.get("eps", 1e-5)


def _normed(spec, args, eps, **mistake):
    """gamma * x_hat + beta for a spec, optionally with a mistake (ddof=1, eps_outside=True)."""
    view, affine = _SPECS[spec]
    xv, axes = view(args)
    g, b = affine(args)
    xhat = _std_norm(xv, axes, eps, **mistake).reshape(_x(args).shape)
    return g * xhat + b


def _forward_mistakes(spec, case):
    """Outputs of the mistakes every activation normalization can make, then spec-specific ones."""
    args, eps = case.args, _eps(case)
    x = _x(args)
    n, c = x.shape[0], x.shape[1]
    g, b = _SPECS[spec][1](args)
    out = [
        (_normed(spec, args, eps, ddof=1),
         "normalize with the biased variance (divide by the number of averaged entries, not by one less)."),
        (_normed(spec, args, eps, eps_outside=True), "eps goes inside the square root: (x - mean) / sqrt(var + eps)."),
        ((_normed(spec, args, eps) - b) / g, "scale by gamma and shift by beta after normalizing."),
    ]
    if spec == "layernorm":
        out.append((g * _std_norm(x, (0,), eps) + b,
                    "layer norm takes one mean and variance per example, over its features (every axis "
                    "but 0) -- not per feature over the batch, which is batch norm."))
    if spec == "instancenorm":
        out.append((g * _std_norm(x, tuple(range(1, x.ndim)), eps) + b,
                    "instance norm keeps channels apart: one mean and variance per example *and* channel, "
                    "over H and W only. Averaging over C, H, W is layer norm."))
        out.append((g * _std_norm(x, (0,) + tuple(range(2, x.ndim)), eps) + b,
                    "instance norm does not average over the batch: statistics per example and channel, "
                    "over H and W."))
    if spec == "groupnorm":
        G = args[3]
        inter = _std_norm(x.reshape(n, c // G, G, -1), (1, 3), eps).reshape(x.shape)
        out.append((g * inter + b,
                    "a group is C/G *consecutive* channels: reshape to (N, G, C//G, H, W) (group index "
                    "first), not (N, C//G, G, ...), which puts channels c, c+G, c+2G, ... together."))
        swapped = _std_norm(x.reshape(n, c // G, -1), (2,), eps).reshape(x.shape)
        out.append((g * swapped + b,
                    "num_groups is the number of groups G, each holding C/G channels -- not the size of a group."))
        out.append((g * _std_norm(x.reshape(n, G, c // G, -1), (2,), eps).reshape(x.shape) + b,
                    "the group's statistics average over its channels *and* over H and W."))
    return out


_FWD_HINTS = {
    "layernorm": "mean and biased variance of each example over all its features (axes 1, 2, ...); "
                 "out = gamma * x_hat + beta with gamma, beta shaped like one example.",
    "instancenorm": "mean and biased variance per example and channel, over H and W (axes 2, 3); "
                    "out = gamma[c] * x_hat + beta[c].",
    "groupnorm": "reshape x to (N, G, C//G, H, W), take mean and biased variance over axes 2, 3, 4, reshape "
                 "back, then out = gamma[c] * x_hat + beta[c].",
}


def _run_forward(name, spec, student, ref_fn, cases, visible_only):
    """Forward checks of LN, IN, GN: (out, cache) with out as the spec's normalization."""
    chosen = _core.select(cases, visible_only)
    for k, case in enumerate(chosen):
        at = _core.where(k, len(chosen), case)
        expected, _ = ref_fn(*case.args, **case.kwargs)
        got = _core.call(name, student, at, *case.args, **case.kwargs)
        out, _ = _tuple(name, got, ("out", "cache"), at)
        _close(name, "out", expected, out, at,
               hint=_diagnose(out, _forward_mistakes(spec, case), _FWD_HINTS[spec]))
    _assert_unchanged(name, student, chosen[0].args, chosen[0].kwargs)


def _affine_params(r, shape):
    return r.uniform(0.5, 2.0, size=shape), r.normal(size=shape)


def _ln_case(seed, label, shape, eps=1e-5, scale=1.5, visible=True):
    r = _rng(seed)
    x = r.normal(loc=0.3, scale=scale, size=shape) + r.normal(size=(shape[0],) + (1,) * (len(shape) - 1))
    return Case(label, (x, *_affine_params(r, shape[1:])), {"eps": eps}, visible=visible)


def _ln_cases():
    return [
        _ln_case(411, "x (4, 5)", (4, 5)),
        _ln_case(412, "x (2, 3, 4, 4), gamma (3, 4, 4)", (2, 3, 4, 4)),
        _ln_case(413, "x (1, 6): batch of one", (1, 6), visible=False),
        _ln_case(414, "x (3, 7), small variance (std 0.01), eps 1e-4", (3, 7), eps=1e-4, scale=0.01,
                 visible=False),
        _ln_case(415, "x (2, 4, 3)", (2, 4, 3), visible=False),
    ]


def _spatial_case(seed, label, shape, eps=1e-5, scale=1.5, groups=None, visible=True):
    r = _rng(seed)
    n, c = shape[0], shape[1]
    x = r.normal(loc=0.2, scale=scale, size=shape)
    x = x + r.normal(size=(n, c) + (1,) * (len(shape) - 2))  # different means per example and channel
    args = (x, *_affine_params(r, c)) + (() if groups is None else (groups,))
    return Case(label, args, {"eps": eps}, visible=visible)


def _in_cases():
    return [
        _spatial_case(421, "x (2, 3, 4, 4)", (2, 3, 4, 4)),
        _spatial_case(422, "x (1, 2, 5, 5): batch of one", (1, 2, 5, 5)),
        _spatial_case(423, "x (3, 4, 2, 3)", (3, 4, 2, 3), visible=False),
        _spatial_case(424, "x (2, 2, 3, 3), small variance (std 0.01), eps 1e-4", (2, 2, 3, 3), eps=1e-4,
                      scale=0.01, visible=False),
    ]


def _gn_cases():
    return [
        _spatial_case(431, "x (2, 6, 3, 3), 3 groups", (2, 6, 3, 3), groups=3),
        _spatial_case(432, "x (2, 4, 2, 2), 2 groups", (2, 4, 2, 2), groups=2),
        _spatial_case(433, "x (1, 8, 2, 3), 4 groups: batch of one", (1, 8, 2, 3), groups=4, visible=False),
        _spatial_case(434, "x (2, 6, 2, 2), 2 groups", (2, 6, 2, 2), groups=2, visible=False),
        _spatial_case(435, "x (2, 4, 3, 3), 1 group (= layer norm)", (2, 4, 3, 3), groups=1, visible=False),
        _spatial_case(436, "x (2, 3, 3, 3), 3 groups (= instance norm)", (2, 3, 3, 3), groups=3, visible=False),
        _spatial_case(437, "x (3, 6, 2, 2), 3 groups, small variance (std 0.01), eps 1e-4", (3, 6, 2, 2),
                      groups=3, eps=1e-4, scale=0.01, visible=False),
    ]


@_quiet
def check_layernorm_forward(layernorm_forward, visible_only=False):
    """layernorm_forward(x, gamma, beta, eps) -> (out, cache), as F.layer_norm(x, x.shape[1:], ...)."""
    _run_forward("layernorm_forward", "layernorm", layernorm_forward, ref.layernorm_forward, _ln_cases(),
                 visible_only)


@_quiet
def check_instancenorm_forward(instancenorm_forward, visible_only=False):
    """instancenorm_forward(x, gamma, beta, eps) -> (out, cache), as F.instance_norm with weight and bias."""
    _run_forward("instancenorm_forward", "instancenorm", instancenorm_forward, ref.instancenorm_forward,
                 _in_cases(), visible_only)


@_quiet
def check_groupnorm_forward(groupnorm_forward, visible_only=False):
    """groupnorm_forward(x, gamma, beta, num_groups, eps) -> (out, cache), as F.group_norm."""
    _run_forward("groupnorm_forward", "groupnorm", groupnorm_forward, ref.groupnorm_forward, _gn_cases(),
                 visible_only)


# ---------------------------------------------------------------- backward checks
def _with_dout(case, seed):
    """(case, dout): a forward case and an upstream gradient shaped like its x."""
    return case, _rng(seed).normal(size=_x(case.args).shape)


def _backward_mistakes(spec, args, eps, dout):
    """dx of the usual backward mistakes, in x's layout."""
    view, affine = _SPECS[spec]
    x = _x(args)
    xv, axes = view(args)
    g, _ = affine(args)
    mean, var = _stats(xv, axes)
    inv = 1.0 / np.sqrt(var + eps)
    xhat = (xv - mean) * inv
    dxhat = (dout * g).reshape(xv.shape)
    m = np.prod([xv.shape[i] for i in axes])
    return [
        ((dxhat * inv).reshape(x.shape),
         "x reaches the output through x_hat, the mean and the variance -- all three paths need a term: "
         "dx = (dxhat - mean(dxhat) - x_hat * mean(dxhat * x_hat)) / sqrt(var + eps), dxhat = gamma * dout."),
        ((inv * (dxhat - dxhat.mean(axis=axes, keepdims=True))).reshape(x.shape),
         "the variance depends on x too: subtract x_hat * mean(dxhat * x_hat) as well."),
        ((inv * (dxhat - dxhat.mean(axis=axes, keepdims=True)
                 - xhat * (dxhat * xhat).sum(axis=axes, keepdims=True) / (m - 1))).reshape(x.shape),
         "the forward pass used the biased variance (divide by m), so the backward pass divides by m too."),
        ((inv * (dout.reshape(xv.shape) - dout.reshape(xv.shape).mean(axis=axes, keepdims=True)
                 - xhat * (dout.reshape(xv.shape) * xhat).mean(axis=axes, keepdims=True))).reshape(x.shape),
         "dL/dx_hat = gamma * dout: multiply by gamma before going back through the normalization."),
    ]


_DX_HINT = ("dx = (dxhat - mean(dxhat) - x_hat * mean(dxhat * x_hat)) / sqrt(var + eps) with dxhat = gamma * dout "
            "and the means over the axes the statistics were taken over.")


def _run_backward(name, fwd_name, spec, forward, backward, fwd_ref, bwd_ref, cases, visible_only):
    """Backward checks: the student's forward makes the cache, the student's backward reads it."""
    chosen = [(c, d) for c, d in cases if c.visible or not visible_only]
    for k, (case, dout) in enumerate(chosen):
        at = _core.where(k, len(chosen), case)
        out_e, cache_e = fwd_ref(*case.args, **case.kwargs)[:2]
        got = _core.call(fwd_name, forward, at, *case.args, **case.kwargs)
        if not isinstance(got, (tuple, list)) or len(got) < 2:
            raise AssertionError(f"{name}: {fwd_name} should return (out, cache, ...), got "
                                 f"{_core.describe(got)} ({at})")
        _close(name, f"the output of {fwd_name}", out_e, got[0], at,
               hint=f"fix {fwd_name} first (its own check says how); the backward pass reads its cache.")
        cache = got[1]
        dx_e, dg_e, db_e = bwd_ref(dout, cache_e)
        # the cache is the student's own object (it may hold anything, even autograd graphs,
        # which cannot be deep-copied): pass it as it is, and a copy of dout
        res = _core.call_uncopied(name, backward, at, (dout.copy(), cache), {})
        dx, dg, db = _tuple(name, res, ("dx", "dgamma", "dbeta"), at)
        x = _x(case.args)
        red = np.prod(x.shape) // max(np.size(db_e), 1)
        _close(name, "dbeta", db_e, db, at, hint=_diagnose(
            db, [(db_e / red, "dbeta is the *sum* of dout over the axes beta is broadcast along, not the mean.")],
            "dbeta = dout summed over every axis that beta is broadcast along (shape of beta)."))
        _close(name, "dgamma", dg_e, dg, at, hint=_diagnose(
            dg, [(db_e, "dgamma = sum of dout * x_hat -- the normalized input, not dout alone."),
                 (dg_e * np.asarray(case.args[1], dtype=_float64),
                  "dgamma = sum of dout * x_hat: gamma itself does not appear in its own gradient.")],
            "dgamma = sum of dout * x_hat over every axis that gamma is broadcast along (shape of gamma)."))
        _close(name, "dx", dx_e, dx, at,
               hint=_diagnose(dx, _backward_mistakes(spec, case.args, _eps(case), dout), _DX_HINT))
    case, dout = chosen[0]
    cache = _core.call(fwd_name, forward, "inputs must not be modified", *case.args, **case.kwargs)[1]
    before = dout.copy()
    _core.call_uncopied(name, backward, "inputs must not be modified", (dout, cache), {})
    if not np.array_equal(before, dout):
        raise AssertionError(f"{name}: dout was modified in place\n  hint: compute gamma * dout into a new array "
                             "(`dxhat = dout * gamma`) instead of `dout *= gamma`.")


def _bn_backward_cases():
    cases = [
        _bn_case(441, "dense x (4, 5)", (4, 5), train=True),
        _bn_case(442, "spatial x (2, 3, 4, 4)", (2, 3, 4, 4), train=True),
        _bn_case(443, "spatial x (1, 2, 3, 3): batch of one", (1, 2, 3, 3), train=True, visible=False),
        _bn_case(444, "dense x (8, 3), small variance (std 0.01), eps 1e-4", (8, 3), train=True, eps=1e-4,
                 scale=0.01, shift=0.01, visible=False),
        _bn_case(445, "dense x (2, 6): batch of two", (2, 6), train=True, visible=False),
        _bn_case(446, "spatial x (3, 4, 2, 5)", (3, 4, 2, 5), train=True, visible=False),
    ]
    return [_with_dout(c, 500 + i) for i, c in enumerate(cases)]


def _bn_ref_fwd(*args, **kwargs):
    out, cache, _, _ = ref.batchnorm_forward(*args, **kwargs)
    return out, cache


@_quiet
def check_batchnorm_backward(batchnorm_forward, batchnorm_backward, visible_only=False):
    """batchnorm_backward(dout, cache) -> (dx, dgamma, dbeta), the cache from the student's
    batchnorm_forward in training mode; as torch autograd through F.batch_norm."""
    _run_backward("batchnorm_backward", "batchnorm_forward", "batchnorm", batchnorm_forward, batchnorm_backward,
                  _bn_ref_fwd, ref.batchnorm_backward, _bn_backward_cases(), visible_only)


@_quiet
def check_layernorm_backward(layernorm_forward, layernorm_backward, visible_only=False):
    """layernorm_backward(dout, cache) -> (dx, dgamma, dbeta), dgamma and dbeta shaped like one example."""
    cases = [_with_dout(c, 510 + i) for i, c in enumerate(_ln_cases())]
    _run_backward("layernorm_backward", "layernorm_forward", "layernorm", layernorm_forward, layernorm_backward,
                  ref.layernorm_forward, ref.layernorm_backward, cases, visible_only)


@_quiet
def check_instancenorm_backward(instancenorm_forward, instancenorm_backward, visible_only=False):
    """instancenorm_backward(dout, cache) -> (dx, dgamma, dbeta), dgamma and dbeta of shape (C,)."""
    cases = [_with_dout(c, 520 + i) for i, c in enumerate(_in_cases())]
    _run_backward("instancenorm_backward", "instancenorm_forward", "instancenorm", instancenorm_forward,
                  instancenorm_backward, ref.instancenorm_forward, ref.instancenorm_backward, cases, visible_only)


@_quiet
def check_groupnorm_backward(groupnorm_forward, groupnorm_backward, visible_only=False):
    """groupnorm_backward(dout, cache) -> (dx, dgamma, dbeta), dgamma and dbeta of shape (C,)."""
    cases = [_with_dout(c, 530 + i) for i, c in enumerate(_gn_cases())]
    _run_backward("groupnorm_backward", "groupnorm_forward", "groupnorm", groupnorm_forward, groupnorm_backward,
                  ref.groupnorm_forward, ref.groupnorm_backward, cases, visible_only)


# ---------------------------------------------------------------- weight normalization and standardization
def _weight_cases(seed0, with_g):
    shapes = [("dense v (4, 3)", (4, 3), True), ("conv v (3, 2, 3, 3)", (3, 2, 3, 3), True),
              ("dense v (2, 7)", (2, 7), False), ("conv v (5, 1, 2, 2)", (5, 1, 2, 2), False),
              ("dense v (5, 1): one input", (5, 1), False)]
    cases = []
    for i, (label, shape, visible) in enumerate(shapes):
        r = _rng(seed0 + i)
        v = r.normal(loc=0.3, scale=1.0, size=shape)
        args = (v, r.uniform(0.5, 2.0, size=shape[0])) if with_g else (v,)
        cases.append(Case(label, args, visible=visible))
    return cases


def _rows(a):
    return a.reshape(a.shape[0], -1)


@_quiet
def check_weight_norm(weight_norm, visible_only=False):
    """weight_norm(v, g) -> w = g * v / ||v||, one norm per output unit (over every axis but 0)."""
    name = "weight_norm"
    chosen = _core.select(_weight_cases(451, True), visible_only)
    for k, case in enumerate(chosen):
        at = _core.where(k, len(chosen), case)
        v, g = case.args
        expected = ref.weight_norm(v, g)
        got = _core.call(name, weight_norm, at, v, g)
        gb = g.reshape((-1,) + (1,) * (v.ndim - 1))
        mistakes = [
            (gb * v / np.linalg.norm(v, axis=0, keepdims=True),
             "one norm per output unit: the norm of v[i] over every axis but 0 -- not over axis 0 (the "
             "output units)."),
            (gb * v / np.linalg.norm(v), "one norm per output unit, not the norm of the whole tensor."),
            (v / np.linalg.norm(_rows(v), axis=1).reshape(gb.shape), "multiply by g: w = g * v / ||v||."),
            (gb * v / (_rows(v) ** 2).sum(axis=1).reshape(gb.shape),
             "divide by the norm ||v|| = sqrt(sum v**2), not by its square."),
        ]
        _close(name, "w", expected, got, at, hint=_diagnose(
            got, mistakes, "w[i] = g[i] * v[i] / ||v[i]|| with the norm over every axis but 0."))
    _assert_unchanged(name, weight_norm, chosen[0].args, {})


@_quiet
def check_weight_norm_backward(weight_norm_backward, visible_only=False):
    """weight_norm_backward(dw, v, g) -> (dv, dg)."""
    name = "weight_norm_backward"
    for k, (at, case) in enumerate(_core.cases_to_run(_weight_cases(461, True), visible_only)):
        v, g = case.args
        dw = _rng(470 + k).normal(size=v.shape)
        dv_e, dg_e = ref.weight_norm_backward(dw, v, g)
        got = _core.call(name, weight_norm_backward, at, dw, v, g)
        dv, dg = _tuple(name, got, ("dv", "dg"), at)
        norm = np.linalg.norm(_rows(v), axis=1)
        _close(name, "dg", dg_e, dg, at, hint=_diagnose(
            dg, [(dg_e * norm, "dg = sum(dw * v) / ||v||: divide by the norm.")],
            "w is linear in g: dg[i] = sum(dw[i] * v[i]) / ||v[i]||."))
        gb = (g / norm).reshape((-1,) + (1,) * (v.ndim - 1))
        _close(name, "dv", dv_e, dv, at, hint=_diagnose(
            dv, [(gb * dw, "||v|| depends on v too: remove the part of dw along v, "
                           "dv = g/||v|| * (dw - dg * v/||v||).")],
            "dv = g/||v|| * (dw - dg * v/||v||), with dg = sum(dw * v)/||v|| per output unit."))


def _ws_cases():
    cases = _weight_cases(481, False)
    r = _rng(489)
    cases.append(Case("conv w (2, 3, 2, 2), small weights (std 1e-3), eps 1e-5",
                      (r.normal(scale=1e-3, size=(2, 3, 2, 2)),), {"eps": 1e-5}, visible=False))
    return cases


@_quiet
def check_weight_standardize(weight_standardize, visible_only=False):
    """weight_standardize(w, eps) -> (w - mean) / sqrt(var + eps) per output channel, biased variance."""
    name = "weight_standardize"
    chosen = _core.select(_ws_cases(), visible_only)
    for k, case in enumerate(chosen):
        at = _core.where(k, len(chosen), case)
        w = case.args[0]
        eps = case.kwargs.get("eps", 1e-5)
        expected = ref.weight_standardize(w, eps=eps)
        got = _core.call(name, weight_standardize, at, w, eps=eps)
        axes = tuple(range(1, w.ndim))
        mistakes = [
            (w / np.sqrt(w.var(axis=axes, keepdims=True) + eps),
             "subtract each output channel's mean before dividing (centering is half of standardizing)."),
            (_std_norm(w, axes, eps, ddof=1), "use the biased variance (divide by the number of entries)."),
            (_std_norm(w, (0,), eps), "standardize each output channel (w[i], over every axis but 0), not "
                                      "each input position over the output channels."),
            (_std_norm(w, tuple(range(w.ndim)), eps), "one mean and variance per output channel, not one for "
                                                      "the whole tensor."),
            (_std_norm(w, axes, eps, eps_outside=True), "eps goes inside the square root: sqrt(var + eps)."),
        ]
        _close(name, "the result", expected, got, at, hint=_diagnose(
            got, mistakes, "for each output channel i: (w[i] - mean(w[i])) / sqrt(var(w[i]) + eps), "
                           "biased variance."))
    _assert_unchanged(name, weight_standardize, chosen[0].args, {})


# ---------------------------------------------------------------- local response normalization
def _lrn_cases():
    def case(seed, label, shape, size, alpha, beta, k, visible):
        x = _rng(seed).normal(scale=2.0, size=shape)
        return Case(label, (x, size), {"alpha": alpha, "beta": beta, "k": k}, visible=visible)
    return [
        case(491, "x (2, 6, 3, 3), size 3, alpha 0.5, beta 0.75, k 1", (2, 6, 3, 3), 3, 0.5, 0.75, 1.0, True),
        case(492, "x (1, 7, 2, 2), size 5, alpha 1.0, beta 0.75, k 2 (AlexNet's k, n)", (1, 7, 2, 2), 5, 1.0,
             0.75, 2.0, True),
        case(493, "x (2, 6, 2, 3), size 4 (even), alpha 0.8, beta 0.5, k 1", (2, 6, 2, 3), 4, 0.8, 0.5, 1.0,
             False),
        case(494, "x (2, 3, 3, 3), size 7 (wider than C), alpha 0.3, beta 1.0, k 0.5", (2, 3, 3, 3), 7, 0.3,
             1.0, 0.5, False),
        case(495, "x (3, 5, 4), 1-D signal, size 2, alpha 2.0, beta 0.75, k 1", (3, 5, 4), 2, 2.0, 0.75, 1.0,
             False),
        case(496, "x (2, 4, 2, 2), size 1, alpha 0.5, beta 0.75, k 1", (2, 4, 2, 2), 1, 0.5, 0.75, 1.0, False),
    ]


def _lrn_window(sq, size, before, after, wrap=False):
    c = sq.shape[1]
    out = np.zeros_like(sq)
    for j in range(-before, after + 1):
        if wrap:
            out += np.roll(sq, -j, axis=1)
        else:
            lo, hi = max(0, -j), min(c, c - j)
            out[:, lo:hi] += sq[:, lo + j:hi + j]
    return out


@_quiet
def check_local_response_norm(local_response_norm, visible_only=False):
    """local_response_norm(x, size, alpha, beta, k) -> x / (k + alpha/size * sum of squares)**beta."""
    name = "local_response_norm"
    chosen = _core.select(_lrn_cases(), visible_only)
    for k, case in enumerate(chosen):
        at = _core.where(k, len(chosen), case)
        x, size = case.args
        a, b, kk = case.kwargs["alpha"], case.kwargs["beta"], case.kwargs["k"]
        expected = ref.local_response_norm(x, size, alpha=a, beta=b, k=kk)
        got = _core.call(name, local_response_norm, at, x, size, alpha=a, beta=b, k=kk)
        sq = x * x
        win = _lrn_window(sq, size, size // 2, (size - 1) // 2)
        mistakes = [
            (x / (kk + a * win) ** b, "torch divides alpha by the window size: k + alpha / size * sum(a**2)."),
            (x / (kk + a / size * _lrn_window(sq, size, size // 2, size // 2)) ** b,
             "for an even size the window is not symmetric: size // 2 channels before c and (size - 1) // 2 "
             "after, as torch pads."),
            (x / (kk + a / size * _lrn_window(sq, size, size // 2, (size - 1) // 2, wrap=True)) ** b,
             "channels outside 0..C-1 count as zeros; the window does not wrap around."),
            (x / (kk + a / size * _lrn_window(np.abs(x), size, size // 2, (size - 1) // 2)) ** b,
             "sum the *squares* of the neighbouring channels."),
            (x / (kk + a / size * win), "raise the denominator to the power beta."),
        ]
        _close(name, "the result", expected, got, at, hint=_diagnose(
            got, mistakes, "b[c] = x[c] / (k + alpha / size * sum of x[c']**2 over channels "
                           "c - size//2 .. c + (size-1)//2 that exist) ** beta."))
    _assert_unchanged(name, local_response_norm, chosen[0].args, chosen[0].kwargs)


# ---------------------------------------------------------------- quiz
def _letters(answer):
    if isinstance(answer, str):
        return {ch for ch in answer.lower() if ch.isalpha()}
    try:
        return {str(a).strip().lower() for a in answer}
    except TypeError:
        return None


@_quiet
def check_quiz_bn_effects(answer):
    """Two effects of batch normalization, as a set of two letters, e.g. {"a", "b"}.

    (a) larger stable learning rates, so fewer steps; (b) it removes internal covariate
    shift, which is proven to be why it works; (c) activations at a controlled scale
    through depth, so gradients vanish or explode less and initialization matters less;
    (d) test-time predictions depend on the other examples in the test batch;
    (e) it makes the training loss convex.
    """
    name = "bn_effects"
    if answer is None or answer is Ellipsis:
        raise AssertionError(f"{name}: not answered yet -- replace `None` with your answer.")
    got = _letters(answer)
    if got is None or not got <= set("abcde"):
        raise AssertionError(f"{name}: answer with letters a-e, e.g. {{'a', 'b'}}, got {_core.describe(answer)}.")
    if len(got) != 2:
        raise AssertionError(f"{name}: choose exactly two letters, got {len(got)}.")
    if got != {"a", "c"}:
        raise AssertionError(
            f"{name}: {''.join(sorted(got))} is not right.\n  hint: think about what changes in training "
            "(step size, gradient flow) and what does *not* happen in eval mode, where the running "
            "statistics are fixed.")


@_quiet
def check_quiz_lrn_alpha(answer):
    """AlexNet's LRN (k=2, n=5, alpha=1e-4, beta=0.75) as torch's alpha: 5e-4."""
    _core.check_answer("lrn_alpha", answer, 5e-4,
                       hint="AlexNet writes k + alpha * sum(a**2); torch writes k + alpha / size * sum(a**2).")
