# ART-EDM: learned time grids for EDM-style diffusion samplers.
# Copyright (c) 2026 The ART-EDM authors. Released under the MIT License (see LICENSE).

"""ART-RL: the time-discretised actor-critic of arXiv 2601.18681 v1, Algorithm 1 (art-paper §2).

Per iteration n (B trajectories instead of the paper's one; sums are averaged over the batch):
  1. x_0 ~ N(0, sigma_max² I) as EDM's samplers (plus random class labels for conditional nets), psi_0 = 0.
  2. For k = 0..K-1 on the uniform clock t_k = k Δt, Δt = T/K: evaluate F and Q at (x_k, psi_k)
     (art.objective, one JVP), draw theta_k ~ N(m_k, lam / max(q_k, eps_k)) and take the Euler step
     of the controlled dynamics (4): psi_{k+1} = psi_k + theta_k Δt, x_{k+1} = x_k + theta_k Δt F.
  3. TD errors delta_k = V_{k+1} - V_k - gamma theta_k Δt - q_k theta_k² Δt with the critic
     V(t, ·) = NN_c(features) + lam t (Thm 3.1).
  4. Adam steps on the critic pseudo-loss -Σ_k NN_c,k · sg(w_k delta_k) (eq. 22a), one on the actor
     pseudo-loss -Σ_k log π(theta_k) · sg(w_k delta_k) (eq. 22b), and dual ascent
     gamma <- gamma + lr_gamma (Σ_k theta_k Δt - T) / T (eq. 23, see below).
Paper defaults: lam = 0.1, eps = 1e-6, Adam lr 1e-4 (β = 0.9, 0.999, no weight decay), gamma step
1e-4, actor and critic 3-layer MLPs of width 128 with Softplus, 5,000 iterations.
Distillation (§2.5): per-step clock speeds of the final trajectories, normalised so Σ_k theta_k Δt = T,
averaged over trajectories -> theta_bar_k -> psi_k = Σ_{j<k} theta_bar_j Δt -> sigma_k = T - psi_k.

Decisions on the open points of art-paper §4 (also in the README):
  * Time mapping: T = sigma_max, noise level sigma = T - psi (f = 0, g² = 2σ). Default noise range as
    EDM's sampler, [max(net.sigma_min, 0.002), min(net.sigma_max, 80)]. Queries use
    sigma_q = max(T - psi, sigma_min); the last Euler step may land on sigma = 0 exactly, as in EDM.
    The grid is sigma_i = T - psi(i T / K), i = 0..K (sigma_K = 0; NFE = K Euler, 2K-1 Heun).
    time_map='log' (sigma = sigma_max (sigma_min/sigma_max)^(psi/T), final step sigma_min -> 0 fixed)
    is an experiment: in our runs it collapses the grid onto sigma_min (one huge, cheap first step).
  * psi is clipped to [0, T] along executed trajectories (paper, App. C) and x moves by the clipped
    increment. The multiplier update uses the UNCLIPPED budget (Σ_k theta_k Δt - T) / T: with the
    clipped psi_K <= T the dual step could only decrease gamma and would reward overshoot.
  * Features (never the raw image): t/T, psi/T and log(sigma_q) scaled to [-1, 1] over [sigma_min,
    sigma_max]. critic_q=True (experimental, off) gives the critic log(q)/10 as a 4th feature: q = |Q|
    is a function of the state (x, psi) and its x-dependence is the bulk of the TD noise on image
    models, so the critic becomes a baseline for it (the actor keeps the 3 time features).
  * |Q| scaling: q = c |Q| / sqrt(d). q_scale='auto' picks c once, from a deterministic rollout of the
    initial policy, so that (∫ q^1/2 dpsi / T)² = q_target (1): the optimal policy's noise std/mean is
    then about sqrt(lam) whatever the network and T. 'dim': c = 1; 'none': the raw Euclidean norm
    (the paper; equal to 'dim' in 1-D). A constant c changes neither the time-only optimum nor the grid.
  * Actor mean m = theta_init,k exp(8 tanh(NN_a(features) / 8)), last layer zero-initialised: the
    initial policy is exactly the initial grid (init='edm': EDM's rho=7 grid for this K and range,
    the default; init='uniform': theta = 1, the paper's 1-D start), m > 0 and no overflow. gamma_0 = 0.
    Known obstacle on image models: with PyTorch's default init the Softplus features of the narrow
    feature range differ across the K steps by ~3 % of their common level (gmm-digits, K = 9 log
    clock: std 0.025 vs mean 0.73), so Adam moves the common scale m_k -> c m_k (which gamma then
    fights) far faster than the SHAPE of the grid (measured: log(m_k/m_k,0) identical to 2 decimals at
    all k for 400 iterations). actor_gain=5 (experimental, default 1) scales the actor's first-layer
    init by 5 and its second by 2 sqrt(5); then the shape moves.
  * Exploration: var_k = lam / max(q_k, eps_k), eps_k = max(eps, lam / (std_cap m_k)²): the paper's
    Gaussian family and "|Q| ∨ eps" with the floor chosen per state so that std <= std_cap m
    (experimental; default None = the paper's constant eps). With lam/|Q| alone the std at sigma ~ 80
    (|Q| ~ 1e-6) is orders of magnitude above m: trajectories jump to psi = T with un-denoised x, where
    |Q| is enormous (TD errors 1e7-1e9). Even std_cap = 0.3 leaves psi_K spread by ~±10 on the T = 80
    clock, i.e. over the whole region sigma < 10 where the grid's shape is decided; 0.1 works better.
    antithetic=True (experimental, off): trajectories in pairs with the same x_0 (and label) and
    exploration noise +xi / -xi; the same estimator with much less variance (t-stat of the per-step
    actor signal ~ 20 instead of ~ 2 on gmm-digits).
  * Terminal critic value pinned to V(T) = (gamma + lam) T (the terminal condition of eq. 16).
  * Step cost: step_cost='left' (default) is eq. 22's q_k theta_k² Δt, 'geometric' sqrt(q_k q_{k+1})
    theta_k² Δt, 'trapezoid' (q_k + q_{k+1}) / 2 (one extra Q at the final state). All have
    the same continuum limit, but on gmm-digits the left-point sum's exact K-step optimum (given the
    trajectory-averaged q) is degenerate: one giant first step to sigma = 0 is "cheap" because q is
    evaluated only where it is tiny. The geometric mean is exact for q exponential in psi over a step
    and its optimum is the closed-form grid (K = 10: RMS 0.25-0.63x EDM, closed form 0.27-0.62x);
    'trapezoid' overweights the large end (0.21-0.70x). fisher=True weights each step of the actor
    loss by v_k/m_k² (diagonal natural gradient).
  * TD scaling: w_k = 1 by default; td_norm=True (experimental) uses w_k = 1 / running rms of delta_k
    (EMA over iterations, per step k) in both pseudo-losses: a positive constant per step, so the
    moment conditions and fixed points are unchanged, but steps whose TD errors are 1e3 times the
    others' no longer drown the rest. critic_steps: Adam steps of the critic per iteration on the
    same batch (default 1).
  * Status on gmm-digits (issue 4): with all experimental options on (std_cap=0.1, td_norm, critic_q,
    critic_steps=2, antithetic, actor_gain=5, step_cost='geometric', lr 6e-3, dual step 0.2, K = 18
    clock, 1000 iterations, B = 16) seed 0 reached RMS 0.33/0.36/0.40x EDM (Heun K = 5/7/10) and
    0.68/0.70x (Euler K = 10/18), closed form 0.27/0.27/0.30/0.61/0.62x; but seeds 1 and 2 collapsed
    onto one or two giant first steps and a starved tail (3-60x EDM under Heun: once trajectories
    reach psi = T early, the later steps do nothing and learn m ~ 0), lr 1e-2 was erratic, and on
    gauss1d these settings miss the paper row at K = 2 (W2 .41 vs .345). Hence they stay off.
  * Distillation (§2.5): the policy MEANS along the training trajectories of the last distil_last
    (20 %) iterations, each sequence normalised to Σ_k theta_k Δt = T, averaged per step; not the
    noisy executed actions (std/mean ~ 0.3 at lam = 0.1; normalising noisy sequences one by one biases
    the average). theta_bar is floored at 1e-6 and the K non-zero nodes are kept >= sigma_min.
  * Optimiser defaults: lr 1e-3, B = 16, 1000 iterations, dual step 0.03 (paper: 1e-4, 1, 5000,
    1e-4); all are arguments. rl_steps sets the resolution of the RL clock (default K); the K-step
    grid is read off the learned time change psi(t), so one run serves every K.
"""

