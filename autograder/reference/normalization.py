"""Chapter 4 -- normalization (reference, numpy, float64).

Batch, layer, instance and group normalization are one operation -- subtract
the mean and divide by the standard deviation over a set of axes -- applied
to different axes of the activations; :func:`normalize` and
:func:`normalize_backward` are that operation and its gradient, and the four
layers only choose the axes and the shape of the learnable scale and shift.
Weight normalization and weight standardization act on a weight tensor
instead of the activations; local response normalization divides by the
energy of neighbouring channels.

Layouts are torch's: activations (N, C, ...) with channels on axis 1, a dense
weight (fan_out, fan_in), a conv weight (C_out, C_in, kh, kw).  The last part
of the module is a small numpy MLP (dense, BN, ReLU, dropout, softmax
cross-entropy) used by the chapter's experiments; its BN functions can be
swapped for a student's.
"""
import numpy as np


def _f64(a):
    return np.asarray(a, dtype=np.float64)


# ---------------------------------------------------------------- the shared core
def _sum(a, axes, b=None):
    """Sum of a (or of a * b) over ``axes``, keeping them as length-1 axes.

    einsum forms the product and the sum in one pass, without a temporary a * b.
    """
    letters = "abcdefghijklmnop"[:a.ndim]
    kept = "".join(l for i, l in enumerate(letters) if i not in axes)
    spec = f"{letters}->{kept}" if b is None else f"{letters},{letters}->{kept}"
    s = np.einsum(spec, a) if b is None else np.einsum(spec, a, b)
    return s.reshape([1 if i in axes else n for i, n in enumerate(a.shape)])


def normalize(x, axes, eps=1e-5):
    r"""Standardize x over ``axes``: $\hat x = (x - \mu) / \sqrt{\sigma^2 + \epsilon}$.

    $\mu$ and $\sigma^2$ are the mean and the *biased* variance (divide by m,
    the number of averaged entries) over ``axes``, kept as broadcastable arrays.
    Returns (x_hat, mean, var, inv_std) with inv_std = 1 / sqrt(var + eps).
    """
    x = _f64(x)
    m = np.prod([x.shape[i] for i in axes])
    mean = _sum(x, axes) / m
    xhat = x - mean
    var = _sum(xhat, axes, xhat) / m
    inv_std = 1.0 / np.sqrt(var + eps)
    xhat *= inv_std  # x - mean is our own array: scale it in place
    return xhat, mean, var, inv_std


def normalize_backward(dxhat, xhat, inv_std, axes):
    r"""Gradient through :func:`normalize`, given $\partial L/\partial \hat x$ = dxhat.

    x reaches $\hat x$ directly, through the mean and through the variance; the
    three paths sum to
    $\partial L/\partial x = \frac{1}{\sigma}\big(g - \overline{g} - \hat x\,\overline{g\,\hat x}\big)$,
    $g = \partial L/\partial \hat x$, bars = means over ``axes``, $1/\sigma$ = inv_std.
    """
    dxhat = _f64(dxhat)
    m = np.prod([xhat.shape[i] for i in axes])
    g_mean = _sum(dxhat, axes) / m
    gx_mean = _sum(dxhat, axes, xhat) / m
    dx = xhat * gx_mean       # the variance path ...
    dx += g_mean              # ... plus the mean path ...
    np.subtract(dxhat, dx, out=dx)  # ... taken from the direct path
    dx *= inv_std
    return dx


