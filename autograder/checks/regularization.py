"""Checks for Chapter 7 (regularization).

Each ``check_*`` takes the student's function (a backward check takes the
forward and the backward), runs it on seeded cases against
:mod:`autograder.reference.regularization`, returns ``None`` on success and
raises ``AssertionError`` with an actionable message otherwise.
``visible_only=True`` runs the cases the notebook shows; the default runs
them all (the hidden tests do that).

Dropout is random, so its checks do not compare masks with fixed numbers
(``rng.random(shape) < 1 - p`` and ``rng.random(shape) >= p`` are both
right and give different masks).  They check what every correct
implementation shares: mask entries are 0 or 1/(1-p), out = x * mask, the
drop rate is p within a few standard deviations, each entry has its own
draw, and the same ``rng`` seed gives the same mask while another seed
gives another one -- which is how a mask not drawn from the ``rng`` passed
in is caught.
"""
import numpy as np

from autograder import gradcheck
from autograder.reference import regularization as ref

from . import _core
from ._core import Case

# bound at import, like _core's: a notebook that rebinds numpy's functions does not change a verdict
_asarray = np.asarray
_abs = np.abs
_allclose = np.allclose
_float64 = np.float64
_isfinite = np.isfinite
_minimum = np.minimum
_mean = np.mean
_sqrt = np.sqrt
_array_equal = np.array_equal
_default_rng = np.random.default_rng


def _rng(seed):
    return _default_rng(seed)


def _hint(fn, *args):
    """A hint naming the likely mistake; never an exception of its own (the comparison reports the error)."""
    try:
        return fn(*args)
    except Exception:
        return None


def _near(a, b, rtol=1e-4, atol=1e-7):
    """Whether a got value matches a candidate (used only to name a likely mistake)."""
    try:
        a = _asarray(a, dtype=_float64)
        b = _asarray(b, dtype=_float64)
        return a.shape == b.shape and bool(_allclose(a, b, rtol=rtol, atol=atol))
    except Exception:
        return False


# ---------------------------------------------------------------- generic helpers (this chapter's)
def _pair(name, got, at, what):
    """The function must return a pair, e.g. (value, grads) or (out, mask)."""
    if not isinstance(got, (tuple, list)) or len(got) != 2:
        if got is None:
            raise AssertionError(f"{name}: returned None ({at})\n  hint: did you forget the `return` statement?")
        raise AssertionError(f"{name}: return a pair {what}, got {_core.describe(got)} ({at})")
    return got


def _scalar(name, what, got, at):
    """A number: a float, a numpy scalar, a 0-d array or a 1-element array."""
    arr = _core.as_array(name, what, got, at)
    if arr.size != 1:
        raise AssertionError(
            f"{name}: {what} should be a single number, got an array of shape {arr.shape} ({at})\n"
            "  hint: sum (or average) over every entry; the result is one number.")
    return arr.reshape(())


# ---------------------------------------------------------------- penalties
def _weights(seed, shapes, scale=1.0):
    r = _rng(seed)
    return [r.normal(scale=scale, size=s) for s in shapes]


def _with_zeros():
    w = _weights(401, [(2, 3)])[0]
    w[0, 1] = 0.0
    w[1, 2] = 0.0
    return [w, np.array([0.0, -1.5, 2.0])]


def _penalty_cases():
    return [
        Case("2 arrays (3, 2) and (4,), lam 0.1", (_weights(402, [(3, 2), (4,)]), 0.1)),
        Case("1 array (2, 5), lam 2.0", (_weights(403, [(2, 5)], 3.0), 2.0)),
        Case("arrays with exact zeros, lam 0.5", (_with_zeros(), 0.5), visible=False),
        Case("3 arrays (4, 3), (3,), (2, 2, 2), lam 0.01",
             (_weights(404, [(4, 3), (3,), (2, 2, 2)]), 0.01), visible=False),
        Case("1 array (6,) of large weights, lam 1e-3", (_weights(405, [(6,)], 50.0), 1e-3), visible=False),
    ]


def _run_penalty(name, student, reference, cases, visible_only, value_hint, grad_hint):
    for at, case in _core.cases_to_run(cases, visible_only):
        exp_value, exp_grads = reference(*case.args)
        got = _core.call(name, student, at, *case.args)
        value, grads = _pair(name, got, at, "(value, grads)")
        value = _scalar(name, "the value", value, at)
        _core.assert_close(name, "the value", exp_value, value, at, rtol=1e-5, atol=1e-9,
                           hint=_hint(value_hint, value, case))
        weights = case.args[0]
        _core.assert_sequence(name, "grads", grads, len(weights), at)
        for i, (e, g) in enumerate(zip(exp_grads, grads)):
            _core.assert_close(name, f"grads[{i}]", e, g, at, rtol=1e-5, atol=1e-9,
                               hint=_hint(grad_hint, g, weights[i], case))
    _core.assert_inputs_unchanged(name, student, _weights(406, [(3, 2), (4,)]), *cases[0].args[1:])