import json
import math
import os
import time

import numpy as np
import torch
import tqdm

import dnnlib
from art import heun_objective, objective
from art import schedules

Q_SCALES = ('auto', 'dim', 'none')
TIME_MAPS = ('linear', 'log')
INITS = ('edm', 'uniform')
STEP_COSTS = ('geometric', 'trapezoid', 'left')

#----------------------------------------------------------------------------
# Actor / critic: 3-layer MLPs, width 128, Softplus (art-paper §2.3).

class MLP(torch.nn.Module):
    def __init__(self, in_features=3, hidden=128, zero_last=False, gain=1.0):
        super().__init__()
        self.net = torch.nn.Sequential(
            torch.nn.Linear(in_features, hidden), torch.nn.Softplus(),
            torch.nn.Linear(hidden, hidden), torch.nn.Softplus(),
            torch.nn.Linear(hidden, 1))
        if gain != 1:  # wider init: hidden features that differ across the (narrow) feature range
            with torch.no_grad():
                self.net[0].weight.mul_(gain); self.net[0].bias.mul_(gain); self.net[2].weight.mul_(2 * math.sqrt(gain))
        if zero_last:
            torch.nn.init.zeros_(self.net[-1].weight)
            torch.nn.init.zeros_(self.net[-1].bias)

    def forward(self, phi):
        return self.net(phi).squeeze(-1)