# ---------------------------------------------------------------- batch normalization
def batchnorm_forward(x, gamma, beta, running_mean, running_var, *, train=True, momentum=0.1, eps=1e-5):
    r"""Batch normalization: one mean and variance per channel, over the batch (and space).

    train: $\hat x = (x - \mu_B)/\sqrt{\sigma_B^2 + \epsilon}$ with biased $\sigma_B^2$ over N (and H, W);
    running stats <- (1 - momentum) * old + momentum * batch, with the batch variance made
    unbiased ($\times\,n/(n-1)$, n entries per channel) for the running average only.
    eval: the running statistics replace the batch ones.  out = gamma * x_hat + beta.
    x: (N, C) or (N, C, H, W) (any (N, C, ...)); gamma, beta, running_mean, running_var: (C,).
    torch: ``F.batch_norm(x, running_mean, running_var, gamma, beta, train, momentum, eps)``,
    which updates the running statistics in place; here new arrays are returned.

    Returns (out, cache, running_mean, running_var); cache is None in eval mode.
    """
    x = _f64(x)
    if x.ndim < 2:
        raise ValueError(f"batchnorm_forward expects x of shape (N, C, ...), got {x.shape}")
    n, c = x.shape[0], x.shape[1]
    x3 = x.reshape(n, c, -1)  # (N, C, H*W): statistics over axes 0 and 2
    g = _f64(gamma).reshape(1, c, 1)
    b = _f64(beta).reshape(1, c, 1)
    rm, rv = _f64(running_mean), _f64(running_var)
    if not train:
        scale = g / np.sqrt(rv.reshape(1, c, 1) + eps)
        out = (x3 - rm.reshape(1, c, 1)) * scale + b
        return out.reshape(x.shape), None, rm.copy(), rv.copy()
    m = x3.shape[0] * x3.shape[2]  # entries per channel
    if m < 2:
        raise ValueError("batchnorm_forward: expected more than 1 value per channel when training")
    xhat, mean, var, inv_std = normalize(x3, (0, 2), eps)
    out = xhat * g
    out += b
    mean, var = mean.reshape(c), var.reshape(c)
    new_rm = (1.0 - momentum) * rm + momentum * mean
    new_rv = (1.0 - momentum) * rv + momentum * var * (m / (m - 1.0))  # torch stores the unbiased variance
    cache = (xhat, inv_std, g, x.shape)
    return out.reshape(x.shape), cache, new_rm, new_rv


def batchnorm_backward(dout, cache):
    r"""Gradients of training-mode batch normalization.

    $\partial L/\partial\beta = \sum \text{dout}$, $\partial L/\partial\gamma = \sum \text{dout}\cdot\hat x$
    (sums over N and space); dx by :func:`normalize_backward` with $\partial L/\partial\hat x = \gamma\,\text{dout}$.
    dout: shaped like x.  Returns (dx, dgamma, dbeta); dgamma, dbeta: (C,).
    """
    xhat, inv_std, g, shape = cache
    d = _f64(dout).reshape(xhat.shape)
    dbeta = d.sum(axis=(0, 2))
    dgamma = _sum(d, (0, 2), xhat).reshape(-1)
    # gamma is constant over everything a channel's statistics average, so it factors
    # out of the means in normalize_backward: pass gamma / sigma instead of forming gamma * dout
    dx = normalize_backward(d, xhat, g * inv_std, (0, 2))
    return dx.reshape(shape), dgamma, dbeta


# ---------------------------------------------------------------- layer normalization
def layernorm_forward(x, gamma, beta, eps=1e-5):
    r"""Layer normalization: one mean and variance per example, over every axis but the batch axis.

    $\hat x_n = (x_n - \mu_n)/\sqrt{\sigma_n^2 + \epsilon}$ (biased variance); out = gamma * x_hat + beta.
    x: (N, ...); gamma, beta: x.shape[1:].  torch: ``F.layer_norm(x, x.shape[1:], gamma, beta, eps)``.
    Returns (out, cache) for :func:`layernorm_backward`.
    """
    x = _f64(x)
    if x.ndim < 2:
        raise ValueError(f"layernorm_forward expects x of shape (N, ...), got {x.shape}")
    x2 = x.reshape(x.shape[0], -1)  # (N, D): statistics over axis 1
    g = _f64(gamma).reshape(1, -1)
    xhat, _, _, inv_std = normalize(x2, (1,), eps)
    out = xhat * g + _f64(beta).reshape(1, -1)
    return out.reshape(x.shape), (xhat, inv_std, g, x.shape)


def layernorm_backward(dout, cache):
    r"""Gradients of :func:`layernorm_forward`.

    dgamma, dbeta sum over the batch axis only (they have the shape of one example);
    dx by :func:`normalize_backward` over the axes of one example.
    Returns (dx, dgamma, dbeta).
    """
    xhat, inv_std, g, shape = cache
    d = _f64(dout).reshape(xhat.shape)
    dbeta = d.sum(axis=0).reshape(shape[1:])
    dgamma = _sum(d, (0,), xhat).reshape(shape[1:])
    dx = normalize_backward(d * g, xhat, inv_std, (1,))
    return dx.reshape(shape), dgamma, dbeta


