"""Checks for Chapter 5 (PCA and whitening).

Each ``check_*`` takes the student's function, runs it on seeded cases
against :mod:`autograder.reference.pca_whitening`, returns ``None`` on
success and raises ``AssertionError`` with an actionable message otherwise.
``visible_only=True`` runs the cases the notebook shows; the default runs
them all (the hidden tests do that).

A principal component is a direction, so its sign is arbitrary: before
comparing, each of the student's components (rows of ``components``, columns
of a PCA-whitened matrix) is flipped to agree with the reference's.  Every
case's covariance has well-separated eigenvalues, so the directions themselves
are unique.  ZCA needs no such care: its result does not depend on the signs.
"""
import numpy as np

from autograder.reference import pca_whitening as ref

from . import _core
from ._core import Case

# Bound at import, like _core's: a notebook that rebinds numpy's functions does not change the verdict.
_sum = np.sum
_where = np.where
_allclose = np.allclose
_asarray = np.asarray
_float64 = np.float64


def _rng(seed):
    return np.random.default_rng(seed)


def _data(seed, n, scales, offset=3.0):
    """N samples whose covariance has eigenvalues near scales**2 along random orthogonal axes.

    In the PCA cases adjacent scales differ by a factor >= 1.4, so the sample eigenvalues stay
    apart and every kept direction is well defined (tests/test_pca_whitening.py checks the gaps).
    """
    r = _rng(seed)
    d = len(scales)
    q, _ = np.linalg.qr(r.normal(size=(d, d)))
    x = (r.normal(size=(n, d)) * np.asarray(scales, dtype=float)) @ q.T
    return x + offset * r.normal(size=d)


def _align(got, expected, axis):
    """Flip the sign of each row (axis=1) or column (axis=0) of got to agree with expected."""
    dots = _sum(got * expected, axis=axis, keepdims=True)
    return got * _where(dots < 0, -1.0, 1.0)


def _tuple(name, got, n, what, at):
    if not isinstance(got, (tuple, list)) or len(got) != n:
        raise AssertionError(f"{name}: return a tuple {what}, got {_core.describe(got)} ({at})")
    return got


def _assert_close(name, what, expected, got, at, rtol, atol, hint):
    """_core.assert_close, with the hint a function called only on failure (hints try several
    known mistakes, which costs a few decompositions)."""
    try:
        _core.assert_close(name, what, expected, got, at, rtol=rtol, atol=atol)
    except AssertionError:
        _core.assert_close(name, what, expected, got, at, rtol=rtol, atol=atol, hint=hint())


def _close(a, b, rtol=1e-3):
    return a.shape == b.shape and _allclose(a, b, rtol=rtol, atol=1e-6)


# ---------------------------------------------------------------- standardize
def _standardize_cases():
    r = _rng(501)
    with_constant = r.normal(size=(6, 4)) * [1.0, 5.0, 1.0, 0.2] + [0.0, 10.0, 0.0, -3.0]
    with_constant[:, 2] = 7.0  # a constant feature: its std is exactly 0
    return [
        Case("X (5, 3), columns on different scales", (r.normal(size=(5, 3)) * [1.0, 10.0, 0.1] + [2.0, -5.0, 0.3],)),
        Case("X (6, 4) whose column 2 is constant (all 7.0)", (with_constant,)),
        Case("X (8, 1), one feature", (r.normal(3.0, 2.0, size=(8, 1)),), visible=False),
        Case("X (10, 5), scales from 1e-3 to 1e3", ((r.normal(size=(10, 5)) + 5.0) * np.logspace(-3, 3, 5),),
             visible=False),
        Case("X (4, 3), every column constant", (np.tile([1.0, 0.0, -2.0], (4, 1)),), visible=False),
        Case("X (3, 2) of integers", (np.array([[1.0, 2.0], [3.0, 6.0], [5.0, 1.0]]),), visible=False),
    ]


