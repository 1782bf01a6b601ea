"""Checks for Chapter 8 (convolutional networks and AlexNet).

Each ``check_*`` takes the student's function(s), runs them on seeded cases
against :mod:`autograder.reference.cnn`, returns ``None`` on success and
raises ``AssertionError`` with an actionable message otherwise.
``visible_only=True`` runs the cases the notebook shows; the default runs
them all (the hidden tests do that).  A backward check takes the forward and
the backward function together: the cache goes from one to the other
untouched, so any cache layout works.

Pooling cases draw continuous random inputs, so no window has a tie for its
maximum; a max-pool backward that sends the gradient to every tied maximum is
accepted as well as torch's first-maximum rule.
"""
import numbers

import numpy as np

from autograder.reference import cnn as ref

from . import _core
from ._core import Case

_RTOL, _ATOL = 1e-4, 1e-5  # float32 arithmetic on sums of ~100 products passes comfortably


def _rng(seed):
    return np.random.default_rng(seed)


def _shape_label(x, w=None):
    return f"x {tuple(x.shape)}" + (f", w {tuple(w.shape)}" if w is not None else "")


def _same_shape(name, what, arr, expected_shape, at, hint):
    """Shape check with a hint of this chapter's own (the generic one talks about sums)."""
    if arr.shape != tuple(expected_shape):
        raise AssertionError(f"{name}: {what} has shape {arr.shape}, expected {tuple(expected_shape)} ({at})\n"
                             f"  hint: {hint}")


def _pair(name, got, what, at):
    """A forward pass returns (out, cache)."""
    if not isinstance(got, (tuple, list)) or len(got) != 2:
        raise AssertionError(
            f"{name}: return a pair ({what}, cache), got {_core.describe(got)} ({at})\n"
            "  hint: the cache is whatever the backward pass needs later, e.g. the input and the parameters."
        )
    return got


# ---------------------------------------------------------------- output size
_SIZE_CASES = [
    # n, k, stride, pad, visible
    (6, 2, 1, 1, True),     # the notes' quiz: 7
    (5, 3, 1, 0, True),
    (7, 2, 2, 0, True),     # (7 - 2) / 2 = 2.5: the floor matters
    (28, 5, 1, 2, True),
    (227, 11, 4, 0, False),
    (224, 11, 4, 0, False),  # 54.25 -> 54
    (8, 3, 2, 1, False),
    (10, 4, 3, 1, False),
    (13, 3, 2, 0, False),
    (5, 5, 1, 0, False),
    (4, 1, 1, 0, False),
    (9, 3, 3, 2, False),
]


