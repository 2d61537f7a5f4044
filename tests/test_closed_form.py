# ART-EDM: learned time grids for EDM-style diffusion samplers.
# Copyright (c) 2026 The ART-EDM authors. Released under the MIT License (see LICENSE).

"""Tests for art.closed_form (art-paper §1.5): q̄ against the exact 1-D curvature, the grid against the
analytic optimum theta* ∝ (1+s²)^(3/4), and the gmm-digits acceptance (RMS vs a 1024-step Heun
reference from the same latents, against EDM's rho=7 grid)."""

import numpy as np
import pytest
import torch

from art import closed_form, sampler, schedules
from art.builtin import load_builtin
from art.metrics import rms_error, w2_gauss_euler

PAPER_ART_RL = {2: .345, 5: .149, 10: .079, 20: .042, 50: .020, 100: .013}

#----------------------------------------------------------------------------

def _analytic_grid(K, T=3.0):
    """Nodes uniform in u = ∫ (1+s²)^(-3/4) ds (the exact 1-D optimum, art-paper §1.5), numpy only."""
    s = np.linspace(T, 0, 200001)
    g = (1 + s ** 2) ** -0.75
    u = np.concatenate([[0], np.cumsum((g[1:] + g[:-1]) / 2 * (s[:-1] - s[1:]))])
    nodes = np.interp(np.arange(K + 1) / K * u[-1], u, s)
    nodes[-1] = 0
    return nodes

def test_gauss1d_profile_and_grid():
    net = load_builtin('gauss1d')
    sigma_fine, qbar = closed_form.profile(net, 'euler', num_trajectories=2048, fine_steps=128, batch=2048, seed=0)
    # E|x|/(1+s²)²: trajectories start, like EDM's samplers, from N(0, sigma_max²) = N(0, 9), so the exact
    # flow gives x ~ N(0, 0.9 (1+s²)) (a constant factor, which does not change the optimal grid).
    exact = np.sqrt(2 / np.pi * 0.9) * (1 + sigma_fine ** 2) ** -1.5
    np.testing.assert_allclose(qbar, exact, rtol=0.05)
    for K, ref in PAPER_ART_RL.items():
        sig = closed_form.nodes(sigma_fine, exact, K, 2)[0]
        np.testing.assert_allclose(sig[:-1], _analytic_grid(K)[:-1], rtol=2e-3, atol=2e-3)
        w2 = w2_gauss_euler(closed_form.nodes(sigma_fine, qbar, K, 2)[0])
        assert w2 <= ref + 0.005, (K, w2)

def test_fit_schedule_dict():
    net = load_builtin('gauss1d')
    sched = closed_form.fit(net, 5, solver='euler', num_trajectories=64, fine_steps=64, batch=64)
    assert sched['solver'] == 'euler' and len(sched['sigmas']) == 6 and sched['sigmas'][-1] == 0
    assert sched['sigmas'][0] == 3.0 and np.all(np.diff(sched['sigmas']) < 0)
    schedules.check_sigmas(sched['sigmas'])
    np.testing.assert_allclose(np.sum(sched['theta_bar']) * 3.0 / 5, 3.0)

def test_gmm_digits_beats_edm():
    pytest.importorskip('sklearn')
    net = load_builtin('gmm-digits')
    g = torch.Generator().manual_seed(123)
    latents = torch.randn([64, 1, 8, 8], generator=g, dtype=torch.float64)
    labels = torch.eye(10)[torch.randint(10, [64], generator=g)]
    ref = sampler.sample(net, latents, schedules.get_sigmas('edm', 1024, net=net), labels, solver='heun')
    sigma_fine, qbar = closed_form.profile(net, 'euler', num_trajectories=64, fine_steps=128, batch=64, seed=0)
    ratios = {}
    for solver, Ks in [('heun', [5, 7, 10]), ('euler', [10, 18])]:
        for K in Ks:
            edm = rms_error(sampler.sample(net, latents, schedules.get_sigmas('edm', K, net=net), labels, solver=solver), ref)
            sig = closed_form.nodes(sigma_fine, qbar, K, 2)[0]
            cf = rms_error(sampler.sample(net, latents, torch.as_tensor(sig), labels, solver=solver), ref)
            ratios[(solver, K)] = cf / edm
    print('closed-form / EDM RMS:', {k: round(v, 3) for k, v in ratios.items()})
    assert all(r <= 0.70 for r in ratios.values()), ratios
