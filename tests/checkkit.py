"""Helpers for testing checks: a check must pass every correct variant and
fail every known mistake, with a message that names the function."""
import pytest


def assert_accepts(check, fn):
    """The check returns None (nbgrader reads a returned number as partial credit)."""
    assert check(fn) is None


def assert_rejects(check, fn, name=None, contains=None):
    """The check raises AssertionError whose message names the function."""
    with pytest.raises(AssertionError) as info:
        check(fn)
    msg = str(info.value)
    if name:
        assert msg.startswith(name), msg
    if contains:
        assert contains in msg, msg
    for leak in ("def ", "import ", "lambda", "ref.", "reference"):
        assert leak not in msg, f"message must not show source code: {msg}"
    return msg


def cases(table):
    """pytest.param per (check name, function name, function) row, with a readable id."""
    return [pytest.param(check, fn, id=f"{check}-{label}") for check, label, fn in table]
