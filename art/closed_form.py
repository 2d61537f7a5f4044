# ART-EDM: learned time grids for EDM-style diffusion samplers.
# Copyright (c) 2026 The ART-EDM authors. Released under the MIT License (see LICENSE).

"""The time-only ART optimum in closed form, for any solver's error density (art-paper §1.5 and
§4 item 9; docs/solver-aware-art.md eq. 15-16).

A solver S of order p - 1 leaves a local error ~ r_S(x, sigma) |h|^p per step (art.objective:
r = |Q|, p = 2 for Euler, the paper's surrogate; r = |R|, p = 3 for Heun). Along exact PF-ODE
trajectories the state does not depend on the control, so the running cost E r_S |theta|^p under
∫ theta dt = T is minimised (Hölder) by

    theta*(psi) ∝ rbar^(-1/p),  i.e. the nodes are equally spaced in u(sigma) = ∫_sigma^T rbar^(1/p) dsigma',

with rbar(sigma) = E r_S(x(sigma), sigma) over x(sigma_max) ~ N(0, sigma_max² I), optionally weighted by
(sigma_data / sqrt(sigma² + sigma_data²))^beta (docs/solver-aware-art.md §6).

Profile (`profile()`): Heun trajectories on a fine EDM rho=7 grid from warm-up latents
(art.sampler.warmup_latents), rbar at every fine node; measured once per network and settings and
kept in a cache that dies with its network (a weak reference), so every K reuses it.

Last node (`last_node`): 'learned' (default; ART's clock ends at sigma = 0): u is integrated down to
0 with rbar held at its sigma_min value below sigma_min, the K non-zero nodes sit at u = i U / K and
the K-th step goes to 0; the grid is written as a time change on the rho clock, so any other K is read
off the same profile. 'pinned' (EDM's convention): the K nodes span [sigma_min, sigma_max] at
u = i U / (K - 1), then 0.
"""

import weakref

import numpy as np
import torch
import tqdm

import dnnlib
from art import local_error
from art import objective
from art import sampler
from art import schedules

LAST_NODES = ('learned', 'pinned')
SOLVERS = tuple(objective.ERROR_MODELS) + tuple(s for s in local_error.SOLVERS if s not in objective.ERROR_MODELS)
REFINED = ('dpmpp-2m', 'dpmpp-3m', 'ipndm')  # solvers whose grid is refined on the exact discrete cost by default
CLOCK_STEPS = 512   # resolution of the time change written for last_node='learned'

_profiles = weakref.WeakKeyDictionary()  # net -> {settings: (sigma_fine, rbar) or TrajectoryBank}

#----------------------------------------------------------------------------
# rbar(sigma) on a fine grid from PF-ODE trajectories.

def profile(net, solver='euler', *, num_trajectories=128, fine_steps=128, batch=64, sigma_min=None, sigma_max=None,
            backend='auto', seed=0, device='cpu', progress=False, log=None):
    """(sigma_fine [N] descending, rbar [N]): E r_S / sqrt(d) at the N = fine_steps non-zero nodes of an EDM
    rho=7 grid, along Heun trajectories on that grid from `num_trajectories` warm-up latents. Cached per
    network: a second call with the same settings returns the stored profile (`log` is told either way)."""
    objective.check_error_model(solver)
    lo, hi = schedules.sigma_range('edm', net, sigma_min, sigma_max)
    key = (solver, int(num_trajectories), int(fine_steps), lo, hi, backend, int(seed), str(device))
    if _cached(net, key, f'{solver} error profile', num_trajectories, fine_steps, log):
        return _profiles[net][key]
    sigmas = schedules.get_sigmas('edm', fine_steps, sigma_min=lo, sigma_max=hi, device=device)
    sigma_fine = sigmas[:-1].clone()
    sigma_fine[0], sigma_fine[-1] = hi, lo                          # exact ends (the rho formula rounds them)
    latents, labels = sampler.warmup_latents(net, num_trajectories, seed, device)
    r_sum = torch.zeros([fine_steps], dtype=torch.float64)
    with tqdm.tqdm(total=num_trajectories, disable=not progress, desc=f'{solver} error profile', leave=False) as bar:
        for b0 in range(0, num_trajectories, batch):
            z = latents[b0:b0 + batch]
            c = None if labels is None else labels[b0:b0 + batch]
            xs = sampler.trajectory(net, z, sigmas, c, solver='heun')
            for i in range(fine_steps):
                r_sum[i] += objective.error_density(net, xs[i], sigma_fine[i], c, solver=solver, backend=backend).sum().cpu()
            bar.update(len(z))
    _profiles[net][key] = (sigma_fine.cpu().numpy(), (r_sum / num_trajectories).numpy())
    return _profiles[net][key]

