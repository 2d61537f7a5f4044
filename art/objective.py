# ART-EDM: learned time grids for EDM-style diffusion samplers.
# Copyright (c) 2026 The ART-EDM authors. Released under the MIT License (see LICENSE).

"""The ART error objective: the PF-ODE field F and the trajectory curvature Q (art-paper §1.3).

With the EDM parameterisation (f = 0, g² = 2σ, σ(τ) = τ) the probability-flow ODE reads
dx/dσ = F(x; σ) := (x - D(x; σ)) / σ, and the curvature of v1 eq. 8 becomes

    Q(x; σ) = dF/dσ along the flow = -(1/σ) · dD/dσ|flow,   dD/dσ|flow = J_D · ((x - D)/σ, 1),

i.e. ONE Jacobian-vector product of the denoiser in the direction (δx, δσ) = ((x - D)/σ, 1).
(The paper's backward field on the ψ-clock is -F and its Q has the opposite sign; only |Q| is used.)
For Gaussian data N(0, s_d²): Q = x s_d² / (s_d² + σ²)², the closed form used in the tests.

Three interchangeable backends compute the JVP:
  'forward'  forward-mode AD (torch.func.jvp); one forward + one dual pass.
  'backward' double-backward JVP: J v = d/du <J^T u, v> (two reverse passes); works with custom
             torch.autograd.Function ops whose backward is built from differentiable torch ops.
  'fd'       central finite difference D(x ± h δx; σ ± h), h = fd_eps · σ; any network.
  'auto'     on the first call for a network runs 'forward' and 'backward' and keeps the faster
             one that works; a network that rejects forward mode (e.g. a custom autograd.Function
             without functorch support, as in EDM's AttentionOp) thus falls back to 'backward', and
             to 'fd' when that fails too. The choice is remembered per network; fallbacks are
             logged once (a warning naming the error).

Entry points (docs/interfaces.md): denoiser_field(), curvature(), and field_and_curvature() which
returns (D, F, Q) from the evaluations the JVP needs anyway (used by art.rl / art.closed_form).

Each solver's leading local-error term (docs/solver-aware-art.md): for EDM's Heun step of size
h = sigma_next - sigma, x(sigma + h) - x_heun = h^3 R + O(h^4) with R = (1/6) J_f Q - (1/12) f_2, where
J_f Q is the Jacobian of f = F in x applied to Q and f_2 the second directional derivative of f along
the flow tangent (f, 1) (eq. 7); `heun_error_terms()` estimates them, `error_density()` returns the
per-state density r_S of a solver (|Q| for Euler, |R| for Heun, ...; RK4's by Richardson extrapolation of
its own step, eq. 29) and `error_power()` its power p.
"""

import time
import warnings
import weakref
from copy import deepcopy

import numpy as np
import torch

import dnnlib
from art.sampler import rk4_step

BACKENDS = ('auto', 'forward', 'backward', 'fd')

_auto_choice = weakref.WeakKeyDictionary()  # net -> backend chosen by 'auto'

#----------------------------------------------------------------------------
# Helpers.

def _expand_sigma(sigma, x):
    """sigma as a [B] tensor in x's dtype (accepts python floats, 0-dim and [B] tensors)."""
    sigma = torch.as_tensor(sigma, dtype=x.dtype, device=x.device)
    return sigma.reshape(-1).expand(x.shape[0]).clone() if sigma.numel() == 1 else sigma.reshape(x.shape[0])

def _bcast(sigma, x):
    return sigma.reshape([-1] + [1] * (x.ndim - 1))

def _call(net, x, sigma, class_labels):
    return net(x, sigma, class_labels).to(x.dtype)

#----------------------------------------------------------------------------
# F(x; σ) = (x - D(x; σ)) / σ.

def denoiser_field(net, x, sigma, class_labels=None):
    """The EDM PF-ODE field dx/dσ = (x - D(x; σ))/σ, in x's dtype (art-paper §1.1)."""
    sigma = _expand_sigma(sigma, x)
    with torch.no_grad():
        D = _call(net, x, sigma, class_labels)
    return (x - D) / _bcast(sigma, x)

#----------------------------------------------------------------------------
# dD/dσ along the flow, per backend. Each returns (D, dD) for the direction (v_x, 1).

def _jvp_forward(net, x, sigma, v_x, class_labels):
    fn = lambda x_, s_: _call(net, x_, s_, class_labels)
    with torch.no_grad():
        D, dD = torch.func.jvp(fn, (x, sigma), (v_x, torch.ones_like(sigma)))
    return D, dD

