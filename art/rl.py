# ART-EDM: learned time grids for EDM-style diffusion samplers.
# Copyright (c) 2026 The ART-EDM authors. Released under the MIT License (see LICENSE).

"""ART-RL: the time-discretised actor-critic of arXiv 2601.18681 v1, Algorithm 1 (art-paper §2).

Per iteration (B trajectories instead of the paper's one; sums are averaged over the batch):
  1. x_0 ~ N(0, sigma_max² I) (plus random class labels for conditional nets), psi_0 = 0.
  2. For k = 0..K-1 on the uniform clock t_k = k Δt: the error density q_k at (x_k, psi_k) (|Q| for the
     paper's Euler surrogate, or the solver's r_S, art.objective), theta_k ~ N(m_k, lam / max(q_k, eps))
     and the Euler step of the controlled dynamics (4) on the psi-clock.
  3. TD errors delta_k = V_{k+1} - V_k - gamma theta_k Δt - q̃_k |theta_k|^p Δt with the critic
     V(t, ·) = NN_c(features) + lam t (Thm 3.1) and V_K pinned to (gamma + lam) T (eq. 16).
  4. One Adam step on the critic pseudo-loss -Σ_k NN_c,k sg(delta_k) (eq. 22a), one on the actor
     pseudo-loss -Σ_k log pi(theta_k) sg(delta_k) (eq. 22b), one dual step on gamma (eq. 23).
Distillation (§2.5): the policy means along the last iterations' trajectories, each normalised to
Σ_k theta_k Δt = T, averaged per step -> theta_bar -> psi(t) piecewise linear -> sigma_i = sigma(psi(i T / K)),
for any K (the schedule keeps the time change, art.schedules.time_change_grid).

`RLSettings` holds every setting; `PAPER` is Algorithm 1 as published (with it train() reproduces v1
Table 1 on builtin:gauss1d), `DEFAULT` the settings under which ART-RL converges on image-like models.
Each difference is an implementer decision on a point the paper leaves open (art-paper §4); the
decisions and the reasons for them are in docs/art-rl.md.
"""

import dataclasses
import json
import math
import os
import time

import numpy as np
import torch
import tqdm

import dnnlib
from art import objective
from art import schedules