def _cached(net, key, what, num_trajectories, fine_steps, log):
    """Whether the network's cache holds `key`; tells `log` whether `what` is reused or measured now."""
    hit = key in _profiles.setdefault(net, dict())
    if log is not None:
        log(f'Reusing the {what} of this network ({num_trajectories} trajectories, {fine_steps} nodes)' if hit else
            f'Measuring the {what} ({num_trajectories} trajectories, {fine_steps} nodes)...')
    return hit

def trajectory_bank(net, *, num_trajectories=128, fine_steps=128, batch=64, sigma_min=None, sigma_max=None, seed=0,
                    device='cpu', log=None):
    """The art.local_error.TrajectoryBank of Heun trajectories on a fine EDM rho=7 grid from warm-up latents (the
    same trajectories as profile()); cached per network like profile(). One bank serves every solver and K."""
    lo, hi = schedules.sigma_range('edm', net, sigma_min, sigma_max)
    key = ('bank', int(num_trajectories), int(fine_steps), lo, hi, int(seed), str(device))
    if _cached(net, key, 'trajectory bank', num_trajectories, fine_steps, log):
        return _profiles[net][key]
    cache = _profiles[net]
    sigmas = schedules.get_sigmas('edm', fine_steps, sigma_min=lo, sigma_max=hi, device=device).clone()
    sigmas[0], sigmas[-2] = hi, lo                                  # exact ends (the rho formula rounds them)
    latents, labels = sampler.warmup_latents(net, num_trajectories, seed, device)
    cache[key] = local_error.bank_from_trajectories(net, sigmas, latents, labels, batch=batch)
    return cache[key]

#----------------------------------------------------------------------------
# Nodes equally spaced in u = ∫ rbar^(1/p) dsigma.

def _u_of_sigma(sigma_fine, rbar, p, floor=1e-3):
    """(s ascending, u ascending with u(s[0]) = the piece [0, s[0]]): u(sigma) = ∫_0^sigma rbar^(1/p), rbar held
    at its sigma_min value below sigma_min; trapezoid rule in log sigma. `floor` (relative to the mean density)
    keeps u strictly increasing where rbar ~ 0."""
    s = np.asarray(sigma_fine, np.float64)
    r = np.asarray(rbar, np.float64)
    if s.ndim != 1 or s.shape != r.shape or len(s) < 2 or np.any(s <= 0) or not np.all(np.isfinite(r)):
        raise dnnlib.UserError('The error profile needs matching finite 1-D sigma/rbar arrays with sigma > 0')
    order = np.argsort(s)
    s, r = s[order], np.maximum(r[order], 0)
    g = r ** (1.0 / p)
    g = np.maximum(g, floor * max(g.mean(), 1e-300))
    dens = g * s                                                    # du / dlog sigma
    u = np.concatenate([[0.0], np.cumsum(0.5 * (dens[1:] + dens[:-1]) * np.diff(np.log(s)))])
    return s, u + g[0] * s[0]