def _standardize_hint(X, std, got_std):
    if _close(got_std, X.std(axis=0, ddof=1)):
        return "std is the population std (divide by N, ddof=0), not the sample std (N - 1)."
    if _close(got_std, X.var(axis=0)):
        return "divide by the standard deviation, the square root of the variance."
    if (std == 0).any() and got_std.shape == std.shape and _close(got_std[std > 0], std[std > 0]):
        return "the std of a constant column is 0; only the division must avoid it (leave those z-scores at 0)."
    return "std[d] is sqrt(mean((X[:, d] - mean[d])**2)), one number per column."


def _standardize_z_hint(X, std, got):
    safe = np.where(std > 0, std, 1.0)
    try:
        got = _asarray(got, dtype=_float64)
    except (TypeError, ValueError):
        got = None
    if got is not None and _close(got, X / safe):
        return "subtract the column mean before dividing: z-scores have mean 0."
    return ("Z = (X - mean) / std column by column; where std is 0, divide by 1 instead "
            "(e.g. np.where(std > 0, std, 1)), so that a constant column gives 0, not nan.")


def check_standardize(standardize, visible_only=False):
    """standardize(X) -> (Z, mean, std): column z-scores, population std, constant columns left at 0."""
    name = "standardize"
    for at, case in _core.cases_to_run(_standardize_cases(), visible_only):
        X = case.args[0]
        n, d = X.shape
        Z, mean, std = ref.standardize(X)
        got = _tuple(name, _core.call(name, standardize, at, X), 3, "(Z, mean, std)", at)
        got_mean = _core.as_array(name, "mean", got[1], at)
        if got_mean.shape != (d,):
            raise AssertionError(
                f"{name}: mean has shape {got_mean.shape}, expected {(d,)} -- one mean per column "
                f"({at})\n  hint: average over the samples, axis 0, not over the features.")
        _core.assert_close(name, "mean", mean, got_mean, at, rtol=1e-5, atol=1e-7,
                           hint="mean[d] is the average of column d over the N samples.")
        got_std = _core.as_array(name, "std", got[2], at, (d,))
        _assert_close(name, "std", std, got_std, at, 1e-5, 1e-7, lambda: _standardize_hint(X, std, got_std))
        _assert_close(name, "Z", Z, got[0], at, 1e-5, 1e-6, lambda: _standardize_z_hint(X, std, got[0]))
    _core.assert_inputs_unchanged(name, standardize, _rng(502).normal(size=(5, 3)) + 4.0)


# ---------------------------------------------------------------- pca_fit
def _fit_cases():
    return [
        Case("X (20, 4), all 4 components", (_data(511, 20, [4.0, 2.0, 1.0, 0.5]),)),
        Case("X (30, 5), n_components=2", (_data(512, 30, [5.0, 3.0, 2.0, 1.0, 0.5]), 2)),
        Case("X (40, 3) far from the origin (mean ~ 20), n_components=3",
             (_data(513, 40, [3.0, 1.5, 0.7], offset=20.0), 3), visible=False),
        Case("X (6, 10), fewer samples than features, n_components=3",
             (_data(514, 6, [8.0, 4.0, 2.0, 1.0] + [0.3] * 6), 3), visible=False),
        Case("X (50, 6), n_components=1", (_data(515, 50, [6.0, 3.0, 2.0, 1.0, 0.6, 0.3]), 1), visible=False),
        Case("X (25, 2), features on scales 10 and 0.1", (_data(516, 25, [10.0, 0.1]),), visible=False),
    ]


def _smallest_first(a, k):
    """The k smallest-variance rows of a (sorted decreasing), in either order."""
    return [a[::-1][:k], a[-k:]]


