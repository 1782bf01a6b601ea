"""Chapter 3 -- optimizers and learning-rate schedules (reference, numpy, float64).

Every optimizer is a pure step

    w_next, state = name(w, dw, state, **hyperparameters)

``state`` starts as ``{}``; the caller passes back whatever the previous call
returned.  Nothing is modified in place: ``w``, ``dw`` and ``state`` are only
read.  Defaults and arithmetic follow ``torch.optim``, so that for any
sequence of gradients the trajectory of ``w`` is the one torch produces with
the same hyperparameters.

Every schedule is a function of the 0-based step ``t`` that returns the
learning rate to use at that step (torch: ``scheduler.get_last_lr()`` after
``t`` calls of ``scheduler.step()``).
"""
import math
from bisect import bisect_right

import numpy as np


def _arrays(w, dw):
    return np.asarray(w, dtype=np.float64), np.asarray(dw, dtype=np.float64)


# =================================================================== optimizers
def sgd(w, dw, state, lr=1e-3, weight_decay=0.0):
    r"""Plain (stochastic) gradient descent: $g = \nabla + \lambda w$, $w \leftarrow w - \eta g$.

    It is momentum with $\mu = 0$.  w, dw: same shape (any).
    torch: ``torch.optim.SGD(params, lr, weight_decay=weight_decay)``.
    """
    return momentum(w, dw, state, lr=lr, mu=0.0, weight_decay=weight_decay)


def momentum(w, dw, state, lr=1e-3, mu=0.9, weight_decay=0.0):
    r"""SGD with (heavy-ball) momentum, torch's form.

    $g = \nabla + \lambda w$;  $b \leftarrow \mu b + g$ ($b = g$ at the first step);  $w \leftarrow w - \eta b$.
    CS231n's $v = \mu v - \eta g,\ w \leftarrow w + v$ is the same trajectory ($v = -\eta b$) while lr is constant.
    w, dw: same shape.  state: {"velocity": b}.
    torch: ``torch.optim.SGD(params, lr, momentum=mu, weight_decay=weight_decay)``.
    """
    w, g = _arrays(w, dw)
    if weight_decay:
        g = g + weight_decay * w
    b = state.get("velocity")
    b = g if b is None else mu * b + g
    return w - lr * b, {"velocity": b}


def nesterov(w, dw, state, lr=1e-3, mu=0.9, weight_decay=0.0):
    r"""SGD with Nesterov momentum, torch's form (the look-ahead folded into the gradient step).

    $g = \nabla + \lambda w$;  $b \leftarrow \mu b + g$;  $w \leftarrow w - \eta\,(g + \mu b)$.
    w, dw: same shape.  state: {"velocity": b}.
    torch: ``torch.optim.SGD(params, lr, momentum=mu, nesterov=True, weight_decay=weight_decay)``.
    """
    w, g = _arrays(w, dw)
    if weight_decay:
        g = g + weight_decay * w
    b = state.get("velocity")
    b = g if b is None else mu * b + g
    return w - lr * (g + mu * b), {"velocity": b}


def adagrad(w, dw, state, lr=1e-2, eps=1e-10):
    r"""AdaGrad: every coordinate divides by the root of its own sum of squared gradients.

    $s \leftarrow s + g^2$;  $w \leftarrow w - \eta\, g / (\sqrt{s} + \epsilon)$.
    The sum never shrinks, so the step sizes only decrease.  state: {"sum_sq": s}.
    torch: ``torch.optim.Adagrad(params, lr, eps=eps)``.
    """
    w, g = _arrays(w, dw)
    s = state.get("sum_sq", 0.0) + g * g
    return w - lr * g / (np.sqrt(s) + eps), {"sum_sq": s}


