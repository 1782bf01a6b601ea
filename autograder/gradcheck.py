"""Numerical gradients by centered differences, shared by every chapter.

    df/dx_i ~= (f(x + h e_i) - f(x - h e_i)) / (2h)      error O(h^2)

Used by the book to verify hand-written backward passes and by the checks to
report how far a student's gradient is from the truth.
"""
import numpy as np


def numerical_gradient(f, x, h=1e-5):
    """Gradient of a scalar function ``f`` at ``x`` by centered differences.

    f: callable taking an array shaped like x and returning a scalar.
    x: float array (any shape); it is perturbed in place and restored.
    Returns an array shaped like x.
    """
    x = np.asarray(x, dtype=np.float64)
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"])
    for _ in it:
        i = it.multi_index
        old = x[i]
        x[i] = old + h
        f_plus = float(f(x))
        x[i] = old - h
        f_minus = float(f(x))
        x[i] = old  # restore before the next coordinate
        grad[i] = (f_plus - f_minus) / (2 * h)
    return grad


def numerical_gradient_array(f, x, dout, h=1e-5):
    """Vector-Jacobian product ``sum(dout * d f(x) / dx)`` by centered differences.

    f: callable mapping an array shaped like x to an array shaped like dout.
    This is what a layer's backward pass must return for upstream gradient dout.
    """
    dout = np.asarray(dout, dtype=np.float64)
    return numerical_gradient(lambda z: np.sum(f(z) * dout), x, h=h)


def rel_error(a, b, floor=1e-8):
    """Largest elementwise relative error ``|a - b| / max(|a| + |b|, floor)``.

    Symmetric in a and b; the floor keeps entries that are both ~0 from
    dominating.  About 1e-7 or less means a backward pass agrees with its
    numerical gradient; 1e-2 or more means it is wrong.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.size == 0:
        return 0.0
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(a) + np.abs(b), floor)))
