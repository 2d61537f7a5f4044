# ART-EDM: learned time grids for EDM-style diffusion samplers.
# Copyright (c) 2026 The ART-EDM authors. Released under the MIT License (see LICENSE).

"""Solver-aware and quality-aware schedule methods, and the peers, behind one entry point.

`learn(method, net, num_steps, solver=..., seed=..., device=...)` returns a schedule dict for
`art.schedules.save_schedule`; train_art.py (--method) and compare.py (learned on the fly) call it.

Methods (docs/solver-aware-art.md, docs/results-schedules.md):
  art-heun        closed-form time-only optimum of the Heun local error: theta ~ E|R|^(-1/3) (eq. 16);
                  for solver=euler it falls back to the Euler/ART closed form theta ~ E|Q|^(-1/2).
  art-heun-D      the same with the error measured on the denoised prediction, |J_D R| (§6).
  art-heun-w      the same with the per-sigma weight w(sigma)^beta, w = sigma_data/sqrt(sigma^2+sigma_data^2).
  art-heun-tuned  art-heun-w with beta chosen by a terminal reward: the mean distance of warm-up samples
                  to their high-NFE references in a detector's feature space (pixel RMS without detector).
  gits            GITS dynamic programming over a fine teacher grid (art.peers.gits).
  edm-best-rho    EDM's grid with the rho that minimises the RMS error to a reference (art.peers).

Warm-up latents use seeds 1000000 + seed + ..., disjoint from the evaluation seeds (0, 1, ...).
Measured profiles are cached per network within the process, so learning several K costs one profile.
"""

import numpy as np
import torch

import dnnlib
from art import heun_objective, peers

METHODS = {
    'art-heun':       'solver-aware ART closed form: nodes uniform in int E|R|^(1/3) dsigma (Heun local error)',
    'art-heun-D':     'solver-aware ART, error on the denoised prediction |J_D R|',
    'art-heun-w':     'solver-aware ART, per-sigma weight (sigma_data/sqrt(sigma^2+sigma_data^2))^beta (beta=1.0)',
    'art-heun-tuned': 'art-heun-w with beta chosen by a terminal reward (feature distance to a high-NFE reference)',
    'gits':           'GITS: dynamic programming over a fine teacher grid (coeff=1.15)',
    'edm-best-rho':   'EDM rho grid with the rho that minimises RMS error to a reference, per K',
}

SEED_OFFSET = 1000000
DEFAULT_BETAS = (0, 0.5, 1, 1.5, 2, 3)

_profiles = dict()  # (id(net), kind, settings) -> (sigma_fine, rbar)
_rewards = dict()   # (id(net), seed, settings) -> reward function (holds its reference samples)

#----------------------------------------------------------------------------

def cached_profile(net, *, kind, seed=0, device='cpu', num_points=40, num_warmup=32, backend='fd', batch=64):
    key = (id(net), kind, seed, str(device), num_points, num_warmup, backend)
    if key not in _profiles:
        _profiles[key] = heun_objective.error_profile(net, kind=kind, num_points=num_points, num_warmup=num_warmup,
            seed=SEED_OFFSET + seed, backend=backend, batch=batch, device=device)
    return _profiles[key]

#----------------------------------------------------------------------------

def _floats(values):
    """A list of floats from a sequence or a '/'-separated string (compare.py entry options)."""
    return [float(v) for v in (str(values).split('/') if isinstance(values, (str, int, float)) else values)]

#----------------------------------------------------------------------------

def propagation_weight(net, sigma):
    sigma_data = float(getattr(net, 'sigma_data', 0.5))
    return sigma_data / np.sqrt(np.asarray(sigma, np.float64) ** 2 + sigma_data ** 2)

#----------------------------------------------------------------------------

def learn(method, net, num_steps, *, solver='heun', seed=0, device='cpu', verbose=False, **kwargs):
    """Schedule dict for `method` (see METHODS) with K = `num_steps` nodes plus the final 0."""
    sched = dict(_learn(method, net, num_steps, solver=solver, seed=seed, device=device, verbose=verbose, **kwargs))
    if sched.get('theta_bar') is None:
        sched['theta_bar'] = heun_objective.theta_from_sigmas(sched['sigmas'])
    return sched

#----------------------------------------------------------------------------

