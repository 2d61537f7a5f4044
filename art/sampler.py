# ART-EDM: learned time grids for EDM-style diffusion samplers.
# Copyright (c) 2026 The ART-EDM authors. Released under the MIT License (see LICENSE).

"""The one ODE/SDE solver core used by generate.py, train_art.py and compare.py.

- `sample()`: every solver of SOLVERS on an arbitrary sigma grid (docs/solvers.md,
  solvers.md §1-5). euler/heun are exactly EDM's Algorithm 2 (Karras et al. 2022; edm-spec.md
  §2.5) including churn (S_churn, S_min, S_max, S_noise), with exactly one randn_like per step
  (even when gamma = 0); dpmpp-2m, dpmpp-3m, ipndm and rk4 are deterministic. Float64 state, the net called
  on a 0-dim float64 sigma; the conventions final_step and afs; NFE = count_nfe(); a final check
  that the samples are finite (UserError naming the first non-finite step).
- `ablation_sample()`: EDM's generalised Algorithm 1 (edm-spec.md §2.6): sigma(t) in vp|ve|linear,
  scaling s(t) in vp|none, the Heun parameter alpha, with the same per-step draw order.
- `StackedRandomGenerator`: one torch.Generator per seed (spec §2.3).

Efficiency: every per-step scalar (gamma, t_hat, the noise coefficient, step sizes) is computed
once, vectorised over the grid on the latents' device, so the loop does no host round-trip.
"""

import math

import numpy as np
import torch

import dnnlib
from art.schedules import get_sigmas, sigma_range, is_schedule_path, vp_beta_refit, vp_sigma, vp_sigma_deriv, vp_sigma_inv

SOLVERS = ('euler', 'heun', 'dpmpp-2m', 'dpmpp-3m', 'ipndm', 'rk4')
SOLVER_ORDER = {'euler': 1, 'heun': 2, 'dpmpp-2m': 2, 'dpmpp-3m': 3, 'ipndm': 4, 'rk4': 4} # ipndm: max_order, on equal steps (2 on varying steps; docs/solvers.md)
SOLVER_INFO = {
    'euler':    'Euler on dx/dsigma = (x - D)/sigma (= DDIM); order 1, 1 NFE per step',
    'heun':     'Heun, EDM Algorithm 2 (Euler on the step to 0); order 2, 2 NFE per step',
    'dpmpp-2m': 'DPM-Solver++(2M) (Lu et al. 2022): multistep in lambda = -log sigma, data prediction; order 2, 1 NFE per step',
    'dpmpp-3m': 'DPM-Solver++(3M) (Lu et al. 2022): third-order multistep in lambda, data prediction, exact step ratios; order 3, 1 NFE per step',
    'ipndm':    'iPNDM (Zhang & Chen 2023): Adams-Bashforth on d, equal-step coefficients, warm start; order 4 on equal steps, 1 NFE per step',
    'rk4':      'classical 4th-order Runge-Kutta on dx/dsigma; order 4, 4 NFE per step',
}
STAGES = {'euler': 1, 'heun': 2, 'dpmpp-2m': 1, 'dpmpp-3m': 1, 'ipndm': 1, 'rk4': 4} # network calls per full step
FINAL_STEPS = ('euler', 'none', 'denoise')
SIGMA_SCHEDULES = ('vp', 've', 'linear')
SCALINGS = ('vp', 'none')

#----------------------------------------------------------------------------

def _check_choices(solver, final_step='euler'):
    if solver not in SOLVERS:
        raise dnnlib.UserError(f'Unknown solver "{solver}"; choose one of {", ".join(SOLVERS)}')
    if final_step not in FINAL_STEPS:
        raise dnnlib.UserError(f'Unknown final step "{final_step}"; choose one of {", ".join(FINAL_STEPS)}')

#----------------------------------------------------------------------------
# NFE of `sample()` on a grid of K steps (K+1 sigmas ending in 0): the one source of truth.