def _size_hint(n, k, s, p, value):
    if value == (n + 2 * p - k) // s:
        return "you are one short: count the first window too, (n + 2*pad - k) // stride + 1."
    if value == -(-(n + 2 * p - k) // s) + 1:
        return "windows that would hang over the edge are dropped: round down, not up."
    if value == (n + p - k) // s + 1:
        return "padding adds pad cells on both sides, so the padded length is n + 2*pad."
    if value == (n + 2 * p - k) + 1:
        return "the window moves stride cells at a time: divide by the stride."
    return "count the positions of a k-cell window on n + 2*pad cells moving stride at a time: " \
           "(n + 2*pad - k) // stride + 1."


def check_conv_output_size(conv_output_size, visible_only=False):
    """conv_output_size(n, k, stride, pad) -> int, floor((n + 2 pad - k) / stride) + 1."""
    name = "conv_output_size"
    cases = [Case(f"n={n}, k={k}, stride={s}, pad={p}", (n, k, s, p), visible=v) for n, k, s, p, v in _SIZE_CASES]
    chosen = _core.select(cases, visible_only)
    for idx, case in enumerate(chosen):
        at = _core.where(idx, len(chosen), case)
        n, k, s, p = case.args
        expected = ref.conv_output_size(n, k, s, p)
        got = _core.call(name, conv_output_size, at, n, k, s, p)
        if isinstance(got, bool) or not isinstance(got, numbers.Real):
            raise AssertionError(f"{name}: return an int, got {_core.describe(got)} ({at})")
        if not isinstance(got, numbers.Integral):
            if float(got) == expected:
                raise AssertionError(
                    f"{name}: returned {float(got)!r}, a float; a size must be an int ({at})\n"
                    "  hint: use floor division //, which also rounds down where the windows do not fit exactly.")
            raise AssertionError(
                f"{name}: wrong size ({at})\n  expected  {expected}   got  {_core.fmt(got)}\n"
                "  hint: a non-integer size means the division was not rounded: use floor division //.")
        if int(got) != expected:
            raise AssertionError(
                f"{name}: wrong size ({at})\n  expected  {expected}   got  {int(got)}\n"
                f"  hint: {_size_hint(n, k, s, p, int(got))}")


# ---------------------------------------------------------------- im2col / col2im
def _im2col_cases():
    r = _rng(801)
    return [
        Case("x (1, 1, 4, 4), 2x2 window, stride 1, pad 0",
             (np.arange(16.0).reshape(1, 1, 4, 4), 2, 2, 1, 0)),
        Case("x (2, 3, 5, 5), 3x3 window, stride 1, pad 1", (r.normal(size=(2, 3, 5, 5)), 3, 3, 1, 1)),
        Case("x (2, 2, 7, 5), 3x2 window, stride 2, pad 1", (r.normal(size=(2, 2, 7, 5)), 3, 2, 2, 1),
             visible=False),
        Case("x (1, 3, 6, 6), 3x3 window, stride 3, pad 0", (r.normal(size=(1, 3, 6, 6)), 3, 3, 3, 0),
             visible=False),
        Case("x (3, 1, 5, 6), 2x3 window, stride 2, pad 2", (r.normal(size=(3, 1, 5, 6)), 2, 3, 2, 2),
             visible=False),
        Case("x (2, 4, 3, 3), 1x1 window", (r.normal(size=(2, 4, 3, 3)), 1, 1, 1, 0), visible=False),
    ]


def _layout_hint(x_shape, kh, kw, stride, pad, expected, got):
    """Name a recognisable wrong layout of the unrolled matrix, or None."""
    N, C, H, W = x_shape
    OH, OW = ref.conv_output_size(H, kh, stride, pad), ref.conv_output_size(W, kw, stride, pad)
    e6 = expected.reshape(N, OH, OW, C, kh, kw)
    shape = expected.shape
    candidates = [
        (e6.transpose(0, 1, 2, 4, 5, 3).reshape(shape),
         "your columns are ordered (i, j, c); order them (c, i, j) -- channel slowest -- so that they line "
         "up with w.reshape(C_out, -1)."),
        (e6[..., ::-1, ::-1].reshape(shape),
         "each window comes out flipped; copy it as it is (x_pad[n, c, s*y + i, s*z + j])."),
        (e6.transpose(1, 2, 0, 3, 4, 5).reshape(shape),
         "your rows are ordered (oh, ow, n); order them (n, oh, ow) -- image slowest."),
        (e6.transpose(0, 2, 1, 3, 4, 5).reshape(shape),
         "your rows run over ow before oh; within an image go row by row: (oh, ow) with ow fastest."),
    ]
    for alt, hint in candidates:
        if got.shape == alt.shape and np.allclose(got, alt, rtol=1e-4, atol=1e-5) and \
                not np.allclose(alt, expected):
            return hint
    return None


def check_im2col(im2col, visible_only=False):
    """im2col(x, kh, kw, stride, pad) -> (N*OH*OW, C*kh*kw), rows (n, oh, ow), columns (c, i, j)."""
    name = "im2col"
    chosen = _core.select(_im2col_cases(), visible_only)
    for idx, case in enumerate(chosen):
        at = _core.where(idx, len(chosen), case)
        x, kh, kw, s, p = case.args
        expected = ref.im2col(x, kh, kw, s, p)
        got = _core.call(name, im2col, at, x, kh, kw, s, p)
        arr = _core.as_array(name, "cols", got, at)
        if arr.shape != expected.shape:
            hint = ("it is transposed: one row per window (N*OH*OW rows), one column per (channel, kernel row, "
                    "kernel column) (C*kh*kw columns)." if arr.shape == expected.T.shape else
                    "one row per window position (N*OH*OW rows, with OH and OW from the output-size formula) and "
                    "one column per (channel, kernel row, kernel column) (C*kh*kw columns).")
            raise AssertionError(f"{name}: cols has shape {arr.shape}, expected {expected.shape} ({at})\n"
                                 f"  hint: {hint}")
        hint = _layout_hint(x.shape, kh, kw, s, p, expected, arr) or (
            "row (n, y, z), column (c, i, j) holds x_pad[n, c, stride*y + i, stride*z + j], x_pad being x with "
            "pad zeros on all four sides.")
        _core.assert_close(name, "cols", expected, arr, at, rtol=1e-5, atol=1e-6, hint=hint)
    x, kh, kw, s, p = _im2col_cases()[1].args
    _core.assert_inputs_unchanged(name, lambda x_: im2col(x_, kh, kw, s, p), x)


def _col2im_cases():
    r = _rng(802)
    cases = []
    for case in _im2col_cases():
        x, kh, kw, s, p = case.args
        rows = ref.im2col(x, kh, kw, s, p).shape
        cases.append(Case(case.label.replace("x (", "cols for x ("),
                          (r.normal(size=rows), x.shape, kh, kw, s, p), visible=case.visible))
    return cases


def check_col2im(col2im, visible_only=False):
    """col2im(cols, x_shape, kh, kw, stride, pad) -> the adjoint of im2col, overlaps summed."""
    name = "col2im"
    chosen = _core.select(_col2im_cases(), visible_only)
    for idx, case in enumerate(chosen):
        at = _core.where(idx, len(chosen), case)
        expected = ref.col2im(*case.args)
        got = _core.as_array(name, "the result", _core.call(name, col2im, at, *case.args), at)
        _same_shape(name, "the result", got, expected.shape, at,
                    "the result is shaped like x, (N, C, H, W): scatter onto the padded image, then cut the "
                    "padding off.")
        _core.assert_close(
            name, "the result", expected, got, at, rtol=1e-5, atol=1e-6,
            hint="add every row of cols back onto the window it came from -- where windows overlap, the values "
                 "add up (col2im is the adjoint of im2col, not its inverse) -- then cut the padding off.")


# ---------------------------------------------------------------- convolution
def _conv_cases():
    r = _rng(811)

    def case(label, xs, ws, stride, pad, visible=False):
        x, w, b = r.normal(size=xs), r.normal(size=ws), r.normal(size=ws[0])
        return Case(f"{_shape_label(x, w)}, stride {stride}, pad {pad}{label}", (x, w, b, stride, pad),
                    visible=visible)

    return [
        case("", (1, 1, 4, 4), (1, 1, 2, 2), 1, 0, visible=True),
        case("", (2, 3, 5, 5), (4, 3, 3, 3), 1, 1, visible=True),
        case(", non-square", (2, 2, 7, 6), (3, 2, 3, 2), 2, 1),
        case("", (1, 3, 8, 8), (2, 3, 5, 5), 3, 2),
        case(", 1x1 kernel", (3, 1, 6, 9), (2, 1, 1, 1), 1, 0),
        case(", non-square", (2, 4, 5, 7), (5, 4, 3, 3), 2, 0),
        case(", non-square", (2, 2, 6, 5), (3, 2, 2, 3), 2, 2),
    ]


def _conv_forward_hint(case, out):
    x, w, b, s, p = case.args
    if out.shape == (x.shape[0], w.shape[0]) + out.shape[2:]:
        if np.allclose(out, ref.conv2d_forward(x, w[:, :, ::-1, ::-1], b, s, p)[0], rtol=1e-4, atol=1e-5):
            return ("the kernel is flipped: deep-learning 'convolution' is cross-correlation, "
                    "out[n, f, y, z] = b[f] + sum over c, i, j of w[f, c, i, j] * x_pad[n, c, s*y + i, s*z + j].")
        if np.allclose(out, ref.conv2d_forward(x, w, 0 * b, s, p)[0], rtol=1e-4, atol=1e-5):
            return "add the bias b[f] to every output of filter f."
    return ("out[n, f, y, z] = b[f] + sum over c, i, j of w[f, c, i, j] * x_pad[n, c, stride*y + i, stride*z + j], "
            "with pad zeros on all four sides of x.")


def _check_conv_out(name, forward, case, at):
    x, w, b, s, p = case.args
    expected, _ = ref.conv2d_forward(x, w, b, s, p)
    got = _pair(name, _core.call(name, forward, at, x, w, b, s, p), "out", at)
    out = _core.as_array(name, "out", got[0], at)
    if out.shape != expected.shape:
        raise AssertionError(
            f"{name}: out has shape {out.shape}, expected {expected.shape} ({at})\n"
            "  hint: out is (N, C_out, OH, OW) with OH = (H + 2*pad - kh) // stride + 1 (and OW likewise); "
            "pad both sides of both spatial axes.")
    _core.assert_close(name, "out", expected, out, at, rtol=_RTOL, atol=_ATOL, hint=_conv_forward_hint(case, out))
    return got


def check_conv2d_forward(conv2d_forward, visible_only=False):
    """conv2d_forward(x, w, b, stride, pad) -> (out, cache), out as torch's F.conv2d."""
    name = "conv2d_forward"
    chosen = _core.select(_conv_cases(), visible_only)
    for idx, case in enumerate(chosen):
        _check_conv_out(name, conv2d_forward, case, _core.where(idx, len(chosen), case))
    x, w, b, s, p = _conv_cases()[1].args
    _core.assert_inputs_unchanged(name, conv2d_forward, x, w, b, s, p)


def _call_backward(name, backward, at, dout, cache):
    """Call backward(dout, cache) with a copy of dout and the student's own cache as it is.

    The cache is the student's and may hold objects that cannot be deep-copied (e.g. torch tensors
    inside an autograd graph), so it is not copied as ``_core.call`` would copy it.
    """
    return _core.call_uncopied(name, backward, at, (np.array(dout, copy=True), cache), {})


def _triple(name, got, at):
    if not isinstance(got, (tuple, list)) or len(got) != 3:
        raise AssertionError(f"{name}: return a triple (dx, dw, db), got {_core.describe(got)} ({at})")
    return got


def _db_hint(dout, db):
    sums = {(0,): "the batch axis only", (2, 3): "the spatial axes only", (0, 2): "axes 0 and 2",
            (1, 2, 3): "the wrong axes"}
    for axes, what in sums.items():
        alt = dout.sum(axis=axes)
        if alt.shape == db.shape and np.allclose(alt, db, rtol=1e-4, atol=1e-5):
            return f"you summed over {what}; db[f] sums dout[:, f, :, :] over the batch and both spatial axes."
    if db.shape == (dout.shape[1],) and np.allclose(db * dout.shape[0], dout.sum(axis=(0, 2, 3)), rtol=1e-4):
        return "sum over the batch, don't average: db[f] = sum of dout[:, f, :, :]."
    return "db[f] sums dout[:, f, :, :] over the batch and both spatial axes."


def check_conv2d_backward(conv2d_forward, conv2d_backward, visible_only=False):
    """conv2d_backward(dout, cache) -> (dx, dw, db), with cache from the student's conv2d_forward."""
    name = "conv2d_backward"
    chosen = _core.select(_conv_cases(), visible_only)
    r = _rng(812)
    for idx, case in enumerate(chosen):
        at = _core.where(idx, len(chosen), case)
        x, w, b, s, p = case.args
        out, cache = _check_conv_out("conv2d_forward", conv2d_forward, case, at)
        _, ref_cache = ref.conv2d_forward(x, w, b, s, p)
        dout = r.normal(size=np.shape(out))
        dx, dw, db = ref.conv2d_backward(dout, ref_cache)
        got = _triple(name, _call_backward(name, conv2d_backward, at, dout, cache), at)
        dx_arr = _core.as_array(name, "dx", got[0], at)
        _same_shape(name, "dx", dx_arr, x.shape, at,
                    "dx is shaped like x: accumulate on the padded input, then cut the padding off.")
        dw_arr = _core.as_array(name, "dw", got[1], at)
        _same_shape(name, "dw", dw_arr, w.shape, at, "dw is shaped like w, (C_out, C_in, kh, kw).")
        stride_note = (" With stride > 1 output (y, z) reads rows stride*y .. stride*y + kh - 1: use the stride "
                       "in the backward pass too." if s > 1 else "")
        _core.assert_close(
            name, "dx", dx, dx_arr, at, rtol=_RTOL, atol=_ATOL,
            hint="every dout[n, f, y, z] sends dout[n, f, y, z] * w[f] back onto the window of the padded input it "
                 "was computed from; sum where windows overlap, then cut the padding off." + stride_note)
        _core.assert_close(
            name, "dw", dw, dw_arr, at, rtol=_RTOL, atol=_ATOL,
            hint="dw[f, c, i, j] = sum over n, y, z of dout[n, f, y, z] * x_pad[n, c, stride*y + i, stride*z + j] "
                 "-- with im2col: (dout as an (N*OH*OW, C_out) matrix).T @ cols, reshaped like w." + stride_note)
        db_arr = _core.as_array(name, "db", got[2], at)
        if db_arr.shape != db.shape:
            raise AssertionError(f"{name}: db has shape {db_arr.shape}, expected {db.shape} ({at})\n"
                                 f"  hint: {_db_hint(dout, db_arr)}")
        _core.assert_close(name, "db", db, db_arr, at, rtol=_RTOL, atol=_ATOL, hint=_db_hint(dout, db_arr))


# ---------------------------------------------------------------- pooling
def _pool_cases():
    r = _rng(821)
    return [
        Case("x (1, 1, 4, 4), size 2, stride 2", (r.normal(size=(1, 1, 4, 4)), 2, 2)),
        Case("x (2, 3, 6, 6), size 2, stride 2", (r.normal(size=(2, 3, 6, 6)), 2, 2)),
        Case("x (2, 2, 7, 7), size 3, stride 2 (overlapping, as AlexNet)", (r.normal(size=(2, 2, 7, 7)), 3, 2),
             visible=False),
        Case("x (1, 2, 5, 8), size 2, stride 1 (overlapping)", (r.normal(size=(1, 2, 5, 8)), 2, 1), visible=False),
        Case("x (3, 1, 6, 9), size 3, stride 3", (r.normal(size=(3, 1, 6, 9)), 3, 3), visible=False),
        Case("x (2, 2, 5, 5), size 2, stride 2 (odd size: last row and column dropped)",
             (r.normal(size=(2, 2, 5, 5)), 2, 2), visible=False),
        Case("x (1, 2, 4, 6), every value negative", (r.normal(size=(1, 2, 4, 6)) - 10.0, 2, 2), visible=False),
    ]


def _check_pool_out(name, forward, reference, case, at, kind):
    x, size, stride = case.args
    expected, _ = reference(x, size, stride)
    got = _pair(name, _core.call(name, forward, at, x, size, stride), "out", at)
    out = _core.as_array(name, "out", got[0], at)
    if out.shape != expected.shape:
        raise AssertionError(
            f"{name}: out has shape {out.shape}, expected {expected.shape} ({at})\n"
            "  hint: OH = (H - size) // stride + 1 (and OW likewise), channels and batch unchanged; windows "
            "that would hang over the edge are dropped.")
    what = "the largest value" if kind == "max" else "the mean"
    _core.assert_close(name, "out", expected, out, at, rtol=_RTOL, atol=_ATOL,
                       hint=f"out[n, c, y, z] is {what} of x[n, c, stride*y : stride*y + size, "
                            "stride*z : stride*z + size], for each channel separately.")
    return got


def check_maxpool_forward(maxpool_forward, visible_only=False):
    """maxpool_forward(x, size, stride) -> (out, cache), out as torch's F.max_pool2d."""
    name = "maxpool_forward"
    chosen = _core.select(_pool_cases(), visible_only)
    for idx, case in enumerate(chosen):
        _check_pool_out(name, maxpool_forward, ref.maxpool_forward, case, _core.where(idx, len(chosen), case), "max")
    _core.assert_inputs_unchanged(name, maxpool_forward, *_pool_cases()[1].args)


def _check_pool_backward(name, fwd_name, forward, backward, reference_fwd, reference_bwd, kind, visible_only, hint):
    chosen = _core.select(_pool_cases(), visible_only)
    r = _rng(822)
    for idx, case in enumerate(chosen):
        at = _core.where(idx, len(chosen), case)
        x, size, stride = case.args
        out, cache = _check_pool_out(fwd_name, forward, reference_fwd, case, at, kind)
        dout = r.normal(size=np.shape(out))
        expected = reference_bwd(dout, reference_fwd(x, size, stride)[1])
        got = _call_backward(name, backward, at, dout, cache)
        dx = _core.as_array(name, "dx", got, at)
        _same_shape(name, "dx", dx, x.shape, at, "dx is shaped like x; inputs that no window covers get 0.")
        specific = hint(case, dout, expected, dx)
        _core.assert_close(name, "dx", expected, dx, at, rtol=_RTOL, atol=_ATOL, hint=specific)


def _maxpool_hint(case, dout, expected, dx):
    x, size, stride = case.args
    base = ("only the position that held the maximum of a window receives that window's gradient; every other "
            "input of the window gets 0.")
    if dx.shape == expected.shape and stride < size:
        return base + " Here windows overlap (stride < size): an input that is the maximum of two windows " \
                      "receives both gradients -- add them (+=), don't overwrite."
    return base


def check_maxpool_backward(maxpool_forward, maxpool_backward, visible_only=False):
    """maxpool_backward(dout, cache) -> dx, with cache from the student's maxpool_forward."""
    _check_pool_backward("maxpool_backward", "maxpool_forward", maxpool_forward, maxpool_backward,
                         ref.maxpool_forward, ref.maxpool_backward, "max", visible_only, _maxpool_hint)


def _avgpool_hint(case, dout, expected, dx):
    x, size, stride = case.args
    if dx.shape == expected.shape and np.allclose(dx, expected * size * size, rtol=1e-4, atol=1e-5):
        return f"divide by the window size: each of the size*size = {size * size} inputs gets dout / {size * size}."
    if dx.shape == expected.shape and np.allclose(dx, expected * size, rtol=1e-4, atol=1e-5):
        return f"a window holds size*size = {size * size} inputs: divide by {size * size}, not by {size}."
    base = "every input of a window receives dout / (size*size) from that window; inputs outside every window get 0."
    if stride < size:
        base += " Windows overlap here (stride < size): add the contributions (+=), don't overwrite."
    return base


def check_avgpool_backward(avgpool_forward, avgpool_backward, visible_only=False):
    """avgpool_backward(dout, cache) -> dx, with cache from the student's avgpool_forward."""
    _check_pool_backward("avgpool_backward", "avgpool_forward", avgpool_forward, avgpool_backward,
                         ref.avgpool_forward, ref.avgpool_backward, "mean", visible_only, _avgpool_hint)


# ---------------------------------------------------------------- the student's conv net learns
def check_convnet_trains(conv2d_forward, conv2d_backward, maxpool_forward, maxpool_backward,
                         epochs=2, min_accuracy=0.95):
    """Train conv(8 filters 3x3) - ReLU - maxpool 2x2 - dense on 8x8 digits with the student's layers.

    With correct layers this seeded run reaches 0.97 test accuracy; frozen conv filters (zero
    gradients) reach 0.93 and a wrong-signed gradient diverges.
    """
    name = "convnet"
    x_train, x_test, y_train, y_test = ref.load_digits_images(size=8, test_size=0.25, seed=0)
    params = ref.init_convnet(_rng(831), in_shape=(1, 8, 8), n_filters=8)
    layers = dict(conv_forward=conv2d_forward, conv_backward=conv2d_backward,
                  pool_forward=maxpool_forward, pool_backward=maxpool_backward)
    at = f"{epochs} epochs of SGD on {len(x_train)} digits"
    trained, losses = _core.call(name, ref.train_convnet, at, params, x_train, y_train, _rng(832),
                                 epochs=epochs, **layers)
    scores = _core.call(name, ref.convnet_scores, "predicting the test digits", trained, x_test,
                        conv_forward=conv2d_forward, pool_forward=maxpool_forward)
    acc = float(np.mean(np.argmax(np.asarray(scores), axis=1) == y_test))
    if not np.isfinite(losses[-1]) or acc < min_accuracy:
        raise AssertionError(
            f"{name}: the conv net reached test accuracy {acc:.3f} (final loss {_core.fmt(losses[-1])}) after {at}; "
            f"expected at least {min_accuracy}\n"
            "  hint: run check_conv2d_backward and check_maxpool_backward first -- training fails when a gradient "
            "is wrong.")


# ---------------------------------------------------------------- quiz
def _ints(got):
    """A number or a sequence of numbers as a tuple of ints, or None."""
    if isinstance(got, (str, bytes)) or (isinstance(got, (tuple, list)) and any(isinstance(v, str) for v in got)):
        return None
    try:
        vals = tuple(np.atleast_1d(np.asarray(got, dtype=np.float64)).ravel())
    except (TypeError, ValueError):
        return None
    if not vals or any(v != int(v) for v in vals):
        return None
    return tuple(int(v) for v in vals)


def check_quiz_output_size(answer):
    """The notes' quiz: a 6x6 image, a 2x2 filter, stride 1, padding 1 -> 7 (a 7x7 output)."""
    if answer is None or answer is Ellipsis:
        raise AssertionError("quiz_output_size: not answered yet -- replace `None` with your answer.")
    vals = _ints(answer)
    if vals not in {(7,), (7, 7)}:
        raise AssertionError(
            f"quiz_output_size: {repr(answer)[:40]} is not right (give a number or a pair of numbers).\n"
            "  hint: (n + 2*pad - k) // stride + 1 with n = 6, k = 2, pad = 1, stride = 1; give the side length "
            "(an int) or the shape (height, width).")


def check_quiz_alexnet_pool5(answer):
    """AlexNet on a 3x227x227 image: pool5's output shape (C, H, W) = (256, 6, 6)."""
    if answer is None or answer is Ellipsis:
        raise AssertionError("quiz_alexnet_pool5: not answered yet -- replace `None` with your answer.")
    expected = dict((n, s) for n, s, _ in ref.alexnet_layers())["pool5"]
    if _ints(answer) != tuple(expected):
        raise AssertionError(
            f"quiz_alexnet_pool5: {repr(answer)[:40]} is not right (give three numbers).\n"
            "  hint: give (channels, height, width). Follow the size layer by layer: conv1 11x11 stride 4, then "
            "3x3 max-pools with stride 2 after conv1, conv2 and conv5; conv2 to conv5 are padded to keep the size; "
            "conv5 has 256 filters.")