def check_l1_penalty(l1_penalty, visible_only=False):
    """l1_penalty(weights, lam) -> (lam * sum |w|, [lam * sign(w)])."""
    def value_hint(value, case):
        ws, lam = case.args
        if _near(value, 0.5 * lam * sum(np.sum(w * w) for w in ws)) or \
                _near(value, lam * sum(np.sum(w * w) for w in ws)):
            return "that is an L2 value; L1 adds up absolute values: lam * sum(|w|)."
        return "the value is lam times the sum of |w| over every entry of every array."

    def grad_hint(g, w, case):
        lam = case.args[1]
        if _near(g, lam * w):
            return "the derivative of |w| is sign(w) (+1 or -1), not w."
        if _near(g, np.sign(w)):
            return "multiply sign(w) by lam."
        sign_ok = _asarray(w) != 0
        if _near(_asarray(g, dtype=float)[sign_ok], lam * np.sign(w)[sign_ok]):
            return "where w is exactly 0 the gradient is 0 (np.sign(0) is 0), as in torch."
        return "the gradient of lam * |w| is lam * sign(w), one array per weight array."

    _run_penalty("l1_penalty", l1_penalty, ref.l1_penalty, _penalty_cases(), visible_only, value_hint, grad_hint)


def check_l2_penalty(l2_penalty, visible_only=False):
    """l2_penalty(weights, lam) -> (lam/2 * sum w**2, [lam * w])."""
    def value_hint(value, case):
        ws, lam = case.args
        if _near(value, lam * sum(np.sum(w * w) for w in ws)):
            return "the L2 penalty has a factor 1/2: 0.5 * lam * sum(w**2)."
        if _near(value, lam * sum(np.linalg.norm(w) for w in ws)) or \
                _near(value, lam * np.sqrt(sum(np.sum(w * w) for w in ws))):
            return "use the squared norm, sum(w**2), without a square root."
        return "the value is 0.5 * lam times the sum of w**2 over every entry of every array."

    def grad_hint(g, w, case):
        lam = case.args[1]
        if _near(g, 2 * lam * w):
            return "the 1/2 in 0.5 * lam * w**2 cancels the 2 of the derivative: the gradient is lam * w, not 2 lam w."
        if _near(g, w):
            return "multiply w by lam."
        return "the gradient of 0.5 * lam * w**2 is lam * w, one array per weight array."

    _run_penalty("l2_penalty", l2_penalty, ref.l2_penalty, _penalty_cases(), visible_only, value_hint, grad_hint)


def check_elastic_net_penalty(elastic_net_penalty, visible_only=False):
    """elastic_net_penalty(weights, lam1, lam2) -> L1 with lam1 plus L2 with lam2."""
    cases = [Case(c.label.replace(", lam", ", lam2") + ", lam1 = lam2 / 2",
                  (c.args[0], c.args[1] / 2, c.args[1]), visible=c.visible) for c in _penalty_cases()]

    def value_hint(value, case):
        return "add the L1 value (with lam1) and the L2 value (0.5 * lam2 * sum(w**2))."

    def grad_hint(g, w, case):
        _, lam1, lam2 = case.args
        if _near(g, lam1 * np.sign(w) + 2 * lam2 * w):
            return "the L2 part's gradient is lam2 * w (the 1/2 cancels the 2)."
        return "the gradient is lam1 * sign(w) + lam2 * w, one array per weight array."

    _run_penalty("elastic_net_penalty", elastic_net_penalty, ref.elastic_net_penalty, cases, visible_only,
                 value_hint, grad_hint)


# ---------------------------------------------------------------- dropout
def _dropout_cases():
    r = _rng(501)
    return [
        Case("x (100, 100), p 0.2, train", (r.normal(size=(100, 100)), 0.2, 11, True)),
        Case("x (8, 6), p 0.5, train=False (eval)", (r.normal(size=(8, 6)), 0.5, 12, False)),
        Case("x (40, 3, 8, 8), p 0.7, train", (r.normal(size=(40, 3, 8, 8)), 0.7, 13, True), visible=False),
        Case("x (5, 7), p 0, train", (r.normal(size=(5, 7)), 0.0, 14, True), visible=False),
        Case("x (20, 1000), p 0.9, train", (r.normal(size=(20, 1000)), 0.9, 15, True), visible=False),
        Case("x (30, 40), p 0.25, train=False (eval)", (r.normal(size=(30, 40)), 0.25, 16, False), visible=False),
    ]


