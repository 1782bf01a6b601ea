"""Checks for Chapter 3 (optimizers and learning-rate schedules).

Each ``check_*`` takes the student's function, runs it on seeded cases
against :mod:`autograder.reference.optimizers`, returns ``None`` on success
and raises ``AssertionError`` with an actionable message otherwise.
``visible_only=True`` runs the cases the notebook shows; the default runs
them all (the hidden tests do that).

An optimizer ``step(w, dw, state, **hyperparameters) -> (w_next, state)`` is
judged only by the trajectory of ``w``: the check starts from ``state = {}``,
feeds a fixed sequence of gradients, passes back whatever state the student
returned, and compares ``w`` after every step.  What the state contains is the
student's business.  Positions are compared with a tolerance relative to how
far ``w`` travelled in the case (``TRAVEL_TOL``), plus a small tolerance
relative to ``w`` itself for float32 rounding.

A schedule ``f(t, ...) -> lr`` is judged by its value at every step
``t = 0, 1, ...`` of a horizon.

Generic helper written here (not in ``_core``): ``run_trajectory`` for
stateful step functions and ``run_schedule`` for functions of the step;
both name the first step that is wrong and, where the wrong values match a
known mistake, say which.
"""
import numpy as np

from autograder.reference import optimizers as ref

from . import _core
from ._core import Case

# Bound at import, as in _core: a notebook that rebinds np.abs or np.allclose does not change a verdict.
_abs = np.abs
_asarray = np.asarray
_array = np.array
_allclose = np.allclose
_isfinite = np.isfinite
_argmax = np.argmax
_errstate = np.errstate
_float64 = np.float64

TRAVEL_TOL = 1e-3  # |w_t - expected| <= TRAVEL_TOL * (largest distance w moved in the case) + W_RTOL * |expected|
W_RTOL = 1e-5


def _rng(seed):
    return np.random.default_rng(seed)


# ================================================================ optimizer trajectories
def _gradients(seed, shape, n, scale=1.0, drop_at=None, drift=0.0):
    """n gradients N(drift, scale^2); after ``drop_at`` steps they shrink a hundredfold."""
    r = _rng(seed)
    gs = []
    for t in range(n):
        s = scale if drop_at is None or t < drop_at else scale / 100.0
        gs.append(s * (drift + r.normal(size=shape)))
    return gs


def _start(seed, shape):
    return _rng(seed).normal(size=shape)


def _optimizer_cases(seed, hp_visible, hp_hidden, weight_decay=None):
    """Five or six cases: defaults and given hyperparameters, visible and hidden.

    The hidden ones add: many steps with gradients that shrink a hundredfold half-way (this separates
    a long second-moment memory from a short one), small gradients (where eps matters), and,
    for optimizers that take one, a weight-decay case.
    """
    def label(hp):
        return ", ".join(f"{k}={v:g}" for k, v in hp.items()) if hp else "default hyperparameters"

    cases = [
        Case(f"{label({})}, w (4,), 20 steps", (_start(seed, (4,)), _gradients(seed + 1, (4,), 20))),
        Case(f"{label(hp_visible)}, w (2, 3), 20 steps",
             (_start(seed + 2, (2, 3)), _gradients(seed + 3, (2, 3), 20, drift=0.5)), hp_visible),
        Case(f"{label({})}, w (3, 2), 200 steps, gradients 100x smaller after step 100",
             (_start(seed + 4, (3, 2)), _gradients(seed + 5, (3, 2), 200, drop_at=100)), visible=False),
        Case(f"{label(hp_hidden)}, w (5,), 40 steps",
             (_start(seed + 6, (5,)), _gradients(seed + 7, (5,), 40, scale=3.0, drift=0.3)), hp_hidden,
             visible=False),
        # eps matters here; the looser tolerance admits Kingma & Ba's ordering, whose eps differs by sqrt(1 - beta2**t)
        Case(f"{label({})}, w (4,), 30 steps, small gradients (about 1e-4)",
             (_start(seed + 8, (4,)), _gradients(seed + 9, (4,), 30, scale=1e-4, drift=0.5), 1e-2), visible=False),
    ]
    if weight_decay is not None:
        cases.append(Case(f"{label(weight_decay)}, w (3, 3), 30 steps",
                          (3.0 * _start(seed + 10, (3, 3)), _gradients(seed + 11, (3, 3), 30, scale=0.3)),
                          weight_decay, visible=False))
    return cases


def _reference_trajectory(reference, w0, grads, hp):
    w, state, out = w0, {}, []
    for g in grads:
        w, state = reference(w, g, state, **hp)
        out.append(w)
    return out