# ---------------------------------------------------------------- instance normalization
def instancenorm_forward(x, gamma, beta, eps=1e-5):
    r"""Instance normalization: one mean and variance per example *and* channel, over space.

    $\hat x_{nc} = (x_{nc} - \mu_{nc})/\sqrt{\sigma_{nc}^2 + \epsilon}$; out = gamma_c * x_hat + beta_c.
    x: (N, C, H, W) (any (N, C, L, ...)); gamma, beta: (C,).
    torch: ``F.instance_norm(x, weight=gamma, bias=beta, eps=eps)``.
    Returns (out, cache) for :func:`instancenorm_backward`.
    """
    x = _f64(x)
    if x.ndim < 3:
        raise ValueError(f"instancenorm_forward expects x of shape (N, C, H, W), got {x.shape}")
    n, c = x.shape[0], x.shape[1]
    x3 = x.reshape(n, c, -1)  # statistics over axis 2 only
    g = _f64(gamma).reshape(1, c, 1)
    xhat, _, _, inv_std = normalize(x3, (2,), eps)
    out = xhat * g + _f64(beta).reshape(1, c, 1)
    return out.reshape(x.shape), (xhat, inv_std, g, x.shape)


def instancenorm_backward(dout, cache):
    r"""Gradients of :func:`instancenorm_forward`: returns (dx, dgamma, dbeta), dgamma, dbeta (C,)."""
    xhat, inv_std, g, shape = cache
    d = _f64(dout).reshape(xhat.shape)
    dbeta = d.sum(axis=(0, 2))
    dgamma = _sum(d, (0, 2), xhat).reshape(-1)
    dx = normalize_backward(d * g, xhat, inv_std, (2,))
    return dx.reshape(shape), dgamma, dbeta


# ---------------------------------------------------------------- group normalization
def groupnorm_forward(x, gamma, beta, num_groups, eps=1e-5):
    r"""Group normalization: channels split into G consecutive groups of C/G; one mean and
    variance per example and group, over the group's channels and space.

    G = 1 is layer normalization (with per-channel gamma); G = C is instance normalization.
    x: (N, C, ...) with C divisible by G; gamma, beta: (C,).
    torch: ``F.group_norm(x, num_groups, gamma, beta, eps)``.
    Returns (out, cache) for :func:`groupnorm_backward`.
    """
    x = _f64(x)
    if x.ndim < 2:
        raise ValueError(f"groupnorm_forward expects x of shape (N, C, ...), got {x.shape}")
    n, c = x.shape[0], x.shape[1]
    if num_groups < 1 or c % num_groups:
        raise ValueError(f"groupnorm_forward: {c} channels cannot be split into {num_groups} groups")
    xg = x.reshape(n, num_groups, -1)  # (N, G, C/G * H*W): channel c is in group c // (C/G)
    xhat, _, _, inv_std = normalize(xg, (2,), eps)
    g = _f64(gamma).reshape(1, c, 1)
    out = xhat.reshape(n, c, -1) * g + _f64(beta).reshape(1, c, 1)
    return out.reshape(x.shape), (xhat, inv_std, g, x.shape)


def groupnorm_backward(dout, cache):
    r"""Gradients of :func:`groupnorm_forward`: returns (dx, dgamma, dbeta), dgamma, dbeta (C,).

    gamma acts per channel, the statistics per group: dgamma, dbeta sum over N and
    space in the (N, C, H*W) view, dx goes through :func:`normalize_backward` in the
    (N, G, C/G * H*W) view.
    """
    xhat, inv_std, g, shape = cache
    n, c = shape[0], shape[1]
    d = _f64(dout).reshape(n, c, -1)
    xhat_c = xhat.reshape(n, c, -1)
    dbeta = d.sum(axis=(0, 2))
    dgamma = _sum(d, (0, 2), xhat_c).reshape(-1)
    dx = normalize_backward((d * g).reshape(xhat.shape), xhat, inv_std, (2,))
    return dx.reshape(shape), dgamma, dbeta


# ---------------------------------------------------------------- weight normalization, weight standardization
def weight_norm(v, g):
    r"""Weight normalization $w = g\, v / \lVert v\rVert$, one norm and one g per output unit.

    The norm is over every axis but 0.  v: (C_out, ...); g: (C_out,).
    torch: ``nn.utils.parametrizations.weight_norm(layer, dim=0)`` (which stores g as (C_out, 1, ...)).
    """
    v = _f64(v)
    axes = tuple(range(1, v.ndim))
    norm = np.sqrt(np.sum(v * v, axis=axes, keepdims=True))
    return v * (_f64(g).reshape(norm.shape) / norm)


def weight_norm_backward(dw, v, g):
    r"""Gradients of :func:`weight_norm` given dw = dL/dw.

    $\partial L/\partial g = \langle \text{dw}, u\rangle$ and
    $\partial L/\partial v = \frac{g}{\lVert v\rVert}\big(\text{dw} - \frac{\partial L}{\partial g}\, u\big)$
    with $u = v/\lVert v\rVert$: the part of dw along v is removed, since the length of v does not matter.
    Returns (dv, dg) shaped like v and g.
    """
    v, dw = _f64(v), _f64(dw)
    axes = tuple(range(1, v.ndim))
    norm = np.sqrt(np.sum(v * v, axis=axes, keepdims=True))
    gb = _f64(g).reshape(norm.shape)
    dg = np.sum(dw * v, axis=axes, keepdims=True) / norm
    dv = (gb / norm) * (dw - dg * v / norm)
    return dv, dg.reshape(np.shape(g))