def _dropout_call(name, fn, at, x, p, seed, train):
    got = _core.call(name, fn, at, x, p, _rng(seed), train=train)
    out, mask = _pair(name, got, at, "(out, mask)")
    out = _core.as_array(name, "out", out, at, x.shape)
    if mask is None:
        raise AssertionError(
            f"{name}: mask is None ({at})\n"
            "  hint: return a mask in every mode (all ones when nothing is dropped) so that "
            "dropout_backward(dout, mask) = dout * mask always works.")
    mask = _core.as_array(name, "mask", mask, at, x.shape)
    return out, mask


def _check_identity(name, x, out, mask, at, p, train):
    why = "train=False (evaluation)" if not train else "p = 0"
    _core.assert_close(name, "out", x, out, at, rtol=1e-6, atol=1e-9,
                       hint=f"with {why} dropout does nothing: return x unchanged -- inverted dropout "
                            "already scaled during training, so no scaling at test time either.")
    _core.assert_close(name, "mask", np.ones_like(x), mask, at, rtol=1e-6, atol=1e-9,
                       hint=f"with {why} nothing is dropped: the mask is all ones.")


def _check_training(name, x, p, out, mask, at):
    scale = 1.0 / (1.0 - p)
    dist = _minimum(_abs(mask), _abs(mask - scale))
    if (~(dist <= 1e-5 * scale)).any():  # written so that a nan counts as wrong
        vals = np.unique(np.round(mask, 6))[:4]
        shown = ", ".join(_core.fmt(v) for v in vals)
        zero_one = bool(np.all(_minimum(_abs(mask), _abs(mask - 1.0)) < 1e-6))
        if zero_one and _near(out, x * mask / (1.0 - p), rtol=1e-5, atol=1e-8):
            hint = "the mask should carry the scale: mask = keep / (1 - p), and out = x * mask."
        elif zero_one:
            hint = ("this is dropout without the 1/(1-p) scale: inverted dropout divides the kept entries by "
                    "1 - p during training, so that the expected output equals x.")
        elif p > 0 and np.all(_minimum(_abs(mask), _abs(mask - 1.0 / p)) < 1e-5 / p):
            hint = "p is the probability of dropping an entry (as in torch): keep with probability 1 - p, scale by 1/(1-p)."
        else:
            hint = "each mask entry is 0 (dropped) or 1/(1-p) (kept and scaled)."
        raise AssertionError(
            f"{name}: mask has values other than 0 and 1/(1-p) = {_core.fmt(scale)} ({at})\n"
            f"  some values found: {shown}\n  hint: {hint}")
    _core.assert_close(name, "out", x * mask, out, at, rtol=1e-5, atol=1e-8,
                       hint="out must be x * mask (the mask already holds the 1/(1-p) scale).")
    flat = mask.reshape(mask.shape[0], -1)
    if flat.shape[0] > 1 and all(_array_equal(flat[0], flat[i]) for i in range(1, flat.shape[0])):
        raise AssertionError(
            f"{name}: every sample in the batch got the same mask ({at})\n"
            "  hint: draw one random number per entry of x (shape x.shape), not one per feature.")
    n = mask.size
    rate = float(_mean(_abs(mask) < 1e-5 * scale))  # dropped entries, allowing float32 rounding
    tol = 5.0 * float(_sqrt(p * (1.0 - p) / n)) + 0.005
    if abs(rate - p) > tol:
        if abs(rate - (1.0 - p)) <= tol:
            hint = "p is the probability of dropping an entry (as in torch), not of keeping it."
        else:
            hint = "drop each entry independently with probability p: e.g. keep = rng.random(x.shape) >= p."
        raise AssertionError(
            f"{name}: {rate:.1%} of the entries were dropped, expected about p = {p:.0%} "
            f"(within {tol:.1%}) ({at})\n  hint: {hint}")


