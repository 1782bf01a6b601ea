"""Chapter 7 -- regularization (reference, numpy, float64).

Weight penalties (L1, L2, elastic net), inverted dropout, label-smoothed
cross-entropy, knowledge distillation, early stopping and three image
augmentations.  Every function is pure: randomness comes only from the numpy
``Generator`` passed in, and no input is modified.  Class scores are
``(N, K)`` logits and labels are integers in ``[0, K)``, as in torch.
"""
import numpy as np


# ---------------------------------------------------------------- weight penalties
def l1_penalty(weights, lam):
    r"""L1 penalty $\lambda \sum_i \lVert w_i \rVert_1$ and its gradient $\lambda\,\mathrm{sign}(w_i)$.

    At $w = 0$ the gradient is 0, as torch's (``abs``'s subgradient there).
    weights: list of arrays.  Returns (value, grads), grads shaped like ``weights``.
    torch: ``lam * sum(w.abs().sum() for w in weights)`` and autograd.
    """
    ws = [np.asarray(w, dtype=np.float64) for w in weights]
    value = lam * sum(float(np.sum(np.abs(w))) for w in ws)
    return value, [lam * np.sign(w) for w in ws]


def l2_penalty(weights, lam):
    r"""L2 penalty $\frac{\lambda}{2} \sum_i \lVert w_i \rVert_2^2$ and its gradient $\lambda w_i$.

    The 1/2 makes the gradient $\lambda w$, which is why SGD with this penalty
    is weight decay $w \leftarrow (1 - \eta\lambda) w - \eta g$.
    weights: list of arrays.  Returns (value, grads), grads shaped like ``weights``.
    torch: ``0.5 * lam * sum((w ** 2).sum() for w in weights)`` and autograd.
    """
    ws = [np.asarray(w, dtype=np.float64) for w in weights]
    value = 0.5 * lam * sum(float(np.sum(w * w)) for w in ws)
    return value, [lam * w for w in ws]


def elastic_net_penalty(weights, lam1, lam2):
    r"""Elastic net: $\lambda_1 \sum \lVert w \rVert_1 + \frac{\lambda_2}{2} \sum \lVert w \rVert_2^2$.

    The sum of :func:`l1_penalty` with ``lam1`` and :func:`l2_penalty` with ``lam2``.
    Returns (value, grads).
    """
    v1, g1 = l1_penalty(weights, lam1)
    v2, g2 = l2_penalty(weights, lam2)
    return v1 + v2, [a + b for a, b in zip(g1, g2)]


# ---------------------------------------------------------------- dropout
def dropout_forward(x, p, rng, train=True):
    r"""Inverted dropout: zero each entry with probability ``p``, scale the rest by $1/(1-p)$.

    mask = (u >= p) / (1 - p) with u ~ U[0, 1) drawn from ``rng``, one per entry;
    out = x * mask, so E[out] = x and nothing changes at test time.
    ``p`` is the *drop* probability (torch's convention).  When ``train`` is
    false or p = 0, out = x and mask is all ones (no number is drawn); p = 1
    zeroes everything, as torch does.
    x: any shape.  Returns (out, mask), both shaped like x.
    torch: ``F.dropout(x, p, training=train)`` (its own random stream).
    """
    x = np.asarray(x, dtype=np.float64)
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability must be in [0, 1], got {p}")
    if not train or p == 0.0:
        return x.copy(), np.ones_like(x)
    if p == 1.0:
        return np.zeros_like(x), np.zeros_like(x)
    keep = rng.random(x.shape) >= p
    mask = keep / (1.0 - p)
    return x * mask, mask


def dropout_backward(dout, mask):
    r"""$\partial L/\partial x = \partial L/\partial \mathrm{out} \odot \mathrm{mask}$ (the mask holds the scale).

    dout, mask: same shape.  Returns dx.
    """
    return np.asarray(dout, dtype=np.float64) * np.asarray(mask, dtype=np.float64)


# ---------------------------------------------------------------- softmax, cross-entropy, smoothing
def log_softmax(logits):
    r"""$\log \mathrm{softmax}(z)_k = z_k - m - \log \sum_j e^{z_j - m}$ with $m = \max_j z_j$, over the last axis.

    Subtracting the row maximum keeps every exponent <= 0: no overflow.
    torch: ``F.log_softmax(z, dim=-1)``.
    """
    z = np.asarray(logits, dtype=np.float64)
    shifted = z - np.max(z, axis=-1, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=-1, keepdims=True))


def softmax(logits):
    r"""$\mathrm{softmax}(z)_k = e^{z_k - m} / \sum_j e^{z_j - m}$, $m = \max_j z_j$, over the last axis.

    logits: (..., K).  Stable for logits of any size.  torch: ``torch.softmax(z, dim=-1)``.
    """
    z = np.asarray(logits, dtype=np.float64)
    e = np.exp(z - np.max(z, axis=-1, keepdims=True))
    return e / np.sum(e, axis=-1, keepdims=True)


def smooth_labels(y, num_classes, eps):
    r"""Smoothed one-hot targets $q = (1-\varepsilon)\,\mathrm{onehot}(y) + \varepsilon/K$.

    torch's convention: the ε mass is spread over *all* K classes, the true
    one included, so the true class gets $1 - \varepsilon + \varepsilon/K$.
    y: (N,) integers in [0, K).  Returns (N, K); each row sums to 1.
    """
    y = np.asarray(y).astype(np.int64)
    q = np.full((y.shape[0], num_classes), eps / num_classes)
    q[np.arange(y.shape[0]), y] += 1.0 - eps
    return q


