"""Chapter 3: reference vs torch.optim and torch's schedulers; the checks vs known mistakes and correct variants."""
import inspect
import math

import numpy as np
import pytest
import torch
from torch.optim import lr_scheduler as sched

from autograder.checks import optimizers as chk
from autograder.reference import optimizers as ref
from checkkit import assert_accepts, assert_rejects, cases

pytestmark = pytest.mark.usefixtures("torch_float64")  # restored after each test
SHAPES = [(7,), (3, 4), (2, 3, 5)]
N_STEPS = 60
# float64 throughout; the only differences from torch are the order of a few roundings per step
RTOL, ATOL = 1e-10, 1e-12

# name -> (torch class, how our keyword names map to torch's constructor)
TORCH = {
    "sgd": (torch.optim.SGD, lambda hp: hp),
    "momentum": (torch.optim.SGD, lambda hp: {"momentum": hp.pop("mu", 0.9), **hp}),
    "nesterov": (torch.optim.SGD, lambda hp: {"momentum": hp.pop("mu", 0.9), "nesterov": True, **hp}),
    "adagrad": (torch.optim.Adagrad, lambda hp: hp),
    "rmsprop": (torch.optim.RMSprop, lambda hp: hp),
    "adadelta": (torch.optim.Adadelta, lambda hp: hp),
    "adam": (torch.optim.Adam, lambda hp: _betas(hp)),
    "nadam": (torch.optim.NAdam, lambda hp: _betas(hp)),
    "adamw": (torch.optim.AdamW, lambda hp: _betas(hp)),
}

# non-default hyperparameters, with and without weight decay where the optimizer takes one
HYPER = {
    "sgd": [{"lr": 0.05}, {"lr": 0.02, "weight_decay": 0.3}],
    "momentum": [{"lr": 0.01, "mu": 0.5}, {"lr": 0.003, "mu": 0.99, "weight_decay": 0.1}],
    "nesterov": [{"lr": 0.01, "mu": 0.5}, {"lr": 0.003, "mu": 0.99, "weight_decay": 0.1}],
    "adagrad": [{"lr": 0.3}, {"lr": 0.05, "eps": 1e-4}],
    "rmsprop": [{"lr": 1e-3, "alpha": 0.9}, {"lr": 0.03, "alpha": 0.5, "eps": 1e-3}],
    "adadelta": [{"lr": 0.3, "rho": 0.95}, {"lr": 2.0, "rho": 0.5, "eps": 1e-3}],
    "adam": [{"lr": 0.01, "beta1": 0.5, "beta2": 0.9}, {"lr": 0.003, "eps": 1e-4, "weight_decay": 0.2}],
    "nadam": [{"lr": 0.01, "beta1": 0.5, "beta2": 0.9}, {"lr": 0.003, "eps": 1e-4, "momentum_decay": 0.1}],
    "adamw": [{"lr": 0.01, "beta1": 0.5, "beta2": 0.9, "weight_decay": 0.0},
              {"lr": 0.02, "eps": 1e-4, "weight_decay": 0.5}],
}


def _betas(hp):
    hp = dict(hp)
    b1, b2 = hp.pop("beta1", None), hp.pop("beta2", None)
    if b1 is not None or b2 is not None:
        hp["betas"] = (0.9 if b1 is None else b1, 0.999 if b2 is None else b2)
    return hp


def _torch_trajectory(name, w0, grads, hp):
    cls, translate = TORCH[name]
    p = torch.tensor(w0.copy(), requires_grad=True)
    opt = cls([p], **translate(dict(hp)))
    out = []
    for g in grads:
        p.grad = torch.tensor(g)
        opt.step()
        out.append(p.detach().numpy().copy())
    return out


def _our_trajectory(name, w0, grads, hp):
    step, w, state, out = getattr(ref, name), w0, {}, []
    for g in grads:
        w, state = step(w, g, state, **hp)
        out.append(w)
    return out


def _gradient_sequence(rng, shape, n=N_STEPS):
    """Gradients of changing size and sign (a scale that drifts over three orders of magnitude)."""
    scales = np.exp(rng.uniform(np.log(1e-3), np.log(3.0), size=n))
    return [s * rng.normal(size=shape) for s in scales]