def _unpack(name, got, at):
    if not isinstance(got, (tuple, list)) or len(got) != 2:
        raise AssertionError(
            f"{name}: return a pair (w_next, state), got {_core.describe(got)} ({at})\n"
            "  hint: end with `return w_next, state` -- the caller passes that state back at the next step.")
    return got


def _matches(a, b, tol, expected):
    """a is within tol of b, and at least ten times closer to b than to the expected value."""
    try:
        a = _asarray(a, dtype=_float64)
    except (TypeError, ValueError):
        return False
    if a.shape != b.shape:
        return False
    with _errstate(all="ignore"):
        near = float(_abs(a - b).max())
        return bool((_abs(a - b) <= tol).all()) and 10 * near <= float(_abs(a - expected).max())


def _diagnose(got, t, w_prev, expected, case, tol, diagnoses):
    """A targeted hint when the wrong w matches a known mistake (or a sign/return slip)."""
    w0, grads = case.args[:2]
    update = expected[t] - _asarray(w_prev, dtype=_float64)
    if (_abs(update) > tol).any():
        if _matches(got, update, tol, expected[t]):
            return "you returned the update; return the new position w_next = w + update."
        if _matches(got, _asarray(w_prev, dtype=_float64) - update, tol, expected[t]):
            return "w moved uphill: the step goes against the gradient (w - lr * ...)."
    for hint, wrong in diagnoses:
        try:
            with _errstate(all="ignore"):
                traj = _reference_trajectory(wrong, w0, grads[: t + 1], case.kwargs)
        except Exception:  # a diagnosis that does not apply to these hyperparameters
            continue
        if _matches(got, traj[t], tol, expected[t]):
            return hint
    return None


def run_trajectory(name, student, reference, cases, visible_only, hint_first, hint_later, diagnoses=()):
    """Run the student's step function along every case and compare w after each step.

    hint_first: shown when the very first step is wrong; hint_later: when the first steps are right
    and a later one is not (the state carried between steps is then the suspect).
    diagnoses: (hint, wrong_step_function) pairs; a match at the failing step replaces the generic hint.
    """
    for k, (at, case) in enumerate(_core.cases_to_run(cases, visible_only)):
        w0, grads = case.args[:2]
        travel_tol = case.args[2] if len(case.args) > 2 else TRAVEL_TOL
        expected = _reference_trajectory(reference, w0, grads, case.kwargs)
        travel = max(float(_abs(e - w0).max()) for e in expected)
        atol = travel_tol * travel
        w, state = w0.copy(), {}
        for t, g in enumerate(grads):
            got = _core.call(name, student, at, w, g, state, **case.kwargs)
            w_next, state = _unpack(name, got, at)
            arr = _core.as_array(name, f"w_next after step {t + 1}", w_next, at, expected[t].shape)
            bad = _abs(arr - expected[t]) > atol + W_RTOL * _abs(expected[t])
            if bad.any() or not _isfinite(arr).all():
                hint = _diagnose(arr, t, w, expected, case, 10 * atol + 1e-4 * _abs(expected[t]), diagnoses)
                if hint is None:
                    done = "step 1 is" if t == 1 else f"steps 1 to {t} are"
                    hint = hint_first if t == 0 else f"{done} right, step {t + 1} is not -- " + hint_later
                    if t == 0 and k > 0:
                        used = f"is each of {', '.join(case.kwargs)} used, and " if case.kwargs else ""
                        hint += f" (Earlier cases passed: {used}is nothing kept outside `state` between calls?)"
                if not case.kwargs:
                    hint += " (This case uses the default hyperparameters: compare yours with torch's.)"
                _core.assert_close(name, f"w after step {t + 1}", expected[t], arr, at,
                                   rtol=W_RTOL, atol=atol, hint=hint)
            w = w_next
    # a pure step: neither w nor dw may be written to (a training loop may still need them)
    r = _rng(7)
    w0, g0, g1 = r.normal(size=(3,)), r.normal(size=(3,)), r.normal(size=(3,))
    w1, state = _unpack(name, _core.call(name, student, "inputs must not be modified", w0, g0, {}),
                        "inputs must not be modified")
    _core.assert_inputs_unchanged(name, student, w0, g0, {})
    _core.assert_inputs_unchanged(name, student, _asarray(w1, dtype=_float64), g1, state)


# ---------------------------------------------------------------- the diagnoses' wrong steps
def _momentum_wd_outside(w, dw, state, lr=1e-3, mu=0.9, weight_decay=0.0):
    if not weight_decay:
        raise ValueError("applies only with weight decay")
    w = _asarray(w, dtype=_float64)
    w_next, state = ref.momentum(w, dw, state, lr=lr, mu=mu)
    return w_next - lr * weight_decay * w, state