Q_SCALES = ('auto', 'dim', 'none')
TIME_MAPS = schedules.TIME_MAPS
RHO = schedules.RHO  # time_map='rho': sigma = sigma_max (1 - psi)^7, on which EDM's grid is nearly uniform
INITS = ('edm', 'uniform')
STEP_COSTS = ('auto', 'left', 'simpson', 'root-simpson')  # 'auto': simpson for euler, root-simpson for the others
DYNAMICS = ('euler', 'heun')   # the discretisation of the controlled dynamics (4): the paper's Euler step, or Heun's
LR_DECAYS = ('constant', 'cosine')
COST_ESTIMATES = ('sampled', 'unbiased')  # the running cost at the sampled theta, or its unbiased Hermite form (hermite_power)

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
    """The time mapping (art-paper §4 item 1; 'linear': T = sigma_max, sigma = T - psi; 'rho': T = 1,
    sigma = sigma_max (1 - psi)^7), the K-step clock, the features, F and q, and one Euler step of the
    controlled dynamics (4)."""

    def __init__(self, net, num_steps, sigma_min=None, sigma_max=None, q_backend='auto', device='cpu', solver='euler',
                 time_map='linear', dynamics='euler'):
        if dynamics not in DYNAMICS:
            raise dnnlib.UserError(f'Unknown ART-RL dynamics "{dynamics}"; choose one of {", ".join(DYNAMICS)}')
        self.dynamics = dynamics
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
            raise dnnlib.UserError(f'Unknown ART-RL time_map "{time_map}"; choose one of {", ".join(TIME_MAPS)}')
        self.time_map = time_map
        self.T = self.sigma_max if time_map == 'linear' else 1.0  # clock length: sigma = T - psi, or a unit clock
        self.dt = self.T / self.K
        self.q_backend = q_backend
        self.solver = solver                                  # 'euler': |Q| theta^2 (paper); 'heun': |R| |theta|^3, ...
        self.power = objective.error_power(solver)            # (docs/solver-aware-art.md eq. 18)
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
        """Noise level at clock position psi in [0, T] (art.schedules.sigma_of_u)."""
        return schedules.sigma_of_u(psi / self.T, self.time_map, self.sigma_max)

    def psi_of(self, sigma):
        """Inverse of sigma_of."""
        return self.T * schedules.u_of_sigma(sigma, self.time_map, self.sigma_max)

    def dsigma_dpsi(self, psi):
        """|d sigma / d psi|: 1 ('linear') or rho sigma_max^(1/rho) sigma^((rho-1)/rho) / T ('rho')."""
        if self.time_map == 'rho':
            return RHO * self.sigma_max ** (1 / RHO) * self.sigma_of(psi) ** ((RHO - 1) / RHO) / self.T
        return torch.ones_like(psi)

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
        if self.solver != 'euler':                            # The solver's error density r_S(x, sigma) (per-dim normalised).
            sigma_q = self.sigma_query(psi)
            F, r = objective.field_and_density(self.net, x, sigma_q, labels, solver=self.solver)
            return F.to(x.dtype), r * self.dsigma_dpsi(psi) ** self.power
        _D, F, Q = objective.field_and_curvature(self.net, x, self.sigma_query(psi), labels, backend=self.q_backend)
        return F, objective.curvature_norm(Q, per_dim=True) * self.dsigma_dpsi(psi) ** 2  # Euler error (dsigma)^2 |Q| / 2

    def step(self, x, psi, F, theta, labels=None):
        """One step of (4) on the psi-clock, psi clipped to [0, T]; x moves by the clipped increment h in sigma:
        Euler, x + h F ('euler', the paper), or Heun, x + h (F + F') / 2 with F' the field at the Euler
        state ('heun': one more network call; Euler where the step ends below sigma_min, as EDM's last step)."""
        psi_next = (psi + theta * self.dt).clamp(0, self.T)
        s_next = self.sigma_of(psi_next)
        h = (s_next - self.sigma_of(psi)).reshape([-1] + [1] * (x.ndim - 1))
        x_next = x + h * F
        if self.dynamics == 'heun':
            F_next = objective.denoiser_field(self.net, x_next, s_next.clamp(min=self.sigma_min), labels)
            heun = (s_next >= self.sigma_min).reshape(h.shape)
            x_next = torch.where(heun, x + h * (F + F_next) / 2, x_next)
        return x_next, psi_next

    def base_theta(self, init):
        """[K] float64 clock speeds of the initial grid: EDM rho=7 (K nodes to sigma_min, then 0) or uniform."""
        if init == 'uniform':
            return torch.ones([self.K], dtype=torch.float64)
        if init != 'edm':
            raise dnnlib.UserError(f'Unknown ART-RL init "{init}"; choose one of {", ".join(INITS)}')
        psi = self.psi_of(schedules.get_sigmas('edm', self.K, sigma_min=self.sigma_min, sigma_max=self.sigma_max))
        return (psi[1:] - psi[:-1]) / self.dt

    def time_change(self, theta_bar):
        """The schedule-file record of a time change on this clock (art.schedules.time_change_grid)."""
        return dict(theta=[float(v) for v in theta_bar], time_map=self.time_map, sigma_min=self.sigma_min, sigma_max=self.sigma_max)

    def grid_from_theta(self, theta_bar, num_steps=None):
        """(sigmas [K+1], theta [K]) of the time change theta_bar on this clock, for K steps (default: the clock's)."""
        return schedules.time_change_grid(self.time_change(theta_bar), self.K if num_steps is None else num_steps)

#----------------------------------------------------------------------------
# Any K from a trained schedule.

