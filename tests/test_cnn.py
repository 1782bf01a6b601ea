"""Chapter 8: reference vs torch, and the checks vs known mistakes and correct variants."""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from numpy.lib.stride_tricks import as_strided, sliding_window_view
from torch import nn

from autograder import gradcheck
from autograder.checks import cnn as chk
from autograder.reference import cnn as ref
from checkkit import assert_accepts, assert_rejects, cases

T = torch.tensor  # float64 numpy -> float64 tensor

# (x shape, w shape, stride, pad): square and non-square inputs and kernels, strides 1-3, pads 0-2
CONV_CONFIGS = [
    ((2, 3, 5, 5), (4, 3, 3, 3), 1, 0),
    ((2, 3, 5, 5), (4, 3, 3, 3), 1, 1),
    ((1, 2, 7, 6), (3, 2, 3, 2), 2, 1),
    ((3, 1, 8, 8), (2, 1, 5, 5), 3, 2),
    ((2, 4, 6, 9), (5, 4, 1, 1), 1, 0),
    ((2, 2, 9, 7), (3, 2, 4, 3), 2, 0),
    ((1, 3, 4, 4), (2, 3, 4, 4), 1, 2),
]
# (x shape, size, stride): non-overlapping, overlapping (AlexNet's 3/2), odd sizes with a dropped edge
POOL_CONFIGS = [((2, 3, 6, 6), 2, 2), ((2, 2, 7, 7), 3, 2), ((1, 2, 5, 8), 2, 1), ((3, 1, 6, 9), 3, 3),
                ((2, 2, 5, 5), 2, 2), ((1, 1, 9, 4), 3, 1)]


def _conv_data(rng, xs, ws):
    return rng.normal(size=xs), rng.normal(size=ws), rng.normal(size=ws[0])


# ------------------------------------------------------------ reference vs torch (float64)
@pytest.mark.parametrize("n, k, stride, pad", [(6, 2, 1, 1), (7, 2, 2, 0), (227, 11, 4, 0), (224, 11, 4, 0),
                                               (27, 5, 1, 2), (13, 3, 2, 0), (10, 4, 3, 1), (5, 5, 1, 0)])
def test_conv_output_size_matches_torch(n, k, stride, pad):
    out = F.conv2d(torch.zeros(1, 1, n, n + 3), torch.zeros(1, 1, k, k), stride=stride, padding=pad)
    assert ref.conv_output_size(n, k, stride, pad) == out.shape[2]
    assert ref.conv_output_size(n + 3, k, stride, pad) == out.shape[3]
    assert isinstance(ref.conv_output_size(n, k, stride, pad), int)


def test_conv_output_size_notes_quiz():
    assert ref.conv_output_size(6, 2, 1, 1) == 7  # 6x6 input, 2x2 filter, stride 1, padding 1 -> 7x7


def test_conv_output_size_rejects_a_window_that_does_not_fit():
    with pytest.raises(ValueError):
        ref.conv_output_size(3, 5, 1, 0)


