# ART-EDM: learned time grids for EDM-style diffusion samplers.
# Copyright (c) 2026 The ART-EDM authors. Released under the MIT License (see LICENSE).

"""Strong schedule baselines in the same harness (docs/../shared/docs/peers.md §2).

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

Every function returns either sigmas (float64, K+1 values ending in 0) or a schedule dict for
`art.schedules.save_schedule` / `make_schedule`.
"""

import itertools

import numpy as np
import torch

import dnnlib

#----------------------------------------------------------------------------
# Warm-up latents (EDM's per-seed RNG) and the noise range of a network.

def warmup_latents(net, num, seed, device='cpu'):
    """Latents for `num` warm-up seeds starting at `seed` (StackedRandomGenerator, EDM draw order).
    Use seeds disjoint from the evaluation seeds (compare.py evaluates from seed 0 by default)."""
    from art.sampler import StackedRandomGenerator # pylint: disable=import-outside-toplevel
    rnd = StackedRandomGenerator(device, list(range(seed, seed + num)))
    return rnd.randn([num, net.img_channels, net.img_resolution, net.img_resolution], device=device)

#----------------------------------------------------------------------------

def warmup_labels(net, num, seed, device='cpu'):
    """One-hot class labels for the warm-up latents of a conditional net (None for unconditional nets)."""
    if not net.label_dim:
        return None
    gen = torch.Generator(device=device).manual_seed(seed)
    idx = torch.randint(net.label_dim, size=[num], device=device, generator=gen)
    return torch.eye(net.label_dim, device=device)[idx]

#----------------------------------------------------------------------------

def _range(net, sigma_min=None, sigma_max=None):
    from art.schedules import sigma_range # pylint: disable=import-outside-toplevel
    return sigma_range('edm', net, sigma_min, sigma_max)

#----------------------------------------------------------------------------

def _grid(name, num_steps, net, sigma_min, sigma_max, rho=7.0, device='cpu'):
    from art.schedules import get_sigmas # pylint: disable=import-outside-toplevel
    return get_sigmas(name, num_steps, net=net, sigma_min=sigma_min, sigma_max=sigma_max, rho=rho, device=device)

#----------------------------------------------------------------------------

def _batched(fn, latents, labels, batch):
    return torch.cat([fn(latents[i:i + batch], None if labels is None else labels[i:i + batch]) for i in range(0, len(latents), batch)])

#----------------------------------------------------------------------------
# Reference solution from the same latents (high-NFE Heun on an EDM rho=7 grid).