def weight_standardize(w, eps=1e-5):
    r"""Weight standardization: $\hat w = (w - \mu)/\sqrt{\sigma^2 + \epsilon}$ per output channel.

    Mean and biased variance over every axis but 0 (for a conv weight: C_in, kh, kw).
    w: (C_out, ...).  torch: no built-in; equals ``F.layer_norm(w, w.shape[1:], eps=eps)``.
    """
    w = _f64(w)
    what, _, _, _ = normalize(w, tuple(range(1, w.ndim)), eps)
    return what


# ---------------------------------------------------------------- local response normalization
def local_response_norm(x, size, alpha=1e-4, beta=0.75, k=1.0):
    r"""Local response normalization across channels (AlexNet):

    $b_c = a_c \,/\, \big(k + \frac{\alpha}{n} \sum_{c'} a_{c'}^2\big)^{\beta}$, the sum over the
    n = ``size`` channels $c - \lfloor n/2\rfloor \le c' \le c + \lfloor (n-1)/2\rfloor$ that exist.
    torch divides alpha by n; AlexNet's formula does not (its alpha = torch's alpha / n).
    x: (N, C, ...).  torch: ``F.local_response_norm(x, size, alpha, beta, k)``.
    """
    x = _f64(x)
    if x.ndim < 2:
        raise ValueError(f"local_response_norm expects x of shape (N, C, ...), got {x.shape}")
    c = x.shape[1]
    sq = x * x
    pad = [(0, 0)] * x.ndim
    pad[1] = (size // 2, (size - 1) // 2)  # zero channels before and after, as torch pads
    sq = np.pad(sq, pad)
    window = sum(sq[:, j:j + c] for j in range(size))  # window[:, c] = sum of size neighbours
    return x / (k + (alpha / size) * window) ** beta


# ---------------------------------------------------------------- a small MLP for the experiments
def relu(x):
    r"""$\max(0, x)$ elementwise."""
    return np.maximum(x, 0.0)


def softmax_cross_entropy(logits, y):
    r"""Mean cross-entropy of integer labels y under softmax(logits), and its gradient.

    logits: (N, K); y: (N,) ints.  Returns (loss, dlogits) with
    dlogits = (softmax(logits) - onehot(y)) / N.  torch: ``F.cross_entropy``.
    """
    z = _f64(logits)
    z = z - z.max(axis=1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    n = z.shape[0]
    loss = -logp[np.arange(n), y].mean()
    d = np.exp(logp)
    d[np.arange(n), y] -= 1.0
    return float(loss), d / n


def init_mlp(sizes, rng, *, bn):
    r"""Parameters of an MLP sizes[0] -> ... -> sizes[-1] (ReLU between layers).

    Weights He-normal, std sqrt(2 / fan_in), layout (fan_out, fan_in); biases 0.
    With bn=True every hidden layer is dense -> BN -> ReLU and has no bias (BN's beta
    replaces it); gamma = 1, beta = 0, running mean 0, running variance 1.
    Returns (params, state): params has lists "W", "b", "gamma", "beta" (None where
    unused); state has lists "running_mean", "running_var".
    """
    n_layers = len(sizes) - 1
    params = {"W": [], "b": [], "gamma": [], "beta": []}
    state = {"running_mean": [], "running_var": []}
    for l in range(n_layers):
        fan_in, fan_out = sizes[l], sizes[l + 1]
        params["W"].append(rng.normal(scale=np.sqrt(2.0 / fan_in), size=(fan_out, fan_in)))
        hidden_bn = bn and l < n_layers - 1
        params["b"].append(None if hidden_bn else np.zeros(fan_out))
        params["gamma"].append(np.ones(fan_out) if hidden_bn else None)
        params["beta"].append(np.zeros(fan_out) if hidden_bn else None)
        state["running_mean"].append(np.zeros(fan_out) if hidden_bn else None)
        state["running_var"].append(np.ones(fan_out) if hidden_bn else None)
    return params, state


def _dropout(h, p, rng):
    """Inverted dropout: zero with probability p, scale survivors by 1/(1-p)."""
    mask = (rng.random(h.shape) >= p) / (1.0 - p)
    return h * mask, mask


def mlp_forward(params, state, x, *, train, dropout=0.0, dropout_where="last", rng=None,
                bn_forward=batchnorm_forward, momentum=0.1):
    r"""Forward pass of the MLP of :func:`init_mlp`.

    Hidden layer: a = h W^T (+ b), [BN], ReLU, [dropout].  Dropout (inverted, rate
    ``dropout``, training only) follows every hidden layer (dropout_where="every": it
    then feeds the next BN) or only the last one, right before the classifier ("last").
    Returns (logits, cache, new_state, bn_inputs) with bn_inputs the list of arrays
    that entered each BN layer (empty without BN).
    """
    n_layers = len(params["W"])
    h = _f64(x)
    cache, bn_inputs = [], []
    new_state = {"running_mean": list(state["running_mean"]), "running_var": list(state["running_var"])}
    for l in range(n_layers):
        W, b = params["W"][l], params["b"][l]
        a = h @ W.T
        if b is not None:
            a = a + b
        layer = {"h": h}
        if l == n_layers - 1:
            cache.append(layer)
            return a, cache, new_state, bn_inputs
        if params["gamma"][l] is not None:
            bn_inputs.append(a)
            a, layer["bn"], rm, rv = bn_forward(a, params["gamma"][l], params["beta"][l],
                                                state["running_mean"][l], state["running_var"][l],
                                                train=train, momentum=momentum)
            new_state["running_mean"][l], new_state["running_var"][l] = rm, rv
        layer["a"] = a
        h = relu(a)
        if train and dropout > 0 and (dropout_where == "every" or l == n_layers - 2):
            h, layer["mask"] = _dropout(h, dropout, rng)
        cache.append(layer)


def mlp_backward(dlogits, params, cache, *, bn_backward=batchnorm_backward):
    r"""Gradients of the MLP, given dL/dlogits; returns a dict of lists shaped like params."""
    n_layers = len(params["W"])
    grads = {k: [None] * n_layers for k in params}
    d = _f64(dlogits)
    for l in reversed(range(n_layers)):
        layer = cache[l]
        if l < n_layers - 1:  # back through dropout, ReLU and BN of hidden layer l
            if "mask" in layer:
                d = d * layer["mask"]
            d = d * (layer["a"] > 0)
            if "bn" in layer:
                d, grads["gamma"][l], grads["beta"][l] = bn_backward(d, layer["bn"])
        grads["W"][l] = d.T @ layer["h"]
        if params["b"][l] is not None:
            grads["b"][l] = d.sum(axis=0)
        d = d @ params["W"][l]
    return grads


def train_mlp(x, y, *, hidden, lr, steps, batch_size=64, bn=False, seed=0, dropout=0.0,
              dropout_where="last", bn_forward=batchnorm_forward, bn_backward=batchnorm_backward,
              diverge_at=1e3):
    r"""Train the MLP by plain minibatch SGD on (x, y); the experiments' workhorse.

    hidden: widths of the hidden layers; the output size is max(y) + 1.  Stops early
    when the minibatch loss exceeds ``diverge_at`` or is not finite (diverged).
    Returns a dict: params, state, losses (one per step), diverged (bool).
    """
    rng = np.random.default_rng(seed)
    x = _f64(x)
    sizes = [x.shape[1], *hidden, int(np.max(y)) + 1]
    params, state = init_mlp(sizes, rng, bn=bn)
    losses, diverged = [], False
    n = x.shape[0]
    order = rng.permutation(n)
    pos = 0
    with np.errstate(all="ignore"):
        for _ in range(steps):
            if pos + batch_size > n:
                order, pos = rng.permutation(n), 0
            idx = order[pos:pos + batch_size]
            pos += batch_size
            logits, cache, state, _ = mlp_forward(params, state, x[idx], train=True, dropout=dropout,
                                                  dropout_where=dropout_where, rng=rng, bn_forward=bn_forward)
            loss, dlogits = softmax_cross_entropy(logits, y[idx])
            losses.append(loss)
            if not np.isfinite(loss) or loss > diverge_at:
                diverged = True
                break
            grads = mlp_backward(dlogits, params, cache, bn_backward=bn_backward)
            for k in params:
                params[k] = [p if p is None else p - lr * g for p, g in zip(params[k], grads[k])]
    return {"params": params, "state": state, "losses": np.array(losses), "diverged": diverged}


def mlp_accuracy(params, state, x, y):
    """Fraction of x classified as y by the MLP in eval mode (running BN statistics, no dropout)."""
    logits, _, _, _ = mlp_forward(params, state, x, train=False)
    return float(np.mean(np.argmax(logits, axis=1) == y))
