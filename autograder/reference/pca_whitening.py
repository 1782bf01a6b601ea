"""Chapter 5 -- PCA and whitening (reference, numpy, float64).

Data is a matrix X of shape (N, D): N samples in rows, D features in columns.
Covariances use 1/(N - 1), as ``np.cov`` and scikit-learn do; the
standardizing std uses 1/N (ddof 0), as scikit-learn's ``StandardScaler``.
Principal components are stored as rows, sorted by decreasing variance, with
the sign scikit-learn picks: the largest-magnitude entry of each row is positive.
"""
import numpy as np


def standardize(X):
    r"""z-score every column: $z_{nd} = (x_{nd} - \mu_d) / \sigma_d$.

    $\mu_d$ = column mean, $\sigma_d$ = population std (ddof 0).  A constant
    column has $\sigma_d = 0$: its z-scores are left at 0 (no division by 0).
    X: (N, D).  Returns (Z, mean, std) with Z (N, D), mean and std (D,).
    sklearn: ``StandardScaler().fit_transform(X)`` (which stores 1 for a zero std).
    """
    X = np.asarray(X, dtype=np.float64)
    mean = X.mean(axis=0)
    std = X.std(axis=0)
    std[(X == X[:1]).all(axis=0)] = 0.0  # exactly constant: rounding in the mean must not leave a 1e-17 std
    safe = np.where(std > 0, std, 1.0)
    return np.where(std > 0, (X - mean) / safe, 0.0), mean, std


def pca_fit(X, n_components=None):
    r"""Principal components of X from the SVD of the centered data.

    $X - \mu = U S V^\top$; the rows of $V^\top$ are the eigenvectors of the
    covariance $C = (X-\mu)^\top (X-\mu) / (N-1)$, with eigenvalues $\lambda_i = s_i^2 / (N-1)$.
    X: (N, D); keeps k = n_components (default min(N, D)) components.
    Returns (mean (D,), components (k, D) with unit rows, explained_variance (k,) = $\lambda_1 \ge \dots \ge \lambda_k$,
    explained_variance_ratio (k,) = $\lambda_i / \sum_{j} \lambda_j$ over *all* directions).
    sklearn: ``PCA(n_components).fit(X)`` -> ``mean_, components_, explained_variance_, explained_variance_ratio_``.
    """
    X = np.asarray(X, dtype=np.float64)
    n, d = X.shape
    k = min(n, d) if n_components is None else int(n_components)
    if not 1 <= k <= min(n, d):
        raise ValueError(f"n_components must be between 1 and min(N, D) = {min(n, d)}, got {n_components}")
    mean = X.mean(axis=0)
    _, s, vt = np.linalg.svd(X - mean, full_matrices=False)  # s sorted in decreasing order
    variance = s ** 2 / (n - 1)
    # fix each row's sign: its largest-magnitude entry is positive (scikit-learn's convention)
    rows = np.arange(vt.shape[0])
    vt = vt * np.sign(vt[rows, np.argmax(np.abs(vt), axis=1)])[:, None]
    total = variance.sum()
    return mean, vt[:k], variance[:k], variance[:k] / total


def pca_transform(X, mean, components):
    r"""Coordinates along the components: $Z = (X - \mu) V_k^\top$.

    X: (N, D); mean: (D,); components: (k, D).  Returns Z: (N, k).
    sklearn: ``PCA.transform`` (without whitening).
    """
    X = np.asarray(X, dtype=np.float64)
    return (X - np.asarray(mean, dtype=np.float64)) @ np.asarray(components, dtype=np.float64).T


def pca_inverse_transform(Z, mean, components):
    r"""Back to feature space: $\hat X = Z V_k + \mu$ (exact when k = D, else the projection).

    Z: (N, k); mean: (D,); components: (k, D).  Returns X_hat: (N, D).
    sklearn: ``PCA.inverse_transform`` (without whitening).
    """
    Z = np.asarray(Z, dtype=np.float64)
    return Z @ np.asarray(components, dtype=np.float64) + np.asarray(mean, dtype=np.float64)


def pca_whiten(X, n_components=None, eps=0.0):
    r"""PCA whitening: $Z = (X - \mu) V_k^\top \,\mathrm{diag}(1/\sqrt{\lambda_i + \varepsilon})$.

    With eps = 0 every column of Z has mean 0 and variance 1 (ddof 1) and the
    columns are uncorrelated; eps > 0 shrinks direction i to variance
    $\lambda_i / (\lambda_i + \varepsilon)$ instead of blowing up tiny $\lambda_i$.
    X: (N, D).  Returns Z: (N, k).  sklearn (eps = 0): ``PCA(n_components, whiten=True).fit_transform(X)``.
    """
    mean, components, variance, _ = pca_fit(X, n_components)
    return pca_transform(X, mean, components) / np.sqrt(variance + eps)


def zca_whiten(X, eps=1e-5):
    r"""ZCA whitening: $Z = (X - \mu)\, U \,\mathrm{diag}(1/\sqrt{\lambda + \varepsilon})\, U^\top$.

    $C = U \mathrm{diag}(\lambda) U^\top$ is the covariance (1/(N-1)).  PCA whitening
    rotated back into the original axes: $W = (C + \varepsilon I)^{-1/2}$ is
    symmetric, and among all whitening matrices it moves the data least.
    X: (N, D).  Returns Z: (N, D).
    """
    X = np.asarray(X, dtype=np.float64)
    Xc = X - X.mean(axis=0)
    # SVD of the centered data: directions it leaves out have Xc @ u = 0 and add nothing
    _, s, vt = np.linalg.svd(Xc, full_matrices=False)
    variance = s ** 2 / (X.shape[0] - 1)
    return ((Xc @ vt.T) / np.sqrt(variance + eps)) @ vt