def _components_hint(X, comps, got):
    k, d = comps.shape
    if got.shape == (d, k) and _close(_align(got.T, comps, 1), comps):
        return "the components are the rows of the result, shape (k, D); you returned them as columns."
    full = ref.pca_fit(X)[1]
    if got.shape == comps.shape and any(_close(_align(got, c, 1), c) for c in _smallest_first(full, k)):
        return "sort the components by decreasing variance (np.linalg.eigh returns increasing eigenvalues)."
    _, _, vt = np.linalg.svd(X, full_matrices=False)
    if got.shape == comps.shape and _close(_align(got, vt[:k], 1), vt[:k]):
        return "subtract the mean first: PCA diagonalizes the covariance of the centered data."
    return "the components are the unit eigenvectors of the covariance (or right singular vectors of X - mean)."


def _variance_hint(X, var, got):
    n = X.shape[0]
    if any(_close(got, v) for v in _smallest_first(ref.pca_fit(X)[2], len(var))) and not _close(got, var):
        return "sort by decreasing variance (np.linalg.eigh returns increasing eigenvalues)."
    sv = np.sqrt(var * (n - 1))  # the singular values of X - mean
    if _close(got, sv):
        return "the singular values s of X - mean are not variances: λ = s**2 / (N - 1)."
    if _close(got, sv / (n - 1)):
        return "square the singular values: λ = s**2 / (N - 1)."
    if _close(got, var * (n - 1) / n):
        return "the covariance divides by N - 1 (as np.cov and scikit-learn), not N."
    if _close(got, np.sqrt(var)):
        return "explained_variance is the eigenvalue λ itself, a variance, not its square root."
    if _close(got, var * (n - 1)):
        return "divide s**2 (or X_c.T @ X_c) by N - 1 to get variances."
    return "explained_variance[i] is the variance of the data along component i: its eigenvalue of the covariance."


def check_pca_fit(pca_fit, visible_only=False):
    """pca_fit(X, n_components) -> (mean, components (k, D), explained_variance, explained_variance_ratio)."""
    name = "pca_fit"
    for at, case in _core.cases_to_run(_fit_cases(), visible_only):
        X = case.args[0]
        mean, comps, var, ratio = ref.pca_fit(*case.args)
        got = _tuple(name, _core.call(name, pca_fit, at, *case.args), 4,
                     "(mean, components, explained_variance, explained_variance_ratio)", at)
        _core.assert_close(name, "mean", mean, got[0], at, rtol=1e-5, atol=1e-6,
                           hint="mean is the column mean of X, shape (D,).")
        got_comps = _core.as_array(name, "components", got[1], at)
        if got_comps.shape != comps.shape:
            raise AssertionError(
                f"{name}: components has shape {got_comps.shape}, expected {comps.shape} ({at})\n"
                f"  hint: {_components_hint(X, comps, got_comps)}")
        norms = np.sqrt(_sum(got_comps ** 2, axis=1))
        if not _allclose(norms, 1.0, rtol=0, atol=1e-4):
            raise AssertionError(
                f"{name}: every component must have length 1, got lengths {np.round(norms, 4).tolist()} ({at})\n"
                "  hint: return the eigenvectors themselves, not scaled by their eigenvalue or singular value.")
        _assert_close(name, "components (each compared up to its sign)", comps, _align(got_comps, comps, 1),
                      at, 1e-4, 1e-4, lambda: _components_hint(X, comps, got_comps))
        got_var = _core.as_array(name, "explained_variance", got[2], at, var.shape)
        # float32 eigenvalues are accurate to ~1e-7 of the largest one, not of each one
        _assert_close(name, "explained_variance", var, got_var, at, 1e-4, 1e-5 * var[0],
                      lambda: _variance_hint(X, var, got_var))
        got_ratio = _core.as_array(name, "explained_variance_ratio", got[3], at, ratio.shape)
        _core.assert_close(
            name, "explained_variance_ratio", ratio, got_ratio, at, rtol=1e-4, atol=1e-5 * ratio[0],
            hint="ratio[i] = λ_i / (sum of all D eigenvalues), the trace of the covariance -- "
                 "not the sum of the k kept ones.")
    _core.assert_inputs_unchanged(name, pca_fit, _data(517, 10, [3.0, 1.0, 0.3]))


