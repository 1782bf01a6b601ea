"""Chapter 1: reference vs torch, and the checks vs known mistakes and correct variants."""
import warnings

import numpy as np
import pytest
import torch

from autograder import gradcheck
from autograder.checks import vanishing_gradients as chk
from autograder.reference import vanishing_gradients as ref
from checkkit import assert_accepts, assert_rejects, cases

pytestmark = pytest.mark.usefixtures("torch_float64")  # restored after each test
SHAPES = [(7,), (3, 4), (2, 3, 5)]


# ------------------------------------------------------------ reference vs torch (float64)
@pytest.mark.parametrize("shape", SHAPES)
def test_sigmoid_matches_torch(shape, rng):
    x = rng.normal(scale=5, size=shape)
    np.testing.assert_allclose(ref.sigmoid(x), torch.sigmoid(torch.tensor(x)).numpy(), rtol=1e-14, atol=1e-15)


def test_sigmoid_stable_for_large_inputs():
    x = np.array([-1000.0, -745.0, -50.0, 0.0, 50.0, 745.0, 1000.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an overflow warning would fail the test
        s = ref.sigmoid(x)
    np.testing.assert_allclose(s, torch.sigmoid(torch.tensor(x)).numpy(), rtol=1e-14, atol=1e-300)
    assert np.all(np.isfinite(s))


def _autograd_derivative(fn, x):
    t = torch.tensor(x, requires_grad=True)
    fn(t).sum().backward()
    return t.grad.numpy()


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("name, torch_fn", [
    ("sigmoid_grad", torch.sigmoid), ("tanh_grad", torch.tanh), ("relu_grad", torch.relu)])
def test_activation_derivatives_match_autograd(name, torch_fn, shape, rng):
    x = rng.normal(scale=3, size=shape)
    x.flat[0] = 0.0  # torch's relu'(0) is 0; the reference must agree
    np.testing.assert_allclose(getattr(ref, name)(x), _autograd_derivative(torch_fn, x), rtol=1e-12, atol=1e-15)


def test_relu_forward_matches_torch(rng):
    x = rng.normal(size=(4, 5))
    np.testing.assert_array_equal(ref.relu(x), torch.relu(torch.tensor(x)).numpy())


def _torch_grad_norms(x, weights, activation):
    f = {"sigmoid": torch.sigmoid, "tanh": torch.tanh, "relu": torch.relu}[activation]
    ws = [torch.tensor(W, requires_grad=True) for W in weights]
    h = torch.tensor(x)
    for W in ws:
        h = f(h @ W.T)
    loss = 0.5 * (h ** 2).sum() / x.shape[0]
    loss.backward()
    return np.array([W.grad.norm().item() for W in ws])


@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "relu"])
@pytest.mark.parametrize("widths", [[4, 3], [5, 8, 3], [6] * 11, [3, 7, 2, 9, 4, 5]])
def test_mlp_grad_norms_match_autograd(activation, widths, rng):
    x = rng.normal(size=(6, widths[0]))
    weights = [rng.normal(scale=1.3 / np.sqrt(widths[i]), size=(widths[i + 1], widths[i]))
               for i in range(len(widths) - 1)]
    np.testing.assert_allclose(ref.mlp_grad_norms(x, weights, activation),
                               _torch_grad_norms(x, weights, activation), rtol=1e-10, atol=1e-300)


def test_mlp_grad_norms_rejects_unknown_activation(rng):
    with pytest.raises(ValueError, match="activation"):
        ref.mlp_grad_norms(rng.normal(size=(2, 3)), [rng.normal(size=(3, 3))], "softplus")


def _random_grads(rng, scale):
    return [rng.normal(scale=scale, size=s) for s in [(4, 3), (3,), (2, 2, 2)]]


