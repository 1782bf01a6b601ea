"""Chapter 6: reference vs scikit-learn / scipy / the papers' tables, and the checks vs mistakes and variants."""
import heapq
import itertools
import math

import numpy as np
import pytest
import torch
from scipy import stats
from scipy.spatial.distance import cdist
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import RBF, ConstantKernel
from sklearn.model_selection import ParameterGrid

from autograder.checks import tuning as chk
from autograder.reference import tuning as ref
from checkkit import assert_accepts, assert_rejects, cases

pytestmark = pytest.mark.usefixtures("torch_float64")  # restored after each test


# ------------------------------------------------------------ samplers vs scipy.stats
@pytest.mark.parametrize("lo, hi", [(0.0, 1.0), (-3.0, 5.0), (1e-3, 2e-3)])
def test_uniform_matches_scipy_distribution(lo, hi):
    s, r = ref.uniform(lo, hi), np.random.default_rng(1)
    x = np.array([s(r) for _ in range(3000)])
    assert x.min() >= lo and x.max() < hi
    assert stats.kstest(x, stats.uniform(lo, hi - lo).cdf).pvalue > 1e-3


@pytest.mark.parametrize("lo, hi", [(1e-5, 1e-1), (1e-3, 10.0), (0.5, 2.0)])
def test_loguniform_matches_scipy_distribution(lo, hi):
    s, r = ref.loguniform(lo, hi), np.random.default_rng(2)
    x = np.array([s(r) for _ in range(3000)])
    assert x.min() >= lo and x.max() <= hi
    assert stats.kstest(x, stats.loguniform(lo, hi).cdf).pvalue > 1e-3
    # every decade equally likely: the fraction below the geometric midpoint is 1/2 (4 standard errors)
    assert abs(np.mean(x < math.sqrt(lo * hi)) - 0.5) < 4 * math.sqrt(0.25 / len(x))


def test_choice_and_randint_are_uniform_over_their_support():
    r = np.random.default_rng(3)
    opts = ["relu", "tanh", "gelu", None]
    c = ref.choice(opts)
    draws = [c(r) for _ in range(4000)]
    counts = [sum(d == o for d in draws) for o in opts]
    assert stats.chisquare(counts).pvalue > 1e-3
    ri = ref.randint(2, 7)
    ints = np.array([ri(r) for _ in range(5000)])
    assert set(ints) == {2, 3, 4, 5, 6}  # hi excluded, as rng.integers and scipy.stats.randint
    assert all(isinstance(v, int) for v in ints[:10].tolist())
    expected = len(ints) * stats.randint(2, 7).pmf(np.arange(2, 7))
    assert stats.chisquare(np.bincount(ints)[2:], expected).pvalue > 1e-3


def test_samplers_use_only_the_generator_given():
    for s in [ref.uniform(0, 1), ref.loguniform(1e-4, 1), ref.choice(range(100)), ref.randint(0, 10 ** 6)]:
        a = [s(np.random.default_rng(7)) for _ in range(3)]
        b = [s(np.random.default_rng(7)) for _ in range(3)]
        r = np.random.default_rng(8)
        c = [s(r) for _ in range(5)]
        assert a == b and len(set(c)) > 1


@pytest.mark.parametrize("bad", [lambda: ref.uniform(1, 1), lambda: ref.loguniform(0, 1),
                                 lambda: ref.loguniform(2, 1), lambda: ref.choice([]), lambda: ref.randint(3, 3)])
def test_samplers_reject_empty_ranges(bad):
    with pytest.raises(ValueError):
        bad()


def test_sample_draws_keys_in_order_and_keeps_constants():
    space = {"lr": ref.loguniform(1e-4, 1e-1), "act": ref.choice(["relu", "tanh"]), "epochs": 10,
             "width": ref.randint(8, 65)}
    got = ref.sample(space, np.random.default_rng(4))
    r = np.random.default_rng(4)
    want = {"lr": space["lr"](r), "act": space["act"](r), "epochs": 10, "width": space["width"](r)}
    assert got == want and list(got) == list(space)


# ------------------------------------------------------------ grid and random search vs brute force / sklearn
def _objective(p):
    return (math.log10(p["lr"]) + 2) ** 2 + (p["width"] - 48) ** 2 / 1000 + (0.1 if p["act"] == "tanh" else 0)


def test_grid_search_visits_product_in_order():
    grid = {"width": [16, 32, 64], "lr": [1e-1, 1e-2, 1e-3, 1e-4], "act": ["tanh", "relu"]}
    best, value, history = ref.grid_search(_objective, grid)
    order = [dict(zip(grid, c)) for c in itertools.product(*grid.values())]
    assert [p for p, _ in history] == order
    # the same set as sklearn's ParameterGrid (which iterates in sorted-key order)
    assert sorted(map(repr, (dict(sorted(p.items())) for p, _ in history))) == \
        sorted(map(repr, (dict(sorted(p.items())) for p in ParameterGrid(grid))))
    brute = min(order, key=_objective)
    assert best == brute and value == _objective(brute)
    assert all(v == _objective(p) for p, v in history)


def test_grid_search_ties_go_to_the_first():
    best, value, history = ref.grid_search(lambda p: abs(p["a"]), {"a": [2, -1, 1, 3], "b": ["x", "y"]})
    assert best == {"a": -1, "b": "x"} and value == 1.0 and len(history) == 8


def test_random_search_draws_with_sample_in_order():
    space = {"lr": ref.loguniform(1e-4, 1e-1), "width": ref.randint(16, 65), "act": ref.choice(["relu", "tanh"])}
    best, value, history = ref.random_search(_objective, space, 25, np.random.default_rng(5))
    r = np.random.default_rng(5)
    assert [p for p, _ in history] == [ref.sample(space, r) for _ in range(25)]
    assert value == min(_objective(p) for p, _ in history) and _objective(best) == value


def test_random_search_lr_is_log_uniform_like_scipy():
    space = {"lr": ref.loguniform(1e-5, 1.0)}
    _, _, history = ref.random_search(lambda p: p["lr"], space, 2000, np.random.default_rng(6))
    lrs = np.array([p["lr"] for p, _ in history])
    assert stats.kstest(lrs, stats.loguniform(1e-5, 1.0).cdf).pvalue > 1e-3