def nodes(sigma_fine, rbar, num_steps, p, *, last_node='learned'):
    """The K+1 sigmas (last 0) of the time-only optimum (eq. 16) for K = num_steps, and for
    last_node='learned' the time change (art.schedules time-change dict on the rho clock) they come from."""
    if last_node not in LAST_NODES:
        raise dnnlib.UserError(f'Unknown last_node "{last_node}"; choose one of {", ".join(LAST_NODES)}')
    K = int(num_steps)
    s, u = _u_of_sigma(sigma_fine, rbar, p)
    sigma_min, sigma_max = float(s[0]), float(s[-1])
    if last_node == 'pinned':
        u = u - u[0]
        targets = u[-1] * (1 - np.arange(K) / max(K - 1, 1))
        new = np.exp(np.interp(targets, u, np.log(s)))
        new[0] = sigma_max
        if K > 1:
            new[-1] = sigma_min
        return schedules.sigmas_from_nodes(new, sigma_min)[0], None
    # Learned: sigma(t) for t in [0, 1] (t = 0 at sigma_max, 1 at sigma = 0), as a time change on the rho clock.
    u_all, s_all = np.concatenate([[0.0], u]), np.concatenate([[0.0], s])
    t = np.linspace(0, 1, CLOCK_STEPS + 1)
    sigma_t = np.interp(u_all[-1] * (1 - t), u_all, s_all)
    psi = schedules.u_of_sigma(torch.as_tensor(sigma_t), 'rho', sigma_max).numpy()
    psi[0], psi[-1] = 0.0, 1.0
    theta = np.maximum(np.diff(psi) * CLOCK_STEPS, 1e-6)
    time_change = dict(theta=theta.tolist(), time_map='rho', sigma_min=sigma_min, sigma_max=sigma_max)
    return schedules.time_change_grid(time_change, K)[0], time_change

def theta_from_sigmas(sigmas):
    """Clock speeds of a grid on the linear ART clock (T = sigma_0, Δt = T/K, the last step ends at 0)."""
    s = np.asarray(torch.as_tensor(sigmas, dtype=torch.float64).cpu(), np.float64)
    return (-np.diff(s) / (s[0] / (len(s) - 1))).tolist()

def surrogate_error(sigmas, sigma_fine, rbar, p):
    """Σ over the steps of a descending grid (a trailing 0 is ignored) of rbar |sigma_{i+1} - sigma_i|^p, with
    rbar interpolated in log sigma at the geometric midpoint of each step (the discrete eq. 10), for diagnostics."""
    s = np.asarray(sigmas, np.float64)
    s = s[s > 0]
    sf = np.asarray(sigma_fine, np.float64)
    order = np.argsort(sf)
    mid = 0.5 * (np.log(s[:-1]) + np.log(s[1:]))
    r_at = np.interp(mid, np.log(sf[order]), np.asarray(rbar, np.float64)[order])
    return float(np.sum(r_at * np.abs(np.diff(s)) ** p))

#----------------------------------------------------------------------------
# The method: a schedule dict for art.schedules.save_schedule.

PROPAGATIONS = ('measured', 'gaussian')