# ---------------------------------------------------------------- pca_transform / pca_inverse_transform
def _transform_cases():
    cases = []
    for seed, n, scales, k, visible in [(521, 8, [3.0, 1.5, 0.5], 2, True),
                                        (522, 6, [4.0, 2.0, 1.0, 0.5], 4, True),
                                        (523, 10, [5.0, 3.0, 2.0, 1.0, 0.5], 1, False),
                                        (524, 7, [2.0, 1.0, 0.5, 0.2, 0.1, 0.05], 3, False)]:
        X = _data(seed, n, scales, offset=5.0)
        mean, comps, _, _ = ref.pca_fit(X, k)
        Xnew = _data(seed + 100, 4, scales, offset=5.0)  # transform must work on data it was not fit on
        cases.append(Case(f"X (4, {len(scales)}) new samples, components ({k}, {len(scales)})",
                          (Xnew, mean, comps), visible=visible))
    return cases


def check_pca_transform(pca_transform, pca_inverse_transform=None, visible_only=False):
    """pca_transform(X, mean, components) -> Z (N, k) and, if given,
    pca_inverse_transform(Z, mean, components) -> X_hat (N, D)."""
    chosen = _core.select(_transform_cases(), visible_only)
    for k, case in enumerate(chosen):
        at = _core.where(k, len(chosen), case)
        X, mean, comps = case.args
        Z = ref.pca_transform(X, mean, comps)
        got = _core.call("pca_transform", pca_transform, at, X, mean, comps)
        hint = "Z = (X - mean) @ components.T: center with the mean from the fit, then project on every row."
        arr = _core.as_array("pca_transform", "Z", got, at)
        if arr.shape == Z.shape and _close(arr, X @ comps.T):
            hint = "subtract the mean before projecting: the components describe the centered data."
        _core.assert_close("pca_transform", "Z", Z, arr, at, rtol=1e-5, atol=1e-6, hint=hint)
        if pca_inverse_transform is None:
            continue
        X_hat = ref.pca_inverse_transform(Z, mean, comps)
        got = _core.call("pca_inverse_transform", pca_inverse_transform, at, Z, mean, comps)
        arr = _core.as_array("pca_inverse_transform", "X_hat", got, at)
        hint = "X_hat = Z @ components + mean: combine the components with weights Z, then undo the centering."
        if arr.shape == X_hat.shape and _close(arr, Z @ comps):
            hint = "add the mean back: the components live around the mean, not the origin."
        _core.assert_close("pca_inverse_transform", "X_hat", X_hat, arr, at, rtol=1e-5, atol=1e-6, hint=hint)
    X, mean, comps = chosen[0].args
    _core.assert_inputs_unchanged("pca_transform", pca_transform, X, mean, comps)
    if pca_inverse_transform is not None:
        _core.assert_inputs_unchanged("pca_inverse_transform", pca_inverse_transform,
                                      ref.pca_transform(X, mean, comps), mean, comps)


# ---------------------------------------------------------------- whitening
def _whiten_cases():
    return [
        Case("X (40, 3), all components, eps=0", (_data(531, 40, [4.0, 2.0, 0.5]),)),
        Case("X (30, 5), n_components=2, eps=0", (_data(532, 30, [5.0, 3.0, 2.0, 1.0, 0.5]), 2)),
        Case("X (50, 4), n_components=3, eps=0.5", (_data(533, 50, [3.0, 1.5, 0.7, 0.3]), 3, 0.5), visible=False),
        Case("X (60, 3) far from the origin (mean ~ 20), eps=0", (_data(534, 60, [2.0, 1.0, 0.4], offset=20.0),),
             visible=False),
        Case("X (30, 4), n_components=4, eps=2.0 (larger than the small variances)",
             (_data(535, 30, [3.0, 1.5, 0.5, 0.2]), 4, 2.0), visible=False),
    ]