def _check_uses_rng(name, fn):
    """Same seed -> same mask; another seed -> another mask; the global numpy stream plays no part."""
    x = _rng(502).normal(size=(20, 30))
    p = 0.5
    at = "reproducibility: x (20, 30), p 0.5, two Generators with seed 7, one with seed 8"
    _, m1 = _dropout_call(name, fn, at, x, p, 7, True)
    _, m2 = _dropout_call(name, fn, at, x, p, 7, True)
    if not _array_equal(m1, m2):
        raise AssertionError(
            f"{name}: two calls with Generators of the same seed gave different masks ({at})\n"
            "  hint: draw the random numbers from the `rng` argument (e.g. rng.random(x.shape)), "
            "not from np.random.* or a Generator you create yourself.")
    _, m3 = _dropout_call(name, fn, at, x, p, 8, True)
    if _array_equal(m1, m3):
        raise AssertionError(
            f"{name}: Generators with different seeds gave the same mask ({at})\n"
            "  hint: draw the random numbers from the `rng` argument, not from a fixed seed of your own.")


def check_dropout_forward(dropout_forward, visible_only=False):
    """dropout_forward(x, p, rng, train) -> (out, mask): inverted dropout, p the drop probability."""
    name = "dropout_forward"
    for at, case in _core.cases_to_run(_dropout_cases(), visible_only):
        x, p, seed, train = case.args
        out, mask = _dropout_call(name, dropout_forward, at, x, p, seed, train)
        if not train or p == 0.0:
            _check_identity(name, x, out, mask, at, p, train)
        else:
            _check_training(name, x, p, out, mask, at)
    _check_uses_rng(name, dropout_forward)
    x = _rng(503).normal(size=(4, 5))
    _core.assert_inputs_unchanged(name, lambda x_, p_: dropout_forward(x_, p_, _rng(1), train=True), x, 0.5)


def _dropout_backward_cases():
    r = _rng(511)
    return [
        Case("x (4, 5), p 0.5, train", (r.normal(size=(4, 5)), 0.5, 21, True)),
        Case("x (3, 4), p 0.3, train=False (eval)", (r.normal(size=(3, 4)), 0.3, 22, False)),
        Case("x (2, 2, 3, 3), p 0.2, train", (r.normal(size=(2, 2, 3, 3)), 0.2, 23, True), visible=False),
        Case("x (6, 4), p 0.8, train", (r.normal(size=(6, 4)), 0.8, 24, True), visible=False),
    ]


def check_dropout_backward(dropout_forward, dropout_backward, visible_only=False):
    """dropout_backward(dout, mask) -> dx, compared with the numerical gradient of the student's forward."""
    name = "dropout_backward"
    for at, case in _core.cases_to_run(_dropout_backward_cases(), visible_only):
        x, p, seed, train = case.args
        out, mask = _dropout_call("dropout_forward", dropout_forward, at, x, p, seed, train)
        again, _ = _dropout_call("dropout_forward", dropout_forward, at, x, p, seed, train)
        if not _array_equal(out, again):
            raise AssertionError(
                f"dropout_forward: the same rng seed gives different outputs ({at})\n"
                "  hint: fix dropout_forward first (check_dropout_forward): draw from the `rng` argument.")
        dout = _rng(seed + 100).normal(size=x.shape)

        def f(z):
            return _dropout_call("dropout_forward", dropout_forward, at, z, p, seed, train)[0]

        # out is linear in x for a fixed mask, so centred differences are exact for any step: a large one
        # keeps float32 forward passes from drowning the difference in rounding
        expected = gradcheck.numerical_gradient_array(f, x.copy(), dout, h=0.5)
        dx = _core.call(name, dropout_backward, at, dout, mask)
        _core.assert_close(
            name, "dx", expected, dx, at, rtol=1e-5, atol=1e-7,
            hint=_hint(_dropout_backward_hint, dx, dout, mask))
    d = _rng(512).normal(size=(3, 4))
    m = (_rng(513).random((3, 4)) >= 0.5) / 0.5
    _core.assert_inputs_unchanged(name, dropout_backward, d, m)


def _dropout_backward_hint(dx, dout, mask):
    if _near(dx, dout):
        return "a dropped entry passes no gradient: multiply dout by the mask."
    if _near(dx, dout * (mask != 0)):
        return "the kept entries were scaled by 1/(1-p) in the forward pass, so their gradient is too: dx = dout * mask."
    return "out = x * mask, so dx = dout * mask (the mask from your forward pass, scale included)."


# ---------------------------------------------------------------- softmax, smoothing, cross-entropy
def _softmax_cases():
    r = _rng(601)
    return [
        Case("logits (3, 4)", (r.normal(size=(3, 4)),)),
        Case("logits (2, 5) with rows far apart", (r.normal(size=(2, 5)) * 3 + np.array([[10.0], [-10.0]]),)),
        Case("logits (4, 3) around +1000 and -1000",
             (r.normal(size=(4, 3)) + np.array([[1000.0], [-1000.0], [500.0], [0.0]]),), visible=False),
        Case("logits (1, 10)", (r.normal(scale=5, size=(1, 10)),), visible=False),
    ]