_WD_INSIDE = ("weight decay belongs in the gradient, before the velocity: g = dw + weight_decay * w, "
              "then b = mu * b + g.", _momentum_wd_outside)


def _momentum_ema(w, dw, state, lr=1e-3, mu=0.9, weight_decay=0.0):
    return ref.momentum(w, dw, state, lr=lr * (1 - mu), mu=mu, weight_decay=weight_decay)


def _adam_like(w, dw, state, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0,
               correct=True, eps_in_root=False, t_offset=0):
    w = _asarray(w, dtype=_float64)
    g = _asarray(dw, dtype=_float64) + weight_decay * w
    t = state.get("t", 0) + 1
    m = beta1 * state.get("m", 0.0) + (1 - beta1) * g
    v = beta2 * state.get("v", 0.0) + (1 - beta2) * g * g
    tc = t + t_offset
    m_hat = m / (1 - beta1**tc) if correct else m
    v_hat = v / (1 - beta2**tc) if correct else v
    denom = np.sqrt(v_hat + eps) if eps_in_root else np.sqrt(v_hat) + eps
    return w - lr * m_hat / denom, {"t": t, "m": m, "v": v}


def _adam_no_correction(w, dw, state, **hp):
    return _adam_like(w, dw, state, correct=False, **hp)


def _adam_eps_in_root(w, dw, state, **hp):
    return _adam_like(w, dw, state, eps_in_root=True, **hp)


def _adam_t_plus_one(w, dw, state, **hp):
    return _adam_like(w, dw, state, t_offset=1, **hp)


def _adam_beta2_099(w, dw, state, **hp):
    hp.setdefault("beta2", 0.99)
    return _adam_like(w, dw, state, **hp)


_ADAM_DIAGNOSES = [
    ("this is Adam without bias correction: divide m by (1 - beta1**t) and v by (1 - beta2**t).",
     _adam_no_correction),
    ("eps went inside the square root: use sqrt(v_hat) + eps, not sqrt(v_hat + eps).", _adam_eps_in_root),
    ("the bias correction uses one step too many: t is 1 at the first step.", _adam_t_plus_one),
    ("beta2 defaults to 0.999 (torch, Kingma & Ba), not 0.99.", _adam_beta2_099),
]


def _adamw_as_l2(w, dw, state, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=1e-2):
    return ref.adam(w, dw, state, lr=lr, beta1=beta1, beta2=beta2, eps=eps, weight_decay=weight_decay)


def _adamw_no_lr(w, dw, state, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=1e-2):
    w = _asarray(w, dtype=_float64) * (1 - weight_decay)
    return ref.adam(w, dw, state, lr=lr, beta1=beta1, beta2=beta2, eps=eps)


def _nadam_constant_mu(w, dw, state, lr=2e-3, beta1=0.9, beta2=0.999, eps=1e-8, momentum_decay=4e-3):
    return ref.nadam(w, dw, state, lr=lr, beta1=beta1, beta2=beta2, eps=eps, momentum_decay=np.inf)


def _nadam_as_adam(w, dw, state, lr=2e-3, beta1=0.9, beta2=0.999, eps=1e-8, momentum_decay=4e-3):
    return ref.adam(w, dw, state, lr=lr, beta1=beta1, beta2=beta2, eps=eps)


# ---------------------------------------------------------------- the nine optimizers
def check_sgd(sgd, visible_only=False):
    """sgd(w, dw, state, lr=1e-3, weight_decay=0.0) -> (w - lr * (dw + weight_decay * w), state)."""
    run_trajectory(
        "sgd", sgd, ref.sgd,
        _optimizer_cases(1100, {"lr": 0.1}, {"lr": 0.02}, weight_decay={"lr": 0.05, "weight_decay": 0.1}),
        visible_only,
        hint_first="w_next = w - lr * (dw + weight_decay * w); torch's default lr is 1e-3.",
        hint_later="plain SGD carries nothing between steps: each step uses only the gradient it is given.",
    )


def check_momentum(momentum, visible_only=False):
    """momentum(w, dw, state, lr=1e-3, mu=0.9, weight_decay=0.0), torch's SGD(momentum=mu)."""
    run_trajectory(
        "momentum", momentum, ref.momentum,
        _optimizer_cases(1200, {"lr": 0.05, "mu": 0.5}, {"lr": 0.01, "mu": 0.95},
                         weight_decay={"lr": 0.02, "mu": 0.8, "weight_decay": 0.05}),
        visible_only,
        hint_first="at the first step the velocity is the gradient itself, b = dw + weight_decay * w, "
                   "and w_next = w - lr * b; defaults lr = 1e-3, mu = 0.9.",
        hint_later="b = mu * b + g, with no (1 - mu) factor on g; keep b in state for the next call.",
        diagnoses=[_WD_INSIDE, ("b = mu * b + (1 - mu) * g is an average that is (1 - mu) times too small; "
                    "torch's form adds the full gradient: b = mu * b + g.", _momentum_ema),
                   ("this is plain SGD: the velocity must remember the previous steps.", ref.sgd)],
    )