def count_nfe(solver, num_steps, *, final_step='euler', afs=False):
    """K-1 full steps of STAGES[solver] calls each, then: 'euler' the Euler step to 0 (1 call),
    'none' nothing, 'denoise' D(x; sigma_{K-1}) (1 call). afs saves the first call (solvers.md §5).
    Heun: 2K-1 | 2K-2 | 2K-1; RK4: 4K-3 | 4K-4 | 4K-3; Euler, DPM-Solver++(2M/3M), iPNDM: K | K-1 | K."""
    _check_choices(solver, final_step)
    K = int(num_steps)
    if K < 1:
        raise dnnlib.UserError(f'The number of steps must be at least 1, got {K}')
    nfe = STAGES[solver] * (K - 1) + (0 if final_step == 'none' else 1)
    return max(nfe - 1, 0) if afs else nfe

#----------------------------------------------------------------------------
# Per-seed random number generators, stacked along the batch (spec §2.3).

class StackedRandomGenerator:
    """One torch.Generator per seed, seeded with seed % 2**32. Every draw makes one call per
    generator with the per-sample shape size[1:] and stacks the results, so a sample's numbers do
    not depend on the batch it is in."""
    def __init__(self, device, seeds):
        super().__init__()
        self.generators = [torch.Generator(device).manual_seed(int(seed) % (1 << 32)) for seed in seeds]

    def randn(self, size, **kwargs):
        assert size[0] == len(self.generators)
        return torch.stack([torch.randn(size[1:], generator=gen, **kwargs) for gen in self.generators])

    def randn_like(self, input):
        return self.randn(input.shape, dtype=input.dtype, layout=input.layout, device=input.device)

    def randint(self, *args, size, **kwargs):
        assert size[0] == len(self.generators)
        return torch.stack([torch.randint(*args, size=size[1:], generator=gen, **kwargs) for gen in self.generators])

#----------------------------------------------------------------------------

def _as_grid(sigmas, device):
    sigmas = torch.as_tensor(sigmas, dtype=torch.float64).to(device)
    if sigmas.ndim != 1 or sigmas.numel() < 2:
        raise dnnlib.UserError('The sigma grid must be a 1-D list of at least 2 values ending in 0')
    return sigmas

#----------------------------------------------------------------------------
def _churn_gammas(sigma_cur, num_steps, S_churn, S_min, S_max):
    """gamma_i = min(S_churn/N, sqrt(2)-1) where S_min <= sigma_i <= S_max, else 0 (float64, on device)."""
    gamma = min(S_churn / num_steps, np.sqrt(2) - 1)
    inside = (sigma_cur >= S_min) & (sigma_cur <= S_max)
    return torch.where(inside, torch.full_like(sigma_cur, gamma), torch.zeros_like(sigma_cur))

#----------------------------------------------------------------------------
# Shared scaffolding: the counted denoiser (with AFS) and the per-step hook (callback + guard).

class _Denoiser:
    """D(x; sigma) as float64, counting network calls. With afs the first evaluation, at (x_0,
    sigma_0), is analytic instead: D_0 = x_0 - sigma_0 x_0 / sqrt(1 + sigma_0^2), i.e. the direction
    d_0 = (x_0 - D_0)/sigma_0 = x_0 / sqrt(1 + sigma_0^2) of solvers.md §5."""
    def __init__(self, net, class_labels, afs=False):
        self.net, self.class_labels, self.afs, self.nfe = net, class_labels, bool(afs), 0

    def __call__(self, x, sigma):
        if self.afs:
            self.afs = False
            return x - sigma * x / (1 + sigma ** 2).sqrt()
        self.nfe += 1
        return self.net(x, sigma, self.class_labels).to(torch.float64)