def rmsprop(w, dw, state, lr=1e-2, alpha=0.99, eps=1e-8):
    r"""RMSprop: AdaGrad with the sum replaced by an exponential moving average.

    $s \leftarrow \alpha s + (1 - \alpha) g^2$;  $w \leftarrow w - \eta\, g / (\sqrt{s} + \epsilon)$.
    state: {"sq_avg": s}.  torch: ``torch.optim.RMSprop(params, lr, alpha=alpha, eps=eps)``.
    """
    w, g = _arrays(w, dw)
    s = alpha * state.get("sq_avg", 0.0) + (1.0 - alpha) * g * g
    return w - lr * g / (np.sqrt(s) + eps), {"sq_avg": s}


def adadelta(w, dw, state, lr=1.0, rho=0.9, eps=1e-6):
    r"""AdaDelta: the step is (RMS of past steps) / (RMS of past gradients) times the gradient.

    $s \leftarrow \rho s + (1-\rho) g^2$;  $\Delta = \sqrt{u + \epsilon}\,/\,\sqrt{s + \epsilon}\; g$;
    $u \leftarrow \rho u + (1-\rho) \Delta^2$;  $w \leftarrow w - \eta \Delta$.
    state: {"sq_avg": s, "delta_sq_avg": u}.  torch: ``torch.optim.Adadelta(params, lr, rho=rho, eps=eps)``.
    """
    w, g = _arrays(w, dw)
    s = rho * state.get("sq_avg", 0.0) + (1.0 - rho) * g * g
    u = state.get("delta_sq_avg", 0.0)
    delta = np.sqrt(u + eps) / np.sqrt(s + eps) * g
    u = rho * u + (1.0 - rho) * delta * delta
    return w - lr * delta, {"sq_avg": s, "delta_sq_avg": u}


def adam(w, dw, state, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0):
    r"""Adam with bias correction; weight decay, if any, is L2 added to the gradient (as torch's Adam).

    $g = \nabla + \lambda w$;  $m \leftarrow \beta_1 m + (1-\beta_1) g$;  $v \leftarrow \beta_2 v + (1-\beta_2) g^2$;
    $w \leftarrow w - \eta\, \hat m / (\sqrt{\hat v} + \epsilon)$ with $\hat m = m/(1-\beta_1^t)$, $\hat v = v/(1-\beta_2^t)$, $t = 1, 2, \dots$
    state: {"t": t, "m": m, "v": v}.
    torch: ``torch.optim.Adam(params, lr, betas=(beta1, beta2), eps=eps, weight_decay=weight_decay)``.
    """
    w, g = _arrays(w, dw)
    if weight_decay:
        g = g + weight_decay * w
    t = state.get("t", 0) + 1
    m = beta1 * state.get("m", 0.0) + (1.0 - beta1) * g
    v = beta2 * state.get("v", 0.0) + (1.0 - beta2) * g * g
    m_hat = m / (1.0 - beta1**t)
    v_hat = v / (1.0 - beta2**t)
    return w - lr * m_hat / (np.sqrt(v_hat) + eps), {"t": t, "m": m, "v": v}


def nadam(w, dw, state, lr=2e-3, beta1=0.9, beta2=0.999, eps=1e-8, momentum_decay=4e-3):
    r"""NAdam (Dozat 2016) as torch implements it: Adam with a Nesterov look-ahead and a warming-up $\beta_1$.

    $\mu_t = \beta_1 (1 - \tfrac12\, 0.96^{\,t\,\psi})$ ($\psi$ = momentum_decay), $\Pi_t = \prod_{i \le t} \mu_i$;
    $w \leftarrow w - \eta \big[\tfrac{1-\mu_t}{1-\Pi_t} g + \tfrac{\mu_{t+1}}{1-\Pi_t\mu_{t+1}} m\big] / (\sqrt{\hat v} + \epsilon)$,
    with m, v, $\hat v$ as in Adam.  state: {"t", "m", "v", "mu_product"}.
    torch: ``torch.optim.NAdam(params, lr, betas=(beta1, beta2), eps=eps, momentum_decay=momentum_decay)``.
    """
    w, g = _arrays(w, dw)
    t = state.get("t", 0) + 1
    mu_t = beta1 * (1.0 - 0.5 * 0.96 ** (t * momentum_decay))
    mu_next = beta1 * (1.0 - 0.5 * 0.96 ** ((t + 1) * momentum_decay))
    prod = state.get("mu_product", 1.0) * mu_t
    m = beta1 * state.get("m", 0.0) + (1.0 - beta1) * g
    v = beta2 * state.get("v", 0.0) + (1.0 - beta2) * g * g
    denom = np.sqrt(v / (1.0 - beta2**t)) + eps
    step = (1.0 - mu_t) / (1.0 - prod) * g + mu_next / (1.0 - prod * mu_next) * m
    return w - lr * step / denom, {"t": t, "m": m, "v": v, "mu_product": prod}


