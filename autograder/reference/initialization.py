"""Chapter 2 -- weight initialization (reference, numpy, float64).

Fans and gains, the variance-scaling initializers (LeCun, Xavier/Glorot,
He/Kaiming), orthogonal matrices, and the per-layer activation statistics the
book plots.  Shapes follow torch: a dense weight is (fan_out, fan_in) and a
layer computes ``x @ W.T``; a conv kernel is (C_out, C_in, kh, kw, ...).
All randomness comes from the ``numpy.random.Generator`` passed in as ``rng``,
so the same seed gives the same array.
"""
import math

import numpy as np

from autograder.reference.vanishing_gradients import mlp_forward


# ---------------------------------------------------------------- fans and gains
def fans(shape):
    r"""(fan_in, fan_out) of a weight of this shape.

    receptive field $r = \prod$ shape[2:] (1 for a dense weight);
    fan_in = shape[1] * r, fan_out = shape[0] * r.
    shape: tuple of at least 2 ints.  torch: ``nn.init._calculate_fan_in_and_fan_out``.
    """
    shape = tuple(int(s) for s in shape)
    if len(shape) < 2:
        raise ValueError(f"fans need a shape with at least 2 dimensions, got {shape}")
    receptive_field = math.prod(shape[2:])  # kh * kw for a conv2d kernel
    return shape[1] * receptive_field, shape[0] * receptive_field


_LINEAR = ("linear", "conv1d", "conv2d", "conv3d",
           "conv_transpose1d", "conv_transpose2d", "conv_transpose3d", "sigmoid")


def calculate_gain(nonlinearity, param=None):
    r"""The factor by which an initializer scales its standard deviation for a nonlinearity.

    linear, conv*, sigmoid: 1;  tanh: 5/3;  relu: $\sqrt 2$;
    leaky_relu with slope a (param, default 0.01): $\sqrt{2 / (1 + a^2)}$;  selu: 3/4.
    torch: ``nn.init.calculate_gain``.
    """
    if nonlinearity in _LINEAR:
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3.0
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else float(param)
        return math.sqrt(2.0 / (1.0 + slope ** 2))
    if nonlinearity == "selu":
        return 0.75
    raise ValueError(f"unsupported nonlinearity {nonlinearity!r}")


def _fan(shape, mode):
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan_in, fan_out = fans(shape)
    return fan_in if mode == "fan_in" else fan_out


# ---------------------------------------------------------------- initializers
def zeros(shape):
    """All-zero weights (the wrong choice for a hidden layer; see the book).  torch: ``nn.init.zeros_``."""
    return np.zeros(shape, dtype=np.float64)


def normal(shape, std, rng):
    r"""$W_{ij} \sim \mathcal N(0, \mathrm{std}^2)$ with a fixed std.  torch: ``nn.init.normal_(w, 0, std)``."""
    return rng.normal(0.0, std, size=shape)


def lecun_normal(shape, rng):
    r"""$\mathcal N(0, 1/\mathrm{fan\_in})$: keeps Var of a linear layer's output equal to Var of its input.

    torch: ``nn.init.kaiming_normal_(w, nonlinearity="linear")``.
    """
    return he_normal(shape, rng, nonlinearity="linear", mode="fan_in")


def xavier_normal(shape, rng, gain=1.0):
    r"""$\mathcal N(0, \sigma^2)$ with $\sigma = \mathrm{gain}\sqrt{2 / (\mathrm{fan\_in} + \mathrm{fan\_out})}$.

    The compromise between keeping forward (fan_in) and backward (fan_out) variances.
    torch: ``nn.init.xavier_normal_(w, gain)``.
    """
    fan_in, fan_out = fans(shape)
    std = gain * math.sqrt(2.0 / (fan_in + fan_out))
    return rng.normal(0.0, std, size=shape)


def xavier_uniform(shape, rng, gain=1.0):
    r"""$\mathcal U(-b, b)$ with $b = \mathrm{gain}\sqrt{6 / (\mathrm{fan\_in} + \mathrm{fan\_out})}$.

    U(-b, b) has variance b^2/3, so this is xavier_normal's variance with a flat shape.
    torch: ``nn.init.xavier_uniform_(w, gain)``.
    """
    fan_in, fan_out = fans(shape)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-bound, bound, size=shape)