#----------------------------------------------------------------------------
class _StepHook:
    """Called as hook(i, t_next, x_next) after every step: forwards to the user's callback and, when
    enabled, keeps the device flag isfinite(x_next).all() (no host sync). `check()` syncs once."""
    def __init__(self, callback, enabled=True):
        self.callback, self.enabled, self.flags = callback, enabled, []

    def __call__(self, i, t_next, x_next):
        if self.enabled:
            self.flags.append(torch.isfinite(x_next).all())
        if self.callback is not None:
            self.callback(i, t_next, x_next)

    def check(self, x, sigmas, what):
        """Raise UserError naming the first step whose output is non-finite, if the samples x are."""
        if not self.enabled or bool(self.flags[-1] if self.flags else torch.isfinite(x).all()):
            return
        if not self.flags:
            raise dnnlib.UserError(f'{what}: the initial state latents * sigma_0 (sigma_0={float(sigmas[0]):.6g}) is not finite')
        i = int((~torch.stack(self.flags)).nonzero()[0])
        s_cur, s_next = float(sigmas[i]), float(sigmas[i + 1])
        raise dnnlib.UserError(f'{what} produced non-finite samples at sigma={s_next:.6g} (step {i}, from sigma={s_cur:.6g}): '
            f'the network returned NaN/inf there or the solver diverged on this grid')

#----------------------------------------------------------------------------
# The solvers: fn(den, x, t, hook, *, final_euler, ...) -> x integrates from t[0] to t[-1]; the
# last step is an Euler step when final_euler (the step to sigma = 0). den(x, sigma) -> D (float64).

def _euler_heun(den, x, t, hook, *, final_euler, heun, randn_like, S_churn, S_min, S_max, S_noise, round_sigma):
    """EDM Algorithm 2 (edm-spec.md §2.5): churn, Euler, Heun correction except on the final step.
    Exactly one randn_like per step, even when gamma = 0. Per-step scalars vectorised on device."""
    n = t.numel() - 1
    if n == 0:
        return x
    t_cur_all, t_next_all = t[:-1], t[1:]
    gammas = _churn_gammas(t_cur_all, n, S_churn, S_min, S_max)
    t_hat_all = torch.as_tensor(round_sigma(t_cur_all + gammas * t_cur_all)).to(torch.float64)
    churn = gammas > 0                                 # sqrt only where there is churn: differentiable in the grid
    diff = t_hat_all ** 2 - t_cur_all ** 2
    noise_coef = torch.where(churn, torch.where(churn, diff, torch.ones_like(diff)).sqrt(), torch.zeros_like(diff)) * S_noise
    h_all = t_next_all - t_hat_all
    for i in range(n):
        t_hat, t_next, h = t_hat_all[i], t_next_all[i], h_all[i]
        x_hat = x + noise_coef[i] * randn_like(x)
        d_cur = (x_hat - den(x_hat, t_hat)) / t_hat
        x = x_hat + h * d_cur
        if heun and not (final_euler and i == n - 1):
            d_prime = (x - den(x, t_next)) / t_next
            x = x_hat + h * (0.5 * d_cur + 0.5 * d_prime)
        hook(i, t_next, x)
    return x

#----------------------------------------------------------------------------
def _dpmpp_2m(den, x, t, hook, *, final_euler):
    """DPM-Solver++(2M), Lu et al. 2022 Alg. 2 (solvers.md §2), in lambda = -log sigma:
    x_{i+1} = (sigma_{i+1}/sigma_i) x_i + (1 - sigma_{i+1}/sigma_i) Dhat_i, where 1 - e^{-h_i} = 1 -
    sigma_{i+1}/sigma_i and Dhat_i = D_i + (D_i - D_{i-1}) / (2 r_i), r_i = h_{i-1}/h_i; first order
    (Dhat_i = D_i) on the first step and on the final step (there x_{i+1} = D_i at sigma = 0)."""
    n = t.numel() - 1
    ratio = t[1:] / t[:-1]
    lam = -torch.where(t > 0, t, torch.ones_like(t)).log()  # the step to 0 (first order) needs no lambda
    h = lam[1:] - lam[:-1]
    half_inv_r = h[1:] / (2 * h[:-1]) # 1/(2 r_i) for i = 1..n-1
    D_prev = None
    for i in range(n):
        D = den(x, t[i])
        D_hat = D if D_prev is None or (final_euler and i == n - 1) else D + half_inv_r[i - 1] * (D - D_prev)
        x = ratio[i] * x + (1 - ratio[i]) * D_hat
        D_prev = D
        hook(i, t[i + 1], x)
    return x

