"""Chapter 1 -- vanishing and exploding gradients (reference, numpy, float64).

Activations and their derivatives, the per-layer gradient norms of a deep
MLP, and the two ways of clipping gradients.  Weight layout is torch's: a
dense weight is (fan_out, fan_in) and a layer computes ``x @ W.T``.
"""
import numpy as np


def sigmoid(x):
    r"""Logistic sigmoid $\sigma(x) = 1 / (1 + e^{-x})$, elementwise.

    Stable for large |x|: only $e^{-|x|} \in (0, 1]$ is ever computed, so
    nothing overflows.  x: any shape.  torch: ``torch.sigmoid``.
    """
    x = np.asarray(x, dtype=np.float64)
    z = np.exp(-np.abs(x))
    # x >= 0: 1 / (1 + e^-x);  x < 0: e^x / (1 + e^x) -- the same number, written without overflow
    return np.where(x >= 0, 1.0 / (1.0 + z), z / (1.0 + z))


def sigmoid_grad(x):
    r"""$\sigma'(x) = \sigma(x)\,(1 - \sigma(x))$, at most 1/4 (at x = 0).  x: any shape."""
    s = sigmoid(x)
    return s * (1.0 - s)


def tanh_grad(x):
    r"""$\tanh'(x) = 1 - \tanh^2(x)$, at most 1 (at x = 0).  x: any shape."""
    t = np.tanh(np.asarray(x, dtype=np.float64))
    return 1.0 - t * t


def relu(x):
    r"""$\mathrm{relu}(x) = \max(0, x)$, elementwise.  x: any shape."""
    return np.maximum(np.asarray(x, dtype=np.float64), 0.0)


def relu_grad(x):
    r"""$\mathrm{relu}'(x) = 1$ if $x > 0$ else $0$ (torch's choice at x = 0 is 0).  x: any shape."""
    return (np.asarray(x) > 0).astype(np.float64)


ACTIVATIONS = {
    # name: (f, f') -- the derivative is evaluated at the pre-activation
    "sigmoid": (sigmoid, sigmoid_grad),
    "tanh": (np.tanh, tanh_grad),
    "relu": (relu, relu_grad),
}


def mlp_forward(x, weights, activation):
    r"""Forward pass of a bias-free MLP: $a_l = h_{l-1} W_l^\top$, $h_l = f(a_l)$, $h_0 = x$.

    x: (N, d_0); weights[l]: (d_{l+1}, d_l).
    Returns (h_L, cache) where cache = (hs, pre) holds the layer inputs
    h_0..h_{L-1} and pre-activations a_1..a_L for the backward pass.
    """
    f, _ = ACTIVATIONS[activation]
    h = np.asarray(x, dtype=np.float64)
    hs, pre = [], []
    for W in weights:
        a = h @ np.asarray(W, dtype=np.float64).T
        hs.append(h)
        pre.append(a)
        h = f(a)
    return h, (hs, pre)


def mlp_backward(dout, weights, cache, activation):
    r"""Gradients $\partial L / \partial W_l$ given $\partial L / \partial h_L$ = dout.

    Going down one layer multiplies by $f'(a_l)$ and by $W_l$:
    $\delta_l = (\partial L/\partial h_l) \odot f'(a_l)$,
    $\partial L/\partial W_l = \delta_l^\top h_{l-1}$,
    $\partial L/\partial h_{l-1} = \delta_l W_l$.
    Returns a list of arrays shaped like ``weights``, first layer first.
    """
    _, fprime = ACTIVATIONS[activation]
    hs, pre = cache
    grads = [None] * len(weights)
    dh = dout
    for l in reversed(range(len(weights))):
        delta = dh * fprime(pre[l])
        grads[l] = delta.T @ hs[l]
        dh = delta @ np.asarray(weights[l], dtype=np.float64)
    return grads


def mlp_grad_norms(x, weights, activation):
    r"""Frobenius norm of $\partial L/\partial W_l$ for every layer, first layer first.

    The MLP has no biases and applies ``activation`` ("sigmoid", "tanh" or
    "relu") after every layer; the loss is $L = \frac{1}{2N}\sum h_L^2$.
    x: (N, d_0); weights[l]: (d_{l+1}, d_l).  Returns an array of shape (len(weights),).
    """
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}")
    out, cache = mlp_forward(x, weights, activation)
    dout = out / out.shape[0]  # d/dh_L of sum(h_L**2) / (2N)
    grads = mlp_backward(dout, weights, cache, activation)
    return np.array([np.linalg.norm(g) for g in grads])


def clip_by_value(grads, clip_value):
    r"""Clamp every entry of every gradient to $[-c, c]$.

    grads: list of arrays.  Returns a new list; the inputs are not modified.
    torch: ``torch.nn.utils.clip_grad_value_`` (which works in place).
    """
    return [np.clip(np.asarray(g, dtype=np.float64), -clip_value, clip_value) for g in grads]


def global_norm(grads):
    r"""$\sqrt{\sum_i \lVert g_i \rVert_2^2}$: the L2 norm of all gradients as one long vector."""
    return float(np.sqrt(sum(np.sum(np.asarray(g, dtype=np.float64) ** 2) for g in grads)))


def clip_by_global_norm(grads, max_norm):
    r"""Rescale all gradients together when their global norm exceeds ``max_norm``.

    $n = \sqrt{\sum_i \lVert g_i\rVert^2}$;  $g_i \leftarrow g_i \cdot \min(1, \mathrm{max\_norm} / (n + 10^{-6}))$.
    The direction of the whole gradient is kept; only its length changes.
    grads: list of arrays.  Returns (clipped, n) with n the norm *before* clipping.
    torch: ``torch.nn.utils.clip_grad_norm_`` (in place; the 1e-6 is torch's).
    """
    total = global_norm(grads)
    scale = min(1.0, max_norm / (total + 1e-6))
    return [np.asarray(g, dtype=np.float64) * scale for g in grads], total