#----------------------------------------------------------------------------
# Actor output -> log(m / theta_init): a smooth bound |log(m / theta_init)| < LOG_RATIO_MAX (no overflow).

LOG_RATIO_MAX = 8.0

def log_ratio(out):
    return LOG_RATIO_MAX * torch.tanh(out / LOG_RATIO_MAX)

#----------------------------------------------------------------------------
# Problem setup shared by training, distillation and the closed form.

class ARTProblem:
    """Time mapping T = sigma_max, sigma = T - psi (art-paper §4 item 1), the K-step clock, the
    features and one Euler step of the controlled dynamics (4)."""

    def __init__(self, net, num_steps, sigma_min=None, sigma_max=None, q_backend='auto', device='cpu', running_cost='euler',
                 time_map='linear'):
        self.net = net
        self.K = int(num_steps)
        # Default noise range as EDM's sampler: [max(net.sigma_min, 0.002), min(net.sigma_max, 80)].
        self.sigma_min = float(max(float(net.sigma_min), 0.002) if sigma_min is None else sigma_min)
        self.sigma_max = float(min(float(net.sigma_max), 80.0) if sigma_max is None else sigma_max)
        if not (0 < self.sigma_min < self.sigma_max and math.isfinite(self.sigma_max)):
            raise dnnlib.UserError(f'Need 0 < sigma_min < sigma_max < inf, got {self.sigma_min:g}, {self.sigma_max:g}; set --sigma_min/--sigma_max')
        if self.K < 1:
            raise dnnlib.UserError(f'Number of steps must be at least 1, got {self.K}')
        if time_map not in TIME_MAPS:
            raise dnnlib.UserError(f'Unknown --time-map "{time_map}"; choose one of {", ".join(TIME_MAPS)}')
        self.time_map = time_map
        self.T = self.sigma_max
        self.dt = self.T / self.K
        self.L = math.log(self.sigma_max / self.sigma_min)
        self.q_backend = q_backend
        self.running_cost = running_cost                      # 'euler': |Q| theta^2 (paper); else art.heun_objective kinds,
        self.power = heun_objective.cost_power(running_cost)  # e.g. 'heun': |R| |theta|^3 (docs/solver-aware-art.md eq. 18)
        self.device = torch.device(device)
        self.shape = [net.img_channels, net.img_resolution, net.img_resolution]
        self.label_dim = int(getattr(net, 'label_dim', 0) or 0)
        self.log_lo, self.log_hi = math.log(self.sigma_min), math.log(self.sigma_max)

    def initial_state(self, batch, generator):
        x = torch.randn([batch] + self.shape, generator=generator, dtype=torch.float64).to(self.device) * self.sigma_max
        labels = None
        if self.label_dim:
            idx = torch.randint(self.label_dim, [batch], generator=generator)
            labels = torch.eye(self.label_dim, dtype=torch.float32)[idx].to(self.device)
        psi = torch.zeros([batch], dtype=torch.float64, device=self.device)
        return x, labels, psi

    def sigma_of(self, psi):
        """Noise level at clock position psi: T - psi ('linear') or sigma_max (sigma_min/sigma_max)^(psi/T) ('log')."""
        if self.time_map == 'log':
            return self.sigma_max * torch.exp(-self.L * psi / self.T) if torch.is_tensor(psi) else self.sigma_max * np.exp(-self.L * np.asarray(psi) / self.T)
        return self.T - psi

    def dsigma_dpsi(self, psi):
        """|d sigma / d psi|: 1 ('linear') or sigma(psi) L / T ('log')."""
        return self.sigma_of(psi) * (self.L / self.T) if self.time_map == 'log' else torch.ones_like(psi)

    def sigma_query(self, psi):
        return self.sigma_of(psi).clamp(min=self.sigma_min)

    def features(self, k, psi):
        """[B, 3] float32: t/T, psi/T, log sigma_q scaled to [-1, 1]."""
        sigma_q = self.sigma_query(psi)
        ls = (sigma_q.log() - 0.5 * (self.log_lo + self.log_hi)) / (0.5 * (self.log_hi - self.log_lo))
        t = torch.full_like(psi, k / self.K)
        return torch.stack([t, psi / self.T, ls], dim=1).to(torch.float32)

    def field_and_q(self, x, psi, labels):
        """F and q = |Q|/sqrt(d) (float64 [B]) at the clamped noise level."""
        if self.running_cost != 'euler':                      # Pluggable running cost r(x, sigma) (per-dim normalised).
            sigma_q = self.sigma_query(psi)
            r = heun_objective.running_cost(self.net, x, sigma_q, labels, kind=self.running_cost)
            return objective.denoiser_field(self.net, x, sigma_q, labels), r * self.dsigma_dpsi(psi) ** self.power
        _D, F, Q = objective.field_and_curvature(self.net, x, self.sigma_query(psi), labels, backend=self.q_backend)
        return F, objective.curvature_norm(Q, per_dim=True) * self.dsigma_dpsi(psi) ** 2  # Euler error (dsigma)^2 |Q| / 2

    def step(self, x, psi, F, theta):
        """Euler step of (4) on the psi-clock, psi clipped to [0, T]; x moves by the clipped increment."""
        psi_next = (psi + theta * self.dt).clamp(0, self.T)
        h = self.sigma_of(psi_next) - self.sigma_of(psi)                      # Euler step in sigma: x + (sigma' - sigma) F
        x_next = x + h.reshape([-1] + [1] * (x.ndim - 1)) * F
        return x_next, psi_next

    def base_theta(self, init):
        """[K] float64 clock speeds of the initial grid: EDM rho=7 (K nodes to sigma_min, then 0) or uniform."""
        if init == 'uniform':
            return torch.ones([self.K], dtype=torch.float64)
        if init != 'edm':
            raise dnnlib.UserError(f'Unknown --init "{init}"; choose one of {", ".join(INITS)}')
        if self.time_map == 'log':  # EDM's K+1 nodes sigma_max..sigma_min on the log clock
            nodes = schedules.get_sigmas('edm', self.K + 1, sigma_min=self.sigma_min, sigma_max=self.sigma_max)[:-1]
            psi = self.T * torch.log(self.sigma_max / nodes) / self.L
            return (psi[1:] - psi[:-1]) / self.dt
        sigmas = schedules.get_sigmas('edm', self.K, sigma_min=self.sigma_min, sigma_max=self.sigma_max)
        return (sigmas[:-1] - sigmas[1:]) / self.dt

    def grid_from_theta(self, theta_bar, num_steps=None):
        """The K-step grid of the time change psi(t) = ∫ theta: theta_bar (on this problem's clock) is
        floored at 1e-6 (positivity) and normalised to Σ theta_bar Δt = T; psi is piecewise linear in t
        and the grid is sigma_i = T - psi(i T / K), i = 0..K (art-paper §1.2, §2.5). The K non-zero
        nodes are kept >= sigma_min. Returns (sigmas [K+1], theta of that grid [K])."""
        K = (self.K if self.time_map == 'linear' else self.K + 1) if num_steps is None else int(num_steps)
        theta_bar = np.maximum(np.asarray(theta_bar, np.float64), 1e-6)
        theta_bar = theta_bar * self.T / (theta_bar.sum() * self.dt)
        psi_fine = np.concatenate([[0.0], np.cumsum(theta_bar) * self.dt])
        if self.time_map == 'log':  # K nodes sigma(psi(t_i)), i = 0..K-1 (sigma_max..sigma_min), then 0 as in EDM
            psi = np.interp(np.arange(K) / max(K - 1, 1), np.arange(self.K + 1) / self.K, psi_fine)
            nodes = self.sigma_of(psi)
            nodes[0] = self.sigma_max
            sigmas = np.concatenate([nodes if K > 1 else nodes[:1], [0.0]])
            return sigmas, (sigmas[:-1] - sigmas[1:]) * K / self.T
        psi = np.interp(np.arange(K + 1) / K, np.arange(self.K + 1) / self.K, psi_fine)
        return sigmas_from_psi(psi, self.T, self.sigma_min)