def adamw(w, dw, state, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=1e-2):
    r"""AdamW (Loshchilov & Hutter): weight decay applied to w directly, outside Adam's scaling.

    $w \leftarrow (1 - \eta\lambda)\, w$, then an Adam step on the raw gradient (no L2 term).
    state: as Adam's.  torch: ``torch.optim.AdamW(params, lr, betas=(beta1, beta2), eps=eps, weight_decay=weight_decay)``.
    """
    w, g = _arrays(w, dw)
    return adam(w * (1.0 - lr * weight_decay), g, state, lr=lr, beta1=beta1, beta2=beta2, eps=eps)


OPTIMIZERS = {
    "sgd": sgd, "momentum": momentum, "nesterov": nesterov, "adagrad": adagrad, "rmsprop": rmsprop,
    "adadelta": adadelta, "adam": adam, "nadam": nadam, "adamw": adamw,
}


class Optimizer:
    """A list of parameter arrays updated by one of the step functions above, one state per array.

    ``opt = Optimizer(adam, lr=1e-2)``; ``params = opt.step(params, grads)``.  With ``schedule``
    (a function of the 0-based step returning the learning rate) the lr changes every step and the
    ``lr`` keyword is ignored.  A thin convenience for training loops; all the arithmetic is in ``step``.
    """

    def __init__(self, step, schedule=None, **hyperparameters):
        self.step_fn = step
        self.schedule = schedule
        self.hyperparameters = hyperparameters
        self.states = None
        self.t = 0

    def step(self, params, grads):
        if self.states is None:
            self.states = [{} for _ in params]
        hp = dict(self.hyperparameters)
        if self.schedule is not None:
            hp["lr"] = self.schedule(self.t)
        out = []
        for i, (p, g) in enumerate(zip(params, grads)):
            p_next, self.states[i] = self.step_fn(p, g, self.states[i], **hp)
            out.append(p_next)
        self.t += 1
        return out


# =================================================================== schedules
def step_decay(t, lr0, milestones, gamma=0.1):
    r"""Multiply the rate by gamma at every milestone reached: $\eta_t = \eta_0\, \gamma^{\#\{m \le t\}}$.

    milestones: increasing step numbers.  torch: ``MultiStepLR(opt, milestones, gamma)``.
    """
    return lr0 * gamma ** bisect_right(sorted(milestones), t)


def piecewise_constant(t, boundaries, values):
    r"""$\eta_t$ = values[i] where i is the number of boundaries $\le t$.

    len(values) = len(boundaries) + 1; the rate changes *at* step ``boundaries[i]``, as in MultiStepLR.
    (TensorFlow's ``PiecewiseConstantDecay`` changes one step later, after the boundary.)
    """
    if len(values) != len(boundaries) + 1:
        raise ValueError("piecewise_constant needs one more value than boundaries")
    return values[bisect_right(list(boundaries), t)]


def inverse_time_decay(t, lr0, beta):
    r"""$\eta_t = \eta_0 / (1 + \beta t)$."""
    return lr0 / (1.0 + beta * t)


def exponential_decay(t, lr0, beta):
    r"""$\eta_t = \eta_0\, \beta^t$ with $\beta < 1$.  torch: ``ExponentialLR(opt, gamma=beta)``."""
    return lr0 * beta**t