def check_nesterov(nesterov, visible_only=False):
    """nesterov(w, dw, state, lr=1e-3, mu=0.9, weight_decay=0.0), torch's SGD(momentum=mu, nesterov=True)."""
    run_trajectory(
        "nesterov", nesterov, ref.nesterov,
        _optimizer_cases(1300, {"lr": 0.05, "mu": 0.5}, {"lr": 0.01, "mu": 0.95},
                         weight_decay={"lr": 0.02, "mu": 0.8, "weight_decay": 0.05}),
        visible_only,
        hint_first="update the velocity b = mu * b + g (b = g at the first step), then step along the "
                   "look-ahead g + mu * b: w_next = w - lr * (g + mu * b).",
        hint_later="keep b in state; the step uses g + mu * b, the velocity after this step's update.",
        diagnoses=[_WD_INSIDE, ("this is plain momentum (w - lr * b): Nesterov steps along g + mu * b.",
                                ref.momentum)],
    )


def check_adagrad(adagrad, visible_only=False):
    """adagrad(w, dw, state, lr=1e-2, eps=1e-10), torch's Adagrad."""
    def not_accumulating(w, dw, state, lr=1e-2, eps=1e-10):
        return ref.adagrad(w, dw, {}, lr=lr, eps=eps)[0], {}

    run_trajectory(
        "adagrad", adagrad, ref.adagrad,
        _optimizer_cases(1400, {"lr": 0.1}, {"lr": 0.5, "eps": 1e-6}), visible_only,
        hint_first="s = dw**2 summed over the steps so far; w_next = w - lr * dw / (sqrt(s) + eps); "
                   "defaults lr = 1e-2, eps = 1e-10.",
        hint_later="keep the running sum of squared gradients in state and add every step's dw**2 to it.",
        diagnoses=[("the sum must keep growing: store s in state and add dw**2 at every step.", not_accumulating)],
    )


def check_rmsprop(rmsprop, visible_only=False):
    """rmsprop(w, dw, state, lr=1e-2, alpha=0.99, eps=1e-8), torch's RMSprop."""
    def swapped(w, dw, state, lr=1e-2, alpha=0.99, eps=1e-8):
        return ref.rmsprop(w, dw, state, lr=lr, alpha=1 - alpha, eps=eps)

    run_trajectory(
        "rmsprop", rmsprop, ref.rmsprop,
        _optimizer_cases(1500, {"lr": 1e-3, "alpha": 0.9}, {"lr": 0.05, "alpha": 0.5, "eps": 1e-6}),
        visible_only,
        hint_first="s = alpha * s + (1 - alpha) * dw**2 starting from s = 0; "
                   "w_next = w - lr * dw / (sqrt(s) + eps); torch's defaults are lr = 1e-2, alpha = 0.99.",
        hint_later="keep the moving average s in state and update it every step.",
        diagnoses=[("alpha and 1 - alpha are swapped: alpha multiplies the old average, "
                    "(1 - alpha) the new dw**2.", swapped)],
    )


def check_adadelta(adadelta, visible_only=False):
    """adadelta(w, dw, state, lr=1.0, rho=0.9, eps=1e-6), torch's Adadelta."""
    def no_accumulator(w, dw, state, lr=1.0, rho=0.9, eps=1e-6):
        w2, s = ref.adadelta(w, dw, state, lr=lr, rho=rho, eps=eps)
        return w2, {"sq_avg": s["sq_avg"]}

    run_trajectory(
        "adadelta", adadelta, ref.adadelta,
        _optimizer_cases(1600, {"lr": 0.5, "rho": 0.95}, {"lr": 1.0, "rho": 0.5, "eps": 1e-4}), visible_only,
        hint_first="s = rho * s + (1 - rho) * dw**2; delta = sqrt(u + eps) / sqrt(s + eps) * dw with u = 0 "
                   "at first; w_next = w - lr * delta; defaults lr = 1.0, rho = 0.9, eps = 1e-6.",
        hint_later="after computing delta, update the second average u = rho * u + (1 - rho) * delta**2 "
                   "and keep both s and u in state.",
        diagnoses=[("the running average of squared updates u never changes: after each step set "
                    "u = rho * u + (1 - rho) * delta**2.", no_accumulator)],
    )


