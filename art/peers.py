# ART-EDM: learned time grids for EDM-style diffusion samplers.
# Copyright (c) 2026 The ART-EDM authors. Released under the MIT License (see LICENSE).

"""Strong schedule baselines in the same harness (peers.md §2).

- GITS (Chen et al., ICML'24, "On the trajectory regularity of ODE-based diffusion sampling"): run a
  teacher solver on a fine grid of N_tea noise levels from a few warm-up latents, build the cost matrix
  C[i, j] = mean over samples of || one coarse step from the teacher state x_i (sigma_i -> sigma_j)
  - teacher state x_j ||_2, then choose the K-node sub-grid from sigma_max to sigma_min by dynamic
  programming over

      V_1(i) = C[i, N-1],   V_k(i) = min_{i < j < N-1} C[i, j] + coeff * V_{k-1}(j),

  i.e. the cost of the m-th step from the start is weighted by coeff^m (coeff > 1 favours accuracy
  near the data end, compensating accumulated error; the paper's default is about 1.15). The coarse
  step is Euler with the teacher's own derivative d_i (as GITS does) or, for Heun students, one Heun
  step (`coarse='heun'`). The EDM sampler then steps from sigma_min to 0 as usual (NFE = 2K-1 / K).
- EDM with the best rho per (network, solver, K): rho searched on a grid by the RMS error against a
  high-NFE reference from warm-up latents (seeds disjoint from the evaluation seeds).
- logSNR-uniform lives in art.schedules ('logsnr').

`gits()` and `edm_best_rho()` return schedule dicts (sigmas + what they learned); art.methods registers
them. Warm-up latents come from art.sampler.warmup_latents (EDM's per-seed draws, seeds >= 1000000).
"""

import itertools
import weakref

import numpy as np
import torch

import dnnlib
from art import objective
from art import sampler
from art import schedules

#----------------------------------------------------------------------------
# Helpers.

def _range(net, sigma_min=None, sigma_max=None):
    return schedules.sigma_range('edm', net, sigma_min, sigma_max)

def _grid(name, num_steps, net, sigma_min, sigma_max, rho=7.0, device='cpu'):
    return schedules.get_sigmas(name, num_steps, net=net, sigma_min=sigma_min, sigma_max=sigma_max, rho=rho, device=device)

#----------------------------------------------------------------------------
# GITS: dynamic programming over a fine teacher grid.

def gits_dp(cost, num_nodes, coeff=1.15):
    """Indices 0 = i_0 < i_1 < ... < i_{K-1} = N-1 of the K = `num_nodes` teacher nodes minimising
    sum_m coeff^m C[i_m, i_{m+1}] (the GITS recursion above). `cost` is an [N, N] array whose upper
    triangle holds the one-step costs. Returns (indices, total cost)."""
    C = np.asarray(cost, np.float64)
    N = C.shape[0]
    K = int(num_nodes)
    if C.shape != (N, N) or not 2 <= K <= N:
        raise dnnlib.UserError(f'GITS needs 2 <= K <= N teacher nodes and a square cost matrix; got K={K}, shape {C.shape}')
    S = K - 1                                                  # Number of steps.
    V = np.full([S + 1, N], np.inf)                            # V[k, i]: best cost of k steps from i to N-1.
    arg = np.full([S + 1, N], -1, dtype=np.int64)
    V[1, :N - 1] = C[:N - 1, N - 1]
    arg[1, :N - 1] = N - 1
    for k in range(2, S + 1):
        for i in range(N - 1):
            j = np.arange(i + 1, N - 1)
            if len(j) == 0:
                continue
            vals = C[i, j] + coeff * V[k - 1, j]
            best = int(np.argmin(vals))
            V[k, i], arg[k, i] = vals[best], j[best]
    if S == 0:
        return [0], 0.0
    if not np.isfinite(V[S, 0]):
        raise dnnlib.UserError(f'GITS: {K} nodes do not fit into {N} teacher nodes; use a finer teacher grid')
    path = [0]
    for k in range(S, 0, -1):
        path.append(int(arg[k, path[-1]]))
    return path, float(V[S, 0])

