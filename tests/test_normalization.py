"""Chapter 4: reference vs torch, and the checks vs known mistakes and correct variants.

Tolerances: float64 reference vs float64 torch, rtol 1e-10 unless stated; the
centered-difference gradient check (h = 1e-5) agrees to a relative error of 1e-6.
"""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from autograder import gradcheck
from autograder.checks import normalization as chk
from autograder.reference import normalization as ref
from checkkit import assert_accepts, assert_rejects, cases

pytestmark = pytest.mark.usefixtures("torch_float64")  # restored after each test
RTOL, ATOL = 1e-10, 1e-12


def T(a, grad=False):
    return torch.tensor(np.asarray(a, dtype=np.float64), requires_grad=grad)


def _affine(rng, shape):
    return rng.uniform(0.5, 2.0, size=shape), rng.normal(size=shape)


def _x(rng, shape, scale=2.0):
    return rng.normal(loc=0.5, scale=scale, size=shape)


# ------------------------------------------------------------ the shared core
@pytest.mark.parametrize("shape, axes", [((4, 5), (0,)), ((4, 5), (1,)), ((2, 3, 6), (0, 2)), ((2, 3, 6), (2,)),
                                         ((3, 4, 2, 2), (1, 2, 3))])
def test_normalize_matches_torch_var_mean(shape, axes, rng):
    x = _x(rng, shape)
    xhat, mean, var, inv_std = ref.normalize(x, axes, eps=1e-5)
    tv, tm = torch.var_mean(T(x), dim=axes, correction=0, keepdim=True)
    np.testing.assert_allclose(mean, tm.numpy(), rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(var, tv.numpy(), rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(xhat, ((T(x) - tm) / torch.sqrt(tv + 1e-5)).numpy(), rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(inv_std, torch.rsqrt(tv + 1e-5).numpy(), rtol=RTOL, atol=ATOL)


# ------------------------------------------------------------ batch norm vs torch
BN_SHAPES = [(4, 5), (3, 6, 4, 4), (1, 3, 5, 5), (2, 3, 7), (2, 4)]


def _bn_inputs(rng, shape):
    c = shape[1]
    x = _x(rng, shape) + rng.normal(size=(1, c) + (1,) * (len(shape) - 2))
    return (x, *_affine(rng, c), rng.normal(size=c), rng.uniform(0.5, 2.0, size=c))


@pytest.mark.parametrize("shape", BN_SHAPES)
@pytest.mark.parametrize("momentum, eps", [(0.1, 1e-5), (0.5, 1e-3)])
def test_batchnorm_forward_train_matches_torch(shape, momentum, eps, rng):
    x, g, b, rm, rv = _bn_inputs(rng, shape)
    before = [a.copy() for a in (x, g, b, rm, rv)]
    out, cache, new_rm, new_rv = ref.batchnorm_forward(x, g, b, rm, rv, train=True, momentum=momentum, eps=eps)
    trm, trv = T(rm), T(rv)
    tout = F.batch_norm(T(x), trm, trv, T(g), T(b), training=True, momentum=momentum, eps=eps)
    np.testing.assert_allclose(out, tout.numpy(), rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(new_rm, trm.numpy(), rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(new_rv, trv.numpy(), rtol=RTOL, atol=ATOL)
    assert cache is not None
    for a, a0 in zip((x, g, b, rm, rv), before):
        np.testing.assert_array_equal(a, a0)  # new arrays returned, inputs untouched


@pytest.mark.parametrize("shape", BN_SHAPES)
def test_batchnorm_forward_eval_matches_torch(shape, rng):
    x, g, b, rm, rv = _bn_inputs(rng, shape)
    out, cache, new_rm, new_rv = ref.batchnorm_forward(x, g, b, rm, rv, train=False)
    tout = F.batch_norm(T(x), T(rm), T(rv), T(g), T(b), training=False)
    np.testing.assert_allclose(out, tout.numpy(), rtol=RTOL, atol=ATOL)
    assert cache is None
    np.testing.assert_array_equal(new_rm, rm)
    np.testing.assert_array_equal(new_rv, rv)
    assert new_rm is not rm and new_rv is not rv


def test_batchnorm_running_stats_follow_torch_module_over_steps(rng):
    """Five training steps then eval: the same numbers as nn.BatchNorm2d (momentum 0.1, unbiased running var)."""
    layer = torch.nn.BatchNorm2d(3)
    rm, rv = np.zeros(3), np.ones(3)
    g, b = np.ones(3), np.zeros(3)
    for _ in range(5):
        x = _x(rng, (4, 3, 2, 2))
        layer.train()
        tout = layer(T(x))
        out, _, rm, rv = ref.batchnorm_forward(x, g, b, rm, rv, train=True)
        np.testing.assert_allclose(out, tout.detach().numpy(), rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(rm, layer.running_mean.numpy(), rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(rv, layer.running_var.numpy(), rtol=RTOL, atol=ATOL)
    layer.eval()
    x = _x(rng, (2, 3, 2, 2))
    np.testing.assert_allclose(ref.batchnorm_forward(x, g, b, rm, rv, train=False)[0],
                               layer(T(x)).detach().numpy(), rtol=RTOL, atol=ATOL)


def test_batchnorm_train_needs_more_than_one_value_per_channel(rng):
    x, g, b, rm, rv = _bn_inputs(rng, (1, 3))
    with pytest.raises(ValueError, match="more than 1 value"):
        ref.batchnorm_forward(x, g, b, rm, rv, train=True)
    with pytest.raises(ValueError):
        F.batch_norm(T(x), T(rm), T(rv), T(g), T(b), training=True)
    ref.batchnorm_forward(x, g, b, rm, rv, train=False)  # eval mode is fine with one example


def _autograd(fn, x, g, b, dout):
    tx, tg, tb = T(x, True), T(g, True), T(b, True)
    fn(tx, tg, tb).backward(T(dout))
    return tx.grad.numpy(), tg.grad.numpy(), tb.grad.numpy()


def _assert_grads(got, expected, rtol=1e-9, atol=1e-11):
    for a, e in zip(got, expected):
        np.testing.assert_allclose(a, e, rtol=rtol, atol=atol)


@pytest.mark.parametrize("shape", BN_SHAPES)
def test_batchnorm_backward_matches_autograd(shape, rng):
    x, g, b, rm, rv = _bn_inputs(rng, shape)
    dout = rng.normal(size=shape)
    _, cache, _, _ = ref.batchnorm_forward(x, g, b, rm, rv, train=True)
    expected = _autograd(lambda tx, tg, tb: F.batch_norm(tx, None, None, tg, tb, training=True), x, g, b, dout)
    _assert_grads(ref.batchnorm_backward(dout, cache), expected)


def _numeric(forward, x, g, b, dout, **kw):
    """(dx, dgamma, dbeta) by centered differences of sum(forward(...)[0] * dout)."""
    x, g, b = (np.array(a, dtype=np.float64) for a in (x, g, b))

    def f_x(z):
        return forward(z, g, b, **kw)[0]

    def f_g(z):
        return forward(x, z, b, **kw)[0]

    def f_b(z):
        return forward(x, g, z, **kw)[0]

    return tuple(gradcheck.numerical_gradient_array(f, a.copy(), dout) for f, a in ((f_x, x), (f_g, g), (f_b, b)))


@pytest.mark.parametrize("shape", [(4, 3), (2, 2, 3, 3), (1, 2, 2, 3)])
def test_batchnorm_backward_matches_numerical_gradient(shape, rng):
    x, g, b, rm, rv = _bn_inputs(rng, shape)
    dout = rng.normal(size=shape)

    def fwd(x_, g_, b_):
        out, cache, _, _ = ref.batchnorm_forward(x_, g_, b_, rm, rv, train=True)
        return out, cache

    _, cache = fwd(x, g, b)
    for a, n in zip(ref.batchnorm_backward(dout, cache), _numeric(fwd, x, g, b, dout)):
        assert gradcheck.rel_error(a, n) < 1e-6


# ------------------------------------------------------------ layer, instance, group norm vs torch
LN_SHAPES = [(4, 5), (3, 6, 4, 4), (1, 8), (2, 3, 5)]


@pytest.mark.parametrize("shape", LN_SHAPES)
def test_layernorm_forward_backward_match_torch(shape, rng):
    x = _x(rng, shape) + rng.normal(size=(shape[0],) + (1,) * (len(shape) - 1))
    g, b = _affine(rng, shape[1:])
    dout = rng.normal(size=shape)
    out, cache = ref.layernorm_forward(x, g, b, eps=1e-5)
    np.testing.assert_allclose(out, F.layer_norm(T(x), shape[1:], T(g), T(b), eps=1e-5).numpy(),
                               rtol=RTOL, atol=ATOL)
    expected = _autograd(lambda tx, tg, tb: F.layer_norm(tx, shape[1:], tg, tb, eps=1e-5), x, g, b, dout)
    _assert_grads(ref.layernorm_backward(dout, cache), expected)


IN_SHAPES = [(2, 3, 4, 4), (1, 3, 5, 5), (2, 3, 7), (3, 2, 2, 3)]


@pytest.mark.parametrize("shape", IN_SHAPES)
def test_instancenorm_forward_backward_match_torch(shape, rng):
    x = _x(rng, shape) + rng.normal(size=shape[:2] + (1,) * (len(shape) - 2))
    g, b = _affine(rng, shape[1])
    dout = rng.normal(size=shape)
    out, cache = ref.instancenorm_forward(x, g, b, eps=1e-5)
    np.testing.assert_allclose(out, F.instance_norm(T(x), weight=T(g), bias=T(b), eps=1e-5).numpy(),
                               rtol=RTOL, atol=ATOL)
    expected = _autograd(lambda tx, tg, tb: F.instance_norm(tx, weight=tg, bias=tb, eps=1e-5), x, g, b, dout)
    _assert_grads(ref.instancenorm_backward(dout, cache), expected)


GN_CASES = [((2, 6, 4, 4), 1), ((2, 6, 4, 4), 2), ((2, 6, 4, 4), 3), ((2, 6, 4, 4), 6), ((1, 4, 3, 3), 2),
            ((3, 6), 3), ((2, 8, 5), 4)]


@pytest.mark.parametrize("shape, groups", GN_CASES)
def test_groupnorm_forward_backward_match_torch(shape, groups, rng):
    x = _x(rng, shape) + rng.normal(size=shape[:2] + (1,) * (len(shape) - 2))
    g, b = _affine(rng, shape[1])
    dout = rng.normal(size=shape)
    out, cache = ref.groupnorm_forward(x, g, b, groups, eps=1e-5)
    np.testing.assert_allclose(out, F.group_norm(T(x), groups, T(g), T(b), eps=1e-5).numpy(), rtol=RTOL, atol=ATOL)
    expected = _autograd(lambda tx, tg, tb: F.group_norm(tx, groups, tg, tb, eps=1e-5), x, g, b, dout)
    _assert_grads(ref.groupnorm_backward(dout, cache), expected)


def test_groupnorm_rejects_indivisible_channels(rng):
    with pytest.raises(ValueError, match="groups"):
        ref.groupnorm_forward(rng.normal(size=(2, 6, 2, 2)), np.ones(6), np.zeros(6), 4)


def test_groupnorm_extremes_are_layer_and_instance_norm(rng):
    """G = C is instance norm; G = 1 is layer norm with a per-channel gamma."""
    x = _x(rng, (2, 4, 3, 3))
    g, b = _affine(rng, 4)
    np.testing.assert_allclose(ref.groupnorm_forward(x, g, b, 4)[0], ref.instancenorm_forward(x, g, b)[0],
                               rtol=1e-13, atol=1e-13)
    gl = np.broadcast_to(g.reshape(4, 1, 1), (4, 3, 3))
    bl = np.broadcast_to(b.reshape(4, 1, 1), (4, 3, 3))
    np.testing.assert_allclose(ref.groupnorm_forward(x, g, b, 1)[0], ref.layernorm_forward(x, gl, bl)[0],
                               rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("name, shape, extra", [
    ("layernorm", (3, 4), ()), ("layernorm", (2, 2, 3), ()), ("instancenorm", (2, 2, 2, 3), ()),
    ("groupnorm", (2, 4, 2, 2), (2,))])
def test_backward_matches_numerical_gradient(name, shape, extra, rng):
    fwd, bwd = getattr(ref, f"{name}_forward"), getattr(ref, f"{name}_backward")
    x = _x(rng, shape)
    pshape = shape[1:] if name == "layernorm" else (shape[1],)
    g, b = _affine(rng, pshape)
    dout = rng.normal(size=shape)
    _, cache = fwd(x, g, b, *extra)
    numeric = _numeric(lambda x_, g_, b_: fwd(x_, g_, b_, *extra), x, g, b, dout)
    for a, n in zip(bwd(dout, cache), numeric):
        assert gradcheck.rel_error(a, n) < 1e-6


# ------------------------------------------------------------ weight norm, weight standardization, LRN
def _torch_weight_norm_layer(layer):
    return torch.nn.utils.parametrizations.weight_norm(layer, dim=0)


@pytest.mark.parametrize("layer_fn", [lambda: torch.nn.Linear(3, 4), lambda: torch.nn.Conv2d(2, 3, 3),
                                      lambda: torch.nn.Conv1d(1, 5, 2)])
def test_weight_norm_matches_torch_parametrization(layer_fn, rng):
    layer = _torch_weight_norm_layer(layer_fn().double())
    p = layer.parametrizations.weight
    v = rng.normal(size=tuple(p.original1.shape))
    g = rng.uniform(0.5, 2.0, size=v.shape[0])
    with torch.no_grad():
        p.original1.copy_(T(v))
        p.original0.copy_(T(g).reshape(p.original0.shape))
    w = layer.weight
    np.testing.assert_allclose(ref.weight_norm(v, g), w.detach().numpy(), rtol=RTOL, atol=ATOL)
    dw = rng.normal(size=v.shape)
    w.backward(T(dw))
    dv, dg = ref.weight_norm_backward(dw, v, g)
    np.testing.assert_allclose(dv, p.original1.grad.numpy(), rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(dg, p.original0.grad.numpy().reshape(-1), rtol=1e-9, atol=1e-11)
    assert dg.shape == g.shape


def test_weight_norm_backward_matches_numerical_gradient(rng):
    v, g, dw = rng.normal(size=(3, 2, 2)), rng.uniform(0.5, 2, size=3), rng.normal(size=(3, 2, 2))
    dv, dg = ref.weight_norm_backward(dw, v, g)
    assert gradcheck.rel_error(dv, gradcheck.numerical_gradient_array(lambda z: ref.weight_norm(z, g), v.copy(),
                                                                      dw)) < 1e-6
    assert gradcheck.rel_error(dg, gradcheck.numerical_gradient_array(lambda z: ref.weight_norm(v, z), g.copy(),
                                                                      dw)) < 1e-6


@pytest.mark.parametrize("shape", [(4, 3), (3, 2, 3, 3), (5, 1), (2, 1, 1, 1)])
@pytest.mark.parametrize("eps", [1e-5, 1e-2])
def test_weight_standardize_matches_torch(shape, eps, rng):
    w = rng.normal(loc=0.2, scale=0.5, size=shape)
    tw = T(w)
    dims = tuple(range(1, w.ndim))
    var, mean = torch.var_mean(tw, dim=dims, correction=0, keepdim=True)
    np.testing.assert_allclose(ref.weight_standardize(w, eps), ((tw - mean) / torch.sqrt(var + eps)).numpy(),
                               rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(ref.weight_standardize(w, eps), F.layer_norm(tw, shape[1:], eps=eps).numpy(),
                               rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("shape", [(2, 6, 3, 3), (1, 7, 4), (2, 5, 2, 2, 2)])
@pytest.mark.parametrize("size", [1, 2, 3, 4, 5, 9])
def test_local_response_norm_matches_torch(shape, size, rng):
    x = rng.normal(scale=3.0, size=shape)
    for alpha, beta, k in [(1e-4, 0.75, 1.0), (0.5, 0.75, 2.0), (2.0, 1.0, 0.5)]:
        np.testing.assert_allclose(ref.local_response_norm(x, size, alpha, beta, k),
                                   F.local_response_norm(T(x), size, alpha, beta, k).numpy(), rtol=RTOL, atol=ATOL)


def test_alexnet_lrn_is_torch_lrn_with_alpha_times_n(rng):
    """AlexNet: b = a / (k + alpha * sum a^2)^beta, k=2, n=5, alpha=1e-4 -> torch alpha = 5e-4."""
    x = rng.normal(scale=30.0, size=(2, 8, 3, 3))  # large activations, so the sum matters
    sq = np.pad(x * x, [(0, 0), (2, 2), (0, 0), (0, 0)])
    alexnet = x / (2.0 + 1e-4 * sum(sq[:, j:j + 8] for j in range(5))) ** 0.75
    np.testing.assert_allclose(F.local_response_norm(T(x), 5, alpha=5e-4, beta=0.75, k=2.0).numpy(), alexnet,
                               rtol=RTOL)
    np.testing.assert_allclose(ref.local_response_norm(x, 5, alpha=5e-4, beta=0.75, k=2.0), alexnet, rtol=RTOL)


# ------------------------------------------------------------ the experiments' MLP vs torch
def test_softmax_cross_entropy_matches_torch(rng):
    z, y = rng.normal(scale=3, size=(6, 4)), rng.integers(0, 4, size=6)
    loss, d = ref.softmax_cross_entropy(z, y)
    tz = T(z, True)
    tl = F.cross_entropy(tz, torch.tensor(y))
    tl.backward()
    assert loss == pytest.approx(tl.item(), rel=1e-12)
    np.testing.assert_allclose(d, tz.grad.numpy(), rtol=1e-10, atol=1e-14)


def _torch_mlp_grads(params, x, y, bn):
    tp = {k: [None if p is None else T(p, True) for p in v] for k, v in params.items()}
    h = T(x)
    n_layers = len(tp["W"])
    for l in range(n_layers):
        a = h @ tp["W"][l].T
        if tp["b"][l] is not None:
            a = a + tp["b"][l]
        if l == n_layers - 1:
            break
        if bn:
            a = F.batch_norm(a, None, None, tp["gamma"][l], tp["beta"][l], training=True)
        h = torch.relu(a)
    loss = F.cross_entropy(a, torch.tensor(y))
    loss.backward()
    return loss.item(), {k: [None if p is None else p.grad.numpy() for p in v] for k, v in tp.items()}


@pytest.mark.parametrize("bn", [False, True])
def test_mlp_gradients_match_autograd(bn, rng):
    x, y = rng.normal(size=(8, 5)), rng.integers(0, 3, size=8)
    params, state = ref.init_mlp([5, 7, 6, 3], rng, bn=bn)
    for k in ("gamma", "beta", "b"):  # non-trivial values, so their gradients are exercised
        params[k] = [None if p is None else rng.normal(size=p.shape) for p in params[k]]
    logits, cache, new_state, bn_inputs = ref.mlp_forward(params, state, x, train=True)
    loss, dlogits = ref.softmax_cross_entropy(logits, y)
    grads = ref.mlp_backward(dlogits, params, cache)
    tloss, tgrads = _torch_mlp_grads(params, x, y, bn)
    assert loss == pytest.approx(tloss, rel=1e-12)
    assert len(bn_inputs) == (2 if bn else 0)
    for k in params:
        for g, tg in zip(grads[k], tgrads[k]):
            assert (g is None) == (tg is None)
            if g is not None:
                np.testing.assert_allclose(g, tg, rtol=1e-9, atol=1e-12)


def test_mlp_dropout_gradient_matches_numerical(rng):
    """With the dropout mask fixed by the seed, backward is the gradient of the forward."""
    x, y = rng.normal(size=(6, 4)), rng.integers(0, 3, size=6)
    params, state = ref.init_mlp([4, 5, 5, 3], rng, bn=True)

    def loss_of(W0):
        p = dict(params, W=[W0] + params["W"][1:])
        logits, *_ = ref.mlp_forward(p, state, x, train=True, dropout=0.3, dropout_where="every",
                                     rng=np.random.default_rng(7))
        return ref.softmax_cross_entropy(logits, y)[0]

    logits, cache, _, _ = ref.mlp_forward(params, state, x, train=True, dropout=0.3, dropout_where="every",
                                          rng=np.random.default_rng(7))
    grads = ref.mlp_backward(ref.softmax_cross_entropy(logits, y)[1], params, cache)
    numeric = gradcheck.numerical_gradient(loss_of, params["W"][0].copy())
    assert gradcheck.rel_error(grads["W"][0], numeric) < 1e-6


def test_train_mlp_bn_survives_a_learning_rate_that_diverges_without_it():
    """The page's claim at one learning rate, on scikit-learn's digits (bundled, no download)."""
    from sklearn.datasets import load_digits
    x, y = load_digits(return_X_y=True)
    x, y = x[:512], y[:512]
    x = (x - x.mean(axis=0)) / (x.std(axis=0) + 1e-8)
    kw = dict(hidden=[64] * 8, lr=1.0, steps=40, batch_size=64, seed=0)
    plain = ref.train_mlp(x, y, bn=False, **kw)
    bn = ref.train_mlp(x, y, bn=True, **kw)
    assert plain["diverged"] and not bn["diverged"]
    assert bn["losses"][-10:].mean() < bn["losses"][:5].mean()
    assert 0.0 <= ref.mlp_accuracy(bn["params"], bn["state"], x, y) <= 1.0


# ------------------------------------------------------------ correct variants: every check passes them
def _bn_fwd_loops(x, gamma, beta, running_mean, running_var, *, train=True, momentum=0.1, eps=1e-5):
    """One channel at a time, moving the channel axis first."""
    x = np.asarray(x, dtype=float)
    xc = np.moveaxis(x, 1, 0)
    out = np.empty_like(xc)
    rm, rv = np.array(running_mean, dtype=float), np.array(running_var, dtype=float)
    for c in range(xc.shape[0]):
        v = xc[c]
        if train:
            mu, var = v.mean(), v.var()
            rm[c] = (1 - momentum) * rm[c] + momentum * mu
            rv[c] = (1 - momentum) * rv[c] + momentum * v.var(ddof=1)
        else:
            mu, var = running_mean[c], running_var[c]
        out[c] = gamma[c] * (v - mu) / np.sqrt(var + eps) + beta[c]
    return np.moveaxis(out, 0, 1), None, rm, rv


def _bn_fwd_float32(x, gamma, beta, running_mean, running_var, *, train=True, momentum=0.1, eps=1e-5,
                    dtype=np.float32, one_pass=False):
    """float32, statistics by reshape to (C, -1), CS231n-style momentum written correctly for torch's
    convention; one_pass: the variance as E[x^2] - E[x]^2 (fine in float64, not in float32)."""
    x = np.asarray(x, dtype=dtype)
    n, c = x.shape[:2]
    flat = np.moveaxis(x, 1, -1).reshape(-1, c)
    shape = (1, c) + (1,) * (x.ndim - 2)
    keep = np.float32(1 - momentum)
    if train:
        mu = flat.mean(axis=0)
        var = (flat ** 2).mean(axis=0) - mu ** 2 if one_pass else ((flat - mu) ** 2).mean(axis=0)
        m = flat.shape[0]
        rm = keep * running_mean + (1 - keep) * mu
        rv = keep * running_var + (1 - keep) * var * m / (m - 1)
    else:
        mu, var, rm, rv = running_mean, running_var, running_mean.copy(), running_var.copy()
    xhat = (x - mu.reshape(shape).astype(np.float32)) / np.sqrt(var.reshape(shape).astype(np.float32) + eps)
    out = gamma.reshape(shape).astype(np.float32) * xhat + beta.reshape(shape).astype(np.float32)
    return out, (xhat, var, gamma, eps), rm.astype(np.float32), rv.astype(np.float32)


def _bn_fwd_torch(x, gamma, beta, running_mean, running_var, *, train=True, momentum=0.1, eps=1e-5):
    rm, rv = T(running_mean), T(running_var)
    tx, tg, tb = T(x, True), T(gamma, True), T(beta, True)
    out = F.batch_norm(tx, rm, rv, tg, tb, training=train, momentum=momentum, eps=eps)
    return out.detach().numpy(), (out, tx, tg, tb), rm.numpy(), rv.numpy()


def _bn_bwd_torch(dout, cache):
    out, tx, tg, tb = cache
    return tuple(t.numpy() for t in torch.autograd.grad(out, (tx, tg, tb), T(dout)))


def _axes(x):
    return (0,) + tuple(range(2, np.ndim(x)))


def _bn_fwd_compact(x, gamma, beta, running_mean, running_var, *, train=True, momentum=0.1, eps=1e-5):
    """Keeps (x, mean, var, gamma, eps) in the cache; the backward pass recomputes x_hat."""
    x = np.asarray(x, dtype=float)
    ax = _axes(x)
    shape = (1, -1) + (1,) * (x.ndim - 2)
    if not train:
        xhat = (x - running_mean.reshape(shape)) / np.sqrt(running_var.reshape(shape) + eps)
        return gamma.reshape(shape) * xhat + beta.reshape(shape), None, running_mean, running_var
    mu, var = x.mean(axis=ax), x.var(axis=ax)
    m = x.size // x.shape[1]
    xhat = (x - mu.reshape(shape)) / np.sqrt(var.reshape(shape) + eps)
    out = gamma.reshape(shape) * xhat + beta.reshape(shape)
    rm = (1 - momentum) * running_mean + momentum * mu
    rv = (1 - momentum) * running_var + momentum * var * m / (m - 1)
    return out, {"x": x, "mu": mu, "var": var, "gamma": gamma, "eps": eps}, rm, rv


def _bn_bwd_compact(dout, cache):
    """dx = gamma / (m sigma) * (m dout - sum dout - x_hat sum(dout x_hat))."""
    x, mu, var, gamma, eps = cache["x"], cache["mu"], cache["var"], cache["gamma"], cache["eps"]
    ax = _axes(x)
    shape = (1, -1) + (1,) * (x.ndim - 2)
    m = x.size // x.shape[1]
    inv = 1 / np.sqrt(var.reshape(shape) + eps)
    xhat = (x - mu.reshape(shape)) * inv
    dbeta = dout.sum(axis=ax)
    dgamma = (dout * xhat).sum(axis=ax)
    dx = gamma.reshape(shape) * inv / m * (m * dout - dbeta.reshape(shape) - xhat * dgamma.reshape(shape))
    return dx, dgamma, dbeta


def _bn_fwd_staged(x, gamma, beta, running_mean, running_var, *, train=True, momentum=0.1, eps=1e-5):
    """The computational graph one node at a time, every intermediate kept (CS231n style)."""
    x = np.asarray(x, dtype=float)
    ax = _axes(x)
    shape = (1, -1) + (1,) * (x.ndim - 2)
    m = x.size // x.shape[1]
    if train:
        mu = x.mean(axis=ax, keepdims=True)
    else:
        mu = running_mean.reshape(shape)
    xmu = x - mu
    sq = xmu ** 2
    var = sq.mean(axis=ax, keepdims=True) if train else running_var.reshape(shape)
    sqrtvar = np.sqrt(var + eps)
    ivar = 1 / sqrtvar
    xhat = xmu * ivar
    g = gamma.reshape(shape)
    out = g * xhat + beta.reshape(shape)
    if not train:
        return out, None, running_mean.copy(), running_var.copy()
    rm = (1 - momentum) * running_mean + momentum * mu.reshape(-1)
    rv = (1 - momentum) * running_var + momentum * var.reshape(-1) * m / (m - 1)
    return out, (xhat, g, xmu, ivar, sqrtvar, var, eps, ax, m), rm, rv


def _bn_bwd_staged(dout, cache):
    xhat, g, xmu, ivar, sqrtvar, var, eps, ax, m = cache
    dbeta = dout.sum(axis=ax)
    dgamma = (dout * xhat).sum(axis=ax)
    dxhat = dout * g
    divar = (dxhat * xmu).sum(axis=ax, keepdims=True)
    dxmu1 = dxhat * ivar
    dsqrtvar = -divar / sqrtvar ** 2
    dvar = 0.5 / np.sqrt(var + eps) * dsqrtvar
    dsq = np.ones_like(xmu) * dvar / m
    dxmu2 = 2 * xmu * dsq
    dx1 = dxmu1 + dxmu2
    dmu = -dx1.sum(axis=ax, keepdims=True)
    dx2 = np.ones_like(xmu) * dmu / m
    return dx1 + dx2, dgamma, dbeta


def _bn_bwd_float32(dout, cache):
    xhat, var, gamma, eps = cache
    ax = _axes(xhat)
    shape = (1, -1) + (1,) * (xhat.ndim - 2)
    dout = dout.astype(np.float32)
    inv = (1 / np.sqrt(var.astype(np.float32) + np.float32(eps))).reshape(shape)
    dxhat = dout * gamma.astype(np.float32).reshape(shape)
    dx = inv * (dxhat - dxhat.mean(axis=ax, keepdims=True) - xhat * (dxhat * xhat).mean(axis=ax, keepdims=True))
    return dx, (dout * xhat).sum(axis=ax), dout.sum(axis=ax)


def _ln_fwd_transposed(x, gamma, beta, eps=1e-5):
    """Layer norm as batch norm of the transposed (D, N) matrix: statistics down the columns."""
    x2 = np.asarray(x, dtype=float).reshape(x.shape[0], -1).T
    mu, var = x2.mean(axis=0), x2.var(axis=0)
    xhat = ((x2 - mu) / np.sqrt(var + eps)).T.reshape(x.shape)
    return gamma * xhat + beta, (xhat, 1 / np.sqrt(var + eps), gamma)


def _ln_bwd_transposed(dout, cache):
    xhat, inv, gamma = cache
    n = xhat.shape[0]
    dxhat = (dout * gamma).reshape(n, -1).T
    xh = xhat.reshape(n, -1).T
    dx = inv * (dxhat - dxhat.mean(axis=0) - xh * (dxhat * xh).mean(axis=0))
    return dx.T.reshape(xhat.shape), (dout * xhat).sum(axis=0), dout.sum(axis=0)


def _ln_fwd_loops_float32(x, gamma, beta, eps=1e-5):
    x = np.asarray(x, dtype=np.float32)
    out = np.empty_like(x)
    for n in range(x.shape[0]):
        out[n] = gamma * (x[n] - x[n].mean()) / np.sqrt(x[n].var() + eps) + beta
    return out, None


def _torch_fwd(fn):
    """Any normalization through torch, its cache the graph for _torch_bwd."""
    def forward(x, gamma, beta, *rest, **kw):
        tx, tg, tb = T(x, True), T(gamma, True), T(beta, True)
        out = fn(tx, tg, tb, *rest, **kw)
        return out.detach().numpy(), (out, tx, tg, tb)
    return forward


_ln_fwd_torch = _torch_fwd(lambda x, g, b, eps=1e-5: F.layer_norm(x, tuple(g.shape), g, b, eps))
_in_fwd_torch = _torch_fwd(lambda x, g, b, eps=1e-5: F.instance_norm(x, weight=g, bias=b, eps=eps))
_gn_fwd_torch = _torch_fwd(lambda x, g, b, G, eps=1e-5: F.group_norm(x, G, g, b, eps))


def _in_fwd_via_bn(x, gamma, beta, eps=1e-5):
    """Instance norm as batch norm of a (1, N*C, H, W) tensor: each (n, c) becomes a channel."""
    n, c = x.shape[:2]
    xr = x.reshape(1, n * c, -1)
    mu, var = xr.mean(axis=(0, 2), keepdims=True), xr.var(axis=(0, 2), keepdims=True)
    xhat = ((xr - mu) / np.sqrt(var + eps)).reshape(x.shape)
    return gamma.reshape(1, c, 1, 1) * xhat + beta.reshape(1, c, 1, 1), (xhat, var, gamma, eps)


def _in_bwd_via_bn(dout, cache):
    xhat, var, gamma, eps = cache
    n, c = xhat.shape[:2]
    dxhat = (dout * gamma.reshape(1, c, 1, 1)).reshape(1, n * c, -1)
    xh = xhat.reshape(1, n * c, -1)
    dx = (dxhat - dxhat.mean(axis=2, keepdims=True) - xh * (dxhat * xh).mean(axis=2, keepdims=True)) / np.sqrt(
        var + eps)
    return dx.reshape(xhat.shape), (dout * xhat).sum(axis=(0, 2, 3)), dout.sum(axis=(0, 2, 3))


def _in_fwd_loops(x, gamma, beta, eps=1e-5):
    out = np.empty(x.shape, dtype=np.float32)
    for n in range(x.shape[0]):
        for c in range(x.shape[1]):
            v = x[n, c]
            out[n, c] = gamma[c] * (v - v.mean()) / np.sqrt(v.var() + eps) + beta[c]
    return out, "no cache"


def _gn_fwd_loops(x, gamma, beta, G, eps=1e-5):
    out = np.empty_like(np.asarray(x, dtype=float))
    per = x.shape[1] // G
    for n in range(x.shape[0]):
        for gi in range(G):
            v = x[n, gi * per:(gi + 1) * per]
            out[n, gi * per:(gi + 1) * per] = (v - v.mean()) / np.sqrt(v.var() + eps)
    shape = (1, -1) + (1,) * (x.ndim - 2)
    return out * gamma.reshape(shape) + beta.reshape(shape), None


def _gn_fwd_5d(x, gamma, beta, G, eps=1e-5):
    """Reshape to (N, G, C//G, H, W), keep x_hat and 1/sigma for a compact backward; float32."""
    x = np.asarray(x, dtype=np.float32)
    n, c, h, w = x.shape
    xg = x.reshape(n, G, c // G, h, w)
    mu = xg.mean(axis=(2, 3, 4), keepdims=True)
    inv = 1 / np.sqrt(xg.var(axis=(2, 3, 4), keepdims=True) + np.float32(eps))
    xhat = ((xg - mu) * inv).reshape(x.shape)
    return gamma.reshape(1, c, 1, 1) * xhat + beta.reshape(1, c, 1, 1), (xhat, inv, gamma, G)


def _gn_bwd_5d(dout, cache):
    xhat, inv, gamma, G = cache
    n, c, h, w = xhat.shape
    dxhat = (dout * gamma.reshape(1, c, 1, 1)).reshape(n, G, c // G, h, w)
    xh = xhat.reshape(dxhat.shape)
    ax = (2, 3, 4)
    dx = inv * (dxhat - dxhat.mean(axis=ax, keepdims=True) - xh * (dxhat * xh).mean(axis=ax, keepdims=True))
    return dx.reshape(xhat.shape), (dout * xhat).sum(axis=(0, 2, 3)), dout.sum(axis=(0, 2, 3))


def _torch_bwd(dout, cache):
    out, tx, tg, tb = cache
    return tuple(t.numpy() for t in torch.autograd.grad(out, (tx, tg, tb), T(dout)))


def _wn_loops(v, g):
    w = np.empty_like(np.asarray(v, dtype=float))
    for i in range(v.shape[0]):
        w[i] = g[i] * v[i] / np.sqrt((v[i] ** 2).sum())
    return w


def _wn_backward_torch(dw, v, g):
    tv, tg = T(v, True), T(g, True)
    w = torch._weight_norm(tv, tg.reshape((-1,) + (1,) * (v.ndim - 1)), 0)
    dv, dg = torch.autograd.grad(w, (tv, tg), T(dw))
    return dv.numpy(), dg.numpy()


def _wn_backward_projection(dw, v, g):
    """dv = g/||v|| (I - u u^T) dw with u = v/||v||, row by row."""
    dv, dg = np.empty_like(v), np.empty_like(g)
    for i in range(v.shape[0]):
        vi, di = v[i].ravel(), dw[i].ravel()
        nv = np.linalg.norm(vi)
        u = vi / nv
        dg[i] = di @ u
        dv[i] = (g[i] / nv * (np.eye(vi.size) - np.outer(u, u)) @ di).reshape(v[i].shape)
    return dv, dg


def _lrn_loops(x, size, alpha=1e-4, beta=0.75, k=1.0):
    out = np.empty_like(np.asarray(x, dtype=float))
    c = x.shape[1]
    for ch in range(c):
        lo, hi = max(0, ch - size // 2), min(c, ch + (size - 1) // 2 + 1)
        s = (x[:, lo:hi] ** 2).sum(axis=1)
        out[:, ch] = x[:, ch] / (k + alpha / size * s) ** beta
    return out


def _lrn_cumsum_float32(x, size, alpha=1e-4, beta=0.75, k=1.0):
    x = np.asarray(x, dtype=np.float32)
    c = x.shape[1]
    sq = np.moveaxis(x * x, 1, 0)
    cs = np.concatenate([np.zeros((1,) + sq.shape[1:], np.float32), np.cumsum(sq, axis=0)])
    idx = np.arange(c)
    lo, hi = np.clip(idx - size // 2, 0, c), np.clip(idx + (size - 1) // 2 + 1, 0, c)
    s = np.moveaxis(cs[hi] - cs[lo], 0, 1)
    return x / (k + alpha / size * s) ** beta


VARIANTS = [
    ("check_batchnorm_forward", "reference", ref.batchnorm_forward),
    ("check_batchnorm_forward", "loops over channels (moveaxis)", _bn_fwd_loops),
    ("check_batchnorm_forward", "float32, reshape, momentum as 1-keep", _bn_fwd_float32),
    ("check_batchnorm_forward", "variance as E[x^2]-E[x]^2 (float64)",
     lambda *a, **k: _bn_fwd_float32(*a, **k, dtype=np.float64, one_pass=True)),
    ("check_batchnorm_forward", "torch F.batch_norm", _bn_fwd_torch),
    ("check_batchnorm_forward", "compact (x, mean, var) cache", _bn_fwd_compact),
    ("check_batchnorm_forward", "staged graph", _bn_fwd_staged),
    ("check_batchnorm_backward", "reference", (ref.batchnorm_forward, ref.batchnorm_backward)),
    ("check_batchnorm_backward", "compact formula", (_bn_fwd_compact, _bn_bwd_compact)),
    ("check_batchnorm_backward", "staged graph", (_bn_fwd_staged, _bn_bwd_staged)),
    ("check_batchnorm_backward", "float32", (_bn_fwd_float32, _bn_bwd_float32)),
    ("check_batchnorm_backward", "torch autograd", (_bn_fwd_torch, _bn_bwd_torch)),
    ("check_layernorm_forward", "reference", ref.layernorm_forward),
    ("check_layernorm_forward", "batch norm of the transpose", _ln_fwd_transposed),
    ("check_layernorm_forward", "loops, float32", _ln_fwd_loops_float32),
    ("check_layernorm_forward", "torch", _ln_fwd_torch),
    ("check_layernorm_backward", "reference", (ref.layernorm_forward, ref.layernorm_backward)),
    ("check_layernorm_backward", "batch norm of the transpose", (_ln_fwd_transposed, _ln_bwd_transposed)),
    ("check_layernorm_backward", "torch autograd", (_ln_fwd_torch, _torch_bwd)),
    ("check_instancenorm_forward", "reference", ref.instancenorm_forward),
    ("check_instancenorm_forward", "batch norm of (1, N*C, H, W)", _in_fwd_via_bn),
    ("check_instancenorm_forward", "loops, float32", _in_fwd_loops),
    ("check_instancenorm_forward", "torch", _in_fwd_torch),
    ("check_instancenorm_backward", "reference", (ref.instancenorm_forward, ref.instancenorm_backward)),
    ("check_instancenorm_backward", "batch norm of (1, N*C, H, W)", (_in_fwd_via_bn, _in_bwd_via_bn)),
    ("check_instancenorm_backward", "torch autograd", (_in_fwd_torch, _torch_bwd)),
    ("check_groupnorm_forward", "reference", ref.groupnorm_forward),
    ("check_groupnorm_forward", "loops over groups", _gn_fwd_loops),
    ("check_groupnorm_forward", "5-D reshape, float32", _gn_fwd_5d),
    ("check_groupnorm_forward", "torch", _gn_fwd_torch),
    ("check_groupnorm_backward", "reference", (ref.groupnorm_forward, ref.groupnorm_backward)),
    ("check_groupnorm_backward", "5-D reshape, float32", (_gn_fwd_5d, _gn_bwd_5d)),
    ("check_groupnorm_backward", "torch autograd", (_gn_fwd_torch, _torch_bwd)),
    ("check_weight_norm", "reference", ref.weight_norm),
    ("check_weight_norm", "loops over rows", _wn_loops),
    ("check_weight_norm", "np.linalg.norm of rows, float32",
     lambda v, g: (g.reshape((-1,) + (1,) * (v.ndim - 1)) * v / np.linalg.norm(
         v.reshape(len(v), -1), axis=1).reshape((-1,) + (1,) * (v.ndim - 1))).astype(np.float32)),
    ("check_weight_norm", "torch._weight_norm",
     lambda v, g: torch._weight_norm(T(v), T(g).reshape((-1,) + (1,) * (v.ndim - 1)), 0).numpy()),
    ("check_weight_norm_backward", "reference", ref.weight_norm_backward),
    ("check_weight_norm_backward", "torch autograd", _wn_backward_torch),
    ("check_weight_norm_backward", "projection matrix per row", _wn_backward_projection),
    ("check_weight_standardize", "reference", ref.weight_standardize),
    ("check_weight_standardize", "np.std of rows",
     lambda w, eps=1e-5: (lambda r: ((r - r.mean(1, keepdims=True)) / np.sqrt(r.std(1, keepdims=True) ** 2 + eps))
                          .reshape(w.shape))(w.reshape(len(w), -1))),
    ("check_weight_standardize", "torch layer_norm, float32",
     lambda w, eps=1e-5: F.layer_norm(torch.tensor(w, dtype=torch.float32), w.shape[1:], eps=eps).numpy()),
    ("check_local_response_norm", "reference", ref.local_response_norm),
    ("check_local_response_norm", "loops over channels", _lrn_loops),
    ("check_local_response_norm", "cumulative sum, float32", _lrn_cumsum_float32),
    ("check_local_response_norm", "torch",
     lambda x, size, alpha=1e-4, beta=0.75, k=1.0: F.local_response_norm(T(x), size, alpha, beta, k).numpy()),
]


@pytest.mark.parametrize("check, fn", cases(VARIANTS))
def test_check_accepts_correct_variant(check, fn):
    check_fn = getattr(chk, check)
    if isinstance(fn, tuple):
        assert check_fn(*fn) is None
    else:
        assert_accepts(check_fn, fn)


# ------------------------------------------------------------ known mistakes: every check fails them
def _stub(*args, **kwargs):
    raise NotImplementedError()


def _bn_with(**mistake):
    """A batch norm forward with one named mistake."""
    def forward(x, gamma, beta, running_mean, running_var, *, train=True, momentum=0.1, eps=1e-5):
        x = np.asarray(x, dtype=float)
        ax = (0,) if mistake.get("stats_per_position") else _axes(x)
        shape = (1, -1) + (1,) * (x.ndim - 2)
        m = x.size // x.shape[1]
        mu, var = x.mean(axis=ax, keepdims=True), x.var(axis=ax, keepdims=True)
        var_norm = x.var(axis=ax, keepdims=True, ddof=1) if mistake.get("unbiased_norm") else var
        use_batch = train or mistake.get("batch_stats_in_eval")
        if use_batch:
            mean_n, var_n = mu, var_norm
        else:
            mean_n, var_n = running_mean.reshape(shape), running_var.reshape(shape)
        denom = np.sqrt(var_n) + eps if mistake.get("eps_outside") else np.sqrt(var_n + eps)
        xhat = (x - mean_n) / denom
        out = xhat if mistake.get("no_affine") else gamma.reshape(shape) * xhat + beta.reshape(shape)
        if mistake.get("swap_affine"):
            out = beta.reshape(shape) * xhat + gamma.reshape(shape)
        if not train and not mistake.get("update_in_eval"):
            return out, None, running_mean.copy(), running_var.copy()
        bm, bv = mu.reshape(-1)[: len(running_mean)], var.reshape(-1)[: len(running_var)]
        if mistake.get("stats_per_position"):
            bm, bv = x.mean(axis=_axes(x)), x.var(axis=_axes(x))
        bv_run = bv if mistake.get("biased_running") else bv * m / (m - 1)
        mom = 0.1 if mistake.get("fixed_momentum") else momentum
        if mistake.get("cs231n_momentum"):
            rm, rv = mom * running_mean + (1 - mom) * bm, mom * running_var + (1 - mom) * bv_run
        else:
            rm, rv = (1 - mom) * running_mean + mom * bm, (1 - mom) * running_var + mom * bv_run
        if mistake.get("no_update"):
            rm, rv = running_mean, running_var
        if mistake.get("in_place"):
            running_mean[:] = rm
            running_var[:] = rv
            rm, rv = running_mean, running_var
        cache = {"x": x, "mu": mu.reshape(-1), "var": var.reshape(-1), "gamma": gamma, "eps": eps}
        if mistake.get("three_values"):
            return out, rm, rv
        return out, cache, rm, rv
    return forward


def _bn_bwd_with(**mistake):
    """A batch norm backward (for _bn_fwd_compact's cache) with one named mistake."""
    def backward(dout, cache):
        x, mu, var, gamma, eps = cache["x"], cache["mu"], cache["var"], cache["gamma"], cache["eps"]
        ax = _axes(x)
        shape = (1, -1) + (1,) * (x.ndim - 2)
        m = x.size // x.shape[1]
        inv = 1 / np.sqrt(var.reshape(shape) + eps)
        xhat = (x - mu.reshape(shape)) * inv
        dbeta = dout.mean(axis=ax) if mistake.get("dbeta_mean") else dout.sum(axis=ax)
        dgamma = dout.sum(axis=ax) if mistake.get("dgamma_no_xhat") else (dout * xhat).sum(axis=ax)
        g = np.ones_like(gamma) if mistake.get("no_gamma") else gamma
        if mistake.get("in_place"):
            dout *= g.reshape(shape)
            dxhat = dout
        else:
            dxhat = dout * g.reshape(shape)
        if mistake.get("xhat_only"):
            return dxhat * inv, dgamma, dbeta
        mean_term = dxhat.mean(axis=ax, keepdims=True)
        var_term = 0 if mistake.get("no_var_path") else xhat * (dxhat * xhat).sum(axis=ax, keepdims=True) / (
            m - 1 if mistake.get("m_minus_1") else m)
        dx = inv * (dxhat - mean_term - var_term)
        if mistake.get("dx_only"):
            return dx
        return dx, dgamma, dbeta
    return backward


def _ln_with(**mistake):
    def forward(x, gamma, beta, eps=1e-5):
        x = np.asarray(x, dtype=float)
        if mistake.get("batch_axis"):
            ax = (0,)
        elif mistake.get("last_axis_only"):
            ax = (x.ndim - 1,)
        else:
            ax = tuple(range(1, x.ndim))
        mu = x.mean(axis=ax, keepdims=True)
        var = x.var(axis=ax, keepdims=True, ddof=1 if mistake.get("unbiased") else 0)
        denom = np.sqrt(var) + eps if mistake.get("eps_outside") else np.sqrt(var + eps)
        xhat = (x - mu) / denom
        out = xhat if mistake.get("no_affine") else gamma * xhat + beta
        return out, (xhat, 1 / denom, gamma)
    return forward


def _ln_bwd_with(**mistake):
    def backward(dout, cache):
        xhat, inv, gamma = cache
        ax = tuple(range(1, xhat.ndim))
        dxhat = dout * gamma
        if mistake.get("xhat_only"):
            dx = dxhat * inv
        elif mistake.get("no_var_path"):
            dx = inv * (dxhat - dxhat.mean(axis=ax, keepdims=True))
        else:
            dx = inv * (dxhat - dxhat.mean(axis=ax, keepdims=True) - xhat * (dxhat * xhat).mean(axis=ax, keepdims=True))
        dgamma = (dout * xhat).sum() if mistake.get("dgamma_all_axes") else (dout * xhat).sum(axis=0)
        dbeta = dout.sum(axis=ax) if mistake.get("dbeta_wrong_axes") else dout.sum(axis=0)
        return dx, dgamma, dbeta
    return backward


def _in_with(stat_axes, ddof=0):
    def forward(x, gamma, beta, eps=1e-5):
        ax = stat_axes(x)
        xhat = (x - x.mean(axis=ax, keepdims=True)) / np.sqrt(x.var(axis=ax, keepdims=True, ddof=ddof) + eps)
        return gamma.reshape(1, -1, 1, 1) * xhat + beta.reshape(1, -1, 1, 1), None
    return forward


def _in_bwd_xhat_only(dout, cache):
    xhat, inv_std, g, shape = cache  # the reference forward's cache layout: (N, C, H*W) views
    return (dout.reshape(xhat.shape) * g * inv_std).reshape(shape), \
        (dout.reshape(xhat.shape) * xhat).sum(axis=(0, 2)), dout.sum(axis=(0, 2, 3))


def _gn_with(layout):
    def forward(x, gamma, beta, G, eps=1e-5):
        n, c, h, w = x.shape
        if layout == "interleaved":      # (N, C/G, G, H, W): group = c % G
            xg, ax = x.reshape(n, c // G, G, h, w), (1, 3, 4)
        elif layout == "G_as_size":      # C/G groups of G channels
            xg, ax = x.reshape(n, c // G, G, h, w), (2, 3, 4)
        elif layout == "no_space":       # statistics over the group's channels, per position
            xg, ax = x.reshape(n, G, c // G, h, w), (2,)
        else:                            # unbiased variance
            xg, ax = x.reshape(n, G, c // G, h, w), (2, 3, 4)
        ddof = 1 if layout == "unbiased" else 0
        xhat = ((xg - xg.mean(axis=ax, keepdims=True)) / np.sqrt(xg.var(axis=ax, keepdims=True, ddof=ddof) + eps))
        return gamma.reshape(1, c, 1, 1) * xhat.reshape(x.shape) + beta.reshape(1, c, 1, 1), None
    return forward


def _gn_bwd_with(mistake):
    def backward(dout, cache):
        xhat, inv, gamma, G = cache
        n, c, h, w = xhat.shape
        dxhat = (dout * gamma.reshape(1, c, 1, 1)).reshape(n, G, c // G, h, w)
        xh = xhat.reshape(dxhat.shape)
        ax = (2, 3, 4)
        if mistake == "xhat_only":
            dx = inv * dxhat
        else:
            dx = inv * (dxhat - dxhat.mean(axis=ax, keepdims=True))
        return dx.reshape(xhat.shape), (dout * xhat).sum(axis=(0, 2, 3)), dout.sum(axis=(0, 2, 3))
    return backward


def _bshape(g, v):
    return g.reshape((-1,) + (1,) * (v.ndim - 1))


def _rows_norm(v):
    return np.linalg.norm(v.reshape(len(v), -1), axis=1)


def _ws_with(axes_fn, center=True, ddof=0, eps_outside=False):
    def standardize(w, eps=1e-5):
        ax = axes_fn(w)
        mu = w.mean(axis=ax, keepdims=True) if center else 0.0
        var = w.var(axis=ax, keepdims=True, ddof=ddof)
        return (w - mu) / ((np.sqrt(var) + eps) if eps_outside else np.sqrt(var + eps))
    return standardize


def _lrn_with(before, after, alpha_div=True, square=True, power=True, wrap=False, k_used=True):
    def lrn(x, size, alpha=1e-4, beta=0.75, k=1.0):
        c = x.shape[1]
        sq = x * x if square else np.abs(x)
        s = np.zeros_like(sq)
        for j in range(-before(size), after(size) + 1):
            if wrap:
                s += np.roll(sq, -j, axis=1)
            else:
                lo, hi = max(0, -j), min(c, c - j)
                s[:, lo:hi] += sq[:, lo + j:hi + j]
        d = (k if k_used else 0.0) + (alpha / size if alpha_div else alpha) * s
        return x / (d ** beta if power else d)
    return lrn


_HALF, _HALF_DOWN = (lambda s: s // 2), (lambda s: (s - 1) // 2)

MISTAKES = [
    ("check_batchnorm_forward", "stub", _stub),
    ("check_batchnorm_forward", "unbiased variance in the normalization", _bn_with(unbiased_norm=True)),
    ("check_batchnorm_forward", "biased variance in the running update", _bn_with(biased_running=True)),
    ("check_batchnorm_forward", "CS231n momentum (weights the old value)", _bn_with(cs231n_momentum=True)),
    ("check_batchnorm_forward", "eps outside the square root", _bn_with(eps_outside=True)),
    ("check_batchnorm_forward", "batch statistics in eval mode", _bn_with(batch_stats_in_eval=True)),
    ("check_batchnorm_forward", "spatial statistics per (C, H, W)", _bn_with(stats_per_position=True)),
    ("check_batchnorm_forward", "no gamma and beta", _bn_with(no_affine=True)),
    ("check_batchnorm_forward", "gamma and beta swapped", _bn_with(swap_affine=True)),
    ("check_batchnorm_forward", "running statistics not updated", _bn_with(no_update=True)),
    ("check_batchnorm_forward", "running statistics updated in eval mode", _bn_with(update_in_eval=True)),
    ("check_batchnorm_forward", "momentum argument ignored", _bn_with(fixed_momentum=True)),
    ("check_batchnorm_forward", "running statistics modified in place", _bn_with(in_place=True)),
    ("check_batchnorm_forward", "returns three values", _bn_with(three_values=True)),
    ("check_batchnorm_backward", "stub", (_bn_fwd_compact, _stub)),
    ("check_batchnorm_backward", "through x_hat only", (_bn_fwd_compact, _bn_bwd_with(xhat_only=True))),
    ("check_batchnorm_backward", "no variance path", (_bn_fwd_compact, _bn_bwd_with(no_var_path=True))),
    ("check_batchnorm_backward", "dgamma without x_hat", (_bn_fwd_compact, _bn_bwd_with(dgamma_no_xhat=True))),
    ("check_batchnorm_backward", "dbeta as a mean", (_bn_fwd_compact, _bn_bwd_with(dbeta_mean=True))),
    ("check_batchnorm_backward", "gamma missing from dx", (_bn_fwd_compact, _bn_bwd_with(no_gamma=True))),
    ("check_batchnorm_backward", "m - 1 in the variance path", (_bn_fwd_compact, _bn_bwd_with(m_minus_1=True))),
    ("check_batchnorm_backward", "dout modified in place", (_bn_fwd_compact, _bn_bwd_with(in_place=True))),
    ("check_batchnorm_backward", "returns dx only", (_bn_fwd_compact, _bn_bwd_with(dx_only=True))),
    ("check_batchnorm_backward", "right backward, forward with unbiased variance",
     (_bn_with(unbiased_norm=True), _bn_bwd_compact)),
    ("check_layernorm_forward", "stub", _stub),
    ("check_layernorm_forward", "statistics over the batch axis", _ln_with(batch_axis=True)),
    ("check_layernorm_forward", "statistics over the last axis only", _ln_with(last_axis_only=True)),
    ("check_layernorm_forward", "unbiased variance", _ln_with(unbiased=True)),
    ("check_layernorm_forward", "eps outside the square root", _ln_with(eps_outside=True)),
    ("check_layernorm_forward", "no gamma and beta", _ln_with(no_affine=True)),
    ("check_layernorm_backward", "through x_hat only", (_ln_with(), _ln_bwd_with(xhat_only=True))),
    ("check_layernorm_backward", "no variance path", (_ln_with(), _ln_bwd_with(no_var_path=True))),
    ("check_layernorm_backward", "dgamma summed over every axis", (_ln_with(), _ln_bwd_with(dgamma_all_axes=True))),
    ("check_layernorm_backward", "dbeta per example", (_ln_with(), _ln_bwd_with(dbeta_wrong_axes=True))),
    ("check_instancenorm_forward", "stub", _stub),
    ("check_instancenorm_forward", "equal to layer norm (over C, H, W)", _in_with(lambda x: (1, 2, 3))),
    ("check_instancenorm_forward", "equal to batch norm (over N, H, W)", _in_with(lambda x: (0, 2, 3))),
    ("check_instancenorm_forward", "over H only", _in_with(lambda x: (2,))),
    ("check_instancenorm_forward", "unbiased variance", _in_with(lambda x: (2, 3), ddof=1)),
    ("check_instancenorm_backward", "through x_hat only", (ref.instancenorm_forward, _in_bwd_xhat_only)),
    ("check_groupnorm_forward", "stub", _stub),
    ("check_groupnorm_forward", "reshaped (N, C/G, G): interleaved groups", _gn_with("interleaved")),
    ("check_groupnorm_forward", "num_groups taken as the group size", _gn_with("G_as_size")),
    ("check_groupnorm_forward", "statistics without H and W", _gn_with("no_space")),
    ("check_groupnorm_forward", "unbiased variance", _gn_with("unbiased")),
    ("check_groupnorm_backward", "through x_hat only", (_gn_fwd_5d, _gn_bwd_with("xhat_only"))),
    ("check_groupnorm_backward", "no variance path", (_gn_fwd_5d, _gn_bwd_with("no_var_path"))),
    ("check_weight_norm", "stub", _stub),
    ("check_weight_norm", "norm over axis 0", lambda v, g: _bshape(g, v) * v / np.linalg.norm(v, axis=0)),
    ("check_weight_norm", "norm of the whole tensor", lambda v, g: _bshape(g, v) * v / np.linalg.norm(v)),
    ("check_weight_norm", "g missing", lambda v, g: v / _bshape(_rows_norm(v), v)),
    ("check_weight_norm", "divides by the squared norm", lambda v, g: _bshape(g, v) * v / _bshape(_rows_norm(v) ** 2,
                                                                                                   v)),
    ("check_weight_norm_backward", "dv without the projection",
     lambda dw, v, g: (_bshape(g / _rows_norm(v), v) * dw, ref.weight_norm_backward(dw, v, g)[1])),
    ("check_weight_norm_backward", "dg not divided by the norm",
     lambda dw, v, g: (ref.weight_norm_backward(dw, v, g)[0], (dw * v).reshape(len(v), -1).sum(axis=1))),
    ("check_weight_standardize", "stub", _stub),
    ("check_weight_standardize", "no centering", _ws_with(lambda w: tuple(range(1, w.ndim)), center=False)),
    ("check_weight_standardize", "unbiased variance", _ws_with(lambda w: tuple(range(1, w.ndim)), ddof=1)),
    ("check_weight_standardize", "over axis 0", _ws_with(lambda w: (0,))),
    ("check_weight_standardize", "one mean for the whole tensor", _ws_with(lambda w: None)),
    ("check_weight_standardize", "eps outside the square root",
     _ws_with(lambda w: tuple(range(1, w.ndim)), eps_outside=True)),
    ("check_local_response_norm", "stub", _stub),
    ("check_local_response_norm", "alpha not divided by size", _lrn_with(_HALF, _HALF_DOWN, alpha_div=False)),
    ("check_local_response_norm", "symmetric window for even sizes", _lrn_with(_HALF, _HALF)),
    ("check_local_response_norm", "window wraps around", _lrn_with(_HALF, _HALF_DOWN, wrap=True)),
    ("check_local_response_norm", "sum of |a| instead of a^2", _lrn_with(_HALF, _HALF_DOWN, square=False)),
    ("check_local_response_norm", "no power beta", _lrn_with(_HALF, _HALF_DOWN, power=False)),
    ("check_local_response_norm", "k left out", _lrn_with(_HALF, _HALF_DOWN, k_used=False)),
]


def _check_name(check):
    return check.replace("check_", "")


@pytest.mark.parametrize("check, fn", cases(MISTAKES))
def test_check_rejects_mistake(check, fn):
    check_fn = getattr(chk, check)
    if isinstance(fn, tuple):
        assert_rejects(lambda pair: check_fn(*pair), fn, name=_check_name(check))
    else:
        assert_rejects(check_fn, fn, name=_check_name(check))


@pytest.mark.parametrize("check, fn, expected_hint", [
    ("check_batchnorm_forward", _bn_with(unbiased_norm=True), "biased variance"),
    ("check_batchnorm_forward", _bn_with(biased_running=True), "unbiased batch variance"),
    ("check_batchnorm_forward", _bn_with(cs231n_momentum=True), "*new* batch statistic"),
    ("check_batchnorm_forward", _bn_with(eps_outside=True), "inside the square root"),
    ("check_batchnorm_forward", _bn_with(batch_stats_in_eval=True), "running_mean and running_var"),
    ("check_batchnorm_forward", _bn_with(stats_per_position=True), "one mean and variance per channel"),
    ("check_batchnorm_backward", (_bn_fwd_compact, _bn_bwd_with(xhat_only=True)), "all three paths"),
    ("check_batchnorm_backward", (_bn_fwd_compact, _bn_bwd_with(dgamma_no_xhat=True)), "not dout alone"),
    ("check_batchnorm_backward", (_bn_with(unbiased_norm=True), _bn_bwd_compact), "fix batchnorm_forward first"),
    ("check_layernorm_forward", _ln_with(batch_axis=True), "which is batch norm"),
    ("check_instancenorm_forward", _in_with(lambda x: (1, 2, 3)), "is layer norm"),
    ("check_groupnorm_forward", _gn_with("interleaved"), "*consecutive* channels"),
    ("check_weight_norm", lambda v, g: _bshape(g, v) * v / np.linalg.norm(v, axis=0), "not over axis 0"),
    ("check_weight_standardize", _ws_with(lambda w: tuple(range(1, w.ndim)), center=False), "centering"),
    ("check_local_response_norm", _lrn_with(_HALF, _HALF_DOWN, alpha_div=False), "divides alpha by the window"),
])
def test_hint_names_the_mistake(check, fn, expected_hint):
    check_fn = getattr(chk, check)
    run = (lambda pair: check_fn(*pair)) if isinstance(fn, tuple) else check_fn
    msg = assert_rejects(run, fn)
    assert expected_hint in msg, msg
    assert "case " in msg and "expected" in msg and "got" in msg


# ------------------------------------------------------------ quiz
@pytest.mark.parametrize("answer", [{"a", "c"}, "ac", "c, a", ["A", "C"], ("c", "a")])
def test_quiz_bn_effects_accepts(answer):
    assert chk.check_quiz_bn_effects(answer) is None


@pytest.mark.parametrize("answer", [None, "a", "abc", {"a", "b"}, {"b", "d"}, "cd", 3, {"a", "z"}])
def test_quiz_bn_effects_rejects(answer):
    with pytest.raises(AssertionError, match="bn_effects"):
        chk.check_quiz_bn_effects(answer)


def test_quiz_lrn_alpha():
    assert chk.check_quiz_lrn_alpha(5e-4) is None
    for wrong in (1e-4, 2e-5, None, "five"):
        with pytest.raises(AssertionError):
            chk.check_quiz_lrn_alpha(wrong)


# ------------------------------------------------------------ contract
def test_visible_only_runs_fewer_cases():
    calls = []

    def spy(*args, **kwargs):
        calls.append(1)
        return ref.batchnorm_forward(*args, **kwargs)

    chk.check_batchnorm_forward(spy, visible_only=True)
    n_visible = len(calls)
    calls.clear()
    chk.check_batchnorm_forward(spy)
    assert 0 < n_visible < len(calls)


def test_messages_are_actionable():
    msg = assert_rejects(chk.check_layernorm_forward, _stub, name="layernorm_forward")
    assert "not implemented yet" in msg
    def broken_backward(dout, cache):
        return dout.reshape(3, 2)

    msg = assert_rejects(lambda f: chk.check_groupnorm_backward(ref.groupnorm_forward, f), broken_backward,
                         name="groupnorm_backward")
    assert "raised" in msg and "at line" in msg


def test_checks_survive_monkeypatched_numpy(monkeypatch):
    monkeypatch.setattr(np, "allclose", lambda *a, **k: True)
    monkeypatch.setattr(np.testing, "assert_allclose", lambda *a, **k: None)
    with pytest.raises(AssertionError):
        chk.check_layernorm_forward(_ln_with(batch_axis=True))


def test_checks_write_nothing_to_stderr(capfd):
    """Mistakes that divide by zero (an unbiased variance of one entry) stay silent."""
    with pytest.raises(AssertionError):
        chk.check_weight_standardize(_ws_with(lambda w: tuple(range(1, w.ndim)), ddof=1))
    with pytest.raises(AssertionError):
        chk.check_batchnorm_forward(_bn_with(unbiased_norm=True))
    chk.check_weight_standardize(ref.weight_standardize)
    assert capfd.readouterr().err == ""