def check_adam(adam, visible_only=False):
    """adam(w, dw, state, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0), torch's Adam."""
    run_trajectory(
        "adam", adam, ref.adam,
        _optimizer_cases(1700, {"lr": 0.01, "beta1": 0.8, "beta2": 0.99},
                         {"lr": 0.05, "beta1": 0.5, "beta2": 0.9, "eps": 1e-6},
                         weight_decay={"lr": 0.05, "weight_decay": 0.1}),
        visible_only,
        hint_first="m = beta1 * m + (1 - beta1) * g, v = beta2 * v + (1 - beta2) * g**2 from m = v = 0; "
                   "m_hat = m / (1 - beta1**t), v_hat = v / (1 - beta2**t) with t = 1 at the first step; "
                   "w_next = w - lr * m_hat / (sqrt(v_hat) + eps); with weight_decay, g = dw + weight_decay * w.",
        hint_later="count the steps in state (t = 1, 2, ...) and keep m and v there; the bias correction "
                   "uses the current t.",
        diagnoses=_ADAM_DIAGNOSES,
    )


def check_nadam(nadam, visible_only=False):
    """nadam(w, dw, state, lr=2e-3, beta1=0.9, beta2=0.999, eps=1e-8, momentum_decay=4e-3), torch's NAdam."""
    run_trajectory(
        "nadam", nadam, ref.nadam,
        _optimizer_cases(1800, {"lr": 0.01, "beta1": 0.8, "beta2": 0.99},
                         {"lr": 0.02, "beta1": 0.95, "beta2": 0.9, "eps": 1e-6, "momentum_decay": 5.0}),
        visible_only,
        hint_first="torch's NAdam: mu_t = beta1 * (1 - 0.5 * 0.96**(t * momentum_decay)) for t = 1, 2, ...; "
                   "the step is lr * [(1 - mu_t) / (1 - P_t) * g + mu_{t+1} / (1 - P_t * mu_{t+1}) * m] "
                   "/ (sqrt(v_hat) + eps), P_t the product mu_1 ... mu_t.",
        hint_later="keep t, m, v and the running product of the mu_t in state.",
        diagnoses=[("this is Adam: NAdam's step also mixes in the current gradient (the Nesterov look-ahead).",
                    _nadam_as_adam),
                   ("beta1 is used as a constant; torch's NAdam warms it up: "
                    "mu_t = beta1 * (1 - 0.5 * 0.96**(t * momentum_decay)).", _nadam_constant_mu)],
    )


def check_adamw(adamw, visible_only=False):
    """adamw(w, dw, state, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=1e-2), torch's AdamW."""
    run_trajectory(
        "adamw", adamw, ref.adamw,
        _optimizer_cases(1900, {"lr": 0.01, "weight_decay": 0.1},
                         {"lr": 0.05, "beta1": 0.5, "beta2": 0.9, "eps": 1e-6, "weight_decay": 0.5},
                         weight_decay={"lr": 0.1, "weight_decay": 1.0}),
        visible_only,
        hint_first="first shrink w itself, w = w * (1 - lr * weight_decay), then take an Adam step with the "
                   "raw gradient; default weight_decay = 1e-2.  (torch multiplies the decay by lr; the paper "
                   "scales it by the schedule factor only -- the course follows torch.)",
        hint_later="the Adam part needs t, m and v kept in state, as in adam.",
        diagnoses=[("this is Adam + L2 (weight_decay * w added to the gradient): AdamW decays w directly, "
                    "outside the division by sqrt(v_hat).", _adamw_as_l2),
                   ("the decay needs the learning rate: w * (1 - lr * weight_decay).", _adamw_no_lr)]
        + [(h, (lambda f: lambda w, dw, s, weight_decay=1e-2, **hp: f(
            _asarray(w, dtype=_float64) * (1 - hp.get("lr", 1e-3) * weight_decay), dw, s, **hp))(f))
           for h, f in _ADAM_DIAGNOSES],
    )


