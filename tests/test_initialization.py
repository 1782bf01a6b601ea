"""Chapter 2: reference vs torch, the checks' statistical design, and the checks vs mistakes and variants."""
import math

import numpy as np
import pytest
import torch
from scipy import stats

from autograder.checks import initialization as chk
from autograder.reference import initialization as ref
from checkkit import assert_accepts, assert_rejects, cases

pytestmark = pytest.mark.usefixtures("torch_float64")  # restored after each test
init = torch.nn.init

SHAPES = [(5, 3), (3, 7), (1, 1), (16, 8, 3, 3), (4, 2, 5), (6, 3, 2, 4, 5), (8, 4, 1, 1), (2, 3, 5, 1)]
GAINS = [("linear", None), ("conv1d", None), ("conv2d", None), ("conv3d", None), ("conv_transpose1d", None),
         ("conv_transpose2d", None), ("conv_transpose3d", None), ("sigmoid", None), ("tanh", None),
         ("relu", None), ("leaky_relu", None), ("leaky_relu", 0.2), ("leaky_relu", 0), ("leaky_relu", 1.5),
         ("selu", None)]


# ------------------------------------------------------------ fans and gains vs torch (exact)
@pytest.mark.parametrize("shape", SHAPES)
def test_fans_match_torch(shape):
    assert ref.fans(shape) == init._calculate_fan_in_and_fan_out(torch.empty(shape))


@pytest.mark.parametrize("shape", [(), (7,)])
def test_fans_reject_fewer_than_two_dims(shape):
    with pytest.raises(ValueError):
        init._calculate_fan_in_and_fan_out(torch.empty(shape))
    with pytest.raises(ValueError):
        ref.fans(shape)


@pytest.mark.parametrize("nonlinearity, param", GAINS)
def test_calculate_gain_matches_torch(nonlinearity, param):
    assert ref.calculate_gain(nonlinearity, param) == pytest.approx(init.calculate_gain(nonlinearity, param),
                                                                    rel=1e-15)


def test_calculate_gain_rejects_unknown():
    for fn in (init.calculate_gain, ref.calculate_gain):
        with pytest.raises(ValueError):
            fn("softplus")


def test_zeros_matches_torch():
    np.testing.assert_array_equal(ref.zeros((4, 3, 2)), init.zeros_(torch.empty(4, 3, 2)).numpy())
    assert ref.zeros((2, 5)).dtype == np.float64


# ------------------------------------------------------------ initializers vs torch, same random stream (exact)
class TorchStream:
    """A stand-in for numpy's Generator whose draws come from a seeded torch.Generator.

    torch's initializers call ``tensor.normal_(0, std)``, ``tensor.uniform_(-b, b)`` and, for orthogonal,
    ``normal_(0, 1)`` on a (rows, cols) matrix; the reference calls rng.normal(0, std, size),
    rng.uniform(-b, b, size) and rng.standard_normal((rows, cols)).  With both reading the same stream, the
    arrays agree only if the reference passes torch's exact parameters.
    """

    def __init__(self, seed):
        self.g = torch.Generator().manual_seed(seed)

    def normal(self, loc, scale, size):
        return torch.empty(size).normal_(loc, scale, generator=self.g).numpy()

    def uniform(self, low, high, size):
        return torch.empty(size).uniform_(low, high, generator=self.g).numpy()

    def standard_normal(self, size):
        return self.normal(0.0, 1.0, size)


def _torch_init(name, shape, seed, **kw):
    g = torch.Generator().manual_seed(seed)
    t = torch.empty(shape)
    if name == "normal":
        return init.normal_(t, 0.0, kw["std"], generator=g).numpy()
    if name == "lecun_normal":
        return init.kaiming_normal_(t, nonlinearity="linear", generator=g).numpy()
    if name in ("xavier_normal", "xavier_uniform"):
        return getattr(init, name + "_")(t, gain=kw.get("gain", 1.0), generator=g).numpy()
    if name in ("he_normal", "he_uniform"):
        fn = init.kaiming_normal_ if name == "he_normal" else init.kaiming_uniform_
        # torch's kaiming_* take the leaky slope as `a` (default 0); calculate_gain's default slope is 0.01
        return fn(t, a=0.01, mode=kw.get("mode", "fan_in"), nonlinearity=kw.get("nonlinearity", "relu"),
                  generator=g).numpy()
    if name == "orthogonal":
        return init.orthogonal_(t, gain=kw.get("gain", 1.0), generator=g).numpy()
    raise KeyError(name)


SAME_STREAM = [
    ("normal", (30, 20), {"std": 0.05}),
    ("lecun_normal", (30, 20), {}), ("lecun_normal", (16, 8, 3, 3), {}),
    ("xavier_normal", (30, 20), {}), ("xavier_normal", (6, 3, 2, 4, 5), {"gain": 5 / 3}),
    ("xavier_uniform", (30, 20), {}), ("xavier_uniform", (16, 8, 3, 3), {"gain": math.sqrt(2)}),
    ("he_normal", (30, 20), {}), ("he_normal", (16, 8, 3, 3), {"mode": "fan_out"}),
    ("he_normal", (4, 2, 5), {"nonlinearity": "leaky_relu"}), ("he_normal", (30, 20), {"nonlinearity": "tanh"}),
    ("he_uniform", (30, 20), {}), ("he_uniform", (16, 8, 3, 3), {"mode": "fan_out", "nonlinearity": "selu"}),
    ("he_uniform", (4, 2, 5), {"nonlinearity": "leaky_relu"}),
    ("orthogonal", (6, 10), {}), ("orthogonal", (10, 4), {}), ("orthogonal", (7, 7), {"gain": 2.0}),
    ("orthogonal", (8, 4, 3, 3), {"gain": 0.5}), ("orthogonal", (40, 3, 2, 2), {}),
]


