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
  near the data end, compensating accumulated error; the paper's default is about 1.15). The step cost is
  the student solver's own: one step for euler (GITS's original), heun and rk4; for the multistep
  solvers dpmpp-2m and ipndm a cost C[h, i, j] of the step i -> j with the teacher's history at h and a DP
  over pairs (h, i) (gits_pair_costs, gits_pair_dp; iPNDM's cost is the order-2 member of its recursion).
  The sampler then steps from sigma_min to 0 as usual. docs/peers-impl.md has the equations.
- LD3 (Tong et al., ICLR'25): the nodes learned by Adam through a differentiable rollout of the student
  solver on its terminal distance to a high-NFE teacher from the same latents (`ld3`).
- EDM with the best rho per (network, solver, K): rho searched on a grid by the RMS error against a
  high-NFE reference from warm-up latents (seeds disjoint from the evaluation seeds).
- logSNR-uniform lives in art.schedules ('logsnr').

`gits()`, `ld3()` and `edm_best_rho()` return schedule dicts (sigmas + what they learned); art.methods registers
them. Warm-up latents come from art.sampler.warmup_latents (EDM's per-seed draws, seeds >= 1000000).
"""

import itertools
import time
import weakref

import numpy as np
import torch

import dnnlib
from art import descent
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

ONE_STEP = ('euler', 'heun', 'rk4')      # GITS cost: one step of the solver from the teacher state
MULTISTEP = ('dpmpp-2m', 'ipndm')        # GITS cost: one multistep step from the teacher state and history (pair-state DP)

def _denoise(net, x, sigma, class_labels):
    with torch.no_grad():
        return net(x, torch.as_tensor(sigma, dtype=torch.float64), class_labels).to(torch.float64)

def _field(net, x, sigma, class_labels):
    return (x - _denoise(net, x, sigma, class_labels)) / sigma

def _one_step(net, x, d, s_i, s_j, class_labels, solver):
    """One step of a one-step solver from (x, sigma_i) with direction d = d(x, sigma_i) to sigma_j."""
    h = s_j - s_i
    if solver == 'euler':
        return x + h * d
    if solver == 'heun':
        return x + h * (d + _field(net, x + h * d, s_j, class_labels)) / 2
    k2 = _field(net, x + (h / 2) * d, s_i + h / 2, class_labels)
    k3 = _field(net, x + (h / 2) * k2, s_i + h / 2, class_labels)
    k4 = _field(net, x + h * k3, s_j, class_labels)
    return x + (h / 6) * (d + 2 * k2 + 2 * k3 + k4)

def _per_sample_norm_sum(v):
    return float(v.flatten(1).norm(dim=1).sum())

def _teacher(net, z, s, labels):
    """Teacher states x_i (Heun on the nodes, art.sampler.trajectory) and D(x_i; sigma_i), each [N, B, ...]."""
    xs = sampler.trajectory(net, z, torch.cat([s, s.new_zeros([1])]), labels, solver='heun')[:len(s)]
    return xs, torch.stack([_denoise(net, xs[i], s[i], labels) for i in range(len(s))])

def gits_cost_matrix(net, latents, teacher_sigmas, class_labels=None, *, coarse='euler', batch=256):
    """C[i, j] (i < j) = mean_b || one `coarse` step from the teacher state at sigma_i to sigma_j - teacher state
    at sigma_j ||_2. `teacher_sigmas`: N descending nodes (no final 0); the teacher is Heun on these nodes
    (art.sampler.trajectory). `coarse`: a one-step solver of ONE_STEP, with the teacher's own derivative d_i
    at sigma_i as its first stage ('euler' is GITS's original cost; heun adds 1 and rk4 3 evaluations per pair)."""
    if coarse not in ONE_STEP:
        raise dnnlib.UserError(f'Unknown GITS one-step cost "{coarse}"; use one of {", ".join(ONE_STEP)}')
    s = torch.as_tensor(teacher_sigmas, dtype=torch.float64, device=latents.device)
    N = len(s)
    cost = np.zeros([N, N])
    for b0 in range(0, len(latents), batch):
        z = latents[b0:b0 + batch]
        labels = None if class_labels is None else class_labels[b0:b0 + batch]
        xs, Ds = _teacher(net, z, s, labels)
        for i in range(N - 1):
            d_i = (xs[i] - Ds[i]) / s[i]
            for j in range(i + 1, N):
                cost[i, j] += _per_sample_norm_sum(_one_step(net, xs[i], d_i, s[i], s[j], labels, coarse) - xs[j])
    return cost / len(latents)

def gits_pair_costs(net, latents, teacher_sigmas, class_labels=None, *, solver='dpmpp-2m', batch=256):
    """Costs of a multistep solver's steps between teacher nodes, from the teacher's states and history:
    (first [N], pair [N, N, N]) with first[j] = mean_b || first-order step x_0 -> sigma_j - x_j ||_2 (both solvers
    start with Euler = DDIM) and, for h < i < j, pair[h, i, j] = mean_b || step i -> j using the history at h -
    x_j ||_2, where with the teacher's D_k = D(x_k; sigma_k), d_k = (x_k - D_k)/sigma_k, lambda = -log sigma:

      dpmpp-2m:  x_i sigma_j/sigma_i + (1 - sigma_j/sigma_i) (D_i + (D_i - D_h) (lambda_j - lambda_i) / (2 (lambda_i - lambda_h)))
      ipndm:     x_i + (sigma_j - sigma_i) (3 d_i - d_h) / 2

    iPNDM's own recursion goes up to order 4 (a history of 3 nodes); a DP over that state is O(N^5), so its cost
    here is the order-2 member of the recursion (one node of history), a surrogate for the higher-order steps."""
    if solver not in MULTISTEP:
        raise dnnlib.UserError(f'GITS pair costs are for the multistep solvers {", ".join(MULTISTEP)}, not "{solver}"')
    s = torch.as_tensor(teacher_sigmas, dtype=torch.float64, device=latents.device)
    N = len(s)
    lam = -s.log()
    first, pair = np.zeros([N]), np.zeros([N, N, N])
    for b0 in range(0, len(latents), batch):
        z = latents[b0:b0 + batch]
        labels = None if class_labels is None else class_labels[b0:b0 + batch]
        xs, Ds = _teacher(net, z, s, labels)
        shape = [-1] + [1] * (xs.ndim - 1)
        ds = (xs - Ds) / s.reshape(shape)
        for j in range(1, N):
            first[j] += _per_sample_norm_sum(xs[0] + (s[j] - s[0]) * ds[0] - xs[j])
        for i in range(1, N - 1):
            j = torch.arange(i + 1, N, device=s.device)
            step = (s[j] - s[i]).reshape(shape)                            # [nj, 1, ...]
            ratio = (s[j] / s[i]).reshape(shape)
            for h in range(i):
                if solver == 'dpmpp-2m':
                    c = ((lam[j] - lam[i]) / (2 * (lam[i] - lam[h]))).reshape(shape)
                    pred = ratio * xs[i] + (1 - ratio) * (Ds[i] + c * (Ds[i] - Ds[h]))
                else:
                    pred = xs[i] + step * (1.5 * ds[i] - 0.5 * ds[h])
                err = (pred - xs[j]).flatten(2).norm(dim=2).sum(dim=1)     # [nj]
                pair[h, i, i + 1:] += err.cpu().numpy()
    return first / len(latents), pair / len(latents)

def gits_pair_dp(first, pair, num_nodes, coeff=1.15):
    """Indices 0 = i_0 < ... < i_{K-1} = N-1 minimising first[i_1] + sum_{m>=1} coeff^m pair[i_{m-1}, i_m, i_{m+1}]
    (the GITS weighting with a multistep cost): a DP whose state is the pair (previous node h, current node i),

        V_1(h, i) = pair[h, i, N-1],   V_k(h, i) = min_{i < j < N-1} pair[h, i, j] + coeff * V_{k-1}(i, j),
        total = min_{0 < j < N-1} first[j] + coeff * V_{K-2}(0, j)   (K = 2: first[N-1]),

    O(K N^3). Returns (indices, total cost)."""
    c1, C = np.asarray(first, np.float64), np.asarray(pair, np.float64)
    N, K = len(c1), int(num_nodes)
    if C.shape != (N, N, N) or not 2 <= K <= N:
        raise dnnlib.UserError(f'GITS needs 2 <= K <= N teacher nodes and an [N, N, N] pair cost; got K={K}, shape {C.shape}')
    if not coeff > 0:
        raise dnnlib.UserError(f'GITS coeff must be positive, got {coeff}')
    if K == 2:
        return [0, N - 1], float(c1[N - 1])
    n = np.arange(N)
    valid = (n[:, None, None] < n[None, :, None]) & (n[None, :, None] < n[None, None, :])
    Cm = np.where(valid, C, np.inf)                                    # only h < i < j
    V, args = Cm[:, :, N - 1], []                                      # V_1; V[i, N-1] = inf excludes j = N-1 below
    for _ in range(2, K - 1):
        M = Cm + coeff * V[None, :, :]
        args.append(np.argmin(M, axis=2))
        V = np.take_along_axis(M, args[-1][:, :, None], axis=2)[:, :, 0]
    total = c1[1:N - 1] + coeff * V[0, 1:N - 1]
    j = 1 + int(np.argmin(total))
    if not np.isfinite(total[j - 1]):
        raise dnnlib.UserError(f'GITS: {K} nodes do not fit into {N} teacher nodes; use a finer teacher grid')
    path = [0, j]
    for arg in reversed(args):
        path.append(int(arg[path[-2], path[-1]]))
    return path + [N - 1], float(total[j - 1])

def gits_pair_brute_force(first, pair, num_nodes, coeff=1.15):
    """Exhaustive version of gits_pair_dp (for tests and tiny problems)."""
    N = len(first)
    best = (None, np.inf)
    for mid in itertools.combinations(range(1, N - 1), num_nodes - 2):
        p = [0, *mid, N - 1]
        total = first[p[1]] + sum(coeff ** m * pair[p[m - 1], p[m], p[m + 1]] for m in range(1, len(p) - 1))
        if total < best[1]:
            best = (p, total)
    return best

_gits_costs = weakref.WeakKeyDictionary()  # net -> {settings: cost matrix or (first, pair)}

#----------------------------------------------------------------------------

def gits(net, num_steps, *, solver='heun', coeff=1.15, num_teacher=61, teacher_rho=7.0, num_warmup=64, seed=0,
         sigma_min=None, sigma_max=None, device='cpu', log=None):
    """GITS schedule with K = `num_steps` nodes (+ final 0) for `net`, with `solver`'s own step cost: one step
    of the solver (ONE_STEP, gits_cost_matrix + gits_dp) or one multistep step with its history (MULTISTEP,
    gits_pair_costs + gits_pair_dp). Warm-up latents from art.sampler.warmup_latents(seed). Returns a schedule dict."""
    if solver not in ONE_STEP + MULTISTEP:
        raise dnnlib.UserError(f'GITS has no step cost for solver "{solver}"; it supports {", ".join(ONE_STEP + MULTISTEP)}')
    lo, hi = _range(net, sigma_min, sigma_max)
    if num_teacher < 2 * num_steps:                            # The teacher must be finer than the student.
        if log is not None:
            log(f'GITS: {num_teacher} teacher nodes are too few for K={num_steps}; using {2 * num_steps + 1}')
        num_teacher = 2 * num_steps + 1
    teacher = _grid('edm', num_teacher, net, lo, hi, rho=teacher_rho, device=device)[:-1]
    key = (num_teacher, teacher_rho, num_warmup, seed, solver, lo, hi, str(device))
    cache = _gits_costs.setdefault(net, dict())
    if key not in cache:                                       # One cost serves every K.
        latents, labels = sampler.warmup_latents(net, num_warmup, seed, device)
        if solver in ONE_STEP:
            cache[key] = gits_cost_matrix(net, latents, teacher, labels, coarse=solver)
        else:
            cache[key] = gits_pair_costs(net, latents, teacher, labels, solver=solver)
    if num_steps == 1:
        path, total = [0], 0.0
    elif solver in ONE_STEP:
        path, total = gits_dp(cache[key], num_steps, coeff)
    else:
        path, total = gits_pair_dp(*cache[key], num_steps, coeff)
    sigmas = torch.cat([teacher[path], teacher.new_zeros([1])])
    if log is not None:
        log(f'GITS K={num_steps} coeff={coeff} ({solver}): teacher indices {path}, cost {total:.4g}')
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

#----------------------------------------------------------------------------
# LD3: the grid learned by gradient descent through the student solver (art.descent).

def ld3(net, num_steps, *, solver='euler', num_train=32, iters=100, lr=0.05, batch=32, ref_steps=64, detector='',
        last_node='pinned', floor_ratio=0.1, seed=0, sigma_min=None, sigma_max=None, device='cpu', log=None):
    """LD3-style learned grid (Tong et al., ICLR'25, "Learning to Discretize Denoising Diffusion ODEs"): the K
    nodes of art.descent.grid(theta) minimise, by Adam on theta, the terminal distance of the student `solver` to the
    teacher from the same latents,

        loss(theta) = mean_b || phi(rollout(z_b; grid(theta))) - phi(x_ref,b) ||_2 / sqrt(dim phi),

    phi = identity (pixel RMS) or the features of `detector` (an art.detectors stand-in). The teacher x_ref is
    art.sampler.reference_samples (Heun on EDM's rho=7 grid, `ref_steps` steps) from `num_train` warm-up latents
    (art.sampler.warmup_latents(seed)); minibatches of `batch`; theta starts at EDM's rho=7 grid;
    the learning rate follows a cosine decay from `lr` to 0 over `iters`.
    Unlike the paper there is no decoupled time input and no soft teacher forcing. With batch >= num_train the
    iterate with the lowest loss is kept, else the last. Returns a schedule dict with loss_history = [loss at
    the EDM init, loss of the result] on the training latents and train_seconds."""
    if last_node not in ('pinned', 'learned'):
        raise dnnlib.UserError(f'ld3: unknown last_node "{last_node}"; choose pinned or learned')
    if not (0 < floor_ratio < 1) or iters < 0 or num_train < 1 or batch < 1 or not lr > 0:
        raise dnnlib.UserError('ld3: need 0 < floor_ratio < 1, iters >= 0, num_train >= 1, batch >= 1 and lr > 0')
    t0 = time.perf_counter()
    lo, hi = _range(net, sigma_min, sigma_max)
    floor = floor_ratio * lo
    K = int(num_steps)
    key = ('ld3', num_train, seed, ref_steps, lo, hi, str(device))
    cache = _references.setdefault(net, dict())
    if key not in cache:
        latents, labels = sampler.warmup_latents(net, num_train, seed, device)
        cache[key] = latents, labels, sampler.reference_samples(net, latents, labels, num_steps=ref_steps, sigma_min=lo, sigma_max=hi)
    latents, labels, ref = cache[key]
    feat = descent.differentiable_features(detector, device) if detector else None
    edm = _grid('edm', K, net, lo, hi, rho=7.0, device=device)
    sigmas, first, final = descent.descend(net, edm, latents, labels, ref, solver=solver, iters=iters, lr=lr, batch=batch,
        last_node=last_node, floor=floor, sigma_min=lo, sigma_max=hi, feat=feat, seed=seed, log=log, tag='ld3')
    if log is not None:
        log(f'ld3 K={K} ({solver}): loss {first:.5g} at the EDM init -> {final:.5g}')
    return dict(sigmas=sigmas.tolist(), solver=solver, loss_history=[first, final], train_seconds=time.perf_counter() - t0)