def _jvp_backward(net, x, sigma, v_x, class_labels):
    with torch.enable_grad():
        x_ = x.detach().requires_grad_(True)
        s_ = sigma.detach().requires_grad_(True)
        D = _call(net, x_, s_, class_labels)
        u = torch.zeros_like(D, requires_grad=True)
        g_x, g_s = torch.autograd.grad(D, (x_, s_), grad_outputs=u, create_graph=True, allow_unused=True)
        if g_x is None and g_s is None:
            return D.detach(), torch.zeros_like(D)
        inner = 0
        if g_x is not None:
            inner = inner + (g_x * v_x).sum()
        if g_s is not None:
            inner = inner + g_s.sum()
        (dD,) = torch.autograd.grad(inner, u, allow_unused=True)
    return D.detach(), (torch.zeros_like(D) if dD is None else dD.detach())

_float64_copies = weakref.WeakKeyDictionary()  # net -> its float64 copy (networks with float64_ok = True)

def _fd_network(net):
    """The network the finite differences evaluate: a cached float64 copy when the class says its
    forward honours float64 weights (float64_ok, e.g. training.dit.DiTPrecond), else `net` itself.
    In float32 a central difference of a ReLU network is limited by round-off for small steps and by
    the activation kinks inside the step for large ones (docs/results.md §7)."""
    if not (isinstance(net, torch.nn.Module) and getattr(net, 'float64_ok', False)):
        return net
    if all(p.dtype == torch.float64 for p in net.parameters()):
        return net
    copy = _float64_copies.get(net)
    if copy is None:
        copy = _float64_copies[net] = deepcopy(net).to(torch.float64).eval().requires_grad_(False)
    return copy

def _jvp_fd(net, x, sigma, v_x, class_labels, fd_eps=None):
    net = _fd_network(net)
    if fd_eps is None:  # relative step: ~eps^(1/3) of the evaluation precision
        fd_eps = 1e-6 if getattr(net, 'float64_ok', False) else 1e-3
    h = fd_eps * sigma
    hb = _bcast(h, x)
    with torch.no_grad():
        D_plus = _call(net, x + hb * v_x, sigma + h, class_labels)
        D_minus = _call(net, x - hb * v_x, sigma - h, class_labels)
    return None, (D_plus - D_minus) / (2 * hb)

_JVP = {'forward': _jvp_forward, 'backward': _jvp_backward, 'fd': _jvp_fd}

#----------------------------------------------------------------------------
# (D, F, Q) at (x, σ).

def field_and_curvature(net, x, sigma, class_labels=None, backend='auto', D=None, fd_eps=None):
    """Return (D, F, Q): the denoiser output, F = (x - D)/σ and Q = -(1/σ) J_D·(F, 1), all shaped like x.

    `sigma` may be a float, a 0-dim or a [B] tensor (> 0). `D` may be passed when already known."""
    if backend not in BACKENDS:
        raise dnnlib.UserError(f'Unknown Q backend "{backend}"; choose one of {", ".join(BACKENDS)}')
    sigma = _expand_sigma(sigma, x)
    if D is None:
        with torch.no_grad():
            D = _call(net, x, sigma, class_labels)
    sb = _bcast(sigma, x)
    F = (x - D) / sb
    if backend == 'auto':
        backend, dD = _auto_jvp(net, x, sigma, F, class_labels, fd_eps)
    elif backend == 'fd':
        _, dD = _jvp_fd(net, x, sigma, F, class_labels, fd_eps=fd_eps)
    else:
        _, dD = _JVP[backend](net, x, sigma, F, class_labels)
    Q = -dD / sb
    return D, F, Q