def schedule_grid(sched, num_steps):
    """The K-step grid (float64 numpy) of a schedule dict from train(): read off its learned time change."""
    return schedules.time_change_grid(sched['time_change'], num_steps)[0]

def hermite_power(theta, var, p):
    """v^(p/2) He_p(theta / sqrt(v)) for theta ~ N(m, v): the unbiased estimate of m^p (E = m^p exactly), by the
    recurrence H_0 = 1, H_1 = theta, H_(n+1) = theta H_n - n v H_(n-1) (probabilists' Hermite polynomials).
    p = 2: theta^2 - v; p = 3: theta^3 - 3 v theta."""
    h_prev, h = torch.ones_like(theta), theta
    for n in range(1, p):
        h_prev, h = h, theta * h - n * var * h_prev
    return h

#----------------------------------------------------------------------------
# One rollout of B trajectories. Returns the per-step tensors ([K, B]) for the updates.

def policy_var(q, m, lam, eps, std_cap=None):
    """Exploration variance lam / max(q, eps_k) with eps_k = max(eps, lam / (std_cap m)²), i.e. the std is
    at most std_cap times the mean (std_cap=None: the paper's constant eps)."""
    var = lam / q.clamp(min=eps)
    return var if std_cap is None else torch.minimum(var, (std_cap * m).square())

def _below_sigma_min(problem, x, psi, psi_next, F, q, labels, q_scale):
    """For 'root-simpson', the mean of q^(1/p) over the steps [psi, psi_next] that end below sigma_min, where
    the density is held at its sigma_min value (the queries clamp sigma) and q^(1/p) = (c r_S)^(1/p) |dsigma/dpsi|
    integrates exactly: ∫ q^(1/p) dpsi = (c r_S)^(1/p) Δsigma. The part above sigma_min, if any, by Simpson on
    q^(1/p) with the states at its middle and at sigma_min (two more density evaluations, made only when some
    trajectory's step crosses sigma_min). Returns (mask [B], mean [B]) or None when no step reaches below."""
    s0, s1, lo = problem.sigma_of(psi), problem.sigma_of(psi_next), problem.sigma_min
    mask = (s1 < lo) & (psi_next > psi)
    if not bool(mask.any()):
        return None
    a, dpsi = 1 / problem.power, psi_next - psi
    psi_lo = torch.full_like(psi, float(problem.psi_of(torch.tensor(lo, dtype=torch.float64))))
    psi_a = torch.minimum(torch.maximum(psi_lo, psi), psi_next)         # end of the part above sigma_min
    shift = lambda p_to: x + (problem.sigma_of(p_to) - s0).reshape([-1] + [1] * (x.ndim - 1)) * F  # Euler state
    q_half = problem.field_and_q(shift(0.5 * (psi + psi_a)), 0.5 * (psi + psi_a), labels)[1] * q_scale
    q_lo = problem.field_and_q(shift(psi_a), psi_a, labels)[1] * q_scale
    above = (psi_a - psi) * (q ** a + 4 * q_half ** a + q_lo ** a) / 6
    g_lo = q_lo ** a / problem.dsigma_dpsi(psi_a)                       # (c r_S)^(1/p) at sigma_min
    mean = (above + g_lo * (torch.minimum(s0, torch.full_like(s0, lo)) - s1)) / dpsi.clamp(min=1e-300)
    return mask, mean