def he_normal(shape, rng, nonlinearity="relu", mode="fan_in"):
    r"""$\mathcal N(0, \sigma^2)$ with $\sigma = \mathrm{gain} / \sqrt{\mathrm{fan}}$, fan = fan_in or fan_out by ``mode``.

    gain = calculate_gain(nonlinearity) ($\sqrt 2$ for relu; leaky_relu takes its default slope 0.01).
    torch: ``nn.init.kaiming_normal_(w, a=0.01, mode=mode, nonlinearity=nonlinearity)``.
    """
    std = calculate_gain(nonlinearity) / math.sqrt(_fan(shape, mode))
    return rng.normal(0.0, std, size=shape)


def he_uniform(shape, rng, nonlinearity="relu", mode="fan_in"):
    r"""$\mathcal U(-b, b)$ with $b = \mathrm{gain}\sqrt{3 / \mathrm{fan}}$: he_normal's variance, flat.

    torch: ``nn.init.kaiming_uniform_(w, a=0.01, mode=mode, nonlinearity=nonlinearity)``.
    """
    bound = calculate_gain(nonlinearity) * math.sqrt(3.0 / _fan(shape, mode))
    return rng.uniform(-bound, bound, size=shape)


def orthonormalize(a):
    r"""The (semi-)orthogonal factor of a matrix by QR, with torch's sign convention.

    a: (rows, cols).  If rows >= cols, a = QR and the result is $Q\,\mathrm{diag}(\mathrm{sign}\,R_{ii})$,
    whose columns are orthonormal; otherwise the same is done to a.T and transposed back
    (orthonormal rows).  For Gaussian a the result is uniformly (Haar) distributed.
    """
    a = np.asarray(a, dtype=np.float64)
    wide = a.shape[0] < a.shape[1]
    if wide:
        a = a.T
    q, r = np.linalg.qr(a)  # reduced: q is (rows, cols) with rows >= cols
    q = q * np.sign(np.diag(r))  # fixes the sign of each column, which QR leaves arbitrary
    return q.T if wide else q


def orthogonal(shape, rng, gain=1.0):
    r"""gain times a random (semi-)orthogonal matrix.

    The weight is viewed as (rows, cols) = (shape[0], prod(shape[1:])); then
    $W W^\top = \mathrm{gain}^2 I$ if rows <= cols, else $W^\top W = \mathrm{gain}^2 I$.
    Made from the QR of a standard Gaussian matrix (Saxe et al. 2014).
    torch: ``nn.init.orthogonal_(w, gain)``.
    """
    shape = tuple(int(s) for s in shape)
    if len(shape) < 2:
        raise ValueError(f"orthogonal needs a shape with at least 2 dimensions, got {shape}")
    rows = shape[0]
    cols = math.prod(shape[1:])
    return gain * orthonormalize(rng.standard_normal((rows, cols))).reshape(shape)


# ---------------------------------------------------------------- what the book plots
def mlp_weights(widths, init, rng, **kwargs):
    r"""Weights of a bias-free MLP with layer widths d_0, d_1, ..., d_L.

    weights[l] = init((d_{l+1}, d_l), rng, **kwargs), first layer first.
    init: any initializer of this module (or a student's), e.g. ``he_normal``.
    """
    return [init((widths[i + 1], widths[i]), rng, **kwargs) for i in range(len(widths) - 1)]


def layer_activations(x, weights, activation):
    r"""The outputs $h_1, \dots, h_L$ of every layer, $h_l = f(h_{l-1} W_l^\top)$, $h_0 = x$.

    x: (N, d_0); weights[l]: (d_{l+1}, d_l); activation: "sigmoid", "tanh" or "relu".
    Returns a list of L arrays, h_l of shape (N, d_l).
    """
    out, (hs, _) = mlp_forward(x, weights, activation)
    return hs[1:] + [out]


def activation_stats(x, weights, activation):
    r"""Mean and standard deviation of every layer's output over all its entries.

    means[l] = mean of $h_{l+1}$, stds[l] = its (population, ddof=0) std.
    Returns (means, stds), each of shape (L,).
    torch: ``h.mean()``, ``h.std(unbiased=False)`` per layer.
    """
    hs = layer_activations(x, weights, activation)
    return np.array([h.mean() for h in hs]), np.array([h.std() for h in hs])