@pytest.mark.parametrize("clip_value", [0.05, 0.5, 10.0])
def test_clip_by_value_matches_torch(clip_value, rng):
    grads = _random_grads(rng, 1.0)
    params = [torch.zeros(g.shape, requires_grad=True) for g in grads]
    for p, g in zip(params, grads):
        p.grad = torch.tensor(g)
    torch.nn.utils.clip_grad_value_(params, clip_value)
    before = [g.copy() for g in grads]
    out = ref.clip_by_value(grads, clip_value)
    for o, p in zip(out, params):
        np.testing.assert_allclose(o, p.grad.numpy(), rtol=0, atol=0)
    for b, g in zip(before, grads):
        np.testing.assert_array_equal(b, g)  # inputs not modified


@pytest.mark.parametrize("scale, max_norm", [(1.0, 0.5), (1.0, 100.0), (0.01, 1.0), (5.0, 3.0)])
def test_clip_by_global_norm_matches_torch(scale, max_norm, rng):
    grads = _random_grads(rng, scale)
    params = [torch.zeros(g.shape, requires_grad=True) for g in grads]
    for p, g in zip(params, grads):
        p.grad = torch.tensor(g)
    total_torch = torch.nn.utils.clip_grad_norm_(params, max_norm).item()
    before = [g.copy() for g in grads]
    out, total = ref.clip_by_global_norm(grads, max_norm)
    assert total == pytest.approx(total_torch, rel=1e-12)
    for o, p in zip(out, params):
        np.testing.assert_allclose(o, p.grad.numpy(), rtol=1e-12, atol=1e-15)
    for b, g in zip(before, grads):
        np.testing.assert_array_equal(b, g)


# ------------------------------------------------------------ shared gradcheck vs autograd
def test_numerical_gradient_matches_autograd(rng):
    x = rng.normal(size=(3, 4))
    W = rng.normal(size=(2, 4))

    def f(z):
        return np.sum(np.tanh(z @ W.T) ** 2)

    t = torch.tensor(x, requires_grad=True)
    (torch.tanh(t @ torch.tensor(W).T) ** 2).sum().backward()
    num = gradcheck.numerical_gradient(f, x.copy())
    assert gradcheck.rel_error(num, t.grad.numpy()) < 1e-7


def test_numerical_gradient_array_is_a_vjp(rng):
    x = rng.normal(size=(5,))
    dout = rng.normal(size=(5,))
    t = torch.tensor(x, requires_grad=True)
    torch.sigmoid(t).backward(torch.tensor(dout))
    num = gradcheck.numerical_gradient_array(ref.sigmoid, x.copy(), dout)
    assert gradcheck.rel_error(num, t.grad.numpy()) < 1e-7


def test_rel_error():
    assert gradcheck.rel_error(np.ones(3), np.ones(3)) == 0.0
    assert gradcheck.rel_error([1.0], [3.0]) == pytest.approx(0.5)
    assert gradcheck.rel_error(np.zeros(2), np.zeros(2)) == 0.0


# ------------------------------------------------------------ correct variants: every check passes them
def _sigmoid_naive(x):
    return 1 / (1 + np.exp(-np.asarray(x, dtype=float)))


def _sigmoid_grad_loop(x):
    x = np.asarray(x, dtype=float)
    out = np.empty_like(x)
    for i, v in np.ndenumerate(x):
        s = 1 / (1 + np.exp(-v)) if v >= 0 else np.exp(v) / (1 + np.exp(v))
        out[i] = s * (1 - s)
    return out


def _mlp_norms_loop(x, weights, activation):
    """Per-sample loops and float32 arithmetic: a correct but different style."""
    f, fp = ref.ACTIVATIONS[activation]
    x = np.asarray(x, dtype=np.float32)
    ws = [np.asarray(W, dtype=np.float32) for W in weights]
    grads = [np.zeros_like(W) for W in ws]
    for n in range(x.shape[0]):
        hs, pre, h = [], [], x[n]
        for W in ws:
            a = W @ h
            hs.append(h)
            pre.append(a)
            h = f(a).astype(np.float32)
        dh = h / x.shape[0]
        for l in range(len(ws) - 1, -1, -1):
            delta = dh * fp(pre[l])
            grads[l] += np.outer(delta, hs[l]).astype(np.float32)
            dh = ws[l].T @ delta
    return [float(np.sqrt((g.astype(np.float64) ** 2).sum())) for g in grads]


