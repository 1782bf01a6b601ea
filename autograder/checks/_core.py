"""Machinery shared by every chapter's checks.

A check runs a student's function on small seeded cases, compares with the
reference and, on the first difference, raises ``AssertionError`` with a
message a student can act on::

    sigmoid_grad: values do not match (case 2 of 4: x (3, 4), large |x|)
      largest error at [1, 2]: relative 5.0e-01  (tolerance rtol=1e-05, atol=1e-08)
      expected  0.1966   got  0.3932
      hint: ...

Contract kept by every check (nbgrader depends on it):
* return ``None`` on success (a returned number would be read as partial credit);
* write nothing to stderr (nbgrader scores a test cell with stderr output 0):
  warnings raised inside the student's code are silenced;
* never show the reference's source, only values.

The numpy and builtin functions used for comparing are bound here, at import,
so a notebook that later rebinds ``np.allclose`` or ``np.abs`` does not change
how it is judged.
"""
import copy as _copy_module
import traceback as _traceback
import warnings as _warnings
from dataclasses import dataclass, field

import numpy as _np

# Bound at import: later monkeypatching of numpy's module attributes does not reach these.
_asarray = _np.asarray
_abs = _np.abs
_isfinite = _np.isfinite
_argmax = _np.argmax
_unravel_index = _np.unravel_index
_maximum = _np.maximum
_array_equal = _np.array_equal
_errstate = _np.errstate
_float64 = _np.float64
_ndarray = _np.ndarray
_deepcopy = _copy_module.deepcopy
_isinstance = isinstance
_len = len
_callable = callable
_float = float
_repr = repr
_type = type


@dataclass
class Case:
    """One input for a check: a short label, the arguments, and whether the
    visible (student-run) test uses it or only the full, hidden run."""

    label: str
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    visible: bool = True


def select(cases, visible_only):
    """The cases a run uses: all of them, or the visible ones only."""
    chosen = [c for c in cases if c.visible or not visible_only]
    return chosen


def cases_to_run(cases, visible_only):
    """[(label, case)] for the cases a run uses; the label says 'case k of n: ...' for messages."""
    chosen = select(cases, visible_only)
    return [(where(k, _len(chosen), case), case) for k, case in enumerate(chosen)]


def where(k, n, case):
    """'case 2 of 4: x (3, 4)' -- the position of a case in its run."""
    return f"case {k + 1} of {n}: {case.label}"


def fmt(v):
    """A number, short."""
    try:
        return f"{_float(v):.6g}"
    except (TypeError, ValueError):
        return _repr(v)[:60]


def describe(value):
    """Type and shape of a value, for messages."""
    if _isinstance(value, _ndarray):
        return f"ndarray of shape {value.shape}, dtype {value.dtype}"
    if _isinstance(value, (list, tuple)):
        return f"{_type(value).__name__} of length {_len(value)}"
    return _type(value).__name__


def _student_line(exc):
    """The last line of the traceback that lies in notebook code, if any."""
    frames = _traceback.extract_tb(exc.__traceback__)
    for fr in reversed(frames):
        path = fr.filename.replace("\\", "/")
        if "/autograder/" not in path and fr.line:
            return f"line {fr.lineno}: {fr.line.strip()}"
    return None


def call(name, fn, case_where, *args, **kwargs):
    """Call the student's function with deep copies of the arguments.

    Translates the ways a call can go wrong into messages: a stub that still
    raises NotImplementedError, any other exception (with the offending
    line), or something that is not a function at all.
    """
    return call_uncopied(name, fn, case_where, _deepcopy(args), _deepcopy(kwargs))


def call_uncopied(name, fn, case_where, args, kwargs):
    """Like :func:`call`, but the arguments are passed as they are: for a student's own cache, which
    may hold objects that cannot be copied (torch tensors in an autograd graph)."""
    if not _callable(fn):
        raise AssertionError(f"{name}: expected a function, got {describe(fn)}.")
    try:
        with _warnings.catch_warnings():
            _warnings.simplefilter("ignore")
            with _errstate(all="ignore"):
                return fn(*args, **kwargs)
    except NotImplementedError:
        raise AssertionError(
            f"{name}: not implemented yet -- replace `raise NotImplementedError()` with your code."
        ) from None
    except Exception as exc:  # the student's bug, reported rather than re-raised
        line = _student_line(exc)
        msg = f"{name} raised {_type(exc).__name__}: {exc} ({case_where})"
        if line:
            msg += f"\n  at {line}"
        raise AssertionError(msg) from None


def assert_inputs_unchanged(name, fn, *args):
    """Call fn on the arguments themselves (no copy) and check none was modified in place."""
    before = _deepcopy(args)
    call_uncopied(name, fn, "inputs must not be modified", args, {})
    _unchanged(name, before, args)