def _whiten_hint(X, args, Z, got):
    n_components = args[1] if len(args) > 1 else None
    eps = args[2] if len(args) > 2 else 0.0
    mean, comps, var, _ = ref.pca_fit(X, n_components)
    proj = (X - mean) @ comps.T
    if got.shape == Z.shape:
        def like(candidate):
            return _close(_align(got, candidate, 0), candidate)
        if like(proj / (var + eps)):
            return "divide by the square root of the variance, sqrt(λ + eps), not by λ."
        if like(proj / (np.sqrt(var) + eps)):
            return "eps goes inside the square root: divide by sqrt(λ + eps), not sqrt(λ) + eps."
        if like(proj / np.sqrt(var * (X.shape[0] - 1) / X.shape[0] + eps)):
            return "the variances come from the covariance with 1/(N - 1), as np.cov and scikit-learn."
        if like(proj[:, ::-1] / np.sqrt(var[::-1] + eps)) and Z.shape[1] > 1:
            return "order the columns by decreasing variance (np.linalg.eigh returns increasing eigenvalues)."
        if eps > 0 and like(proj / np.sqrt(var)):
            return "add eps to every variance before the square root: sqrt(λ + eps)."
        if like(X @ comps.T / np.sqrt(var + eps)):
            return "subtract the mean before projecting: whitening acts on the centered data."
        if like(proj):
            return "project and then divide each column by sqrt(λ + eps), so that its variance becomes 1."
    return ("Z = (X - mean) @ components.T / sqrt(explained_variance + eps): every column then has "
            "variance 1 (with eps = 0) and the columns are uncorrelated.")


def check_pca_whiten(pca_whiten, visible_only=False):
    """pca_whiten(X, n_components=None, eps=0.0) -> Z (N, k); each column compared up to its sign."""
    name = "pca_whiten"
    for at, case in _core.cases_to_run(_whiten_cases(), visible_only):
        X = case.args[0]
        Z = ref.pca_whiten(*case.args)
        got = _core.as_array(name, "Z", _core.call(name, pca_whiten, at, *case.args), at)
        if got.shape != Z.shape:
            raise AssertionError(
                f"{name}: Z has shape {got.shape}, expected {Z.shape} ({at})\n"
                "  hint: one row per sample and one column per kept component: (X - mean) @ components.T.")
        _assert_close(name, "Z (each column compared up to its sign)", Z, _align(got, Z, 0), at, 1e-4, 1e-4,
                      lambda: _whiten_hint(X, case.args, Z, got))
    _core.assert_inputs_unchanged(name, pca_whiten, _data(536, 12, [3.0, 1.0, 0.3]))


def _zca_cases():
    constant = _data(544, 20, [3.0, 1.0, 0.5, 0.2])
    constant[:, 1] = 4.0
    return [
        Case("X (40, 3), default eps", (_data(541, 40, [4.0, 2.0, 0.5]),)),
        Case("X (30, 4), eps=0.1", (_data(542, 30, [3.0, 1.0, 0.5, 0.2]),), {"eps": 0.1}),
        Case("X (50, 5) far from the origin (mean ~ 20), eps=1.0",
             (_data(543, 50, [4.0, 2.0, 1.0, 0.5, 0.25], offset=20.0),), {"eps": 1.0}, visible=False),
        Case("X (20, 4) whose column 1 is constant, eps=0.1", (constant,), {"eps": 0.1}, visible=False),
        Case("X (6, 8), fewer samples than features, eps=0.1",
             (_data(545, 6, [4.0, 3.0, 2.0, 1.5, 1.0, 0.7, 0.5, 0.3]),), {"eps": 0.1}, visible=False),
        Case("X (30, 2) with equal variances, eps=0.01", (_data(546, 30, [1.0, 1.0]),), {"eps": 0.01},
             visible=False),
    ]


