"""Chapter 6 -- hyperparameter tuning (reference, numpy/scipy, float64).

Search spaces and samplers, grid and random search, a Gaussian-process
surrogate with expected improvement (Bayesian optimization), successive
halving and Hyperband.  Every search *minimizes*; every random number comes
from the ``numpy.random.Generator`` passed in, so a seed reproduces a run.

A configuration is a plain ``dict`` (name -> value); an objective or a
training function returns a float loss (lower is better).
"""
import itertools
import math

import numpy as np
from scipy import linalg, stats


# ---------------------------------------------------------------- search spaces
def uniform(lo, hi):
    r"""Sampler for $x \sim U[lo, hi)$: returns ``rng -> float``.

    scipy: ``stats.uniform(lo, hi - lo)``.
    """
    lo, hi = float(lo), float(hi)
    if not lo < hi:
        raise ValueError(f"uniform needs lo < hi, got {lo}, {hi}")

    def draw(rng):
        return float(rng.uniform(lo, hi))

    return draw


def loguniform(lo, hi):
    r"""Sampler for $\log x \sim U[\log lo, \log hi)$: every decade equally likely.

    The right prior for scale parameters (learning rate, weight decay): as many
    draws land in [1e-4, 1e-3) as in [1e-2, 1e-1).  Returns ``rng -> float``.
    scipy: ``stats.loguniform(lo, hi)``.
    """
    lo, hi = float(lo), float(hi)
    if not 0 < lo < hi:
        raise ValueError(f"loguniform needs 0 < lo < hi, got {lo}, {hi}")
    log_lo, log_hi = math.log(lo), math.log(hi)

    def draw(rng):
        return float(math.exp(rng.uniform(log_lo, log_hi)))

    return draw


def choice(options):
    """Sampler for one of ``options``, each with probability 1/len(options).  Returns ``rng -> option``."""
    options = tuple(options)
    if not options:
        raise ValueError("choice needs at least one option")

    def draw(rng):
        return options[int(rng.integers(len(options)))]

    return draw


def randint(lo, hi):
    """Sampler for an integer in [lo, hi) (hi excluded, as ``rng.integers``).  Returns ``rng -> int``."""
    lo, hi = int(lo), int(hi)
    if not lo < hi:
        raise ValueError(f"randint needs lo < hi, got {lo}, {hi}")

    def draw(rng):
        return int(rng.integers(lo, hi))

    return draw


def sample(space, rng):
    """One configuration: ``{name: sampler(rng)}``, drawn in the order of the space's keys.

    space: dict name -> sampler (``rng -> value``); a value that is not
    callable is a constant and is copied as it is.
    """
    return {name: (s(rng) if callable(s) else s) for name, s in space.items()}


# ---------------------------------------------------------------- grid and random search
def _best(history):
    """(params, value) of the first lowest value in history."""
    k = min(range(len(history)), key=lambda i: history[i][1])
    return history[k]


def grid_search(objective, grid):
    """Evaluate every combination of ``grid`` once, in ``itertools.product`` order.

    grid: dict name -> list of values; the first key varies slowest.
    objective: ``params_dict -> float`` (to minimize).
    Returns (best_params, best_value, history) with history the list of
    (params, value) in evaluation order; ties go to the earliest.
    sklearn: ``ParameterGrid`` (which iterates the keys in sorted order).
    """
    names = list(grid)
    history = []
    for combo in itertools.product(*(grid[k] for k in names)):
        params = dict(zip(names, combo))
        history.append((params, float(objective(params))))
    if not history:
        raise ValueError("the grid has no combinations")
    best_params, best_value = _best(history)
    return best_params, best_value, history


def random_search(objective, space, n_trials, rng):
    """Evaluate ``n_trials`` configurations drawn with ``sample(space, rng)``, one after the other.

    Returns (best_params, best_value, history) as :func:`grid_search`.
    sklearn: ``ParameterSampler`` (with its own random state).
    """
    if n_trials < 1:
        raise ValueError("n_trials must be at least 1")
    history = []
    for _ in range(n_trials):
        params = sample(space, rng)
        history.append((params, float(objective(params))))
    best_params, best_value = _best(history)
    return best_params, best_value, history


# ---------------------------------------------------------------- Gaussian process
def _points(A):
    """(n, d) float64; a 1-D array is n points in one dimension."""
    A = np.asarray(A, dtype=np.float64)
    return A[:, None] if A.ndim == 1 else A