def natural_exp_decay(t, lr0, beta):
    r"""$\eta_t = \eta_0\, e^{-\beta t}$, i.e. exponential decay with factor $e^{-\beta}$ per step."""
    return lr0 * math.exp(-beta * t)


def cosine_decay(t, lr0, T, lr_min=0.0):
    r"""$\eta_t = \eta_{min} + \tfrac12(\eta_0 - \eta_{min})(1 + \cos(\pi t / T))$ for $t \le T$, then $\eta_{min}$.

    torch: ``CosineAnnealingLR(opt, T_max=T, eta_min=lr_min)`` for t <= T (torch's keeps following the cosine
    back up after T; this one stays at lr_min).
    """
    if t >= T:
        return lr_min
    return lr_min + 0.5 * (lr0 - lr_min) * (1.0 + math.cos(math.pi * t / T))


def linear_warmup(t, lr0, warmup_steps):
    r"""$\eta_t = \eta_0 \min(1, t / T_w)$: 0 at t = 0, rising linearly to lr0 at t = warmup_steps."""
    return lr0 * min(1.0, t / warmup_steps)


def warmup_cosine(t, lr0, warmup_steps, total_steps, lr_min=0.0):
    r"""Linear warm-up to lr0 over warmup_steps, then cosine decay to lr_min at total_steps.

    $\eta_t = \eta_0 t / T_w$ for $t < T_w$;  else cosine_decay$(t - T_w, \eta_0, T - T_w, \eta_{min})$.
    torch: ``SequentialLR([LinearLR(...), CosineAnnealingLR(opt, T - T_w, lr_min)], milestones=[T_w])``.
    """
    if t < warmup_steps:
        return linear_warmup(t, lr0, warmup_steps)
    return cosine_decay(t - warmup_steps, lr0, total_steps - warmup_steps, lr_min)


def triangular_cyclic(t, lr_min, lr_max, step_size):
    r"""Triangular cyclic rate (Smith 2017): up from lr_min to lr_max in step_size steps, back down in as many.

    $c = \lfloor 1 + t / (2s) \rfloor$, $x = |t/s - 2c + 1|$, $\eta_t = \eta_{min} + (\eta_{max} - \eta_{min}) \max(0, 1 - x)$.
    One cycle is 2 * step_size steps.  torch: ``CyclicLR(opt, lr_min, lr_max, step_size_up=step_size)``.
    """
    cycle = math.floor(1 + t / (2 * step_size))
    x = abs(t / step_size - 2 * cycle + 1)
    return lr_min + (lr_max - lr_min) * max(0.0, 1.0 - x)


def cosine_warm_restarts(t, lr0, T_0, T_mult=1, lr_min=0.0):
    r"""SGDR (Loshchilov & Hutter 2017): cosine decay that restarts at lr0; each period is T_mult times the last.

    Periods $T_0, T_0 T_{mult}, T_0 T_{mult}^2, \dots$; with $t_{cur}$ the steps since the last restart and $T_i$
    the current period, $\eta_t = \eta_{min} + \tfrac12(\eta_0 - \eta_{min})(1 + \cos(\pi t_{cur}/T_i))$.
    torch: ``CosineAnnealingWarmRestarts(opt, T_0, T_mult, eta_min=lr_min)``.
    """
    if T_mult == 1:
        t_cur, period = t % T_0, T_0
    else:
        t_cur, period = t, T_0
    while t_cur >= period:  # integer arithmetic: no rounding at the restarts
        t_cur -= period
        period *= T_mult
    return lr_min + 0.5 * (lr0 - lr_min) * (1.0 + math.cos(math.pi * t_cur / period))


SCHEDULES = {
    "step_decay": step_decay, "piecewise_constant": piecewise_constant, "inverse_time_decay": inverse_time_decay,
    "exponential_decay": exponential_decay, "natural_exp_decay": natural_exp_decay, "cosine_decay": cosine_decay,
    "linear_warmup": linear_warmup, "warmup_cosine": warmup_cosine, "triangular_cyclic": triangular_cyclic,
    "cosine_warm_restarts": cosine_warm_restarts,
}
