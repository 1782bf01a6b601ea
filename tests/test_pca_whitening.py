"""Chapter 5: reference vs scikit-learn / scipy / torch, and the checks vs known mistakes and correct variants."""
import numpy as np
import pytest
import scipy.linalg
import scipy.stats
import torch
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.preprocessing import StandardScaler

from autograder.checks import pca_whitening as chk
from autograder.reference import pca_whitening as ref
from checkkit import assert_accepts, assert_rejects, cases


def _data(rng, n, d, offset=3.0):
    """Correlated features on different scales, away from the origin."""
    A = rng.normal(size=(d, d)) * np.logspace(0, -1, d)
    return rng.normal(size=(n, d)) @ A.T * 2.0 + offset * rng.normal(size=d)


def _align_rows(a, b):
    """a with each row's sign flipped to agree with b."""
    return a * np.where(np.sum(a * b, axis=1, keepdims=True) < 0, -1.0, 1.0)


SHAPES = [(50, 4, None), (30, 6, 3), (8, 12, None), (8, 12, 5), (200, 10, 1), (25, 2, 2)]


# ------------------------------------------------------------ standardize vs scikit-learn
@pytest.mark.parametrize("shape", [(10, 3), (100, 7), (2, 5), (9, 1)])
def test_standardize_matches_sklearn(shape, rng):
    X = rng.normal(size=shape) * rng.uniform(0.01, 100, size=shape[1]) + rng.normal(scale=50, size=shape[1])
    Z, mean, std = ref.standardize(X)
    sc = StandardScaler().fit(X)
    np.testing.assert_allclose(Z, sc.transform(X), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(mean, sc.mean_, rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(std, np.sqrt(sc.var_), rtol=1e-12, atol=0)


@pytest.mark.parametrize("value", [0.0, 7.0, 3.7, -1e-3, 0.1])
def test_standardize_constant_column_is_zero_not_nan(value, rng):
    """A constant feature (even one whose float mean rounds, like 3.7) gets std 0 and z-scores 0."""
    X = rng.normal(size=(7, 3))
    X[:, 1] = value
    with np.errstate(all="raise"):  # any division by zero would raise here
        Z, _, std = ref.standardize(X)
    assert std[1] == 0.0
    np.testing.assert_array_equal(Z[:, 1], 0.0)
    np.testing.assert_allclose(Z, StandardScaler().fit_transform(X), rtol=1e-10, atol=1e-12)


def test_standardized_columns_have_mean_0_and_population_std_1(rng):
    X = _data(rng, 40, 5)
    Z, _, _ = ref.standardize(X)
    t = torch.tensor(Z)
    np.testing.assert_allclose(t.mean(0).numpy(), 0.0, atol=1e-14)
    np.testing.assert_allclose(t.std(0, correction=0).numpy(), 1.0, rtol=1e-13)


# ------------------------------------------------------------ pca_fit vs scikit-learn and torch
@pytest.mark.parametrize("n, d, k", SHAPES)
def test_pca_fit_matches_sklearn(n, d, k, rng):
    X = _data(rng, n, d)
    mean, comps, var, ratio = ref.pca_fit(X, k)
    sk = PCA(n_components=k, svd_solver="full").fit(X)
    np.testing.assert_allclose(mean, sk.mean_, rtol=1e-13, atol=1e-13)
    assert comps.shape == sk.components_.shape
    np.testing.assert_allclose(var, sk.explained_variance_, rtol=1e-10, atol=1e-12 * var[0])
    np.testing.assert_allclose(ratio, sk.explained_variance_ratio_, rtol=1e-10, atol=1e-12)
    # a direction is only defined where its eigenvalue is separated from the others (N < D: the last is ~0)
    keep = var > 1e-8 * var[0]
    np.testing.assert_allclose(_align_rows(comps, sk.components_)[keep], sk.components_[keep],
                               rtol=0, atol=1e-9)


@pytest.mark.parametrize("n, d, k", [s for s in SHAPES if s[0] > s[1]])
def test_pca_fit_matches_torch_eigh_of_cov(n, d, k, rng):
    """An independent route: eigendecomposition of the 1/(N-1) covariance."""
    X = _data(rng, n, d)
    mean, comps, var, ratio = ref.pca_fit(X, k)
    lam, U = torch.linalg.eigh(torch.cov(torch.tensor(X).T))
    lam, U = lam.flip(0).numpy(), U.flip(1).numpy()
    kk = comps.shape[0]
    np.testing.assert_allclose(var, lam[:kk], rtol=1e-10)
    np.testing.assert_allclose(ratio, lam[:kk] / lam.sum(), rtol=1e-10)
    np.testing.assert_allclose(_align_rows(comps, U[:, :kk].T), U[:, :kk].T, atol=1e-9)


def test_pca_fit_orthonormal_sorted_and_signed(rng):
    X = _data(rng, 60, 7)
    _, comps, var, ratio = ref.pca_fit(X)
    np.testing.assert_allclose(comps @ comps.T, np.eye(7), atol=1e-13)
    assert np.all(np.diff(var) <= 0)
    assert ratio.sum() == pytest.approx(1.0, rel=1e-13)
    biggest = comps[np.arange(7), np.argmax(np.abs(comps), axis=1)]
    assert np.all(biggest > 0)  # scikit-learn's sign convention


@pytest.mark.parametrize("k", [0, 6, -1])
def test_pca_fit_rejects_bad_n_components(k, rng):
    with pytest.raises(ValueError, match="n_components"):
        ref.pca_fit(rng.normal(size=(10, 5)), k)


# ------------------------------------------------------------ transform / inverse vs scikit-learn
@pytest.mark.parametrize("n, d, k", SHAPES)
def test_transform_and_inverse_match_sklearn(n, d, k, rng):
    X, X_new = _data(rng, n, d), _data(rng, 5, d)
    sk = PCA(n_components=k, svd_solver="full").fit(X)
    Z = ref.pca_transform(X_new, sk.mean_, sk.components_)
    np.testing.assert_allclose(Z, sk.transform(X_new), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(ref.pca_inverse_transform(Z, sk.mean_, sk.components_),
                               sk.inverse_transform(sk.transform(X_new)), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("k", [1, 2, 4, 6])
def test_reconstruction_error_is_the_discarded_variance(k, rng):
    """||X_c - X_hat||_F^2 = (N - 1) * sum of the eigenvalues left out; exact reconstruction at k = D."""
    X = _data(rng, 40, 6)
    _, _, all_var, _ = ref.pca_fit(X)
    mean, comps, _, _ = ref.pca_fit(X, k)
    X_hat = ref.pca_inverse_transform(ref.pca_transform(X, mean, comps), mean, comps)
    err = np.sum((X - X_hat) ** 2)
    assert err == pytest.approx(39 * all_var[k:].sum(), rel=1e-9, abs=1e-18)
    if k == 6:
        np.testing.assert_allclose(X_hat, X, rtol=1e-12, atol=1e-12)


# ------------------------------------------------------------ whitening
@pytest.mark.parametrize("n, d, k", [s for s in SHAPES if s[0] > s[1]])
def test_pca_whiten_matches_sklearn(n, d, k, rng):
    X = _data(rng, n, d)
    Z = ref.pca_whiten(X, k)
    sk = PCA(n_components=k, whiten=True, svd_solver="full").fit_transform(X)
    signs = np.where(np.sum(Z * sk, axis=0) < 0, -1.0, 1.0)
    np.testing.assert_allclose(Z * signs, sk, rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize("eps", [0.0, 0.1, 3.0])
def test_pca_whitened_covariance(eps, rng):
    """cov(Z) = I when eps = 0; diag(λ / (λ + ε)) otherwise (the small directions are damped)."""
    X = _data(rng, 80, 5)
    _, _, var, _ = ref.pca_fit(X)
    Z = ref.pca_whiten(X, eps=eps)
    np.testing.assert_allclose(torch.cov(torch.tensor(Z).T).numpy(), np.diag(var / (var + eps)), atol=1e-12)
    np.testing.assert_allclose(Z.mean(axis=0), 0.0, atol=1e-12)


def _zca_oracle(X, eps):
    Xc = X - X.mean(axis=0)
    C = np.cov(X, rowvar=False)
    return Xc @ np.real(scipy.linalg.fractional_matrix_power(C + eps * np.eye(X.shape[1]), -0.5))


@pytest.mark.parametrize("n, d, eps", [(50, 4, 1e-5), (30, 6, 0.1), (100, 3, 2.0), (8, 12, 0.5), (20, 5, 0.0)])
def test_zca_matches_inverse_square_root_of_covariance(n, d, eps, rng):
    X = _data(rng, n, d)
    np.testing.assert_allclose(ref.zca_whiten(X, eps), _zca_oracle(X, eps), rtol=1e-8, atol=1e-9)


def test_zca_whitened_covariance_is_identity(rng):
    X = _data(rng, 200, 6)
    Z = ref.zca_whiten(X, eps=0.0)
    np.testing.assert_allclose(np.cov(Z, rowvar=False), np.eye(6), atol=1e-12)


def test_zca_matrix_is_symmetric_and_moves_the_data_least(rng):
    """W with Z = X_c W is symmetric; every other whitening R W (R orthogonal), PCA whitening
    included, lies farther from the centered data."""
    X = _data(rng, 100, 5)
    Xc = X - X.mean(axis=0)
    Z = ref.zca_whiten(X, eps=0.0)
    W = np.linalg.lstsq(Xc, Z, rcond=None)[0]
    np.testing.assert_allclose(W, W.T, atol=1e-10)
    assert np.all(np.linalg.eigvalsh(W) > 0)
    zca_dist = np.sum((Z - Xc) ** 2)
    others = [ref.pca_whiten(X)] + [Z @ R for R in scipy.stats.ortho_group.rvs(5, size=20, random_state=1)]
    others.append(Xc @ np.linalg.inv(np.linalg.cholesky(np.cov(X, rowvar=False))).T)  # Cholesky whitening
    for other in others:
        np.testing.assert_allclose(np.cov(other, rowvar=False), np.eye(5), atol=1e-10)  # each one whitens
        assert np.sum((other - Xc) ** 2) > zca_dist


def test_zca_does_not_depend_on_eigenvector_signs_or_order(rng):
    X = _data(rng, 40, 4)
    Xc = X - X.mean(axis=0)
    lam, U = np.linalg.eigh(np.cov(X, rowvar=False))
    U = U[:, [2, 0, 3, 1]] * [1, -1, -1, 1]
    lam = lam[[2, 0, 3, 1]]
    np.testing.assert_allclose(ref.zca_whiten(X, 0.3), Xc @ U @ np.diag(1 / np.sqrt(lam + 0.3)) @ U.T, atol=1e-12)


# ------------------------------------------------------------ the check cases are well posed
def _fit_like_cases():
    for case in chk._fit_cases() + chk._whiten_cases():
        yield case.args[0], (case.args[1] if len(case.args) > 1 else None)


@pytest.mark.parametrize("X, k", list(_fit_like_cases()))
def test_check_cases_have_separated_eigenvalues(X, k):
    """Sign-aligned comparison is only meaningful if every kept direction is unique:
    consecutive eigenvalues (down to the first one dropped) differ by at least 20%."""
    _, _, var, _ = ref.pca_fit(X)
    kk = len(var) if k is None else min(k + 1, len(var))
    v = var[:kk]
    assert np.all(v[1:] / v[:-1] < 0.8), v


def test_quiz_answer_matches_sklearn():
    assert chk._digits_95() == PCA(n_components=0.95, svd_solver="full").fit(load_digits().data).n_components_


@pytest.mark.parametrize("answer", [29, 29.0, np.int64(29)])
def test_quiz_accepts(answer):
    assert chk.check_quiz_components_95(answer) is None


@pytest.mark.parametrize("answer", [None, 28, 30, 40, 0.95, "many"])
def test_quiz_rejects(answer):
    with pytest.raises(AssertionError, match="components_95"):
        chk.check_quiz_components_95(answer)


def test_components_for_variance():
    assert chk.components_for_variance([0.5, 0.3, 0.15, 0.05], 0.95) == 3
    assert chk.components_for_variance([0.5, 0.3, 0.15, 0.05], 0.8) == 2  # reaching it exactly counts
    assert chk.components_for_variance([1.0], 0.95) == 1


# ------------------------------------------------------------ correct variants: every check passes them
def _standardize_loops(X):
    X = np.asarray(X, dtype=float)
    n, d = X.shape
    Z, mean, std = np.zeros((n, d)), np.zeros(d), np.zeros(d)
    for j in range(d):
        mean[j] = sum(X[:, j]) / n
        std[j] = (sum((x - mean[j]) ** 2 for x in X[:, j]) / n) ** 0.5
        for i in range(n):
            Z[i, j] = (X[i, j] - mean[j]) / std[j] if std[j] > 1e-12 else 0.0
    return Z, mean, std


def _standardize_float32(X):
    X = np.asarray(X, dtype=np.float32)
    mean, std = X.mean(0), X.std(0)
    Z = np.divide(X - mean, std, out=np.zeros_like(X), where=std > 0)
    return Z, mean, std


def _standardize_sklearn(X):
    sc = StandardScaler().fit(X)
    return sc.transform(X), sc.mean_, np.sqrt(sc.var_)


def _pca_eigh(X, n_components=None):
    X = np.asarray(X, dtype=float)
    mean = X.mean(axis=0)
    lam, U = np.linalg.eigh(np.cov(X, rowvar=False))
    lam, U = lam[::-1], U[:, ::-1]
    k = n_components or min(X.shape)
    return mean, U[:, :k].T, lam[:k], lam[:k] / lam.sum()


def _pca_eigh_float32(X, n_components=None):
    X = np.asarray(X, dtype=np.float32)
    mean = X.mean(axis=0)
    Xc = X - mean
    lam, U = np.linalg.eigh(Xc.T @ Xc / np.float32(X.shape[0] - 1))
    order = np.argsort(lam)[::-1]
    k = n_components or min(X.shape)
    return mean, U[:, order[:k]].T, lam[order[:k]], lam[order[:k]] / lam.sum()


def _pca_svd_negated(X, n_components=None):
    mean, comps, var, ratio = ref.pca_fit(X, n_components)
    return mean, -comps, var, ratio


def _pca_sklearn(X, n_components=None):
    p = PCA(n_components=n_components).fit(X)
    return p.mean_, p.components_, p.explained_variance_, p.explained_variance_ratio_


def _pca_torch(X, n_components=None):
    t = torch.as_tensor(np.asarray(X, dtype=float))
    mean = t.mean(0)
    _, s, vt = torch.linalg.svd(t - mean, full_matrices=False)
    var = s ** 2 / (t.shape[0] - 1)
    k = n_components or min(t.shape)
    return [a.numpy() for a in (mean, vt[:k], var[:k], var[:k] / var.sum())]


def _pca_power_iteration(X, n_components=None):
    """Power iteration with deflation: the variance-maximization argument, literally."""
    X = np.asarray(X, dtype=float)
    mean = X.mean(axis=0)
    C = (X - mean).T @ (X - mean) / (X.shape[0] - 1)
    total, k = np.trace(C), n_components or min(X.shape)
    comps, var = [], []
    v0 = np.random.default_rng(0).normal(size=X.shape[1])
    for _ in range(k):
        v = v0 / np.linalg.norm(v0)
        for _ in range(3000):
            v = C @ v
            v /= np.linalg.norm(v)
        lam = v @ C @ v
        comps.append(v)
        var.append(lam)
        C = C - lam * np.outer(v, v)
    var = np.array(var)
    return mean, np.array(comps), var, var / total


def _transform_loops(X, mean, components):
    return [[float(np.dot(x - mean, c)) for c in components] for x in X]


def _inverse_loops(Z, mean, components):
    out = []
    for z in Z:
        x = np.array(mean, dtype=float)
        for zi, c in zip(z, components):
            x = x + zi * c
        out.append(x)
    return np.array(out)


def _whiten_eigh(X, n_components=None, eps=0.0):
    mean, comps, var, _ = _pca_eigh(X, n_components)
    signs = np.where(np.arange(len(var)) % 2 == 0, -1.0, 1.0)  # flip every other column
    return (X - mean) @ comps.T / np.sqrt(var + eps) * signs


def _whiten_float32(X, n_components=None, eps=0.0):
    mean, comps, var, _ = _pca_eigh_float32(X, n_components)
    return (np.float32(X) - mean) @ comps.T / np.sqrt(var + np.float32(eps))


def _whiten_sklearn_or_ref(X, n_components=None, eps=0.0):
    if eps == 0:
        return PCA(n_components=n_components, whiten=True).fit_transform(X)
    return ref.pca_whiten(X, n_components, eps)


def _zca_eigh(X, eps=1e-5):
    Xc = X - X.mean(axis=0)
    lam, U = np.linalg.eigh(np.cov(X, rowvar=False))
    return Xc @ U @ np.diag(1.0 / np.sqrt(lam + eps)) @ U.T


def _zca_float32(X, eps=1e-5):
    X = np.asarray(X, dtype=np.float32)
    Xc = X - X.mean(axis=0)
    lam, U = np.linalg.eigh(Xc.T @ Xc / np.float32(X.shape[0] - 1))
    return (Xc @ U / np.sqrt(np.maximum(lam, 0) + np.float32(eps))) @ U.T


def _zca_scipy(X, eps=1e-5):
    return _zca_oracle(np.asarray(X, dtype=float), eps)


def _zca_full_svd(X, eps=1e-5):
    """U from the full SVD of the covariance; the same matrix, another decomposition."""
    Xc = X - X.mean(axis=0)
    U, s, _ = np.linalg.svd(Xc.T @ Xc / (len(X) - 1))
    return Xc @ (U * (1 / np.sqrt(s + eps))) @ U.T


VARIANTS = [
    ("check_standardize", "reference", ref.standardize),
    ("check_standardize", "loops, std > 1e-12 test", _standardize_loops),
    ("check_standardize", "float32, np.divide(where=)", _standardize_float32),
    ("check_standardize", "scikit-learn StandardScaler, sqrt(var_)", _standardize_sklearn),
    ("check_standardize", "list result", lambda X: list(ref.standardize(X))),
    ("check_pca_fit", "reference (SVD)", ref.pca_fit),
    ("check_pca_fit", "eigh of np.cov, reversed", _pca_eigh),
    ("check_pca_fit", "eigh in float32, argsort", _pca_eigh_float32),
    ("check_pca_fit", "every sign flipped", _pca_svd_negated),
    ("check_pca_fit", "scikit-learn PCA", _pca_sklearn),
    ("check_pca_fit", "torch SVD", _pca_torch),
    ("check_pca_fit", "power iteration with deflation", _pca_power_iteration),
    ("check_pca_transform", "reference", lambda X, m, c: ref.pca_transform(X, m, c)),
    ("check_pca_transform", "loops, nested list", _transform_loops),
    ("check_pca_transform", "float32", lambda X, m, c: (np.float32(X) - np.float32(m)) @ np.float32(c).T),
    ("check_pca_transform", "einsum", lambda X, m, c: np.einsum("nd,kd->nk", X - m, c)),
    ("check_pca_whiten", "reference", ref.pca_whiten),
    ("check_pca_whiten", "eigh, alternating signs", _whiten_eigh),
    ("check_pca_whiten", "float32", _whiten_float32),
    ("check_pca_whiten", "scikit-learn whiten=True (eps = 0)", _whiten_sklearn_or_ref),
    ("check_zca_whiten", "reference", ref.zca_whiten),
    ("check_zca_whiten", "eigh of np.cov", _zca_eigh),
    ("check_zca_whiten", "float32", _zca_float32),
    ("check_zca_whiten", "scipy (C + eps I)^(-1/2)", _zca_scipy),
    ("check_zca_whiten", "SVD of the covariance", _zca_full_svd),
]

INVERSE_VARIANTS = [
    ("reference", ref.pca_inverse_transform),
    ("loops", _inverse_loops),
    ("float32", lambda Z, m, c: np.float32(Z) @ np.float32(c) + np.float32(m)),
]


@pytest.mark.parametrize("check, fn", cases(VARIANTS))
def test_check_accepts_correct_variant(check, fn):
    assert_accepts(getattr(chk, check), fn)


@pytest.mark.parametrize("label, inverse", INVERSE_VARIANTS, ids=[v[0] for v in INVERSE_VARIANTS])
def test_check_pca_transform_accepts_inverse_variant(label, inverse):
    assert chk.check_pca_transform(ref.pca_transform, inverse) is None


# ------------------------------------------------------------ known mistakes: every check fails them
def _stub(*args, **kwargs):
    raise NotImplementedError()


def _standardize_divide_by_zero(X):
    mean, std = X.mean(0), X.std(0)
    return (X - mean) / std, mean, std


def _standardize_sklearn_scale(X):
    sc = StandardScaler().fit(X)
    return sc.transform(X), sc.mean_, sc.scale_  # scale_ is 1, not 0, for a constant column


def _standardize_in_place(X):
    mean, std = X.mean(0), X.std(0)
    X -= mean
    X /= np.where(std > 0, std, 1.0)
    return X, mean, std


def _standardize_rows(X):
    mean, std = X.mean(1, keepdims=True), X.std(1, keepdims=True)
    return (X - mean) / np.where(std > 0, std, 1.0), X.mean(0), X.std(0)


def _safe(std):
    return np.where(std > 0, std, 1.0)


def _pca_uncentered(X, n_components=None):
    _, s, vt = np.linalg.svd(X, full_matrices=False)
    var = s ** 2 / (len(X) - 1)
    k = n_components or min(X.shape)
    return X.mean(0), vt[:k], var[:k], var[:k] / var.sum()


def _pca_ascending(X, n_components=None):
    mean = X.mean(0)
    lam, U = np.linalg.eigh(np.cov(X, rowvar=False))
    k = n_components or min(X.shape)
    return mean, U[:, :k].T, lam[:k], lam[:k] / lam.sum()


def _with_var(f):
    """pca_fit whose explained variance is computed as f(s, N) from the singular values."""
    def pca_fit(X, n_components=None):
        mean, comps, _, _ = ref.pca_fit(X, n_components)
        s = np.linalg.svd(X - mean, compute_uv=False)
        var = f(s, len(X))
        k = comps.shape[0]
        return mean, comps, var[:k], var[:k] / var.sum()
    return pca_fit


def _pca_ratio_over_kept(X, n_components=None):
    mean, comps, var, _ = ref.pca_fit(X, n_components)
    return mean, comps, var, var / var.sum()


def _pca_scaled_components(X, n_components=None):
    mean, comps, var, ratio = ref.pca_fit(X, n_components)
    return mean, comps * np.sqrt(var)[:, None], var, ratio


def _whiten_with(divide):
    def pca_whiten(X, n_components=None, eps=0.0):
        mean, comps, var, _ = ref.pca_fit(X, n_components)
        return (X - mean) @ comps.T / divide(var, eps)
    return pca_whiten


def _whiten_uncentered(X, n_components=None, eps=0.0):
    mean, comps, var, _ = ref.pca_fit(X, n_components)
    return X @ comps.T / np.sqrt(var + eps)


def _whiten_ascending(X, n_components=None, eps=0.0):
    mean, comps, var, _ = _pca_ascending(X, n_components)
    return (X - mean) @ comps.T / np.sqrt(var + eps)


def _whiten_population_cov(X, n_components=None, eps=0.0):
    mean, comps, var, _ = ref.pca_fit(X, n_components)
    return (X - mean) @ comps.T / np.sqrt(var * (len(X) - 1) / len(X) + eps)


def _zca_with(transform):
    def zca_whiten(X, eps=1e-5):
        Xc = X - X.mean(0)
        lam, U = np.linalg.eigh(np.cov(X, rowvar=False))
        return transform(X, Xc, lam, U, eps)
    return zca_whiten


def _pca_columns(X, n_components=None):
    mean, comps, var, ratio = ref.pca_fit(X, n_components)
    return mean, comps.T, var, ratio


def _transform_columns(X, mean, components):
    return (X - mean) @ components


def _whiten_type_error(X, n_components=None, eps=0.0):
    return X + "1"


_zca_not_rotated_back = _zca_with(lambda X, Xc, lam, U, eps: Xc @ U / np.sqrt(lam + eps))
_zca_eps_outside = _zca_with(lambda X, Xc, lam, U, eps: Xc @ U / (np.sqrt(np.maximum(lam, 0)) + eps) @ U.T)

MISTAKES = [
    ("check_standardize", "stub", _stub),
    ("check_standardize", "division by zero on a constant feature", _standardize_divide_by_zero),
    ("check_standardize", "no centering", lambda X: (X / _safe(X.std(0)), X.mean(0), X.std(0))),
    ("check_standardize", "sample std (ddof=1)",
     lambda X: ((X - X.mean(0)) / _safe(X.std(0, ddof=1)), X.mean(0), X.std(0, ddof=1))),
    ("check_standardize", "divides by the variance",
     lambda X: ((X - X.mean(0)) / _safe(X.var(0)), X.mean(0), X.var(0))),
    ("check_standardize", "std reported as 1 for a constant column (scale_)", _standardize_sklearn_scale),
    ("check_standardize", "statistics over each row", _standardize_rows),
    ("check_standardize", "returns only Z", lambda X: ref.standardize(X)[0]),
    ("check_standardize", "modifies X in place", _standardize_in_place),
    ("check_pca_fit", "stub", _stub),
    ("check_pca_fit", "no centering", _pca_uncentered),
    ("check_pca_fit", "components as columns", _pca_columns),
    ("check_pca_fit", "ascending order (eigh not reversed)", _pca_ascending),
    ("check_pca_fit", "variance = s / (N-1), not squared", _with_var(lambda s, n: s / (n - 1))),
    ("check_pca_fit", "variance = s**2, no 1/(N-1)", _with_var(lambda s, n: s ** 2)),
    ("check_pca_fit", "variance = s**2 / N", _with_var(lambda s, n: s ** 2 / n)),
    ("check_pca_fit", "variance = s (singular values)", _with_var(lambda s, n: s)),
    ("check_pca_fit", "ratio over the kept components only", _pca_ratio_over_kept),
    ("check_pca_fit", "components scaled by their std", _pca_scaled_components),
    ("check_pca_fit", "returns only the components", lambda X, k=None: ref.pca_fit(X, k)[1]),
    ("check_pca_transform", "stub", _stub),
    ("check_pca_transform", "no centering", lambda X, m, c: X @ c.T),
    ("check_pca_transform", "components as columns", _transform_columns),
    ("check_pca_transform", "divides by the norm of each sample",
     lambda X, m, c: (X - m) @ c.T / np.linalg.norm(X - m, axis=1, keepdims=True)),
    ("check_pca_whiten", "stub", _stub),
    ("check_pca_whiten", "divides by λ, not sqrt(λ)", _whiten_with(lambda v, e: v + e)),
    ("check_pca_whiten", "eps outside the square root", _whiten_with(lambda v, e: np.sqrt(v) + e)),
    ("check_pca_whiten", "no whitening (plain projection)", _whiten_with(lambda v, e: 1.0)),
    ("check_pca_whiten", "ignores eps", _whiten_with(lambda v, e: np.sqrt(v))),
    ("check_pca_whiten", "no centering", _whiten_uncentered),
    ("check_pca_whiten", "ascending order", _whiten_ascending),
    ("check_pca_whiten", "1/N covariance", _whiten_population_cov),
    ("check_pca_whiten", "standardizes instead (no decorrelation)", lambda X, k=None, eps=0.0:
        ref.standardize(X)[0][:, :(k or X.shape[1])]),
    ("check_pca_whiten", "returns all D columns", lambda X, k=None, eps=0.0: ref.pca_whiten(X, None, eps)),
    ("check_zca_whiten", "stub", _stub),
    ("check_zca_whiten", "PCA whitening, not rotated back", _zca_not_rotated_back),
    ("check_zca_whiten", "divides by λ, not sqrt(λ)",
     _zca_with(lambda X, Xc, lam, U, eps: Xc @ U / (lam + eps) @ U.T)),
    ("check_zca_whiten", "eps outside the square root", _zca_eps_outside),
    ("check_zca_whiten", "no centering", _zca_with(lambda X, Xc, lam, U, eps: X @ U / np.sqrt(lam + eps) @ U.T)),
    ("check_zca_whiten", "U and U.T swapped", _zca_with(lambda X, Xc, lam, U, eps: Xc @ U.T / np.sqrt(lam + eps) @ U)),
    ("check_zca_whiten", "1/N covariance",
     _zca_with(lambda X, Xc, lam, U, eps: Xc @ U / np.sqrt(lam * (len(X) - 1) / len(X) + eps) @ U.T)),
    ("check_zca_whiten", "ignores eps", _zca_with(lambda X, Xc, lam, U, eps: Xc @ U / np.sqrt(lam + 1e-5) @ U.T)),
    ("check_zca_whiten", "standardizes instead (no decorrelation)", lambda X, eps=1e-5: ref.standardize(X)[0]),
]

INVERSE_MISTAKES = [
    ("stub", _stub),
    ("forgets the mean", lambda Z, m, c: Z @ c),
    ("subtracts the mean", lambda Z, m, c: Z @ c - m),
]


@pytest.mark.parametrize("check, fn", cases(MISTAKES))
def test_check_rejects_mistake(check, fn):
    assert_rejects(getattr(chk, check), fn, name=check.replace("check_", ""))


@pytest.mark.parametrize("label, inverse", INVERSE_MISTAKES, ids=[m[0] for m in INVERSE_MISTAKES])
def test_check_pca_transform_rejects_inverse_mistake(label, inverse):
    assert_rejects(lambda f: chk.check_pca_transform(ref.pca_transform, f), inverse, name="pca_inverse_transform")


# ------------------------------------------------------------ messages
@pytest.mark.parametrize("check, fn, words", [
    ("check_standardize", _standardize_divide_by_zero, "divide by 1 instead"),
    ("check_standardize", _standardize_sklearn_scale, "constant column is 0"),
    ("check_pca_fit", _pca_columns, "as columns"),
    ("check_pca_fit", _pca_ascending, "decreasing variance"),
    ("check_pca_fit", _pca_uncentered, "subtract the mean"),
    ("check_pca_fit", _with_var(lambda s, n: s / (n - 1)), "square the singular values"),
    ("check_pca_fit", _with_var(lambda s, n: s ** 2 / n), "N - 1"),
    ("check_pca_fit", _with_var(lambda s, n: s), "not variances"),
    ("check_pca_fit", _pca_ratio_over_kept, "not the sum of the k kept"),
    ("check_pca_fit", _pca_scaled_components, "length 1"),
    ("check_pca_transform", lambda X, m, c: X @ c.T, "subtract the mean"),
    ("check_standardize", lambda X: (X / _safe(X.std(0)), X.mean(0), X.std(0)), "subtract the column mean"),
    ("check_pca_whiten", _whiten_uncentered, "subtract the mean"),
    ("check_pca_whiten", _whiten_with(lambda v, e: np.sqrt(v)), "add eps"),
    ("check_zca_whiten", _zca_with(lambda X, Xc, lam, U, eps: X @ U / np.sqrt(lam + eps) @ U.T), "subtract the mean"),
    ("check_zca_whiten", _zca_with(lambda X, Xc, lam, U, eps: Xc @ U / np.sqrt(lam + 1e-5) @ U.T), "eps you are given"),
    ("check_zca_whiten", _zca_with(lambda X, Xc, lam, U, eps: Xc @ U.T / np.sqrt(lam + eps) @ U), "columns of U"),
    ("check_pca_whiten", _whiten_with(lambda v, e: v + e), "not by λ"),
    ("check_pca_whiten", _whiten_with(lambda v, e: np.sqrt(v) + e), "inside the square root"),
    ("check_pca_whiten", _whiten_ascending, "decreasing variance"),
    ("check_zca_whiten", _zca_not_rotated_back, "rotate back"),
    ("check_zca_whiten", _zca_eps_outside, "inside the square root"),
])
def test_messages_name_the_mistake(check, fn, words):
    msg = assert_rejects(getattr(chk, check), fn)
    assert words in msg, msg


def test_messages_are_actionable():
    msg = assert_rejects(chk.check_zca_whiten, _zca_not_rotated_back, name="zca_whiten")
    assert "case 1 of" in msg and "expected" in msg and "got" in msg and "hint:" in msg
    msg = assert_rejects(chk.check_pca_fit, _stub)
    assert "not implemented yet" in msg
    msg = assert_rejects(chk.check_pca_whiten, _whiten_type_error)
    assert "TypeError" in msg and "at line" in msg
    msg = assert_rejects(chk.check_standardize, _standardize_in_place)
    assert "modified in place" in msg


def test_visible_only_runs_fewer_cases():
    calls = []

    def spy(X, n_components=None):
        calls.append(1)
        return ref.pca_fit(X, n_components)

    chk.check_pca_fit(spy, visible_only=True)
    n_visible = len(calls)
    chk.check_pca_fit(spy)
    assert 0 < n_visible < len(calls) - n_visible


def test_checks_survive_monkeypatched_numpy(monkeypatch):
    """A notebook that rebinds np.allclose / np.sum / np.where must not change the verdict."""
    monkeypatch.setattr(np, "allclose", lambda *a, **k: True)
    monkeypatch.setattr(np, "sum", lambda *a, **k: 0.0)
    monkeypatch.setattr(np, "abs", lambda x: x * 0)
    with pytest.raises(AssertionError):
        chk.check_pca_fit(_pca_ascending)
    with pytest.raises(AssertionError):
        chk.check_zca_whiten(_zca_not_rotated_back)


def test_checks_write_nothing_to_stderr(capfd):
    """Division by zero in the student's code must not print a RuntimeWarning (nbgrader would score 0)."""
    with pytest.raises(AssertionError):
        chk.check_standardize(_standardize_divide_by_zero)
    chk.check_zca_whiten(_zca_float32)
    assert capfd.readouterr().err == ""