def rbf_kernel(A, B, length_scale=1.0, variance=1.0):
    r"""Squared-exponential kernel $k(a, b) = s^2 \exp(-\lVert a - b\rVert^2 / (2\ell^2))$.

    A: (n, d), B: (m, d) (1-D means d = 1); length_scale: scalar or (d,).
    Returns K: (n, m).  sklearn: ``ConstantKernel(variance) * RBF(length_scale)``.
    """
    A = _points(A) / length_scale
    B = _points(B) / length_scale
    sq = (A ** 2).sum(1)[:, None] + (B ** 2).sum(1)[None, :] - 2.0 * A @ B.T
    return variance * np.exp(-0.5 * np.maximum(sq, 0.0))  # rounding can make sq slightly negative


def _cholesky(X_train, length_scale, variance, noise):
    K = rbf_kernel(X_train, X_train, length_scale, variance)
    K[np.diag_indices_from(K)] += noise
    return linalg.cholesky(K, lower=True)


def gp_posterior(X_train, y_train, X_test, length_scale=1.0, variance=1.0, noise=1e-6):
    r"""Posterior mean and standard deviation of f at X_test under a zero-mean GP prior.

    $K = k(X, X) + \text{noise}\, I$, $k_* = k(X, X_*)$:
    $\mu_* = k_*^\top K^{-1} y$,  $\sigma_*^2 = k(x_*, x_*) - k_*^\top K^{-1} k_*$ (via $K = LL^\top$).
    X_train: (n, d), y_train: (n,), X_test: (m, d).  Returns (mean (m,), std (m,)), the std of
    f (no noise added at the test points).  sklearn: ``GaussianProcessRegressor(kernel=
    ConstantKernel(variance) * RBF(length_scale), alpha=noise, optimizer=None).predict(X_test, return_std=True)``.
    """
    y = np.asarray(y_train, dtype=np.float64).ravel()
    L = _cholesky(X_train, length_scale, variance, noise)
    alpha = linalg.cho_solve((L, True), y)
    Ks = rbf_kernel(X_train, X_test, length_scale, variance)  # (n, m)
    mean = Ks.T @ alpha
    v = linalg.solve_triangular(L, Ks, lower=True)
    var = variance - (v ** 2).sum(0)  # k(x*, x*) = variance for the RBF kernel
    return mean, np.sqrt(np.maximum(var, 0.0))


def gp_log_marginal_likelihood(X_train, y_train, length_scale=1.0, variance=1.0, noise=1e-6):
    r"""$\log p(y \mid X) = -\tfrac12 y^\top K^{-1} y - \sum_i \log L_{ii} - \tfrac n2 \log 2\pi$, $K = LL^\top$.

    Used to pick the length scale.  sklearn: ``GaussianProcessRegressor(...).fit(X, y)
    .log_marginal_likelihood_value_`` with ``optimizer=None``.
    """
    y = np.asarray(y_train, dtype=np.float64).ravel()
    L = _cholesky(X_train, length_scale, variance, noise)
    alpha = linalg.cho_solve((L, True), y)
    return float(-0.5 * y @ alpha - np.log(np.diag(L)).sum() - 0.5 * len(y) * math.log(2 * math.pi))


def expected_improvement(mu, sigma, best, xi=0.0):
    r"""Expected improvement over ``best`` for *minimization*, elementwise.

    $I = \text{best} - \mu - \xi$, $z = I / \sigma$:
    $\mathrm{EI} = I\,\Phi(z) + \sigma\,\varphi(z)$, and 0 where $\sigma = 0$.
    mu, sigma: same shape (sigma >= 0, a standard deviation); best, xi: scalars.
    """
    mu = np.asarray(mu, dtype=np.float64)
    sigma = np.asarray(sigma, dtype=np.float64)
    imp = best - mu - xi
    pos = sigma > 0
    safe = np.where(pos, sigma, 1.0)  # no division by zero; those entries are overwritten below
    with np.errstate(over="ignore", under="ignore"):  # tiny sigma: z = +-inf gives Phi in {0, 1}, phi = 0
        z = imp / safe
        ei = imp * stats.norm.cdf(z) + safe * stats.norm.pdf(z)
    return np.where(pos, ei, 0.0)


# ---------------------------------------------------------------- Bayesian optimization
LENGTH_SCALES = np.geomspace(0.03, 3.0, 17)  # candidate length scales on the unit cube