#----------------------------------------------------------------------------
def dpmpp_3m_coeffs(h):
    """(c_new, c_old), each [len(h) - 2]: the third-order terms of DPM-Solver++(3M) (see _dpmpp_3m) for the
    lambda steps h (a tensor); step i >= 2 adds c_new[i-2] (D_i - D_{i-1}) - c_old[i-2] (D_{i-1} - D_{i-2})
    to its first-order update. Shared by the sampler and art.local_error's step model."""
    hh = h[2:]
    r0, r1 = h[1:-1] / hh, h[:-2] / hh                   # h_{i-1}/h_i, h_{i-2}/h_i
    phi1 = -torch.expm1(-hh)
    phi2 = 1 - phi1 / hh
    phi3 = 0.5 - phi2 / hh
    g = (phi2 * r0 + 2 * phi3) / (r0 + r1)               # weight of q beyond phi2 d0: phi2 (d0 + r0 q) + 2 phi3 q
    return (phi2 + g) / r0, g / r1

def _dpmpp_3m(den, x, t, hook, *, final_euler):
    """DPM-Solver++(3M): the third-order member of the multistep data-prediction solvers of Lu et al. 2022
    (DPM-Solver++), in lambda = -log sigma (docs/solvers.md). The exact step is x_{i+1} = e^{-h} x_i +
    int_0^h e^{-(h - tau)} D(lambda_i + tau) dtau (h = h_i, the lambda step); the Taylor expansion of D to
    second order gives x_{i+1} = (sigma_{i+1}/sigma_i) x_i + phi1 D_i + phi2 h D'_i + phi3 h^2 D''_i with
    phi1 = 1 - e^{-h}, phi2 = 1 - phi1/h, phi3 = 1/2 - phi2/h (int_0^h e^{-(h-tau)} tau^k/k! dtau = h^k phi_{k+1}),
    and D'_i, D''_i are the derivatives at lambda_i of the quadratic through D_{i-2}, D_{i-1}, D_i at their
    lambdas (exact step ratios r_i = h_{i-1}/h_i). In those terms, with d0 = (D_i - D_{i-1})/r_i,
    d1 = (D_{i-1} - D_{i-2})/(h_{i-2}/h_i) and q = (d0 - d1)/(r_i + h_{i-2}/h_i) (= h^2 D''/2 + O(h^3)):
    h D'_i = d0 + r_i q and h^2 D''_i = 2 q (q weighted by phi3 alone, as in k-diffusion's
    sample_dpmpp_3m_sde, is half the Taylor term and only second order). Warm start: first order on the
    first step, the 2M rule of _dpmpp_2m on the second; the step to sigma = 0 is first order (x_{i+1} = D_i)."""
    n = t.numel() - 1
    m = n - 1 if final_euler else n                      # steps between non-zero noise levels
    ratio = t[1:] / t[:-1]
    h = -ratio[:m].log()                                 # h^lambda_i = log(sigma_i / sigma_{i+1}), i < m
    half_inv_r = h[1:2] / (2 * h[:1])                    # 1/(2 r_1): the 2M rule on step 1
    c_new, c_old = dpmpp_3m_coeffs(h)                    # steps i = 2..m-1 are third order
    D1 = D2 = None                                       # D_{i-1}, D_{i-2}
    for i in range(n):
        D = den(x, t[i])
        x = ratio[i] * x + (1 - ratio[i]) * D
        if i == 1 and i < m:
            x = x + (1 - ratio[i]) * half_inv_r[0] * (D - D1)
        elif 2 <= i < m:
            x = x + c_new[i - 2] * (D - D1) - c_old[i - 2] * (D1 - D2)
        D1, D2 = D, D1
        hook(i, t[i + 1], x)
    return x

#----------------------------------------------------------------------------
# Adams-Bashforth coefficients for equal steps, newest direction first (solvers.md §3).
IPNDM_COEFFS = ((1,), (3 / 2, -1 / 2), (23 / 12, -16 / 12, 5 / 12), (55 / 24, -59 / 24, 37 / 24, -9 / 24))

