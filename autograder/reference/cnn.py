"""Chapter 8 -- convolutional networks and AlexNet (reference, numpy, float64).

Convolution and pooling as pure functions with explicit caches, the im2col
trick that turns a convolution into one matrix product, AlexNet's layer
arithmetic, a tiny numpy conv net for gradient checks, and a torch
``MiniAlexNet`` with its training function.

Layouts are torch's: images (N, C, H, W), conv weights (C_out, C_in, kh, kw),
dense weights (fan_out, fan_in) with ``x @ W.T``.  "Convolution" means
cross-correlation (the kernel is not flipped), as every framework computes it.
"""
import sys

import numpy as np
import torch
from torch import nn
import torch.nn.functional as F


# ---------------------------------------------------------------- sizes
def conv_output_size(n, k, stride=1, pad=0):
    r"""Output length of a convolution or pooling window along one axis.

    $\lfloor (n + 2p - k) / s \rfloor + 1$: the number of positions a window of
    size k can take on n + 2p cells, moving s cells at a time.
    n, k, stride, pad: non-negative ints.  torch: the shape ``F.conv2d`` returns.
    """
    if n + 2 * pad < k:
        raise ValueError(f"window {k} does not fit in {n} cells with padding {pad}")
    return (n + 2 * pad - k) // stride + 1


# ---------------------------------------------------------------- the definition
def conv2d_naive(x, w, b, stride=1, pad=0):
    r"""Convolution (cross-correlation) by its definition, with loops.

    $\mathrm{out}[n, f, y, x'] = b_f + \sum_{c,i,j} w[f, c, i, j]\,
    x_p[n, c, s y + i, s x' + j]$, $x_p$ = x zero-padded by p on all four sides.
    x: (N, C, H, W); w: (F, C, kh, kw); b: (F,).  Returns (N, F, OH, OW).
    Slow; it is the specification the fast versions are tested against.
    """
    x = np.asarray(x, dtype=np.float64)
    w = np.asarray(w, dtype=np.float64)
    N, C, H, W = x.shape
    Fo, _, kh, kw = w.shape
    OH, OW = conv_output_size(H, kh, stride, pad), conv_output_size(W, kw, stride, pad)
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    out = np.empty((N, Fo, OH, OW))
    for n in range(N):
        for f in range(Fo):
            for y in range(OH):
                for z in range(OW):
                    window = xp[n, :, y * stride:y * stride + kh, z * stride:z * stride + kw]
                    out[n, f, y, z] = np.sum(window * w[f]) + b[f]
    return out


# ---------------------------------------------------------------- im2col / col2im
def im2col(x, kh, kw, stride=1, pad=0):
    r"""Unroll every kh x kw window of x into one row of a matrix.

    cols[(n, y, z), (c, i, j)] = x_p[n, c, s y + i, s z + j]; rows ordered
    (n, oh, ow), columns (c, i, j), so that ``cols @ w.reshape(F, -1).T`` is the
    convolution.  x: (N, C, H, W).  Returns (N*OH*OW, C*kh*kw).
    torch: ``F.unfold(x, (kh, kw), padding=pad, stride=stride)`` gives the
    transpose per image, (N, C*kh*kw, OH*OW).
    """
    x = np.asarray(x, dtype=np.float64)
    N, C, H, W = x.shape
    OH, OW = conv_output_size(H, kh, stride, pad), conv_output_size(W, kw, stride, pad)
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    cols = np.empty((N, OH, OW, C, kh, kw))
    for i in range(kh):  # one strided slice per kernel offset: kh*kw copies, not OH*OW
        for j in range(kw):
            patch = xp[:, :, i:i + stride * OH:stride, j:j + stride * OW:stride]  # (N, C, OH, OW)
            cols[:, :, :, :, i, j] = patch.transpose(0, 2, 3, 1)
    return cols.reshape(N * OH * OW, C * kh * kw)