def rollout(problem, actor, base_theta, batch, generator, lam=0.1, eps=1e-6, q_scale=1.0, stochastic=True, step_cost='left', std_cap=None):
    """Returns phi [K,B,3], theta, q, q_step, mean, var [K,B], psi_T, budget [B]. q is |Q| (scaled) at the
    states, q_step the step cost's q: q itself ('left'), Simpson's (q_k + 4 q_mid + q_k+1) / 6 over
    the executed step ('simpson', one more JVP per step at the Euler half-step state), or the p-th power of
    the mean of q^(1/p) over the step ('root-simpson'; see root_simpson_mean)."""
    x, labels, psi = problem.initial_state(batch, generator)
    phis, thetas, qs, means, vars_, q_mids, below = [], [], [], [], [], [], []
    budget = torch.zeros_like(psi)
    for k in range(problem.K):
        F, q = problem.field_and_q(x, psi, labels)
        q = q * q_scale
        phi = problem.features(k, psi)
        with torch.no_grad():
            m = base_theta[k] * log_ratio(actor(phi.to(problem.device))).to(torch.float64).exp()
        var = policy_var(q, m, lam, eps, std_cap)
        if stochastic:
            theta = m + var.sqrt() * torch.randn([batch], generator=generator, dtype=torch.float64).to(problem.device)
        else:
            theta = m
        if not (torch.isfinite(q).all() and torch.isfinite(theta).all()):
            raise FloatingPointError(f'non-finite |Q| or theta at step k={k} (sigma={float(problem.sigma_query(psi).min()):g})')
        budget = budget + theta * problem.dt
        if step_cost in ('simpson', 'root-simpson'):
            q_mids.append(problem.field_and_q(*problem.step(x, psi, F, theta / 2, labels), labels)[1] * q_scale)
        x_next, psi_next = problem.step(x, psi, F, theta, labels)
        if step_cost == 'root-simpson':
            below.append(_below_sigma_min(problem, x, psi, psi_next, F, q, labels, q_scale))
        x, psi = x_next, psi_next
        phis.append(phi); thetas.append(theta); qs.append(q); means.append(m); vars_.append(var)
    q = torch.stack(qs)
    q_step = q
    if step_cost in ('simpson', 'root-simpson'):
        q_end = problem.field_and_q(x, psi, labels)[1] * q_scale
        q_mid, q_next = torch.stack(q_mids), torch.cat([q[1:], q_end[None]])
        if step_cost == 'simpson':
            q_step = (q + 4 * q_mid + q_next) / 6
        else:
            a = 1 / problem.power
            mean = (q ** a + 4 * q_mid ** a + q_next ** a) / 6
            for k, fix in enumerate(below):  # steps that reach below sigma_min: exact there (r_S held constant)
                if fix is not None:
                    mean[k] = torch.where(fix[0], fix[1], mean[k])
            q_step = mean ** problem.power
        if not torch.isfinite(q_step).all():
            raise FloatingPointError('non-finite |Q| at a half-step or the final state')
    return dnnlib.EasyDict(phi=torch.stack(phis), theta=torch.stack(thetas), q=q, q_step=q_step,
        mean=torch.stack(means), var=torch.stack(vars_), psi_T=psi, budget=budget)

#----------------------------------------------------------------------------
# |Q| scale for q_scale='auto': c = (T / ∫ q^1/2 dpsi)², estimated along the initial policy's mean path.

def calibrate_q_scale(problem, actor, base_theta, batch, generator, target=1.0):
    ro = rollout(problem, actor, base_theta, batch, generator, q_scale=1.0, stochastic=False)
    dpsi = ro.mean * problem.dt                                         # [K, B]
    integral = float((ro.q ** (1 / problem.power) * dpsi).sum(0).mean()) # p = 2 (Euler/ART) or 3 (Heun)
    if not (integral > 0 and math.isfinite(integral)):
        raise dnnlib.UserError('Cannot calibrate the |Q| scale: Q is zero or non-finite along the initial rollout; use the option q_scale=dim')
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

def _open_log(path, start):
    """The JSON-lines log opened for appending after iteration `start`: the records of iterations < start
    are kept (a torn last line or records written after the checkpoint are dropped), the rest removed."""
    kept = []
    if start > 0 and os.path.isfile(path):
        with open(path) as f:
            for line in f:
                try:
                    rec = json.loads(line)
                except ValueError:
                    break
                if not isinstance(rec, dict) or not isinstance(rec.get('iter'), int) or rec['iter'] >= start:
                    break
                kept.append(line if line.endswith('\n') else line + '\n')
    from torch_utils.misc import write_atomic # pylint: disable=import-outside-toplevel
    write_atomic(path, ''.join(kept))
    return open(path, 'a')