# ================================================================ schedules
def _shown(values, t, width=6):
    lo = max(0, t - width // 2)
    hi = min(len(values), lo + width)
    return "t = %d..%d: [%s]" % (lo, hi - 1, ", ".join(_core.fmt(v) for v in values[lo:hi]))


def run_schedule(name, student, reference, cases, visible_only, hint, diagnoses=()):
    """Evaluate the student's schedule at t = 0 .. horizon - 1 and compare with the reference.

    Case args = (horizon, *schedule args); kwargs go to both functions.
    """
    for at, case in _core.cases_to_run(cases, visible_only):
        horizon, *args = case.args
        expected = _array([reference(t, *args, **case.kwargs) for t in range(horizon)], dtype=_float64)
        got = []
        for t in range(horizon):
            value = _core.call(name, student, at, t, *args, **case.kwargs)
            arr = _core.as_array(name, f"the rate at t = {t}", value, at)
            if arr.size != 1:
                raise AssertionError(
                    f"{name}: return one number (the rate at step t), got an array of shape {arr.shape} ({at})")
            got.append(float(arr.reshape(())))
        got = _array(got)
        scale = float(_abs(expected).max())
        with _errstate(all="ignore"):
            bad = ~(_abs(got - expected) <= 1e-5 * _abs(expected) + 1e-7 * scale)
        if bad.any():
            t = int(_argmax(bad))
            specific = None
            for h, wrong in diagnoses:
                try:
                    alt = _array([wrong(s, *args, **case.kwargs) for s in range(horizon)], dtype=_float64)
                except Exception:
                    continue
                if _allclose(got, alt, rtol=1e-4, atol=1e-6 * scale):
                    specific = h
                    break
            if specific is None and horizon > 1:
                if _allclose(got[:-1], expected[1:], rtol=1e-4, atol=1e-6 * scale):
                    specific = "your rates come one step early: t is 0-based, the first call has t = 0."
                elif _allclose(got[1:], expected[:-1], rtol=1e-4, atol=1e-6 * scale):
                    specific = "your rates come one step late: t is 0-based, the first call has t = 0."
            raise AssertionError(
                f"{name}: wrong learning rate at t = {t} ({at})\n"
                f"  expected  {_core.fmt(expected[t])}   got  {_core.fmt(got[t])}\n"
                f"  expected {_shown(expected, t)}\n"
                f"  got      {_shown(got, t)}\n"
                f"  hint: {specific or hint}")


def check_step_decay(step_decay, visible_only=False):
    """step_decay(t, lr0, milestones, gamma=0.1): torch's MultiStepLR."""
    cases = [
        Case("lr0=0.1, milestones [3, 6], default gamma", (10, 0.1, [3, 6])),
        Case("lr0=1, milestones [2, 5, 9], gamma=0.5", (12, 1.0, [2, 5, 9]), {"gamma": 0.5}),
        Case("lr0=0.2, milestones [1], gamma=0.3", (5, 0.2, [1]), {"gamma": 0.3}, visible=False),
        Case("lr0=0.05, milestones [4, 8, 12], gamma=0.8", (16, 0.05, [4, 8, 12]), {"gamma": 0.8}, visible=False),
    ]
    run_schedule("step_decay", step_decay, ref.step_decay, cases, visible_only,
                 hint="the rate is lr0 * gamma**k with k the number of milestones m with m <= t "
                      "(the decay takes effect at t = m itself).")


def check_piecewise_constant(piecewise_constant, visible_only=False):
    """piecewise_constant(t, boundaries, values): values[i], i = number of boundaries <= t."""
    cases = [
        Case("boundaries [3, 7], values [0.1, 0.05, 0.01]", (10, [3, 7], [0.1, 0.05, 0.01])),
        Case("boundaries [2], values [1.0, 0.5]", (5, [2], [1.0, 0.5])),
        Case("boundaries [1, 2, 5, 8], values not decreasing", (11, [1, 2, 5, 8], [0.01, 0.1, 0.05, 0.2, 0.001]),
             visible=False),
        Case("boundaries [4, 6], values [0.3, 0.2, 0.1]", (9, [4, 6], [0.3, 0.2, 0.1]), visible=False),
    ]
    run_schedule("piecewise_constant", piecewise_constant, ref.piecewise_constant, cases, visible_only,
                 hint="use values[0] before boundaries[0], values[1] from t = boundaries[0] on, and so on: "
                      "the new value starts at the boundary step itself.")


def check_inverse_time_decay(inverse_time_decay, visible_only=False):
    """inverse_time_decay(t, lr0, beta) = lr0 / (1 + beta * t)."""
    cases = [
        Case("lr0=0.1, beta=0.5", (10, 0.1, 0.5)),
        Case("lr0=1, beta=0.05", (40, 1.0, 0.05), visible=False),
        Case("lr0=0.02, beta=2", (6, 0.02, 2.0), visible=False),
    ]
    run_schedule("inverse_time_decay", inverse_time_decay, ref.inverse_time_decay, cases, visible_only,
                 hint="lr0 / (1 + beta * t): lr0 at t = 0, half of it at t = 1 / beta.")


def check_exponential_decay(exponential_decay, visible_only=False):
    """exponential_decay(t, lr0, beta) = lr0 * beta**t."""
    cases = [
        Case("lr0=0.1, beta=0.9", (10, 0.1, 0.9)),
        Case("lr0=1, beta=0.5", (12, 1.0, 0.5), visible=False),
        Case("lr0=0.3, beta=0.99", (30, 0.3, 0.99), visible=False),
    ]
    run_schedule("exponential_decay", exponential_decay, ref.exponential_decay, cases, visible_only,
                 hint="lr0 * beta**t with t counted from 0, so the rate at t = 0 is lr0.")


def check_natural_exp_decay(natural_exp_decay, visible_only=False):
    """natural_exp_decay(t, lr0, beta) = lr0 * exp(-beta * t)."""
    cases = [
        Case("lr0=0.1, beta=0.1", (10, 0.1, 0.1)),
        Case("lr0=2, beta=0.5", (12, 2.0, 0.5), visible=False),
        Case("lr0=0.01, beta=0.02", (40, 0.01, 0.02), visible=False),
    ]
    run_schedule("natural_exp_decay", natural_exp_decay, ref.natural_exp_decay, cases, visible_only,
                 hint="lr0 * exp(-beta * t) with t counted from 0 (note the minus sign).",
                 diagnoses=[("this is lr0 * beta**t; the natural form is lr0 * exp(-beta * t).",
                             ref.exponential_decay)])


def check_cosine_decay(cosine_decay, visible_only=False):
    """cosine_decay(t, lr0, T, lr_min=0.0): torch's CosineAnnealingLR for t <= T."""
    cases = [
        Case("lr0=0.1, T=10, t = 0..10", (11, 0.1, 10)),
        Case("lr0=1, T=20, lr_min=0.1, t = 0..20", (21, 1.0, 20), {"lr_min": 0.1}),
        Case("lr0=0.5, T=7, lr_min=0.01", (8, 0.5, 7), {"lr_min": 0.01}, visible=False),
        Case("lr0=0.3, T=1", (2, 0.3, 1), visible=False),
    ]
    run_schedule("cosine_decay", cosine_decay, ref.cosine_decay, cases, visible_only,
                 hint="lr_min + (lr0 - lr_min) * (1 + cos(pi * t / T)) / 2: lr0 at t = 0, lr_min at t = T.")


def check_linear_warmup(linear_warmup, visible_only=False):
    """linear_warmup(t, lr0, warmup_steps) = lr0 * min(1, t / warmup_steps)."""
    cases = [
        Case("lr0=0.1, warmup_steps=5", (10, 0.1, 5)),
        Case("lr0=1, warmup_steps=8", (12, 1.0, 8), visible=False),
        Case("lr0=0.3, warmup_steps=1", (4, 0.3, 1), visible=False),
    ]
    run_schedule("linear_warmup", linear_warmup, ref.linear_warmup, cases, visible_only,
                 hint="lr0 * t / warmup_steps while t < warmup_steps (0 at t = 0), then lr0.")


def check_warmup_cosine(warmup_cosine, visible_only=False):
    """warmup_cosine(t, lr0, warmup_steps, total_steps, lr_min=0.0)."""
    def no_shift(t, lr0, warmup_steps, total_steps, lr_min=0.0):
        if t < warmup_steps:
            return ref.linear_warmup(t, lr0, warmup_steps)
        return ref.cosine_decay(t, lr0, total_steps, lr_min)

    cases = [
        Case("lr0=0.1, warmup 3, total 10, t = 0..10", (11, 0.1, 3, 10)),
        Case("lr0=1, warmup 5, total 25, lr_min=0.1", (26, 1.0, 5, 25), {"lr_min": 0.1}, visible=False),
        Case("lr0=0.5, warmup 1, total 6", (7, 0.5, 1, 6), visible=False),
    ]
    run_schedule("warmup_cosine", warmup_cosine, ref.warmup_cosine, cases, visible_only,
                 hint="warm up as linear_warmup for t < warmup_steps; from t = warmup_steps the cosine starts "
                      "at lr0 and reaches lr_min at t = total_steps, i.e. over total_steps - warmup_steps steps.",
                 diagnoses=[("the cosine must start at t = warmup_steps: use t - warmup_steps and a period of "
                             "total_steps - warmup_steps.", no_shift)])


def check_triangular_cyclic(triangular_cyclic, visible_only=False):
    """triangular_cyclic(t, lr_min, lr_max, step_size): torch's CyclicLR(mode="triangular")."""
    def half_cycle(t, lr_min, lr_max, step_size):
        return ref.triangular_cyclic(t, lr_min, lr_max, step_size / 2)

    def double_cycle(t, lr_min, lr_max, step_size):
        return ref.triangular_cyclic(t, lr_min, lr_max, step_size * 2)

    cases = [
        Case("lr_min=0.001, lr_max=0.1, step_size=4", (20, 0.001, 0.1, 4)),
        Case("lr_min=0.01, lr_max=0.05, step_size=3", (15, 0.01, 0.05, 3), visible=False),
        Case("lr_min=0.1, lr_max=1, step_size=1", (6, 0.1, 1.0, 1), visible=False),
        Case("lr_min=0, lr_max=0.2, step_size=5", (31, 0.0, 0.2, 5), visible=False),
    ]
    cycle = ("one cycle is 2 * step_size steps: up from lr_min to lr_max in step_size steps, "
             "then down in step_size steps.")
    run_schedule("triangular_cyclic", triangular_cyclic, ref.triangular_cyclic, cases, visible_only,
                 hint="lr_min at t = 0, lr_max at t = step_size, lr_min again at t = 2 * step_size; "
                      "linear in between, and the pattern repeats.",
                 diagnoses=[(cycle, half_cycle), (cycle, double_cycle)])


def check_cosine_warm_restarts(cosine_warm_restarts, visible_only=False):
    """cosine_warm_restarts(t, lr0, T_0, T_mult=1, lr_min=0.0): torch's CosineAnnealingWarmRestarts."""
    def no_mult(t, lr0, T_0, T_mult=1, lr_min=0.0):
        return ref.cosine_warm_restarts(t, lr0, T_0, 1, lr_min)

    cases = [
        Case("lr0=0.1, T_0=5, t = 0..15", (16, 0.1, 5)),
        Case("lr0=0.1, T_0=4, T_mult=2, t = 0..29", (30, 0.1, 4), {"T_mult": 2}),
        Case("lr0=1, T_0=3, T_mult=2, lr_min=0.05", (25, 1.0, 3), {"T_mult": 2, "lr_min": 0.05}, visible=False),
        Case("lr0=0.5, T_0=2, T_mult=3", (30, 0.5, 2), {"T_mult": 3}, visible=False),
        Case("lr0=0.2, T_0=1, T_mult=1, lr_min=0.1", (4, 0.2, 1), {"lr_min": 0.1}, visible=False),
    ]
    run_schedule("cosine_warm_restarts", cosine_warm_restarts, ref.cosine_warm_restarts, cases, visible_only,
                 hint="periods T_0, T_0 * T_mult, T_0 * T_mult**2, ...; within a period of length T_i, with "
                      "t_cur steps since the restart, the rate is lr_min + (lr0 - lr_min) * (1 + cos(pi * t_cur / T_i)) / 2.",
                 diagnoses=[("every period has length T_0: after each restart the period must grow by T_mult.",
                             no_mult)])


# ================================================================ quiz
FEATURES = {
    "a": "keeps a running sum of squared gradients, so every coordinate's step size can only shrink",
    "b": "keeps an exponential moving average of squared gradients, so step sizes can grow again",
    "c": "accumulates past gradients into a velocity: damps zig-zag across a ravine, speeds up along it",
    "d": "is guaranteed to reach the global minimum of a non-convex loss",
}


def check_quiz_optimizer_features(answers):
    """answers: {"momentum": letter, "adagrad": letter, "rmsprop": letter}, letters from FEATURES."""
    if answers is None or answers is Ellipsis:
        raise AssertionError("optimizer_features: not answered yet -- replace `None` with your answer.")
    if not isinstance(answers, dict):
        raise AssertionError(
            f"optimizer_features: give a dict such as {{'momentum': 'x', ...}}, got {_core.describe(answers)}.")
    key = {"momentum": "c", "adagrad": "a", "rmsprop": "b"}
    hints = {
        "momentum": "momentum changes the direction of the step, not a per-coordinate step size.",
        "adagrad": "which method never forgets a past gradient?",
        "rmsprop": "RMSprop was introduced to fix AdaGrad's ever-shrinking steps.",
    }
    for name in ("momentum", "adagrad", "rmsprop"):
        got = answers.get(name)
        if isinstance(got, str):
            got = got.strip().lower()
        if got == "d":
            raise AssertionError(
                f"optimizer_features: {name}: 'd' is not right -- no first-order method is guaranteed to find "
                "the global minimum of a non-convex loss (momentum can roll past small dips, nothing more).")
        _core.check_answer(f"optimizer_features[{name!r}]", got, key[name], hint=hints[name])


def check_quiz_adam_beta2(answer):
    """torch's (and Kingma & Ba's) default beta2 for Adam."""
    _core.check_answer("adam_beta2", answer, 0.999,
                       hint="look at the signature of torch.optim.Adam (betas=(beta1, beta2)).", rtol=0, atol=1e-12)


def check_quiz_bias_correction(answer):
    """With beta1 = 0.9 and m_0 = 0, the factor by which bias correction multiplies m_1 at t = 1."""
    _core.check_answer("bias_correction", answer, 10.0,
                       hint="m_hat = m / (1 - beta1**t); at t = 1 that is m / (1 - 0.9).", rtol=1e-6)
