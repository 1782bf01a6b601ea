"""Benchmark: the reference conv layer (im2col + one matrix product) against torch, float64, CPU.

One AlexNet-conv2-like layer: x (8, 96, 27, 27), 256 filters 5x5, padding 2, stride 1.
Times forward + backward (dx, dw, db) for
  * the reference ``conv2d_forward`` / ``conv2d_backward`` (numpy, im2col),
  * ``torch.nn.functional.conv2d`` + autograd (torch runs im2col + GEMM here too),
  * the naive loops (``conv2d_naive`` and a loop backward), on one image and scaled by N,
    just to show the size of the gap.
Both libraries get the same number of threads (default 1).  Best of ``--repeat`` runs.

    .venv/bin/python bench/cnn_conv.py [--threads 1] [--repeat 3]
"""
import argparse
import platform
import time

import numpy as np
import torch
import torch.nn.functional as F
from threadpoolctl import threadpool_limits

from autograder.reference import cnn

N, C, H, W, FILTERS, K, PAD = 8, 96, 27, 27, 256, 5, 2


def best_of(fn, repeat):
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def naive_backward(dout, x, w, stride, pad):
    """dx, dw, db by the same loops as the naive forward: every output touches one window."""
    Nn, _, Hh, Ww = x.shape
    Fo, _, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    dxp, dw = np.zeros_like(xp), np.zeros_like(w)
    for n in range(Nn):
        for f in range(Fo):
            for y in range(dout.shape[2]):
                for z in range(dout.shape[3]):
                    g = dout[n, f, y, z]
                    rows, cols = slice(y * stride, y * stride + kh), slice(z * stride, z * stride + kw)
                    dw[f] += g * xp[n, :, rows, cols]
                    dxp[n, :, rows, cols] += g * w[f]
    return dxp[:, :, pad:pad + Hh, pad:pad + Ww], dw, dout.sum(axis=(0, 2, 3))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skip-naive", action="store_true")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(N, C, H, W))
    w = rng.normal(scale=1 / np.sqrt(C * K * K), size=(FILTERS, C, K, K))
    b = rng.normal(size=FILTERS)
    dout = rng.normal(size=(N, FILTERS, H, W))

    def ours():
        out, cache = cnn.conv2d_forward(x, w, b, 1, PAD)
        return out, cnn.conv2d_backward(dout, cache)

    xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    dt = torch.tensor(dout)

    def theirs():
        for t in (xt, wt, bt):
            t.grad = None
        out = F.conv2d(xt, wt, bt, padding=PAD)
        out.backward(dt)
        return out

    with threadpool_limits(limits=args.threads):
        # same answers first, then time
        out, (dx, dw, db) = ours()
        out_t = theirs()
        err = max(np.abs(out - out_t.detach().numpy()).max(), np.abs(dx - xt.grad.numpy()).max(),
                  np.abs(dw - wt.grad.numpy()).max(), np.abs(db - bt.grad.numpy()).max())
        t_ours = best_of(ours, args.repeat)
        t_torch = best_of(theirs, args.repeat)
        t_naive = None
        if not args.skip_naive:
            x1, d1 = x[:1], dout[:1]
            t0 = time.perf_counter()
            cnn.conv2d_naive(x1, w, b, 1, PAD)
            naive_backward(d1, x1, w, 1, PAD)
            t_naive = (time.perf_counter() - t0) * N

    flops = 3 * 2 * N * H * W * FILTERS * C * K * K  # forward, dx and dw products
    print(f"conv layer x {(N, C, H, W)}, w {(FILTERS, C, K, K)}, pad {PAD}, float64, "
          f"{args.threads} thread(s), torch {torch.__version__}, numpy {np.__version__}, {platform.machine()}")
    print(f"largest difference reference vs torch: {err:.1e}")
    print(f"reference im2col  forward+backward: {t_ours * 1e3:8.1f} ms  ({flops / t_ours / 1e9:5.1f} GFLOP/s)")
    print(f"torch conv2d+autograd forward+backward: {t_torch * 1e3:8.1f} ms  ({flops / t_torch / 1e9:5.1f} GFLOP/s)")
    print(f"ratio reference / torch: {t_ours / t_torch:.2f}  (target <= 2)")
    if t_naive is not None:
        print(f"naive loops forward+backward (1 image, x{N}): {t_naive:8.1f} s  "
              f"= {t_naive / t_ours:.0f}x the im2col version")


if __name__ == "__main__":
    main()