def reference_samples(net, latents, class_labels=None, *, ref_steps=128, sigma_min=None, sigma_max=None, batch=256):
    from art.sampler import sample # pylint: disable=import-outside-toplevel
    sigmas = _grid('edm', ref_steps, net, sigma_min, sigma_max, device=latents.device)
    return _batched(lambda z, c: sample(net, z, sigmas, c, solver='heun'), latents, class_labels, batch)

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
    (art.heun_objective.trajectory). `coarse`: 'euler' (GITS: the teacher's own
    derivative at sigma_i) or 'heun' (one extra evaluation per pair)."""
    from art.heun_objective import trajectory # pylint: disable=import-outside-toplevel
    from art.objective import denoiser_field # pylint: disable=import-outside-toplevel
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

_gits_costs = dict()

#----------------------------------------------------------------------------

def gits(net, num_steps, *, solver='heun', coeff=1.15, num_teacher=61, teacher_rho=7.0, num_warmup=64,
         seed=1000000, coarse='euler', sigma_min=None, sigma_max=None, device='cpu', class_labels=None, verbose=False):
    """GITS schedule with K = `num_steps` nodes (+ final 0) for `net`. Returns a schedule dict."""
    from art.schedules import make_schedule # pylint: disable=import-outside-toplevel
    lo, hi = _range(net, sigma_min, sigma_max)
    if num_teacher < 2 * num_steps:                            # The teacher must be finer than the student.
        if verbose:
            print(f'GITS: {num_teacher} teacher nodes are too few for K={num_steps}; using {2 * num_steps + 1}')
        num_teacher = 2 * num_steps + 1
    teacher = _grid('edm', num_teacher, net, lo, hi, rho=teacher_rho, device=device)[:-1]
    latents = warmup_latents(net, num_warmup, seed, device)
    labels = class_labels if class_labels is not None else warmup_labels(net, num_warmup, seed, device)
    key = (id(net), num_teacher, teacher_rho, num_warmup, seed, coarse, lo, hi, str(device))
    if key not in _gits_costs:                                 # One cost matrix serves every K.
        _gits_costs[key] = gits_cost_matrix(net, latents, teacher, labels, coarse=coarse)
    cost = _gits_costs[key]
    path, total = gits_dp(cost, num_steps, coeff)
    sigmas = torch.cat([teacher[path], teacher.new_zeros([1])])
    if verbose:
        print(f'GITS K={num_steps} coeff={coeff}: teacher indices {path}, cost {total:.4g}')
    return make_schedule(sigmas, method='gits', solver=solver,
        settings=dict(coeff=coeff, num_teacher=num_teacher, teacher_rho=teacher_rho, num_warmup=num_warmup,
                      seed=seed, coarse=coarse, teacher_indices=path, dp_cost=total))

#----------------------------------------------------------------------------
# EDM rho=... with the rho that minimises the RMS error against a reference.

DEFAULT_RHOS = (1.5, 2, 2.5, 3, 3.5, 4, 5, 6, 7, 8, 10, 12)

_references = dict()

#----------------------------------------------------------------------------

def best_rho(net, num_steps, *, solver='heun', rhos=DEFAULT_RHOS, latents=None, ref=None, num_warmup=64,
             seed=1000000, ref_steps=128, sigma_min=None, sigma_max=None, device='cpu', refine=True):
    """Search rho for the EDM grid with K = `num_steps` by the RMS error against a high-NFE reference from
    warm-up latents. A coarse grid search over `rhos` is followed (refine=True) by a golden-section
    search on the bracket around the best grid value. Returns (rho, {rho: rms})."""
    from art.sampler import sample # pylint: disable=import-outside-toplevel
    from art.metrics import rms_error # pylint: disable=import-outside-toplevel
    labels = None
    if latents is None:
        latents = warmup_latents(net, num_warmup, seed, device)
        labels = warmup_labels(net, num_warmup, seed, device)
    if ref is None:
        key = (id(net), num_warmup, seed, ref_steps, sigma_min, sigma_max, str(device))
        if key not in _references:                             # One reference serves every K.
            _references[key] = reference_samples(net, latents, labels, ref_steps=ref_steps, sigma_min=sigma_min, sigma_max=sigma_max)
        ref = _references[key]
    table = dict()
    def err(rho):
        rho = float(rho)
        if rho not in table:
            sigmas = _grid('edm', num_steps, net, sigma_min, sigma_max, rho=rho, device=device)
            table[rho] = rms_error(_batched(lambda z, c: sample(net, z, sigmas, c, solver=solver), latents, labels, 256), ref)
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

def edm_best_rho(net, num_steps, *, solver='heun', device='cpu', verbose=False, **kwargs):
    """Schedule dict of the EDM grid with the best rho (see best_rho)."""
    from art.schedules import make_schedule # pylint: disable=import-outside-toplevel
    rho, table = best_rho(net, num_steps, solver=solver, device=device, **kwargs)
    if verbose:
        print(f'best rho for K={num_steps} ({solver}): {rho:.3f}; RMS by rho: ' + ', '.join(f'{r:g}:{e:.4g}' for r, e in table.items()))
    sigmas = _grid('edm', num_steps, net, kwargs.get('sigma_min'), kwargs.get('sigma_max'), rho=rho, device=device)
    return make_schedule(sigmas, method='edm-best-rho', solver=solver, settings=dict(rho=rho, rms_by_rho={str(k): v for k, v in table.items()}))
