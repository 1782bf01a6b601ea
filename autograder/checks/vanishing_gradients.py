"""Checks for Chapter 1 (vanishing and exploding gradients).

Each ``check_*`` takes the student's function, runs it on seeded cases
against :mod:`autograder.reference.vanishing_gradients`, returns ``None`` on
success and raises ``AssertionError`` with an actionable message otherwise.
``visible_only=True`` runs the cases the notebook shows; the default runs
them all (the hidden tests do that).
"""
import numpy as np

from autograder.reference import vanishing_gradients as ref

from . import _core
from ._core import Case


def _rng(seed):
    return np.random.default_rng(seed)


# ---------------------------------------------------------------- activations
def _activation_cases():
    r = _rng(101)
    return [
        Case("x = [-2, -1, 0, 1, 2]", (np.array([-2.0, -1.0, 0.0, 1.0, 2.0]),)),
        Case("x (3, 4) standard normal", (r.normal(size=(3, 4)),)),
        Case("x (2, 3, 2) with |x| up to 8", (r.uniform(-8, 8, size=(2, 3, 2)),), visible=False),
        Case("large |x|: [-700, -50, -20, 20, 50, 700]",
             (np.array([-700.0, -50.0, -20.0, 20.0, 50.0, 700.0]),), visible=False),
        Case("x = 0.0 (a plain float)", (0.0,), visible=False),
    ]


def check_sigmoid_grad(sigmoid_grad, visible_only=False):
    """sigmoid_grad(x) must equal sigma(x) (1 - sigma(x)) elementwise."""
    _core.run_elementwise(
        "sigmoid_grad", sigmoid_grad, ref.sigmoid_grad, _activation_cases(), visible_only,
        rtol=1e-5, atol=1e-6,
        hint="the derivative is sigma(x) * (1 - sigma(x)); apply the formula to sigma(x), not to x. "
             "At x = 0 it is 0.25.",
    )


def check_tanh_grad(tanh_grad, visible_only=False):
    """tanh_grad(x) must equal 1 - tanh(x)**2 elementwise."""
    _core.run_elementwise(
        "tanh_grad", tanh_grad, ref.tanh_grad, _activation_cases(), visible_only,
        rtol=1e-5, atol=1e-6,
        hint="the derivative is 1 - tanh(x)**2 (squared, and of tanh(x), not of x). At x = 0 it is 1.",
    )


def check_relu_grad(relu_grad, visible_only=False):
    """relu_grad(x) must be 1 where x > 0 and 0 elsewhere (0 at x = 0, as torch)."""
    r = _rng(102)
    cases = _activation_cases() + [
        Case("x with exact zeros [0, 0, 1e-12, -1e-12]", (np.array([0.0, 0.0, 1e-12, -1e-12]),), visible=False),
        Case("x (4, 4) integers in [-2, 2]", (r.integers(-2, 3, size=(4, 4)).astype(float),), visible=False),
    ]
    _core.run_elementwise(
        "relu_grad", relu_grad, ref.relu_grad, cases, visible_only, rtol=0, atol=1e-12,
        hint="the derivative is 1 where x > 0 and 0 where x <= 0 -- at exactly x = 0 use 0, as torch does. "
             "Return the derivative, not relu(x) itself.",
    )


# ---------------------------------------------------------------- deep MLP
def _mlp_case(seed, label, n, widths, activation, scale, visible):
    r = _rng(seed)
    x = r.normal(size=(n, widths[0]))
    weights = [r.normal(scale=scale / np.sqrt(widths[i]), size=(widths[i + 1], widths[i]))
               for i in range(len(widths) - 1)]
    return Case(label, (x, weights, activation), visible=visible)


def _mlp_cases():
    return [
        _mlp_case(201, "sigmoid, 3 layers, x (5, 4), widths 4-4-4-4", 5, [4, 4, 4, 4], "sigmoid", 1.0, True),
        _mlp_case(202, "relu, 4 layers, x (6, 3), widths 3-5-4-6-2", 6, [3, 5, 4, 6, 2], "relu", 1.5, True),
        _mlp_case(203, "tanh, 4 layers, x (5, 6), widths 6-3-7-5-4", 5, [6, 3, 7, 5, 4], "tanh", 1.2, False),
        _mlp_case(204, "sigmoid, 10 layers, x (8, 6), width 6", 8, [6] * 11, "sigmoid", 1.0, False),
        _mlp_case(205, "relu, 12 layers, x (4, 5), width 5", 4, [5] * 13, "relu", 1.4, False),
        _mlp_case(206, "tanh, 1 layer, x (3, 2), widths 2-3", 3, [2, 3], "tanh", 1.0, False),
    ]


def _mlp_hint(expected, got, case):
    """Name the likely mistake when the wrong answer has a recognisable shape."""
    x = case.args[0]
    got = np.asarray(got, dtype=float)
    if got.shape == expected.shape and got.size > 1 and np.allclose(got[::-1], expected, rtol=1e-4):
        return "your norms come out last layer first; return them first layer first."
    if got.shape == expected.shape and np.allclose(got, expected * x.shape[0], rtol=1e-4):
        return "the loss is averaged over the batch: dLoss/dh_L = h_L / N."
    return ("backpropagate through every layer: delta_l = dLoss/dh_l * f'(a_l) at the pre-activation a_l, "
            "dW_l = delta_l.T @ h_{l-1}, dLoss/dh_{l-1} = delta_l @ W_l.")