def check_softmax(softmax, visible_only=False):
    """softmax(logits) over the last axis, stable for logits of any size."""
    _core.run_elementwise(
        "softmax", softmax, ref.softmax, _softmax_cases(), visible_only, rtol=1e-4, atol=1e-7,
        hint="normalise each row (axis=-1, keepdims=True), and subtract the row maximum before exp: "
             "exp(1000) overflows, exp(z - max) never does.")


def _smooth_cases():
    return [
        Case("y = [0, 2, 1], K 3, eps 0.1", (np.array([0, 2, 1]), 3, 0.1)),
        Case("y = [3, 3, 0, 1], K 4, eps 0.2", (np.array([3, 3, 0, 1]), 4, 0.2)),
        Case("y (6,), K 10, eps 0.3", (_rng(602).integers(0, 10, size=6), 10, 0.3), visible=False),
        Case("y = [1, 0], K 2, eps 0 (plain one-hot)", (np.array([1, 0]), 2, 0.0), visible=False),
        Case("y = [4], K 5, eps 1 (uniform)", (np.array([4]), 5, 1.0), visible=False),
    ]


def check_smooth_labels(smooth_labels, visible_only=False):
    """smooth_labels(y, num_classes, eps) -> (N, K) targets (1 - eps) one_hot + eps / K."""
    name = "smooth_labels"
    for at, case in _core.cases_to_run(_smooth_cases(), visible_only):
        y, K, eps = case.args
        expected = ref.smooth_labels(y, K, eps)
        got = _core.call(name, smooth_labels, at, y, K, eps)
        arr = _core.as_array(name, "the targets", got, at, expected.shape)
        _core.assert_close(name, "the targets", expected, arr, at, rtol=1e-6, atol=1e-9,
                           hint=_hint(_smooth_hint, arr, y, K, eps))


def _smooth_hint(q, y, K, eps):
    onehot = np.eye(K)[np.asarray(y)]
    if K > 1 and _near(q, onehot * (1 - eps) + (1 - onehot) * eps / (K - 1)):
        return ("that is eps/(K-1) on the wrong classes; torch spreads eps over all K classes: "
                "q = (1 - eps) * one_hot + eps / K, so the true class gets 1 - eps + eps/K.")
    if _near(q, onehot + eps / K):
        return "scale the one-hot part by (1 - eps) so each row still sums to 1."
    return "q = (1 - eps) * one_hot(y) + eps / K; each row sums to 1."


def _ce_cases():
    r = _rng(603)
    return [
        Case("logits (4, 3), y = [0, 2, 1, 2], no smoothing", (r.normal(size=(4, 3)), np.array([0, 2, 1, 2]), 0.0)),
        Case("logits (5, 4), label_smoothing 0.1", (r.normal(scale=2, size=(5, 4)), r.integers(0, 4, 5), 0.1)),
        Case("logits (6, 10), label_smoothing 0.3", (r.normal(size=(6, 10)), r.integers(0, 10, 6), 0.3),
             visible=False),
        Case("logits (3, 5) around 1000, label_smoothing 0.2",
             (r.normal(scale=3, size=(3, 5)) + 1000.0, np.array([4, 0, 2]), 0.2), visible=False),
        Case("logits (4, 3) around -1000 and +800, no smoothing",
             (r.normal(scale=2, size=(4, 3)) + np.array([[-1000.0], [800.0], [0.0], [800.0]]),
              np.array([1, 0, 2, 2]), 0.0), visible=False),
        Case("logits (1, 2), one sample, label_smoothing 0.5", (np.array([[2.0, -1.0]]), np.array([0]), 0.5),
             visible=False),
    ]


def check_cross_entropy(cross_entropy, visible_only=False):
    """cross_entropy(logits, y, label_smoothing) -> (mean loss, dlogits), as torch's F.cross_entropy."""
    name = "cross_entropy"
    for at, case in _core.cases_to_run(_ce_cases(), visible_only):
        logits, y, eps = case.args
        exp_loss, exp_grad = ref.cross_entropy(logits, y, label_smoothing=eps)
        got = _core.call(name, cross_entropy, at, logits, y, label_smoothing=eps)
        loss, grad = _pair(name, got, at, "(loss, dlogits)")
        loss = _scalar(name, "the loss", loss, at)
        _core.assert_close(name, "the loss", exp_loss, loss, at, rtol=1e-4, atol=1e-4,
                           hint=_hint(_ce_loss_hint, loss, logits, y, eps))
        _core.assert_close(name, "dlogits", exp_grad, grad, at, rtol=1e-4, atol=2e-5,
                           hint=_hint(_ce_grad_hint, grad, logits, y, eps))
    c = _ce_cases()[1]
    _core.assert_inputs_unchanged(name, cross_entropy, *c.args)


