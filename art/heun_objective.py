# ART-EDM: learned time grids for EDM-style diffusion samplers.
# Copyright (c) 2026 The ART-EDM authors. Released under the MIT License (see LICENSE).

"""Solver-aware ART: the leading local error of EDM's Heun step and its time-only optimum.

Derivation: docs/solver-aware-art.md. In the sigma frame of the EDM ODE, dx/dsigma = f(x, sigma) =
(x - D(x; sigma))/sigma (= `art.objective.denoiser_field`), one Heun step of size h = sigma_next - sigma
leaves the local error (eq. 7 of the document)

    x(sigma + h) - x_heun = h^3 R(x, sigma) + O(h^4),   R = (1/6) J_f Q - (1/12) f_2,

where Q = J_f f + d_sigma f (ART's curvature, eq. 8 of arXiv 2601.18681), J_f Q is the Jacobian of f
(in x) applied to Q, and f_2 = d^2/de^2 f(x + e f, sigma + e) at e = 0 is the second directional derivative
of f along the flow. On the ART clock (step Delta t, clock speed theta) the step is h = theta Delta t, so
the per-step error is |R| theta^3 Delta t^3 (eq. 9), and the time-only optimum of the running cost (eq. 10)
E|R| |theta|^3 is theta ~ rbar^(-1/3) (eq. 15): nodes equally spaced in u = int rbar^(1/3) dsigma.

Quality-aware variants (document §6) measure the same error after pushing it through the denoiser
(`'heun-D'`: |J_D R|) or weight it per noise level (`'heun-w'`: (sigma_data / sqrt(sigma^2 + sigma_data^2))^beta
|R|, the exact linear propagation factor of an x-error at sigma to the sample for Gaussian data).
"""

import numpy as np
import torch

import dnnlib

#----------------------------------------------------------------------------
# The field f(x, sigma) = (x - D)/sigma in float64, sigma per sample.

def _field(net, x, sigma, class_labels=None):
    from art.objective import denoiser_field # pylint: disable=import-outside-toplevel
    return denoiser_field(net, x, sigma, class_labels).to(torch.float64)

#----------------------------------------------------------------------------

def _per_sample(sigma, x):
    sigma = torch.as_tensor(sigma, dtype=torch.float64, device=x.device)
    if sigma.ndim == 0:
        sigma = sigma.expand(x.shape[0])
    return sigma.reshape(-1)

#----------------------------------------------------------------------------

def _bcast(v, x):
    return v.reshape([-1] + [1] * (x.ndim - 1))

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
# Running costs for ART / ART-RL: per-sample r(x, sigma) and the power p of theta (cost r |theta|^p).

RUNNING_COSTS = {
    'euler':   'ART (paper): |Q|, p = 2',
    'heun':    'solver-aware: |R|, p = 3',
    'heun-D':  'solver-aware, error on the denoised prediction: |J_D R|, p = 3',
    'heun-w':  'solver-aware, propagation-weighted: (sigma_data/sqrt(sigma^2+sigma_data^2))^beta |R|, p = 3',
}

#----------------------------------------------------------------------------

def cost_power(kind):
    """The exponent p of the clock speed in the running cost r |theta|^p (eq. 10)."""
    _check_kind(kind)
    return 2 if kind == 'euler' else 3

#----------------------------------------------------------------------------

def _check_kind(kind):
    if kind not in RUNNING_COSTS:
        raise dnnlib.UserError(f'Unknown running cost "{kind}"; use one of {", ".join(RUNNING_COSTS)}')

#----------------------------------------------------------------------------