def col2im(cols, x_shape, kh, kw, stride=1, pad=0):
    r"""The adjoint of :func:`im2col`: scatter every row back onto its window, summing overlaps.

    $\langle \mathrm{im2col}(x), c \rangle = \langle x, \mathrm{col2im}(c) \rangle$ for all x, c.
    It is not the inverse: a pixel covered by m windows comes back m times.
    cols: (N*OH*OW, C*kh*kw); x_shape: (N, C, H, W).  Returns an array of x_shape.
    torch: ``F.fold(cols_t, (H, W), (kh, kw), padding=pad, stride=stride)``.
    """
    N, C, H, W = x_shape
    OH, OW = conv_output_size(H, kh, stride, pad), conv_output_size(W, kw, stride, pad)
    c6 = np.asarray(cols, dtype=np.float64).reshape(N, OH, OW, C, kh, kw)
    xp = np.zeros((N, C, H + 2 * pad, W + 2 * pad))
    for i in range(kh):
        for j in range(kw):
            xp[:, :, i:i + stride * OH:stride, j:j + stride * OW:stride] += c6[:, :, :, :, i, j].transpose(0, 3, 1, 2)
    return xp[:, :, pad:pad + H, pad:pad + W]


# ---------------------------------------------------------------- convolution
def conv2d_forward(x, w, b, stride=1, pad=0):
    r"""Convolution layer by im2col: out = cols @ W_mat.T + b, reshaped to (N, F, OH, OW).

    x: (N, C, H, W); w: (F, C, kh, kw); b: (F,).
    torch: ``F.conv2d(x, w, b, stride=stride, padding=pad)``.
    Returns (out, cache) for :func:`conv2d_backward`.
    """
    x = np.asarray(x, dtype=np.float64)
    w = np.asarray(w, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    N, C, H, W = x.shape
    Fo, _, kh, kw = w.shape
    OH, OW = conv_output_size(H, kh, stride, pad), conv_output_size(W, kw, stride, pad)
    cols = im2col(x, kh, kw, stride, pad)                  # (N*OH*OW, C*kh*kw)
    out = cols @ w.reshape(Fo, -1).T + b                   # (N*OH*OW, F)
    out = out.reshape(N, OH, OW, Fo).transpose(0, 3, 1, 2)
    return np.ascontiguousarray(out), (x.shape, cols, w, stride, pad)


def conv2d_backward(dout, cache):
    r"""Gradients of the convolution layer given dL/dout.

    With D = dout as an (N*OH*OW, F) matrix:  dW_mat = D.T @ cols,  db = sum of D over rows
    (batch and both spatial axes),  dx = col2im(D @ W_mat).
    dout: (N, F, OH, OW).  Returns (dx, dw, db) shaped like x, w, b.
    """
    x_shape, cols, w, stride, pad = cache
    Fo, C, kh, kw = w.shape
    d = np.asarray(dout, dtype=np.float64).transpose(0, 2, 3, 1).reshape(-1, Fo)  # rows (n, oh, ow)
    dw = (d.T @ cols).reshape(w.shape)
    db = d.sum(axis=0)
    dx = col2im(d @ w.reshape(Fo, -1), x_shape, kh, kw, stride, pad)
    return dx, dw, db


# ---------------------------------------------------------------- pooling
def _windows(x, size, stride):
    """(N, C, OH, OW, size*size): every pooling window, flattened (i, j) -- via im2col, no padding."""
    N, C, H, W = x.shape
    OH, OW = conv_output_size(H, size, stride), conv_output_size(W, size, stride)
    cols = im2col(x, size, size, stride)                   # (N*OH*OW, C*size*size)
    return cols.reshape(N, OH, OW, C, size * size).transpose(0, 3, 1, 2, 4)


def _unwindows(d, x_shape, size, stride):
    """Adjoint of :func:`_windows`: (N, C, OH, OW, size*size) back to x_shape, summing overlaps."""
    N, C, OH, OW, _ = d.shape
    cols = d.transpose(0, 2, 3, 1, 4).reshape(N * OH * OW, -1)
    return col2im(cols, x_shape, size, size, stride)


def maxpool_forward(x, size, stride=None):
    r"""Max pooling: the largest value of every size x size window (no padding, floor mode).

    x: (N, C, H, W).  stride defaults to size.  torch: ``F.max_pool2d(x, size, stride)``.
    Returns (out, cache) for :func:`maxpool_backward`.
    """
    stride = size if stride is None else stride
    x = np.asarray(x, dtype=np.float64)
    win = _windows(x, size, stride)
    arg = np.argmax(win, axis=-1)  # first maximum in row-major window order, as torch
    out = np.take_along_axis(win, arg[..., None], axis=-1)[..., 0]
    return out, (x.shape, arg, size, stride)


def maxpool_backward(dout, cache):
    r"""Route each dL/dout to the position that was the maximum of its window.

    Overlapping windows (stride < size) may share that position: the contributions add.
    dout: (N, C, OH, OW).  Returns dx shaped like x.
    """
    x_shape, arg, size, stride = cache
    d = np.zeros(arg.shape + (size * size,))
    np.put_along_axis(d, arg[..., None], np.asarray(dout, dtype=np.float64)[..., None], axis=-1)
    return _unwindows(d, x_shape, size, stride)


def avgpool_forward(x, size, stride=None):
    r"""Average pooling: the mean of every size x size window (no padding, floor mode).

    x: (N, C, H, W).  stride defaults to size.  torch: ``F.avg_pool2d(x, size, stride)``.
    Returns (out, cache) for :func:`avgpool_backward`.
    """
    stride = size if stride is None else stride
    x = np.asarray(x, dtype=np.float64)
    return _windows(x, size, stride).mean(axis=-1), (x.shape, size, stride)


def avgpool_backward(dout, cache):
    r"""Every input of a window receives dL/dout / (size*size); overlaps add.

    dout: (N, C, OH, OW).  Returns dx shaped like x.
    """
    x_shape, size, stride = cache
    d = np.asarray(dout, dtype=np.float64)[..., None] / (size * size)
    d = np.broadcast_to(d, d.shape[:-1] + (size * size,))
    return _unwindows(d, x_shape, size, stride)


# ---------------------------------------------------------------- local response normalization
def lrn_forward(x, size, alpha=1e-4, beta=0.75, k=1.0):
    r"""Local response normalization across channels (Krizhevsky et al. 2012, torch's convention).

    $b_c = a_c / (k + \frac{\alpha}{n}\sum_{c'} a_{c'}^2)^\beta$, the sum over the n = size channels
    c - n//2 .. c + (n-1)//2 that exist.  torch divides alpha by n; the paper does not, so the
    paper's (k=2, n=5, alpha=1e-4, beta=0.75) is torch's (k=2, size=5, alpha=5e-4, beta=0.75).
    x: (N, C, H, W).  torch: ``F.local_response_norm(x, size, alpha, beta, k)``.
    """
    x = np.asarray(x, dtype=np.float64)
    C = x.shape[1]
    sq = np.pad(x * x, ((0, 0), (size // 2, (size - 1) // 2), (0, 0), (0, 0)))
    window_sum = sum(sq[:, i:i + C] for i in range(size))
    return x / (k + alpha / size * window_sum) ** beta


# ---------------------------------------------------------------- AlexNet arithmetic
# (name, kind, out_channels or units, kernel, stride, pad, groups in the two-GPU network)
ALEXNET = [
    ("conv1", "conv", 96, 11, 4, 0, 1),
    ("norm1", "lrn", None, None, None, None, None),
    ("pool1", "maxpool", None, 3, 2, 0, None),
    ("conv2", "conv", 256, 5, 1, 2, 2),
    ("norm2", "lrn", None, None, None, None, None),
    ("pool2", "maxpool", None, 3, 2, 0, None),
    ("conv3", "conv", 384, 3, 1, 1, 1),
    ("conv4", "conv", 384, 3, 1, 1, 2),
    ("conv5", "conv", 256, 3, 1, 1, 2),
    ("pool5", "maxpool", None, 3, 2, 0, None),
    ("fc6", "dense", 4096, None, None, None, None),
    ("fc7", "dense", 4096, None, None, None, None),
    ("fc8", "dense", 1000, None, None, None, None),
]


def alexnet_layers(input_shape=(3, 227, 227), grouped=False):
    r"""Output shape and parameter count of every AlexNet layer (Krizhevsky et al. 2012).

    A conv layer has F * (C / g) * k * k weights + F biases, with g = 2 for conv2, conv4 and
    conv5 when ``grouped`` (the two-GPU split) and g = 1 otherwise; a dense layer out * in + out.
    ReLU, LRN, pooling and dropout have no parameters.  input_shape: (C, H, W).
    Returns a list of (name, output_shape, n_params); output_shape is (C, H, W) or (units,).
    Totals for (3, 227, 227): 62,378,344 plain, 60,965,224 grouped.
    """
    shape = tuple(input_shape)
    rows = []
    for name, kind, units, k, s, p, groups in ALEXNET:
        if kind == "conv":
            C, H, W = shape
            g = groups if grouped else 1
            shape = (units, conv_output_size(H, k, s, p), conv_output_size(W, k, s, p))
            n = units * (C // g) * k * k + units
        elif kind == "maxpool":
            C, H, W = shape
            shape = (C, conv_output_size(H, k, s, p), conv_output_size(W, k, s, p))
            n = 0
        elif kind == "lrn":
            n = 0
        else:  # dense: flattens whatever comes in
            fan_in = int(np.prod(shape))
            shape = (units,)
            n = units * fan_in + units
        rows.append((name, shape, n))
    return rows


# ---------------------------------------------------------------- a tiny numpy conv net
def init_convnet(rng, in_shape=(1, 8, 8), n_filters=8, n_classes=10, kernel=3):
    r"""Parameters of conv(kernel x kernel, 'same' padding) - ReLU - maxpool 2x2 - dense.

    He-normal conv weights, N(0, 1/fan_in) dense weights, zero biases.
    rng: numpy Generator; in_shape: (C, H, W).  Returns a dict w1 (F, C, k, k), b1 (F,),
    W2 (n_classes, F * H//2 * W//2), b2 (n_classes,).
    """
    C, H, W = in_shape
    fan_conv = C * kernel * kernel
    fan_dense = n_filters * (H // 2) * (W // 2)
    return {
        "w1": rng.normal(scale=np.sqrt(2.0 / fan_conv), size=(n_filters, C, kernel, kernel)),
        "b1": np.zeros(n_filters),
        "W2": rng.normal(scale=np.sqrt(1.0 / fan_dense), size=(n_classes, fan_dense)),
        "b2": np.zeros(n_classes),
    }


def _softmax_cross_entropy(scores, y):
    """Mean cross-entropy of integer labels y under softmax(scores), and its gradient."""
    z = scores - scores.max(axis=1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    n = scores.shape[0]
    loss = -logp[np.arange(n), y].mean()
    d = np.exp(logp)
    d[np.arange(n), y] -= 1.0
    return loss, d / n


def convnet_scores(params, x, conv_forward=conv2d_forward, pool_forward=maxpool_forward):
    """Class scores (N, n_classes) of the net built by :func:`init_convnet`; x: (N, C, H, W)."""
    return _convnet_forward(params, x, conv_forward, pool_forward)[0]


def _convnet_forward(params, x, conv_forward, pool_forward):
    pad = params["w1"].shape[-1] // 2
    a, conv_cache = conv_forward(x, params["w1"], params["b1"], 1, pad)
    a = np.asarray(a, dtype=np.float64)
    h = np.maximum(a, 0.0)
    p, pool_cache = pool_forward(h, 2, 2)
    flat = np.asarray(p, dtype=np.float64).reshape(x.shape[0], -1)
    scores = flat @ params["W2"].T + params["b2"]
    return scores, (a, conv_cache, pool_cache, flat, np.shape(p))


def convnet_loss(params, x, y, conv_forward=conv2d_forward, conv_backward=conv2d_backward,
                 pool_forward=maxpool_forward, pool_backward=maxpool_backward):
    r"""Mean softmax cross-entropy of conv - ReLU - maxpool 2x2 - dense, and its gradients.

    The four layer functions can be swapped for a student's own (same signatures as this module's).
    x: (N, C, H, W); y: (N,) integer labels.  Returns (loss, grads) with grads keyed like params.
    """
    scores, (a, conv_cache, pool_cache, flat, p_shape) = _convnet_forward(params, x, conv_forward, pool_forward)
    loss, dscores = _softmax_cross_entropy(scores, np.asarray(y))
    grads = {"W2": dscores.T @ flat, "b2": dscores.sum(axis=0)}
    dp = (dscores @ params["W2"]).reshape(p_shape)
    dh = np.asarray(pool_backward(dp, pool_cache), dtype=np.float64)
    da = dh * (a > 0)
    _, dw, db = conv_backward(da, conv_cache)
    grads["w1"], grads["b1"] = np.asarray(dw, dtype=np.float64), np.asarray(db, dtype=np.float64)
    return loss, grads


def train_convnet(params, x, y, rng, epochs=3, lr=0.05, momentum=0.9, batch_size=32, **layers):
    r"""Mini-batch SGD with momentum on :func:`convnet_loss`: v = mu v - lr g, theta += v.

    layers: conv_forward, conv_backward, pool_forward, pool_backward to use instead of the
    reference's.  The input params are not modified.  Returns (params, losses per step).
    """
    params = {k: np.array(v, dtype=np.float64) for k, v in params.items()}
    velocity = {k: np.zeros_like(v) for k, v in params.items()}
    losses = []
    n = x.shape[0]
    for _ in range(epochs):
        order = rng.permutation(n)
        for start in range(0, n, batch_size):
            idx = order[start:start + batch_size]
            loss, grads = convnet_loss(params, x[idx], y[idx], **layers)
            for k in params:
                velocity[k] = momentum * velocity[k] - lr * grads[k]
                params[k] = params[k] + velocity[k]
            losses.append(float(loss))
    return params, losses


# ---------------------------------------------------------------- data
def load_digits_images(size=8, test_size=0.25, seed=0, standardize=True):
    r"""scikit-learn's 8x8 digits as (N, 1, size, size) float64 images, split train/test.

    Pixels are scaled to [0, 1]; size > 8 upsamples bilinearly (torch ``F.interpolate``); with
    ``standardize`` both splits are shifted and scaled by the training pixels' mean and std.
    The split is stratified and seeded.  Returns x_train, x_test, y_train, y_test (labels int64).
    """
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x = digits.images.astype(np.float64)[:, None] / 16.0
    if size != 8:
        x = F.interpolate(torch.from_numpy(x), size=(size, size), mode="bilinear", align_corners=False).numpy()
    y = digits.target.astype(np.int64)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=test_size, random_state=seed, stratify=y)
    if standardize:
        mu, sd = x_train.mean(), x_train.std()
        x_train, x_test = (x_train - mu) / sd, (x_test - mu) / sd
    return x_train, x_test, y_train, y_test


# ---------------------------------------------------------------- torch: a mini-AlexNet
class MiniAlexNet(nn.Module):
    """AlexNet's recipe at digit scale: [conv3x3 - ReLU - (LRN) - max-pool 3/2] x 2, conv3x3 - ReLU,
    then dense - ReLU - dropout - dense - ReLU - dropout - dense.

    Input (N, in_channels, image_size, image_size).  Channels width, 2*width, 2*width; ``hidden``
    units in the two dense layers, dropout p on their outputs (as AlexNet's 4096-unit layers).
    Pools are 3x3 with stride 2 (overlapping, as AlexNet).  lrn=True inserts LRN with the paper's
    constants (torch: size 5, alpha 5e-4, beta 0.75, k 2); it is off by default, since it costs
    time and adds little.  Weights: He-normal before each ReLU, Xavier-normal for the scores,
    zero biases, drawn from ``seed`` without touching torch's global generator.
    """

    def __init__(self, in_channels=1, n_classes=10, image_size=16, width=16, hidden=256, dropout=0.5, lrn=False,
                 seed=0):
        super().__init__()
        with torch.random.fork_rng(devices=[]):  # seeded initialization, global RNG left as it was
            torch.manual_seed(seed)
            self._build(in_channels, n_classes, image_size, width, hidden, dropout, lrn)
        self.float()  # float32 whatever torch's default dtype is, to match the float32 training data

    def _build(self, in_channels, n_classes, image_size, width, hidden, dropout, lrn):
        s = conv_output_size(conv_output_size(image_size, 3, 2), 3, 2)  # after pool1 and pool2

        def norm():
            return nn.LocalResponseNorm(5, alpha=5e-4, beta=0.75, k=2.0) if lrn else nn.Identity()

        self.features = nn.Sequential(
            nn.Conv2d(in_channels, width, 3, padding=1), nn.ReLU(), norm(), nn.MaxPool2d(3, 2),
            nn.Conv2d(width, 2 * width, 3, padding=1), nn.ReLU(), norm(), nn.MaxPool2d(3, 2),
            nn.Conv2d(2 * width, 2 * width, 3, padding=1), nn.ReLU(),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(2 * width * s * s, hidden), nn.ReLU(), nn.Dropout(dropout),
            nn.Linear(hidden, hidden), nn.ReLU(), nn.Dropout(dropout),
            nn.Linear(hidden, n_classes),
        )
        layers = [m for m in self.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
        for m in layers:  # He initialization before each ReLU (Chapter 2), Xavier for the scores
            if m is layers[-1]:
                nn.init.xavier_normal_(m.weight)
            else:
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
            nn.init.zeros_(m.bias)

    def forward(self, x):
        return self.classifier(self.features(x))


def random_shift(x, max_shift, generator):
    """Data augmentation: translate each image by up to max_shift pixels (zero fill), torch tensors."""
    if max_shift == 0:
        return x
    N, _, H, W = x.shape
    padded = F.pad(x, (max_shift,) * 4)
    dy = torch.randint(0, 2 * max_shift + 1, (N,), generator=generator)
    dx = torch.randint(0, 2 * max_shift + 1, (N,), generator=generator)
    rows = (dy[:, None] + torch.arange(H)[None, :])[:, None, :, None]   # (N, 1, H, 1)
    cols = (dx[:, None] + torch.arange(W)[None, :])[:, None, None, :]   # (N, 1, 1, W)
    n = torch.arange(N)[:, None, None, None]
    c = torch.arange(x.shape[1])[None, :, None, None]
    return padded[n, c, rows, cols]


def train_mini_alexnet(model, x_train, y_train, epochs=12, lr=3e-3, batch_size=32, weight_decay=1e-4,
                       max_shift=1, seed=0, progress=False):
    r"""Train ``model`` with Adam (cosine-decayed lr) on softmax cross-entropy, float32.

    Each batch is augmented by shifting every image up to max_shift pixels (AlexNet used random
    crops and flips; flips would turn digits into other shapes).  x_train: (N, C, H, W),
    y_train: (N,), numpy or torch.  Batch order, shifts and dropout masks come from ``seed``;
    torch's global generator is left as it was.  progress=True shows a text tqdm bar on stdout.
    Returns the mean training loss of every epoch (list of floats); the model ends in eval mode.
    """
    gen = torch.Generator().manual_seed(seed)
    x = torch.as_tensor(x_train, dtype=torch.float32)
    y = torch.as_tensor(y_train, dtype=torch.long)
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    steps = epochs * -(-x.shape[0] // batch_size)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps)
    history = []
    bar = range(epochs)
    if progress:
        from tqdm import tqdm  # a text bar: tqdm.auto would embed a widget whose script comes from a CDN
        bar = tqdm(bar, desc="epochs", file=sys.stdout, mininterval=10)  # few lines in a static page
    for _ in bar:
        model.train()
        order = torch.randperm(x.shape[0], generator=gen)
        total = 0.0
        for start in range(0, x.shape[0], batch_size):
            idx = order[start:start + batch_size]
            xb = random_shift(x[idx], max_shift, gen)
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(int(torch.randint(0, 2**31 - 1, (1,), generator=gen)))
                loss = F.cross_entropy(model(xb), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            schedule.step()
            total += loss.item() * len(idx)
        history.append(total / x.shape[0])
        if progress:
            bar.set_postfix(loss=f"{history[-1]:.3f}", refresh=False)
    model.eval()
    return history


@torch.no_grad()
def accuracy(model, x, y):
    """Fraction of correct argmax predictions of ``model`` (in eval mode) on x, y."""
    model.eval()
    pred = model(torch.as_tensor(x, dtype=torch.float32)).argmax(dim=1)
    return float((pred == torch.as_tensor(y)).float().mean())