def _zca_hint(X, eps, Z, got):
    n = X.shape[0]
    Xc = X - X.mean(axis=0)
    lam, U = np.linalg.eigh(Xc.T @ Xc / (n - 1))
    lam = np.maximum(lam, 0.0)
    if got.shape == Z.shape:
        if _close(_align(got, Xc @ U / np.sqrt(lam + eps), 0), Xc @ U / np.sqrt(lam + eps)):
            return ("that is PCA whitening: rotate back with U.T at the end, Z = X_c @ U @ diag(1/sqrt(λ + eps))"
                    " @ U.T, so that Z stays in the original feature axes.")
        if _close(got, (Xc @ U / (lam + eps)) @ U.T):
            return "divide by the square root, sqrt(λ + eps), not by λ + eps."
        if _close(got, (Xc @ U / (np.sqrt(lam) + eps)) @ U.T):
            return "eps goes inside the square root: sqrt(λ + eps), not sqrt(λ) + eps."
        if _close(got, (Xc @ U / np.sqrt(lam * (n - 1) / n + eps)) @ U.T):
            return "the covariance divides by N - 1 (as np.cov), not N."
        if _close(got, (X @ U / np.sqrt(lam + eps)) @ U.T):
            return "subtract the mean of X first: whitening acts on the centered data."
        if eps > 1e-4 and _close(got, (Xc @ U / np.sqrt(lam + 1e-5)) @ U.T):
            return "use the eps you are given: sqrt(λ + eps)."
        if _close(got, (Xc @ U.T / np.sqrt(lam + eps)) @ U):
            return "the eigenvectors are the columns of U (np.linalg.eigh returns them as columns): X_c @ U, then @ U.T."
    return "Z = (X - mean) @ U @ diag(1 / sqrt(λ + eps)) @ U.T with C = U diag(λ) U.T the covariance."


def check_zca_whiten(zca_whiten, visible_only=False):
    """zca_whiten(X, eps=1e-5) -> Z (N, D) = (X - mean) U diag(1/sqrt(λ + eps)) U^T."""
    name = "zca_whiten"
    for at, case in _core.cases_to_run(_zca_cases(), visible_only):
        X = case.args[0]
        Z = ref.zca_whiten(*case.args, **case.kwargs)
        got = _core.as_array(name, "Z", _core.call(name, zca_whiten, at, *case.args, **case.kwargs), at)
        if got.shape != Z.shape:
            raise AssertionError(
                f"{name}: Z has shape {got.shape}, expected {Z.shape} ({at})\n"
                "  hint: ZCA keeps every feature: (N, D) in, (N, D) out.")
        _assert_close(name, "Z", Z, got, at, 1e-4, 1e-4, lambda: _zca_hint(X, case.kwargs.get("eps", 1e-5), Z, got))
    _core.assert_inputs_unchanged(name, zca_whiten, _data(547, 12, [3.0, 1.0, 0.3]))


# ---------------------------------------------------------------- quiz
_DIGITS_95 = []


def components_for_variance(ratio, fraction):
    """Smallest k whose first k explained-variance ratios add up to at least ``fraction``."""
    cumulative = np.cumsum(_asarray(ratio, dtype=_float64))
    return int(np.searchsorted(cumulative, fraction - 1e-12) + 1)


def _digits_95():
    if not _DIGITS_95:
        from sklearn.datasets import load_digits  # bundled with scikit-learn, no download
        _, _, _, ratio = ref.pca_fit(load_digits().data)
        _DIGITS_95.append(components_for_variance(ratio, 0.95))
    return _DIGITS_95[0]


def check_quiz_components_95(answer):
    """How many principal components keep 95% of the variance of the raw digits pixels (1797 x 64)?"""
    _core.check_answer(
        "components_95", answer, _digits_95(),
        hint="fit PCA on the raw pixel values (no standardization), take np.cumsum of the explained-variance "
             "ratios and find the first k where it reaches 0.95.")