#----------------------------------------------------------------------------
# Training (Algorithm 1, generalised to B trajectories per iteration).

@dataclasses.dataclass(frozen=True)
class RLSettings:
    """Every setting of ART-RL (art-paper §2.3-2.4, App. C; the decisions: docs/art-rl.md)."""
    iters: int = 5000            # N, iterations
    batch: int = 64              # trajectories per iteration (the paper: 1)
    lam: float = 0.1             # policy noise level lambda
    eps: float = 1e-6            # floor of q in the exploration variance lam / max(q, eps)
    lr: float = 1e-4             # actor Adam learning rate
    lr_critic: float = 1e-3      # critic Adam learning rate (None: lr)
    lr_gamma: float = 0.03       # dual step on the relative budget error (eq. 23)
    gamma_init: float = None     # None: from the transversality condition on the initial grid
    augmented: float = 100.0     # augmented-Lagrangian weight c on the policy budget; 0: dual ascent only
    critic_warmup: int = 200     # critic-only iterations first
    time_map: str = 'rho'        # clock: 'rho' (sigma = sigma_max (1 - psi)^7) or 'linear' (sigma = T - psi)
    step_cost: str = 'auto'      # 'simpson' over the executed step, 'root-simpson' (on q^(1/p)), 'left' (eq. 22's
                                 # q_k theta_k^2 Δt); 'auto': simpson for euler, root-simpson for the others (p = 3, 5)
    std_cap: float = 0.3         # exploration std <= std_cap x mean (None: no cap)
    actor_gain: float = 5.0      # width of the actor's first layers at initialisation
    init: str = 'edm'            # initial policy mean: EDM's grid or uniform
    q_scale: str = 'auto'        # |Q| normalisation: auto | dim | none
    q_target: float = 1.0        # q_scale='auto': target of (∫ q^(1/p) dpsi / T)^p
    q_backend: str = 'auto'      # JVP backend for Q (art.objective)
    hidden: int = 128            # width of the 3-layer Softplus MLPs
    rl_steps: int = None         # resolution of the RL clock (None: K)
    dynamics: str = 'euler'      # step of the controlled dynamics (4): 'euler' (paper) or 'heun'
    lr_decay: str = 'constant'   # actor learning rate after the warm-up: 'constant', or 'cosine' down to 0 at iters
    cost_estimate: str = 'sampled'  # running cost in the TD error: q |theta|^p at the sampled theta (paper), or
                                 # 'unbiased' q hermite_power(theta, var, p), whose mean over the exploration is q m^p
    distil_last: float = 0.2     # distil from this fraction of the last iterations
    distil_batch: int = 256      # rollouts for distillation when no iteration was kept
    checkpoint_every: int = 100  # iterations between checkpoints

    def replace(self, **changes):
        """A copy with `changes`; an unknown name is a one-line error."""
        unknown = sorted(set(changes) - {f.name for f in dataclasses.fields(self)})
        if unknown:
            raise dnnlib.UserError(f'Unknown ART-RL setting(s) {", ".join(unknown)}; known: {", ".join(f.name for f in dataclasses.fields(self))}')
        return dataclasses.replace(self, **changes)

DEFAULT = RLSettings()
# Algorithm 1 as published (art-paper §2.3-2.4, App. C; inits of §4 item 5) on the 1-D study's clock.
PAPER = RLSettings(time_map='linear', step_cost='left', augmented=0.0, critic_warmup=0, gamma_init=0.0, actor_gain=1.0, std_cap=None,
                   init='uniform', q_scale='none', lr=1e-4, lr_critic=None, lr_gamma=1e-4, batch=1, iters=5000)