def _ipndm(den, x, t, hook, *, final_euler, max_order=4):
    """iPNDM (Zhang & Chen 2023): x_{i+1} = x_i + h_i sum_j c^q_j d_{i-j}, q = min(max_order, i+1),
    c^q the equal-step Adams-Bashforth coefficients IPNDM_COEFFS[q-1]; Euler on the final step."""
    if max_order not in (1, 2, 3, 4):
        raise dnnlib.UserError(f'ipndm max_order must be 1, 2, 3 or 4, got {max_order}')
    n = t.numel() - 1
    h_all = t[1:] - t[:-1]
    ds = [] # newest first
    for i in range(n):
        ds = [(x - den(x, t[i])) / t[i]] + ds[:max_order - 1]
        coeffs = (1,) if final_euler and i == n - 1 else IPNDM_COEFFS[len(ds) - 1]
        x = x + h_all[i] * sum(c * d for c, d in zip(coeffs, ds))
        hook(i, t[i + 1], x)
    return x

#----------------------------------------------------------------------------
def rk4_step(f, x, sigma, h, k1=None):
    """One classical RK4 step of dx/dsigma = f(x, sigma) from sigma to sigma + h, stages at sigma,
    sigma + h/2 (twice) and sigma + h: x + h (k1 + 2 k2 + 2 k3 + k4)/6. sigma and h are scalars or
    per-sample [B] tensors; k1 = f(x, sigma) if already known."""
    hb = h.reshape([-1] + [1] * (x.ndim - 1)) if torch.is_tensor(h) and h.ndim == 1 else h
    k1 = f(x, sigma) if k1 is None else k1
    k2 = f(x + (hb / 2) * k1, sigma + h / 2)
    k3 = f(x + (hb / 2) * k2, sigma + h / 2)
    k4 = f(x + hb * k3, sigma + h)
    return x + (hb / 6) * (k1 + 2 * k2 + 2 * k3 + k4)

def _rk4(den, x, t, hook, *, final_euler):
    """Classical RK4 (rk4_step) on dx/dsigma = (x - D)/sigma; Euler on the final step."""
    n = t.numel() - 1
    f = lambda y, s: (y - den(y, s)) / s
    for i in range(n):
        h, k1 = t[i + 1] - t[i], f(x, t[i])
        x = x + h * k1 if final_euler and i == n - 1 else rk4_step(f, x, t[i], h, k1)
        hook(i, t[i + 1], x)
    return x

#----------------------------------------------------------------------------
# The sampler.

def sample(net, latents, sigmas, class_labels=None, *, solver='heun', randn_like=torch.randn_like,
           S_churn=0, S_min=0, S_max=float('inf'), S_noise=1, final_step='euler', afs=False, max_order=4,
           check_finite=True, return_nfe=False, callback=None):
    """Integrate the probability-flow ODE (plus optional churn) from sigmas[0] towards 0.

    latents: [B,C,H,W] N(0,1) (scaled by sigmas[0] here). sigmas: K+1 decreasing noise levels
    ending in 0 (see art.schedules.get_sigmas; used as given, not re-rounded). solver: one of
    SOLVERS. final_step (solvers.md §5): 'euler' takes all K steps, the last one (to 0) an Euler
    step; 'none' stops at sigmas[K-1] and returns that state; 'denoise' returns D(x; sigmas[K-1]).
    afs: analytic first evaluation (see _Denoiser). Churn (S_*) only for euler/heun. max_order:
    ipndm's. NFE = count_nfe(solver, K, final_step=, afs=). check_finite: raise UserError naming the
    step if the samples are not finite. Returns the float64 samples (and the NFE if return_nfe).
    callback(i, t_next, x_next), when given, sees the state after every step (trajectories)."""
    _check_choices(solver, final_step)
    if S_churn > 0 and solver not in ('euler', 'heun'):
        raise dnnlib.UserError(f'Churn (S_churn={S_churn}) is only defined for the euler and heun solvers, not {solver}')
    grid = _as_grid(sigmas, latents.device)
    den, hook = _Denoiser(net, class_labels, afs), _StepHook(callback, check_finite)
    final_euler = final_step == 'euler'
    t = grid if final_euler else grid[:-1]
    x = latents.to(torch.float64) * grid[0]
    if solver in ('euler', 'heun'):
        x = _euler_heun(den, x, t, hook, final_euler=final_euler, heun=(solver == 'heun'), randn_like=randn_like,
            S_churn=S_churn, S_min=S_min, S_max=S_max, S_noise=S_noise, round_sigma=net.round_sigma)
    elif solver == 'ipndm':
        x = _ipndm(den, x, t, hook, final_euler=final_euler, max_order=max_order)
    else:
        x = {'dpmpp-2m': _dpmpp_2m, 'dpmpp-3m': _dpmpp_3m, 'rk4': _rk4}[solver](den, x, t, hook, final_euler=final_euler)
    if final_step == 'denoise':
        x = den(x, grid[-2])
        hook(grid.numel() - 2, grid[-1], x)
    hook.check(x, grid, f'Sampling with {solver}')
    return (x, den.nfe) if return_nfe else x