def _auto_jvp(net, x, sigma, v_x, class_labels, fd_eps):
    """First call for a network: run the exact backends (forward, then double-backward), keep the
    fastest one that works (forward-mode has a large fixed overhead on tiny networks), and fall back
    to finite differences only when neither works. Later calls reuse the choice."""
    key = net if isinstance(net, torch.nn.Module) else None
    chosen = _auto_choice.get(key) if key is not None else None
    if chosen is not None:
        if chosen == 'fd':
            return chosen, _jvp_fd(net, x, sigma, v_x, class_labels, fd_eps=fd_eps)[1]
        return chosen, _JVP[chosen](net, x, sigma, v_x, class_labels)[1]
    errors, results = [], []
    for backend in ('forward', 'backward'):
        try:
            _, dD = _JVP[backend](net, x, sigma, v_x, class_labels)
            t0 = time.perf_counter()
            _JVP[backend](net, x, sigma, v_x, class_labels)
            results.append((time.perf_counter() - t0, backend, dD))
        except Exception as e: # pylint: disable=broad-except
            msg = str(e).strip().splitlines()[0] if str(e).strip() else ''
            errors.append(f'{backend}: {type(e).__name__}: {msg[:200]}')
    if results:
        _sec, backend, dD = min(results, key=lambda r: r[0])
    else:
        backend, dD = 'fd', _jvp_fd(net, x, sigma, v_x, class_labels, fd_eps=fd_eps)[1]
    if key is not None:
        _auto_choice[key] = backend
    if errors:
        warnings.warn(f'Q backend "auto" uses "{backend}" for {type(net).__name__} ({"; ".join(errors)})', stacklevel=3)
    return backend, dD

def auto_backend(net):
    """The backend that 'auto' settled on for `net` (None before the first call)."""
    return _auto_choice.get(net)

#----------------------------------------------------------------------------
# Q alone.

def curvature(net, x, sigma, class_labels=None, backend='auto', fd_eps=None):
    """Trajectory curvature Q(x; σ) = -(1/σ) dD/dσ along the PF-ODE (art-paper §1.3), shaped like x."""
    return field_and_curvature(net, x, sigma, class_labels, backend=backend, fd_eps=fd_eps)[2]

#----------------------------------------------------------------------------
# |Q| per sample, optionally per-dimension normalised (|Q| / sqrt(d)).

def curvature_norm(Q, per_dim=True):
    """Euclidean norm of Q per sample ([B]); divided by sqrt(d) when per_dim (art-paper §4 item 2)."""
    q = Q.flatten(1).to(torch.float64).norm(dim=1)
    return q / (Q[0].numel() ** 0.5) if per_dim else q

#----------------------------------------------------------------------------
# The field f(x, sigma) = (x - D)/sigma in float64, sigma per sample.

def _field(net, x, sigma, class_labels=None):
    return denoiser_field(net, x, sigma, class_labels).to(torch.float64)

#----------------------------------------------------------------------------

def _per_sample(sigma, x):
    sigma = torch.as_tensor(sigma, dtype=torch.float64, device=x.device)
    if sigma.ndim == 0:
        sigma = sigma.expand(x.shape[0])
    return sigma.reshape(-1)

#----------------------------------------------------------------------------

def _norm(v):
    return v.flatten(1).norm(dim=1)

#----------------------------------------------------------------------------
# Heun error terms: Q, J_f Q, f_2 and R at (x, sigma).

def heun_error_terms(net, x, sigma, class_labels=None, *, backend='fd', rel_step=0.05):
    """Return an EasyDict with f, Q, JQ (= J_f Q), f2 and R (all float64, shaped like x), eq. 5-7.

    backend='fd': central differences (4 extra network calls): along the flow tangent (f, 1) with
    step delta = rel_step * sigma, and in x along Q with a step of the same length in x.
    backend='jvp': nested forward-mode JVPs (torch.func); needs a network that supports forward AD.
    """
    x = torch.as_tensor(x).to(torch.float64)
    sigma = _per_sample(sigma, x)
    if backend == 'jvp':
        return _terms_jvp(net, x, sigma, class_labels)
    if backend != 'fd':
        raise dnnlib.UserError(f'Unknown Heun-error backend "{backend}"; use fd or jvp')
    if not 0 < rel_step < 1:
        raise dnnlib.UserError(f'rel_step must lie in (0, 1), got {rel_step}')
    f0 = _field(net, x, sigma, class_labels)
    delta = rel_step * sigma                                   # Step along the tangent (f, 1).
    db = _bcast(delta, x)
    f_plus = _field(net, x + db * f0, sigma + delta, class_labels)
    f_minus = _field(net, x - db * f0, sigma - delta, class_labels)
    Q = (f_plus - f_minus) / (2 * db)
    f2 = (f_plus - 2 * f0 + f_minus) / db.square()
    eta = delta * _norm(f0).clamp_min(1e-30) / _norm(Q).clamp_min(1e-30) # Same x-displacement as above.
    eb = _bcast(eta, x)
    JQ = (_field(net, x + eb * Q, sigma, class_labels) - _field(net, x - eb * Q, sigma, class_labels)) / (2 * eb)
    R = JQ / 6 - f2 / 12
    return dnnlib.EasyDict(f=f0, Q=Q, JQ=JQ, f2=f2, R=R)