@pytest.mark.parametrize("name, shape, kw", SAME_STREAM, ids=[f"{n}-{s}-{k}" for n, s, k in SAME_STREAM])
def test_initializer_matches_torch_on_the_same_stream(name, shape, kw):
    got = getattr(ref, name)(shape, TorchStream(7), **kw) if name != "normal" else \
        ref.normal(shape, kw["std"], TorchStream(7))
    want = _torch_init(name, shape, 7, **kw)
    assert got.shape == want.shape
    # normal/uniform: the same formula on the same numbers; orthogonal: numpy's and torch's QR (LAPACK)
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-13)


def test_orthonormalize_matches_torch_qr(rng):
    for rows, cols in [(5, 9), (9, 5), (6, 6)]:
        a = rng.standard_normal((rows, cols))
        q = ref.orthonormalize(a)
        # what torch's orthogonal_ does to its Gaussian draw, applied to a
        t = torch.tensor(a if rows >= cols else a.T)
        qt, rt = torch.linalg.qr(t)
        qt = qt * torch.diag(rt).sign()
        qt = qt if rows >= cols else qt.T
        np.testing.assert_allclose(q, qt.numpy(), rtol=1e-10, atol=1e-13)


# ------------------------------------------------------------ initializers vs torch's own samples (statistical)
STAT_CASES = [
    ("lecun_normal", (64, 256), {}), ("xavier_normal", (64, 32, 3, 3), {"gain": 5 / 3}),
    ("xavier_uniform", (300, 40), {}), ("he_normal", (64, 256), {"mode": "fan_out"}),
    ("he_uniform", (32, 16, 7), {"nonlinearity": "tanh"}), ("normal", (64, 256), {"std": 0.01}),
]


def _draws(fn, k):
    return np.concatenate([fn(i).ravel() for i in range(k)])


@pytest.mark.parametrize("name, shape, kw", STAT_CASES, ids=[c[0] for c in STAT_CASES])
def test_initializer_distribution_matches_torch_samples(name, shape, kw):
    """Same distribution as torch's own sampler: std within 6 combined sd, two-sample KS p > 1e-6, same bound.

    Both samples are seeded, so the test is deterministic; a wrong factor of sqrt(2) is ~100 sd away.
    """
    if name == "normal":
        mine = _draws(lambda i: ref.normal(shape, kw["std"], np.random.default_rng(100 + i)), 4)
    else:
        mine = _draws(lambda i: getattr(ref, name)(shape, np.random.default_rng(100 + i), **kw), 4)
    theirs = _draws(lambda i: _torch_init(name, shape, 200 + i, **kw), 4)
    n = mine.size
    uniform = name.endswith("uniform")
    c = 0.5 if uniform else 1 / math.sqrt(2)  # sd of sqrt(n) * (relative error of the rms)
    rms = [np.sqrt(np.mean(x ** 2)) for x in (mine, theirs)]
    assert abs(rms[0] / rms[1] - 1) < 6 * c * math.sqrt(2 / n)
    assert stats.ks_2samp(mine, theirs).pvalue > 1e-6
    if uniform:
        top = [np.abs(x).max() for x in (mine, theirs)]
        assert abs(top[0] / top[1] - 1) < 50 / n  # both within 23/n of the same bound b, w.p. > 1 - 2e-10


def test_orthogonal_entries_match_torch_samples():
    """Haar-distributed: the entries of many random orthogonal matrices look alike (two-sample KS)."""
    mine = _draws(lambda i: ref.orthogonal((12, 20), np.random.default_rng(300 + i)), 60)
    theirs = _draws(lambda i: _torch_init("orthogonal", (12, 20), 400 + i), 60)
    assert stats.ks_2samp(mine, theirs).pvalue > 1e-6
    first = np.array([ref.orthogonal((5, 5), np.random.default_rng(500 + i))[0, 0] for i in range(2000)])
    # the (0, 0) entry of a Haar 5x5 orthogonal matrix has mean 0 and variance 1/5
    assert abs(first.mean()) < 6 * math.sqrt(0.2 / first.size)
    assert abs(first.var() - 0.2) < 0.03


@pytest.mark.parametrize("shape, gain", [((6, 10), 1.0), ((10, 4), 1.0), ((7, 7), 2.0), ((8, 4, 3, 3), 0.5),
                                         ((40, 3, 2, 2), 1.5), ((1, 9), 1.0)])
def test_orthogonal_is_orthogonal(shape, gain, rng):
    w = ref.orthogonal(shape, rng, gain=gain)
    assert w.shape == shape
    m = w.reshape(shape[0], -1)
    gram = m @ m.T if m.shape[0] <= m.shape[1] else m.T @ m
    np.testing.assert_allclose(gram, gain ** 2 * np.eye(gram.shape[0]), atol=1e-12)
    # norm preserving: |W x| = gain |x| for every x when the columns are orthonormal (tall or square)
    if m.shape[0] >= m.shape[1]:
        x = rng.normal(size=m.shape[1])
        assert np.linalg.norm(m @ x) == pytest.approx(gain * np.linalg.norm(x), rel=1e-12)


# ------------------------------------------------------------ reproducibility
RANDOM_INITS = [("lecun_normal", {}), ("xavier_normal", {}), ("xavier_uniform", {"gain": 2.0}),
                ("he_normal", {"mode": "fan_out"}), ("he_uniform", {}), ("orthogonal", {})]


@pytest.mark.parametrize("name, kw", RANDOM_INITS, ids=[n for n, _ in RANDOM_INITS])
def test_same_seed_same_array_and_no_global_state(name, kw):
    fn = getattr(ref, name)
    state = np.random.get_state()[1].copy()
    a = fn((12, 5, 3), np.random.default_rng(3), **kw)
    b = fn((12, 5, 3), np.random.default_rng(3), **kw)
    c = fn((12, 5, 3), np.random.default_rng(4), **kw)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert a.dtype == np.float64
    np.testing.assert_array_equal(np.random.get_state()[1], state)  # np.random untouched