#----------------------------------------------------------------------------
# sigma(t), sigma'(t), sigma^-1 and s(t), s'(t) of EDM's ablation sampler (spec §2.6).

def _sigma_fns(sigma_schedule, beta_d, beta_min):
    if sigma_schedule == 'vp':
        return (lambda t: vp_sigma(t, beta_d, beta_min), lambda t: vp_sigma_deriv(t, beta_d, beta_min),
                lambda s: vp_sigma_inv(s, beta_d, beta_min))
    if sigma_schedule == 've':
        return (lambda t: t ** 0.5, lambda t: 0.5 / t ** 0.5, lambda s: s ** 2)
    return (lambda t: t, lambda t: torch.ones_like(t), lambda s: s)

#----------------------------------------------------------------------------
def _scaling_fns(scaling, sigma, sigma_deriv):
    if scaling == 'vp':
        s = lambda t: 1 / (1 + sigma(t) ** 2).sqrt()
        return s, (lambda t: -sigma(t) * sigma_deriv(t) * (s(t) ** 3))
    return (lambda t: torch.ones_like(t)), (lambda t: torch.zeros_like(t))

#----------------------------------------------------------------------------
# EDM's ablation sampler on an arbitrary grid.

def ablation_sample(net, latents, sigmas, class_labels=None, *, randn_like=torch.randn_like,
                    solver='heun', sigma_schedule='linear', scaling='none', alpha=1, epsilon_s=1e-3,
                    sigma_min=None, sigma_max=None, S_churn=0, S_min=0, S_max=float('inf'), S_noise=1,
                    check_finite=True, return_nfe=False, callback=None):
    """Generalised Algorithm 1 of EDM with churn: x(t) = s(t) * (y + sigma(t) n).

    sigmas: K+1 grid (noise levels, last 0) as from art.schedules.get_sigmas; the time steps are
    t_i = sigma^-1(sigmas[i]), t_K = 0. sigma_min/sigma_max (default: the grid's ends) set the VP
    beta refit used by sigma_schedule='vp' (EDM passes the resolved range, not the grid's ends).
    With (heun, linear, none, alpha=1) this equals `sample()` up to float64 rounding.
    callback(i, sigma(t_next), x_next) is called after every step (x_next includes the scaling s).
    check_finite: as in `sample()`."""
    assert solver in ('euler', 'heun') and sigma_schedule in SIGMA_SCHEDULES and scaling in SCALINGS
    if not alpha > 0:
        raise dnnlib.UserError(f'alpha must be positive, got {alpha}')
    grid = _as_grid(sigmas, latents.device)
    num_steps = grid.numel() - 1
    sigma_min = float(grid[-2]) if sigma_min is None else float(sigma_min)
    sigma_max = float(grid[0]) if sigma_max is None else float(sigma_max)
    beta_d, beta_min = vp_beta_refit(sigma_min, sigma_max, epsilon_s)
    sigma, sigma_deriv, sigma_inv = _sigma_fns(sigma_schedule, beta_d, beta_min)
    s, s_deriv = _scaling_fns(scaling, sigma, sigma_deriv)

    def deriv(x, t, denoised):
        return (sigma_deriv(t) / sigma(t) + s_deriv(t) / s(t)) * x - sigma_deriv(t) * s(t) / sigma(t) * denoised

    # Time steps and per-step scalars, vectorised on the device.
    t_steps = torch.cat([sigma_inv(grid[:-1]), torch.zeros_like(grid[:1])])
    t_cur_all, t_next_all = t_steps[:-1], t_steps[1:]
    sigma_cur = sigma(t_cur_all)
    gammas = _churn_gammas(sigma_cur, num_steps, S_churn, S_min, S_max)
    t_hat_all = sigma_inv(torch.as_tensor(net.round_sigma(sigma_cur + gammas * sigma_cur)).to(torch.float64))
    s_ratio = s(t_hat_all) / s(t_cur_all)
    noise_coef = (sigma(t_hat_all) ** 2 - sigma_cur ** 2).clip(min=0).sqrt() * s(t_hat_all) * S_noise
    h_all = t_next_all - t_hat_all
    t_prime_all = t_hat_all + alpha * h_all

    nfe, hook = 0, _StepHook(callback, check_finite)
    x_next = latents.to(torch.float64) * (sigma(t_steps[0]) * s(t_steps[0]))
    for i in range(num_steps):
        x_cur = x_next
        t_hat, h = t_hat_all[i], h_all[i]
        x_hat = s_ratio[i] * x_cur + noise_coef[i] * randn_like(x_cur)

        # Euler step.
        denoised = net(x_hat / s(t_hat), sigma(t_hat), class_labels).to(torch.float64)
        nfe += 1
        d_cur = deriv(x_hat, t_hat, denoised)
        if solver == 'euler' or i == num_steps - 1:
            x_next = x_hat + h * d_cur
        else:
            # Heun-type 2nd order step with parameter alpha.
            t_prime = t_prime_all[i]
            x_prime = x_hat + alpha * h * d_cur
            denoised = net(x_prime / s(t_prime), sigma(t_prime), class_labels).to(torch.float64)
            nfe += 1
            d_prime = deriv(x_prime, t_prime, denoised)
            x_next = x_hat + h * ((1 - 1 / (2 * alpha)) * d_cur + 1 / (2 * alpha) * d_prime)
        hook(i, sigma(t_next_all[i]), x_next)

    hook.check(x_next, grid, f'Ablation sampling with {solver}')
    return (x_next, nfe) if return_nfe else x_next

