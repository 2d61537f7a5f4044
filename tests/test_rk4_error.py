# ART-EDM: learned time grids for EDM-style diffusion samplers.
# Copyright (c) 2026 The ART-EDM authors. Released under the MIT License (see LICENSE).

"""RK4's local-error density (docs/solver-aware-art.md eq. 29) against the exact flow of Gaussian data,
and the closed form and ART-RL that use it."""

import numpy as np
import pytest
import torch

import dnnlib
from art import methods, objective, sampler, schedules
from art.builtin import load_builtin
from art.metrics import rms_error

def _field(x, s):
    """dx/dsigma for N(0, 1) data: (x - D)/sigma with D = x / (1 + sigma²)."""
    return x * s / (1 + s ** 2)

def _rk4(x, s, h):
    """Classical RK4 in numpy, written out here independently of art.sampler."""
    k1 = _field(x, s)
    k2 = _field(x + h / 2 * k1, s + h / 2)
    k3 = _field(x + h / 2 * k2, s + h / 2)
    k4 = _field(x + h * k3, s + h)
    return x + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)

@pytest.mark.parametrize('sigma,rel_step', [(40.0, 0.2), (6.0, 0.2), (1.5, 0.2), (0.1, 0.2), (40.0, 0.05), (6.0, 0.05), (1.5, 0.05)])
def test_density_is_the_exact_local_error(sigma, rel_step):
    """|C| = |x_RK4(h) - x(sigma + h)| / |h|^5 with the exact flow x(s) = x sqrt(1 + s²) / sqrt(1 + sigma²)
    of N(0, 1) data, h = sigma (e^-rel_step - 1): the Richardson estimate agrees within 1.5 %. (Smaller steps
    at small sigma leave an error |C h^5| near float64 rounding.)"""
    net = load_builtin('gauss1d')
    x = np.array([-2.0, 0.7, 3.0]) * np.sqrt(1 + sigma ** 2)
    h = sigma * np.expm1(-rel_step)
    exact = x * np.sqrt(1 + (sigma + h) ** 2) / np.sqrt(1 + sigma ** 2)
    want = np.abs(_rk4(x, sigma, h) - exact) / abs(h) ** 5
    xt = torch.tensor(x, dtype=torch.float64).reshape(3, 1, 1, 1)
    got = objective.rk4_error_density(net, xt, sigma, rel_step=rel_step).numpy()
    np.testing.assert_allclose(got, want, rtol=0.015)
    if rel_step == 0.2:
        np.testing.assert_allclose(objective.error_density(net, xt, sigma, solver='rk4').numpy(), got, rtol=1e-12)

def test_power_and_error_model_registry():
    assert objective.error_power('rk4') == 5 and sampler.SOLVER_ORDER['rk4'] + 1 == 5
    assert 'rk4' in objective.ERROR_MODELS
    with pytest.raises(dnnlib.UserError, match='rel_step'):
        objective.rk4_error_density(load_builtin('gauss1d'), torch.ones(2, 1, 1, 1, dtype=torch.float64), 1.0, rel_step=1.5)

def test_closed_form_for_rk4_beats_euler_closed_form_and_edm():
    """On gmm-digits, sampled with rk4 from the same 64 latents (RMS vs a 512-step Heun reference): the
    rk4 closed form is <= 0.9x the Euler closed form and <= 0.5x EDM rho=7 at K = 3 and 4 (NFE 9, 13)."""
    pytest.importorskip('sklearn')
    net = load_builtin('gmm-digits')
    latents, labels, _ = sampler.edm_latents(net, range(64))
    ref = sampler.reference_samples(net, latents, labels, num_steps=512)
    err = lambda g: rms_error(sampler.sample(net, latents, torch.as_tensor(g, dtype=torch.float64), labels, solver='rk4'), ref)
    for K in (3, 4):
        rk4 = methods.learn('closed-form', net, K, solver='rk4')
        assert rk4['solver'] == 'rk4'
        e_rk4 = err(rk4['sigmas'])
        e_euler = err(methods.learn('closed-form', net, K, solver='euler')['sigmas'])
        e_edm = err(schedules.get_sigmas('edm', K, net=net))
        assert e_rk4 <= 0.9 * e_euler and e_rk4 <= 0.5 * e_edm, (K, e_rk4, e_euler, e_edm)

def test_art_rl_runs_with_the_rk4_running_cost():
    """ART-RL takes r_RK4 |theta|^5 as its running cost: a short run gives a decreasing grid to 0."""
    net = load_builtin('gauss1d')
    sched = methods.learn('art-rl:iters=6:critic_warmup=2:batch=4:distil_batch=4', net, 4, solver='rk4', progress=False)
    s = np.asarray(sched['sigmas'])
    assert sched['solver'] == 'rk4' and len(s) == 5 and s[-1] == 0 and np.all(np.diff(s) < 0)
    assert sched['settings']['step_cost'] == 'root-simpson' and np.isfinite(sched['settings']['q_scale_c'])