#----------------------------------------------------------------------------
# psi_0..psi_K -> sigmas (the time mapping of art-paper §4 item 1).

def sigmas_from_psi(psi, T, sigma_min):
    """sigma_i = T - psi_i for i < K (first = T, each >= sigma_min, strictly decreasing), sigma_K = 0.
    Returns (sigmas [K+1], theta [K] = (sigma_i - sigma_{i+1}) K / T)."""
    psi = np.asarray(psi, np.float64)
    K = len(psi) - 1
    nodes = T - psi[:-1]
    nodes = np.maximum(nodes, sigma_min * (1 + 1e-3) ** np.arange(K - 1, -1, -1))
    nodes[0] = T
    for i in range(1, K):  # strictly decreasing (only binds for degenerate inputs)
        nodes[i] = min(nodes[i], nodes[i - 1] * (1 - 1e-9))
    sigmas = np.concatenate([nodes, [0.0]])
    return sigmas, (sigmas[:-1] - sigmas[1:]) * K / T

#----------------------------------------------------------------------------
# One rollout of B trajectories. Returns the per-step tensors ([K, B]) for the updates.

def policy_var(q, m, lam, eps, std_cap=None):
    """Exploration variance lam / max(q, eps_k) with eps_k = max(eps, lam / (std_cap m)²), i.e. the std is
    at most std_cap times the mean (std_cap=None: the paper's constant eps)."""
    var = lam / q.clamp(min=eps)
    return var if std_cap is None else torch.minimum(var, (std_cap * m).square())