def train(net, num_steps, settings=DEFAULT, *, solver='euler', sigma_min=None, sigma_max=None, seed=0, device='cpu',
          checkpoint=None, resume=False, log_path=None, progress=True, **overrides):
    """Run ART-RL (Algorithm 1) for `solver`'s running cost and distil it to a grid (§2.5). Returns a schedule
    dict (`sigmas`, `solver`, `theta_bar`, `time_change`, `settings`). `checkpoint`: file for periodic state
    (resumed when `resume`); `log_path`: JSON-lines log, one object per iteration (a resumed run truncates it
    to the checkpoint's iteration, so no iteration is repeated). The K-step grid is read off the distilled
    time change, and schedule_grid(result, K) reads off any other K. `overrides`: RLSettings fields."""
    settings = settings.replace(**overrides) if overrides else settings
    (iters, batch, lam, eps, lr, lr_critic, lr_gamma, gamma_init, augmented, critic_warmup, time_map, step_cost, std_cap,
     actor_gain, init, q_scale, q_target, q_backend, hidden, rl_steps, dynamics, lr_decay, cost_estimate, distil_last,
     distil_batch, checkpoint_every) = (
        getattr(settings, f.name) for f in dataclasses.fields(RLSettings))
    if not (isinstance(iters, int) and iters >= 0 and isinstance(batch, int) and batch >= 1):
        raise dnnlib.UserError(f'ART-RL needs iters >= 0 and batch >= 1 (integers), got iters={iters}, batch={batch}')
    for name in ('lam', 'eps', 'lr', 'lr_gamma', 'augmented', 'q_target', 'distil_last'):
        v = getattr(settings, name)
        if not (isinstance(v, (int, float)) and math.isfinite(v) and v >= 0):
            raise dnnlib.UserError(f'ART-RL setting {name} must be a finite number >= 0, got {v!r}')
    if lr_critic is not None and not (isinstance(lr_critic, (int, float)) and math.isfinite(lr_critic) and lr_critic > 0):
        raise dnnlib.UserError(f'ART-RL setting lr_critic must be a finite number > 0, got {lr_critic!r}')
    if q_scale not in Q_SCALES:
        raise dnnlib.UserError(f'Unknown ART-RL q_scale "{q_scale}"; choose one of {", ".join(Q_SCALES)}')
    if step_cost not in STEP_COSTS:
        raise dnnlib.UserError(f'Unknown step cost "{step_cost}"; choose one of {", ".join(STEP_COSTS)}')
    if lr_decay not in LR_DECAYS:
        raise dnnlib.UserError(f'Unknown ART-RL lr_decay "{lr_decay}"; choose one of {", ".join(LR_DECAYS)}')
    if cost_estimate not in COST_ESTIMATES:
        raise dnnlib.UserError(f'Unknown ART-RL cost_estimate "{cost_estimate}"; choose one of {", ".join(COST_ESTIMATES)}')
    if step_cost == 'auto':  # docs/art-rl.md, "Step cost"
        step_cost = 'simpson' if solver == 'euler' else 'root-simpson'
    device = torch.device(device)
    num_steps = int(num_steps)
    problem = ARTProblem(net, num_steps if rl_steps is None else rl_steps, sigma_min, sigma_max, q_backend, device, solver, time_map,
                         dynamics)
    base_theta = problem.base_theta(init).to(device)
    settings = dict(iters=iters, batch=batch, lam=lam, eps=eps, lr=lr, lr_critic=lr_critic, lr_gamma=lr_gamma, gamma_init=gamma_init,
        augmented=augmented, critic_warmup=critic_warmup, time_map=time_map, step_cost=step_cost, std_cap=std_cap,
        actor_gain=actor_gain, init=init, q_scale=q_scale, q_target=q_target, q_backend=q_backend, hidden=hidden,
        dynamics=dynamics, lr_decay=lr_decay, cost_estimate=cost_estimate, sigma_min=problem.sigma_min, sigma_max=problem.sigma_max, num_steps=num_steps, rl_steps=problem.K, distil_batch=distil_batch)

    torch.manual_seed(seed)
    actor = MLP(3, hidden, zero_last=True, gain=actor_gain).to(device)
    critic = MLP(3, hidden).to(device)
    opt_actor = torch.optim.Adam(actor.parameters(), lr=lr, betas=(0.9, 0.999))
    opt_critic = torch.optim.Adam(critic.parameters(), lr=lr if lr_critic is None else lr_critic, betas=(0.9, 0.999))
    generator = torch.Generator().manual_seed(seed)
    gamma = None if gamma_init is None else float(gamma_init)
    start = 0
    c = None
    distil_from = iters - max(1, int(round(distil_last * iters)))   # distil from the last iterations' trajectories
    theta_sum, theta_count = torch.zeros([problem.K], dtype=torch.float64), 0

    if resume and checkpoint is not None and os.path.isfile(checkpoint):
        try:  # tensors, numbers, strings only: weights_only never runs code from the file
            state = torch.load(checkpoint, map_location=device, weights_only=True)
        except Exception: # pylint: disable=broad-exception-caught
            state = None
        if not (isinstance(state, dict) and isinstance(state.get('settings'), dict)):
            raise dnnlib.UserError(f'Checkpoint "{checkpoint}" cannot be read as an ART-RL checkpoint with torch.load(weights_only=True) (corrupt, old or foreign file); delete it or use a new --out')
        keys = ('rl_steps', 'time_map', 'step_cost', 'dynamics', 'lam', 'batch', 'init', 'q_scale', 'hidden', 'sigma_min', 'sigma_max')
        diff = [k for k in keys if state['settings'].get(k) != settings[k]]
        if diff:
            raise dnnlib.UserError(f'Checkpoint "{checkpoint}" was made with different settings ({", ".join(diff)}); use the same flags or a new --out')
        actor.load_state_dict(state['actor']); critic.load_state_dict(state['critic'])
        opt_actor.load_state_dict(state['opt_actor']); opt_critic.load_state_dict(state['opt_critic'])
        generator.set_state(state['generator'])
        gamma, start, c = state['gamma'], state['iteration'], state['q_scale_c']
        if state.get('distil_from') == distil_from:  # else the accumulated window belongs to other iters
            theta_sum, theta_count = state['theta_sum'], state['theta_count']

    if c is None:
        c = 1.0 if q_scale != 'auto' else calibrate_q_scale(problem, actor, base_theta, max(batch, 16), generator, q_target)
    if q_scale == 'none':
        c = float(np.prod(problem.shape)) ** 0.5  # undo the per-dimension normalisation
    if gamma is None:  # transversality at the end of the clock, p q(T) theta(T)^(p-1) = -gamma, on the initial grid
        try:
            ro = rollout(problem, actor, base_theta, max(batch, 16), generator, q_scale=c, stochastic=False, step_cost=step_cost)
        except FloatingPointError as e:
            raise dnnlib.UserError(f'ART-RL diverged on the initial grid: {e}; try the option q_backend=fd') from e
        gamma = float(-problem.power * (ro.q_step[-1] * ro.mean[-1] ** (problem.power - 1)).mean())  # p = 2: -2 q m
    t_k = torch.arange(problem.K, dtype=torch.float64, device=device) * problem.dt

    log_file = _open_log(log_path, start) if log_path else None
    def save(iteration):
        if checkpoint is not None:
            _save_checkpoint(checkpoint, dict(actor=actor.state_dict(), critic=critic.state_dict(),
                opt_actor=opt_actor.state_dict(), opt_critic=opt_critic.state_dict(), generator=generator.get_state(),
                gamma=gamma, iteration=iteration, q_scale_c=c, settings=settings, theta_sum=theta_sum, theta_count=theta_count,
                distil_from=distil_from))
    try:
        bar = tqdm.tqdm(range(start, iters), initial=start, total=iters, disable=not progress, desc=f'ART-RL K={problem.K}', leave=False)
        for n in bar:
            t0 = time.time()
            try:
                ro = rollout(problem, actor, base_theta, batch, generator, lam, eps, c, stochastic=True, step_cost=step_cost, std_cap=std_cap)
            except FloatingPointError as e:
                raise dnnlib.UserError(f'ART-RL diverged at iteration {n}: {e}; lower --lr or try the option q_backend=fd') from e
            theta, q, var = ro.theta.to(torch.float32), ro.q_step.to(torch.float32), ro.var.to(torch.float32)

            # TD errors (eq. 22) with the critic V_k = NN_c + lam t_k and the terminal value pinned to (gamma + lam) T.
            V_nn = critic(ro.phi)
            with torch.no_grad():
                V = V_nn + lam * t_k[:, None].to(torch.float32)
                V_next = torch.cat([V[1:], torch.full_like(V[:1], (gamma + lam) * problem.T)])
                power = theta.abs() ** problem.power if cost_estimate == 'sampled' else hermite_power(theta, var, problem.power)
                delta = V_next - V - gamma * theta * problem.dt - q * power * problem.dt
            loss_critic = -(V_nn * delta).sum(0).mean()                        # eq. 22a
            m = base_theta[:, None].to(torch.float32) * log_ratio(actor(ro.phi)).exp()
            loss_actor = ((theta - m).square() / (2 * var) * delta).sum(0).mean()  # eq. 22b: -Σ_k log pi(theta_k) delta_k
            budget = m.sum(0) * problem.dt                                    # the policy's budget Σ_k m_k Δt (eq. 12)
            if augmented:  # augmented Lagrangian: + c/2 ((Σ_k m_k Δt - T) / T)², differentiated through m
                loss_actor = loss_actor + 0.5 * augmented * ((budget - problem.T) / problem.T).square().mean()
            if not (torch.isfinite(loss_critic) and torch.isfinite(loss_actor)):
                raise dnnlib.UserError(f'ART-RL diverged at iteration {n}: non-finite TD error or loss; lower the options lr or lam')
            opt_critic.zero_grad(set_to_none=True); opt_actor.zero_grad(set_to_none=True)
            (loss_critic + loss_actor).backward()  # disjoint parameters: two independent updates
            opt_critic.step()
            # Multiplier (eq. 23) on the relative budget error: the executed one (paper; UNclipped, since the
            # clipped psi_K <= T could only lower gamma) or, with the augmented Lagrangian, the policy's.
            budget_err = float((budget.detach() if augmented else ro.budget).mean()) - problem.T
            if n >= critic_warmup:  # the first critic_warmup iterations fit the critic to the initial policy only
                if lr_decay == 'cosine':  # lr (1 + cos(pi f)) / 2, f the fraction of the post-warm-up iterations done
                    f = (n - critic_warmup) / max(1, iters - critic_warmup)
                    for group in opt_actor.param_groups:
                        group['lr'] = lr * 0.5 * (1 + math.cos(math.pi * f))
                opt_actor.step()
                gamma = gamma + lr_gamma * budget_err / problem.T
            if n >= distil_from:  # policy means along this iteration's trajectories, each normalised to Σ theta Δt = T
                norm = ro.mean * (problem.T / (ro.mean.sum(0, keepdim=True) * problem.dt))
                theta_sum += norm.sum(1).cpu(); theta_count += norm.shape[1]
            rec = dict(iter=n, gamma=gamma, psi_T_minus_T=float(ro.psi_T.mean()) - problem.T, budget_minus_T=budget_err,
                theta_mean=float(ro.theta.mean()), td_loss=float(delta.square().sum(0).mean()), lr=opt_actor.param_groups[0]['lr'],
                sec=time.time() - t0)
            if log_file:
                log_file.write(json.dumps(rec) + '\n')
                log_file.flush()
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
    return dict(sigmas=sigmas.tolist(), solver=solver, theta_bar=theta_bar.tolist(), time_change=problem.time_change(theta_raw),
        settings=dict(settings, q_scale_c=c, gamma_final=gamma))

#----------------------------------------------------------------------------