def test_normal_has_fixed_std():
    w = ref.normal((200, 300), 0.01, np.random.default_rng(1))
    assert w.std() == pytest.approx(0.01, rel=6 / math.sqrt(2 * w.size))


def test_bad_mode_and_shape_raise(rng):
    with pytest.raises(ValueError, match="mode"):
        ref.he_normal((3, 4), rng, mode="fan_avg")
    with pytest.raises(ValueError):
        ref.orthogonal((5,), rng)


# ------------------------------------------------------------ activation statistics vs torch
def _torch_layers(x, weights, activation):
    f = {"sigmoid": torch.sigmoid, "tanh": torch.tanh, "relu": torch.relu}[activation]
    h, out = torch.tensor(x), []
    for W in weights:
        h = f(h @ torch.tensor(W).T)
        out.append(h)
    return out


@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "relu"])
@pytest.mark.parametrize("initializer", ["xavier_normal", "he_normal", "small"])
def test_activation_stats_match_torch(activation, initializer, rng):
    widths = [30] + [20] * 6
    if initializer == "small":
        weights = ref.mlp_weights(widths, lambda shape, r: ref.normal(shape, 0.01, r), rng)
    else:
        weights = ref.mlp_weights(widths, getattr(ref, initializer), rng)
    x = rng.normal(size=(50, 30))
    hs = ref.layer_activations(x, weights, activation)
    means, stds = ref.activation_stats(x, weights, activation)
    th = _torch_layers(x, weights, activation)
    assert len(hs) == len(th) == 6 and means.shape == stds.shape == (6,)
    for h, t, m, s in zip(hs, th, means, stds):
        np.testing.assert_allclose(h, t.numpy(), rtol=1e-12, atol=1e-300)
        assert m == pytest.approx(t.mean().item(), rel=1e-12, abs=1e-300)
        assert s == pytest.approx(t.std(unbiased=False).item(), rel=1e-10, abs=1e-300)


def test_mlp_weights_layout_and_stream():
    ws = ref.mlp_weights([7, 5, 3], ref.he_normal, np.random.default_rng(2), mode="fan_out")
    assert [w.shape for w in ws] == [(5, 7), (3, 5)]
    r = np.random.default_rng(2)
    np.testing.assert_array_equal(ws[0], ref.he_normal((5, 7), r, mode="fan_out"))
    np.testing.assert_array_equal(ws[1], ref.he_normal((3, 5), r, mode="fan_out"))


def test_he_keeps_relu_activations_and_small_std_shrinks_them():
    """The book's claim, asserted: with He the relu std stays within a factor 2 over 10 layers,
    with std 0.01 it falls by more than 1e6, with std 1 it grows by more than 1e6."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(1000, 100))
    widths = [100] * 11
    _, he = ref.activation_stats(x, ref.mlp_weights(widths, ref.he_normal, rng), "relu")
    _, small = ref.activation_stats(x, ref.mlp_weights(widths, lambda s, r: ref.normal(s, 0.01, r), rng), "relu")
    _, big = ref.activation_stats(x, ref.mlp_weights(widths, lambda s, r: ref.normal(s, 1.0, r), rng), "relu")
    assert 0.5 < he[-1] / he[0] < 2
    assert small[-1] / small[0] < 1e-6 and big[-1] / big[0] > 1e6


# ------------------------------------------------------------ the checks' statistical design
def _false_reject_bounds(kind, n):
    """Upper bounds on each statistic's false-reject probability for a correct solution with n entries."""
    z, c = chk.Z, chk.C_STD[kind]
    tol = z * c / math.sqrt(n)  # on |rms / sigma - 1|
    out = {"ks": 2 * math.exp(-2 * chk.KS_T ** 2)}  # Dvoretzky-Kiefer-Wolfowitz-Massart, any n
    if kind == "normal":
        out["mean"] = 2 * stats.norm.sf(z)  # the mean of n normals is exactly normal
        # n rms^2 / sigma^2 is exactly chi-square with n degrees of freedom
        out["std"] = stats.chi2.cdf(n * (1 - tol) ** 2, n) + stats.chi2.sf(n * (1 + tol) ** 2, n)
    else:
        # U(-b, b) is strictly sub-Gaussian: E exp(t w) = sinh(t b) / (t b) <= exp(t^2 sigma^2 / 2), so Chernoff
        # gives P(|mean| >= z sigma / sqrt(n)) <= 2 exp(-z^2 / 2), as for a normal
        out["mean"] = 2 * math.exp(-z * z / 2)
        b = math.sqrt(3.0)  # sigma = 1
        # Bernstein for u = w^2 in [0, b^2], mean 1, Var u = 4/5: P(|mean u - 1| >= e) <= 2 exp(-n e^2 / (2 (4/5 + b^2 e / 3)))
        # and |rms - 1| > tol implies |mean u - 1| >= 2 tol - tol^2
        e = 2 * tol - tol * tol
        out["std"] = 2 * math.exp(-n * e * e / (2 * (0.8 + b * b * e / 3)))
        out["reach"] = (1 - chk.BOUND_REACH / n) ** n
    return out


@pytest.mark.parametrize("name", list(chk.RANDOM_CHECKS))
def test_false_reject_probability_is_below_1e_7(name):
    cases_fn, spec = chk.RANDOM_CHECKS[name]
    total = 0.0
    for case in cases_fn():
        shape, _ = case.args
        kind = spec(shape, **case.kwargs)[0]
        bounds = _false_reject_bounds(kind, math.prod(shape))
        assert max(bounds.values()) < 3e-9, bounds
        total += sum(bounds.values())
    assert total < 1e-7


def _offset_stream(fn, k):
    """A correct initializer that draws a different stream (offset k) from the same rng: still reproducible."""
    def other(shape, rng, **kw):
        return fn(shape, np.random.default_rng([int(rng.integers(2 ** 62)), k]), **kw)
    return other