def rollout(problem, actor, base_theta, batch, generator, lam=0.1, eps=1e-6, q_scale=1.0, stochastic=True, final_q=False, std_cap=None,
            antithetic=False):
    """Returns phi [K,B,3], theta, q, mean, var [K,B], psi_T, budget [B]; with final_q also q_end [B] at the end state."""
    half = batch // 2 if (antithetic and stochastic and batch % 2 == 0) else None
    if half is not None:  # antithetic pairs: the same x_0 (and label) with exploration noise +xi and -xi
        x, labels, psi = problem.initial_state(half, generator)
        x, psi = torch.cat([x, x]), torch.cat([psi, psi])
        labels = None if labels is None else torch.cat([labels, labels])
    else:
        x, labels, psi = problem.initial_state(batch, generator)
    phis, thetas, qs, means, vars_ = [], [], [], [], []
    budget = torch.zeros_like(psi)
    for k in range(problem.K):
        F, q = problem.field_and_q(x, psi, labels)
        q = q * q_scale
        phi = problem.features(k, psi)
        with torch.no_grad():
            m = base_theta[k] * log_ratio(actor(phi.to(problem.device))).to(torch.float64).exp()
        var = policy_var(q, m, lam, eps, std_cap)
        if stochastic:
            if half is not None:
                xi = torch.randn([half], generator=generator, dtype=torch.float64).to(problem.device)
                xi = torch.cat([xi, -xi])
            else:
                xi = torch.randn([batch], generator=generator, dtype=torch.float64).to(problem.device)
            theta = m + var.sqrt() * xi
        else:
            theta = m
        if not (torch.isfinite(q).all() and torch.isfinite(theta).all()):
            raise FloatingPointError(f'non-finite |Q| or theta at step k={k} (sigma={float(problem.sigma_query(psi).min()):g})')
        budget = budget + theta * problem.dt
        x, psi = problem.step(x, psi, F, theta)
        phis.append(phi); thetas.append(theta); qs.append(q); means.append(m); vars_.append(var)
    q_end = problem.field_and_q(x, psi, labels)[1] * q_scale if final_q else None
    if q_end is not None and not torch.isfinite(q_end).all():
        raise FloatingPointError('non-finite |Q| at the final state')
    return dnnlib.EasyDict(phi=torch.stack(phis), theta=torch.stack(thetas), q=torch.stack(qs),
        mean=torch.stack(means), var=torch.stack(vars_), psi_T=psi, budget=budget, q_end=q_end)