def _ce_loss_hint(loss, logits, y, eps):
    n, K = logits.shape
    if not np.all(_isfinite(loss)):
        return "exp of a large logit overflows: compute log-softmax as z - max - log(sum(exp(z - max)))."
    if n > 1 and _near(loss, n * ref.cross_entropy(logits, y, eps)[0]):
        return "average over the batch (divide by N), as torch's default reduction='mean'."
    if eps > 0 and K > 1:
        logp = ref.log_softmax(logits)
        onehot = np.eye(K)[y]
        q = onehot * (1 - eps) + (1 - onehot) * eps / (K - 1)
        if _near(loss, -np.sum(q * logp) / n):
            return ("torch spreads eps over all K classes (eps/K each, the true class included), "
                    "not eps/(K-1) over the others.")
        if _near(loss, ref.cross_entropy(logits, y, 0.0)[0]):
            return "apply label_smoothing: the targets are (1 - eps) * one_hot + eps / K."
    return "loss = -(1/N) sum_n sum_k q[n, k] * log softmax(z[n])[k], q the smoothed one-hot targets."


def _ce_grad_hint(grad, logits, y, eps):
    n, K = logits.shape
    g = ref.cross_entropy(logits, y, eps)[1]
    if not np.all(_isfinite(_asarray(grad, dtype=float))):
        return "exp of a large logit overflows: subtract each row's maximum before exp."
    if n > 1 and _near(grad, n * g):
        return "the loss is a mean over the batch, so its gradient has a 1/N: (softmax(z) - q) / N."
    if _near(grad, -g):
        return "sign: the gradient is (softmax(z) - q) / N, not (q - softmax(z)) / N."
    if eps > 0 and _near(grad, ref.cross_entropy(logits, y, 0.0)[1]):
        return "use the smoothed targets q in the gradient too: (softmax(z) - q) / N."
    return "dloss/dz = (softmax(z) - q) / N with q the smoothed one-hot targets."


# ---------------------------------------------------------------- distillation
def _kd_cases():
    r = _rng(701)
    return [
        Case("logits (4, 3), T 4, alpha 0.9",
             (r.normal(size=(4, 3)), r.normal(scale=3, size=(4, 3)), np.array([0, 1, 2, 1]), 4.0, 0.9)),
        Case("logits (5, 4), T 2, alpha 0.5",
             (r.normal(scale=2, size=(5, 4)), r.normal(scale=4, size=(5, 4)), r.integers(0, 4, 5), 2.0, 0.5)),
        Case("logits (6, 10), T 8, alpha 0.7",
             (r.normal(size=(6, 10)), r.normal(scale=6, size=(6, 10)), r.integers(0, 10, 6), 8.0, 0.7),
             visible=False),
        Case("logits (3, 5), T 3, alpha 0 (hard labels only)",
             (r.normal(size=(3, 5)), r.normal(size=(3, 5)), np.array([4, 0, 2]), 3.0, 0.0), visible=False),
        Case("logits (3, 4), T 1, alpha 1 (soft targets only)",
             (r.normal(size=(3, 4)), r.normal(scale=2, size=(3, 4)), np.array([1, 3, 0]), 1.0, 1.0),
             visible=False),
        Case("logits (4, 5) of size ~300, T 4, alpha 0.9",
             (r.normal(scale=30, size=(4, 5)) + 300.0, r.normal(scale=30, size=(4, 5)) - 300.0,
              np.array([0, 1, 2, 3]), 4.0, 0.9), visible=False),
    ]