@pytest.mark.parametrize("name", list(chk.RANDOM_CHECKS) + ["orthogonal"])
def test_checks_accept_many_correct_streams(name):
    """Forty correct solutions that draw different numbers all pass (the false-reject design, sampled)."""
    check = getattr(chk, "check_" + name)
    for k in range(40):
        assert check(_offset_stream(getattr(ref, name), k)) is None


@pytest.mark.parametrize("name", list(chk.RANDOM_CHECKS))
def test_correct_streams_stay_far_from_the_limits(name):
    """For the stats the checks use, a correct solution's value/limit stays below 0.8 over 40 streams."""
    cases_fn, spec = chk.RANDOM_CHECKS[name]
    worst = 0.0
    for case in cases_fn():
        shape, seed = case.args
        kind, scale = spec(shape, **case.kwargs)[:2]
        for k in range(40):
            w = getattr(ref, name)(shape, np.random.default_rng([seed, k]), **case.kwargs)
            for stat, (value, limit) in chk.distribution_stats(w, kind, scale).items():
                if stat != "inside":  # max|w| <= b is exact: value/limit is close to 1 by design
                    worst = max(worst, value / limit)
    assert worst < 0.8


def test_ks_distance_matches_scipy(rng):
    x = rng.normal(scale=0.3, size=500)
    assert chk.ks_distance(x, "normal", 0.3) == pytest.approx(stats.kstest(x, "norm", args=(0, 0.3)).statistic,
                                                             rel=1e-10)
    u = rng.uniform(-2, 2, size=500)
    assert chk.ks_distance(u, "uniform", 2.0) == pytest.approx(stats.kstest(u, "uniform", args=(-2, 4)).statistic,
                                                              rel=1e-10)


# ------------------------------------------------------------ correct variants: every check passes them
def _fans_loop(shape):
    r = 1
    for s in shape[2:]:
        r *= s
    return [shape[1] * r, shape[0] * r]


def _fans_numpy(shape):
    r = np.prod(shape[2:])  # 1.0 (a float) for a dense weight
    return np.array([shape[1] * r, shape[0] * r])


def _gain_dict(nonlinearity, param=None):
    table = {"tanh": 5 / 3, "relu": math.sqrt(2), "selu": 3 / 4}
    if nonlinearity == "leaky_relu":
        a = 0.01 if param is None else param
        return (2 / (1 + a * a)) ** 0.5
    return table.get(nonlinearity, 1.0)


def _torch_generator(rng):
    return torch.Generator().manual_seed(int(rng.integers(2 ** 62)))


def _via_torch(name, **fixed):
    def fn(shape, rng, **kw):
        kw = {**fixed, **kw}
        g = _torch_generator(rng)
        t = torch.empty(tuple(shape), dtype=torch.float32)
        if name == "lecun_normal":
            return init.kaiming_normal_(t, nonlinearity="linear", generator=g).numpy()
        if name.startswith("he_"):
            f = init.kaiming_normal_ if name == "he_normal" else init.kaiming_uniform_
            # torch's default a=0: for leaky_relu a gain of sqrt(2) instead of sqrt(2/1.0001), indistinguishable
            return f(t, mode=kw.get("mode", "fan_in"), nonlinearity=kw.get("nonlinearity", "relu"),
                     generator=g).numpy()
        return getattr(init, name + "_")(t, gain=kw.get("gain", 1.0), generator=g).numpy()
    return fn


def _std(name, shape, **kw):
    fan_in, fan_out = ref.fans(shape)
    if name == "lecun_normal":
        return 1 / math.sqrt(fan_in)
    if name.startswith("xavier"):
        return kw.get("gain", 1.0) * math.sqrt(2 / (fan_in + fan_out))
    fan = fan_in if kw.get("mode", "fan_in") == "fan_in" else fan_out
    return ref.calculate_gain(kw.get("nonlinearity", "relu")) / math.sqrt(fan)


def _standard_normal_times(name):
    return lambda shape, rng, **kw: rng.standard_normal(shape) * _std(name, shape, **kw)


def _float32_normal(name):
    return lambda shape, rng, **kw: (rng.standard_normal(shape, dtype=np.float32)
                                     * np.float32(_std(name, shape, **kw)))


def _box_muller(name):
    """Normal numbers made from uniform ones, with Python loops: slow style, same distribution."""
    def fn(shape, rng, **kw):
        n = math.prod(shape)
        u1, u2 = rng.random(n), rng.random(n)
        out = []
        for a, b in zip(u1, u2):
            out.append(math.sqrt(-2 * math.log(1 - a)) * math.cos(2 * math.pi * b))
        return np.array(out).reshape(shape) * _std(name, shape, **kw)
    return fn


def _random_times_two_minus_one(name):
    return lambda shape, rng, **kw: (rng.random(size=shape) * 2 - 1) * math.sqrt(3) * _std(name, shape, **kw)


def _float32_uniform(name):
    return lambda shape, rng, **kw: ((rng.random(size=shape, dtype=np.float32) * 2 - 1)
                                     * np.float32(math.sqrt(3) * _std(name, shape, **kw)))


def _orthogonal_svd(shape, rng, gain=1.0):
    rows = shape[0]
    a = rng.normal(size=(rows, math.prod(shape[1:])))
    u, _, vt = np.linalg.svd(a, full_matrices=False)
    return gain * (u @ vt).reshape(shape)


def _orthogonal_qr_no_sign(shape, rng, gain=1.0):
    rows, cols = shape[0], math.prod(shape[1:])
    a = rng.standard_normal((max(rows, cols), min(rows, cols)))
    q, _ = np.linalg.qr(a)
    q = q if rows >= cols else q.T
    return (gain * q).reshape(shape)