#----------------------------------------------------------------------------

def gits_brute_force(cost, num_nodes, coeff=1.15):
    """Exhaustive version of gits_dp (for tests and tiny problems)."""
    C = np.asarray(cost, np.float64)
    N = C.shape[0]
    best = (None, np.inf)
    for mid in itertools.combinations(range(1, N - 1), num_nodes - 2):
        path = [0, *mid, N - 1]
        total = sum(coeff ** m * C[a, b] for m, (a, b) in enumerate(zip(path[:-1], path[1:])))
        if total < best[1]:
            best = (path, total)
    return best

#----------------------------------------------------------------------------

def gits_cost_matrix(net, latents, teacher_sigmas, class_labels=None, *, coarse='euler', batch=256):
    """C[i, j] (i < j) = mean_b || coarse step from the teacher state at sigma_i to sigma_j - teacher state at
    sigma_j ||_2. `teacher_sigmas`: N descending nodes (no final 0). The teacher is Heun on these nodes
    (art.sampler.trajectory). `coarse`: 'euler' (GITS: the teacher's own
    derivative at sigma_i) or 'heun' (one extra evaluation per pair)."""
    trajectory, denoiser_field = sampler.trajectory, objective.denoiser_field
    if coarse not in ('euler', 'heun'):
        raise dnnlib.UserError(f'Unknown GITS coarse step "{coarse}"; use euler or heun')
    s = torch.as_tensor(teacher_sigmas, dtype=torch.float64, device=latents.device)
    N = len(s)
    cost = np.zeros([N, N])
    for b0 in range(0, len(latents), batch):
        z = latents[b0:b0 + batch]
        labels = None if class_labels is None else class_labels[b0:b0 + batch]
        xs = trajectory(net, z, torch.cat([s, s.new_zeros([1])]), labels, solver='heun')[:N] # [N, B, ...]
        for i in range(N - 1):
            x_i = xs[i]
            d_i = denoiser_field(net, x_i, s[i], labels).to(torch.float64)
            for j in range(i + 1, N):
                h = s[j] - s[i]
                x_next = x_i + h * d_i
                if coarse == 'heun':
                    d_next = denoiser_field(net, x_next, s[j], labels).to(torch.float64)
                    x_next = x_i + h * (d_i + d_next) / 2
                cost[i, j] += float((x_next - xs[j]).flatten(1).norm(dim=1).sum())
    return cost / len(latents)

_gits_costs = weakref.WeakKeyDictionary()  # net -> {settings: cost matrix}

#----------------------------------------------------------------------------

def gits(net, num_steps, *, solver='heun', coeff=1.15, num_teacher=61, teacher_rho=7.0, num_warmup=64, seed=0,
         sigma_min=None, sigma_max=None, device='cpu', log=None):
    """GITS schedule with K = `num_steps` nodes (+ final 0) for `net`, with `solver`'s own one-step cost
    (euler or heun). Warm-up latents from art.sampler.warmup_latents(seed). Returns a schedule dict."""
    if solver not in ('euler', 'heun'):
        raise dnnlib.UserError(f'GITS needs a one-step cost for solver "{solver}"; it supports euler and heun')
    lo, hi = _range(net, sigma_min, sigma_max)
    if num_teacher < 2 * num_steps:                            # The teacher must be finer than the student.
        if log is not None:
            log(f'GITS: {num_teacher} teacher nodes are too few for K={num_steps}; using {2 * num_steps + 1}')
        num_teacher = 2 * num_steps + 1
    teacher = _grid('edm', num_teacher, net, lo, hi, rho=teacher_rho, device=device)[:-1]
    key = (num_teacher, teacher_rho, num_warmup, seed, solver, lo, hi, str(device))
    cache = _gits_costs.setdefault(net, dict())
    if key not in cache:                                       # One cost matrix serves every K.
        latents, labels = sampler.warmup_latents(net, num_warmup, seed, device)
        cache[key] = gits_cost_matrix(net, latents, teacher, labels, coarse=solver)
    path, total = gits_dp(cache[key], num_steps, coeff)
    sigmas = torch.cat([teacher[path], teacher.new_zeros([1])])
    if log is not None:
        log(f'GITS K={num_steps} coeff={coeff}: teacher indices {path}, cost {total:.4g}')
    return dict(sigmas=sigmas.tolist(), solver=solver, num_teacher_used=num_teacher, teacher_indices=path, dp_cost=total)