def running_cost(net, x, sigma, class_labels=None, *, kind='heun', beta=1.0, backend='fd', rel_step=0.05):
    """Per-sample running cost r(x, sigma) >= 0 (float64 [B]) of the chosen kind, normalised by sqrt(dim)."""
    _check_kind(kind)
    x = torch.as_tensor(x).to(torch.float64)
    sigma = _per_sample(sigma, x)
    dim = x[0].numel()
    terms = heun_error_terms(net, x, sigma, class_labels, backend=backend, rel_step=rel_step)
    if kind == 'euler':
        return _norm(terms.Q) / np.sqrt(dim)
    R = terms.R
    if kind == 'heun':
        return _norm(R) / np.sqrt(dim)
    if kind == 'heun-w':
        sigma_data = float(getattr(net, 'sigma_data', 0.5))
        w = (sigma_data / torch.sqrt(sigma.square() + sigma_data ** 2)) ** beta
        return w * _norm(R) / np.sqrt(dim)
    # 'heun-D': push R through the Jacobian of D(x; sigma) = x - sigma f: J_D R = R - sigma J_f R.
    eta = rel_step * sigma * _norm(terms.f).clamp_min(1e-30) / _norm(R).clamp_min(1e-30)
    eb = _bcast(eta, x)
    JR = (_field(net, x + eb * R, sigma, class_labels) - _field(net, x - eb * R, sigma, class_labels)) / (2 * eb)
    return _norm(R - _bcast(sigma, x) * JR) / np.sqrt(dim)

#----------------------------------------------------------------------------
# Time-only closed form: theta ~ rbar^(-1/p)  <=>  nodes equally spaced in u = int rbar^(1/p) dsigma.

def closed_form_nodes(sigma_fine, rbar, num_nodes, p=3, floor=1e-3):
    """Place `num_nodes` sigmas (descending, from sigma_fine.max() to sigma_fine.min()) equally spaced in
    u(sigma) = int rbar(sigma)^(1/p) dsigma (eq. 15-16). `rbar` is the mean running cost on the fine grid.
    `floor` (relative to the mean density in log sigma) keeps u strictly increasing where rbar ~ 0.
    Integration is trapezoidal in log sigma (dsigma = sigma dlog sigma). Returns a float64 numpy array."""
    s = np.asarray(sigma_fine, np.float64)
    r = np.asarray(rbar, np.float64)
    if s.ndim != 1 or s.shape != r.shape or len(s) < 2 or np.any(s <= 0) or num_nodes < 2:
        raise dnnlib.UserError('closed_form_nodes needs matching 1-D sigma/rbar arrays (sigma > 0) and >= 2 nodes')
    order = np.argsort(s)
    s, r = s[order], np.maximum(r[order], 0)
    dens = r ** (1.0 / p) * s                                  # du / dlog sigma.
    dens = np.maximum(dens, floor * max(dens.mean(), 1e-300))
    logs = np.log(s)
    u = np.concatenate([[0], np.cumsum(0.5 * (dens[1:] + dens[:-1]) * np.diff(logs))])
    targets = np.linspace(0, u[-1], num_nodes)
    nodes = np.exp(np.interp(targets, u, logs))
    nodes[0], nodes[-1] = s[0], s[-1]
    return nodes[::-1].copy()

#----------------------------------------------------------------------------
# The surrogate value of a grid: sum_i rbar(sigma_i) |h_i|^p (the discrete eq. 10), for diagnostics.

def surrogate_error(sigmas, sigma_fine, rbar, p=3):
    """Sum over the steps of a descending grid (a trailing 0 is ignored) of rbar |sigma_{i+1}-sigma_i|^p, with
    rbar interpolated in log sigma at the geometric midpoint of each step (same leading order as eq. 9)."""
    s = np.asarray(sigmas, np.float64)
    s = s[s > 0]
    sf = np.asarray(sigma_fine, np.float64)
    order = np.argsort(sf)
    mid = 0.5 * (np.log(s[:-1]) + np.log(s[1:]))
    r_at = np.interp(mid, np.log(sf[order]), np.asarray(rbar, np.float64)[order])
    return float(np.sum(r_at * np.abs(np.diff(s)) ** p))

#----------------------------------------------------------------------------
# States of the PF-ODE trajectories at every node of a grid (the project's sampler, via its callback).