def _orthogonal_gram_schmidt_float32(shape, rng, gain=1.0):
    rows, cols = shape[0], math.prod(shape[1:])
    a = rng.normal(size=(rows, cols)).astype(np.float32)
    m = a if rows <= cols else a.T  # orthonormalize the shorter side's vectors
    basis = []
    for v in m:
        for b in basis:
            v = v - (v @ b) * b
        basis.append(v / np.linalg.norm(v))
    q = np.array(basis, dtype=np.float32)
    q = q if rows <= cols else q.T
    return (np.float32(gain) * q).reshape(shape)


INITS = ["lecun_normal", "xavier_normal", "xavier_uniform", "he_normal", "he_uniform"]
NORMALS = [n for n in INITS if n.endswith("normal")]
UNIFORMS = [n for n in INITS if n.endswith("uniform")]

VARIANTS = [
    ("check_fans", "reference", ref.fans),
    ("check_fans", "loop, returns a list", _fans_loop),
    ("check_fans", "np.prod (floats for dense), returns an array", _fans_numpy),
    ("check_fans", "torch's own", lambda s: init._calculate_fan_in_and_fan_out(torch.empty(s))),
    ("check_calculate_gain", "reference", ref.calculate_gain),
    ("check_calculate_gain", "dict lookup", _gain_dict),
    ("check_calculate_gain", "torch's own", init.calculate_gain),
    ("check_calculate_gain", "float32", lambda n, p=None: np.float32(ref.calculate_gain(n, p))),
    ("check_orthogonal", "reference (QR)", ref.orthogonal),
    ("check_orthogonal", "SVD: U @ Vt", _orthogonal_svd),
    ("check_orthogonal", "QR without the sign fix", _orthogonal_qr_no_sign),
    ("check_orthogonal", "Gram-Schmidt loops in float32", _orthogonal_gram_schmidt_float32),
    ("check_orthogonal", "torch via a generator seeded from rng",
     lambda s, rng, gain=1.0: init.orthogonal_(torch.empty(s), gain, generator=_torch_generator(rng)).numpy()),
]
for _n in INITS:
    VARIANTS += [(f"check_{_n}", "reference", getattr(ref, _n)),
                 (f"check_{_n}", "torch float32 via a generator seeded from rng", _via_torch(_n))]
for _n in NORMALS:
    VARIANTS += [(f"check_{_n}", "standard_normal() * std", _standard_normal_times(_n)),
                 (f"check_{_n}", "float32 standard_normal", _float32_normal(_n)),
                 (f"check_{_n}", "Box-Muller from rng.random, loops", _box_muller(_n))]
for _n in UNIFORMS:
    VARIANTS += [(f"check_{_n}", "random() * 2 - 1", _random_times_two_minus_one(_n)),
                 (f"check_{_n}", "float32 random", _float32_uniform(_n))]


@pytest.mark.parametrize("check, fn", cases(VARIANTS))
def test_check_accepts_correct_variant(check, fn):
    assert_accepts(getattr(chk, check), fn)


# ------------------------------------------------------------ known mistakes: every check fails them
def _stub(*args, **kwargs):
    raise NotImplementedError()


def _fans_receptive_square(shape):
    r = shape[-1] ** 2 if len(shape) > 2 else 1  # assumes a square 2-D kernel
    return shape[1] * r, shape[0] * r


def _gain_with(**overrides):
    def fn(nonlinearity, param=None):
        if nonlinearity in overrides:
            v = overrides[nonlinearity]
            return v(param) if callable(v) else v
        return ref.calculate_gain(nonlinearity, param)
    return fn


def _gain_only_known(nonlinearity, param=None):
    return {"linear": 1.0, "sigmoid": 1.0, "tanh": 5 / 3, "relu": math.sqrt(2),
            "leaky_relu": math.sqrt(2 / (1 + (0.01 if param is None else param) ** 2)), "selu": 0.75}[nonlinearity]


def _normal_with_std(std_fn):
    return lambda shape, rng, **kw: rng.normal(0.0, std_fn(shape, **kw), size=shape)


def _uniform_with_bound(bound_fn):
    return lambda shape, rng, **kw: rng.uniform(-bound_fn(shape, **kw), bound_fn(shape, **kw), size=shape)


def _fan(shape, mode="fan_in"):
    fan_in, fan_out = ref.fans(shape)
    return fan_in if mode == "fan_in" else fan_out


def _gain(kw):
    return ref.calculate_gain(kw.get("nonlinearity", "relu"))


def _global_random(name):
    return lambda shape, rng, **kw: np.random.normal(0, _std(name, shape, **kw), size=shape)


def _own_fixed_seed(name):
    return lambda shape, rng, **kw: getattr(ref, name)(shape, np.random.default_rng(0), **kw)


def _transposed(name):
    return lambda shape, rng, **kw: getattr(ref, name)(shape, rng, **kw).T


def _uniform_same_std(name):
    return lambda shape, rng, **kw: rng.uniform(-1, 1, size=shape) * math.sqrt(3) * _std(name, shape, **kw)


def _normal_same_std(name):
    return lambda shape, rng, **kw: rng.normal(0, _std(name, shape, **kw), size=shape)


def _receptive_ignored(name):
    def fn(shape, rng, **kw):
        s = _std(name, shape[:2], **kw)
        if name.endswith("uniform"):
            return rng.uniform(-math.sqrt(3) * s, math.sqrt(3) * s, size=shape)
        return rng.normal(0, s, size=shape)
    return fn


def _variance_as_std(name):
    def fn(shape, rng, **kw):
        v = _std(name, shape, **kw) ** 2
        return rng.uniform(-math.sqrt(3) * v, math.sqrt(3) * v, size=shape) if name.endswith("uniform") \
            else rng.normal(0, v, size=shape)
    return fn


def _std_as_loc(name):
    return lambda shape, rng, **kw: rng.normal(_std(name, shape, **kw), size=shape)  # normal(loc=std, scale=1)


def _positive_uniform(name):
    return lambda shape, rng, **kw: rng.uniform(0, math.sqrt(3) * _std(name, shape, **kw), size=shape)