# ------------------------------------------------------------ reference vs torch.optim (float64)
@pytest.mark.parametrize("name", list(TORCH))
@pytest.mark.parametrize("shape", SHAPES)
def test_optimizer_defaults_match_torch(name, shape, rng):
    w0 = rng.normal(size=shape)
    grads = _gradient_sequence(rng, shape)
    for ours, theirs in zip(_our_trajectory(name, w0, grads, {}), _torch_trajectory(name, w0, grads, {})):
        np.testing.assert_allclose(ours, theirs, rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("name, hp", [(n, hp) for n, hps in HYPER.items() for hp in hps],
                         ids=lambda v: v if isinstance(v, str) else ",".join(f"{k}={x:g}" for k, x in v.items()))
@pytest.mark.parametrize("shape", SHAPES[:2])
def test_optimizer_hyperparameters_match_torch(name, hp, shape, rng):
    w0 = 2.0 * rng.normal(size=shape)
    grads = _gradient_sequence(rng, shape)
    for ours, theirs in zip(_our_trajectory(name, w0, grads, hp), _torch_trajectory(name, w0, grads, hp)):
        np.testing.assert_allclose(ours, theirs, rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("name", list(TORCH))
def test_optimizer_default_values_are_torchs(name):
    """Every default in our signature equals the default of the corresponding torch argument."""
    torch_defaults = {k: v.default for k, v in inspect.signature(TORCH[name][0].__init__).parameters.items()}
    b1, b2 = torch_defaults.get("betas", (None, None))
    torch_defaults.update(beta1=b1, beta2=b2, mu=0.9)  # momentum has no torch default (0 = off); 0.9 by the issue
    for k, v in inspect.signature(getattr(ref, name)).parameters.items():
        if v.default is inspect.Parameter.empty:
            continue
        assert v.default == torch_defaults[k], (name, k)


@pytest.mark.parametrize("name", list(TORCH))
def test_optimizer_step_is_pure(name, rng):
    """Neither w, dw nor the state passed in is modified; the state returned is a new dict."""
    w, g1, g2 = rng.normal(size=(3, 4)), rng.normal(size=(3, 4)), rng.normal(size=(3, 4))
    step = getattr(ref, name)
    w1, s1 = step(w, g1, {})
    before = (w.copy(), g2.copy(), {k: np.copy(v) for k, v in s1.items()})
    w2, s2 = step(w1, g2, s1)
    np.testing.assert_array_equal(w, before[0])
    np.testing.assert_array_equal(g2, before[1])
    for k, v in before[2].items():
        np.testing.assert_array_equal(s1[k], v)
    assert s2 is not s1


def test_adam_first_step_is_lr_times_sign(rng):
    """A property, independent of torch: the bias-corrected first step is lr * g / (|g| + eps) ~ lr * sign(g)."""
    w, g = rng.normal(size=10), rng.normal(size=10)
    w1, _ = ref.adam(w, g, {}, lr=0.1)
    np.testing.assert_allclose(w - w1, 0.1 * np.sign(g), rtol=1e-6)


def test_momentum_equals_cs231n_form(rng):
    """v = mu v - lr g, w += v (CS231n) gives torch's trajectory when lr is constant."""
    w, v, state = rng.normal(size=5), np.zeros(5), {}
    w_ref = w.copy()
    for _ in range(40):
        g = rng.normal(size=5)
        v = 0.9 * v - 0.01 * g
        w = w + v
        w_ref, state = ref.momentum(w_ref, g, state, lr=0.01)
    np.testing.assert_allclose(w, w_ref, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name, hp", [("momentum", {"lr": 0.05}), ("adam", {"lr": 0.01}),
                                      ("adamw", {"lr": 0.01, "weight_decay": 0.1})])
def test_optimizer_class_matches_torch_with_scheduler(name, hp, rng):
    """The Optimizer wrapper, with a schedule, against torch's optimizer + MultiStepLR on a 2-layer MLP."""
    x, y = rng.normal(size=(32, 4)), rng.normal(size=(32, 1))
    params = [rng.normal(scale=0.5, size=(8, 4)), np.zeros(8), rng.normal(scale=0.5, size=(1, 8))]
    tparams = [torch.tensor(p.copy(), requires_grad=True) for p in params]
    cls, translate = TORCH[name]
    topt = cls(tparams, **translate(dict(hp)))
    tsched = sched.MultiStepLR(topt, milestones=[10, 20], gamma=0.5)
    lr0 = hp["lr"]
    opt = ref.Optimizer(getattr(ref, name), schedule=lambda t: ref.step_decay(t, lr0, [10, 20], 0.5),
                        **{k: v for k, v in hp.items() if k != "lr"})

    def loss(ps):
        h = torch.tanh(torch.tensor(x) @ ps[0].T + ps[1])
        return ((h @ ps[2].T - torch.tensor(y)) ** 2).mean()

    for _ in range(30):
        ours = [torch.tensor(p, requires_grad=True) for p in params]
        loss(ours).backward()
        params = opt.step(params, [p.grad.numpy() for p in ours])
        topt.zero_grad()
        loss(tparams).backward()
        topt.step()
        tsched.step()
    for p, tp in zip(params, tparams):
        np.testing.assert_allclose(p, tp.detach().numpy(), rtol=1e-9, atol=1e-12)


# ------------------------------------------------------------ schedules vs torch's schedulers / closed forms
def _torch_rates(make, n, lr0):
    p = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([p], lr=lr0, momentum=0.9)
    s = make(opt)
    out = []
    for _ in range(n):
        out.append(s.get_last_lr()[0])
        opt.step()
        s.step()
    return np.array(out)


def _ours(fn, n, *args, **kwargs):
    return np.array([fn(t, *args, **kwargs) for t in range(n)])


@pytest.mark.parametrize("milestones, gamma", [([3, 6], 0.1), ([1, 2, 8], 0.5), ([0, 5], 0.3), ([4, 4, 9], 0.5)])
def test_step_decay_matches_multisteplr(milestones, gamma):
    expected = _torch_rates(lambda o: sched.MultiStepLR(o, milestones, gamma), 15, 0.1)
    np.testing.assert_allclose(_ours(ref.step_decay, 15, 0.1, milestones, gamma), expected, rtol=1e-14)


@pytest.mark.parametrize("boundaries", [[3, 7], [1, 2, 5, 8], [0]])
def test_piecewise_constant_matches_multisteplr_and_closed_form(boundaries, rng):
    values = [0.1 * 0.5**i for i in range(len(boundaries) + 1)]
    expected = _torch_rates(lambda o: sched.MultiStepLR(o, boundaries, 0.5), 12, 0.1)
    np.testing.assert_allclose(_ours(ref.piecewise_constant, 12, boundaries, values), expected, rtol=1e-14)
    arbitrary = list(rng.uniform(0.01, 1.0, size=len(boundaries) + 1))
    t = np.arange(12)
    closed = np.select([t < b for b in boundaries], arbitrary[:-1], default=arbitrary[-1])
    np.testing.assert_array_equal(_ours(ref.piecewise_constant, 12, boundaries, arbitrary), closed)


def test_piecewise_constant_rejects_wrong_lengths():
    with pytest.raises(ValueError):
        ref.piecewise_constant(0, [3, 5], [0.1, 0.01])


@pytest.mark.parametrize("beta", [0.5, 0.05, 2.0])
def test_inverse_time_decay_matches_multiplicative_recurrence(beta):
    """torch's MultiplicativeLR with factor (1 + beta (t-1)) / (1 + beta t) telescopes to lr0 / (1 + beta t)."""
    expected = _torch_rates(
        lambda o: sched.MultiplicativeLR(o, lambda e: (1 + beta * (e - 1)) / (1 + beta * e)), 30, 0.1)
    np.testing.assert_allclose(_ours(ref.inverse_time_decay, 30, 0.1, beta), expected, rtol=1e-12)


@pytest.mark.parametrize("beta", [0.9, 0.5, 0.99])
def test_exponential_decay_matches_exponentiallr(beta):
    expected = _torch_rates(lambda o: sched.ExponentialLR(o, beta), 30, 0.1)
    np.testing.assert_allclose(_ours(ref.exponential_decay, 30, 0.1, beta), expected, rtol=1e-12)


@pytest.mark.parametrize("beta", [0.1, 0.5, 0.02])
def test_natural_exp_decay_matches_exponentiallr(beta):
    expected = _torch_rates(lambda o: sched.ExponentialLR(o, math.exp(-beta)), 30, 0.1)
    np.testing.assert_allclose(_ours(ref.natural_exp_decay, 30, 0.1, beta), expected, rtol=1e-12)


@pytest.mark.parametrize("T, lr_min", [(10, 0.0), (20, 0.01), (1, 0.0), (7, 0.05)])
def test_cosine_decay_matches_cosineannealinglr(T, lr_min):
    expected = _torch_rates(lambda o: sched.CosineAnnealingLR(o, T_max=T, eta_min=lr_min), T + 1, 0.1)
    np.testing.assert_allclose(_ours(ref.cosine_decay, T + 1, 0.1, T, lr_min), expected, rtol=1e-12, atol=1e-15)
    assert ref.cosine_decay(T + 3, 0.1, T, lr_min) == lr_min  # stays at the floor after T


@pytest.mark.parametrize("warmup", [1, 5, 8])
def test_linear_warmup_matches_linearlr(warmup):
    """LinearLR from a start factor of 1e-300 (torch forbids exactly 0) is lr0 * min(1, t / warmup)."""
    expected = _torch_rates(lambda o: sched.LinearLR(o, start_factor=1e-300, total_iters=warmup), 12, 0.1)
    np.testing.assert_allclose(_ours(ref.linear_warmup, 12, 0.1, warmup), expected, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("warmup, total, lr_min", [(3, 10, 0.0), (5, 25, 0.01), (1, 6, 0.0)])
def test_warmup_cosine_matches_sequentiallr(warmup, total, lr_min):
    def make(o):
        return sched.SequentialLR(o, [sched.LinearLR(o, start_factor=1e-300, total_iters=warmup),
                                      sched.CosineAnnealingLR(o, T_max=total - warmup, eta_min=lr_min)],
                                  milestones=[warmup])

    expected = _torch_rates(make, total + 1, 0.1)
    ours = _ours(ref.warmup_cosine, total + 1, 0.1, warmup, total, lr_min)
    np.testing.assert_allclose(ours, expected, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("lo, hi, step_size", [(0.001, 0.1, 4), (0.01, 0.05, 3), (0.1, 1.0, 1), (0.0, 0.2, 7)])
def test_triangular_cyclic_matches_cycliclr(lo, hi, step_size):
    expected = _torch_rates(lambda o: sched.CyclicLR(o, lo, hi, step_size_up=step_size), 40, 0.1)
    np.testing.assert_allclose(_ours(ref.triangular_cyclic, 40, lo, hi, step_size), expected, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("T_0, T_mult, lr_min", [(5, 1, 0.0), (3, 2, 0.05), (2, 3, 0.0), (1, 1, 0.01), (4, 2, 0.0)])
def test_cosine_warm_restarts_matches_torch(T_0, T_mult, lr_min):
    make = lambda o: sched.CosineAnnealingWarmRestarts(o, T_0, T_mult=T_mult, eta_min=lr_min)  # noqa: E731
    expected = _torch_rates(make, 60, 0.1)
    np.testing.assert_allclose(_ours(ref.cosine_warm_restarts, 60, 0.1, T_0, T_mult, lr_min), expected,
                               rtol=1e-12, atol=1e-15)


# ------------------------------------------------------------ correct variants: every check passes them
def _float32(step):
    """A step that does its arithmetic in float32: inputs cast down, and the result must still be float32."""
    def run(w, dw, state, **hp):
        w_next, s = step(np.asarray(w, np.float32), np.asarray(dw, np.float32), state, **hp)
        assert w_next.dtype == np.float32, "this variant must really compute in float32"
        return w_next, s
    return run


def _in_place_state(step):
    """Writes the new state into the dict it was given and returns that same dict."""
    def run(w, dw, state, **hp):
        w_next, s = step(w, dw, state, **hp)
        state.clear()
        state.update(s)
        return w_next, state
    return run


def _momentum_cs231n(w, dw, state, lr=1e-3, mu=0.9, weight_decay=0.0):
    g = dw + weight_decay * w
    v = mu * state.get("v", np.zeros_like(w)) - lr * g
    return w + v, {"v": v}


def _nesterov_cs231n(w, dw, state, lr=1e-3, mu=0.9, weight_decay=0.0):
    g = dw + weight_decay * w
    v_prev = state.get("v", np.zeros_like(w))
    v = mu * v_prev - lr * g
    return w - mu * v_prev + (1 + mu) * v, {"v": v}


def _nesterov_expanded(w, dw, state, lr=1e-3, mu=0.9, weight_decay=0.0):
    """w - lr (1 + mu) g - lr mu^2 b_prev: the same step with the look-ahead written out."""
    g = dw + weight_decay * w
    b_prev = state.get("b", np.zeros_like(w))
    return w - lr * (1 + mu) * g - lr * mu * mu * b_prev, {"b": mu * b_prev + g}


def _sgd_loop(w, dw, state, lr=1e-3, weight_decay=0.0):
    out = np.array(w, dtype=float)
    for i in np.ndindex(out.shape):
        out[i] = w[i] - lr * (dw[i] + weight_decay * w[i])
    return out, state


def _sgd_vec(w, dw, state, lr=1e-3, weight_decay=0.0):
    return w - lr * (dw + weight_decay * w), state


def _adagrad_vec(w, dw, state, lr=1e-2, eps=1e-10):
    s = state.get("s", 0) + dw * dw
    return w - lr * dw / (np.sqrt(s) + eps), {"s": s}


def _adadelta_vec(w, dw, state, lr=1.0, rho=0.9, eps=1e-6):
    s = rho * state.get("s", 0) + (1 - rho) * dw * dw
    u = state.get("u", np.zeros_like(w))
    d = np.sqrt(u + eps) / np.sqrt(s + eps) * dw
    return w - lr * d, {"s": s, "u": rho * u + (1 - rho) * d * d}


def _adagrad_loop(w, dw, state, lr=1e-2, eps=1e-10):
    s = state.get("G", np.zeros(np.shape(w))).copy()
    out = np.array(w, dtype=float)
    for i in np.ndindex(out.shape):
        s[i] += dw[i] ** 2
        out[i] -= lr * dw[i] / (math.sqrt(s[i]) + eps)
    return out, {"G": s}


def _rmsprop_lerp(w, dw, state, lr=1e-2, alpha=0.99, eps=1e-8):
    s = state.get("s", 0.0)
    s = s + (1 - alpha) * (dw * dw - s)
    return w - lr * dw / (np.sqrt(s) + eps), {"s": s}


def _adadelta_loop(w, dw, state, lr=1.0, rho=0.9, eps=1e-6):
    Eg, Ex = [np.array(state.get(k, np.zeros(np.shape(w))), dtype=float) for k in ("Eg", "Ex")]
    out = np.array(w, dtype=float)
    for i in np.ndindex(out.shape):
        Eg[i] = rho * Eg[i] + (1 - rho) * dw[i] ** 2
        dx = -math.sqrt(Ex[i] + eps) / math.sqrt(Eg[i] + eps) * dw[i]
        Ex[i] = rho * Ex[i] + (1 - rho) * dx**2
        out[i] += lr * dx
    return out, {"Eg": Eg, "Ex": Ex}


def _adam_efficient(w, dw, state, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0):
    """Kingma & Ba's 'efficient' ordering: the bias correction folded into the step size."""
    g = dw + weight_decay * w
    t = state.get("t", 0) + 1
    m = beta1 * state.get("m", 0) + (1 - beta1) * g
    v = beta2 * state.get("v", 0) + (1 - beta2) * g**2
    alpha_t = lr * math.sqrt(1 - beta2**t) / (1 - beta1**t)
    return w - alpha_t * m / (np.sqrt(v) + eps), {"t": t, "m": m, "v": v}


def _adam_lerp_float_t(w, dw, state, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0):
    """Step count kept as a float, moments updated with lerp, in torch tensors."""
    p, g = torch.as_tensor(w), torch.as_tensor(dw)
    if weight_decay:
        g = g + weight_decay * p
    t = state.get("step", 0.0) + 1.0
    m = torch.lerp(state.get("m", torch.zeros_like(p)), g, 1 - beta1)
    v = state.get("v", torch.zeros_like(p)) * beta2 + (1 - beta2) * g * g
    denom = (v.sqrt() / math.sqrt(1 - beta2**t)).add(eps)
    return (p - lr / (1 - beta1**t) * m / denom).numpy(), {"step": t, "m": m, "v": v}


def _torch_optimizer_variant(name):
    """A student who wraps torch.optim itself, keeping the torch optimizer in the state."""
    cls, translate = TORCH[name]

    def run(w, dw, state, **hp):
        if "opt" not in state:
            p = torch.tensor(np.array(w, dtype=float), requires_grad=True)
            state = {"p": p, "opt": cls([p], **translate(dict(hp)))}
        p = state["p"]
        with torch.no_grad():
            p.copy_(torch.as_tensor(w))
        p.grad = torch.tensor(np.array(dw, dtype=float))
        state["opt"].step()
        return p.detach().numpy().copy(), state
    return run


def _adamw_paper(w, dw, state, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=1e-2):
    """Loshchilov & Hutter's Algorithm 2 written as one update: w - lr (adam_direction + wd w)."""
    t = state.get("t", 0) + 1
    m = beta1 * state.get("m", 0) + (1 - beta1) * dw
    v = beta2 * state.get("v", 0) + (1 - beta2) * dw**2
    direction = (m / (1 - beta1**t)) / (np.sqrt(v / (1 - beta2**t)) + eps)
    return w - lr * (direction + weight_decay * w), {"t": t, "m": m, "v": v}


def _nadam_log_product(w, dw, state, lr=2e-3, beta1=0.9, beta2=0.999, eps=1e-8, momentum_decay=4e-3):
    """mu_product recomputed from scratch every step, as a sum of logs."""
    t = state.get("t", 0) + 1
    mu = [beta1 * (1 - 0.5 * 0.96 ** (i * momentum_decay)) for i in range(1, t + 2)]
    prod = math.exp(sum(math.log(x) for x in mu[:t]))
    m = beta1 * state.get("m", 0) + (1 - beta1) * dw
    v = beta2 * state.get("v", 0) + (1 - beta2) * dw**2
    denom = np.sqrt(v / (1 - beta2**t)) + eps
    w = w - lr * (1 - mu[t - 1]) / (1 - prod) * dw / denom
    w = w - lr * mu[t] / (1 - prod * mu[t]) * m / denom
    return w, {"t": t, "m": m, "v": v}


VARIANTS = [(f"check_{n}", "reference", getattr(ref, n)) for n in ref.OPTIMIZERS] + [
    (f"check_{n}", "float32", _float32(f)) for n, f in [
        ("sgd", _sgd_vec), ("momentum", _momentum_cs231n), ("nesterov", _nesterov_cs231n), ("adagrad", _adagrad_vec),
        ("rmsprop", _rmsprop_lerp), ("adadelta", _adadelta_vec), ("adam", _adam_efficient),
        ("nadam", _nadam_log_product), ("adamw", _adamw_paper)]] + [
    (f"check_{n}", "state updated in place", _in_place_state(getattr(ref, n))) for n in ref.OPTIMIZERS] + [
    (f"check_{n}", "wraps torch.optim", _torch_optimizer_variant(n)) for n in ("momentum", "adam", "adamw")] + [
    ("check_sgd", "loops", _sgd_loop),
    ("check_sgd", "returns state None", lambda w, dw, s, lr=1e-3, weight_decay=0.0: (w - lr * (dw + weight_decay * w),
                                                                                     None)),
    ("check_momentum", "CS231n form v = mu v - lr g, w += v", _momentum_cs231n),
    ("check_nesterov", "CS231n form", _nesterov_cs231n),
    ("check_nesterov", "look-ahead written out", _nesterov_expanded),
    ("check_adagrad", "loops with math.sqrt", _adagrad_loop),
    ("check_rmsprop", "lerp form s += (1 - alpha)(g^2 - s)", _rmsprop_lerp),
    ("check_adadelta", "loops, CS-style names", _adadelta_loop),
    ("check_adam", "Kingma & Ba's efficient form", _adam_efficient),
    ("check_adam", "float32, torch's ordering", _float32(lambda w, dw, s, **hp: _adam_family(w, dw, s, **hp))),
    ("check_adam", "torch tensors, lerp, float step count", _adam_lerp_float_t),
    ("check_adamw", "paper's single update w - lr (d + wd w)", _adamw_paper),
    ("check_nadam", "product of mu from logs", _nadam_log_product),
]


def _torch_schedule(make, lr0):
    """A student who reads the rate off a torch scheduler stepped t times."""
    def rate(t):
        return float(_torch_rates(make, t + 1, lr0)[-1])
    return rate


def _restarts_float32(t, lr0, T_0, T_mult, lr_min):
    start, period = 0, T_0
    while t >= start + period:
        start, period = start + period, period * T_mult
    phase = np.float32((t - start) / period)
    return np.float32(lr_min) + np.float32(lr0 - lr_min) * (1 + np.cos(np.float32(np.pi) * phase)) / 2


SCHEDULE_VARIANTS = [(f"check_{n}", "reference", f) for n, f in ref.SCHEDULES.items()] + [
    ("check_step_decay", "loop over milestones",
     lambda t, lr0, ms, gamma=0.1: lr0 * gamma ** sum(1 for m in ms if t >= m)),
    ("check_step_decay", "torch MultiStepLR",
     lambda t, lr0, ms, gamma=0.1: _torch_schedule(lambda o: sched.MultiStepLR(o, ms, gamma), lr0)(t)),
    ("check_piecewise_constant", "np.searchsorted", lambda t, b, v: v[np.searchsorted(b, t, side="right")]),
    ("check_inverse_time_decay", "float32", lambda t, lr0, b: np.float32(lr0) / np.float32(1 + b * t)),
    ("check_exponential_decay", "exp(t log beta)", lambda t, lr0, b: lr0 * np.exp(t * np.log(b))),
    ("check_exponential_decay", "returns a 0-d array", lambda t, lr0, b: np.array(lr0 * b**t)),
    ("check_natural_exp_decay", "float32", lambda t, lr0, b: np.float32(lr0 * np.exp(np.float32(-b * t)))),
    ("check_cosine_decay", "torch CosineAnnealingLR",
     lambda t, lr0, T, lr_min=0.0: _torch_schedule(lambda o: sched.CosineAnnealingLR(o, T, lr_min), lr0)(t)),
    ("check_cosine_decay", "1 - sin^2 form",
     lambda t, lr0, T, lr_min=0.0: lr_min + (lr0 - lr_min) * np.cos(np.pi * t / (2 * T)) ** 2),
    ("check_linear_warmup", "if/else", lambda t, lr0, W: lr0 * t / W if t < W else lr0),
    ("check_warmup_cosine", "torch SequentialLR(LinearLR, CosineAnnealingLR)",
     lambda t, lr0, W, T, lr_min=0.0: _torch_schedule(lambda o: sched.SequentialLR(
         o, [sched.LinearLR(o, start_factor=1e-300, total_iters=W), sched.CosineAnnealingLR(o, T - W, lr_min)],
         milestones=[W]), lr0)(t)),
    ("check_warmup_cosine", "float32, progress variable",
     lambda t, lr0, W, T, lr_min=0.0: np.float32(lr0 * t / W) if t < W else np.float32(
         lr_min + (lr0 - lr_min) * (1 + np.cos(np.float32(np.pi) * np.float32((t - W) / (T - W)))) / 2)),
    ("check_cosine_warm_restarts", "float32, period found by a loop",
     lambda t, lr0, T_0, T_mult=1, lr_min=0.0: _restarts_float32(t, lr0, T_0, T_mult, lr_min)),
    ("check_triangular_cyclic", "torch CyclicLR",
     lambda t, lo, hi, s: _torch_schedule(lambda o: sched.CyclicLR(o, lo, hi, step_size_up=s), 0.1)(t)),
    ("check_triangular_cyclic", "position in the cycle",
     lambda t, lo, hi, s: lo + (hi - lo) * (1 - abs((t % (2 * s)) - s) / s)),
    ("check_cosine_warm_restarts", "torch CosineAnnealingWarmRestarts",
     lambda t, lr0, T_0, T_mult=1, lr_min=0.0: _torch_schedule(
         lambda o: sched.CosineAnnealingWarmRestarts(o, T_0, T_mult, lr_min), lr0)(t)),
]


@pytest.mark.parametrize("check, fn", cases(VARIANTS + SCHEDULE_VARIANTS))
def test_check_accepts_correct_variant(check, fn):
    assert_accepts(getattr(chk, check), fn)


# ------------------------------------------------------------ known mistakes: every check fails them
def _adam_family(w, dw, state, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0, *,
                 correct_m=True, correct_v=True, eps_in_root=False, t0=0, t_shift=0, decoupled=None,
                 decoupled_lr=True):
    """Adam with one thing changed at a time (the keyword-only switches)."""
    if decoupled is not None:
        w = w * (1 - (lr if decoupled_lr else 1.0) * decoupled)
    g = dw + weight_decay * w
    t = state.get("t", t0) + 1
    m = beta1 * state.get("m", 0) + (1 - beta1) * g
    v = beta2 * state.get("v", 0) + (1 - beta2) * g * g
    tc = t + t_shift
    m_hat = m / (1 - beta1**tc) if correct_m else m
    v_hat = v / (1 - beta2**tc) if correct_v else v
    denom = np.sqrt(v_hat + eps) if eps_in_root else np.sqrt(v_hat) + eps
    return w - lr * m_hat / denom, {"t": t, "m": m, "v": v}


def _adam_with(**switches):
    def run(w, dw, state, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0):
        return _adam_family(w, dw, state, lr, beta1, beta2, eps, weight_decay, **switches)
    return run


def _adam_beta2_099(w, dw, state, lr=1e-3, beta1=0.9, beta2=0.99, eps=1e-8, weight_decay=0.0):
    return _adam_family(w, dw, state, lr, beta1, beta2, eps, weight_decay)


def _adam_t_zero_based(w, dw, state, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0):
    """Counts steps from 0: the first bias correction divides by 1 - beta**0 = 0."""
    return _adam_family(w, dw, state, lr, beta1, beta2, eps, weight_decay, t0=-1)


def _adam_l2_after_moments(w, dw, state, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0):
    w_next, s = _adam_family(w, dw, state, lr, beta1, beta2, eps)
    return w_next - lr * weight_decay * w, s


def _adamw_as_l2(w, dw, state, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=1e-2):
    return _adam_family(w, dw, state, lr, beta1, beta2, eps, weight_decay)


def _adamw_no_lr(w, dw, state, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=1e-2):
    return _adam_family(w, dw, state, lr, beta1, beta2, eps, decoupled=weight_decay, decoupled_lr=False)


def _adamw_no_correction(w, dw, state, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=1e-2):
    return _adam_family(w, dw, state, lr, beta1, beta2, eps, decoupled=weight_decay,
                        correct_m=False, correct_v=False)


def _adamw_default_wd_zero(w, dw, state, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0):
    return _adam_family(w, dw, state, lr, beta1, beta2, eps, decoupled=weight_decay)


def _momentum_ema(w, dw, state, lr=1e-3, mu=0.9, weight_decay=0.0):
    g = dw + weight_decay * w
    b = mu * state.get("b", 0) + (1 - mu) * g
    return w - lr * b, {"b": b}


def _momentum_ema_first_g(w, dw, state, lr=1e-3, mu=0.9, weight_decay=0.0):
    """EMA damping, but with torch's b = g at the first step."""
    g = dw + weight_decay * w
    b = g if "b" not in state else mu * state["b"] + (1 - mu) * g
    return w - lr * b, {"b": b}


def _momentum_cs231n_sign(w, dw, state, lr=1e-3, mu=0.9, weight_decay=0.0):
    g = dw + weight_decay * w
    v = mu * state.get("v", 0) - lr * g
    return w - v, {"v": v}


def _momentum_wd_after(w, dw, state, lr=1e-3, mu=0.9, weight_decay=0.0):
    """Weight decay added to the step, not to the gradient before the velocity."""
    b = dw if "b" not in state else mu * state["b"] + dw
    return w - lr * (b + weight_decay * w), {"b": b}


def _nesterov_old_velocity(w, dw, state, lr=1e-3, mu=0.9, weight_decay=0.0):
    """Look-ahead with the velocity from before this step's update."""
    g = dw + weight_decay * w
    b_prev = state.get("b", np.zeros_like(w))
    return w - lr * (g + mu * b_prev), {"b": mu * b_prev + g}


def _nesterov_ema(w, dw, state, lr=1e-3, mu=0.9, weight_decay=0.0):
    g = dw + weight_decay * w
    b = mu * state.get("b", 0) + (1 - mu) * g
    return w - lr * (g + mu * b), {"b": b}


def _nesterov_minus(w, dw, state, lr=1e-3, mu=0.9, weight_decay=0.0):
    g = dw + weight_decay * w
    b = g if "b" not in state else mu * state["b"] + g
    return w - lr * (g - mu * b), {"b": b}


def _momentum_in_place(w, dw, state, lr=1e-3, mu=0.9, weight_decay=0.0):
    w_next, s = ref.momentum(w, dw, state, lr, mu, weight_decay)
    w[...] = w_next
    return w, s


def _adagrad_abs(w, dw, state, lr=1e-2, eps=1e-10):
    s = state.get("s", 0) + np.abs(dw)
    return w - lr * dw / (np.sqrt(s) + eps), {"s": s}


def _adagrad_abs_no_root(w, dw, state, lr=1e-2, eps=1e-10):
    s = state.get("s", 0) + np.abs(dw)
    return w - lr * dw / (s + eps), {"s": s}


def _adagrad_no_accumulation(w, dw, state, lr=1e-2, eps=1e-10):
    return w - lr * dw / (np.sqrt(dw * dw) + eps), state


def _adagrad_no_root(w, dw, state, lr=1e-2, eps=1e-10):
    s = state.get("s", 0) + dw * dw
    return w - lr * dw / (s + eps), {"s": s}


def _rmsprop_swapped(w, dw, state, lr=1e-2, alpha=0.99, eps=1e-8):
    s = (1 - alpha) * state.get("s", 0) + alpha * dw * dw
    return w - lr * dw / (np.sqrt(s) + eps), {"s": s}


def _rmsprop_keras_defaults(w, dw, state, lr=1e-3, alpha=0.9, eps=1e-7):
    return ref.rmsprop(w, dw, state, lr, alpha, eps)


def _rmsprop_sum(w, dw, state, lr=1e-2, alpha=0.99, eps=1e-8):
    s = alpha * state.get("s", 0) + dw * dw
    return w - lr * dw / (np.sqrt(s) + eps), {"s": s}


def _adadelta_no_accumulator(w, dw, state, lr=1.0, rho=0.9, eps=1e-6):
    s = rho * state.get("s", 0) + (1 - rho) * dw * dw
    return w - lr * np.sqrt(eps) / np.sqrt(s + eps) * dw, {"s": s}


def _adadelta_eps_outside(w, dw, state, lr=1.0, rho=0.9, eps=1e-6):
    """eps added after the square roots, as in Adam: the first steps are a thousand times too small."""
    s = rho * state.get("s", 0) + (1 - rho) * dw * dw
    u = state.get("u", 0)
    d = (np.sqrt(u) + eps) / (np.sqrt(s) + eps) * dw
    return w - lr * d, {"s": s, "u": rho * u + (1 - rho) * d * d}


def _adadelta_ignores_lr(w, dw, state, lr=1.0, rho=0.9, eps=1e-6):
    return ref.adadelta(w, dw, state, 1.0, rho, eps)


def _nadam_as_adam(w, dw, state, lr=2e-3, beta1=0.9, beta2=0.999, eps=1e-8, momentum_decay=4e-3):
    return ref.adam(w, dw, state, lr, beta1, beta2, eps)


def _nadam_constant_beta1(w, dw, state, lr=2e-3, beta1=0.9, beta2=0.999, eps=1e-8, momentum_decay=4e-3):
    """Dozat's NAdam with a constant mu_t = beta1 (no momentum warm-up)."""
    t = state.get("t", 0) + 1
    m = beta1 * state.get("m", 0) + (1 - beta1) * dw
    v = beta2 * state.get("v", 0) + (1 - beta2) * dw**2
    denom = np.sqrt(v / (1 - beta2**t)) + eps
    step = (1 - beta1) / (1 - beta1**t) * dw + beta1 / (1 - beta1 ** (t + 1)) * m
    return w - lr * step / denom, {"t": t, "m": m, "v": v}


def _nadam_mu_t_twice(w, dw, state, lr=2e-3, beta1=0.9, beta2=0.999, eps=1e-8, momentum_decay=4e-3):
    """Uses mu_t where torch uses mu_{t+1} in the momentum term."""
    t = state.get("t", 0) + 1
    mu = beta1 * (1 - 0.5 * 0.96 ** (t * momentum_decay))
    prod = state.get("p", 1.0) * mu
    m = beta1 * state.get("m", 0) + (1 - beta1) * dw
    v = beta2 * state.get("v", 0) + (1 - beta2) * dw**2
    denom = np.sqrt(v / (1 - beta2**t)) + eps
    step = (1 - mu) / (1 - prod) * dw + mu / (1 - prod * mu) * m
    return w - lr * step / denom, {"t": t, "m": m, "v": v, "p": prod}


_GLOBAL = {"t": 0}


def _adam_global_counter(w, dw, state, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0):
    """Keeps the step count in a global: right for the first run, wrong from the second on."""
    _GLOBAL["t"] += 1
    t = _GLOBAL["t"]
    m = beta1 * state.get("m", 0) + (1 - beta1) * dw
    v = beta2 * state.get("v", 0) + (1 - beta2) * dw**2
    return w - lr * (m / (1 - beta1**t)) / (np.sqrt(v / (1 - beta2**t)) + eps), {"m": m, "v": v}


def _stub(*args, **kwargs):
    raise NotImplementedError()


MISTAKES = [
    ("check_sgd", "stub", _stub),
    ("check_sgd", "gradient ascent", lambda w, dw, s, lr=1e-3, weight_decay=0.0: (w + lr * dw, s)),
    ("check_sgd", "default lr 0.01", lambda w, dw, s, lr=0.01, weight_decay=0.0: ref.sgd(w, dw, s, lr, weight_decay)),
    ("check_sgd", "ignores weight_decay", lambda w, dw, s, lr=1e-3, weight_decay=0.0: ref.sgd(w, dw, s, lr)),
    ("check_sgd", "returns only w", lambda w, dw, s, lr=1e-3, weight_decay=0.0: ref.sgd(w, dw, s, lr, weight_decay)[0]),
    ("check_sgd", "returns the update", lambda w, dw, s, lr=1e-3, weight_decay=0.0: (-lr * dw, s)),
    ("check_momentum", "EMA with (1 - mu) damping", _momentum_ema),
    ("check_momentum", "EMA damping, b = g at the first step", _momentum_ema_first_g),
    ("check_momentum", "plain SGD (no velocity kept)",
     lambda w, dw, s, lr=1e-3, mu=0.9, weight_decay=0.0: ref.sgd(w, dw, s, lr, weight_decay)),
    ("check_momentum", "CS231n form with the sign flipped", _momentum_cs231n_sign),
    ("check_momentum", "weight decay outside the velocity", _momentum_wd_after),
    ("check_momentum", "default mu 0.99",
     lambda w, dw, s, lr=1e-3, mu=0.99, weight_decay=0.0: ref.momentum(w, dw, s, lr, mu, weight_decay)),
    ("check_momentum", "modifies w in place", _momentum_in_place),
    ("check_nesterov", "plain momentum", ref.momentum),
    ("check_nesterov", "look-ahead with the old velocity", _nesterov_old_velocity),
    ("check_nesterov", "EMA damping (1 - mu) on the gradient", _nesterov_ema),
    ("check_nesterov", "look-ahead with the wrong sign (g - mu b)", _nesterov_minus),
    ("check_adagrad", "accumulates |g|", _adagrad_abs),
    ("check_adagrad", "accumulates |g|, no square root", _adagrad_abs_no_root),
    ("check_adagrad", "does not accumulate", _adagrad_no_accumulation),
    ("check_adagrad", "no square root", _adagrad_no_root),
    ("check_rmsprop", "alpha and 1 - alpha swapped", _rmsprop_swapped),
    ("check_rmsprop", "Keras defaults (lr 1e-3, rho 0.9)", _rmsprop_keras_defaults),
    ("check_rmsprop", "sum without the (1 - alpha)", _rmsprop_sum),
    ("check_adadelta", "no update accumulator", _adadelta_no_accumulator),
    ("check_adadelta", "eps outside the square roots", _adadelta_eps_outside),
    ("check_adadelta", "ignores lr", _adadelta_ignores_lr),
    ("check_adam", "no bias correction", _adam_with(correct_m=False, correct_v=False)),
    ("check_adam", "bias correction of m only", _adam_with(correct_v=False)),
    ("check_adam", "eps inside the square root", _adam_with(eps_in_root=True)),
    ("check_adam", "beta2 default 0.99", _adam_beta2_099),
    ("check_adam", "bias correction with t + 1", _adam_with(t_shift=1)),
    ("check_adam", "step count from 0 (division by zero)", _adam_t_zero_based),
    ("check_adam", "step count in a global variable", _adam_global_counter),
    ("check_adam", "L2 added after the moments", _adam_l2_after_moments),
    ("check_adam", "ignores weight_decay",
     lambda w, dw, s, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0:
     ref.adam(w, dw, s, lr, beta1, beta2, eps)),
    ("check_adam", "returns only w", lambda w, dw, s, **hp: ref.adam(w, dw, s, **hp)[0]),
    ("check_nadam", "Adam", _nadam_as_adam),
    ("check_nadam", "constant beta1 (no momentum schedule)", _nadam_constant_beta1),
    ("check_nadam", "mu_t where mu_{t+1} belongs", _nadam_mu_t_twice),
    ("check_adamw", "Adam + L2", _adamw_as_l2),
    ("check_adamw", "decay without the lr factor", _adamw_no_lr),
    ("check_adamw", "no bias correction", _adamw_no_correction),
    ("check_adamw", "default weight_decay 0", _adamw_default_wd_zero),
    ("check_adamw", "stub", _stub),
]


def _shifted(fn, k=1):
    return lambda t, *a, **kw: fn(t + k, *a, **kw)


SCHEDULE_MISTAKES = [
    ("check_step_decay", "one step early (t + 1)", _shifted(ref.step_decay)),
    ("check_step_decay", "decay after the milestone (t > m)",
     lambda t, lr0, ms, gamma=0.1: lr0 * gamma ** sum(1 for m in ms if t > m)),
    ("check_step_decay", "default gamma 0.5", lambda t, lr0, ms, gamma=0.5: ref.step_decay(t, lr0, ms, gamma)),
    ("check_piecewise_constant", "TensorFlow's convention (t > boundary)",
     lambda t, b, v: v[sum(1 for x in b if t > x)]),
    ("check_piecewise_constant", "returns None", lambda t, b, v: None),
    ("check_inverse_time_decay", "lr0 / (1 + beta)^t", lambda t, lr0, b: lr0 / (1 + b) ** t),
    ("check_inverse_time_decay", "one step early", _shifted(ref.inverse_time_decay)),
    ("check_exponential_decay", "exponent t + 1", lambda t, lr0, b: lr0 * b ** (t + 1)),
    ("check_exponential_decay", "returns the whole sequence",
     lambda t, lr0, b: lr0 * b ** np.arange(t + 1)),
    ("check_natural_exp_decay", "beta**t", ref.exponential_decay),
    ("check_natural_exp_decay", "exp(+beta t)", lambda t, lr0, b: lr0 * math.exp(b * t)),
    ("check_cosine_decay", "ignores lr_min", lambda t, lr0, T, lr_min=0.0: ref.cosine_decay(t, lr0, T)),
    ("check_cosine_decay", "cos(pi t / 2T) (quarter period)",
     lambda t, lr0, T, lr_min=0.0: lr_min + (lr0 - lr_min) * math.cos(math.pi * t / (2 * T))),
    ("check_cosine_decay", "one step early", _shifted(ref.cosine_decay)),
    ("check_linear_warmup", "starts at lr0 / W ((t + 1) / W)", _shifted(ref.linear_warmup)),
    ("check_linear_warmup", "keeps rising after the warm-up", lambda t, lr0, W: lr0 * t / W),
    ("check_warmup_cosine", "cosine not shifted by the warm-up",
     lambda t, lr0, W, T, lr_min=0.0: ref.linear_warmup(t, lr0, W) if t < W else ref.cosine_decay(t, lr0, T, lr_min)),
    ("check_warmup_cosine", "warm-up one step early", _shifted(ref.warmup_cosine)),
    ("check_triangular_cyclic", "cycle of step_size steps (too short)",
     lambda t, lo, hi, s: ref.triangular_cyclic(t, lo, hi, s / 2)),
    ("check_triangular_cyclic", "sawtooth: up only", lambda t, lo, hi, s: lo + (hi - lo) * ((t % s) / s)),
    ("check_triangular_cyclic", "starts at lr_max", lambda t, lo, hi, s: ref.triangular_cyclic(t + s, lo, hi, s)),
    ("check_cosine_warm_restarts", "restarts without T_mult",
     lambda t, lr0, T_0, T_mult=1, lr_min=0.0: ref.cosine_warm_restarts(t, lr0, T_0, 1, lr_min)),
    ("check_cosine_warm_restarts", "period T_0 + T_mult",
     lambda t, lr0, T_0, T_mult=1, lr_min=0.0: ref.cosine_warm_restarts(t, lr0, T_0 + T_mult - 1, 1, lr_min)),
    ("check_cosine_warm_restarts", "one step early", _shifted(ref.cosine_warm_restarts)),
    ("check_cosine_warm_restarts", "stub", _stub),
]


@pytest.mark.parametrize("check, fn", cases(MISTAKES + SCHEDULE_MISTAKES))
def test_check_rejects_mistake(check, fn):
    _GLOBAL["t"] = 0
    assert_rejects(getattr(chk, check), fn, name=check.replace("check_", ""))


def test_every_check_has_variants_and_mistakes():
    checks = {n for n in dir(chk) if n.startswith("check_") and not n.startswith("check_quiz")}
    assert checks == {f"check_{n}" for n in list(ref.OPTIMIZERS) + list(ref.SCHEDULES)}
    assert checks == {row[0] for row in VARIANTS + SCHEDULE_VARIANTS}
    assert checks == {row[0] for row in MISTAKES + SCHEDULE_MISTAKES}


# ------------------------------------------------------------ messages
@pytest.mark.parametrize("check, fn, phrase", [
    ("check_adam", _adam_with(correct_m=False, correct_v=False), "without bias correction"),
    ("check_adam", _adam_with(eps_in_root=True), "inside the square root"),
    ("check_adam", _adam_beta2_099, "0.999"),
    ("check_adam", _adam_with(t_shift=1), "t is 1 at the first step"),
    ("check_momentum", _momentum_ema, "(1 - mu)"),
    ("check_nesterov", ref.momentum, "plain momentum"),
    ("check_adagrad", _adagrad_no_accumulation, "keep growing"),
    ("check_rmsprop", _rmsprop_swapped, "swapped"),
    ("check_adadelta", _adadelta_no_accumulator, "never changes"),
    ("check_nadam", _nadam_as_adam, "this is Adam"),
    ("check_nadam", _nadam_constant_beta1, "warms it up"),
    ("check_adamw", _adamw_as_l2, "Adam + L2"),
    ("check_adamw", _adamw_no_lr, "needs the learning rate"),
    ("check_sgd", lambda w, dw, s, lr=1e-3, weight_decay=0.0: (-lr * dw, s), "returned the update"),
    ("check_sgd", lambda w, dw, s, lr=1e-3, weight_decay=0.0: (w + lr * dw, s), "uphill"),
    ("check_momentum", _momentum_in_place, "modified in place"),
    ("check_sgd", lambda w, dw, s, lr=1e-3, weight_decay=0.0: w - lr * dw, "return a pair"),
    ("check_exponential_decay", lambda t, lr0, b: lr0 * b ** (t + 1), "one step early"),
    ("check_natural_exp_decay", ref.exponential_decay, "exp(-beta * t)"),
    ("check_triangular_cyclic", lambda t, lo, hi, s: ref.triangular_cyclic(t, lo, hi, s / 2), "2 * step_size"),
    ("check_cosine_warm_restarts",
     lambda t, lr0, T_0, T_mult=1, lr_min=0.0: ref.cosine_warm_restarts(t, lr0, T_0, 1, lr_min), "T_mult"),
    ("check_warmup_cosine",
     lambda t, lr0, W, T, lr_min=0.0: ref.linear_warmup(t, lr0, W) if t < W else ref.cosine_decay(t, lr0, T, lr_min),
     "t - warmup_steps"),
    ("check_exponential_decay", lambda t, lr0, b: lr0 * b ** np.arange(t + 1), "one number"),
    ("check_adam", _stub, "not implemented yet"),
])
def test_messages_are_actionable(check, fn, phrase):
    msg = assert_rejects(getattr(chk, check), fn, name=check.replace("check_", ""))
    assert phrase in msg, msg


def test_message_names_the_step_and_case():
    msg = assert_rejects(chk.check_adam, _adam_beta2_099, name="adam")
    assert "w after step" in msg and "case " in msg and "expected" in msg and "got" in msg
    msg = assert_rejects(chk.check_step_decay, _shifted(ref.step_decay), name="step_decay")
    assert "at t = 2" in msg and "expected" in msg


def test_state_contents_are_not_judged(rng):
    """A state of any type works, as long as the trajectory is right: here a list, carried as-is."""
    def adam_list_state(w, dw, state, **hp):
        s = state[0] if state else {}
        w_next, s = ref.adam(w, dw, s, **hp)
        return w_next, [s]

    assert chk.check_adam(adam_list_state) is None


def test_visible_only_runs_fewer_cases():
    calls = []

    def spy(w, dw, state, **hp):
        calls.append(1)
        return ref.adam(w, dw, state, **hp)

    chk.check_adam(spy, visible_only=True)
    n_visible = len(calls)
    calls.clear()
    chk.check_adam(spy)
    assert 0 < n_visible < len(calls)


def test_checks_survive_monkeypatched_numpy(monkeypatch):
    """A notebook that rebinds np.allclose / np.abs must not change the verdict."""
    monkeypatch.setattr(np, "allclose", lambda *a, **k: True)
    monkeypatch.setattr(np, "abs", lambda x: np.zeros_like(x))
    with pytest.raises(AssertionError):
        chk.check_adam(_adam_beta2_099)
    with pytest.raises(AssertionError):
        chk.check_exponential_decay(lambda t, lr0, b: lr0 * b ** (t + 1))


def test_checks_write_nothing_to_stderr(capfd):
    """Overflow or 0/0 in the student's code must not print a RuntimeWarning (nbgrader would score 0)."""
    with pytest.raises(AssertionError):
        chk.check_adam(_adam_t_zero_based)
    chk.check_adam(_float32(_adam_efficient))
    chk.check_cosine_decay(ref.cosine_decay)
    assert capfd.readouterr().err == ""


# ------------------------------------------------------------ quiz
@pytest.mark.parametrize("answer", [{"momentum": "c", "adagrad": "a", "rmsprop": "b"},
                                    {"momentum": "C", "adagrad": " a", "rmsprop": "b", "extra": "x"}])
def test_quiz_features_accepts(answer):
    assert chk.check_quiz_optimizer_features(answer) is None


@pytest.mark.parametrize("answer", [None, "c", {"momentum": "d", "adagrad": "a", "rmsprop": "b"},
                                    {"momentum": "c", "adagrad": "b", "rmsprop": "a"},
                                    {"momentum": "c", "adagrad": "a"}])
def test_quiz_features_rejects(answer):
    with pytest.raises(AssertionError):
        chk.check_quiz_optimizer_features(answer)


def test_quiz_numbers():
    assert chk.check_quiz_adam_beta2(0.999) is None
    assert chk.check_quiz_bias_correction(10) is None
    assert chk.check_quiz_bias_correction(1 / (1 - 0.9)) is None
    for wrong in (0.99, 0.9, None, "beta2"):
        with pytest.raises(AssertionError):
            chk.check_quiz_adam_beta2(wrong)
    for wrong in (0.1, 1, 9, None):
        with pytest.raises(AssertionError):
            chk.check_quiz_bias_correction(wrong)