def trajectory(net, latents, sigmas, class_labels=None, *, solver='heun'):
    """[K+1, B, ...] float64 states at sigmas[0..K] (the last one is the sample at sigma = 0), from
    art.sampler.sample on the given grid (K+1 sigmas ending in 0)."""
    from art.sampler import sample # pylint: disable=import-outside-toplevel
    sigmas = torch.as_tensor(sigmas, dtype=torch.float64, device=latents.device)
    states = [latents.to(torch.float64) * sigmas[0]]
    sample(net, latents, sigmas, class_labels, solver=solver, callback=lambda i, t, x: states.append(x))
    return torch.stack(states)

#----------------------------------------------------------------------------
# Time-only profile rbar(sigma) = E r(x(sigma), sigma) along trajectories from warm-up latents.

def error_profile(net, *, kind='heun', beta=1.0, num_points=40, num_warmup=64, seed=1000000, batch=64,
                  backend='fd', rel_step=0.05, sigma_min=None, sigma_max=None, device='cpu', class_labels=None):
    """(sigma_fine, rbar): the mean running cost on a fine EDM rho=7 grid of `num_points` nodes from
    sigma_max to sigma_min, along Heun trajectories on that grid from `num_warmup` warm-up latents."""
    from art.peers import warmup_latents, warmup_labels, _range # pylint: disable=import-outside-toplevel
    from art.schedules import get_sigmas # pylint: disable=import-outside-toplevel
    lo, hi = _range(net, sigma_min, sigma_max)
    fine = get_sigmas('edm', num_points, net=net, sigma_min=lo, sigma_max=hi, device=device)
    latents = warmup_latents(net, num_warmup, seed, device)
    labels = class_labels if class_labels is not None else warmup_labels(net, num_warmup, seed, device)
    total = torch.zeros(num_points, dtype=torch.float64)
    for b0 in range(0, num_warmup, batch):
        z = latents[b0:b0 + batch]
        lab = None if labels is None else labels[b0:b0 + batch]
        xs = trajectory(net, z, fine, lab)
        for i in range(num_points):
            total[i] += running_cost(net, xs[i], fine[i], lab, kind=kind, beta=beta, backend=backend, rel_step=rel_step).sum().cpu()
    return fine[:-1].cpu().numpy(), (total / num_warmup).numpy()

#----------------------------------------------------------------------------
# Clock speeds of a grid on the ART clock (T = sigma_0, Delta t = T/K, the last step ends at 0).

def theta_from_sigmas(sigmas):
    s = np.asarray(torch.as_tensor(sigmas, dtype=torch.float64).cpu(), np.float64)
    K = len(s) - 1
    return (-np.diff(s) / (s[0] / K)).tolist()

#----------------------------------------------------------------------------
# Solver-aware closed form as a schedule dict (train_art.py --method=art-heun / art-heun-D / art-heun-w).

def fit(net, num_steps, *, kind='heun', beta=1.0, solver='heun', profile=None, verbose=False, **kwargs):
    """Schedule dict with K = `num_steps` nodes placed by eq. 16 (p = cost_power(kind)) plus the final 0.
    `profile` = (sigma_fine, rbar) reuses a measured profile; otherwise error_profile(**kwargs)."""
    from art.schedules import make_schedule # pylint: disable=import-outside-toplevel
    sigma_fine, rbar = profile if profile is not None else error_profile(net, kind=kind, beta=beta, **kwargs)
    p = cost_power(kind)
    nodes = closed_form_nodes(sigma_fine, rbar, num_steps, p=p)
    nodes = torch.as_tensor(net.round_sigma(torch.as_tensor(nodes))).to(torch.float64)
    sigmas = torch.cat([nodes, nodes.new_zeros([1])])
    if verbose:
        print(f'{kind} closed form (p={p}, beta={beta}) K={num_steps}: ' + ', '.join(f'{v:.4g}' for v in sigmas.tolist()))
    theta = theta_from_sigmas(sigmas)
    return make_schedule(sigmas, method=f'art-{kind}' if kind != 'euler' else 'closed-form', solver=solver,
        theta_bar=theta, settings=dict(kind=kind, beta=beta, p=p,
        profile=dict(sigma=np.asarray(sigma_fine).tolist(), rbar=np.asarray(rbar).tolist()),
        **{k: v for k, v in kwargs.items() if isinstance(v, (int, float, str))}))