def _xavier_no_gain(kind):
    return lambda shape, rng, gain=1.0: getattr(ref, "xavier_" + kind)(shape, rng)


def _xavier_gain_twice(kind):
    return lambda shape, rng, gain=1.0: getattr(ref, "xavier_" + kind)(shape, rng, gain=gain * gain)


def _he_mode(kind, mode):
    return lambda shape, rng, nonlinearity="relu", **kw: getattr(ref, "he_" + kind)(shape, rng, nonlinearity, mode)


def _he_swapped_fans(kind):
    def fn(shape, rng, nonlinearity="relu", mode="fan_in"):
        return getattr(ref, "he_" + kind)(shape, rng, nonlinearity, "fan_out" if mode == "fan_in" else "fan_in")
    return fn


def _he_with_gain(kind, **gains):
    def fn(shape, rng, nonlinearity="relu", mode="fan_in"):
        g = gains.get(nonlinearity, ref.calculate_gain(nonlinearity))
        s = g / math.sqrt(_fan(shape, mode))
        return rng.normal(0, s, size=shape) if kind == "normal" else rng.uniform(-math.sqrt(3) * s, math.sqrt(3) * s,
                                                                                size=shape)
    return fn


def _ortho_gaussian(shape, rng, gain=1.0):
    return gain * rng.standard_normal(shape)


def _ortho_scaled_gaussian(shape, rng, gain=1.0):
    return gain * rng.standard_normal(shape) / math.sqrt(math.prod(shape[1:]))  # right length, not orthogonal


def _ortho_no_gain(shape, rng, gain=1.0):
    return ref.orthogonal(shape, rng)


def _ortho_gain_squared(shape, rng, gain=1.0):
    return ref.orthogonal(shape, rng, gain * gain)


def _ortho_rows_normalized(shape, rng, gain=1.0):
    a = rng.standard_normal((shape[0], math.prod(shape[1:])))
    return gain * (a / np.linalg.norm(a, axis=1, keepdims=True)).reshape(shape)


def _ortho_per_tap(shape, rng, gain=1.0):
    """Conv kernel: each (C_out, C_in) slice made orthogonal on its own instead of the flattened matrix."""
    if len(shape) == 2:
        return ref.orthogonal(shape, rng, gain)
    w = np.empty(shape)
    for idx in np.ndindex(*shape[2:]):
        w[(slice(None), slice(None)) + idx] = ref.orthogonal(shape[:2], rng, gain)
    return w


def _ortho_no_transpose(shape, rng, gain=1.0):
    a = rng.standard_normal((shape[0], math.prod(shape[1:])))
    q, _ = np.linalg.qr(a)  # (rows, min(rows, cols)): the wrong shape for a wide matrix
    return gain * q


def _ortho_eye(shape, rng, gain=1.0):
    rows, cols = shape[0], math.prod(shape[1:])
    return gain * np.eye(rows, cols).reshape(shape)


def _ortho_global(shape, rng, gain=1.0):
    return ref.orthogonal(shape, np.random.default_rng(np.random.randint(2 ** 31)), gain)


MISTAKES = [
    ("check_fans", "stub", _stub),
    ("check_fans", "swapped fans", lambda s: ref.fans(s)[::-1]),
    ("check_fans", "receptive field ignored", lambda s: (s[1], s[0])),
    ("check_fans", "receptive field in fan_in only", lambda s: (ref.fans(s)[0], s[0])),
    ("check_fans", "square kernel assumed: r = shape[-1]**2", _fans_receptive_square),
    ("check_fans", "numpy layout (fan_in, fan_out) = shape[:2]", lambda s: (s[0] * math.prod(s[2:]),
                                                                            s[1] * math.prod(s[2:]))),
    ("check_fans", "returns fan_in only", lambda s: ref.fans(s)[0]),
    ("check_calculate_gain", "stub", _stub),
    ("check_calculate_gain", "gain of relu is 2", _gain_with(relu=2.0)),
    ("check_calculate_gain", "tanh gain 1", _gain_with(tanh=1.0)),
    ("check_calculate_gain", "tanh gain rounded to 1.667", _gain_with(tanh=1.667)),
    ("check_calculate_gain", "leaky relu ignores its slope", _gain_with(leaky_relu=math.sqrt(2))),
    ("check_calculate_gain", "leaky relu slope not squared",
     _gain_with(leaky_relu=lambda p: math.sqrt(2 / (1 + (0.01 if p is None else p))))),
    ("check_calculate_gain", "leaky relu default slope 0",
     _gain_with(leaky_relu=lambda p: math.sqrt(2 / (1 + (p or 0) ** 2)))),
    ("check_calculate_gain", "variance factor instead of std (relu 2, tanh 25/9)",
     lambda n, p=None: ref.calculate_gain(n, p) ** 2),
    ("check_calculate_gain", "selu gain 1", _gain_with(selu=1.0)),
    ("check_calculate_gain", "conv names unknown (KeyError)", _gain_only_known),
    ("check_orthogonal", "stub", _stub),
    ("check_orthogonal", "Gaussian matrix passed off as orthogonal", _ortho_gaussian),
    ("check_orthogonal", "Gaussian scaled to unit rows on average", _ortho_scaled_gaussian),
    ("check_orthogonal", "without gain", _ortho_no_gain),
    ("check_orthogonal", "gain squared", _ortho_gain_squared),
    ("check_orthogonal", "rows normalized, not orthogonalized", _ortho_rows_normalized),
    ("check_orthogonal", "conv kernel orthogonal per tap, not flattened", _ortho_per_tap),
    ("check_orthogonal", "QR without transposing a wide matrix", _ortho_no_transpose),
    ("check_orthogonal", "identity matrix (not random)", _ortho_eye),
    ("check_orthogonal", "global np.random", _ortho_global),
]
for _n in INITS:
    MISTAKES += [(f"check_{_n}", "stub", _stub),
                 (f"check_{_n}", "global np.random instead of rng", _global_random(_n)),
                 (f"check_{_n}", "own generator with a fixed seed", _own_fixed_seed(_n)),
                 (f"check_{_n}", "transposed (fan_in, fan_out) layout", _transposed(_n)),
                 (f"check_{_n}", "conv receptive field ignored", _receptive_ignored(_n)),
                 (f"check_{_n}", "variance used as std", _variance_as_std(_n)),
                 (f"check_{_n}", "returns None", lambda shape, rng, **kw: None)]