def _unchanged(name, before, after):
    for i, (b, a) in enumerate(zip(before, after)):
        if _isinstance(b, _ndarray) and not _array_equal(a, b):
            raise AssertionError(
                f"{name}: an input array was modified in place\n"
                "  hint: work on a copy (e.g. `g * scale`, `np.clip(g, ...)`, `w - lr * dw`) instead of "
                "writing into the array you were given."
            )
        if _isinstance(b, (list, tuple)):
            _unchanged(name, b, a)


def as_array(name, what, got, case_where, expected_shape=None):
    """Convert a returned value to a float64 array or explain why it can't be."""
    if got is None:
        raise AssertionError(
            f"{name}: {what} is None ({case_where})\n"
            "  hint: did you forget the `return` statement?"
        )
    try:
        with _warnings.catch_warnings():
            _warnings.simplefilter("ignore")
            arr = _asarray(got, dtype=_float64)
    except Exception:
        raise AssertionError(
            f"{name}: {what} should be a numpy array of numbers, got {describe(got)} ({case_where})"
        ) from None
    if expected_shape is not None and arr.shape != tuple(expected_shape):
        raise AssertionError(
            f"{name}: {what} has shape {arr.shape}, expected {tuple(expected_shape)} ({case_where})\n"
            "  hint: check which axis you sum or average over, and that you kept every element."
        )
    return arr


def assert_close(name, what, expected, got, case_where, rtol=1e-5, atol=1e-8, hint=None):
    """Compare arrays elementwise: |got - expected| <= atol + rtol * |expected|.

    Shape first, then non-finite values, then the largest violation.
    """
    expected = _asarray(expected, dtype=_float64)
    arr = as_array(name, what, got, case_where, expected.shape)
    with _errstate(all="ignore"):
        finite_exp = _isfinite(expected)
        bad_finite = finite_exp & ~_isfinite(arr)
        if bad_finite.any():
            idx = _unravel_index(_argmax(bad_finite), arr.shape) if arr.ndim else ()
            msg = (
                f"{name}: {what} contains {fmt(arr[idx])} where a finite number was expected "
                f"({case_where})\n  at index {[int(i) for i in idx]}: expected {fmt(expected[idx])}"
            )
            msg += "\n  hint: " + (hint or "look for an overflow (exp of a large number) or a division by zero.")
            raise AssertionError(msg)
        err = _abs(arr - expected)
        tol = atol + rtol * _abs(expected)
        excess = _np.where(finite_exp, err - tol, 0.0)
    if (excess > 0).any():
        idx = _unravel_index(_argmax(excess), arr.shape) if arr.ndim else ()
        at = f" at {[int(i) for i in idx]}" if arr.ndim else ""
        if expected[idx] != 0:
            size = f"relative {err[idx] / _abs(expected[idx]):.1e}"
        else:
            size = f"absolute {err[idx]:.1e}"
        msg = (
            f"{name}: wrong values in {what} ({case_where})\n"
            f"  largest error{at}: {size}  (tolerance rtol={rtol:g}, atol={atol:g})\n"
            f"  expected  {fmt(expected[idx])}   got  {fmt(arr[idx])}"
        )
        if hint:
            msg += f"\n  hint: {hint}"
        raise AssertionError(msg)


def assert_sequence(name, what, got, n, case_where):
    """A list or tuple of n items (e.g. one clipped array per parameter)."""
    if not _isinstance(got, (list, tuple)):
        raise AssertionError(
            f"{name}: {what} should be a list with one array per input array, got {describe(got)} ({case_where})"
        )
    if _len(got) != n:
        raise AssertionError(
            f"{name}: {what} has {_len(got)} items, expected {n} -- one per input array ({case_where})"
        )


def run_elementwise(name, student, reference, cases, visible_only, rtol=1e-5, atol=1e-8, hint=None):
    """The common check: student(*args) must equal reference(*args) on every case."""
    for at, case in cases_to_run(cases, visible_only):
        expected = reference(*case.args, **case.kwargs)
        got = call(name, student, at, *case.args, **case.kwargs)
        assert_close(name, "the result", expected, got, at, rtol=rtol, atol=atol, hint=hint)


def check_answer(name, got, accepted, hint, rtol=1e-6, atol=1e-9):
    """A quiz answer: a number compared with tolerance, or a choice compared exactly."""
    if got is None or got is Ellipsis:
        raise AssertionError(f"{name}: not answered yet -- replace `None` with your answer.")
    if _isinstance(accepted, (int, float)) and not _isinstance(accepted, bool):
        try:
            value = _float(got)
        except (TypeError, ValueError):
            raise AssertionError(f"{name}: the answer should be a number, got {describe(got)}.") from None
        if abs(value - accepted) > atol + rtol * abs(accepted):
            raise AssertionError(f"{name}: {fmt(value)} is not right.\n  hint: {hint}")
        return
    if got != accepted:
        raise AssertionError(f"{name}: {_repr(got)[:40]} is not right.\n  hint: {hint}")