def suggest(X, y, bounds, rng, length_scale=None, noise=1e-6, xi=0.01, n_candidates=1000):
    r"""The next point to evaluate: the maximizer of EI over random candidates.

    X: (n, d) points evaluated so far, y: (n,) their values, bounds: (d, 2).
    Inside, points are rescaled to the unit cube and y is standardized; the GP
    has variance 1 and, unless ``length_scale`` is given, the length scale in
    ``LENGTH_SCALES`` with the largest marginal likelihood.  Candidates: half
    uniform in the box, half Gaussian steps (sd 0.05 of the box) around the best point.
    Returns (x_next (d,), info) with info = {"length_scale", "ei_max"}.
    """
    bounds = np.asarray(bounds, dtype=np.float64).reshape(-1, 2)
    lo, width = bounds[:, 0], bounds[:, 1] - bounds[:, 0]
    U = (_points(X) - lo) / width
    y = np.asarray(y, dtype=np.float64).ravel()
    scale = y.std() if y.std() > 0 else 1.0
    yn = (y - y.mean()) / scale
    if length_scale is None:
        lml = [gp_log_marginal_likelihood(U, yn, ls, 1.0, noise) for ls in LENGTH_SCALES]
        length_scale = float(LENGTH_SCALES[int(np.argmax(lml))])
    d = len(lo)
    n_local = n_candidates // 2
    cand = np.vstack([
        rng.uniform(size=(n_candidates - n_local, d)),
        np.clip(U[np.argmin(yn)] + 0.05 * rng.normal(size=(n_local, d)), 0.0, 1.0),
    ])
    mu, sd = gp_posterior(U, yn, cand, length_scale, 1.0, noise)
    ei = expected_improvement(mu, sd, yn.min(), xi)
    k = int(np.argmax(ei))
    return lo + width * cand[k], {"length_scale": length_scale, "ei_max": float(ei[k])}


def _value(v):
    """An objective's value as a float (a size-1 array is accepted)."""
    v = np.asarray(v, dtype=np.float64)
    if v.size != 1:
        raise ValueError(f"the objective must return one number, got an array of shape {v.shape}")
    return float(v.reshape(()))


def bayes_opt(objective, bounds, n_init, n_iter, rng, length_scale=None, noise=1e-6, xi=0.01,
              n_candidates=1000):
    """Minimize ``objective`` over a box by Bayesian optimization (GP + expected improvement).

    objective: ``x (d,) -> float``; bounds: (d, 2) rows (lo, hi).
    ``n_init`` points uniform in the box, then ``n_iter`` points from :func:`suggest`.
    Returns history: list of (x, value) in evaluation order.
    """
    bounds = np.asarray(bounds, dtype=np.float64).reshape(-1, 2)
    if n_init < 1:
        raise ValueError("n_init must be at least 1")
    history = []
    for _ in range(n_init):
        x = rng.uniform(bounds[:, 0], bounds[:, 1])
        history.append((x, _value(objective(x))))
    for _ in range(n_iter):
        X = np.array([h[0] for h in history])
        y = np.array([h[1] for h in history])
        x, _ = suggest(X, y, bounds, rng, length_scale, noise, xi, n_candidates)
        history.append((x, _value(objective(x))))
    return history


def branin(x):
    r"""Branin-Hoo test function on $[-5, 10] \times [0, 15]$; minimum 0.397887 at three points.

    x: (..., 2).  $f = (x_2 - \tfrac{5.1}{4\pi^2}x_1^2 + \tfrac5\pi x_1 - 6)^2 + 10(1 - \tfrac1{8\pi})\cos x_1 + 10$.
    """
    x = np.asarray(x, dtype=np.float64)
    x1, x2 = x[..., 0], x[..., 1]
    b, c, t = 5.1 / (4 * np.pi ** 2), 5 / np.pi, 1 / (8 * np.pi)
    return (x2 - b * x1 ** 2 + c * x1 - 6) ** 2 + 10 * (1 - t) * np.cos(x1) + 10


def forrester(x):
    r"""Forrester et al.'s 1-D test function $(6x - 2)^2 \sin(12x - 4)$ on [0, 1]; minimum -6.0207 at 0.7572."""
    x = np.asarray(x, dtype=np.float64)
    return (6 * x - 2) ** 2 * np.sin(12 * x - 4)