#----------------------------------------------------------------------------

def _terms_jvp(net, x, sigma, class_labels):
    from torch.func import jvp # pylint: disable=import-outside-toplevel
    f0 = _field(net, x, sigma, class_labels)
    def phi(e):                                                # f along the flow tangent, e is a scalar.
        return _field(net, x + e * f0, sigma + e, class_labels)
    def dphi(e):
        return jvp(phi, (e,), (torch.ones_like(e),))[1]
    e0 = torch.zeros([], dtype=torch.float64, device=x.device)
    Q, f2 = jvp(dphi, (e0,), (torch.ones_like(e0),))
    JQ = jvp(lambda y: _field(net, y, sigma, class_labels), (x,), (Q,))[1]
    R = JQ / 6 - f2 / 12
    return dnnlib.EasyDict(f=f0, Q=Q, JQ=JQ, f2=f2, R=R)

#----------------------------------------------------------------------------
# Each solver's leading local-error density r_S(x, sigma) and the power p = order + 1 of the step in
# it: one step of size h leaves ~ r_S h^p (the running cost r_S |theta|^p on the ART clock, eq. 9-10).

ERROR_MODELS = {
    'euler':    'ART (paper): |Q|, p = 2 (art-paper eq. 8)',
    'heun':     'solver-aware: |R| = |(1/6) J_f Q - (1/12) f_2|, p = 3 (docs/solver-aware-art.md eq. 7)',
    'dpmpp-2m': 'solver-aware: |D\'/12 + (5/12) D\'\'| / sigma^3 (lambda-derivatives along the flow), p = 3 (eq. 21)',
    'rk4':      'solver-aware: (16/15) |RK4(h) - RK4(h/2)^2| / |h|^5 (Richardson on its own step, no JVP), p = 5 (eq. 29)',
}
POWERS = {'euler': 2, 'heun': 3, 'dpmpp-2m': 3, 'rk4': 5}

def error_power(solver):
    """The exponent p of the step size (and of theta) in the solver's local error r_S |h|^p."""
    check_error_model(solver)
    return POWERS[solver]

def flow_derivatives_lambda(net, x, sigma, class_labels=None, *, rel_step=0.05):
    """(D, D', D''): the denoiser and its first two derivatives in lambda = -log sigma along the PF-ODE
    through (x, sigma), where dx/dlambda = D - x (eq. 19), by central differences with step delta = rel_step in
    lambda: D' from the tangent points x +- delta x', D'' from the second-order points
    x +- delta x' + delta^2/2 x'' with x'' = D' - x' (4 extra network evaluations, in two calls on the
    doubled batch)."""
    x = torch.as_tensor(x).to(torch.float64)
    sigma = _per_sample(sigma, x)
    labels2 = None if class_labels is None else torch.cat([class_labels, class_labels])
    def pair(xa, xb):  # D at (xa, sigma e^-delta) and (xb, sigma e^delta): one call on the stacked batch
        out = _call(net, torch.cat([xa, xb]), torch.cat([up, down]), labels2).to(torch.float64)
        return out[:len(x)], out[len(x):]
    with torch.no_grad():
        D = _call(net, x, sigma, class_labels).to(torch.float64)
        d1 = D - x
        up, down = sigma * np.exp(-rel_step), sigma * np.exp(rel_step)
        D_up, D_down = pair(x + rel_step * d1, x - rel_step * d1)
        D1 = (D_up - D_down) / (2 * rel_step)
        curve = 0.5 * rel_step ** 2 * (D1 - d1)
        D_up, D_down = pair(x + rel_step * d1 + curve, x - rel_step * d1 + curve)
        D2 = (D_up - 2 * D + D_down) / rel_step ** 2
    return D, D1, D2