@pytest.mark.parametrize("xs, ws, stride, pad", CONV_CONFIGS)
def test_conv2d_forward_matches_torch(xs, ws, stride, pad, rng):
    x, w, b = _conv_data(rng, xs, ws)
    out, _ = ref.conv2d_forward(x, w, b, stride, pad)
    np.testing.assert_allclose(out, F.conv2d(T(x), T(w), T(b), stride=stride, padding=pad).numpy(),
                               rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("xs, ws, stride, pad", CONV_CONFIGS[:4])
def test_conv2d_naive_matches_torch(xs, ws, stride, pad, rng):
    x, w, b = _conv_data(rng, xs, ws)
    np.testing.assert_allclose(ref.conv2d_naive(x, w, b, stride, pad),
                               F.conv2d(T(x), T(w), T(b), stride=stride, padding=pad).numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("xs, ws, stride, pad", CONV_CONFIGS)
def test_conv2d_backward_matches_autograd(xs, ws, stride, pad, rng):
    x, w, b = _conv_data(rng, xs, ws)
    out, cache = ref.conv2d_forward(x, w, b, stride, pad)
    dout = rng.normal(size=out.shape)
    xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    F.conv2d(xt, wt, bt, stride=stride, padding=pad).backward(T(dout))
    for got, t in zip(ref.conv2d_backward(dout, cache), (xt, wt, bt)):
        np.testing.assert_allclose(got, t.grad.numpy(), rtol=1e-10, atol=1e-11)


@pytest.mark.parametrize("xs, ws, stride, pad", [((1, 2, 5, 4), (2, 2, 3, 2), 2, 1), ((2, 1, 4, 4), (1, 1, 2, 2), 1, 0)])
def test_conv2d_backward_matches_numerical_gradient(xs, ws, stride, pad, rng):
    x, w, b = _conv_data(rng, xs, ws)
    out, cache = ref.conv2d_forward(x, w, b, stride, pad)
    dout = rng.normal(size=out.shape)
    dx, dw, db = ref.conv2d_backward(dout, cache)
    num_dx = gradcheck.numerical_gradient_array(lambda z: ref.conv2d_forward(z, w, b, stride, pad)[0], x.copy(), dout)
    num_dw = gradcheck.numerical_gradient_array(lambda z: ref.conv2d_forward(x, z, b, stride, pad)[0], w.copy(), dout)
    num_db = gradcheck.numerical_gradient_array(lambda z: ref.conv2d_forward(x, w, z, stride, pad)[0], b.copy(), dout)
    assert gradcheck.rel_error(dx, num_dx) < 1e-7
    assert gradcheck.rel_error(dw, num_dw) < 1e-7
    assert gradcheck.rel_error(db, num_db) < 1e-7


@pytest.mark.parametrize("xs, ws, stride, pad", CONV_CONFIGS)
def test_im2col_matches_torch_unfold(xs, ws, stride, pad, rng):
    x = rng.normal(size=xs)
    kh, kw = ws[2:]
    unf = F.unfold(T(x), (kh, kw), padding=pad, stride=stride)  # (N, C*kh*kw, L), L ordered (oh, ow)
    np.testing.assert_array_equal(ref.im2col(x, kh, kw, stride, pad),
                                  unf.transpose(1, 2).reshape(-1, unf.shape[1]).numpy())


@pytest.mark.parametrize("xs, ws, stride, pad", CONV_CONFIGS)
def test_col2im_matches_torch_fold(xs, ws, stride, pad, rng):
    kh, kw = ws[2:]
    rows = ref.im2col(np.zeros(xs), kh, kw, stride, pad).shape
    cols = rng.normal(size=rows)
    N, C, H, W = xs
    c_t = T(cols).reshape(N, -1, rows[1]).transpose(1, 2)  # (N, C*kh*kw, L)
    folded = F.fold(c_t, (H, W), (kh, kw), padding=pad, stride=stride)
    np.testing.assert_allclose(ref.col2im(cols, xs, kh, kw, stride, pad), folded.numpy(), rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("xs, ws, stride, pad", CONV_CONFIGS)
def test_col2im_is_the_adjoint_of_im2col(xs, ws, stride, pad, rng):
    x = rng.normal(size=xs)
    kh, kw = ws[2:]
    cols_x = ref.im2col(x, kh, kw, stride, pad)
    c = rng.normal(size=cols_x.shape)
    lhs = np.sum(cols_x * c)
    rhs = np.sum(x * ref.col2im(c, xs, kh, kw, stride, pad))
    assert lhs == pytest.approx(rhs, rel=1e-12, abs=1e-12)


def test_col2im_is_not_the_inverse(rng):
    """col2im(im2col(x)) counts each pixel once per window covering it -- the notes' 'no consistency'."""
    x = rng.normal(size=(1, 1, 4, 4))
    back = ref.col2im(ref.im2col(x, 3, 3, 1, 0), x.shape, 3, 3, 1, 0)
    counts = ref.col2im(ref.im2col(np.ones_like(x), 3, 3, 1, 0), x.shape, 3, 3, 1, 0)
    np.testing.assert_allclose(back, x * counts, rtol=1e-14)
    assert counts[0, 0, 1, 1] == 4 and counts[0, 0, 0, 0] == 1


@pytest.mark.parametrize("xs, ws, stride, pad", CONV_CONFIGS[:3])
def test_im2col_times_weight_matrix_is_the_convolution(xs, ws, stride, pad, rng):
    x, w, _ = _conv_data(rng, xs, ws)
    prod = ref.im2col(x, *ws[2:], stride, pad) @ w.reshape(ws[0], -1).T  # rows (n, oh, ow), one column per filter
    conv = F.conv2d(T(x), T(w), stride=stride, padding=pad).numpy()
    np.testing.assert_allclose(prod, conv.transpose(0, 2, 3, 1).reshape(-1, ws[0]), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("xs, size, stride", POOL_CONFIGS)
@pytest.mark.parametrize("kind", ["max", "avg"])
def test_pooling_matches_torch(kind, xs, size, stride, rng):
    x = rng.normal(size=xs)
    fwd, bwd, tfn = {"max": (ref.maxpool_forward, ref.maxpool_backward, F.max_pool2d),
                     "avg": (ref.avgpool_forward, ref.avgpool_backward, F.avg_pool2d)}[kind]
    out, cache = fwd(x, size, stride)
    xt = torch.tensor(x, requires_grad=True)
    out_t = tfn(xt, size, stride)
    np.testing.assert_allclose(out, out_t.detach().numpy(), rtol=1e-14, atol=1e-14)
    dout = rng.normal(size=out.shape)
    out_t.backward(T(dout))
    np.testing.assert_allclose(bwd(dout, cache), xt.grad.numpy(), rtol=1e-13, atol=1e-14)


@pytest.mark.parametrize("size, stride", [(2, 2), (3, 2), (2, 1)])
def test_maxpool_ties_follow_torch(size, stride, rng):
    """With ties, torch sends the gradient to the first maximum in row-major order; so does the reference."""
    x = rng.integers(0, 3, size=(2, 3, 7, 7)).astype(float)
    xt = torch.tensor(x, requires_grad=True)
    out_t = F.max_pool2d(xt, size, stride)
    dout = rng.normal(size=out_t.shape)
    out_t.backward(T(dout))
    out, cache = ref.maxpool_forward(x, size, stride)
    np.testing.assert_allclose(ref.maxpool_backward(dout, cache), xt.grad.numpy(), rtol=1e-14, atol=1e-14)


def test_pool_stride_defaults_to_size(rng):
    x = rng.normal(size=(1, 2, 6, 6))
    np.testing.assert_array_equal(ref.maxpool_forward(x, 3)[0], F.max_pool2d(T(x), 3).numpy())
    np.testing.assert_allclose(ref.avgpool_forward(x, 2)[0], F.avg_pool2d(T(x), 2).numpy(), rtol=1e-14)


@pytest.mark.parametrize("kind", ["max", "avg"])
def test_pool_backward_matches_numerical_gradient(kind, rng):
    fwd, bwd = {"max": (ref.maxpool_forward, ref.maxpool_backward),
                "avg": (ref.avgpool_forward, ref.avgpool_backward)}[kind]
    x = rng.normal(size=(1, 2, 5, 5))
    out, cache = fwd(x, 3, 2)
    dout = rng.normal(size=out.shape)
    num = gradcheck.numerical_gradient_array(lambda z: fwd(z, 3, 2)[0], x.copy(), dout)
    assert gradcheck.rel_error(bwd(dout, cache), num) < 1e-7


@pytest.mark.parametrize("size, alpha, beta, k", [(5, 5e-4, 0.75, 2.0), (3, 1e-2, 0.5, 1.0), (4, 0.3, 0.75, 1.0),
                                                  (1, 1.0, 1.0, 0.5)])
def test_lrn_matches_torch(size, alpha, beta, k, rng):
    x = rng.normal(scale=3, size=(2, 7, 3, 4))
    np.testing.assert_allclose(ref.lrn_forward(x, size, alpha, beta, k),
                               F.local_response_norm(T(x), size, alpha, beta, k).numpy(), rtol=1e-12, atol=1e-14)


def _torch_alexnet(input_shape, grouped):
    """AlexNet as torch layers on the meta device (shapes and counts without memory)."""
    g = 2 if grouped else 1
    C = input_shape[0]
    feats = nn.Sequential(
        nn.Conv2d(C, 96, 11, stride=4), nn.ReLU(), nn.LocalResponseNorm(5, 5e-4, 0.75, 2.0), nn.MaxPool2d(3, 2),
        nn.Conv2d(96, 256, 5, padding=2, groups=g), nn.ReLU(), nn.LocalResponseNorm(5, 5e-4, 0.75, 2.0),
        nn.MaxPool2d(3, 2),
        nn.Conv2d(256, 384, 3, padding=1), nn.ReLU(),
        nn.Conv2d(384, 384, 3, padding=1, groups=g), nn.ReLU(),
        nn.Conv2d(384, 256, 3, padding=1, groups=g), nn.ReLU(), nn.MaxPool2d(3, 2),
    ).to("meta")
    flat = feats(torch.zeros((1,) + tuple(input_shape), device="meta")).numel()
    dense = nn.Sequential(nn.Flatten(), nn.Linear(flat, 4096), nn.ReLU(), nn.Dropout(), nn.Linear(4096, 4096),
                          nn.ReLU(), nn.Dropout(), nn.Linear(4096, 1000)).to("meta")
    return nn.Sequential(feats, dense)


@pytest.mark.parametrize("input_shape", [(3, 227, 227), (3, 224, 224), (1, 99, 131)])
@pytest.mark.parametrize("grouped", [False, True])
def test_alexnet_layers_match_torch(input_shape, grouped):
    net = _torch_alexnet(input_shape, grouped)
    rows = ref.alexnet_layers(input_shape, grouped)
    modules = [m for m in net.modules() if isinstance(m, (nn.Conv2d, nn.LocalResponseNorm, nn.MaxPool2d, nn.Linear))]
    assert len(modules) == len(rows)
    h = torch.zeros((1,) + tuple(input_shape), device="meta")
    for (name, shape, n_params), m in zip(rows, modules):
        h = m(h.flatten(1) if isinstance(m, nn.Linear) else h)
        if not isinstance(m, (nn.Conv2d, nn.Linear)):
            continue
        h = F.relu(h)
        assert tuple(h.shape[1:]) == shape, name
        assert sum(p.numel() for p in m.parameters()) == n_params, name
    assert sum(n for _, _, n in rows) == sum(p.numel() for p in net.parameters())


def test_alexnet_totals():
    """The paper's network: 62,378,344 parameters as one network, 60,965,224 split over two GPUs."""
    plain = ref.alexnet_layers()
    assert sum(n for _, _, n in plain) == 62_378_344
    assert sum(n for _, _, n in ref.alexnet_layers(grouped=True)) == 60_965_224
    shapes = dict((name, s) for name, s, _ in plain)
    assert shapes["conv1"] == (96, 55, 55) and shapes["pool5"] == (256, 6, 6) and shapes["fc8"] == (1000,)
    dense = sum(n for name, _, n in plain if name.startswith("fc"))
    assert dense / 62_378_344 == pytest.approx(0.94, abs=0.001)  # "about 94 % in the dense layers"


# ------------------------------------------------------------ the numpy conv net
def _torch_convnet_loss(params, x, y):
    p = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    pad = params["w1"].shape[-1] // 2
    h = F.max_pool2d(F.relu(F.conv2d(T(x), p["w1"], p["b1"], padding=pad)), 2, 2)
    loss = F.cross_entropy(h.flatten(1) @ p["W2"].T + p["b2"], torch.tensor(y))
    loss.backward()
    return loss.item(), {k: v.grad.numpy() for k, v in p.items()}


@pytest.mark.parametrize("in_shape, n_filters", [((1, 8, 8), 4), ((2, 6, 4), 3), ((3, 5, 5), 2)])
def test_convnet_loss_matches_autograd(in_shape, n_filters, rng):
    params = ref.init_convnet(rng, in_shape, n_filters=n_filters, n_classes=5)
    params["b1"] = rng.normal(size=n_filters)
    x = rng.normal(size=(6,) + in_shape)
    y = rng.integers(0, 5, size=6)
    loss, grads = ref.convnet_loss(params, x, y)
    loss_t, grads_t = _torch_convnet_loss(params, x, y)
    assert loss == pytest.approx(loss_t, rel=1e-12)
    for k in params:
        np.testing.assert_allclose(grads[k], grads_t[k], rtol=1e-10, atol=1e-12)


def test_convnet_loss_matches_numerical_gradient(rng):
    """The tiny numpy conv net, gradient-checked end to end (the book shows this)."""
    params = ref.init_convnet(rng, (1, 4, 4), n_filters=2, n_classes=3)
    params["b1"] = rng.normal(scale=0.1, size=2)
    x, y = rng.normal(size=(3, 1, 4, 4)), np.array([0, 2, 1])
    _, grads = ref.convnet_loss(params, x, y)
    for k in params:
        def f(v, k=k):
            return ref.convnet_loss({**params, k: v}, x, y)[0]
        assert gradcheck.rel_error(grads[k], gradcheck.numerical_gradient(f, params[k].copy())) < 1e-6, k


def test_train_convnet_learns_and_leaves_params_alone():
    x_train, x_test, y_train, y_test = ref.load_digits_images()
    params = ref.init_convnet(np.random.default_rng(1))
    before = {k: v.copy() for k, v in params.items()}
    trained, losses = ref.train_convnet(params, x_train, y_train, np.random.default_rng(2), epochs=1)
    for k in params:
        np.testing.assert_array_equal(params[k], before[k])
    assert np.mean(losses[-10:]) < 0.5 * losses[0]
    assert np.mean(np.argmax(ref.convnet_scores(trained, x_test), axis=1) == y_test) > 0.9


def test_load_digits_images():
    x_train, x_test, y_train, y_test = ref.load_digits_images(size=16, test_size=0.25, seed=0)
    assert x_train.shape[1:] == (1, 16, 16) and len(x_train) + len(x_test) == 1797
    assert abs(x_train.mean()) < 1e-12 and x_train.std() == pytest.approx(1.0)
    counts = np.bincount(np.concatenate([y_train, y_test]))
    assert np.all(np.abs(np.bincount(y_test) - 0.25 * counts) <= 1)  # stratified: a quarter of every class
    raw = ref.load_digits_images(size=8, standardize=False)[0]
    assert raw.min() == 0.0 and raw.max() == 1.0


# ------------------------------------------------------------ the torch mini-AlexNet
def test_mini_alexnet_shapes_and_seeded_init():
    state = torch.random.get_rng_state()
    a, b, c = ref.MiniAlexNet(seed=3), ref.MiniAlexNet(seed=3), ref.MiniAlexNet(seed=4)
    assert torch.equal(torch.random.get_rng_state(), state)  # the global generator is untouched
    for pa, pb in zip(a.parameters(), b.parameters()):
        assert torch.equal(pa, pb)
    assert not torch.equal(next(a.parameters()), next(c.parameters()))
    assert a(torch.zeros(5, 1, 16, 16)).shape == (5, 10)
    assert ref.MiniAlexNet(image_size=24, lrn=True, in_channels=3, n_classes=4)(torch.zeros(2, 3, 24, 24)).shape == (2, 4)
    n_dropout = sum(isinstance(m, nn.Dropout) for m in a.modules())
    assert n_dropout == 2


def test_random_shift_translates_each_image(rng):
    x = torch.tensor(rng.normal(size=(6, 2, 5, 7)))
    gen = torch.Generator().manual_seed(0)
    shifted = ref.random_shift(x, 2, gen)
    padded = F.pad(x, (2, 2, 2, 2))
    for n in range(6):  # each output is one of the 25 windows of the zero-padded image
        assert any(torch.equal(shifted[n], padded[n, :, i:i + 5, j:j + 7]) for i in range(5) for j in range(5))
    assert torch.equal(ref.random_shift(x, 0, gen), x)


def test_train_mini_alexnet_is_seeded_and_learns():
    x_train, _, y_train, _ = ref.load_digits_images(size=16)
    x, y = x_train[:256], y_train[:256]
    state = torch.random.get_rng_state()
    h1 = ref.train_mini_alexnet(ref.MiniAlexNet(hidden=64), x, y, epochs=3, batch_size=64)
    h2 = ref.train_mini_alexnet(ref.MiniAlexNet(hidden=64), x, y, epochs=3, batch_size=64)
    assert torch.equal(torch.random.get_rng_state(), state)
    assert h1 == h2
    assert h1[-1] < h1[0]


@pytest.mark.slow
def test_mini_alexnet_reaches_97_percent():
    """The book's claim: >= 97 % test accuracy with the default settings (about 10 s on one core)."""
    x_train, x_test, y_train, y_test = ref.load_digits_images(size=16)
    model = ref.MiniAlexNet()
    ref.train_mini_alexnet(model, x_train, y_train)
    assert ref.accuracy(model, x_test, y_test) >= 0.97


# ------------------------------------------------------------ correct variants: every check passes them
def _pad(x, p):
    return np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))


def _size_by_counting(n, k, s, p):
    count, start = 0, 0
    while start + k <= n + 2 * p:
        count, start = count + 1, start + s
    return count


def _im2col_loops(x, kh, kw, s, p):
    N, C, H, W = x.shape
    OH, OW = (H + 2 * p - kh) // s + 1, (W + 2 * p - kw) // s + 1
    xp = _pad(x, p)
    cols = np.zeros((N * OH * OW, C * kh * kw))
    row = 0
    for n in range(N):
        for y in range(OH):
            for z in range(OW):
                cols[row] = xp[n, :, y * s:y * s + kh, z * s:z * s + kw].ravel()
                row += 1
    return cols


def _im2col_sliding(x, kh, kw, s, p):
    win = sliding_window_view(_pad(x, p), (kh, kw), axis=(2, 3))[:, :, ::s, ::s]  # (N, C, OH, OW, kh, kw)
    return win.transpose(0, 2, 3, 1, 4, 5).reshape(-1, x.shape[1] * kh * kw)


def _im2col_strided(x, kh, kw, s, p):
    xp = np.ascontiguousarray(_pad(x, p))
    N, C, H, W = xp.shape
    OH, OW = (H - kh) // s + 1, (W - kw) // s + 1
    sn, sc, sh, sw = xp.strides
    win = as_strided(xp, (N, OH, OW, C, kh, kw), (sn, sh * s, sw * s, sc, sh, sw))
    return win.reshape(N * OH * OW, -1).copy()


def _im2col_torch(x, kh, kw, s, p):
    unf = F.unfold(torch.as_tensor(x), (kh, kw), padding=p, stride=s)
    return unf.transpose(1, 2).reshape(-1, unf.shape[1]).numpy()


def _col2im_loops(cols, x_shape, kh, kw, s, p):
    N, C, H, W = x_shape
    OH, OW = (H + 2 * p - kh) // s + 1, (W + 2 * p - kw) // s + 1
    xp = np.zeros((N, C, H + 2 * p, W + 2 * p))
    row = 0
    for n in range(N):
        for y in range(OH):
            for z in range(OW):
                xp[n, :, y * s:y * s + kh, z * s:z * s + kw] += cols[row].reshape(C, kh, kw)
                row += 1
    return xp[:, :, p:p + H, p:p + W]


def _col2im_torch(cols, x_shape, kh, kw, s, p):
    N = x_shape[0]
    c = torch.as_tensor(cols).reshape(N, -1, cols.shape[1]).transpose(1, 2)
    return F.fold(c, x_shape[2:], (kh, kw), padding=p, stride=s).numpy()


def _conv_fwd_naive(x, w, b, s, p):
    return ref.conv2d_naive(x, w, b, s, p), (x, w, b, s, p)


def _conv_bwd_naive(dout, cache):
    x, w, b, s, p = cache
    xp = _pad(x, p)
    dxp, dw = np.zeros_like(xp), np.zeros_like(w)
    kh, kw = w.shape[2:]
    for n in range(dout.shape[0]):
        for f in range(dout.shape[1]):
            for y in range(dout.shape[2]):
                for z in range(dout.shape[3]):
                    dw[f] += dout[n, f, y, z] * xp[n, :, y * s:y * s + kh, z * s:z * s + kw]
                    dxp[n, :, y * s:y * s + kh, z * s:z * s + kw] += dout[n, f, y, z] * w[f]
    H, W = x.shape[2:]
    return dxp[:, :, p:p + H, p:p + W], dw, dout.sum(axis=(0, 2, 3))


def _conv_fwd_einsum(x, w, b, s, p):
    win = sliding_window_view(_pad(x, p), w.shape[2:], axis=(2, 3))[:, :, ::s, ::s]
    return np.einsum("ncyzij,fcij->nfyz", win, w) + b[None, :, None, None], (x, w, s, p)


def _conv_bwd_einsum(dout, cache):
    x, w, s, p = cache
    kh, kw = w.shape[2:]
    win = sliding_window_view(_pad(x, p), (kh, kw), axis=(2, 3))[:, :, ::s, ::s]
    dw = np.einsum("nfyz,ncyzij->fcij", dout, win)
    dxp = np.zeros(_pad(x, p).shape)
    OH, OW = dout.shape[2:]
    contrib = np.einsum("nfyz,fcij->ncijyz", dout, w)
    for i in range(kh):
        for j in range(kw):
            dxp[:, :, i:i + s * OH:s, j:j + s * OW:s] += contrib[:, :, i, j]
    return dxp[:, :, p:p + x.shape[2], p:p + x.shape[3]], dw, dout.sum(axis=(0, 2, 3))


def _conv_fwd_cs231n(x, w, b, s, p):
    """im2col with the other layout, used consistently: cols (C*kh*kw, OH*OW*N), columns ordered (oh, ow, n)."""
    N = x.shape[0]
    kh, kw = w.shape[2:]
    cols = ref.im2col(x, kh, kw, s, p)
    OH, OW = ref.conv_output_size(x.shape[2], kh, s, p), ref.conv_output_size(x.shape[3], kw, s, p)
    cols_t = cols.reshape(N, OH, OW, -1).transpose(3, 1, 2, 0).reshape(cols.shape[1], -1)
    out = w.reshape(w.shape[0], -1) @ cols_t + b[:, None]  # (F, OH*OW*N)
    return out.reshape(-1, OH, OW, N).transpose(3, 0, 1, 2), (x.shape, cols_t, w, s, p, OH, OW)


def _conv_bwd_cs231n(dout, cache):
    x_shape, cols_t, w, s, p, OH, OW = cache
    Fo = w.shape[0]
    d = dout.transpose(1, 2, 3, 0).reshape(Fo, -1)  # (F, OH*OW*N), same column order
    dw = (d @ cols_t.T).reshape(w.shape)
    dcols_t = w.reshape(Fo, -1).T @ d
    N = x_shape[0]
    dcols = dcols_t.reshape(-1, OH, OW, N).transpose(3, 1, 2, 0).reshape(N * OH * OW, -1)
    return ref.col2im(dcols, x_shape, *w.shape[2:], s, p), dw, d.sum(axis=1)


def _conv_fwd_f32(x, w, b, s, p):
    x32, w32, b32 = (np.asarray(a, np.float32) for a in (x, w, b))
    out, cache = _conv_fwd_einsum(x32, w32, b32, s, p)
    return out.astype(np.float32), cache


def _conv_fwd_torch(x, w, b, s, p):
    xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    out = F.conv2d(xt, wt, bt, stride=s, padding=p)
    return out.detach().numpy(), (xt, wt, bt, out)


def _conv_bwd_torch(dout, cache):
    xt, wt, bt, out = cache
    out.backward(torch.as_tensor(dout))
    return xt.grad.numpy(), wt.grad.numpy(), bt.grad.numpy()


def _maxpool_fwd_loops(x, size, s):
    N, C, H, W = x.shape
    OH, OW = (H - size) // s + 1, (W - size) // s + 1
    out = np.empty((N, C, OH, OW))
    for n in range(N):
        for c in range(C):
            for y in range(OH):
                for z in range(OW):
                    out[n, c, y, z] = x[n, c, y * s:y * s + size, z * s:z * s + size].max()
    return out, (x, size, s)


def _maxpool_bwd_loops(dout, cache):
    x, size, s = cache
    dx = np.zeros_like(x)
    N, C, OH, OW = dout.shape
    for n in range(N):
        for c in range(C):
            for y in range(OH):
                for z in range(OW):
                    win = x[n, c, y * s:y * s + size, z * s:z * s + size]
                    i, j = np.unravel_index(np.argmax(win), win.shape)
                    dx[n, c, y * s + i, z * s + j] += dout[n, c, y, z]
    return dx


def _maxpool_fwd_sliding(x, size, s):
    win = sliding_window_view(x, (size, size), axis=(2, 3))[:, :, ::s, ::s]
    return win.max(axis=(4, 5)), (x, size, s)


def _maxpool_bwd_mask(dout, cache):
    """Every position equal to its window's maximum gets the gradient (CS231n style; same without ties)."""
    x, size, s = cache
    dx = np.zeros_like(x)
    OH, OW = dout.shape[2:]
    for y in range(OH):
        for z in range(OW):
            win = x[:, :, y * s:y * s + size, z * s:z * s + size]
            mask = win == win.max(axis=(2, 3), keepdims=True)
            dx[:, :, y * s:y * s + size, z * s:z * s + size] += mask * dout[:, :, y, z][:, :, None, None]
    return dx


def _maxpool_fwd_f32(x, size, s):
    out, cache = _maxpool_fwd_sliding(np.asarray(x, np.float32), size, s)
    return out, cache


def _pool_fwd_torch(fn):
    def forward(x, size, s):
        xt = torch.tensor(x, requires_grad=True)
        out = fn(xt, size, s)
        return out.detach().numpy(), (xt, out)
    return forward


def _pool_bwd_torch(dout, cache):
    xt, out = cache
    out.backward(torch.as_tensor(dout))
    return xt.grad.numpy()


def _avgpool_fwd_loops(x, size, s):
    out = _maxpool_fwd_sliding(x, size, s)[0] * 0
    for y in range(out.shape[2]):
        for z in range(out.shape[3]):
            out[:, :, y, z] = x[:, :, y * s:y * s + size, z * s:z * s + size].mean(axis=(2, 3))
    return out, (x.shape, size, s)


def _avgpool_bwd_loops(dout, cache):
    x_shape, size, s = cache
    dx = np.zeros(x_shape)
    for y in range(dout.shape[2]):
        for z in range(dout.shape[3]):
            dx[:, :, y * s:y * s + size, z * s:z * s + size] += dout[:, :, y, z][:, :, None, None] / size ** 2
    return dx


def _avgpool_fwd_f32(x, size, s):
    out, cache = ref.avgpool_forward(np.asarray(x, np.float32), size, s)
    return out.astype(np.float32), cache


def _avgpool_bwd_f32(dout, cache):
    return ref.avgpool_backward(np.asarray(dout, np.float32), cache).astype(np.float32)


VARIANTS = [
    ("check_conv_output_size", "reference", ref.conv_output_size),
    ("check_conv_output_size", "math.floor", lambda n, k, s, p: math.floor((n + 2 * p - k) / s) + 1),
    ("check_conv_output_size", "int() of the quotient", lambda n, k, s, p: int((n + 2 * p - k) / s) + 1),
    ("check_conv_output_size", "numpy integer", lambda n, k, s, p: np.int64(n + 2 * p - k) // s + 1),
    ("check_conv_output_size", "counting window positions", _size_by_counting),
    ("check_im2col", "reference", ref.im2col),
    ("check_im2col", "naive loops", _im2col_loops),
    ("check_im2col", "sliding_window_view", _im2col_sliding),
    ("check_im2col", "as_strided", _im2col_strided),
    ("check_im2col", "torch unfold", _im2col_torch),
    ("check_im2col", "float32", lambda x, kh, kw, s, p: _im2col_sliding(x.astype(np.float32), kh, kw, s, p)),
    ("check_col2im", "reference", ref.col2im),
    ("check_col2im", "naive loops", _col2im_loops),
    ("check_col2im", "torch fold", _col2im_torch),
    ("check_col2im", "float32", lambda c, *a: _col2im_loops(c.astype(np.float32), *a).astype(np.float32)),
    ("check_conv2d_forward", "reference", ref.conv2d_forward),
    ("check_conv2d_forward", "naive loops", _conv_fwd_naive),
    ("check_conv2d_forward", "sliding_window_view + einsum", _conv_fwd_einsum),
    ("check_conv2d_forward", "im2col with the other layout (CS231n)", _conv_fwd_cs231n),
    ("check_conv2d_forward", "float32", _conv_fwd_f32),
    ("check_conv2d_forward", "torch conv2d, list return", lambda *a: list(_conv_fwd_torch(*a))),
    ("check_maxpool_forward", "reference", ref.maxpool_forward),
    ("check_maxpool_forward", "naive loops", _maxpool_fwd_loops),
    ("check_maxpool_forward", "sliding_window_view", _maxpool_fwd_sliding),
    ("check_maxpool_forward", "float32", _maxpool_fwd_f32),
    ("check_maxpool_forward", "torch max_pool2d", _pool_fwd_torch(F.max_pool2d)),
]

PAIR_VARIANTS = [
    ("check_conv2d_backward", "reference", ref.conv2d_forward, ref.conv2d_backward),
    ("check_conv2d_backward", "naive loops", _conv_fwd_naive, _conv_bwd_naive),
    ("check_conv2d_backward", "einsum", _conv_fwd_einsum, _conv_bwd_einsum),
    ("check_conv2d_backward", "im2col with the other layout (CS231n)", _conv_fwd_cs231n, _conv_bwd_cs231n),
    ("check_conv2d_backward", "float32", _conv_fwd_f32,
     lambda d, c: tuple(g.astype(np.float32) for g in _conv_bwd_einsum(np.float32(d), c))),
    ("check_conv2d_backward", "torch autograd", _conv_fwd_torch, _conv_bwd_torch),
    ("check_maxpool_backward", "reference", ref.maxpool_forward, ref.maxpool_backward),
    ("check_maxpool_backward", "loops with argmax", _maxpool_fwd_loops, _maxpool_bwd_loops),
    ("check_maxpool_backward", "mask of all maxima", _maxpool_fwd_sliding, _maxpool_bwd_mask),
    ("check_maxpool_backward", "float32", _maxpool_fwd_f32,
     lambda d, c: _maxpool_bwd_mask(np.float32(d), c).astype(np.float32)),
    ("check_maxpool_backward", "torch autograd", _pool_fwd_torch(F.max_pool2d), _pool_bwd_torch),
    ("check_avgpool_backward", "reference", ref.avgpool_forward, ref.avgpool_backward),
    ("check_avgpool_backward", "loops", _avgpool_fwd_loops, _avgpool_bwd_loops),
    ("check_avgpool_backward", "float32", _avgpool_fwd_f32, _avgpool_bwd_f32),
    ("check_avgpool_backward", "torch autograd", _pool_fwd_torch(F.avg_pool2d), _pool_bwd_torch),
]


@pytest.mark.parametrize("check, fn", cases(VARIANTS))
def test_check_accepts_correct_variant(check, fn):
    assert_accepts(getattr(chk, check), fn)


@pytest.mark.parametrize("check, fwd, bwd", [pytest.param(c, f, b, id=f"{c}-{label}")
                                             for c, label, f, b in PAIR_VARIANTS])
def test_check_accepts_correct_pair(check, fwd, bwd):
    assert getattr(chk, check)(fwd, bwd) is None


@pytest.mark.parametrize("layers", [
    (_conv_fwd_einsum, _conv_bwd_einsum, _maxpool_fwd_sliding, _maxpool_bwd_mask),
    (_conv_fwd_f32, lambda d, c: tuple(g.astype(np.float32) for g in _conv_bwd_einsum(np.float32(d), c)),
     _maxpool_fwd_f32, lambda d, c: _maxpool_bwd_mask(np.float32(d), c).astype(np.float32)),
], ids=["einsum", "float32"])
def test_convnet_trains_with_correct_layers(layers):
    assert chk.check_convnet_trains(*layers) is None


# ------------------------------------------------------------ known mistakes: every check fails them
def _stub(*args):
    raise NotImplementedError()


def _im2col_ijc(x, kh, kw, s, p):
    win = sliding_window_view(_pad(x, p), (kh, kw), axis=(2, 3))[:, :, ::s, ::s]
    return win.transpose(0, 2, 3, 4, 5, 1).reshape(-1, x.shape[1] * kh * kw)


def _im2col_one_side(x, kh, kw, s, p):
    xp = np.pad(x, ((0, 0), (0, 0), (2 * p, 0), (2 * p, 0)))
    return _im2col_sliding(xp, kh, kw, s, 0)


def _col2im_assign(cols, x_shape, kh, kw, s, p):
    N, C, H, W = x_shape
    OH, OW = (H + 2 * p - kh) // s + 1, (W + 2 * p - kw) // s + 1
    xp = np.zeros((N, C, H + 2 * p, W + 2 * p))
    c6 = cols.reshape(N, OH, OW, C, kh, kw)
    for y in range(OH):
        for z in range(OW):
            xp[:, :, y * s:y * s + kh, z * s:z * s + kw] = c6[:, y, z]
    return xp[:, :, p:p + H, p:p + W]


def _col2im_no_crop(cols, x_shape, kh, kw, s, p):
    N, C, H, W = x_shape
    return ref.col2im(cols, x_shape, kh, kw, s, p) if p == 0 else \
        _pad(ref.col2im(cols, x_shape, kh, kw, s, p), p)


def _col2im_averaged(cols, x_shape, kh, kw, s, p):
    counts = ref.col2im(np.ones_like(cols), x_shape, kh, kw, s, p)
    return ref.col2im(cols, x_shape, kh, kw, s, p) / np.maximum(counts, 1)


def _conv_true_convolution(x, w, b, s, p):
    return ref.conv2d_forward(x, w[:, :, ::-1, ::-1], b, s, p)


def _conv_one_side_pad(x, w, b, s, p):
    xp = np.pad(x, ((0, 0), (0, 0), (2 * p, 0), (2 * p, 0)))
    return ref.conv2d_forward(xp, w, b, s, 0)


def _conv_no_bias(x, w, b, s, p):
    return ref.conv2d_forward(x, w, 0 * b, s, p)


def _conv_stride_ignored(x, w, b, s, p):
    return ref.conv2d_forward(x, w, b, 1, p)


def _conv_ijc_columns(x, w, b, s, p):
    """(i, j, c) columns against a (c, i, j) weight reshape: the channels get mixed up."""
    N = x.shape[0]
    Fo, C, kh, kw = w.shape
    cols = _im2col_ijc(x, kh, kw, s, p)
    OH, OW = ref.conv_output_size(x.shape[2], kh, s, p), ref.conv_output_size(x.shape[3], kw, s, p)
    out = (cols @ w.reshape(Fo, -1).T + b).reshape(N, OH, OW, Fo).transpose(0, 3, 1, 2)
    return out, None


def _conv_bwd_stride_ignored(dout, cache):
    """Loops that step the window by 1 instead of by the stride in the backward pass."""
    x, w, b, s, p = cache
    return _conv_bwd_naive(dout, (x, w, b, 1, p)) if s == 1 else _conv_bwd_loops_step1(dout, x, w, s, p)


def _conv_bwd_loops_step1(dout, x, w, s, p):
    xp = _pad(x, p)
    dxp, dw = np.zeros_like(xp), np.zeros_like(w)
    kh, kw = w.shape[2:]
    for n in range(dout.shape[0]):
        for f in range(dout.shape[1]):
            for y in range(dout.shape[2]):
                for z in range(dout.shape[3]):
                    dw[f] += dout[n, f, y, z] * xp[n, :, y:y + kh, z:z + kw]
                    dxp[n, :, y:y + kh, z:z + kw] += dout[n, f, y, z] * w[f]
    return dxp[:, :, p:p + x.shape[2], p:p + x.shape[3]], dw, dout.sum(axis=(0, 2, 3))


def _conv_bwd_db_axes(axes):
    def backward(dout, cache):
        dx, dw, _ = ref.conv2d_backward(dout, cache)
        return dx, dw, dout.sum(axis=axes)
    return backward


def _conv_bwd_db_mean(dout, cache):
    dx, dw, db = ref.conv2d_backward(dout, cache)
    return dx, dw, db / dout.shape[0]


def _conv_bwd_dw_first_image(dout, cache):
    x_shape, cols, w, s, p = cache
    N = x_shape[0]
    dx, dw, db = ref.conv2d_backward(dout, cache)
    rows = cols.shape[0] // N
    d = dout.transpose(0, 2, 3, 1).reshape(-1, w.shape[0])
    return dx, (d[:rows].T @ cols[:rows]).reshape(w.shape), db


def _conv_bwd_dx_no_crop(dout, cache):
    x_shape, cols, w, s, p = cache
    dx, dw, db = ref.conv2d_backward(dout, cache)
    return _pad(dx, p), dw, db


def _conv_bwd_dx_flipped(dout, cache):
    x_shape, cols, w, s, p = cache
    dx, dw, db = ref.conv2d_backward(dout, (x_shape, cols, w[:, :, ::-1, ::-1], s, p))
    _, dw, db = ref.conv2d_backward(dout, cache)
    return dx, dw, db


def _maxpool_fwd_zero_init(x, size, s):
    out, cache = _maxpool_fwd_sliding(x, size, s)
    return np.maximum(out, 0.0), cache


def _maxpool_fwd_ceil(x, size, s):
    xp = np.pad(x, ((0, 0), (0, 0), (0, size), (0, size)), constant_values=-np.inf)
    H, W = x.shape[2:]
    OH, OW = -(-(H - size) // s) + 1, -(-(W - size) // s) + 1
    return _maxpool_fwd_sliding(xp, size, s)[0][:, :, :OH, :OW], None


def _maxpool_bwd_every_element(dout, cache):
    x, size, s = cache
    dx = np.zeros_like(x)
    for y in range(dout.shape[2]):
        for z in range(dout.shape[3]):
            dx[:, :, y * s:y * s + size, z * s:z * s + size] += dout[:, :, y, z][:, :, None, None]
    return dx


def _maxpool_bwd_assign(dout, cache):
    x, size, s = cache
    dx = np.zeros_like(x)
    for y in range(dout.shape[2]):
        for z in range(dout.shape[3]):
            win = x[:, :, y * s:y * s + size, z * s:z * s + size]
            mask = win == win.max(axis=(2, 3), keepdims=True)
            region = dx[:, :, y * s:y * s + size, z * s:z * s + size]
            region[mask] = np.broadcast_to(dout[:, :, y, z][:, :, None, None], win.shape)[mask]
    return dx


def _maxpool_bwd_to_min(dout, cache):
    x, size, s = cache
    return _maxpool_bwd_mask(dout, (-x, size, s))


def _avgpool_bwd_not_divided(dout, cache):
    x_shape, size, s = cache
    return ref.avgpool_backward(dout, cache) * size * size


def _avgpool_bwd_divided_by_size(dout, cache):
    x_shape, size, s = cache
    return ref.avgpool_backward(dout, cache) * size


def _avgpool_bwd_assign(dout, cache):
    x_shape, size, s = cache
    dx = np.zeros(x_shape)
    for y in range(dout.shape[2]):
        for z in range(dout.shape[3]):
            dx[:, :, y * s:y * s + size, z * s:z * s + size] = dout[:, :, y, z][:, :, None, None] / size ** 2
    return dx


MISTAKES = [
    ("check_conv_output_size", "stub", _stub),
    ("check_conv_output_size", "no floor (true division)", lambda n, k, s, p: (n + 2 * p - k) / s + 1),
    ("check_conv_output_size", "no +1", lambda n, k, s, p: (n + 2 * p - k) // s),
    ("check_conv_output_size", "rounds up", lambda n, k, s, p: math.ceil((n + 2 * p - k) / s) + 1),
    ("check_conv_output_size", "padding counted once", lambda n, k, s, p: (n + p - k) // s + 1),
    ("check_conv_output_size", "stride ignored", lambda n, k, s, p: n + 2 * p - k + 1),
    ("check_conv_output_size", "returns a string", lambda n, k, s, p: str((n + 2 * p - k) // s + 1)),
    ("check_im2col", "stub", _stub),
    ("check_im2col", "columns ordered (i, j, c)", _im2col_ijc),
    ("check_im2col", "transposed (C*kh*kw, N*OH*OW)", lambda *a: ref.im2col(*a).T),
    ("check_im2col", "rows ordered (oh, ow, n)", lambda x, kh, kw, s, p: ref.im2col(x, kh, kw, s, p).reshape(
        x.shape[0], -1, x.shape[1] * kh * kw).transpose(1, 0, 2).reshape(-1, x.shape[1] * kh * kw)),
    ("check_im2col", "flipped windows", lambda x, kh, kw, s, p: _im2col_sliding(x, kh, kw, s, p).reshape(
        -1, x.shape[1], kh, kw)[:, :, ::-1, ::-1].reshape(-1, x.shape[1] * kh * kw)),
    ("check_im2col", "padding on one side only", _im2col_one_side),
    ("check_im2col", "stride ignored", lambda x, kh, kw, s, p: ref.im2col(x, kh, kw, 1, p)),
    ("check_col2im", "assigns instead of summing overlaps", _col2im_assign),
    ("check_col2im", "padding not cut off", _col2im_no_crop),
    ("check_col2im", "averages overlaps (an inverse, not the adjoint)", _col2im_averaged),
    ("check_conv2d_forward", "stub", _stub),
    ("check_conv2d_forward", "true convolution (flipped kernel)", _conv_true_convolution),
    ("check_conv2d_forward", "padding on one side only", _conv_one_side_pad),
    ("check_conv2d_forward", "bias missing", _conv_no_bias),
    ("check_conv2d_forward", "stride ignored", _conv_stride_ignored),
    ("check_conv2d_forward", "im2col columns (i, j, c) against w (c, i, j)", _conv_ijc_columns),
    ("check_conv2d_forward", "returns out only", lambda *a: ref.conv2d_forward(*a)[0]),
    ("check_conv2d_forward", "output (N, OH, OW, F)", lambda *a: (ref.conv2d_forward(*a)[0].transpose(0, 2, 3, 1), None)),
    ("check_maxpool_forward", "stub", _stub),
    ("check_maxpool_forward", "average instead of max", ref.avgpool_forward),
    ("check_maxpool_forward", "maximum started at 0", _maxpool_fwd_zero_init),
    ("check_maxpool_forward", "ceil mode", _maxpool_fwd_ceil),
    ("check_maxpool_forward", "stride ignored (stride = size)", lambda x, size, s: ref.maxpool_forward(x, size, size)),
    ("check_maxpool_forward", "max over channels too", lambda x, size, s: (
        np.broadcast_to(ref.maxpool_forward(x, size, s)[0].max(axis=1, keepdims=True),
                        ref.maxpool_forward(x, size, s)[0].shape), None)),
]

PAIR_MISTAKES = [
    ("check_conv2d_backward", "stub backward", ref.conv2d_forward, _stub),
    ("check_conv2d_backward", "stride ignored in the backward pass", _conv_fwd_naive, _conv_bwd_stride_ignored),
    ("check_conv2d_backward", "db summed over the batch axis only", ref.conv2d_forward, _conv_bwd_db_axes((0,))),
    ("check_conv2d_backward", "db summed over the spatial axes only", ref.conv2d_forward, _conv_bwd_db_axes((2, 3))),
    ("check_conv2d_backward", "db summed over (1, 2, 3)", ref.conv2d_forward, _conv_bwd_db_axes((1, 2, 3))),
    ("check_conv2d_backward", "db averaged over the batch", ref.conv2d_forward, _conv_bwd_db_mean),
    ("check_conv2d_backward", "dw from the first image only", ref.conv2d_forward, _conv_bwd_dw_first_image),
    ("check_conv2d_backward", "dx keeps the padding", ref.conv2d_forward, _conv_bwd_dx_no_crop),
    ("check_conv2d_backward", "dx through the flipped kernel", ref.conv2d_forward, _conv_bwd_dx_flipped),
    ("check_conv2d_backward", "returns (dx, dw) only", ref.conv2d_forward, lambda d, c: ref.conv2d_backward(d, c)[:2]),
    ("check_conv2d_backward", "flipped forward", _conv_true_convolution, ref.conv2d_backward),
    ("check_maxpool_backward", "gradient to every element of the window", _maxpool_fwd_sliding,
     _maxpool_bwd_every_element),
    ("check_maxpool_backward", "assigns instead of adding (overlaps)", _maxpool_fwd_sliding, _maxpool_bwd_assign),
    ("check_maxpool_backward", "gradient to the minimum", _maxpool_fwd_sliding, _maxpool_bwd_to_min),
    ("check_maxpool_backward", "average-pool gradient", ref.avgpool_forward, ref.avgpool_backward),
    ("check_avgpool_backward", "not divided by the window size", ref.avgpool_forward, _avgpool_bwd_not_divided),
    ("check_avgpool_backward", "divided by size, not size*size", ref.avgpool_forward, _avgpool_bwd_divided_by_size),
    ("check_avgpool_backward", "assigns instead of adding (overlaps)", ref.avgpool_forward, _avgpool_bwd_assign),
    ("check_avgpool_backward", "max-pool gradient", ref.maxpool_forward, ref.maxpool_backward),
]


@pytest.mark.parametrize("check, fn", cases(MISTAKES))
def test_check_rejects_mistake(check, fn):
    assert_rejects(getattr(chk, check), fn, name=check.replace("check_", ""))


@pytest.mark.parametrize("check, fwd, bwd", [pytest.param(c, f, b, id=f"{c}-{label}")
                                             for c, label, f, b in PAIR_MISTAKES])
def test_check_rejects_mistaken_pair(check, fwd, bwd):
    """The message names the backward function, or the forward one when the forward is already wrong."""
    names = (check.replace("check_", ""), check.replace("check_", "").replace("backward", "forward"))
    msg = assert_rejects(lambda b: getattr(chk, check)(fwd, b), bwd)
    assert msg.startswith(names), msg


@pytest.mark.parametrize("scale", [-1.0, 0.0], ids=["wrong sign", "zero (filters never learn)"])
def test_convnet_rejects_a_wrong_gradient(scale):
    def backward(dout, cache):
        dx, dw, db = ref.conv2d_backward(dout, cache)
        return dx, scale * dw, scale * db
    with pytest.raises(AssertionError, match="convnet: the conv net reached"):
        chk.check_convnet_trains(ref.conv2d_forward, backward, ref.maxpool_forward, ref.maxpool_backward)


# ------------------------------------------------------------ quiz
@pytest.mark.parametrize("answer", [7, 7.0, (7, 7), [7, 7], np.int64(7), np.array([7, 7])])
def test_quiz_output_size_accepts(answer):
    assert chk.check_quiz_output_size(answer) is None


@pytest.mark.parametrize("answer", [None, 6, 5, (6, 6), (7, 6), "7x7", "7", 7.5, (7, 7, 7)])
def test_quiz_output_size_rejects(answer):
    with pytest.raises(AssertionError, match="quiz_output_size"):
        chk.check_quiz_output_size(answer)


@pytest.mark.parametrize("answer", [(256, 6, 6), [256, 6, 6], np.array([256, 6, 6])])
def test_quiz_alexnet_pool5_accepts(answer):
    assert chk.check_quiz_alexnet_pool5(answer) is None


@pytest.mark.parametrize("answer", [None, (6, 6, 256), (256, 13, 13), 9216, (256, 6), (96, 6, 6)])
def test_quiz_alexnet_pool5_rejects(answer):
    with pytest.raises(AssertionError, match="quiz_alexnet_pool5"):
        chk.check_quiz_alexnet_pool5(answer)


# ------------------------------------------------------------ messages and the check contract
def test_messages_are_actionable():
    msg = assert_rejects(chk.check_conv2d_forward, _conv_true_convolution, name="conv2d_forward")
    assert "case 1 of" in msg and "expected" in msg and "got" in msg and "flipped" in msg
    msg = assert_rejects(chk.check_im2col, _im2col_ijc, name="im2col")
    assert "(i, j, c)" in msg
    msg = assert_rejects(chk.check_im2col, lambda *a: ref.im2col(*a).T, name="im2col")
    assert "transposed" in msg
    msg = assert_rejects(chk.check_conv_output_size, lambda n, k, s, p: (n + 2 * p - k) // s, name="conv_output_size")
    assert "one short" in msg
    msg = assert_rejects(chk.check_conv_output_size, lambda n, k, s, p: (n + 2 * p - k) / s + 1)
    assert "//" in msg
    msg = assert_rejects(lambda f: chk.check_avgpool_backward(ref.avgpool_forward, f), _avgpool_bwd_not_divided)
    assert "divide by the window size" in msg
    msg = assert_rejects(lambda f: chk.check_conv2d_backward(ref.conv2d_forward, f), _conv_bwd_db_axes((2, 3)))
    assert "db" in msg and "spatial axes only" in msg
    msg = assert_rejects(lambda f: chk.check_conv2d_backward(_conv_fwd_naive, f), _conv_bwd_stride_ignored)
    assert "stride" in msg
    msg = assert_rejects(lambda f: chk.check_maxpool_backward(_maxpool_fwd_sliding, f), _maxpool_bwd_assign)
    assert "+=" in msg
    msg = assert_rejects(chk.check_conv2d_forward, lambda *a: ref.conv2d_forward(*a)[0])
    assert "pair" in msg
    msg = assert_rejects(chk.check_conv2d_forward, _stub)
    assert "not implemented yet" in msg


def test_visible_only_runs_fewer_cases():
    calls = []

    def spy(*args):
        calls.append(1)
        return ref.conv2d_forward(*args)

    chk.check_conv2d_forward(spy, visible_only=True)
    n_visible = len(calls)
    calls.clear()
    chk.check_conv2d_forward(spy)
    assert 0 < n_visible < len(calls)


def test_checks_survive_monkeypatched_numpy(monkeypatch):
    monkeypatch.setattr(np, "allclose", lambda *a, **k: True)
    monkeypatch.setattr(np, "abs", lambda x: np.zeros_like(x))
    with pytest.raises(AssertionError):
        chk.check_conv2d_forward(_conv_true_convolution)


def test_checks_write_nothing_to_stderr(capfd):
    import warnings

    def noisy(x, w, b, s, p):
        warnings.warn("a warning from student code")
        np.log(np.zeros(1))  # a numpy RuntimeWarning
        return ref.conv2d_forward(x, w, b, s, p)

    chk.check_conv2d_forward(noisy)
    chk.check_maxpool_backward(ref.maxpool_forward, ref.maxpool_backward)
    assert capfd.readouterr().err == ""


@pytest.mark.parametrize("check, fn", [
    ("check_conv2d_forward", lambda x, w, b, s, p: (ref.conv2d_forward(x, w, b, s, p), x.fill(0))[0]),
    ("check_maxpool_forward", lambda x, size, s: (ref.maxpool_forward(x, size, s), x.fill(0))[0]),
    ("check_im2col", lambda x, kh, kw, s, p: (ref.im2col(x, kh, kw, s, p), x.fill(0))[0]),
])
def test_inputs_modified_in_place_are_rejected(check, fn):
    """Right values, but the input array is zeroed afterwards: only the in-place check can catch it."""
    msg = assert_rejects(getattr(chk, check), fn, name=check.replace("check_", ""))
    assert "modified in place" in msg