#----------------------------------------------------------------------------
# |Q| scale for q_scale='auto': c = (T / ∫ q^1/2 dpsi)², estimated along the initial policy's mean path.

def calibrate_q_scale(problem, actor, base_theta, batch, generator, target=1.0):
    ro = rollout(problem, actor, base_theta, batch, generator, q_scale=1.0, stochastic=False)
    dpsi = ro.mean * problem.dt                                         # [K, B]
    integral = float((ro.q ** (1 / problem.power) * dpsi).sum(0).mean()) # p = 2 (Euler/ART) or 3 (Heun)
    if not (integral > 0 and math.isfinite(integral)):
        raise dnnlib.UserError('Cannot calibrate the |Q| scale: Q is zero or non-finite along the initial rollout; use --q-scale=dim')
    return target * (problem.T / integral) ** problem.power

#----------------------------------------------------------------------------
# Distillation (art-paper §2.5).

def distil(problem, actor, base_theta, batch, generator):
    """Mean clock speeds along deterministic rollouts, each sequence normalised to Σ theta Δt = T."""
    with torch.no_grad():
        ro = rollout(problem, actor, base_theta, batch, generator, stochastic=False)
    theta = ro.mean * (problem.T / (ro.mean.sum(0, keepdim=True) * problem.dt))
    return theta.mean(1).cpu().numpy()

#----------------------------------------------------------------------------
# Checkpoint helpers.

def _save_checkpoint(path, state):
    tmp = f'{path}.tmp{os.getpid()}'
    torch.save(state, tmp)
    os.replace(tmp, path)

#----------------------------------------------------------------------------
# Training (Algorithm 1, generalised to B trajectories per iteration).