def _learn(method, net, num_steps, *, solver, seed, device, verbose, **kwargs):
    if method not in METHODS:
        raise dnnlib.UserError(f'Unknown schedule method "{method}"; use one of {", ".join(METHODS)}')
    wseed = SEED_OFFSET + seed
    if method == 'gits':
        kwargs.setdefault('coarse', 'heun' if solver == 'heun' else 'euler')
        kwargs.setdefault('num_teacher', 41)
        kwargs.setdefault('num_warmup', 32)
        return peers.gits(net, num_steps, solver=solver, seed=wseed, device=device, verbose=verbose, **kwargs)
    if method == 'edm-best-rho':
        kwargs.setdefault('num_warmup', 32)
        kwargs.setdefault('ref_steps', 64)
        kwargs.setdefault('rhos', (2, 3, 4, 5, 6, 7, 8, 10, 12))
        kwargs['rhos'] = _floats(kwargs['rhos'])
        return peers.edm_best_rho(net, num_steps, solver=solver, seed=wseed, device=device, verbose=verbose, **kwargs)
    prof_keys = ('num_points', 'num_warmup', 'backend', 'batch')
    prof_kw = {k: kwargs.pop(k) for k in prof_keys if k in kwargs}
    if solver != 'heun':                               # Euler: the paper's surrogate is the right one.
        profile = cached_profile(net, kind='euler', seed=seed, device=device, **prof_kw)
        return heun_objective.fit(net, num_steps, kind='euler', solver=solver, profile=profile, verbose=verbose)
    if method == 'art-heun':
        profile = cached_profile(net, kind='heun', seed=seed, device=device, **prof_kw)
        return heun_objective.fit(net, num_steps, kind='heun', solver=solver, profile=profile, verbose=verbose)
    if method == 'art-heun-D':
        profile = cached_profile(net, kind='heun-D', seed=seed, device=device, **prof_kw)
        return heun_objective.fit(net, num_steps, kind='heun-D', solver=solver, profile=profile, verbose=verbose)
    sigma_fine, rbar = cached_profile(net, kind='heun', seed=seed, device=device, **prof_kw)
    if method == 'art-heun-w':
        beta = float(kwargs.pop('beta', 1.0))
        return _weighted(net, num_steps, sigma_fine, rbar, beta, solver, verbose)
    # art-heun-tuned: terminal reward over beta.
    betas = kwargs.pop('betas', DEFAULT_BETAS)
    betas = _floats(betas)
    rkey = (id(net), seed, str(device), tuple(sorted(kwargs.items())))
    if rkey not in _rewards:
        _rewards[rkey] = terminal_reward_fn(net, seed=seed, device=device, **kwargs)
    reward, table = _rewards[rkey], dict()
    for beta in betas:
        sched = _weighted(net, num_steps, sigma_fine, rbar, beta, solver, False)
        table[beta] = reward(torch.as_tensor(sched['sigmas'], dtype=torch.float64), solver)
    beta = min(table, key=table.get)
    if verbose:
        print(f'art-heun-tuned K={num_steps}: beta {beta:g}; terminal distance by beta: ' + ', '.join(f'{b:g}:{v:.4g}' for b, v in table.items()))
    sched = _weighted(net, num_steps, sigma_fine, rbar, beta, solver, verbose)
    sched['method'] = 'art-heun-tuned'
    sched['settings']['terminal_distance_by_beta'] = {str(b): v for b, v in table.items()}
    return sched

#----------------------------------------------------------------------------

def _weighted(net, num_steps, sigma_fine, rbar, beta, solver, verbose):
    r_w = propagation_weight(net, sigma_fine) ** beta * rbar
    sched = heun_objective.fit(net, num_steps, kind='heun-w', beta=beta, solver=solver, profile=(sigma_fine, r_w), verbose=verbose)
    return sched

#----------------------------------------------------------------------------
# Terminal reward: mean distance to a high-NFE reference from the same warm-up latents.

def terminal_reward_fn(net, *, seed=0, device='cpu', detector=None, num_reward=64, ref_steps=64, batch=64):
    """Returns reward(sigmas, solver) -> mean per-sample distance (lower is better) of samples on `sigmas`
    to the reference, in the feature space of `detector` (an art.detectors spec, e.g. 'lenet-mnist') or
    in pixels (RMS) when detector is None. The reference is computed once."""
    from art.sampler import sample # pylint: disable=import-outside-toplevel
    from art.metrics import rms_error # pylint: disable=import-outside-toplevel
    latents = peers.warmup_latents(net, num_reward, SEED_OFFSET + seed + 500000, device)
    labels = peers.warmup_labels(net, num_reward, SEED_OFFSET + seed + 500000, device)
    def run(sigmas, solver):
        return torch.cat([sample(net, latents[i:i + batch], sigmas, None if labels is None else labels[i:i + batch], solver=solver)
                          for i in range(0, num_reward, batch)])
    from art.schedules import get_sigmas # pylint: disable=import-outside-toplevel
    ref = run(get_sigmas('edm', ref_steps, net=net, device=device), 'heun')
    feat = None
    if detector is not None:
        from art.detectors import load_detector # pylint: disable=import-outside-toplevel
        det, _label = load_detector(detector, device)
        def feat(x):
            img = (x * 127.5 + 128).clip(0, 255).to(torch.uint8)
            if img.shape[1] == 1:
                img = img.repeat(1, 3, 1, 1)
            return det(img, return_features=True).to(torch.float64)
        ref_f = feat(ref)
    def reward(sigmas, solver):
        x = run(sigmas, solver)
        if feat is None:
            return rms_error(x, ref)
        return float((feat(x) - ref_f).norm(dim=1).mean())
    return reward