def test_random_search_beats_grid_when_one_hyperparameter_matters():
    """Bergstra & Bengio's argument: 9 grid points try 3 values of the important axis, 9 random points try 9."""
    def f(p):
        return (p["x"] - 0.77) ** 2 + 1e-3 * p["y"]

    _, grid_best, _ = ref.grid_search(f, {"x": [1 / 6, 1 / 2, 5 / 6], "y": [1 / 6, 1 / 2, 5 / 6]})
    space = {"x": ref.uniform(0, 1), "y": ref.uniform(0, 1)}
    rand = [ref.random_search(f, space, 9, np.random.default_rng(s))[1] for s in range(21)]
    assert np.median(rand) < grid_best


# ------------------------------------------------------------ GP vs scikit-learn
def _sk_kernel(ls, var):
    return ConstantKernel(var, constant_value_bounds="fixed") * RBF(ls, length_scale_bounds="fixed")


@pytest.mark.parametrize("n, m, d, ls, var", [(4, 3, 1, 1.0, 1.0), (6, 5, 2, 0.5, 2.0), (3, 7, 4, 2.5, 0.3),
                                              (5, 5, 3, np.array([0.5, 1.0, 3.0]), 1.7)])
def test_rbf_kernel_matches_sklearn(n, m, d, ls, var, rng):
    A, B = rng.normal(size=(n, d)), rng.normal(size=(m, d))
    np.testing.assert_allclose(ref.rbf_kernel(A, B, ls, var), _sk_kernel(ls, var)(A, B), rtol=1e-12, atol=1e-15)


def test_rbf_kernel_on_1d_arrays_and_against_cdist(rng):
    a, b = rng.normal(size=5), rng.normal(size=3)
    np.testing.assert_allclose(ref.rbf_kernel(a, b, 0.7, 1.3),
                               1.3 * np.exp(-cdist(a[:, None], b[:, None], "sqeuclidean") / (2 * 0.7 ** 2)),
                               rtol=1e-12)
    K = ref.rbf_kernel(a, a, 0.7, 1.3)
    np.testing.assert_allclose(np.diag(K), 1.3, rtol=1e-14)
    assert np.linalg.eigvalsh(K).min() > -1e-12  # positive semi-definite


def _sk_gp(X, y, ls, var, noise):
    return GaussianProcessRegressor(kernel=_sk_kernel(ls, var), alpha=noise, optimizer=None).fit(X, y)


@pytest.mark.parametrize("d, ls, var, noise", [(1, 1.0, 1.0, 1e-6), (2, 0.7, 2.5, 0.1), (3, 1.5, 0.5, 1e-3),
                                               (1, 0.3, 4.0, 1e-2)])