def train(net, num_steps, *, iters=1000, batch=16, lam=0.1, eps=1e-6, lr=1e-3, lr_gamma=0.03, gamma_init=0.0,
          init='edm', q_scale='auto', q_backend='auto', sigma_min=None, sigma_max=None, hidden=128,
          distil_batch=256, seed=0, device='cpu', checkpoint=None, resume=False, log_path=None,
          checkpoint_every=100, progress=True, network_name=None, rl_steps=None, q_target=1.0, lr_critic=None, running_cost='euler',
          time_map='linear', distil_last=0.2, fisher=False, step_cost='left', std_cap=None, td_norm=False,
          critic_steps=1, critic_q=False, antithetic=False, actor_gain=1.0):
    """Run ART-RL and distil it to a grid. Returns a schedule dict (`sigmas` + metadata) for
    art.schedules.save_schedule. `checkpoint`: file for periodic state (resumed when `resume`);
    `log_path`: JSON-lines log, one object per iteration. `rl_steps`: resolution of the RL clock
    (default K, the paper's per-K training); the K-step grid is read off the distilled time change."""
    if q_scale not in Q_SCALES:
        raise dnnlib.UserError(f'Unknown --q-scale "{q_scale}"; choose one of {", ".join(Q_SCALES)}')
    if step_cost not in STEP_COSTS:
        raise dnnlib.UserError(f'Unknown step cost "{step_cost}"; choose one of {", ".join(STEP_COSTS)}')
    device = torch.device(device)
    num_steps = int(num_steps)
    if rl_steps is None:  # the paper's per-K clock; the log map's final step sigma_min -> 0 is fixed (as EDM)
        rl_steps = num_steps if time_map == 'linear' else max(num_steps - 1, 1)
    problem = ARTProblem(net, rl_steps, sigma_min, sigma_max, q_backend, device, running_cost, time_map)
    base_theta = problem.base_theta(init).to(device)
    settings = dict(iters=iters, batch=batch, lam=lam, eps=eps, lr=lr, lr_critic=lr_critic, lr_gamma=lr_gamma, gamma_init=gamma_init,
        init=init, fisher=fisher, step_cost=step_cost, std_cap=std_cap, td_norm=td_norm, critic_steps=critic_steps, critic_q=critic_q, antithetic=antithetic, actor_gain=actor_gain, time_map=time_map, q_scale=q_scale, q_target=q_target, q_backend=q_backend, hidden=hidden, sigma_min=problem.sigma_min,
        sigma_max=problem.sigma_max, num_steps=num_steps, rl_steps=problem.K, distil_batch=distil_batch)

    torch.manual_seed(seed)
    actor = MLP(3, hidden, zero_last=True, gain=actor_gain).to(device)
    critic = MLP(4 if critic_q else 3, hidden).to(device)
    opt_actor = torch.optim.Adam(actor.parameters(), lr=lr, betas=(0.9, 0.999))
    opt_critic = torch.optim.Adam(critic.parameters(), lr=lr if lr_critic is None else lr_critic, betas=(0.9, 0.999))
    generator = torch.Generator().manual_seed(seed)
    gamma = float(gamma_init)
    start = 0
    c = None
    distil_from = iters - max(1, int(round(distil_last * iters)))   # distil from the last iterations' trajectories
    theta_sum, theta_count = torch.zeros([problem.K], dtype=torch.float64), 0
    td_sq = torch.zeros([problem.K], dtype=torch.float64)   # running E[delta_k²] per step (td_norm)
    td_n = 0

    if resume and checkpoint is not None and os.path.isfile(checkpoint):
        state = torch.load(checkpoint, map_location=device, weights_only=False)
        keys = ('rl_steps', 'time_map', 'lam', 'batch', 'init', 'q_scale', 'hidden', 'sigma_min', 'sigma_max', 'critic_q')
        diff = [k for k in keys if state['settings'].get(k) != settings[k]]
        if diff:
            raise dnnlib.UserError(f'Checkpoint "{checkpoint}" was made with different settings ({", ".join(diff)}); use the same flags or a new --out')
        actor.load_state_dict(state['actor']); critic.load_state_dict(state['critic'])
        opt_actor.load_state_dict(state['opt_actor']); opt_critic.load_state_dict(state['opt_critic'])
        generator.set_state(state['generator'])
        gamma, start, c = state['gamma'], state['iteration'], state['q_scale_c']
        td_sq, td_n = state.get('td_sq', td_sq), state.get('td_n', td_n)
        if state.get('distil_from') == distil_from:  # else the accumulated window belongs to another --iters
            theta_sum, theta_count = state['theta_sum'], state['theta_count']

    if c is None:
        c = 1.0 if q_scale != 'auto' else calibrate_q_scale(problem, actor, base_theta, max(batch, 16), generator, q_target)
    if q_scale == 'none':
        c = float(np.prod(problem.shape)) ** 0.5  # undo the per-dimension normalisation
    t_k = torch.arange(problem.K, dtype=torch.float64, device=device) * problem.dt

    log_file = open(log_path, 'a' if (resume and start > 0) else 'w') if log_path else None
    def save(iteration):
        if checkpoint is not None:
            _save_checkpoint(checkpoint, dict(actor=actor.state_dict(), critic=critic.state_dict(),
                opt_actor=opt_actor.state_dict(), opt_critic=opt_critic.state_dict(), generator=generator.get_state(),
                gamma=gamma, iteration=iteration, q_scale_c=c, settings=settings, theta_sum=theta_sum, theta_count=theta_count,
                distil_from=distil_from, td_sq=td_sq, td_n=td_n))
    try:
        bar = tqdm.tqdm(range(start, iters), initial=start, total=iters, disable=not progress, desc=f'ART-RL K={problem.K}', leave=False)
        for n in bar:
            t0 = time.time()
            try:
                ro = rollout(problem, actor, base_theta, batch, generator, lam, eps, c, stochastic=True,
                    final_q=(step_cost != 'left'), std_cap=std_cap, antithetic=antithetic)
            except FloatingPointError as e:
                raise dnnlib.UserError(f'ART-RL diverged at iteration {n}: {e}; lower --lr or try --q-backend=fd') from e
            theta, q = ro.theta.to(torch.float32), ro.q.to(torch.float32)
            if step_cost in ('trapezoid', 'geometric'):  # step cost with q averaged over both ends of the step (see module docstring)
                q_next = torch.cat([ro.q[1:], ro.q_end[None]])
                q = (0.5 * (ro.q + q_next) if step_cost == 'trapezoid' else (ro.q * q_next).sqrt()).to(torch.float32)
            phi_c = ro.phi
            if critic_q:  # critic also sees log q (a function of the state (x, psi)): a baseline for the x-dependent cost
                phi_c = torch.cat([ro.phi, (ro.q.clamp(min=1e-30).log() / 10).to(torch.float32)[..., None]], dim=-1)
            var = ro.var.to(torch.float32)
            tl = t_k[:, None].to(torch.float32)
            for j in range(critic_steps):  # critic_steps > 1: extra Adam steps of the critic on the same batch
                # Critic values V_k = NN_c + lam t_k; terminal value pinned to (gamma + lam) T.
                V_nn = critic(phi_c)
                V = V_nn + lam * tl
                with torch.no_grad():
                    V_next = torch.cat([V[1:], torch.full_like(V[:1], (gamma + lam) * problem.T)])
                    delta = V_next - V - gamma * theta * problem.dt - q * theta.abs() ** problem.power * problem.dt
                    w = torch.ones_like(delta)
                    if td_norm:  # per-step scale: delta_k / running rms of delta_k (fixed points unchanged)
                        if j == 0:
                            td_sq = td_sq + (delta.square().mean(1).to(torch.float64).cpu() - td_sq) * (1 if td_n == 0 else 0.05)
                            td_n += 1
                        w = w / td_sq.to(delta.device, torch.float32).sqrt().clamp(min=1e-12)[:, None]
                    d = delta * w
                loss_critic = -(V_nn * d).sum(0).mean()
                if j < critic_steps - 1:
                    opt_critic.zero_grad(set_to_none=True)
                    loss_critic.backward()
                    opt_critic.step()
            m = base_theta[:, None].to(torch.float32) * log_ratio(actor(ro.phi)).exp()
            log_pi = -(theta - m).square() / (2 * var)
            if fisher:  # per-step Fisher preconditioning of the log-mean: weight v_k / m_k² (natural gradient)
                wf = (var / m.detach().square()).clamp(max=1e12)
                loss_actor = -(log_pi * d * wf / wf.mean()).sum(0).mean()
            else:
                loss_actor = -(log_pi * d).sum(0).mean()
            if not (torch.isfinite(loss_critic) and torch.isfinite(loss_actor)):
                raise dnnlib.UserError(f'ART-RL diverged at iteration {n}: non-finite TD error or loss; lower --lr or --lam')
            opt_critic.zero_grad(set_to_none=True); opt_actor.zero_grad(set_to_none=True)
            (loss_critic + loss_actor).backward()  # disjoint parameters: two independent updates
            opt_critic.step(); opt_actor.step()
            if n >= distil_from:  # policy means along this iteration's trajectories, each normalised to Σ theta Δt = T
                norm = ro.mean * (problem.T / (ro.mean.sum(0, keepdim=True) * problem.dt))
                theta_sum += norm.sum(1).cpu(); theta_count += norm.shape[1]
            budget_err = float(ro.budget.mean()) - problem.T
            gamma = gamma + lr_gamma * budget_err / problem.T  # eq. 23 on the relative budget error
            rec = dict(iter=n, gamma=gamma, psi_T_minus_T=float(ro.psi_T.mean()) - problem.T, budget_minus_T=budget_err,
                theta_mean=float(ro.theta.mean()), td_loss=float(delta.square().sum(0).mean()), sec=time.time() - t0)
            if log_file:
                log_file.write(json.dumps(rec) + '\n')
            if n % 20 == 0:
                bar.set_postfix(gamma=f'{gamma:.3g}', dpsi=f'{budget_err:+.3g}', td=f'{rec["td_loss"]:.3g}')
            if checkpoint is not None and (n + 1) % checkpoint_every == 0:
                save(n + 1)
        save(iters)
    finally:
        if log_file:
            log_file.close()

    if theta_count > 0:
        theta_raw = (theta_sum / theta_count).numpy()
    else:
        theta_raw = distil(problem, actor, base_theta, distil_batch, torch.Generator().manual_seed(seed + 1))
    sigmas, theta_bar = problem.grid_from_theta(theta_raw, num_steps)
    return dict(sigmas=sigmas.tolist(), method='art-rl' if running_cost == 'euler' else f'art-rl-{running_cost}', solver='euler' if running_cost == 'euler' else 'heun', network=network_name, seed=seed,
        theta_bar=theta_bar.tolist(), theta_rl=problem.grid_from_theta(theta_raw)[1].tolist(),
        settings=dict(settings, q_scale_c=c, gamma_final=gamma))

#----------------------------------------------------------------------------