for _n in NORMALS:
    MISTAKES += [(f"check_{_n}", "uniform with the right std", _uniform_same_std(_n)),
                 (f"check_{_n}", "rng.normal(std): std passed as the mean", _std_as_loc(_n))]
for _n in UNIFORMS:
    MISTAKES += [(f"check_{_n}", "normal with the right std", _normal_same_std(_n)),
                 (f"check_{_n}", "uniform on [0, b]", _positive_uniform(_n))]
MISTAKES += [
    ("check_lecun_normal", "fan_out", _normal_with_std(lambda s: 1 / math.sqrt(_fan(s, "fan_out")))),
    ("check_lecun_normal", "He's sqrt(2 / fan_in)", _normal_with_std(lambda s: math.sqrt(2 / _fan(s)))),
    ("check_lecun_normal", "Xavier's std", lambda s, rng: ref.xavier_normal(s, rng)),
    ("check_xavier_normal", "fan_in only: 1/sqrt(fan_in) (LeCun)",
     _normal_with_std(lambda s, gain=1.0: gain / math.sqrt(_fan(s)))),
    ("check_xavier_normal", "fan_in only: sqrt(2/fan_in)",
     _normal_with_std(lambda s, gain=1.0: gain * math.sqrt(2 / _fan(s)))),
    ("check_xavier_normal", "without gain", _xavier_no_gain("normal")),
    ("check_xavier_normal", "gain applied twice", _xavier_gain_twice("normal")),
    ("check_xavier_uniform", "bound sqrt(3 / (fan_in + fan_out))",
     _uniform_with_bound(lambda s, gain=1.0: gain * math.sqrt(3 / sum(ref.fans(s))))),
    ("check_xavier_uniform", "fan_in only: sqrt(6 / fan_in)",
     _uniform_with_bound(lambda s, gain=1.0: gain * math.sqrt(6 / _fan(s)))),
    ("check_xavier_uniform", "the normal's std used as the bound",
     _uniform_with_bound(lambda s, gain=1.0: gain * math.sqrt(2 / sum(ref.fans(s))))),
    ("check_xavier_uniform", "without gain", _xavier_no_gain("uniform")),
    ("check_xavier_uniform", "gain applied twice", _xavier_gain_twice("uniform")),
]
for _k in ("normal", "uniform"):
    MISTAKES += [
        (f"check_he_{_k}", "always fan_out", _he_mode(_k, "fan_out")),
        (f"check_he_{_k}", "mode ignored (always fan_in)", _he_mode(_k, "fan_in")),
        (f"check_he_{_k}", "swapped fans", _he_swapped_fans(_k)),
        (f"check_he_{_k}", "gain of relu as 2", _he_with_gain(_k, relu=2.0)),
        (f"check_he_{_k}", "tanh gain 1", _he_with_gain(_k, tanh=1.0)),
        (f"check_he_{_k}", "Xavier instead", lambda s, rng, nonlinearity="relu", mode="fan_in", _k=_k:
            getattr(ref, "xavier_" + _k)(s, rng, gain=ref.calculate_gain(nonlinearity))),
    ]
MISTAKES += [
    ("check_he_uniform", "bound sqrt(6 / fan)",
     _uniform_with_bound(lambda s, nonlinearity="relu", mode="fan_in":
                         ref.calculate_gain(nonlinearity) * math.sqrt(6 / _fan(s, mode)))),
    ("check_he_uniform", "the normal's std used as the bound",
     _uniform_with_bound(lambda s, nonlinearity="relu", mode="fan_in":
                         ref.calculate_gain(nonlinearity) / math.sqrt(_fan(s, mode)))),
]


@pytest.mark.parametrize("check, fn", cases(MISTAKES))
def test_check_rejects_mistake(check, fn):
    assert_rejects(getattr(chk, check), fn, name=check.replace("check_", ""))


# ------------------------------------------------------------ messages
@pytest.mark.parametrize("check, fn, needle", [
    ("check_fans", lambda s: ref.fans(s)[::-1], "swapped"),
    ("check_fans", lambda s: (s[1], s[0]), "receptive field"),
    ("check_calculate_gain", _gain_with(tanh=1.667), "5 / 3"),
    ("check_he_normal", _he_with_gain("normal", relu=2.0), "sqrt(2), not 2"),
    ("check_he_normal", _he_mode("normal", "fan_in"), "you divided by fan_in"),
    ("check_he_uniform", _he_with_gain("uniform", tanh=1.0), "5/3, not 1"),
    ("check_xavier_uniform", _uniform_with_bound(lambda s, gain=1.0: gain * math.sqrt(3 / sum(ref.fans(s)))),
     "sqrt(3 / ...) is too small"),
    ("check_xavier_normal", _normal_with_std(lambda s, gain=1.0: gain / math.sqrt(_fan(s))), "LeCun"),
    ("check_xavier_normal", _xavier_no_gain("normal"), "multiply by the gain"),
    ("check_lecun_normal", _variance_as_std("lecun_normal"), "square root"),
    ("check_lecun_normal", _receptive_ignored("lecun_normal"), "receptive field"),
    ("check_lecun_normal", _global_random("lecun_normal"), "not from np.random"),
    ("check_lecun_normal", _own_fixed_seed("lecun_normal"), "fixed seed"),
    ("check_lecun_normal", _transposed("lecun_normal"), "(fan_out, fan_in)"),
    ("check_lecun_normal", _uniform_same_std("lecun_normal"), "Kolmogorov-Smirnov"),
    ("check_he_uniform", _normal_same_std("he_uniform"), "outside [-b, b]"),
    ("check_he_uniform", _positive_uniform("he_uniform"), "centred on 0"),
    ("check_orthogonal", _ortho_no_gain, "multiply by gain"),
    ("check_orthogonal", _ortho_gaussian, "np.linalg.qr"),
    ("check_orthogonal", _ortho_rows_normalized, "not orthogonal to each other"),
    ("check_orthogonal", _ortho_per_tap, "C_out, C_in * kh * kw"),
], ids=lambda v: v if isinstance(v, str) else "")
def test_message_names_the_mistake(check, fn, needle):
    msg = assert_rejects(getattr(chk, check), fn, name=check.replace("check_", ""))
    assert needle in msg, msg
    assert "case " in msg and "hint:" in msg


