# ART-EDM: learned time grids for EDM-style diffusion samplers.
# Copyright (c) 2026 The ART-EDM authors. Released under the MIT License (see LICENSE).

"""The time-only ART optimum in closed form (art-paper §1.5 and §4 item 9).

Along an exact PF-ODE trajectory the state does not depend on the control, so the ART cost
∫ |Q| theta² dt under ∫ theta dt = T is minimised by |Q| theta² = const. For a time-only schedule
the same holds with q̄(sigma) = E|Q(x(sigma); sigma)| over x(sigma_max) ~ N(0, sigma_max² I):

    theta*(psi) ∝ q̄^(-1/2),  i.e. the K-step grid is uniform in u(sigma) = ∫_sigma^T q̄^(1/2) dsigma'.

Estimate: PF-ODE trajectories on a fine EDM rho=7 grid (art.sampler, Heun), q̄ = mean of |Q|/sqrt(d)
(art.objective, the same per-dimension normalisation as art.rl) at every fine node, u by the
trapezoid rule in log sigma (plus the piece sigma_min -> 0 with q̄ held at its sigma_min value), and
the nodes sigma_i = u^-1(i u_total / K), i = 0..K-1, then 0. Time mapping as art.rl: T = sigma_max,
sigma = T - psi, non-zero nodes kept >= sigma_min.
"""

import numpy as np
import torch
import tqdm

from art import objective
from art import rl
from art import sampler
from art import schedules

#----------------------------------------------------------------------------
# q̄(sigma) on a fine grid from PF-ODE trajectories.

def curvature_profile(net, *, num_trajectories=128, fine_steps=128, batch=64, sigma_min=None, sigma_max=None,
                      q_backend='auto', solver='heun', seed=0, device='cpu', progress=False):
    """Return (sigma_fine [N] descending, q̄ [N]): E |Q|/sqrt(d) at the N = fine_steps non-zero nodes of
    an EDM rho=7 grid, along `solver` trajectories on that grid from x ~ N(0, sigma_max² I)."""
    device = torch.device(device)
    problem = rl.ARTProblem(net, 1, sigma_min, sigma_max, q_backend, device)
    sigmas = schedules.get_sigmas('edm', fine_steps, sigma_min=problem.sigma_min, sigma_max=problem.sigma_max, device=device)
    sigma_fine = sigmas[:-1]
    q_sum = torch.zeros([fine_steps], dtype=torch.float64)
    generator = torch.Generator().manual_seed(seed)
    done = 0
    with tqdm.tqdm(total=num_trajectories, disable=not progress, desc='closed form: q(sigma)', leave=False) as bar:
        while done < num_trajectories:
            n = min(batch, num_trajectories - done)
            x, labels, _psi = problem.initial_state(n, generator)

            def accumulate(i, sigma, x_cur):
                if i < fine_steps:
                    Q = objective.curvature(net, x_cur, sigma, labels, backend=q_backend)
                    q_sum[i] += objective.curvature_norm(Q).sum().cpu()

            accumulate(0, sigma_fine[0], x)
            sampler.sample(net, x / problem.T, sigmas, labels, solver=solver,
                callback=lambda i, t_next, x_next: accumulate(i + 1, t_next, x_next))
            done += n
            bar.update(n)
    return sigma_fine.cpu().numpy(), (q_sum / num_trajectories).numpy()

#----------------------------------------------------------------------------
# Grid uniform in u = ∫ q̄^(1/2) dsigma.

def nodes_from_profile(sigma_fine, qbar, num_steps, sigma_min, sigma_max):
    """K+1 sigmas (last 0) equally spaced in u(sigma) = ∫_sigma^T q̄^(1/2); also returns the grid's theta."""
    s = np.asarray(sigma_fine, np.float64)[::-1]            # ascending
    g = np.sqrt(np.maximum(np.asarray(qbar, np.float64)[::-1], 1e-300))
    ls = np.log(s)
    integrand = g * s                                        # dsigma = sigma dlog(sigma)
    u_asc = np.concatenate([[0.0], np.cumsum((integrand[1:] + integrand[:-1]) / 2 * np.diff(ls))])
    u_asc = u_asc + g[0] * s[0]                              # piece sigma in [0, s_min]
    u_total = u_asc[-1]
    u_from_top = u_total - u_asc                             # u(sigma) measured from sigma_max, descending in sigma
    targets = np.arange(num_steps) / num_steps * u_total
    # invert on the descending arrays: u_from_top increases as sigma decreases
    nodes = np.interp(targets, u_from_top[::-1], s[::-1])
    nodes[0] = float(sigma_max)
    return schedules.sigmas_from_nodes(nodes, sigma_min)

#----------------------------------------------------------------------------
# Entry point (compare.py, train_art.py).

def fit(net, num_steps, *, num_trajectories=128, fine_steps=128, batch=64, sigma_min=None, sigma_max=None,
        q_backend='auto', seed=0, device='cpu', progress=False, network_name=None, **unused_kwargs):
    """Closed-form time-only ART schedule for K = num_steps. Returns a schedule dict for save_schedule."""
    problem = rl.ARTProblem(net, num_steps, sigma_min, sigma_max, q_backend, device)
    sigma_fine, qbar = curvature_profile(net, num_trajectories=num_trajectories, fine_steps=fine_steps, batch=batch,
        sigma_min=problem.sigma_min, sigma_max=problem.sigma_max, q_backend=q_backend, seed=seed, device=device, progress=progress)
    sigmas, theta = nodes_from_profile(sigma_fine, qbar, problem.K, problem.sigma_min, problem.sigma_max)
    return dict(sigmas=sigmas.tolist(), method='closed-form', solver='euler', network=network_name, seed=seed,
        theta_bar=theta.tolist(), q_profile=dict(sigma=sigma_fine.tolist(), qbar=qbar.tolist()),
        settings=dict(num_trajectories=num_trajectories, fine_steps=fine_steps, q_backend=q_backend,
            sigma_min=problem.sigma_min, sigma_max=problem.sigma_max, num_steps=problem.K))

#----------------------------------------------------------------------------