def _mlp_norms_torch_float32(x, weights, activation):
    """A student who lets torch autograd do the backward pass, in float32."""
    f = {"sigmoid": torch.sigmoid, "tanh": torch.tanh, "relu": torch.relu}[activation]
    ws = [torch.tensor(W, dtype=torch.float32, requires_grad=True) for W in weights]
    h = torch.tensor(x, dtype=torch.float32)
    for W in ws:
        h = f(h @ W.T)
    (0.5 * (h ** 2).sum() / len(x)).backward()
    return torch.stack([W.grad.norm() for W in ws]).numpy()


def _clip_norm_no_eps(grads, max_norm):
    total = np.sqrt(sum((g ** 2).sum() for g in grads))
    if total > max_norm:
        return [g * (max_norm / total) for g in grads], total
    return [g.copy() for g in grads], total


def _clip_norm_float32(grads, max_norm):
    g32 = [np.asarray(g, np.float32) for g in grads]
    total = np.float32(np.sqrt(sum(np.sum(g * g) for g in g32)))
    scale = min(np.float32(1.0), np.float32(max_norm) / (total + np.float32(1e-6)))
    return tuple(g * scale for g in g32), total


def _clip_value_loop(grads, c):
    out = []
    for g in grads:
        g2 = np.array(g, dtype=float)
        for i, v in np.ndenumerate(g2):
            g2[i] = max(-c, min(c, v))
        out.append(g2)
    return out


VARIANTS = [
    ("check_sigmoid_grad", "reference", ref.sigmoid_grad),
    ("check_sigmoid_grad", "naive sigmoid (overflows for x=-700, silenced)",
     lambda x: _sigmoid_naive(x) * (1 - _sigmoid_naive(x))),
    ("check_sigmoid_grad", "loop", _sigmoid_grad_loop),
    ("check_sigmoid_grad", "float32", lambda x: ref.sigmoid_grad(x).astype(np.float32)),
    ("check_sigmoid_grad", "torch", lambda x: (lambda s: s * (1 - s))(torch.sigmoid(torch.as_tensor(x))).numpy()),
    ("check_tanh_grad", "reference", ref.tanh_grad),
    ("check_tanh_grad", "1/cosh^2", lambda x: 1 / np.cosh(x) ** 2),
    ("check_tanh_grad", "float32", lambda x: (1 - np.tanh(np.float32(x)) ** 2).astype(np.float32)),
    ("check_relu_grad", "reference", ref.relu_grad),
    ("check_relu_grad", "boolean mask", lambda x: np.asarray(x) > 0),
    ("check_relu_grad", "np.heaviside(x, 0)", lambda x: np.heaviside(x, 0.0)),
    ("check_relu_grad", "float32 where", lambda x: np.where(np.asarray(x) > 0, 1, 0).astype(np.float32)),
    ("check_mlp_grad_norms", "reference", ref.mlp_grad_norms),
    ("check_mlp_grad_norms", "per-sample loops in float32, returns a list", _mlp_norms_loop),
    ("check_mlp_grad_norms", "torch autograd in float32", _mlp_norms_torch_float32),
    ("check_clip_by_value", "reference", ref.clip_by_value),
    ("check_clip_by_value", "loops", _clip_value_loop),
    ("check_clip_by_value", "np.minimum/np.maximum, tuple",
     lambda gs, c: tuple(np.maximum(np.minimum(g, c), -c) for g in gs)),
    ("check_clip_by_global_norm", "reference", ref.clip_by_global_norm),
    ("check_clip_by_global_norm", "without torch's 1e-6", _clip_norm_no_eps),
    ("check_clip_by_global_norm", "float32, tuple", _clip_norm_float32),
    ("check_quiz_chain_rule", "2(x+y)", lambda x, y: 2 * (x + y)),
    ("check_quiz_chain_rule", "2t", lambda x, y: (lambda t: 2 * t)(x + y)),
]


