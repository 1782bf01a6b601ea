"""Chapter 7: reference vs torch/scipy, and the checks vs known mistakes and correct variants."""
import numpy as np
import pytest
import scipy.ndimage
import scipy.special
import torch
import torch.nn.functional as F

from autograder import gradcheck
from autograder.checks import regularization as chk
from autograder.reference import regularization as ref
from checkkit import assert_accepts, assert_rejects, cases

pytestmark = pytest.mark.usefixtures("torch_float64")  # restored after each test
WEIGHT_SHAPES = [[(4, 3)], [(3, 2), (5,)], [(2, 3, 4), (6, 2), (1,)]]


def _t(a, grad=False):
    return torch.tensor(np.asarray(a, dtype=np.float64), requires_grad=grad)


# ------------------------------------------------------------ penalties vs torch autograd (float64, rtol 1e-12)
def _torch_penalty(weights, fn):
    ws = [_t(w, grad=True) for w in weights]
    value = fn(ws)
    value.backward()
    return value.item(), [w.grad.numpy() for w in ws]


def _assert_penalty(got, expected):
    value, grads = got
    e_value, e_grads = expected
    assert value == pytest.approx(e_value, rel=1e-12, abs=1e-15)
    assert len(grads) == len(e_grads)
    for g, e in zip(grads, e_grads):
        np.testing.assert_allclose(g, e, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("shapes", WEIGHT_SHAPES)
@pytest.mark.parametrize("lam", [0.0, 1e-3, 0.7])
def test_l1_penalty_matches_autograd(shapes, lam, rng):
    ws = [rng.normal(size=s) for s in shapes]
    ws[0].flat[0] = 0.0  # torch's gradient of |w| at 0 is 0, and so must ours be
    _assert_penalty(ref.l1_penalty(ws, lam),
                    _torch_penalty(ws, lambda ts: lam * sum(t.abs().sum() for t in ts)))


@pytest.mark.parametrize("shapes", WEIGHT_SHAPES)
@pytest.mark.parametrize("lam", [0.0, 1e-3, 0.7])
def test_l2_penalty_matches_autograd(shapes, lam, rng):
    ws = [rng.normal(size=s) for s in shapes]
    _assert_penalty(ref.l2_penalty(ws, lam),
                    _torch_penalty(ws, lambda ts: 0.5 * lam * sum((t ** 2).sum() for t in ts)))


@pytest.mark.parametrize("shapes", WEIGHT_SHAPES)
def test_elastic_net_matches_autograd(shapes, rng):
    ws = [rng.normal(size=s) for s in shapes]
    lam1, lam2 = 0.03, 0.4
    _assert_penalty(ref.elastic_net_penalty(ws, lam1, lam2), _torch_penalty(
        ws, lambda ts: sum(lam1 * t.abs().sum() + 0.5 * lam2 * (t ** 2).sum() for t in ts)))


def test_l2_gradient_step_is_torch_sgd_weight_decay(rng):
    """SGD on loss + l2_penalty equals torch.optim.SGD(weight_decay=lam) on the loss alone."""
    w0, g, lr, lam = rng.normal(size=(3, 4)), rng.normal(size=(3, 4)), 0.1, 0.05
    p = _t(w0, grad=True)
    opt = torch.optim.SGD([p], lr=lr, weight_decay=lam)
    p.grad = _t(g)
    opt.step()
    _, (dpen,) = ref.l2_penalty([w0], lam)
    np.testing.assert_allclose(w0 - lr * (g + dpen), p.detach().numpy(), rtol=1e-13, atol=1e-15)


def test_penalties_do_not_modify_inputs(rng):
    ws = [rng.normal(size=(3, 3)), rng.normal(size=(2,))]
    before = [w.copy() for w in ws]
    ref.l1_penalty(ws, 0.1), ref.l2_penalty(ws, 0.1), ref.elastic_net_penalty(ws, 0.1, 0.2)
    for b, w in zip(before, ws):
        np.testing.assert_array_equal(b, w)


# ------------------------------------------------------------ dropout: torch's conventions and statistics
@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_dropout_mask_values_are_torchs(p, rng):
    """Kept entries are scaled by 1/(1-p): the same two values torch's F.dropout produces."""
    torch.manual_seed(0)
    torch_vals = np.unique(F.dropout(torch.ones(4000), p=p, training=True).numpy())
    _, mask = ref.dropout_forward(np.ones(4000), p, rng)
    np.testing.assert_allclose(np.unique(mask), torch_vals, rtol=1e-12)


@pytest.mark.parametrize("p", [0.2, 0.5, 0.9])
def test_dropout_statistics(p, rng):
    """Drop rate p, E[out] = x and Var[out] = x^2 p / (1 - p), checked within 5 standard errors."""
    n = 200_000
    x = np.full(n, 1.7)
    out, mask = ref.dropout_forward(x, p, rng)
    rate = np.mean(mask == 0)
    assert abs(rate - p) < 5 * np.sqrt(p * (1 - p) / n)
    var = 1.7 ** 2 * p / (1 - p)
    assert abs(out.mean() - 1.7) < 5 * np.sqrt(var / n)
    assert out.var() == pytest.approx(var, rel=0.05)
    np.testing.assert_array_equal(out, x * mask)


def test_dropout_entries_are_independent(rng):
    """Pairs of entries are dropped together with probability p^2 (independence), not p."""
    p, n = 0.3, 100_000
    _, mask = ref.dropout_forward(np.ones((n, 2)), p, rng)
    both = np.mean((mask[:, 0] == 0) & (mask[:, 1] == 0))
    assert abs(both - p * p) < 5 * np.sqrt(p * p * (1 - p * p) / n)


@pytest.mark.parametrize("train, p", [(False, 0.5), (False, 0.0), (True, 0.0), (False, 1.0)])
def test_dropout_identity_matches_torch(train, p, rng):
    x = rng.normal(size=(3, 4, 5))
    out, mask = ref.dropout_forward(x, p, rng, train=train)
    np.testing.assert_array_equal(out, F.dropout(_t(x), p=p, training=train).numpy())
    np.testing.assert_array_equal(mask, np.ones_like(x))


def test_dropout_p_one_matches_torch(rng):
    x = rng.normal(size=(4, 6))
    out, _ = ref.dropout_forward(x, 1.0, rng)
    np.testing.assert_array_equal(out, F.dropout(_t(x), p=1.0, training=True).numpy())


def test_dropout_rejects_bad_p(rng):
    with pytest.raises(ValueError, match="probability"):
        ref.dropout_forward(np.ones(3), 1.5, rng)


def test_dropout_draws_from_the_generator_only(rng):
    x = rng.normal(size=(10, 10))
    np.random.seed(0)
    _, m1 = ref.dropout_forward(x, 0.5, np.random.default_rng(3))
    np.random.rand(100)  # the global stream must play no part
    g = np.random.default_rng(3)
    _, m2 = ref.dropout_forward(x, 0.5, g)
    np.testing.assert_array_equal(m1, m2)
    assert g.bit_generator.state != np.random.default_rng(3).bit_generator.state  # rng was consumed
    _, m3 = ref.dropout_forward(x, 0.5, np.random.default_rng(4))
    assert not np.array_equal(m1, m3)


@pytest.mark.parametrize("shape, p", [((4, 5), 0.5), ((2, 3, 4, 4), 0.2), ((7,), 0.9)])
def test_dropout_backward_matches_autograd(shape, p, rng):
    x, dout = rng.normal(size=shape), rng.normal(size=shape)
    out, mask = ref.dropout_forward(x, p, np.random.default_rng(1))
    t = _t(x, grad=True)
    (t * _t(mask)).backward(_t(dout))  # torch's dropout is x * mask with this mask
    np.testing.assert_allclose(ref.dropout_backward(dout, mask), t.grad.numpy(), rtol=1e-14, atol=0)
    num = gradcheck.numerical_gradient_array(
        lambda z: ref.dropout_forward(z, p, np.random.default_rng(1))[0], x.copy(), dout)
    assert gradcheck.rel_error(num, ref.dropout_backward(dout, mask)) < 1e-8


# ------------------------------------------------------------ softmax and cross-entropy vs torch
LOGIT_CASES = [(4, 3, 1.0, 0.0), (6, 10, 3.0, 0.0), (5, 4, 2.0, 1000.0), (3, 7, 5.0, -1000.0), (1, 2, 1.0, 0.0)]


def _logits(rng, n, k, scale, offset):
    return rng.normal(scale=scale, size=(n, k)) + offset


@pytest.mark.parametrize("n, k, scale, offset", LOGIT_CASES)
def test_softmax_and_log_softmax_match_torch(n, k, scale, offset, rng):
    z = _logits(rng, n, k, scale, offset)
    with np.errstate(all="raise"):  # no overflow anywhere
        s, ls = ref.softmax(z), ref.log_softmax(z)
    np.testing.assert_allclose(s, torch.softmax(_t(z), -1).numpy(), rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(ls, F.log_softmax(_t(z), -1).numpy(), rtol=1e-11, atol=1e-12)


def test_softmax_on_higher_rank_input(rng):
    z = rng.normal(size=(2, 3, 5))
    np.testing.assert_allclose(ref.softmax(z), torch.softmax(_t(z), -1).numpy(), rtol=1e-12)


@pytest.mark.parametrize("n, k, scale, offset", LOGIT_CASES)
@pytest.mark.parametrize("eps", [0.0, 0.1, 0.35, 1.0])
def test_cross_entropy_matches_torch(n, k, scale, offset, eps, rng):
    """Loss vs F.cross_entropy(label_smoothing=eps), gradient vs autograd: rtol 1e-10."""
    z, y = _logits(rng, n, k, scale, offset), rng.integers(0, k, size=n)
    t = _t(z, grad=True)
    torch_loss = F.cross_entropy(t, torch.tensor(y), label_smoothing=eps)
    torch_loss.backward()
    with np.errstate(all="raise"):
        loss, dz = ref.cross_entropy(z, y, label_smoothing=eps)
    assert loss == pytest.approx(torch_loss.item(), rel=1e-10, abs=1e-12)
    np.testing.assert_allclose(dz, t.grad.numpy(), rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("k, eps", [(3, 0.1), (10, 0.2), (2, 0.5), (5, 0.0)])
def test_smooth_labels_are_torchs_targets(k, eps, rng):
    """Cross-entropy with smooth_labels as soft targets equals torch's label_smoothing=eps."""
    n = 6
    z, y = rng.normal(size=(n, k)), rng.integers(0, k, size=n)
    q = ref.smooth_labels(y, k, eps)
    np.testing.assert_allclose(q.sum(axis=1), 1.0, rtol=1e-14)
    soft = F.cross_entropy(_t(z), _t(q)).item()
    hard = F.cross_entropy(_t(z), torch.tensor(y), label_smoothing=eps).item()
    assert soft == pytest.approx(hard, rel=1e-12)


def test_smooth_labels_notes_example():
    """The notes' (0.05, 0.8, 0.05, 0.05, 0.05) is torch's convention with K = 5, eps = 0.25."""
    np.testing.assert_allclose(ref.smooth_labels([1], 5, 0.25), [[0.05, 0.8, 0.05, 0.05, 0.05]], rtol=1e-14)


# ------------------------------------------------------------ distillation vs torch kl_div + autograd
@pytest.mark.parametrize("n, k, T, alpha", [(4, 3, 4.0, 0.9), (6, 10, 2.0, 0.5), (5, 4, 1.0, 1.0),
                                            (3, 5, 8.0, 0.0), (2, 6, 20.0, 0.7)])
def test_distillation_loss_matches_torch(n, k, T, alpha, rng):
    z, t_logits, y = rng.normal(size=(n, k)), rng.normal(scale=4, size=(n, k)), rng.integers(0, k, size=n)
    zt = _t(z, grad=True)
    kl = F.kl_div(F.log_softmax(zt / T, -1), F.softmax(_t(t_logits) / T, -1), reduction="batchmean")
    torch_loss = alpha * T * T * kl + (1 - alpha) * F.cross_entropy(zt, torch.tensor(y))
    torch_loss.backward()
    loss, dz = ref.distillation_loss(z, t_logits, y, T=T, alpha=alpha)
    assert loss == pytest.approx(torch_loss.item(), rel=1e-10, abs=1e-13)
    np.testing.assert_allclose(dz, zt.grad.numpy(), rtol=1e-10, atol=1e-14)


def test_distillation_defaults_are_T4_alpha09(rng):
    z, t_logits, y = rng.normal(size=(3, 4)), rng.normal(size=(3, 4)), np.array([0, 1, 3])
    a = ref.distillation_loss(z, t_logits, y)
    b = ref.distillation_loss(z, t_logits, y, T=4.0, alpha=0.9)
    assert a[0] == b[0]


def test_distillation_gradient_scale_does_not_shrink_with_T(rng):
    """The T^2 factor keeps the soft gradient O(1) as T grows (Hinton et al.): |dz| ~ (z - t)/(K N) at large T."""
    z, t_logits, y = rng.normal(size=(4, 5)), rng.normal(size=(4, 5)), rng.integers(0, 5, size=4)
    norms = [np.linalg.norm(ref.distillation_loss(z, t_logits, y, T=T, alpha=1.0)[1]) for T in (10, 100, 1000)]
    assert max(norms) / min(norms) < 1.05


# ------------------------------------------------------------ early stopping vs an independent formulation
def _early_stopping_by_chain(losses, patience, min_delta):
    """Oracle: the chain of improving epochs i0 < i1 < ..., then the first gap of `patience` non-improving
    epochs after one of them.  Written from the definition, not from a counter."""
    chain = []
    for e, v in enumerate(losses):
        if not chain or v < losses[chain[-1]] - min_delta:
            chain.append(e)
    for j, i in enumerate(chain):
        nxt = chain[j + 1] if j + 1 < len(chain) else len(losses)
        if nxt - i > patience:  # epochs i+1 .. i+patience all fail to improve
            return i + patience, i
    return None, (chain[-1] if chain else None)


@pytest.mark.parametrize("seed", range(40))
def test_early_stopping_matches_definition(seed):
    r = np.random.default_rng(seed)
    n = int(r.integers(1, 40))
    losses = np.round(np.cumsum(r.normal(scale=0.1, size=n)) + r.normal(scale=0.05, size=n), 2)
    patience = int(r.integers(1, 6))
    min_delta = float(r.choice([0.0, 0.0, 0.01, 0.05]))
    assert ref.early_stopping(losses, patience, min_delta) == _early_stopping_by_chain(list(losses), patience,
                                                                                       min_delta)


@pytest.mark.parametrize("losses, patience, min_delta, expected", [
    ([1.0, 0.8, 0.7, 0.75, 0.72, 0.71], 3, 0.0, (5, 2)),   # three epochs after the best at 2
    ([1.0, 0.8, 0.7, 0.75, 0.72, 0.71], 4, 0.0, (None, 2)),
    ([0.5, 0.5, 0.5], 2, 0.0, (2, 0)),                     # equal is not better
    ([1.0, 0.97, 0.965, 0.9], 2, 0.04, (2, 0)),            # 0.97 and 0.965 are not below 1.0 - 0.04
    ([1.0, 0.97, 0.94, 0.89], 2, 0.04, (None, 3)),         # 0.94 < 0.96 and 0.89 < 0.90 both improve
    ([], 3, 0.0, (None, None)),
    ([0.3], 1, 0.0, (None, 0)),
])
def test_early_stopping_by_hand(losses, patience, min_delta, expected):
    assert ref.early_stopping(losses, patience, min_delta) == expected


# ------------------------------------------------------------ augmentation vs scipy / torch on the same draws
@pytest.mark.parametrize("shape", [(5, 8, 8), (4, 3, 6, 7)])
@pytest.mark.parametrize("max_shift", [0, 1, 3])
def test_random_shift_matches_scipy(shape, max_shift, rng):
    x = rng.normal(size=shape)
    seed = 5
    out = ref.random_shift(x, max_shift, np.random.default_rng(seed))
    shifts = np.random.default_rng(seed).integers(-max_shift, max_shift + 1, size=(shape[0], 2))
    for n, (dy, dx) in enumerate(shifts):
        expected = scipy.ndimage.shift(x[n], [0] * (x.ndim - 3) + [dy, dx], order=0, mode="constant", cval=0.0)
        np.testing.assert_array_equal(out[n], expected)


def test_random_shift_draws_every_offset(rng):
    x = np.zeros((400, 5, 5))
    x[:, 2, 2] = 1.0  # one lit pixel shows where each image went
    out = ref.random_shift(x, 2, rng)
    where = {tuple(np.argwhere(o)[0]) for o in out}
    assert where == {(i, j) for i in range(5) for j in range(5)}


@pytest.mark.parametrize("shape, p", [((50, 4, 4), 0.5), ((30, 2, 3, 5), 0.3), ((6, 4, 4), 0.0), ((6, 4, 4), 1.0)])
def test_random_flip_matches_torch(shape, p, rng):
    x = rng.normal(size=shape)
    out = ref.random_flip(x, np.random.default_rng(9), p=p)
    flip = np.random.default_rng(9).random(shape[0]) < p
    flipped = torch.flip(_t(x), dims=[-1]).numpy()
    for n in range(shape[0]):
        np.testing.assert_array_equal(out[n], flipped[n] if flip[n] else x[n])


def test_random_flip_rate(rng):
    x = np.arange(2 * 3).reshape(1, 2, 3).repeat(20_000, axis=0).astype(float)
    out = ref.random_flip(x, rng, p=0.3)
    rate = np.mean(out[:, 0, 0] != x[:, 0, 0])
    assert abs(rate - 0.3) < 5 * np.sqrt(0.3 * 0.7 / 20_000)


def test_gaussian_noise_statistics(rng):
    x = rng.normal(size=(200, 3, 10, 10))
    out = ref.add_gaussian_noise(x, 0.25, np.random.default_rng(2))
    np.testing.assert_allclose(out, x + 0.25 * np.random.default_rng(2).standard_normal(x.shape), rtol=0, atol=1e-15)
    noise = (out - x).ravel()
    assert abs(noise.mean()) < 5 * 0.25 / np.sqrt(noise.size)
    assert noise.std() == pytest.approx(0.25, rel=0.01)


def test_augmentations_do_not_modify_inputs(rng):
    x = rng.normal(size=(4, 6, 6))
    before = x.copy()
    ref.random_shift(x, 2, rng), ref.random_flip(x, rng), ref.add_gaussian_noise(x, 0.1, rng)
    np.testing.assert_array_equal(x, before)


# ------------------------------------------------------------ correct variants: every check passes them
def _l1_loops(weights, lam):
    value, grads = 0.0, []
    for w in weights:
        w = np.asarray(w, dtype=float)
        g = np.zeros_like(w)
        for i, v in np.ndenumerate(w):
            value += lam * abs(v)
            g[i] = lam * (1.0 if v > 0 else -1.0 if v < 0 else 0.0)
        grads.append(g)
    return value, grads


def _l1_float32(weights, lam):
    ws = [np.asarray(w, np.float32) for w in weights]
    return np.float32(lam) * sum(np.abs(w).sum() for w in ws), tuple(np.float32(lam) * np.sign(w) for w in ws)


def _penalty_torch(kind):
    def penalty(weights, lam):
        ts = [_t(w, grad=True) for w in weights]
        v = lam * sum(t.abs().sum() for t in ts) if kind == "l1" else lam / 2 * sum(t.pow(2).sum() for t in ts)
        v.backward()
        return v.detach().numpy(), [t.grad.numpy() for t in ts]
    return penalty


def _l2_loops(weights, lam):
    value, grads = 0.0, []
    for w in weights:
        g = np.array(w, dtype=float)
        for i, v in np.ndenumerate(g):
            value += 0.5 * lam * v * v
            g[i] = lam * v
        grads.append(g)
    return value, grads


def _l2_norm(weights, lam):
    return lam / 2 * sum(np.linalg.norm(np.ravel(w)) ** 2 for w in weights), [lam * np.asarray(w) for w in weights]


def _l2_float32(weights, lam):
    ws = [np.asarray(w, np.float32) for w in weights]
    return float(0.5 * lam * sum(np.vdot(w, w) for w in ws)), [np.float32(lam) * w for w in ws]


def _elastic_from_parts(weights, lam1, lam2):
    v1, g1 = _l1_loops(weights, lam1)
    v2, g2 = _l2_norm(weights, lam2)
    return v1 + v2, [a + b for a, b in zip(g1, g2)]


def _dropout_keep_below(x, p, rng, train=True):
    """u < 1 - p keeps: a different but equally correct mask."""
    if not train:
        return x, np.ones_like(x)
    mask = (rng.random(x.shape) < 1 - p).astype(float) / (1 - p)
    return x * mask, mask


def _dropout_loops(x, p, rng, train=True):
    x = np.asarray(x, dtype=float)
    mask = np.ones_like(x)
    if train and p > 0:
        for i in np.ndindex(*x.shape):
            mask[i] = 0.0 if rng.random() < p else 1.0 / (1.0 - p)
    out = np.empty_like(x)
    for i in np.ndindex(*x.shape):
        out[i] = x[i] * mask[i]
    return out, mask


def _dropout_binomial_float32(x, p, rng, train=True):
    x = np.asarray(x, np.float32)
    if not train or p == 0:
        return x.copy(), np.ones(x.shape, np.float32)
    mask = rng.binomial(1, 1 - p, size=x.shape).astype(np.float32) / np.float32(1 - p)
    return x * mask, mask


def _dropout_uniform_tuple(x, p, rng, train=True):
    keep = rng.uniform(size=x.shape) > p if train else np.ones(x.shape, bool)
    mask = keep * (1.0 / (1.0 - p) if train else 1.0)
    return [x * mask, mask]


def _ce_logsumexp(logits, y, label_smoothing=0.0):
    n, k = logits.shape
    logp = logits - scipy.special.logsumexp(logits, axis=1, keepdims=True)
    q = np.full((n, k), label_smoothing / k)
    q[np.arange(n), y] += 1 - label_smoothing
    return -(q * logp).sum() / n, (np.exp(logp) - q) / n


def _ce_stable_softmax_then_log(logits, y, label_smoothing=0.0):
    n, k = logits.shape
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs = e / e.sum(axis=1, keepdims=True)
    onehot = np.eye(k)[y]
    q = (1 - label_smoothing) * onehot + label_smoothing / k
    return float(-np.mean(np.sum(q * np.log(probs), axis=1))), (probs - q) / n


def _ce_loops_float32(logits, y, label_smoothing=0.0):
    z = np.asarray(logits, np.float32)
    n, k = z.shape
    loss, grad = np.float32(0), np.zeros_like(z)
    eps = np.float32(label_smoothing)
    for i in range(n):
        m = max(z[i])
        lse = m + np.log(sum(np.exp(v - m) for v in z[i]))
        for j in range(k):
            q = (1 - eps) * (j == y[i]) + eps / k
            loss -= q * (z[i, j] - lse) / n
            grad[i, j] = (np.exp(z[i, j] - lse) - q) / n
    return loss, grad


def _ce_torch(logits, y, label_smoothing=0.0):
    t = _t(logits, grad=True)
    loss = F.cross_entropy(t, torch.as_tensor(y), label_smoothing=label_smoothing)
    loss.backward()
    return loss.item(), t.grad.numpy()


def _kd_torch(z, t, y, T=4.0, alpha=0.9):
    zt = _t(z, grad=True)
    soft = F.kl_div(F.log_softmax(zt / T, 1), F.log_softmax(_t(t) / T, 1), reduction="batchmean", log_target=True)
    loss = alpha * T ** 2 * soft + (1 - alpha) * F.cross_entropy(zt, torch.as_tensor(y))
    loss.backward()
    return loss.item(), zt.grad.numpy()


def _kd_soft_ce_minus_entropy_float32(z, t, y, T=4.0, alpha=0.9):
    z, t = np.asarray(z, np.float32), np.asarray(t, np.float32)
    n = z.shape[0]
    ls = scipy.special.log_softmax(z / T, axis=1)
    lp = scipy.special.log_softmax(t / T, axis=1)
    p = np.exp(lp)
    kl = (-(p * ls).sum() + (p * lp).sum()) / n  # cross-entropy minus the teacher's entropy
    ce, dce = _ce_logsumexp(z, y)
    return alpha * T * T * kl + (1 - alpha) * ce, alpha * T * (np.exp(ls) - p) / n + (1 - alpha) * dce


def _kd_loops(z, t, y, T=4.0, alpha=0.9):
    n, k = z.shape
    loss, grad = 0.0, np.zeros((n, k))
    for i in range(n):
        s = ref.softmax(z[i] / T)
        p = ref.softmax(t[i] / T)
        h = ref.softmax(z[i])
        for j in range(k):
            loss += alpha * T * T * p[j] * (np.log(p[j]) - np.log(s[j])) / n
            grad[i, j] = alpha * T * (s[j] - p[j]) / n + (1 - alpha) * (h[j] - (j == y[i])) / n
        loss -= (1 - alpha) * np.log(h[y[i]]) / n
    return loss, grad


def _es_keras_style(val_losses, patience, min_delta=0.0):
    """Keras' order of operations: wait += 1 first, reset on improvement, then compare with patience."""
    best, best_epoch, wait = float("inf"), None, 0
    for epoch, current in enumerate(val_losses):
        wait += 1
        if current + min_delta < best:  # Keras: monitor_op(current - (-min_delta), best)
            best, best_epoch, wait = current, epoch, 0
            continue
        if wait >= patience:
            return epoch, best_epoch
    return None, best_epoch


def _es_improvement_list(val_losses, patience, min_delta=0.0):
    improving = []
    for e, v in enumerate(val_losses):
        if not improving or v < val_losses[improving[-1]] - min_delta:
            improving.append(e)
        elif e - improving[-1] >= patience:
            return np.int64(e), np.int64(improving[-1])
    return None, improving[-1]


VARIANTS = [
    ("check_l1_penalty", "reference", ref.l1_penalty),
    ("check_l1_penalty", "loops", _l1_loops),
    ("check_l1_penalty", "float32, tuple of grads", _l1_float32),
    ("check_l1_penalty", "torch autograd, 0-d array value", _penalty_torch("l1")),
    ("check_l2_penalty", "reference", ref.l2_penalty),
    ("check_l2_penalty", "loops", _l2_loops),
    ("check_l2_penalty", "norm squared", _l2_norm),
    ("check_l2_penalty", "float32", _l2_float32),
    ("check_l2_penalty", "torch autograd", _penalty_torch("l2")),
    ("check_elastic_net_penalty", "reference", ref.elastic_net_penalty),
    ("check_elastic_net_penalty", "L1 loops + L2 norm", _elastic_from_parts),
    ("check_dropout_forward", "reference", ref.dropout_forward),
    ("check_dropout_forward", "keep where u < 1 - p", _dropout_keep_below),
    ("check_dropout_forward", "loops, one rng.random() per entry", _dropout_loops),
    ("check_dropout_forward", "rng.binomial in float32", _dropout_binomial_float32),
    ("check_dropout_forward", "rng.uniform > p, returns a list", _dropout_uniform_tuple),
    ("check_softmax", "reference", ref.softmax),
    ("check_softmax", "scipy.special.softmax", lambda z: scipy.special.softmax(z, axis=-1)),
    ("check_softmax", "exp(z - logsumexp)", lambda z: np.exp(z - scipy.special.logsumexp(z, axis=-1, keepdims=True))),
    ("check_softmax", "float32 rows loop", lambda z: np.array(
        [np.exp(r - r.max()) / np.exp(r - r.max()).sum() for r in np.asarray(z, np.float32)])),
    ("check_smooth_labels", "reference", ref.smooth_labels),
    ("check_smooth_labels", "np.eye", lambda y, k, eps: (1 - eps) * np.eye(k)[y] + eps / k),
    ("check_smooth_labels", "loops, float32", lambda y, k, eps: np.array(
        [[np.float32((1 - eps) * (j == c) + eps / k) for j in range(k)] for c in y])),
    ("check_cross_entropy", "reference", ref.cross_entropy),
    ("check_cross_entropy", "scipy logsumexp", _ce_logsumexp),
    ("check_cross_entropy", "stable softmax, then log", _ce_stable_softmax_then_log),
    ("check_cross_entropy", "loops in float32", _ce_loops_float32),
    ("check_cross_entropy", "torch autograd", _ce_torch),
    ("check_distillation_loss", "reference", ref.distillation_loss),
    ("check_distillation_loss", "torch kl_div + autograd", _kd_torch),
    ("check_distillation_loss", "soft CE minus teacher entropy, float32", _kd_soft_ce_minus_entropy_float32),
    ("check_distillation_loss", "loops", _kd_loops),
    ("check_early_stopping", "reference", ref.early_stopping),
    ("check_early_stopping", "Keras' order of operations", _es_keras_style),
    ("check_early_stopping", "list of improving epochs, numpy ints", _es_improvement_list),
]

BACKWARD_VARIANTS = [
    ("reference", ref.dropout_forward, ref.dropout_backward),
    ("loops forward, product backward", _dropout_loops, lambda d, m: np.asarray(d) * np.asarray(m)),
    ("float32 forward and backward", _dropout_binomial_float32, lambda d, m: (np.float32(d) * m).astype(np.float32)),
    ("u < 1 - p forward, np.multiply", _dropout_keep_below, np.multiply),
]


@pytest.mark.parametrize("check, fn", cases(VARIANTS))
def test_check_accepts_correct_variant(check, fn):
    assert_accepts(getattr(chk, check), fn)


@pytest.mark.parametrize("label, fwd, bwd", BACKWARD_VARIANTS, ids=[v[0] for v in BACKWARD_VARIANTS])
def test_dropout_backward_check_accepts(label, fwd, bwd):
    assert chk.check_dropout_backward(fwd, bwd) is None


@pytest.mark.parametrize("answer", ["a", "(a)", " A ", "(A)"])
def test_quiz_ridge_accepts(answer):
    assert chk.check_quiz_ridge(answer) is None


@pytest.mark.parametrize("answer", ["right", "Right", " RIGHT "])
def test_quiz_l1_graph_accepts(answer):
    assert chk.check_quiz_l1_graph(answer) is None


@pytest.mark.parametrize("answer", [None, "b", "c", "d", "(b)", 1, "ab"])
def test_quiz_ridge_rejects(answer):
    with pytest.raises(AssertionError, match="quiz_ridge"):
        chk.check_quiz_ridge(answer)


@pytest.mark.parametrize("answer", [None, "left", "L1", 0])
def test_quiz_l1_graph_rejects(answer):
    with pytest.raises(AssertionError, match="quiz_l1_graph"):
        chk.check_quiz_l1_graph(answer)


# ------------------------------------------------------------ known mistakes: every check fails them
def _stub(*args, **kwargs):
    raise NotImplementedError()


def _l1_sign_minus_one_at_zero(weights, lam):
    value, _ = ref.l1_penalty(weights, lam)
    return value, [lam * np.where(np.asarray(w) > 0, 1.0, -1.0) for w in weights]


def _l2_in_place(weights, lam):
    value = 0.5 * lam * sum((w ** 2).sum() for w in weights)
    for w in weights:
        w *= lam
    return value, weights


def _dropout_non_inverted(x, p, rng, train=True):
    if not train:
        return x, np.ones_like(x)
    mask = (rng.random(x.shape) >= p).astype(float)
    return x * mask, mask


def _dropout_scale_not_in_mask(x, p, rng, train=True):
    if not train:
        return x, np.ones_like(x)
    mask = (rng.random(x.shape) >= p).astype(float)
    return x * mask / (1 - p), mask


def _dropout_p_is_keep(x, p, rng, train=True):
    if not train:
        return x, np.ones_like(x)
    mask = (rng.random(x.shape) < p) / p if p > 0 else np.ones_like(x)
    return x * mask, mask


def _dropout_p_is_keep_right_scale(x, p, rng, train=True):
    if not train:
        return x, np.ones_like(x)
    mask = (rng.random(x.shape) < p) / (1 - p)
    return x * mask, mask


def _dropout_in_eval(x, p, rng, train=True):
    mask = (rng.random(x.shape) >= p) / (1 - p)
    return x * mask, mask


def _dropout_scales_at_eval(x, p, rng, train=True):
    if not train:
        return x * (1 - p), np.full_like(x, 1 - p)
    return ref.dropout_forward(x, p, rng, train)


def _dropout_eval_mask_none(x, p, rng, train=True):
    if not train:
        return x, None
    return ref.dropout_forward(x, p, rng, train)


def _dropout_global_numpy(x, p, rng, train=True):
    if not train:
        return x, np.ones_like(x)
    mask = (np.random.rand(*x.shape) >= p) / (1 - p)
    return x * mask, mask


def _dropout_own_seed(x, p, rng, train=True):
    return ref.dropout_forward(x, p, np.random.default_rng(0), train)


def _dropout_fresh_generator(x, p, rng, train=True):
    return ref.dropout_forward(x, p, np.random.default_rng(), train)


def _dropout_one_mask_per_batch(x, p, rng, train=True):
    if not train:
        return x, np.ones_like(x)
    mask = np.broadcast_to((rng.random(x.shape[1:]) >= p) / (1 - p), x.shape)
    return x * mask, mask


def _dropout_in_place(x, p, rng, train=True):
    out, mask = ref.dropout_forward(x, p, rng, train)
    x *= mask
    return x, mask


def _ce_sum(logits, y, label_smoothing=0.0):
    loss, g = ref.cross_entropy(logits, y, label_smoothing)
    return loss * len(y), g * len(y)


def _ce_naive(logits, y, label_smoothing=0.0):
    n, k = logits.shape
    e = np.exp(logits)
    probs = e / e.sum(axis=1, keepdims=True)
    q = ref.smooth_labels(y, k, label_smoothing)
    return -np.sum(q * np.log(probs)) / n, (probs - q) / n


def _ce_k_minus_one(logits, y, label_smoothing=0.0):
    n, k = logits.shape
    onehot = np.eye(k)[y]
    q = (1 - label_smoothing) * onehot + (1 - onehot) * label_smoothing / (k - 1)
    logp = ref.log_softmax(logits)
    return -np.sum(q * logp) / n, (np.exp(logp) - q) / n


def _ce_one_hot_gradient(logits, y, label_smoothing=0.0):
    return ref.cross_entropy(logits, y, label_smoothing)[0], ref.cross_entropy(logits, y, 0.0)[1]


def _kd_parts(z, t, y, T, alpha, t_temp=None, reverse=False, t2=True, soft_ce=False):
    n = z.shape[0]
    ls = ref.log_softmax(z / T)
    lp = ref.log_softmax(t / (T if t_temp is None else t_temp))
    p, s = np.exp(lp), np.exp(ls)
    if reverse:
        kl = np.sum(s * (ls - lp)) / n
    elif soft_ce:
        kl = -np.sum(p * ls) / n
    else:
        kl = np.sum(p * (lp - ls)) / n
    ce, dce = ref.cross_entropy(z, y)
    f = T * T if t2 else 1.0
    return alpha * f * kl + (1 - alpha) * ce, alpha * f / T * (s - p) / n + (1 - alpha) * dce


def _kd_grad_missing_1_over_T(z, t, y, T=4.0, alpha=0.9):
    loss, _ = ref.distillation_loss(z, t, y, T=T, alpha=alpha)
    n = z.shape[0]
    s, p = ref.softmax(z / T), ref.softmax(t / T)
    return loss, alpha * T * T * (s - p) / n + (1 - alpha) * ref.cross_entropy(z, y)[1]


def _es_counter(val_losses, patience, min_delta=0.0, strict=True, stop_when=">=", base=0, ignore_delta=False,
                best_overall=False):
    best, best_epoch, wait = float("inf"), None, 0
    delta = 0.0 if ignore_delta else min_delta
    for e, v in enumerate(val_losses):
        better = v < best - delta if strict else v <= best - delta
        if better:
            best, best_epoch, wait = v, e, 0
        else:
            wait += 1
            if (wait >= patience) if stop_when == ">=" else (wait > patience):
                if best_overall:
                    best_epoch = int(np.argmin(val_losses))
                return e + base, best_epoch + base
    if best_overall and len(val_losses):
        best_epoch = int(np.argmin(val_losses))
    return None, (best_epoch + base if best_epoch is not None else None)


def _es_vs_previous_epoch(val_losses, patience, min_delta=0.0):
    """Counts epochs that are worse than the previous epoch instead of than the best."""
    wait, prev, best_epoch = 0, float("inf"), 0
    for e, v in enumerate(val_losses):
        if v < prev - min_delta:
            wait = 0
            best_epoch = e if v <= min(val_losses[:e + 1]) else best_epoch
        else:
            wait += 1
            if wait >= patience:
                return e, best_epoch
        prev = v
    return None, best_epoch


def _es_never_none(val_losses, patience, min_delta=0.0):
    stop, best = ref.early_stopping(val_losses, patience, min_delta)
    return (len(val_losses) - 1 if stop is None else stop), best


def _es_from_argmin(val_losses, patience, min_delta=0.0):
    """stop = argmin + patience computed on the whole curve (looks ahead)."""
    b = int(np.argmin(val_losses))
    return (b + patience if b + patience < len(val_losses) else None), b


MISTAKES = [
    ("check_l1_penalty", "stub", _stub),
    ("check_l1_penalty", "gradient lam * w (no sign)", lambda ws, lam: (ref.l1_penalty(ws, lam)[0],
                                                                          [lam * np.asarray(w) for w in ws])),
    ("check_l1_penalty", "gradient without lam", lambda ws, lam: (ref.l1_penalty(ws, lam)[0],
                                                                   [np.sign(w) for w in ws])),
    ("check_l1_penalty", "value sums w**2", lambda ws, lam: (ref.l2_penalty(ws, lam)[0], ref.l1_penalty(ws, lam)[1])),
    ("check_l1_penalty", "gradient -1 at w = 0", _l1_sign_minus_one_at_zero),
    ("check_l1_penalty", "returns only the value", lambda ws, lam: ref.l1_penalty(ws, lam)[0]),
    ("check_l1_penalty", "one value per array", lambda ws, lam: ([lam * np.abs(w).sum() for w in ws],
                                                                 ref.l1_penalty(ws, lam)[1])),
    ("check_l2_penalty", "gradient 2 lam w with value lam/2 sum w**2",
     lambda ws, lam: (ref.l2_penalty(ws, lam)[0], [2 * lam * np.asarray(w) for w in ws])),
    ("check_l2_penalty", "value without the 1/2", lambda ws, lam: (2 * ref.l2_penalty(ws, lam)[0],
                                                                   ref.l2_penalty(ws, lam)[1])),
    ("check_l2_penalty", "value is the norm, not its square",
     lambda ws, lam: (lam * sum(np.linalg.norm(w) for w in ws), ref.l2_penalty(ws, lam)[1])),
    ("check_l2_penalty", "gradient without lam", lambda ws, lam: (ref.l2_penalty(ws, lam)[0],
                                                                   [np.array(w) for w in ws])),
    ("check_l2_penalty", "modifies the weights in place", _l2_in_place),
    ("check_elastic_net_penalty", "L2 part with gradient 2 lam2 w",
     lambda ws, a, b: (ref.elastic_net_penalty(ws, a, b)[0],
                       [a * np.sign(w) + 2 * b * np.asarray(w) for w in ws])),
    ("check_elastic_net_penalty", "lam1 and lam2 swapped", lambda ws, a, b: ref.elastic_net_penalty(ws, b, a)),
    ("check_dropout_forward", "stub", _stub),
    ("check_dropout_forward", "non-inverted (no 1/(1-p))", _dropout_non_inverted),
    ("check_dropout_forward", "scale in out, not in the mask", _dropout_scale_not_in_mask),
    ("check_dropout_forward", "p as keep probability", _dropout_p_is_keep),
    ("check_dropout_forward", "p as keep probability, 1/(1-p) scale", _dropout_p_is_keep_right_scale),
    ("check_dropout_forward", "dropout active in eval", _dropout_in_eval),
    ("check_dropout_forward", "scales by 1-p at eval", _dropout_scales_at_eval),
    ("check_dropout_forward", "mask None in eval", _dropout_eval_mask_none),
    ("check_dropout_forward", "mask from np.random (global)", _dropout_global_numpy),
    ("check_dropout_forward", "mask from its own seed", _dropout_own_seed),
    ("check_dropout_forward", "mask from a fresh unseeded Generator", _dropout_fresh_generator),
    ("check_dropout_forward", "one mask for the whole batch", _dropout_one_mask_per_batch),
    ("check_dropout_forward", "modifies x in place", _dropout_in_place),
    ("check_dropout_forward", "returns only out", lambda x, p, rng, train=True: ref.dropout_forward(x, p, rng, train)[0]),
    ("check_softmax", "no max subtraction (overflows)", lambda z: np.exp(z) / np.exp(z).sum(axis=-1, keepdims=True)),
    ("check_softmax", "normalised over axis 0",
     lambda z: np.exp(z - z.max(0)) / np.exp(z - z.max(0)).sum(axis=0, keepdims=True)),
    ("check_softmax", "normalised over the whole array", lambda z: np.exp(z - z.max()) / np.exp(z - z.max()).sum()),
    ("check_softmax", "returns log-softmax", ref.log_softmax),
    ("check_smooth_labels", "eps/(K-1) on the other classes",
     lambda y, k, eps: (1 - eps) * np.eye(k)[y] + (1 - np.eye(k)[y]) * eps / (k - 1)),
    ("check_smooth_labels", "one-hot + eps/K (rows sum to 1 + eps)", lambda y, k, eps: np.eye(k)[y] + eps / k),
    ("check_smooth_labels", "1 - eps on the true class, 0 elsewhere", lambda y, k, eps: (1 - eps) * np.eye(k)[y]),
    ("check_cross_entropy", "stub", _stub),
    ("check_cross_entropy", "summed over the batch", _ce_sum),
    ("check_cross_entropy", "unstable softmax (overflow at 1000)", _ce_naive),
    ("check_cross_entropy", "label smoothing eps/(K-1)", _ce_k_minus_one),
    ("check_cross_entropy", "ignores label_smoothing", lambda z, y, label_smoothing=0.0: ref.cross_entropy(z, y)),
    ("check_cross_entropy", "gradient with the one-hot target", _ce_one_hot_gradient),
    ("check_cross_entropy", "gradient sign flipped",
     lambda z, y, label_smoothing=0.0: (lambda l, g: (l, -g))(*ref.cross_entropy(z, y, label_smoothing))),
    ("check_cross_entropy", "gradient not divided by N",
     lambda z, y, label_smoothing=0.0: (lambda l, g: (l, g * len(y)))(*ref.cross_entropy(z, y, label_smoothing))),
    ("check_cross_entropy", "returns only the loss",
     lambda z, y, label_smoothing=0.0: ref.cross_entropy(z, y, label_smoothing)[0]),
    ("check_distillation_loss", "stub", _stub),
    ("check_distillation_loss", "without T**2", lambda z, t, y, T=4.0, alpha=0.9: _kd_parts(z, t, y, T, alpha, t2=False)),
    ("check_distillation_loss", "KL reversed", lambda z, t, y, T=4.0, alpha=0.9: _kd_parts(z, t, y, T, alpha,
                                                                                            reverse=True)),
    ("check_distillation_loss", "no temperature on the teacher",
     lambda z, t, y, T=4.0, alpha=0.9: _kd_parts(z, t, y, T, alpha, t_temp=1.0)),
    ("check_distillation_loss", "soft cross-entropy instead of KL",
     lambda z, t, y, T=4.0, alpha=0.9: _kd_parts(z, t, y, T, alpha, soft_ce=True)),
    ("check_distillation_loss", "alpha weights the hard term",
     lambda z, t, y, T=4.0, alpha=0.9: ref.distillation_loss(z, t, y, T=T, alpha=1 - alpha)),
    ("check_distillation_loss", "gradient misses the 1/T of z/T", _kd_grad_missing_1_over_T),
    ("check_early_stopping", "stub", _stub),
    ("check_early_stopping", "stops when the count exceeds patience",
     lambda v, pt, min_delta=0.0: _es_counter(v, pt, min_delta, stop_when=">")),
    ("check_early_stopping", "1-based epochs", lambda v, pt, min_delta=0.0: _es_counter(v, pt, min_delta, base=1)),
    ("check_early_stopping", "an equal loss counts as improvement",
     lambda v, pt, min_delta=0.0: _es_counter(v, pt, min_delta, strict=False)),
    ("check_early_stopping", "ignores min_delta",
     lambda v, pt, min_delta=0.0: _es_counter(v, pt, min_delta, ignore_delta=True)),
    ("check_early_stopping", "best epoch over the whole curve",
     lambda v, pt, min_delta=0.0: _es_counter(v, pt, min_delta, best_overall=True)),
    ("check_early_stopping", "compares with the previous epoch, not the best", _es_vs_previous_epoch),
    ("check_early_stopping", "last epoch instead of None", _es_never_none),
    ("check_early_stopping", "argmin of the whole curve + patience", _es_from_argmin),
]

BACKWARD_MISTAKES = [
    ("returns dout", ref.dropout_forward, lambda d, m: d),
    ("forgets the 1/(1-p) scale", ref.dropout_forward, lambda d, m: d * (m != 0)),
    ("divides by the mask", ref.dropout_forward, lambda d, m: d / m),
    ("returns the mask", ref.dropout_forward, lambda d, m: m),
    ("stub", ref.dropout_forward, _stub),
    ("forward not reproducible (global np.random)", _dropout_global_numpy, ref.dropout_backward),
]


@pytest.mark.parametrize("check, fn", cases(MISTAKES))
def test_check_rejects_mistake(check, fn):
    assert_rejects(getattr(chk, check), fn, name=check.replace("check_", ""))


@pytest.mark.parametrize("label, fwd, bwd", BACKWARD_MISTAKES, ids=[m[0] for m in BACKWARD_MISTAKES])
def test_dropout_backward_check_rejects(label, fwd, bwd):
    assert_rejects(lambda _: chk.check_dropout_backward(fwd, bwd), None, name="dropout_")


@pytest.mark.parametrize("check, label, fn", [m for m in MISTAKES if m[1] != "stub"],
                         ids=[f"{m[0]}-{m[1]}" for m in MISTAKES if m[1] != "stub"])
def test_every_mistake_gets_a_hint(check, label, fn):
    msg = assert_rejects(getattr(chk, check), fn)
    assert "hint:" in msg or "return a pair" in msg, msg


# ------------------------------------------------------------ messages, visible cases, the nbgrader contract
@pytest.mark.parametrize("check, fn, words", [
    ("check_l2_penalty", lambda ws, lam: (ref.l2_penalty(ws, lam)[0], [2 * lam * np.asarray(w) for w in ws]),
     "not 2 lam w"),
    ("check_l1_penalty", _l1_sign_minus_one_at_zero, "exactly 0"),
    ("check_dropout_forward", _dropout_non_inverted, "without the 1/(1-p) scale"),
    ("check_dropout_forward", _dropout_p_is_keep_right_scale, "not of keeping"),
    ("check_dropout_forward", _dropout_global_numpy, "same seed gave different masks"),
    ("check_dropout_forward", _dropout_own_seed, "different seeds gave the same mask"),
    ("check_dropout_forward", _dropout_in_eval, "train=False"),
    ("check_cross_entropy", _ce_sum, "divide by N"),
    ("check_cross_entropy", _ce_naive, "overflow"),
    ("check_cross_entropy", _ce_k_minus_one, "eps/K"),
    ("check_smooth_labels", lambda y, k, eps: (1 - eps) * np.eye(k)[y] + (1 - np.eye(k)[y]) * eps / (k - 1), "eps/(K-1)"),
    ("check_distillation_loss", lambda z, t, y, T=4.0, alpha=0.9: _kd_parts(z, t, y, T, alpha, t2=False), "T**2"),
    ("check_distillation_loss", lambda z, t, y, T=4.0, alpha=0.9: _kd_parts(z, t, y, T, alpha, reverse=True),
     "reversed"),
    ("check_distillation_loss", lambda z, t, y, T=4.0, alpha=0.9: _kd_parts(z, t, y, T, alpha, t_temp=1.0),
     "teacher too"),
    ("check_early_stopping", lambda v, pt, min_delta=0.0: _es_counter(v, pt, min_delta, stop_when=">"),
     "off by one"),
    ("check_early_stopping", lambda v, pt, min_delta=0.0: _es_counter(v, pt, min_delta, base=1), "0-based"),
    ("check_early_stopping", _es_never_none, "return None"),
    ("check_dropout_forward", _dropout_one_mask_per_batch, "same mask"),
    ("check_distillation_loss", _kd_grad_missing_1_over_T, "chain rule"),
    ("check_early_stopping", lambda v, pt, min_delta=0.0: _es_counter(v, pt, min_delta, strict=False), "strict"),
    ("check_early_stopping", lambda v, pt, min_delta=0.0: _es_counter(v, pt, min_delta, ignore_delta=True),
     "min_delta"),
])
def test_messages_name_the_mistake(check, fn, words):
    msg = assert_rejects(getattr(chk, check), fn)
    assert words in msg, msg
    assert "case" in msg or "reproducibility" in msg


def _type_error(z):
    return z + "1"


def test_messages_are_actionable():
    msg = assert_rejects(chk.check_cross_entropy, _ce_sum, name="cross_entropy")
    assert "case 1 of" in msg and "expected" in msg and "got" in msg and "hint:" in msg
    msg = assert_rejects(chk.check_early_stopping, _stub)
    assert "not implemented yet" in msg
    msg = assert_rejects(chk.check_softmax, _type_error)
    assert "TypeError" in msg and "at line" in msg
    msg = assert_rejects(chk.check_early_stopping, lambda v, pt, min_delta=0.0: _es_counter(v, pt, stop_when=">"))
    assert "val_losses = [" in msg and "expected (stop_epoch, best_epoch)" in msg


@pytest.mark.parametrize("check, fn, args", [
    ("check_cross_entropy", ref.cross_entropy, ()),
    ("check_dropout_forward", ref.dropout_forward, ()),
    ("check_early_stopping", ref.early_stopping, ()),
    ("check_distillation_loss", ref.distillation_loss, ()),
    ("check_l1_penalty", ref.l1_penalty, ()),
])
def test_visible_only_runs_fewer_cases(check, fn, args):
    calls = []

    def spy(*a, **k):
        calls.append(1)
        return fn(*a, **k)

    getattr(chk, check)(spy, visible_only=True)
    n_visible = len(calls)
    calls.clear()
    getattr(chk, check)(spy)
    assert 0 < n_visible < len(calls)


def test_checks_survive_monkeypatched_numpy(monkeypatch):
    """A notebook that rebinds np.allclose / np.abs must not change the verdict."""
    monkeypatch.setattr(np, "allclose", lambda *a, **k: True)
    monkeypatch.setattr(np, "abs", lambda x: np.zeros_like(x))
    with pytest.raises(AssertionError):
        chk.check_cross_entropy(_ce_sum)
    with pytest.raises(AssertionError):
        chk.check_dropout_forward(_dropout_non_inverted)


def test_checks_write_nothing_to_stderr(capfd):
    """Overflow in the student's code must not print a RuntimeWarning (nbgrader would score 0)."""
    with pytest.raises(AssertionError):
        chk.check_cross_entropy(_ce_naive)
    with pytest.raises(AssertionError):
        chk.check_dropout_backward(ref.dropout_forward, lambda d, m: d / m)
    chk.check_softmax(ref.softmax)
    assert capfd.readouterr().err == ""


def test_checks_return_none():
    for name in ["l1_penalty", "l2_penalty", "elastic_net_penalty", "dropout_forward", "softmax", "smooth_labels",
                 "cross_entropy", "distillation_loss", "early_stopping"]:
        assert getattr(chk, "check_" + name)(getattr(ref, name)) is None
    assert chk.check_dropout_backward(ref.dropout_forward, ref.dropout_backward) is None