def _kd_candidates(z, t, y, T, alpha):
    """Loss values of recognisable mistakes, with the hint each one deserves."""
    n = z.shape[0]
    ce = ref.cross_entropy(z, y)[0]

    def kl(p_logits, q_logits, Tp, Tq):  # KL(softmax(p/Tp) || softmax(q/Tq)), batch mean
        lp, lq = ref.log_softmax(p_logits / Tp), ref.log_softmax(q_logits / Tq)
        return float(np.sum(np.exp(lp) * (lp - lq))) / n

    soft_ce = float(-np.sum(ref.softmax(t / T) * ref.log_softmax(z / T))) / n
    return [
        (alpha * kl(t, z, T, T) + (1 - alpha) * ce,
         "multiply the soft term by T**2: softening divides its gradient by T**2, and T**2 restores it."),
        (alpha * T * T * kl(z, t, T, T) + (1 - alpha) * ce,
         "the KL is reversed: use KL(teacher || student) = sum p_teacher * (log p_teacher - log p_student)."),
        (alpha * T * T * kl(t, z, 1.0, T) + (1 - alpha) * ce,
         "soften the teacher too: p_teacher = softmax(teacher_logits / T)."),
        (alpha * T * T * kl(t, z, T, 1.0) + (1 - alpha) * ce,
         "soften the student too: the KL compares softmax(teacher / T) with softmax(student / T)."),
        (alpha * T * T * soft_ce + (1 - alpha) * ce,
         "that is cross-entropy with soft targets; the KL also subtracts the teacher's entropy "
         "(same gradient, different value)."),
        ((1 - alpha) * T * T * kl(t, z, T, T) + alpha * ce,
         "alpha weights the soft (KL) term and 1 - alpha the hard cross-entropy, not the other way round."),
        (alpha * T * T * kl(t, z, T, T) + (1 - alpha) * ref.cross_entropy(z / T, y)[0],
         "the hard-label cross-entropy uses the student's plain logits, without the temperature."),
    ]


def check_distillation_loss(distillation_loss, visible_only=False):
    """distillation_loss(z, t, y, T, alpha) -> (alpha T^2 KL(p_t^T || p_s^T) + (1 - alpha) CE, dz)."""
    name = "distillation_loss"
    for at, case in _core.cases_to_run(_kd_cases(), visible_only):
        z, t, y, T, alpha = case.args
        exp_loss, exp_grad = ref.distillation_loss(z, t, y, T=T, alpha=alpha)
        got = _core.call(name, distillation_loss, at, z, t, y, T=T, alpha=alpha)
        loss, grad = _pair(name, got, at, "(loss, dstudent)")
        loss = _scalar(name, "the loss", loss, at)
        hint = "loss = alpha * T**2 * mean_n KL(softmax(t/T) || softmax(z/T)) + (1 - alpha) * CE(z, y)."
        if not np.all(_isfinite(loss)):
            hint = "use log-softmax with the row maximum subtracted; exp of a large logit overflows."
        else:
            for value, h in _kd_candidates(z, t, y, T, alpha):
                if _near(loss, value) and not _near(value, exp_loss):
                    hint = h
                    break
        _core.assert_close(name, "the loss", exp_loss, loss, at, rtol=1e-4, atol=1e-4, hint=hint)
        ghint = "dz = alpha * T * (softmax(z/T) - softmax(t/T)) / N + (1 - alpha) * (softmax(z) - one_hot(y)) / N."
        soft = (ref.softmax(z / T) - ref.softmax(t / T)) / z.shape[0]
        hard = ref.cross_entropy(z, y)[1]
        if T != 1 and (_near(grad, alpha * T * T * soft + (1 - alpha) * hard) or
                       _near(grad, alpha * soft + (1 - alpha) * hard)):
            ghint = ("the soft part of the gradient is alpha * T * (s - p) / N: the T**2 of the loss times "
                     "the 1/T that the chain rule brings from z / T.")
        _core.assert_close(name, "dstudent", exp_grad, grad, at, rtol=1e-4, atol=1e-5, hint=ghint)
    c = _kd_cases()[0]
    _core.assert_inputs_unchanged(name, distillation_loss, *c.args)


# ---------------------------------------------------------------- early stopping
def _es_cases():
    r = _rng(801)
    e = np.arange(30)
    curve = 1.0 / (1 + 0.3 * e) + 0.002 * (e - 10) ** 2 * (e > 10) + r.normal(scale=0.03, size=30)
    noisy = [round(float(v), 4) for v in curve]
    return [
        Case("U-shaped curve of 10 epochs, patience 3",
             ([1.0, 0.8, 0.65, 0.6, 0.58, 0.59, 0.61, 0.6, 0.64, 0.7], 3, 0.0)),
        Case("noisy curve of 30 epochs, patience 4", (noisy, 4, 0.0)),
        Case("a loss equal to the best is no improvement, patience 2",
             ([0.9, 0.5, 0.5, 0.5, 0.4], 2, 0.0), visible=False),
        Case("decreasing curve: never stops, patience 3",
             ([1.0, 0.9, 0.85, 0.84, 0.83, 0.8, 0.79], 3, 0.0), visible=False),
        Case("min_delta 0.05, patience 2",
             ([1.0, 0.9, 0.87, 0.84, 0.80, 0.795, 0.7, 0.69], 2, 0.05), visible=False),
        Case("patience 1", ([0.5, 0.4, 0.45, 0.3], 1, 0.0), visible=False),
        Case("stops at the last epoch, patience 3 (numpy array)",
             (np.array([0.7, 0.6, 0.5, 0.55, 0.52, 0.51]), 3, 0.0), visible=False),
        Case("noisy curve, patience 8", (noisy, 8, 0.0), visible=False),
        Case("noisy curve, patience 3, min_delta 0.02", (noisy, 3, 0.02), visible=False),
    ]