def rk4_error_density(net, x, sigma, class_labels=None, *, rel_step=0.2):
    """|C| / sqrt(d) (float64 [B]) of RK4's local error x_RK4(h) - x(sigma + h) = C h^5 + O(h^6) on
    dx/dsigma = F (eq. 29), by Richardson extrapolation of the solver's own step: one step of h and two of h/2
    differ by (15/16) C h^5, so |C| = (16/15) |x_h - x_h/2,h/2| / |h|^5, with h = sigma (e^-rel_step - 1), i.e. a
    step of rel_step in lambda = -log sigma (11 network calls). rel_step trades the O(h) bias of the leading
    term against the float32 rounding of the network, which |C h^5| must exceed."""
    if not 0 < rel_step < 1:
        raise dnnlib.UserError(f'rel_step must lie in (0, 1), got {rel_step}')
    x = torch.as_tensor(x).to(torch.float64)
    sigma = _per_sample(sigma, x)
    f = lambda y, s: _field(net, y, s, class_labels)
    with torch.no_grad():
        h = sigma * np.expm1(-rel_step)
        k1 = f(x, sigma)
        full = rk4_step(f, x, sigma, h, k1)
        half = rk4_step(f, rk4_step(f, x, sigma, h / 2, k1), sigma + h / 2, h / 2)
    return (16 / 15) * _norm(full - half) / np.sqrt(x[0].numel()) / h.abs() ** 5

def field_and_density(net, x, sigma, class_labels=None, *, solver='heun', backend='auto', rel_step=0.05):
    """(F, r_S): the PF-ODE field (x - D)/sigma in float64 and error_density at (x, sigma), sharing the
    network call at (x, sigma) where the density makes it (dpmpp-2m)."""
    if solver != 'dpmpp-2m':
        return _field(net, x, sigma, class_labels), error_density(net, x, sigma, class_labels, solver=solver, backend=backend,
                                                                  rel_step=rel_step)
    x = torch.as_tensor(x).to(torch.float64)
    sigma = _per_sample(sigma, x)
    D, D1, D2 = flow_derivatives_lambda(net, x, sigma, class_labels, rel_step=rel_step)  # error h_lambda^3 |D'/12 + (5/12) D''|
    return (x - D) / _bcast(sigma, x), _norm(D1 / 12 + 5 * D2 / 12) / np.sqrt(x[0].numel()) / sigma ** 3

def check_error_model(solver):
    if solver not in ERROR_MODELS:
        raise dnnlib.UserError(f'No local-error model for solver "{solver}"; solver-aware learners support {", ".join(ERROR_MODELS)}')

def gaussian_propagation(sigma, sigma_data, beta):
    """(sigma_data / sqrt(sigma^2 + sigma_data^2))^beta: the exact linear propagation factor of an x-error at
    sigma to the sample for Gaussian data (docs/solver-aware-art.md §6), raised to beta (numpy or torch)."""
    if torch.is_tensor(sigma):
        return (sigma_data / torch.sqrt(sigma.to(torch.float64).square() + sigma_data ** 2)) ** beta
    return (sigma_data / np.sqrt(np.asarray(sigma, np.float64) ** 2 + sigma_data ** 2)) ** beta

def propagation_weight(net, sigma, beta):
    """gaussian_propagation with the network's sigma_data (0.5 if it declares none), as a float64 tensor."""
    return gaussian_propagation(torch.as_tensor(sigma, dtype=torch.float64), float(getattr(net, 'sigma_data', 0.5)), beta)

def error_density(net, x, sigma, class_labels=None, *, solver='heun', backend='auto', rel_step=0.05):
    """Per-sample local-error density r_S(x, sigma) >= 0 (float64 [B]) of `solver`, normalised by sqrt(dim):
    |Q| for euler (Q by the JVP `backend`, as ART), |R| for heun (central differences, heun_error_terms),
    |D'/12 + 5 D''/12| / sigma^3 for dpmpp-2m (flow_derivatives_lambda; equal steps, r = 1), the Richardson
    estimate for rk4 (rk4_error_density; rel_step = 0.2 there: its step in lambda)."""
    check_error_model(solver)
    x = torch.as_tensor(x).to(torch.float64)
    sigma = _per_sample(sigma, x)
    dim = x[0].numel()
    if solver == 'euler':
        return curvature_norm(curvature(net, x, sigma, class_labels, backend=backend), per_dim=True)
    if solver == 'dpmpp-2m':  # with h_lambda = |h| / sigma (eq. 21)
        return field_and_density(net, x, sigma, class_labels, solver=solver, rel_step=rel_step)[1]
    if solver == 'rk4':
        return rk4_error_density(net, x, sigma, class_labels)
    terms = heun_error_terms(net, x, sigma, class_labels, backend='fd', rel_step=rel_step)
    return _norm(terms.R) / np.sqrt(dim)

#----------------------------------------------------------------------------