@pytest.mark.parametrize("check, fn", cases(VARIANTS))
def test_check_accepts_correct_variant(check, fn):
    assert_accepts(getattr(chk, check), fn)


# ------------------------------------------------------------ known mistakes: every check fails them
def _norms_without_activation_derivative(x, weights, activation):
    f, _ = ref.ACTIVATIONS[activation]
    out, (hs, pre) = ref.mlp_forward(x, weights, activation)
    dh, norms = out / x.shape[0], []
    for l in reversed(range(len(weights))):
        norms.append(np.linalg.norm(dh.T @ hs[l]))
        dh = dh @ weights[l]
    return np.array(norms[::-1])


def _norms_derivative_at_output(x, weights, activation):
    """f' evaluated at h = f(a) instead of a: e.g. sigmoid'(sigmoid(a))."""
    f, fp = ref.ACTIVATIONS[activation]
    out, (hs, pre) = ref.mlp_forward(x, weights, activation)
    dh, norms = out / x.shape[0], []
    for l in reversed(range(len(weights))):
        delta = dh * fp(f(pre[l]))
        norms.append(np.linalg.norm(delta.T @ hs[l]))
        dh = delta @ weights[l]
    return np.array(norms[::-1])


def _clip_per_tensor(grads, max_norm):
    total = ref.global_norm(grads)
    return [g * min(1.0, max_norm / np.linalg.norm(g)) for g in grads], total


def _clip_always_scale(grads, max_norm):
    total = ref.global_norm(grads)
    return [g * max_norm / total for g in grads], total


def _clip_norm_after(grads, max_norm):
    clipped, _ = ref.clip_by_global_norm(grads, max_norm)
    return clipped, ref.global_norm(clipped)


def _clip_sum_of_norms(grads, max_norm):
    total = sum(np.linalg.norm(g) for g in grads)
    return [g * min(1.0, max_norm / total) for g in grads], total


def _clip_in_place(grads, max_norm):
    total = ref.global_norm(grads)
    for g in grads:
        g *= min(1.0, max_norm / (total + 1e-6))
    return grads, total


def _clip_value_in_place(grads, c):
    for g in grads:
        np.clip(g, -c, c, out=g)
    return grads


def _type_error(x):
    return x + "1"


def _stub(*args):
    raise NotImplementedError()


MISTAKES = [
    ("check_sigmoid_grad", "stub", _stub),
    ("check_sigmoid_grad", "formula applied to x: x(1-x)", lambda x: np.asarray(x) * (1 - np.asarray(x))),
    ("check_sigmoid_grad", "returns sigmoid itself", ref.sigmoid),
    ("check_sigmoid_grad", "derivative of tanh", ref.tanh_grad),
    ("check_sigmoid_grad", "returns None", lambda x: None),
    ("check_tanh_grad", "1 - x^2", lambda x: 1 - np.asarray(x) ** 2),
    ("check_tanh_grad", "1 - tanh (no square)", lambda x: 1 - np.tanh(x)),
    ("check_tanh_grad", "derivative of sigmoid", ref.sigmoid_grad),
    ("check_relu_grad", "1 at x = 0", lambda x: (np.asarray(x) >= 0).astype(float)),
    ("check_relu_grad", "returns relu(x)", ref.relu),
    ("check_relu_grad", "raises TypeError", _type_error),
    ("check_mlp_grad_norms", "stub", _stub),
    ("check_mlp_grad_norms", "missing activation derivative", _norms_without_activation_derivative),
    ("check_mlp_grad_norms", "derivative at the output instead of pre-activation", _norms_derivative_at_output),
    ("check_mlp_grad_norms", "layers in reverse order", lambda x, w, a: ref.mlp_grad_norms(x, w, a)[::-1]),
    ("check_mlp_grad_norms", "loss not averaged over N",
     lambda x, w, a: ref.mlp_grad_norms(x, w, a) * x.shape[0]),
    ("check_mlp_grad_norms", "squared norms", lambda x, w, a: ref.mlp_grad_norms(x, w, a) ** 2),
    ("check_mlp_grad_norms", "one norm missing", lambda x, w, a: ref.mlp_grad_norms(x, w, a)[1:]),
    ("check_clip_by_value", "upper side only", lambda gs, c: [np.minimum(g, c) for g in gs]),
    ("check_clip_by_value", "rescales instead of clamping",
     lambda gs, c: [g * min(1.0, c / np.abs(g).max()) for g in gs]),
    ("check_clip_by_value", "returns one array, not a list", lambda gs, c: np.clip(gs[0], -c, c)),
    ("check_clip_by_value", "modifies the input in place", _clip_value_in_place),
    ("check_clip_by_global_norm", "per-tensor clipping", _clip_per_tensor),
    ("check_clip_by_global_norm", "scales even below the threshold", _clip_always_scale),
    ("check_clip_by_global_norm", "returns the norm after clipping", _clip_norm_after),
    ("check_clip_by_global_norm", "sum of norms instead of global L2", _clip_sum_of_norms),
    ("check_clip_by_global_norm", "returns only the clipped list", lambda g, m: ref.clip_by_global_norm(g, m)[0]),
    ("check_clip_by_global_norm", "modifies the input in place", _clip_in_place),
    ("check_quiz_chain_rule", "2x (forgot t = x + y)", lambda x, y: 2 * x),
    ("check_quiz_chain_rule", "z itself", lambda x, y: (x + y) ** 2),
]