def _epoch(name, what, value, at):
    if value is None:
        return None
    try:
        as_int = int(value)
        if as_int != value:
            raise ValueError
    except (TypeError, ValueError):
        raise AssertionError(f"{name}: {what} should be an epoch index (an int) or None, got "
                             f"{_core.describe(value)} {_core.fmt(value)} ({at})") from None
    return as_int


def _early_stopping_ties_improve(losses, patience, min_delta):
    """The <= version of early stopping, to recognise it in a student's answer."""
    best, best_epoch, wait = np.inf, None, 0
    for e, v in enumerate(losses):
        if v <= best - min_delta:
            best, best_epoch, wait = v, e, 0
        else:
            wait += 1
            if wait >= patience:
                return e, best_epoch
    return None, best_epoch


def _es_hint(got, expected, losses, patience, min_delta):
    (gs, gb), (es, eb) = got, expected
    if gb is not None and eb is not None and gb == eb + 1 and (gs == es or (gs is not None and es is not None
                                                                           and gs == es + 1)):
        return "epochs are 0-based: the first loss is epoch 0."
    if gs is not None and es is not None and gs == es + 1 and gb == eb:
        return ("off by one: stop at the first epoch where the number of epochs without improvement "
                "reaches patience (>= patience), not when it exceeds it.")
    if gs is not None and es is not None and gs == es - 1:
        return ("off by one: only epochs that do not improve count; the stop comes patience epochs "
                "after the last improvement.")
    if es is None and gs is not None:
        return ("if the count never reaches patience, training runs to the end: return None as stop_epoch "
                "(and the last improving epoch as best_epoch).")
    if min_delta > 0 and got == ref.early_stopping(losses, patience, 0.0):
        return "an improvement must beat the best by more than min_delta: loss[e] < best - min_delta."
    if got == _early_stopping_ties_improve(losses, patience, min_delta):
        return "a loss equal to best - min_delta (or to the best) is not an improvement: use a strict <."
    stop = len(losses) if es is None else es + 1
    if gb is not None and gb != eb and 0 <= gb < len(losses) and gb == int(np.argmin(losses)) and \
            not gb < stop:
        return "best_epoch is the best epoch up to the stop, not over the whole list."
    return ("epoch e improves when loss[e] < best - min_delta (strictly; an equal loss does not improve); "
            "count consecutive epochs without improvement and stop when the count reaches patience.")


def check_early_stopping(early_stopping, visible_only=False):
    """early_stopping(val_losses, patience, min_delta) -> (stop_epoch or None, best_epoch), 0-based."""
    name = "early_stopping"
    for at, case in _core.cases_to_run(_es_cases(), visible_only):
        losses, patience, min_delta = case.args
        expected = ref.early_stopping(losses, patience, min_delta)
        got = _core.call(name, early_stopping, at, losses, patience, min_delta=min_delta)
        stop, best = _pair(name, got, at, "(stop_epoch, best_epoch)")
        got = (_epoch(name, "stop_epoch", stop, at), _epoch(name, "best_epoch", best, at))
        if got != expected:
            shown = ", ".join(f"{v:g}" for v in losses)
            raise AssertionError(
                f"{name}: wrong epochs ({at})\n"
                f"  val_losses = [{shown}]\n"
                f"  expected (stop_epoch, best_epoch) = {expected}   got {got}\n"
                f"  hint: {_hint(_es_hint, got, expected, list(losses), patience, min_delta)}")


# ---------------------------------------------------------------- quiz
def _choice(answer):
    if not isinstance(answer, str):
        return answer
    return answer.strip().strip("()").strip().lower()


def check_quiz_ridge(answer):
    """Which statement about ridge regression is true: (a), (b), (c) or (d)."""
    _core.check_answer("quiz_ridge", _choice(answer), "a",
                       hint="ridge regression adds 0.5 * lam * ||w||^2 to the loss of a linear model; "
                            "ask what happens to w as lam grows, and whether the model stops being linear at lam = 0.")


def check_quiz_l1_graph(answer):
    """Which panel of the constraint-region figure shows L1: "left" or "right"."""
    _core.check_answer("quiz_l1_graph", _choice(answer), "right",
                       hint="L1's constraint region sum |w_i| <= c has corners on the axes; L2's is round.")