# ---------------------------------------------------------------- successive halving and Hyperband
def successive_halving(configs, train_fn, min_budget, eta=3, max_budget=None):
    r"""Successive halving, the inner loop of Li et al. (2017).

    With n = len(configs), round i = 0, 1, ... trains $n_i = \lfloor n/\eta^i \rfloor$
    configurations at budget $r_i = $ min_budget $\cdot \eta^i$ while $n_i \ge 1$ (and
    $r_i \le$ max_budget, if given), then keeps the $\lfloor n/\eta^{i+1} \rfloor$ lowest losses.
    train_fn: ``(config, budget) -> loss``, called once per configuration and round.
    Returns (best_config, rounds): best_config has the lowest loss of the last round;
    rounds[i] = {"budget": r_i, "configs": [...], "losses": [...]} (survivors ordered by loss).
    """
    if int(eta) != eta or eta < 2:
        raise ValueError(f"eta must be an integer >= 2, got {eta}")
    eta = int(eta)
    configs = list(configs)
    n = len(configs)
    if n < 1:
        raise ValueError("successive halving needs at least one configuration")
    rounds = []
    alive = configs
    i = 0
    while n // eta ** i >= 1:
        budget = min_budget * eta ** i
        if max_budget is not None and budget > max_budget * (1 + 1e-9):
            break
        losses = [float(train_fn(c, budget)) for c in alive]
        rounds.append({"budget": budget, "configs": list(alive), "losses": losses})
        order = np.argsort(losses, kind="stable")
        keep = n // eta ** (i + 1)
        if keep < 1:
            break
        alive = [alive[k] for k in order[:keep]]
        i += 1
    last = rounds[-1]
    k = int(np.argmin(last["losses"]))
    return last["configs"][k], rounds


def hyperband_brackets(max_budget, eta=3):
    r"""Hyperband's schedule: one bracket per $s = s_{max}, \dots, 0$, each a list of rounds (n_i, r_i).

    $s_{max} = \lfloor \log_\eta R \rfloor$, $B = (s_{max} + 1) R$;
    bracket s starts with $n = \lceil \frac{B}{R} \frac{\eta^s}{s + 1} \rceil$ configurations at
    $r = R \eta^{-s}$, then $n_i = \lfloor n \eta^{-i} \rfloor$, $r_i = r \eta^i$ for i = 0..s.
    R = 81, eta = 3: brackets start at 81@1, 34@3, 15@9, 8@27, 5@81.
    """
    if int(eta) != eta or eta < 2:
        raise ValueError(f"eta must be an integer >= 2, got {eta}")
    eta = int(eta)
    if max_budget < 1:
        raise ValueError("max_budget must be at least 1")
    s_max = 0
    while eta ** (s_max + 1) <= max_budget:  # integer floor(log_eta R), free of rounding
        s_max += 1
    brackets = []
    for s in range(s_max, -1, -1):
        n = -(-(s_max + 1) * eta ** s // (s + 1))  # ceil with integers
        brackets.append([(n // eta ** i, max_budget / eta ** (s - i)) for i in range(s + 1)])
    return brackets


def hyperband(sample_fn, train_fn, max_budget, eta=3, rng=None):
    """Hyperband (Li et al., 2017): successive halving from every bracket of :func:`hyperband_brackets`.

    sample_fn: ``rng -> config``; train_fn: ``(config, budget) -> loss``.
    Bracket s draws its n configurations with ``sample_fn(rng)`` and runs
    successive halving from budget r up to max_budget.  Returns (best, brackets):
    best is the configuration with the lowest loss at the full budget (every
    bracket ends there); brackets[j] = {"s", "n", "r", "rounds", "best_config", "best_loss"}.
    """
    if rng is None:
        raise TypeError("hyperband needs rng, a numpy.random.Generator")
    schedule = hyperband_brackets(max_budget, eta)
    s_max = len(schedule) - 1
    brackets = []
    for j, plan in enumerate(schedule):
        n, r = plan[0]
        configs = [sample_fn(rng) for _ in range(n)]
        best_config, rounds = successive_halving(configs, train_fn, r, eta, max_budget=max_budget)
        last = rounds[-1]
        brackets.append({"s": s_max - j, "n": n, "r": r, "rounds": rounds, "best_config": best_config,
                         "best_loss": min(last["losses"])})
    top = min(brackets, key=lambda b: b["best_loss"])  # first bracket on ties
    return top["best_config"], brackets