@pytest.mark.parametrize("check, fn", cases(MISTAKES))
def test_check_rejects_mistake(check, fn):
    name = check.replace("check_", "").replace("quiz_chain_rule", "dz_dx")
    assert_rejects(getattr(chk, check), fn, name=name)


@pytest.mark.parametrize("answer", [None, 0.5, 1, "a quarter", 0.2])
def test_quiz_sigmoid_max_rejects(answer):
    with pytest.raises(AssertionError):
        chk.check_quiz_sigmoid_max(answer)


@pytest.mark.parametrize("answer", [0.25, 1 / 4, np.float32(0.25)])
def test_quiz_sigmoid_max_accepts(answer):
    assert chk.check_quiz_sigmoid_max(answer) is None


def test_messages_are_actionable():
    msg = assert_rejects(chk.check_sigmoid_grad, ref.sigmoid, name="sigmoid_grad")
    assert "case 1 of" in msg and "expected" in msg and "got" in msg and "hint:" in msg
    msg = assert_rejects(chk.check_mlp_grad_norms, _stub)
    assert "not implemented yet" in msg
    msg = assert_rejects(chk.check_relu_grad, _type_error)
    assert "TypeError" in msg and "at line" in msg
    msg = assert_rejects(chk.check_mlp_grad_norms, lambda x, w, a: ref.mlp_grad_norms(x, w, a)[::-1])
    assert "last layer first" in msg


def test_visible_only_runs_fewer_cases():
    calls = []

    def spy(x):
        calls.append(1)
        return ref.sigmoid_grad(x)

    chk.check_sigmoid_grad(spy, visible_only=True)
    n_visible = len(calls)
    chk.check_sigmoid_grad(spy)
    assert 0 < n_visible < len(calls) - n_visible


def test_checks_survive_monkeypatched_numpy(monkeypatch):
    """A notebook that rebinds np.allclose / np.abs must not change the verdict."""
    monkeypatch.setattr(np, "allclose", lambda *a, **k: True)
    monkeypatch.setattr(np, "abs", lambda x: np.zeros_like(x))
    with pytest.raises(AssertionError):
        chk.check_sigmoid_grad(ref.sigmoid)


def test_checks_write_nothing_to_stderr(capfd):
    """Overflow in the student's code must not print a RuntimeWarning (nbgrader would score 0)."""
    chk.check_sigmoid_grad(lambda x: _sigmoid_naive(x) * (1 - _sigmoid_naive(x)))
    assert capfd.readouterr().err == ""
