"""Batch norm forward + backward: the numpy reference against torch on the CPU.

    .venv/bin/python bench/normalization_bn.py [--repeats 7] [--threads 1]

Times one training-mode forward and its backward for x of shape (64, 64, 32, 32)
(4.2 M entries) and prints the best of ``--repeats`` runs for the float64 reference,
torch float64 (the like-for-like comparison) and torch float32.  Both libraries run
on ``--threads`` threads (numpy's elementwise code is single-threaded, so 1 is the
fair default).  The outputs are compared first, so the timed code is known correct.
Target: reference / torch-float64 <= 2.
"""
import argparse
import time

import numpy as np
import torch
import torch.nn.functional as F

from autograder.reference import normalization as ref

SHAPE = (64, 64, 32, 32)


def best_time(fn, repeats):
    fn()  # warm up: allocations, torch's first-call dispatch
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    rng = np.random.default_rng(0)
    c = SHAPE[1]
    x = rng.normal(loc=0.5, scale=2.0, size=SHAPE)
    dout = rng.normal(size=SHAPE)
    gamma, beta = rng.uniform(0.5, 2.0, size=c), rng.normal(size=c)
    rm, rv = np.zeros(c), np.ones(c)

    def run_reference():
        _, cache, _, _ = ref.batchnorm_forward(x, gamma, beta, rm, rv, train=True)
        return ref.batchnorm_backward(dout, cache)

    def torch_runner(dtype):
        tx = torch.tensor(x, dtype=dtype, requires_grad=True)
        tg = torch.tensor(gamma, dtype=dtype, requires_grad=True)
        tb = torch.tensor(beta, dtype=dtype, requires_grad=True)
        td = torch.tensor(dout, dtype=dtype)
        trm, trv = torch.zeros(c, dtype=dtype), torch.ones(c, dtype=dtype)

        def run():
            out = F.batch_norm(tx, trm, trv, tg, tb, training=True, momentum=0.1, eps=1e-5)
            return torch.autograd.grad(out, (tx, tg, tb), td)
        return run

    # correctness first: the timed reference agrees with torch
    for got, want in zip(run_reference(), torch_runner(torch.float64)()):
        np.testing.assert_allclose(got, want.numpy(), rtol=1e-8, atol=1e-10)

    t_ref = best_time(run_reference, args.repeats)
    t64 = best_time(torch_runner(torch.float64), args.repeats)
    t32 = best_time(torch_runner(torch.float32), args.repeats)
    print(f"batch norm forward + backward, x {SHAPE}, train mode, {args.threads} thread(s), "
          f"best of {args.repeats}")
    print(f"  reference (numpy float64)  {t_ref * 1e3:8.1f} ms")
    print(f"  torch float64              {t64 * 1e3:8.1f} ms   ratio reference/torch {t_ref / t64:5.2f}")
    print(f"  torch float32              {t32 * 1e3:8.1f} ms   ratio reference/torch {t_ref / t32:5.2f}")
    verdict = "meets" if t_ref / t64 <= 2 else "misses"
    print(f"  target reference/torch-float64 <= 2: {verdict}")


if __name__ == "__main__":
    main()