def cross_entropy(logits, y, label_smoothing=0.0):
    r"""Mean cross-entropy $-\frac1N \sum_n \sum_k q_{nk} \log \mathrm{softmax}(z_n)_k$ with q = smooth_labels(y, K, ε).

    Gradient: $\partial L/\partial z = (\mathrm{softmax}(z) - q) / N$.
    logits: (N, K); y: (N,) integers.  Returns (loss, dlogits).
    torch: ``F.cross_entropy(z, y, label_smoothing=eps)``.
    """
    z = np.asarray(logits, dtype=np.float64)
    n, k = z.shape
    q = smooth_labels(y, k, label_smoothing)
    logp = log_softmax(z)
    loss = -float(np.sum(q * logp)) / n
    return loss, (np.exp(logp) - q) / n


def distillation_loss(student_logits, teacher_logits, y, T=4.0, alpha=0.9):
    r"""Knowledge distillation loss of Hinton et al. (2015).

    $L = \alpha T^2\, \frac1N \sum_n \mathrm{KL}(p^T_n \,\Vert\, s^T_n) + (1-\alpha)\,\mathrm{CE}(z, y)$,
    $p^T = \mathrm{softmax}(t/T)$ (teacher), $s^T = \mathrm{softmax}(z/T)$ (student).
    The T² keeps the soft term's gradient, $\alpha T (s^T - p^T)/N$, on the scale of the hard one.
    student_logits z, teacher_logits t: (N, K); y: (N,).  Returns (loss, dstudent).
    torch: ``alpha * T**2 * F.kl_div(F.log_softmax(z / T, -1), F.log_softmax(t / T, -1),
    reduction="batchmean", log_target=True) + (1 - alpha) * F.cross_entropy(z, y)``.
    """
    z = np.asarray(student_logits, dtype=np.float64)
    t = np.asarray(teacher_logits, dtype=np.float64)
    n = z.shape[0]
    log_s = log_softmax(z / T)
    log_p = log_softmax(t / T)
    p = np.exp(log_p)
    kl = float(np.sum(p * (log_p - log_s))) / n
    ce, dce = cross_entropy(z, y)
    loss = alpha * T * T * kl + (1.0 - alpha) * ce
    dz = alpha * T * (np.exp(log_s) - p) / n + (1.0 - alpha) * dce
    return loss, dz


# ---------------------------------------------------------------- early stopping
def early_stopping(val_losses, patience, min_delta=0.0):
    r"""When patience-based early stopping halts, and which epoch it keeps.

    Epochs are 0-based.  Epoch e improves when loss[e] < best - min_delta
    (strictly; best starts at +inf, so epoch 0 improves); an improvement
    sets best = loss[e] and resets a counter, any other epoch adds 1 to it.
    Training stops at the first epoch where the counter reaches ``patience``.
    Returns (stop_epoch, best_epoch): stop_epoch is None if that never
    happens; best_epoch is the last improving epoch up to the stop.
    Keras ``EarlyStopping`` and Lightning ``EarlyStopping`` (mode "min") count the same way.
    """
    best = np.inf
    best_epoch = None
    wait = 0
    for epoch, loss in enumerate(val_losses):
        loss = float(loss)
        if loss < best - min_delta:
            best, best_epoch, wait = loss, epoch, 0
        else:
            wait += 1
            if wait >= patience:
                return epoch, best_epoch
    return None, best_epoch


# ---------------------------------------------------------------- data augmentation
def random_shift(x, max_shift, rng):
    r"""Translate each image by its own integer (dy, dx) in [-max_shift, max_shift]², filling with zeros.

    shifts = rng.integers(-max_shift, max_shift + 1, size=(N, 2)) (dy, dx per image);
    out[n, ..., i, j] = x[n, ..., i - dy, j - dx] where that pixel exists, else 0.
    x: (N, H, W) or (N, C, H, W); all channels of an image move together.  Returns an array shaped like x.
    """
    x = np.asarray(x, dtype=np.float64)
    h, w = x.shape[-2:]
    shifts = rng.integers(-max_shift, max_shift + 1, size=(x.shape[0], 2))
    out = np.zeros_like(x)
    for n, (dy, dx) in enumerate(shifts):
        # destination rows/cols [max(dy,0), h+min(dy,0)) come from source rows/cols shifted back by (dy, dx)
        out[n, ..., max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)] = \
            x[n, ..., max(-dy, 0):h + min(-dy, 0), max(-dx, 0):w + min(-dx, 0)]
    return out


def random_flip(x, rng, p=0.5):
    r"""Mirror each image left-right with probability ``p``.

    flip = rng.random(N) < p, one draw per image; a flipped image is x[n, ..., ::-1].
    x: (N, H, W) or (N, C, H, W).  Returns an array shaped like x.
    torch: ``torchvision.transforms.RandomHorizontalFlip(p)`` per image.
    """
    x = np.asarray(x, dtype=np.float64)
    flip = rng.random(x.shape[0]) < p
    out = x.copy()
    out[flip] = x[flip][..., ::-1]
    return out


def add_gaussian_noise(x, std, rng):
    r"""$x + \sigma \epsilon$ with $\epsilon \sim \mathcal N(0, 1)$ drawn from ``rng``, one per entry.

    x: any shape.  Returns an array shaped like x (values are not clipped).
    """
    x = np.asarray(x, dtype=np.float64)
    return x + std * rng.standard_normal(x.shape)