#----------------------------------------------------------------------------
# EDM rho=... with the rho that minimises the RMS error against a reference.

DEFAULT_RHOS = (1.5, 2, 2.5, 3, 3.5, 4, 5, 6, 7, 8, 10, 12)

_references = weakref.WeakKeyDictionary()  # net -> {settings: (latents, labels, reference samples)}

#----------------------------------------------------------------------------

def best_rho(net, num_steps, *, solver='heun', rhos=DEFAULT_RHOS, num_warmup=64, seed=0, ref_steps=128, sigma_min=None,
             sigma_max=None, device='cpu', refine=True):
    """Search rho for the EDM grid with K = `num_steps` by the RMS error against a high-NFE reference from
    warm-up latents. A coarse grid search over `rhos` is followed (refine=True) by a golden-section
    search on the bracket around the best grid value. Returns (rho, {rho: rms})."""
    from art.metrics import rms_error # pylint: disable=import-outside-toplevel
    key = (num_warmup, seed, ref_steps, sigma_min, sigma_max, str(device))
    cache = _references.setdefault(net, dict())
    if key not in cache:                                       # One reference serves every K.
        latents, labels = sampler.warmup_latents(net, num_warmup, seed, device)
        cache[key] = latents, labels, sampler.reference_samples(net, latents, labels, num_steps=ref_steps, sigma_min=sigma_min, sigma_max=sigma_max)
    latents, labels, ref = cache[key]
    table = dict()
    def err(rho):
        rho = float(rho)
        if rho not in table:
            sigmas = _grid('edm', num_steps, net, sigma_min, sigma_max, rho=rho, device=device)
            if not torch.isfinite(sigmas).all():
                table[rho] = float('inf')
            else:
                x = sampler.batched(lambda z, c: sampler.sample(net, z, sigmas, c, solver=solver), latents, labels, 256)
                table[rho] = rms_error(x, ref) if torch.isfinite(x).all() else float('inf')
        return table[rho]
    rhos = sorted(float(r) for r in rhos)
    errs = [err(r) for r in rhos]
    k = int(np.argmin(errs))
    if refine and 0 < k < len(rhos) - 1:
        a, b = rhos[k - 1], rhos[k + 1]
        g = (np.sqrt(5) - 1) / 2
        c, d = b - g * (b - a), a + g * (b - a)
        for _ in range(8):
            if err(c) < err(d):
                b, d = d, c
                c = b - g * (b - a)
            else:
                a, c = c, d
                d = a + g * (b - a)
    rho = min(table, key=table.get)
    return rho, dict(sorted(table.items()))

#----------------------------------------------------------------------------

def edm_best_rho(net, num_steps, *, solver='heun', device='cpu', log=None, **kwargs):
    """Schedule dict of the EDM grid with the best rho (see best_rho)."""
    rho, table = best_rho(net, num_steps, solver=solver, device=device, **kwargs)
    if not np.isfinite(table[rho]):
        raise dnnlib.UserError(f'edm-best-rho: every rho gave non-finite samples for K={num_steps}; check the network')
    if log is not None:
        log(f'best rho for K={num_steps} ({solver}): {rho:.3f}; RMS by rho: ' + ', '.join(f'{r:g}:{e:.4g}' for r, e in table.items()))
    sigmas = _grid('edm', num_steps, net, kwargs.get('sigma_min'), kwargs.get('sigma_max'), rho=rho, device=device)
    return dict(sigmas=sigmas.tolist(), solver=solver, rho=rho, rms_by_rho={str(k): v for k, v in table.items() if np.isfinite(v)})