def check_mlp_grad_norms(mlp_grad_norms, visible_only=False):
    """mlp_grad_norms(x, weights, activation) -> per-layer ||dLoss/dW_l||, first layer first."""
    name = "mlp_grad_norms"
    for at, case in _core.cases_to_run(_mlp_cases(), visible_only):
        expected = ref.mlp_grad_norms(*case.args)
        got = _core.call(name, mlp_grad_norms, at, *case.args)
        arr = _core.as_array(name, "the result", got, at)
        if arr.shape != expected.shape:
            raise AssertionError(
                f"{name}: the result has shape {arr.shape}, expected {expected.shape} -- one norm per layer ({at})"
            )
        _core.assert_close(name, "the norms", expected, arr, at, rtol=1e-4, atol=1e-12,
                           hint=_mlp_hint(expected, arr, case))


# ---------------------------------------------------------------- clipping
def _grad_list(seed, shapes, scale):
    r = _rng(seed)
    return [r.normal(scale=scale, size=s) for s in shapes]


def _clip_value_cases():
    return [
        Case("2 arrays (3,) and (2, 2), clip_value 0.5",
             (_grad_list(301, [(3,), (2, 2)], 1.0), 0.5)),
        Case("values exactly at +-1, clip_value 1.0",
             ([np.array([-2.0, -1.0, 0.0, 1.0, 2.0])], 1.0)),
        Case("3 arrays (4, 3), (3,), (2, 2, 2), clip_value 0.1",
             (_grad_list(302, [(4, 3), (3,), (2, 2, 2)], 0.3), 0.1), visible=False),
        Case("nothing to clip, clip_value 100", (_grad_list(303, [(5,)], 1.0), 100.0), visible=False),
    ]


def check_clip_by_value(clip_by_value, visible_only=False):
    """clip_by_value(grads, c) -> list of arrays with every entry clamped to [-c, c]."""
    name = "clip_by_value"
    for at, case in _core.cases_to_run(_clip_value_cases(), visible_only):
        grads, c = case.args
        expected = ref.clip_by_value(grads, c)
        got = _core.call(name, clip_by_value, at, grads, c)
        _core.assert_sequence(name, "the result", got, len(grads), at)
        for i, (e, g) in enumerate(zip(expected, got)):
            _core.assert_close(name, f"array {i}", e, g, at, rtol=1e-6, atol=1e-12,
                               hint="clamp both sides: entries above c become c and entries below -c become -c.")
    _core.assert_inputs_unchanged(name, clip_by_value, _grad_list(304, [(3, 2), (4,)], 2.0), 0.5)


def _clip_norm_cases():
    return [
        Case("2 arrays of different size, global norm ~3.4 > max_norm 1.0",
             ([np.array([1.0, -2.0]), np.array([[0.5, 2.0], [-1.0, 1.0]])], 1.0)),
        Case("global norm ~0.55 < max_norm 1.0 (nothing to do)",
             ([np.array([0.3, -0.4]), np.array([0.2])], 1.0)),
        Case("3 arrays (4, 3), (3,), (2, 2, 2), max_norm 0.5",
             (_grad_list(311, [(4, 3), (3,), (2, 2, 2)], 1.0), 0.5), visible=False),
        Case("1 array (10,) far below max_norm 50",
             (_grad_list(312, [(10,)], 1.0), 50.0), visible=False),
        Case("one large and one tiny array, max_norm 2.0",
             ([np.array([30.0, -40.0]), np.array([1e-3, 2e-3, -1e-3])], 2.0), visible=False),
    ]


def check_clip_by_global_norm(clip_by_global_norm, visible_only=False):
    """clip_by_global_norm(grads, max_norm) -> (clipped list, global norm before clipping)."""
    name = "clip_by_global_norm"
    for at, case in _core.cases_to_run(_clip_norm_cases(), visible_only):
        grads, max_norm = case.args
        expected, expected_norm = ref.clip_by_global_norm(grads, max_norm)
        got = _core.call(name, clip_by_global_norm, at, grads, max_norm)
        if not isinstance(got, (tuple, list)) or len(got) != 2:
            raise AssertionError(
                f"{name}: return a pair (clipped, total_norm), got {_core.describe(got)} ({at})")
        clipped, norm = got
        _core.assert_close(
            name, "total_norm", expected_norm, norm, at, rtol=1e-5, atol=1e-9,
            hint="total_norm is sqrt of the sum of squares of every entry of every array, "
                 "measured before clipping.")
        _core.assert_sequence(name, "the clipped gradients", clipped, len(grads), at)
        for i, (e, g) in enumerate(zip(expected, clipped)):
            _core.assert_close(
                name, f"clipped array {i}", e, g, at, rtol=1e-5, atol=1e-9,
                hint="use one scale for all arrays, max_norm / total_norm, and only when total_norm "
                     "exceeds max_norm; otherwise return the gradients unchanged.")
    _core.assert_inputs_unchanged(name, clip_by_global_norm, _grad_list(313, [(3, 2), (4,)], 2.0), 0.5)


# ---------------------------------------------------------------- quiz
def check_quiz_sigmoid_max(answer):
    """The largest value of the sigmoid's derivative."""
    _core.check_answer("sigmoid_max", answer, 0.25,
                       hint="sigma'(x) = sigma(x)(1 - sigma(x)) is largest where sigma(x) = 1/2.")


def check_quiz_chain_rule(dz_dx, visible_only=False):
    """dz_dx(x, y) for z = t**2, t = x + y, i.e. 2 (x + y)."""
    cases = [Case("x = 1, y = 2", (1.0, 2.0)), Case("x = -3, y = 0.5", (-3.0, 0.5)),
             Case("x = 0, y = 0", (0.0, 0.0), visible=False), Case("x = 2.5, y = -4", (2.5, -4.0), visible=False)]
    _core.run_elementwise(
        "dz_dx", dz_dx, lambda x, y: 2.0 * (x + y), cases, visible_only, rtol=1e-9, atol=1e-12,
        hint="dz/dx = dz/dt * dt/dx; write dz/dt in terms of t, then substitute t = x + y.")