def test_gp_posterior_matches_sklearn(d, ls, var, noise, rng):
    X = rng.uniform(-2, 2, size=(8, d))
    y = np.sin(X.sum(1)) + 0.1 * rng.normal(size=8)
    Xs = np.vstack([rng.uniform(-3, 3, size=(6, d)), X[:2]])  # include two training points
    mean, std = ref.gp_posterior(X, y, Xs, ls, var, noise)
    sk_mean, sk_std = _sk_gp(X, y, ls, var, noise).predict(Xs, return_std=True)
    np.testing.assert_allclose(mean, sk_mean, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(std, sk_std, rtol=1e-6, atol=1e-7)


def test_gp_posterior_limits(rng):
    X = rng.uniform(-1, 1, size=(5, 1))
    y = rng.normal(size=5)
    mean, std = ref.gp_posterior(X, y, X, 0.5, 2.0, 1e-10)
    np.testing.assert_allclose(mean, y, atol=1e-6)  # interpolates the data without noise
    assert std.max() < 1e-3
    mean, std = ref.gp_posterior(X, y, np.array([[50.0]]), 0.5, 2.0, 1e-6)
    np.testing.assert_allclose([mean[0], std[0]], [0.0, math.sqrt(2.0)], atol=1e-12)  # back to the prior


def test_gp_posterior_matches_direct_inverse(rng):
    """mean = k*^T K^-1 y and var = k** - k*^T K^-1 k*, written with an explicit inverse in torch."""
    X, Xs, y = rng.normal(size=(6, 2)), rng.normal(size=(4, 2)), rng.normal(size=6)
    Xt, Xst = torch.tensor(X), torch.tensor(Xs)

    def k(a, b):
        return 1.5 * torch.exp(-torch.cdist(a, b) ** 2 / (2 * 0.9 ** 2))

    Kinv = torch.linalg.inv(k(Xt, Xt) + 0.05 * torch.eye(6))
    mean = k(Xst, Xt) @ Kinv @ torch.tensor(y)
    var = 1.5 - torch.einsum("ij,jk,ik->i", k(Xst, Xt), Kinv, k(Xst, Xt))
    m, s = ref.gp_posterior(X, y, Xs, 0.9, 1.5, 0.05)
    np.testing.assert_allclose(m, mean.numpy(), rtol=1e-9)
    np.testing.assert_allclose(s, var.sqrt().numpy(), rtol=1e-9)


@pytest.mark.parametrize("ls, var, noise", [(1.0, 1.0, 1e-6), (0.4, 2.0, 0.1), (2.0, 0.5, 1e-3)])
def test_log_marginal_likelihood_matches_sklearn(ls, var, noise, rng):
    X = rng.uniform(0, 1, size=(10, 2))
    y = np.cos(3 * X[:, 0]) + X[:, 1]
    np.testing.assert_allclose(ref.gp_log_marginal_likelihood(X, y, ls, var, noise),
                               _sk_gp(X, y, ls, var, noise).log_marginal_likelihood_value_, rtol=1e-9)


# ------------------------------------------------------------ expected improvement vs scipy and Monte Carlo
def test_ei_matches_numerical_expectation(rng):
    """EI = E[max(best - xi - f, 0)], f ~ N(mu, sigma^2), integrated by scipy.stats.norm.expect."""
    mu, sigma = rng.normal(size=8), rng.uniform(0.05, 2.0, size=8)
    for best, xi in [(0.0, 0.0), (-0.5, 0.1), (1.0, 0.01)]:
        ei = ref.expected_improvement(mu, sigma, best, xi)
        quad = [stats.norm.expect(lambda f: best - xi - f, loc=m, scale=s, ub=best - xi)  # the part f < best - xi
                for m, s in zip(mu, sigma)]
        np.testing.assert_allclose(ei, quad, rtol=1e-6, atol=1e-10)


def test_ei_matches_monte_carlo(rng):
    mu, sigma, best = np.array([0.3, -0.1, 1.0, 0.0]), np.array([0.5, 0.2, 1.5, 1e-2]), 0.1
    f = rng.normal(mu, sigma, size=(400_000, 4))
    gain = np.maximum(best - f, 0.0)
    mc, se = gain.mean(0), gain.std(0) / math.sqrt(len(f))
    assert np.all(np.abs(ref.expected_improvement(mu, sigma, best) - mc) < 5 * se + 1e-12)


def test_ei_edge_cases():
    ei = ref.expected_improvement(np.array([0.0, 1.0, -1.0, 5.0]), np.array([0.0, 0.0, 0.0, 1e-300]), 0.0)
    np.testing.assert_array_equal(ei, [0.0, 0.0, 0.0, 0.0])  # sigma = 0 gives 0, and never nan
    # shrinking sigma: EI -> max(best - mu, 0)
    np.testing.assert_allclose(ref.expected_improvement(np.array([-1.0, 1.0]), np.array([1e-6, 1e-6]), 0.0),
                               [1.0, 0.0], atol=1e-9)
    # at mu = best the closed form is sigma * phi(0)
    assert ref.expected_improvement(2.0, 0.5, 2.0) == pytest.approx(0.5 / math.sqrt(2 * math.pi), rel=1e-14)
    assert ref.expected_improvement(np.zeros((2, 3)), np.ones((2, 3)), 0.0).shape == (2, 3)


# ------------------------------------------------------------ Bayesian optimization vs random search
@pytest.mark.parametrize("fn, bounds, n_init, n_iter, known_min", [
    (ref.forrester, [[0.0, 1.0]], 3, 7, -6.020740),
    (ref.branin, [[-5.0, 10.0], [0.0, 15.0]], 5, 20, 0.397887),
])
def test_bayes_opt_beats_random_search_in_median(fn, bounds, n_init, n_iter, known_min):
    b = np.array(bounds)
    seeds = range(7)
    bo = [min(v for _, v in ref.bayes_opt(fn, b, n_init, n_iter, np.random.default_rng(s))) for s in seeds]
    space = {f"x{i}": ref.uniform(lo, hi) for i, (lo, hi) in enumerate(b)}
    obj = lambda p: float(np.ravel(fn(np.array(list(p.values()))))[0])
    rs = [ref.random_search(obj, space, n_init + n_iter, np.random.default_rng(100 + s))[1] for s in seeds]
    assert np.median(bo) < np.median(rs)
    assert min(bo) >= known_min - 1e-6  # nothing below the published minimum
    assert np.median(bo) - known_min < 0.5 * (np.median(rs) - known_min)


def test_test_functions_have_their_published_minima():
    np.testing.assert_allclose(ref.branin(np.array([[-np.pi, 12.275], [np.pi, 2.275], [9.42478, 2.475]])),
                               0.397887, atol=1e-6)
    assert ref.forrester(0.757249) == pytest.approx(-6.020740, abs=1e-6)
    assert ref.branin(np.random.default_rng(0).uniform([-5, 0], [10, 15], size=(1000, 2))).min() > 0.397887


def test_bayes_opt_is_reproducible_and_stays_in_bounds():
    b = np.array([[-5.0, 10.0], [0.0, 15.0]])
    h1 = ref.bayes_opt(ref.branin, b, 3, 4, np.random.default_rng(9))
    h2 = ref.bayes_opt(ref.branin, b, 3, 4, np.random.default_rng(9))
    assert len(h1) == 7 and all(np.array_equal(x1, x2) and v1 == v2 for (x1, v1), (x2, v2) in zip(h1, h2))
    X = np.array([x for x, _ in h1])
    assert np.all(X >= b[:, 0]) and np.all(X <= b[:, 1])
    assert all(v == pytest.approx(float(ref.branin(x))) for x, v in h1)


def test_suggest_picks_length_scale_by_marginal_likelihood():
    r = np.random.default_rng(10)
    X = r.uniform(0, 1, size=(12, 1))
    y = ref.forrester(X[:, 0])
    _, info = ref.suggest(X, y, [[0.0, 1.0]], r)
    yn = (y - y.mean()) / y.std()
    lml = [_sk_gp(X, yn, ls, 1.0, 1e-6).log_marginal_likelihood_value_ for ls in ref.LENGTH_SCALES]
    assert info["length_scale"] == ref.LENGTH_SCALES[int(np.argmax(lml))]


# ------------------------------------------------------------ successive halving and Hyperband vs Li et al. (2017)
# Table 1 of Li et al. (2017), R = 81, eta = 3: per bracket s, the rounds (n_i, r_i).
PAPER_R81 = {
    4: [(81, 1), (27, 3), (9, 9), (3, 27), (1, 81)],
    3: [(34, 3), (11, 9), (3, 27), (1, 81)],
    2: [(15, 9), (5, 27), (1, 81)],
    1: [(8, 27), (2, 81)],
    0: [(5, 81)],
}


def test_hyperband_brackets_match_the_paper():
    got = ref.hyperband_brackets(81, 3)
    assert [[(n, r) for n, r in b] for b in got] == [PAPER_R81[s] for s in (4, 3, 2, 1, 0)]
    assert [b[0] for b in ref.hyperband_brackets(27, 3)] == [(27, 1), (12, 3), (6, 9), (4, 27)]
    # R = 80 is not a power of 3: s_max = 3 (no rounding trouble in floor(log_3 80))
    assert len(ref.hyperband_brackets(80, 3)) == 4 and len(ref.hyperband_brackets(243, 3)) == 6


def _curve_train(seed, n):
    r = np.random.default_rng(seed)
    floor, gap, rate = r.uniform(0.05, 0.5, n), r.uniform(0.5, 2, n), r.uniform(0.2, 1.2, n)
    return lambda c, b: float(floor[c] + gap[c] * b ** -rate[c])


@pytest.mark.parametrize("s", [4, 3, 2, 1])
def test_successive_halving_rounds_match_the_paper(s):
    n, r = PAPER_R81[s][0]
    train = _curve_train(s, n)
    calls = []
    best, rounds = ref.successive_halving(range(n), lambda c, b: calls.append((c, b)) or train(c, b), r, 3)
    assert [(len(x["configs"]), x["budget"]) for x in rounds] == PAPER_R81[s]
    assert len(calls) == sum(ni for ni, _ in PAPER_R81[s])
    for prev, nxt in zip(rounds, rounds[1:]):  # survivors are the lowest losses of the previous round
        assert sorted(nxt["configs"]) == sorted(heapq.nsmallest(len(nxt["configs"]), prev["configs"],
                                                                key=lambda c: train(c, prev["budget"])))
        assert nxt["losses"] == [train(c, nxt["budget"]) for c in nxt["configs"]]
    assert best == min(rounds[-1]["configs"], key=lambda c: train(c, rounds[-1]["budget"]))


def test_successive_halving_small_and_uneven_counts():
    _, rounds = ref.successive_halving(range(10), lambda c, b: c / b, 2, 3)
    assert [(len(x["configs"]), x["budget"]) for x in rounds] == [(10, 2), (3, 6), (1, 18)]
    best, rounds = ref.successive_halving(["a", "b"], lambda c, b: {"a": 2.0, "b": 1.0}[c], 1, 3)
    assert best == "b" and len(rounds) == 1
    best, rounds = ref.successive_halving([7], lambda c, b: 0.0, 5, 2)
    assert best == 7 and [x["budget"] for x in rounds] == [5]
    _, rounds = ref.successive_halving(range(5), lambda c, b: c, 81, 3, max_budget=81)
    assert [len(x["configs"]) for x in rounds] == [5]  # Hyperband's s = 0 bracket stops at R
    with pytest.raises(ValueError):
        ref.successive_halving(range(4), lambda c, b: 0.0, 1, eta=1)


def test_hyperband_runs_every_bracket_and_returns_the_best_at_full_budget():
    r = np.random.default_rng(11)
    drawn, calls = [], []

    def sample_fn(g):
        drawn.append(g.uniform(-4, -1))
        return {"log_lr": drawn[-1]}

    def train(c, b):
        calls.append(b)
        return (c["log_lr"] + 2.5) ** 2 + 1.0 / b

    best, brackets = ref.hyperband(sample_fn, train, 81, 3, r)
    assert [(b["n"], b["r"]) for b in brackets] == [PAPER_R81[s][0] for s in (4, 3, 2, 1, 0)]
    assert len(drawn) == 81 + 34 + 15 + 8 + 5
    assert len(calls) == sum(n for rows in PAPER_R81.values() for n, _ in rows)
    for b in brackets:
        assert [(len(x["configs"]), x["budget"]) for x in b["rounds"]] == PAPER_R81[b["s"]]
    finals = [(c, loss) for b in brackets for c, loss in zip(b["rounds"][-1]["configs"], b["rounds"][-1]["losses"])]
    assert best == min(finals, key=lambda t: t[1])[0]
    with pytest.raises(TypeError):
        ref.hyperband(sample_fn, train, 81, 3)


# ------------------------------------------------------------ correct variants: every check passes them
def _loguniform_log10(lo, hi):
    return lambda rng: 10 ** rng.uniform(np.log10(lo), np.log10(hi))


def _loguniform_inverse_cdf(lo, hi):
    return lambda rng: lo * (hi / lo) ** rng.random()


def _loguniform_scipy(lo, hi):
    return lambda rng: stats.loguniform(lo, hi).rvs(random_state=rng)


def _loguniform_float32(lo, hi):
    return lambda rng: np.float32(np.exp(rng.uniform(np.log(lo), np.log(hi))))


def _grid_nested(objective, grid):
    keys = list(grid)
    combos = [[]]
    for k in keys:  # extend every partial combination by each value of the next key
        combos = [c + [v] for c in combos for v in grid[k]]
    history = []
    best_p, best_v = None, float("inf")
    for c in combos:
        p = {k: v for k, v in zip(keys, c)}
        v = objective(p)
        history.append([p, np.float64(v)])
        if v <= best_v:  # ties go to the last: also fine
            best_p, best_v = p, v
    return best_p, best_v, history


def _grid_sorted(objective, grid):
    history = [(dict(zip(grid, c)), objective(dict(zip(grid, c)))) for c in itertools.product(*grid.values())]
    p, v = sorted(history, key=lambda t: t[1])[0]
    return p, v, history


def _random_configs_first(objective, space, n_trials, rng):
    configs = [{k: s(rng) for k, s in space.items()} for _ in range(n_trials)]
    values = [objective(c) for c in configs]
    i = int(np.argmin(values))
    return configs[i], values[i], list(zip(configs, values))


def _random_column_wise(objective, space, n_trials, rng):
    cols = {k: [s(rng) for _ in range(n_trials)] for k, s in space.items()}
    history = []
    for i in range(n_trials):
        p = {k: cols[k][i] for k in space}
        history.append((p, objective(p)))
    best = min(history, key=lambda t: t[1])
    return best[0], best[1], history


def _random_child_generator(objective, space, n_trials, rng):
    child = np.random.default_rng(rng.integers(2 ** 32))  # derived from rng: still reproducible
    return ref.random_search(objective, space, n_trials, child)


def _rbf_loops(A, B, length_scale=1.0, variance=1.0):
    K = np.zeros((len(A), len(B)))
    for i in range(len(A)):
        for j in range(len(B)):
            d2 = sum((a - b) ** 2 for a, b in zip(A[i], B[j]))
            K[i, j] = variance * math.exp(-d2 / (2 * length_scale ** 2))
    return K


def _rbf_broadcast_float32(A, B, length_scale=1.0, variance=1.0):
    A, B = np.float32(A), np.float32(B)
    d2 = ((A[:, None, :] - B[None, :, :]) ** 2).sum(-1)
    return np.float32(variance) * np.exp(-d2 / np.float32(2 * length_scale ** 2))


def _rbf_torch(A, B, length_scale=1.0, variance=1.0):
    d = torch.cdist(torch.as_tensor(A), torch.as_tensor(B))
    return (variance * torch.exp(-0.5 * (d / length_scale) ** 2)).numpy()


def _gp_solve(X, y, Xs, length_scale=1.0, variance=1.0, noise=1e-6):
    K = ref.rbf_kernel(X, X, length_scale, variance) + noise * np.eye(len(X))
    Ks = ref.rbf_kernel(X, Xs, length_scale, variance)
    mean = Ks.T @ np.linalg.solve(K, y)
    var = np.diag(ref.rbf_kernel(Xs, Xs, length_scale, variance)) - np.einsum("ij,ij->j", Ks, np.linalg.solve(K, Ks))
    return mean, np.sqrt(np.clip(var, 0, None))


def _gp_inverse_columns(X, y, Xs, length_scale=1.0, variance=1.0, noise=1e-6):
    Kinv = np.linalg.inv(ref.rbf_kernel(X, X, length_scale, variance) + noise * np.eye(len(X)))
    Ks = ref.rbf_kernel(Xs, X, length_scale, variance)  # (m, n)
    mean = (Ks @ Kinv @ y)[:, None]
    var = variance - np.sum((Ks @ Kinv) * Ks, axis=1, keepdims=True)
    return mean, np.sqrt(np.maximum(var, 0))  # (m, 1) columns


def _gp_cholesky_float32(X, y, Xs, length_scale=1.0, variance=1.0, noise=1e-6):
    f = np.float32
    K = _rbf_broadcast_float32(X, X, length_scale, variance) + f(noise) * np.eye(len(X), dtype=f)
    Ks = _rbf_broadcast_float32(X, Xs, length_scale, variance)
    L = np.linalg.cholesky(K)
    alpha = np.linalg.solve(L.T, np.linalg.solve(L, f(y)))
    v = np.linalg.solve(L, Ks)
    return Ks.T @ alpha, np.sqrt(np.maximum(f(variance) - (v * v).sum(0), 0))


def _gp_sklearn(X, y, Xs, length_scale=1.0, variance=1.0, noise=1e-6):
    return _sk_gp(X, y, length_scale, variance, noise).predict(Xs, return_std=True)


def _ei_loop(mu, sigma, best, xi=0.0):
    out = np.zeros(np.shape(mu))
    for i in np.ndindex(out.shape):
        m, s = mu[i], sigma[i]
        if s > 0:
            z = (best - m - xi) / s
            cdf, pdf = 0.5 * (1 + math.erf(z / math.sqrt(2))), math.exp(-z * z / 2) / math.sqrt(2 * math.pi)
            out[i] = (best - m - xi) * cdf + s * pdf
    return out


def _ei_torch_float32(mu, sigma, best, xi=0.0):
    mu, sigma = torch.tensor(mu, dtype=torch.float32), torch.tensor(sigma, dtype=torch.float32)
    imp = best - mu - xi
    z = imp / sigma.clamp_min(1e-12)
    n = torch.distributions.Normal(0.0, 1.0)
    ei = imp * n.cdf(z) + sigma * n.log_prob(z).exp()
    return torch.where(sigma > 0, ei, torch.zeros_like(ei)).numpy()


def _ei_limit_at_zero_sigma(mu, sigma, best, xi=0.0):
    """EI -> max(best - mu - xi, 0) as sigma -> 0; the checks only use sigma = 0 where that is 0."""
    imp = best - mu - xi
    with np.errstate(divide="ignore", invalid="ignore"):
        z = imp / sigma
        ei = imp * stats.norm.cdf(z) + sigma * stats.norm.pdf(z)
    return np.where(sigma > 0, ei, np.maximum(imp, 0))


def _sh_sorted(configs, train_fn, min_budget, eta=3):
    n, rounds, alive, i = len(configs), [], list(configs), 0
    while n // eta ** i >= 1:
        budget = min_budget * eta ** i
        losses = [train_fn(c, budget) for c in alive]
        rounds.append({"budget": budget, "configs": alive, "losses": np.array(losses)})
        ranked = sorted(zip(losses, range(len(alive))))
        alive = [alive[j] for _, j in ranked[: n // eta ** (i + 1)]]
        i += 1
    last = rounds[-1]
    return last["configs"][int(np.argmin(last["losses"]))], rounds


def _sh_count_division(configs, train_fn, min_budget, eta=3):
    """Divides the survivor count by eta each round and keeps the original order."""
    rounds, alive, budget = [], list(configs), min_budget
    while alive:
        losses = [train_fn(c, budget) for c in alive]
        rounds.append(dict(budget=budget, configs=list(alive), losses=losses))
        keep = set(heapq.nsmallest(len(alive) // eta, range(len(alive)), key=lambda j: losses[j]))
        if not keep:
            break
        alive = [c for j, c in enumerate(alive) if j in keep]
        budget *= eta
    best = min(zip(rounds[-1]["losses"], range(len(rounds[-1]["configs"]))))[1]
    return rounds[-1]["configs"][best], tuple(rounds)


VARIANTS = [
    ("check_loguniform", "reference", ref.loguniform),
    ("check_loguniform", "10 ** uniform(log10)", _loguniform_log10),
    ("check_loguniform", "inverse cdf lo * (hi/lo)**u", _loguniform_inverse_cdf),
    ("check_loguniform", "scipy.stats.loguniform(...).rvs(random_state=rng)", _loguniform_scipy),
    ("check_loguniform", "float32", _loguniform_float32),
    ("check_grid_search", "reference", ref.grid_search),
    ("check_grid_search", "nested list building, numpy values, ties to the last", _grid_nested),
    ("check_grid_search", "sorted history", _grid_sorted),
    ("check_random_search", "reference", ref.random_search),
    ("check_random_search", "all configurations drawn first", _random_configs_first),
    ("check_random_search", "column-wise draws", _random_column_wise),
    ("check_random_search", "child generator seeded from rng", _random_child_generator),
    ("check_rbf_kernel", "reference", ref.rbf_kernel),
    ("check_rbf_kernel", "double loop", _rbf_loops),
    ("check_rbf_kernel", "broadcasting in float32", _rbf_broadcast_float32),
    ("check_rbf_kernel", "scipy cdist", lambda A, B, ls=1.0, v=1.0: v * np.exp(-cdist(A, B, "sqeuclidean") / (2 * ls * ls))),
    ("check_rbf_kernel", "sklearn kernel", lambda A, B, ls=1.0, v=1.0: _sk_kernel(ls, v)(A, B)),
    ("check_rbf_kernel", "torch cdist", _rbf_torch),
    ("check_gp_posterior", "reference", ref.gp_posterior),
    ("check_gp_posterior", "np.linalg.solve", _gp_solve),
    ("check_gp_posterior", "explicit inverse, (m, 1) columns", _gp_inverse_columns),
    ("check_gp_posterior", "Cholesky in float32", _gp_cholesky_float32),
    ("check_gp_posterior", "sklearn GaussianProcessRegressor", _gp_sklearn),
    ("check_expected_improvement", "reference", ref.expected_improvement),
    ("check_expected_improvement", "loop with math.erf", _ei_loop),
    ("check_expected_improvement", "torch float32", _ei_torch_float32),
    ("check_expected_improvement", "limit max(imp, 0) at sigma = 0", _ei_limit_at_zero_sigma),
    ("check_successive_halving", "reference", ref.successive_halving),
    ("check_successive_halving", "sorted() and numpy losses", _sh_sorted),
    ("check_successive_halving", "divide the survivor count, keep original order", _sh_count_division),
]


@pytest.mark.parametrize("check, fn", cases(VARIANTS))
def test_check_accepts_correct_variant(check, fn):
    assert_accepts(getattr(chk, check), fn)


# ------------------------------------------------------------ known mistakes: every check fails them
def _stub(*args, **kwargs):
    raise NotImplementedError()


def _loguniform_uniform(lo, hi):
    return lambda rng: rng.uniform(lo, hi)


def _loguniform_global(lo, hi):
    return lambda rng: float(np.exp(np.random.uniform(np.log(lo), np.log(hi))))


def _loguniform_fixed_seed(lo, hi):
    g = np.random.default_rng(0)  # its own generator: the rng argument is ignored
    return lambda rng: float(np.exp(g.uniform(np.log(lo), np.log(hi))))


def _loguniform_mixed_bases(lo, hi):
    return lambda rng: float(np.exp(rng.uniform(np.log10(lo), np.log10(hi))))


def _grid_parameter_grid(objective, grid):
    history = [(dict(p), objective(dict(p))) for p in ParameterGrid(grid)]
    best = min(history, key=lambda t: t[1])
    return best[0], best[1], history


def _grid_max(objective, grid):
    _, _, history = ref.grid_search(objective, grid)
    p, v = max(history, key=lambda t: t[1])
    return p, v, history


def _grid_shared_dict(objective, grid):
    p, history = {}, []
    for combo in itertools.product(*grid.values()):
        p.update(zip(grid, combo))
        history.append((p, objective(p)))
    best = min(history, key=lambda t: t[1])
    return best[0], best[1], history


def _grid_zip(objective, grid):
    history = [(dict(zip(grid, c)), objective(dict(zip(grid, c)))) for c in zip(*grid.values())]
    best = min(history, key=lambda t: t[1])
    return best[0], best[1], history


def _grid_calls_twice(objective, grid):
    best, value, history = ref.grid_search(objective, grid)
    return best, objective(best), history


def _random_fresh_rng(objective, space, n_trials, rng):
    return ref.random_search(objective, space, n_trials, np.random.default_rng())


def _random_fixed_seed(objective, space, n_trials, rng):
    return ref.random_search(objective, space, n_trials, np.random.default_rng(0))


def _random_sample_once(objective, space, n_trials, rng):
    p = ref.sample(space, rng)
    history = [(p, objective(p)) for _ in range(n_trials)]
    return p, history[0][1], history


def _random_max(objective, space, n_trials, rng):
    _, _, history = ref.random_search(objective, space, n_trials, rng)
    p, v = max(history, key=lambda t: t[1])
    return p, v, history


def _random_one_short(objective, space, n_trials, rng):
    return ref.random_search(objective, space, max(n_trials - 1, 1), rng) if n_trials > 1 else \
        ref.random_search(objective, space, 2, rng)


def _random_best_is_last(objective, space, n_trials, rng):
    _, _, history = ref.random_search(objective, space, n_trials, rng)
    return history[-1][0], history[-1][1], history


def _rbf_distance(A, B, length_scale=1.0, variance=1.0):
    return variance * np.exp(-cdist(A, B) / (2 * length_scale ** 2))


def _gp_variance_not_std(*args):
    mean, std = ref.gp_posterior(*args)
    return mean, std ** 2


def _gp_no_noise(X, y, Xs, length_scale=1.0, variance=1.0, noise=1e-6):
    return ref.gp_posterior(X, y, Xs, length_scale, variance, 1e-12)


def _gp_no_prior_variance(X, y, Xs, length_scale=1.0, variance=1.0, noise=1e-6):
    return ref.gp_posterior(X, y, Xs, length_scale, 1.0, noise)


def _gp_kss_one(X, y, Xs, length_scale=1.0, variance=1.0, noise=1e-6):
    mean, std = ref.gp_posterior(X, y, Xs, length_scale, variance, noise)
    return mean, np.sqrt(np.maximum(1.0 - (variance - std ** 2), 0))


def _gp_noise_at_test(X, y, Xs, length_scale=1.0, variance=1.0, noise=1e-6):
    mean, std = ref.gp_posterior(X, y, Xs, length_scale, variance, noise)
    return mean, np.sqrt(std ** 2 + noise)


def _gp_swapped(*args):
    mean, std = ref.gp_posterior(*args)
    return std, mean


def _ei_parts(mu, sigma, best, xi):
    imp = best - mu - xi
    with np.errstate(divide="ignore", invalid="ignore"):
        z = imp / sigma
    return imp, z


def _ei_maximize(mu, sigma, best, xi=0.0):
    return ref.expected_improvement(-mu, sigma, -best, xi)


def _ei_no_sigma_term(mu, sigma, best, xi=0.0):
    imp, z = _ei_parts(mu, sigma, best, xi)
    return np.where(sigma > 0, imp * stats.norm.cdf(z), 0.0)


def _ei_xi_sign(mu, sigma, best, xi=0.0):
    return ref.expected_improvement(mu, sigma, best, -xi)


def _ei_no_guard(mu, sigma, best, xi=0.0):
    imp, z = _ei_parts(mu, sigma, best, xi)
    return imp * stats.norm.cdf(z) + sigma * stats.norm.pdf(z)


def _ei_pdf_cdf_swapped(mu, sigma, best, xi=0.0):
    imp, z = _ei_parts(mu, sigma, best, xi)
    return np.where(sigma > 0, imp * stats.norm.pdf(z) + sigma * stats.norm.cdf(z), 0.0)


def _ei_sigma_squared(mu, sigma, best, xi=0.0):
    return ref.expected_improvement(mu, sigma ** 2, best, xi)


def _sh_general(configs, train_fn, min_budget, eta, keep, budget_of, n_of, best_of="last", stop_at_one=False,
                calls=1):
    """Successive halving with one piece swapped out, for building mistakes."""
    configs, rounds, i = list(configs), [], 0
    n, alive = len(configs), list(configs)
    while n_of(n, i) >= 1 and alive:
        if stop_at_one and len(alive) == 1 and i > 0:
            break
        budget = budget_of(i)
        losses = [train_fn(c, budget) for c in alive]
        for _ in range(calls - 1):
            losses = [train_fn(c, budget) for c in alive]
        rounds.append({"budget": budget, "configs": list(alive), "losses": losses})
        alive = keep(alive, losses, n_of(n, i + 1))
        i += 1
    r = rounds[0] if best_of == "first" else rounds[-1]
    pick = int(np.argmax(r["losses"])) if best_of == "worst" else int(np.argmin(r["losses"]))
    return r["configs"][pick], rounds


def _lowest(alive, losses, k):
    return [alive[j] for j in np.argsort(losses, kind="stable")[:k]]


def _highest(alive, losses, k):
    return [alive[j] for j in np.argsort(losses, kind="stable")[::-1][:k]]


def _sh_mistake(**changes):
    def fn(configs, train_fn, min_budget, eta=3):
        opts = dict(keep=_lowest, budget_of=lambda i: min_budget * eta ** i, n_of=lambda n, i: n // eta ** i)
        opts.update({k: (v(min_budget, eta) if k in ("budget_of", "n_of") else v) for k, v in changes.items()})
        return _sh_general(configs, train_fn, min_budget, eta, **opts)
    return fn


MISTAKES = [
    ("check_loguniform", "stub", _stub),
    ("check_loguniform", "sampled uniformly", _loguniform_uniform),
    ("check_loguniform", "np.random instead of rng", _loguniform_global),
    ("check_loguniform", "a generator with a fixed seed inside", _loguniform_fixed_seed),
    ("check_loguniform", "exp of a log10 range", _loguniform_mixed_bases),
    ("check_loguniform", "returns a number, not a sampler", lambda lo, hi: math.sqrt(lo * hi)),
    ("check_grid_search", "stub", _stub),
    ("check_grid_search", "sklearn ParameterGrid order (sorted keys)", _grid_parameter_grid),
    ("check_grid_search", "maximizes", _grid_max),
    ("check_grid_search", "one dict mutated for every trial", _grid_shared_dict),
    ("check_grid_search", "zip instead of product", _grid_zip),
    ("check_grid_search", "objective called again for the best", _grid_calls_twice),
    ("check_grid_search", "returns only the best", lambda o, g: ref.grid_search(o, g)[:2]),
    ("check_random_search", "stub", _stub),
    ("check_random_search", "ignores rng: fresh generator", _random_fresh_rng),
    ("check_random_search", "ignores rng: fixed seed", _random_fixed_seed),
    ("check_random_search", "samples once outside the loop", _random_sample_once),
    ("check_random_search", "maximizes", _random_max),
    ("check_random_search", "one trial short", _random_one_short),
    ("check_random_search", "best is the last trial", _random_best_is_last),
    ("check_rbf_kernel", "stub", _stub),
    ("check_rbf_kernel", "|a - b| instead of |a - b|^2", _rbf_distance),
    ("check_rbf_kernel", "no factor 1/2", lambda A, B, ls=1.0, v=1.0: v * np.exp(-cdist(A, B, "sqeuclidean") / ls ** 2)),
    ("check_rbf_kernel", "length scale not squared",
     lambda A, B, ls=1.0, v=1.0: v * np.exp(-cdist(A, B, "sqeuclidean") / (2 * ls))),
    ("check_rbf_kernel", "ignores the variance", lambda A, B, ls=1.0, v=1.0: ref.rbf_kernel(A, B, ls, 1.0)),
    ("check_rbf_kernel", "transposed (m, n)", lambda A, B, ls=1.0, v=1.0: ref.rbf_kernel(B, A, ls, v)),
    ("check_rbf_kernel", "positive exponent",
     lambda A, B, ls=1.0, v=1.0: v * np.exp(cdist(A, B, "sqeuclidean") / (2 * ls ** 2))),
    ("check_gp_posterior", "stub", _stub),
    ("check_gp_posterior", "variance instead of std", _gp_variance_not_std),
    ("check_gp_posterior", "ignores the noise", _gp_no_noise),
    ("check_gp_posterior", "ignores the prior variance", _gp_no_prior_variance),
    ("check_gp_posterior", "k(x*, x*) = 1", _gp_kss_one),
    ("check_gp_posterior", "noise added at the test points", _gp_noise_at_test),
    ("check_gp_posterior", "returns (std, mean)", _gp_swapped),
    ("check_gp_posterior", "returns the mean only", lambda *a: ref.gp_posterior(*a)[0]),
    ("check_expected_improvement", "stub", _stub),
    ("check_expected_improvement", "EI for maximization", _ei_maximize),
    ("check_expected_improvement", "no sigma * phi(z) term", _ei_no_sigma_term),
    ("check_expected_improvement", "xi with the wrong sign", _ei_xi_sign),
    ("check_expected_improvement", "nan where sigma = 0", _ei_no_guard),
    ("check_expected_improvement", "pdf and cdf swapped", _ei_pdf_cdf_swapped),
    ("check_expected_improvement", "sigma squared in z", _ei_sigma_squared),
    ("check_successive_halving", "stub", _stub),
    ("check_successive_halving", "keeps the worst", _sh_mistake(keep=_highest)),
    ("check_successive_halving", "never raises the budget", _sh_mistake(budget_of=lambda r, e: lambda i: r)),
    ("check_successive_halving", "budget grows by + eta", _sh_mistake(budget_of=lambda r, e: lambda i: r + e * i)),
    ("check_successive_halving", "halves instead of dividing by eta",
     _sh_mistake(n_of=lambda r, e: lambda n, i: n // 2 ** i)),
    ("check_successive_halving", "ceil instead of floor",
     _sh_mistake(n_of=lambda r, e: lambda n, i: -(-n // e ** i) if n // e ** (i - 1 if i else 0) >= 1 else 0)),
    ("check_successive_halving", "best of the first round", _sh_mistake(best_of="first")),
    ("check_successive_halving", "best is the highest loss", _sh_mistake(best_of="worst")),
    ("check_successive_halving", "stops before training the survivor", _sh_mistake(stop_at_one=True)),
    ("check_successive_halving", "trains every configuration twice", _sh_mistake(calls=2)),
    ("check_successive_halving", "never drops a configuration",
     _sh_mistake(keep=lambda alive, losses, k: alive if k else [])),
]


@pytest.mark.parametrize("check, fn", cases(MISTAKES))
def test_check_rejects_mistake(check, fn):
    assert_rejects(getattr(chk, check), fn, name=check.replace("check_", ""))


@pytest.mark.parametrize("answer", [None, [(27, 1), (12, 3), (6, 9)], [(27, 1), (9, 3), (3, 9), (1, 27)],
                                    [(27, 1), (12, 3), (6, 9), (4, 9)], "27, 12, 6, 4", [27, 12, 6, 4]])
def test_quiz_hyperband_brackets_rejects(answer):
    with pytest.raises(AssertionError) as info:
        chk.check_quiz_hyperband_brackets(answer)
    assert str(info.value).startswith("hyperband_brackets")


@pytest.mark.parametrize("answer", [[(27, 1), (12, 3), (6, 9), (4, 27)], ((27, 1.0), (12, 3.0), (6, 9.0), (4, 27.0)),
                                    [[27, 1], [12, 3], [6, 9], [4, 27]], [(np.int64(27), 1)] + [(12, 3), (6, 9), (4, 27)]])
def test_quiz_hyperband_brackets_accepts(answer):
    assert chk.check_quiz_hyperband_brackets(answer) is None


@pytest.mark.parametrize("answer", [None, 16, 4, 12, "sixty-four", 8])
def test_quiz_cholesky_cost_rejects(answer):
    with pytest.raises(AssertionError) as info:
        chk.check_quiz_cholesky_cost(answer)
    assert str(info.value).startswith("cholesky_cost")


@pytest.mark.parametrize("answer", [64, 64.0, 4 ** 3, np.float32(64)])
def test_quiz_cholesky_cost_accepts(answer):
    assert chk.check_quiz_cholesky_cost(answer) is None


# ------------------------------------------------------------ messages, visible cases, robustness
def test_messages_are_actionable():
    msg = assert_rejects(chk.check_expected_improvement, _ei_maximize, name="expected_improvement")
    assert "case 1 of" in msg and "expected" in msg and "got" in msg and "maximization" in msg
    assert "sigma * phi" in assert_rejects(chk.check_expected_improvement, _ei_no_sigma_term)
    assert "sigma == 0" in assert_rejects(chk.check_expected_improvement, _ei_no_guard)
    assert "square root" in assert_rejects(chk.check_gp_posterior, _gp_variance_not_std)
    assert "noise" in assert_rejects(chk.check_gp_posterior, _gp_no_noise)
    assert "prior variance" in assert_rejects(chk.check_gp_posterior, _gp_no_prior_variance)
    assert "squared distance" in assert_rejects(chk.check_rbf_kernel, _rbf_distance)
    assert "lowest" in assert_rejects(chk.check_successive_halving, _sh_mistake(keep=_highest))
    assert "must grow" in assert_rejects(chk.check_successive_halving, _sh_mistake(budget_of=lambda r, e: lambda i: r))
    assert "rng" in assert_rejects(chk.check_random_search, _random_fresh_rng)
    assert "log" in assert_rejects(chk.check_loguniform, _loguniform_uniform)
    assert "itertools.product" in assert_rejects(chk.check_grid_search, _grid_parameter_grid)
    assert "not implemented yet" in assert_rejects(chk.check_successive_halving, _stub)


def test_visible_only_runs_fewer_cases():
    calls = []

    def spy(*args):
        calls.append(1)
        return ref.expected_improvement(*args)

    chk.check_expected_improvement(spy, visible_only=True)
    n_visible = len(calls)
    chk.check_expected_improvement(spy)
    assert 0 < n_visible < len(calls) - n_visible


def test_checks_survive_monkeypatched_numpy(monkeypatch):
    monkeypatch.setattr(np, "allclose", lambda *a, **k: True)
    monkeypatch.setattr(np, "abs", lambda x: np.zeros_like(x))
    monkeypatch.setattr(np, "array_equal", lambda *a, **k: True)
    with pytest.raises(AssertionError):
        chk.check_expected_improvement(_ei_maximize)
    with pytest.raises(AssertionError):
        chk.check_loguniform(_loguniform_fixed_seed)


def test_checks_write_nothing_to_stderr(capfd):
    chk.check_expected_improvement(_ei_limit_at_zero_sigma)  # divides by zero, silenced
    chk.check_gp_posterior(_gp_solve)
    with pytest.raises(AssertionError):
        chk.check_expected_improvement(_ei_no_guard)
    assert capfd.readouterr().err == ""