#----------------------------------------------------------------------------
# EDM's two sampler functions, with EDM's signatures and defaults (spec §2.5-2.6), built on the
# grid generator and the two solvers above. generate.py calls these.

def edm_sampler(net, latents, class_labels=None, randn_like=torch.randn_like, num_steps=18,
                sigma_min=0.002, sigma_max=80, rho=7, S_churn=0, S_min=0, S_max=float('inf'), S_noise=1,
                schedule='edm', solver='heun', log=None, return_nfe=False):
    """EDM's `edm_sampler`: the rho-grid (or any `schedule` of art.schedules), clamped to the net's
    range and rounded, then Algorithm 2. `solver='euler'` is an extension."""
    sigmas = get_sigmas(schedule, num_steps, net=net, sigma_min=sigma_min, sigma_max=sigma_max, rho=rho,
        device=latents.device, log=log)
    return sample(net, latents, sigmas, class_labels, solver=solver, randn_like=randn_like,
        S_churn=S_churn, S_min=S_min, S_max=S_max, S_noise=S_noise, return_nfe=return_nfe)

#----------------------------------------------------------------------------
def ablation_sampler(net, latents, class_labels=None, randn_like=torch.randn_like, num_steps=18,
                     sigma_min=None, sigma_max=None, rho=7, solver='heun', discretization='edm',
                     schedule='linear', scaling='none', epsilon_s=1e-3, C_1=0.001, C_2=0.008, M=1000,
                     alpha=1, S_churn=0, S_min=0, S_max=float('inf'), S_noise=1, log=None, return_nfe=False):
    """EDM's `ablation_sampler` (spec §2.6). `schedule` is EDM's sigma(t) choice (vp|ve|linear);
    `discretization` is any grid of art.schedules (vp|ve|iddpm|edm as in EDM, or uniform|logsnr|a
    schedule file). The VP beta refit uses the resolved noise range, as EDM does."""
    if solver not in ('euler', 'heun') or schedule not in SIGMA_SCHEDULES or scaling not in SCALINGS:
        raise dnnlib.UserError(f'Invalid ablation choice solver={solver}, sigma schedule={schedule}, scaling={scaling}')
    sigmas = get_sigmas(discretization, num_steps, net=net, sigma_min=sigma_min, sigma_max=sigma_max, rho=rho,
        device=latents.device, epsilon_s=epsilon_s, C_1=C_1, C_2=C_2, M=M, log=log)
    if is_schedule_path(discretization):
        sigma_min = sigma_max = None # the file's own ends
    else:
        sigma_min, sigma_max = sigma_range(discretization, net, sigma_min, sigma_max, epsilon_s)
    return ablation_sample(net, latents, sigmas, class_labels, randn_like=randn_like, solver=solver,
        sigma_schedule=schedule, scaling=scaling, alpha=alpha, epsilon_s=epsilon_s, sigma_min=sigma_min,
        sigma_max=sigma_max, S_churn=S_churn, S_min=S_min, S_max=S_max, S_noise=S_noise, return_nfe=return_nfe)