def fit(net, num_steps, *, solver='euler', last_node='learned', beta=None, refine=None, propagation='measured', select=32,
        refine_trajectories=32, polish=0, polish_lr=0.05, num_trajectories=128, fine_steps=128, batch=64, sigma_min=None,
        sigma_max=None, backend='auto', seed=0, device='cpu', progress=False, log=None):
    """Closed-form time-only ART schedule for K = num_steps, for `solver`'s error density (eq. 16).

    euler / heun: the per-state densities |Q| (the paper's) and |R| of art.objective. Multistep solvers
    (REFINED): the leading term of their local error probed along the trajectory bank (art.local_error.density,
    eq. 24); with `refine` (default: on for REFINED solvers) the grid is then chosen on the bank (`_on_bank`,
    docs/solver-aware-art.md §10): candidates are the Hölder grids of the solver's and of Euler's bank densities
    and of the spline densities of Euler (|Q|) and 2M (eq. 31), each weighted by beta and unweighted, EDM's
    and the log-SNR grid, and the best Hölder grid refined on the exact discrete cost (the solver's local
    errors with its real step ratios, warm start and final step, carried to the sample by the `propagation`
    factor, eq. 25-26, on `refine_trajectories` trajectories); with select > 0
    the candidate with the lowest terminal error of `solver` on `select` held-out bank trajectories (against
    their teacher samples; at most a quarter of the bank) wins, else the lowest discrete cost. `polish` > 0
    Adam steps on that terminal error (art.descent, the LD3 objective)
    then start from the winner. `beta` (default: 1 when refining, else 0) weights the densities."""
    if solver not in SOLVERS:
        raise dnnlib.UserError(f'No closed form for solver "{solver}"; choose one of {", ".join(SOLVERS)}')
    if propagation not in PROPAGATIONS:
        raise dnnlib.UserError(f'Unknown propagation "{propagation}"; choose one of {", ".join(PROPAGATIONS)}')
    refine = (solver in REFINED) if refine is None else bool(refine)
    beta = (1.0 if refine else 0.0) if beta is None else float(beta)
    if refine and solver not in local_error.SOLVERS:
        raise dnnlib.UserError(f'refine needs a trajectory local-error model; solver "{solver}" has none (use one of {", ".join(local_error.SOLVERS)})')
    if select < 0 or polish < 0 or refine_trajectories < 1 or not polish_lr > 0:
        raise dnnlib.UserError('closed-form: need select >= 0, polish >= 0, refine_trajectories >= 1 and polish_lr > 0')
    if polish and not select:
        raise dnnlib.UserError('closed-form: polish needs select > 0 held-out trajectories to descend on')
    select = min(int(select), int(num_trajectories) // 4)           # at most a quarter of the bank is held out
    bank = None
    if solver in REFINED or refine:                                 # one pass of trajectories serves every solver and K
        bank = trajectory_bank(net, num_trajectories=num_trajectories, fine_steps=fine_steps, batch=batch,
            sigma_min=sigma_min, sigma_max=sigma_max, seed=seed, device=device, log=log)
    if solver in REFINED:                                           # the leading term probed on the bank (eq. 24)
        sigma_fine = np.exp(np.linspace(np.log(bank.sigma_max), np.log(bank.sigma_min), fine_steps))
        rbar, p = _bank_density(net, bank, solver, sigma_fine), local_error.POWERS[solver]
    else:                                                           # per-state densities (art.objective)
        sigma_fine, rbar = profile(net, solver, num_trajectories=num_trajectories, fine_steps=fine_steps, batch=batch,
            sigma_min=sigma_min, sigma_max=sigma_max, backend=backend, seed=seed, device=device, progress=progress, log=log)
        p = objective.error_power(solver)
    r_w = rbar * objective.propagation_weight(net, sigma_fine, beta).numpy() if beta else rbar
    sigmas, time_change = nodes(sigma_fine, r_w, num_steps, p, last_node=last_node)
    extra = dict()
    if refine:
        holder = dict()
        densities = dict(closed_form=(sigma_fine, rbar, p),
                         euler_density=(sigma_fine, _bank_density(net, bank, 'euler', sigma_fine), local_error.POWERS['euler']))
        for name, model in (('q_spline', 'euler'), ('r2m_spline', 'dpmpp-2m')):  # eq. 31, no network calls
            densities[name] = local_error.spline_density(bank, model) + (objective.error_power(model),)
        for name, (sg, r, q) in densities.items():
            for b in sorted({beta, 0.0}, reverse=True):
                w_r = r * objective.propagation_weight(net, sg, b).numpy() if b else r
                holder[name if b == beta else f'{name}_beta{b:g}'] = nodes(sg, w_r, num_steps, q, last_node=last_node)[0]
        sigmas, extra = _on_bank(net, bank, solver, num_steps, holder, last_node=last_node,
            beta=beta, propagation=propagation, select=select, refine_trajectories=refine_trajectories, polish=polish,
            polish_lr=polish_lr, seed=seed, device=device, log=log)
        time_change = None                                          # a grid chosen on the bank is K-specific
    sigmas = schedules.check_sigmas([float(v) for v in sigmas], 'closed form')
    return dict(sigmas=sigmas, solver=solver, theta_bar=theta_from_sigmas(sigmas), time_change=time_change,
        profile=dict(sigma=np.asarray(sigma_fine).tolist(), rbar=np.asarray(rbar).tolist(), p=p), **extra)

def _bank_density(net, bank, solver, sigma_fine):
    """local_error.density of `solver` on the bank at sigma_fine, cached with the bank."""
    key = ('density', id(bank), solver, len(sigma_fine))
    cache = _profiles.setdefault(net, dict())
    if key not in cache:
        cache[key] = local_error.density(bank, solver, sigma_fine)
    return cache[key]

def _on_bank(net, bank, solver, num_steps, holder, *, last_node, beta, propagation, select, refine_trajectories, polish,
             polish_lr, seed, device, log):
    """(sigmas, record) for a multistep solver (docs/solver-aware-art.md §10): the Hölder grids `holder`
    (name -> sigmas), EDM's and the log-SNR grid are scored by the solver's terminal error on the last `select`
    trajectories (the network runs the solver from their latents; their teacher samples are the bank's; with
    select=0 by the discrete cost instead); the best Hölder grid is refined on the discrete cost over the first
    `refine_trajectories` trajectories and scored too; the best score wins; `polish` descent steps on the
    terminal error then start from it (kept if they lower it)."""
    sigma_data = float(getattr(net, 'sigma_data', 0.5))
    n_fit = min(refine_trajectories, bank.n - select)
    fit_bank = bank.subset(slice(0, n_fit))
    weight = None
    if propagation == 'measured':
        key = ('propagation', id(bank))
        cache = _profiles.setdefault(net, dict())
        if key not in cache:
            if log is not None:
                log('Measuring how errors propagate to the sample (12 noise levels, 16 trajectories)...')
            cache[key] = local_error.measured_propagation(net, bank)
        weight = cache[key]
    kw = dict(beta=beta, sigma_data=sigma_data, weight=weight)
    grids = {name: np.asarray(g, np.float64) for name, g in holder.items()}
    lo, hi = bank.sigma_min, bank.sigma_max
    for name in ('edm', 'logsnr'):
        grids[name] = schedules.get_sigmas(name, num_steps, sigma_min=lo, sigma_max=hi).numpy()
    cost = {name: local_error.surrogate(fit_bank, solver, g, **kw) for name, g in grids.items()}
    record = dict(held_out=select, discrete_cost=cost)
    if select:
        held = bank.subset(slice(bank.n - select, bank.n))
        dev = torch.device(device)
        shape = [net.img_channels, net.img_resolution, net.img_resolution]
        z = held.latents(shape).to(dev)
        labels = None if held.class_labels is None else held.class_labels.to(dev)
        teacher = torch.as_tensor(held.x_final).reshape([held.n] + shape).to(dev)
        from art.metrics import rms_error # pylint: disable=import-outside-toplevel
        def terminal(g):
            with torch.no_grad():
                x = sampler.sample(net, z, torch.as_tensor(g, dtype=torch.float64, device=dev), labels, solver=solver, check_finite=False)
            return rms_error(x, teacher) if torch.isfinite(x).all() else float('inf')
        score = {name: terminal(g) for name, g in grids.items()}
    else:
        score = cost                                                # no held-out trajectories: the discrete cost decides
    start = min((name for name in holder), key=score.get)
    grids['refined'] = local_error.refine(fit_bank, solver, grids[start], last_node=last_node, maxiter=50, **kw)
    cost['refined'] = local_error.surrogate(fit_bank, solver, grids['refined'], **kw)
    if select:
        score['refined'] = terminal(grids['refined'])
    best = min(score, key=score.get)
    sigmas = grids[best]
    record.update(refined_from=start, chosen=best, discrete_cost={k: float(v) for k, v in cost.items()})
    if select:
        record['terminal_error'] = {k: float(v) for k, v in score.items()}
    if polish:
        from art import descent # pylint: disable=import-outside-toplevel
        floor = 0.1 * min(lo, float(sigmas[-2]))
        polished, _first, final = descent.descend(net, torch.as_tensor(sigmas), z, labels, teacher, solver=solver,
            iters=polish, lr=polish_lr, batch=select, last_node=last_node, floor=floor, sigma_min=lo, sigma_max=hi,
            seed=seed, tag='closed-form polish')
        record['terminal_error']['polished'] = float(final)
        if final < score[best]:
            sigmas, record['chosen'] = polished.cpu().numpy(), f'{best}+polish'
    if log is not None:
        what = f'the terminal error on {select} held-out bank trajectories' if select else 'the discrete cost'
        shown = record.get('terminal_error', score)
        log(f'{solver} K={num_steps}: the {record["chosen"]} grid, chosen by {what} (' + ', '.join(f'{k} {v:.4g}' for k, v in shown.items()) + ')')
    return sigmas, record

#----------------------------------------------------------------------------
# beta by a terminal reward: the mean distance of warm-up samples to their high-NFE references.

_rewards = weakref.WeakKeyDictionary()  # net -> {settings: reward function}

def terminal_reward(net, *, seed=0, device='cpu', detector=None, num_reward=64, ref_steps=64, batch=64):
    """reward(sigmas, solver) -> mean per-sample distance (lower is better) of samples on `sigmas` to the Heun
    reference on EDM's grid from the same latents (warm-up seeds disjoint from the profile's), in the feature
    space of `detector` (an art.detectors spec) or in pixels (RMS) when detector is None. Cached per network."""
    key = (int(seed), str(device), detector, int(num_reward), int(ref_steps), int(batch))
    cache = _rewards.setdefault(net, dict())
    if key in cache:
        return cache[key]
    from art.metrics import rms_error # pylint: disable=import-outside-toplevel
    latents, labels = sampler.warmup_latents(net, num_reward, seed + 500000, device)
    ref = sampler.reference_samples(net, latents, labels, num_steps=ref_steps, batch=batch)
    feat = None
    if detector is not None:
        from art.detectors import load_detector # pylint: disable=import-outside-toplevel
        det, _label = load_detector(detector, device)  # built-in stand-ins only: a pickled detector is refused
        def feat(x):
            from art.metrics import to_uint8 # pylint: disable=import-outside-toplevel
            img = to_uint8(x)
            return det(img.repeat(1, 3, 1, 1) if img.shape[1] == 1 else img, return_features=True).to(torch.float64)
        ref_f = feat(ref)
    def reward(sigmas, solver):
        x = sampler.batched(lambda z, c: sampler.sample(net, z, sigmas, c, solver=solver), latents, labels, batch)
        return rms_error(x, ref) if feat is None else float((feat(x) - ref_f).norm(dim=1).mean())
    cache[key] = reward
    return reward

def fit_tuned(net, num_steps, *, solver='heun', betas=(0, 0.5, 1, 1.5, 2, 3), detector=None, num_reward=64, ref_steps=64,
              seed=0, device='cpu', log=None, **fit_kwargs):
    """fit() with beta chosen from `betas` by terminal_reward (the tuned quality-aware variant, §6)."""
    reward = terminal_reward(net, seed=seed, device=device, detector=detector, num_reward=num_reward, ref_steps=ref_steps)
    table = dict()
    for beta in betas:
        sched = fit(net, num_steps, solver=solver, beta=float(beta), seed=seed, device=device, log=log, **fit_kwargs)
        table[float(beta)] = reward(torch.as_tensor(sched['sigmas'], dtype=torch.float64, device=device), solver)
    best = min(table, key=table.get)
    if log is not None:
        log(f'beta {best:g} for K={num_steps}; terminal distance by beta: ' + ', '.join(f'{b:g}:{v:.4g}' for b, v in table.items()))
    sched = fit(net, num_steps, solver=solver, beta=best, seed=seed, device=device, **fit_kwargs)
    sched['beta'] = best
    sched['terminal_distance_by_beta'] = {str(b): v for b, v in table.items()}
    return sched

#----------------------------------------------------------------------------