def test_stub_message():
    msg = assert_rejects(chk.check_he_normal, _stub, name="he_normal")
    assert "not implemented yet" in msg


@pytest.mark.parametrize("check", ["fans", "calculate_gain", "orthogonal"] + INITS)
def test_visible_only_runs_fewer_cases(check):
    calls = []
    fn = getattr(ref, check)

    def spy(*args, **kwargs):
        calls.append(1)
        return fn(*args, **kwargs)

    getattr(chk, "check_" + check)(spy, visible_only=True)
    n_visible = len(calls)
    getattr(chk, "check_" + check)(spy)
    assert 0 < n_visible < len(calls) - n_visible


def test_checks_survive_monkeypatched_numpy(monkeypatch):
    monkeypatch.setattr(np, "allclose", lambda *a, **k: True)
    monkeypatch.setattr(np, "array_equal", lambda *a, **k: True)
    monkeypatch.setattr(np, "sqrt", lambda x: x)
    monkeypatch.setattr(np, "abs", lambda x: x * 0)
    with pytest.raises(AssertionError):
        chk.check_he_normal(_he_with_gain("normal", relu=2.0))
    with pytest.raises(AssertionError):
        chk.check_orthogonal(_ortho_gaussian)
    with pytest.raises(AssertionError):
        chk.check_lecun_normal(_global_random("lecun_normal"))


def test_checks_write_nothing_to_stderr(capfd):
    def noisy(shape, rng, **kw):
        np.log(np.zeros(1))  # a RuntimeWarning inside the student's code
        return ref.he_normal(shape, rng, **kw)

    chk.check_he_normal(noisy)
    for name in ["fans", "calculate_gain", "orthogonal"] + INITS:
        getattr(chk, "check_" + name)(getattr(ref, name))
    assert capfd.readouterr().err == ""


# ------------------------------------------------------------ quiz
@pytest.mark.parametrize("answer", ["b", "B", " (b) "])
def test_quiz_zero_init_accepts(answer):
    assert chk.check_quiz_zero_init(answer) is None


@pytest.mark.parametrize("answer", [None, "a", "c", "d", "", 2, "ab"])
def test_quiz_zero_init_rejects(answer):
    assert_rejects(chk.check_quiz_zero_init, answer, name="zero_init")


def test_quiz_zero_init_answer_is_what_happens():
    """The keyed answer, asserted with torch: zero weights in a tanh MLP keep the hidden units identical
    (all equal to each other) after training steps, while the output bias does learn."""
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(4, 6), torch.nn.Tanh(), torch.nn.Linear(6, 3))
    for p in net.parameters():
        torch.nn.init.zeros_(p)
    x, y = torch.randn(32, 4), torch.randint(0, 3, (32,))
    opt = torch.optim.SGD(net.parameters(), lr=0.5)
    for _ in range(20):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(net(x), y).backward()
        opt.step()
    w1 = net[0].weight.detach()
    assert torch.all(w1 == w1[0]) and torch.all(net[2].weight.detach().T == net[2].weight.detach().T[0])
    assert net[2].bias.detach().abs().max() > 0


@pytest.mark.parametrize("answer", [math.sqrt(2 / 288), 0.0833, 0.08333, np.float32(0.0833)])
def test_quiz_he_std_accepts(answer):
    assert chk.check_quiz_he_std(answer) is None


@pytest.mark.parametrize("answer", [None, "about 0.08", 0.083, math.sqrt(2 / 32), math.sqrt(1 / 288),
                                    math.sqrt(2 / 576), 2 / 288, 2 / math.sqrt(288)])
def test_quiz_he_std_rejects(answer):
    assert_rejects(chk.check_quiz_he_std, answer, name="he_std")


# ------------------------------------------------------------ claims the book makes
def test_torch_linear_default_is_a_third_of_lecun():
    """Book: nn.Linear's default weight is U(-1/sqrt(fan_in), 1/sqrt(fan_in)), variance 1/(3 fan_in)."""
    torch.manual_seed(0)
    w = torch.nn.Linear(400, 300).weight.detach().numpy()
    assert np.abs(w).max() <= 1 / math.sqrt(400)
    assert np.abs(w).max() > (1 - 23 / w.size) / math.sqrt(400)
    assert w.var() == pytest.approx(1 / (3 * 400), rel=6 * math.sqrt(0.8 / w.size))


def test_tanh_gain_fixed_point():
    """Book: q <- gain^2 E[tanh(sqrt(q) z)^2] goes to 0 with gain 1 and settles near 1.2 with gain 5/3."""
    z, wz = np.polynomial.hermite_e.hermegauss(80)
    wz = wz / wz.sum()  # Gauss-Hermite quadrature for z ~ N(0, 1)

    def iterate(gain, steps):
        q = 1.0
        for _ in range(steps):
            q = gain ** 2 * np.sum(wz * np.tanh(np.sqrt(q) * z) ** 2)
        return q

    assert iterate(1.0, 2000) < 1e-3
    assert iterate(5 / 3, 200) == pytest.approx(1.18, abs=0.01)