#----------------------------------------------------------------------------

#----------------------------------------------------------------------------
# Rollout helpers: latents in EDM's draw order, trajectories, batching and the high-NFE reference.
# Every learner and the comparison use these (one RNG convention: EDM's per-seed generators).

WARMUP_SEED = 1000000  # learners draw their warm-up latents from seeds WARMUP_SEED + seed + i (disjoint from 0, 1, ...)

def edm_latents(net, seeds, device='cpu'):
    """(latents [B,C,H,W], one-hot class_labels or None, rnd) for `seeds` in EDM's draw order
    (edm-spec.md §2.3): one generator per seed, the latents first, then the class index."""
    seeds = [int(s) for s in seeds]
    rnd = StackedRandomGenerator(device, seeds)
    latents = rnd.randn([len(seeds), net.img_channels, net.img_resolution, net.img_resolution], device=device)
    class_labels = None
    label_dim = int(getattr(net, 'label_dim', 0) or 0)
    if label_dim:
        class_labels = torch.eye(label_dim, device=device)[rnd.randint(label_dim, size=[len(seeds)], device=device)]
    return latents, class_labels, rnd

def warmup_latents(net, num, seed=0, device='cpu'):
    """(latents, class_labels) of `num` warm-up seeds WARMUP_SEED + seed + i, for learners."""
    latents, class_labels, _rnd = edm_latents(net, range(WARMUP_SEED + seed, WARMUP_SEED + seed + int(num)), device)
    return latents, class_labels

def batched(fn, latents, class_labels=None, batch=256):
    """torch.cat of fn(latents[i:i+batch], class_labels[i:i+batch]) over the batches."""
    return torch.cat([fn(latents[i:i + batch], None if class_labels is None else class_labels[i:i + batch])
                      for i in range(0, len(latents), batch)])

def trajectory(net, latents, sigmas, class_labels=None, **sample_kwargs):
    """[K+1, B, ...] float64 states at sigmas[0..K] (the last one is the sample), from `sample()` on the
    given grid (K+1 sigmas ending in 0) with any of its options."""
    sigmas = torch.as_tensor(sigmas, dtype=torch.float64, device=latents.device)
    states = [latents.to(torch.float64) * sigmas[0]]
    sample(net, latents, sigmas, class_labels, callback=lambda i, t, x: states.append(x), **sample_kwargs)
    return torch.stack(states)

def reference_samples(net, latents, class_labels=None, *, num_steps=128, solver='heun', rho=7.0, sigma_min=None,
                      sigma_max=None, batch=256):
    """The high-NFE reference from the same latents: `solver` on EDM's rho grid with `num_steps` steps."""
    sigmas = get_sigmas('edm', num_steps, net=net, sigma_min=sigma_min, sigma_max=sigma_max, rho=rho, device=latents.device)
    return batched(lambda z, c: sample(net, z, sigmas, c, solver=solver), latents, class_labels, batch)

#----------------------------------------------------------------------------
