# ART-EDM: learned time grids for EDM-style diffusion samplers.
# Copyright (c) 2026 The ART-EDM authors. Released under the MIT License (see LICENSE).

"""The closed form for multistep solvers chosen on the trajectory bank (art.closed_form._on_bank,
docs/solver-aware-art.md §10): bank subsets, the terminal errors it records (recomputed here from the
warm-up latents and an independent Heun teacher), its grid against EDM's on fresh latents, the polish,
and its errors."""

import numpy as np
import pytest
import torch

import dnnlib
from art import closed_form, local_error, sampler, schedules
from art.builtin import load_builtin
from art.metrics import rms_error

SETTINGS = dict(num_trajectories=32, fine_steps=32, batch=32)

@pytest.fixture(scope='module')
def net():
    pytest.importorskip('sklearn')
    return load_builtin('gmm-digits')

def _teacher(net, n):
    """The bank's trajectories recomputed: Heun on the fine EDM grid (exact ends) from the first n warm-up latents."""
    sig = schedules.get_sigmas('edm', SETTINGS['fine_steps'], net=net).clone()
    sig[0], sig[-2] = net.sigma_max, net.sigma_min
    z, c = sampler.warmup_latents(net, n)
    return z, c, sampler.sample(net, z, sig, c, solver='heun')

def test_subset_and_latents(net):
    bank = closed_form.trajectory_bank(net, **SETTINGS)
    sub = bank.subset(slice(8, 12))
    z, c, x0 = _teacher(net, 12)
    np.testing.assert_allclose(sub.latents([1, 8, 8]).numpy(), z[8:12].numpy(), rtol=1e-12)
    np.testing.assert_allclose(sub.x_final, x0[8:12].reshape(4, -1).numpy(), rtol=1e-9, atol=1e-12)
    assert torch.equal(sub.class_labels, c[8:12])
    g = schedules.get_sigmas('logsnr', 5, net=net).numpy()
    full = local_error.local_error_vectors(bank, 'dpmpp-2m', g)[:, 8:12]
    np.testing.assert_allclose(local_error.local_error_vectors(sub, 'dpmpp-2m', g), full, rtol=1e-9, atol=1e-12)

@pytest.mark.parametrize('solver', ['dpmpp-2m', 'ipndm'])
def test_recorded_terminal_errors(net, solver):
    sched = closed_form.fit(net, 6, solver=solver, select=8, **SETTINGS)
    z, c, x0 = _teacher(net, 32)
    held = slice(24, 32)                                    # the last quarter of the bank is held out
    for name in ('edm', 'logsnr'):
        g = schedules.get_sigmas(name, 6, net=net)
        x = sampler.sample(net, z[held], g, c[held], solver=solver)
        assert sched['terminal_error'][name] == pytest.approx(rms_error(x, x0[held]), rel=1e-6)
    x = sampler.sample(net, z[held], torch.as_tensor(sched['sigmas'], dtype=torch.float64), c[held], solver=solver)
    assert rms_error(x, x0[held]) == pytest.approx(min(sched['terminal_error'].values()), rel=1e-6)
    assert sched['chosen'] in sched['terminal_error'] and sched['held_out'] == 8

def test_chosen_grid_beats_edm_on_fresh_latents(net):
    g = torch.Generator().manual_seed(7)
    z = torch.randn([64, 1, 8, 8], generator=g, dtype=torch.float64)
    c = torch.eye(10)[torch.randint(10, [64], generator=g)]
    ref = sampler.sample(net, z, schedules.get_sigmas('edm', 512, net=net), c, solver='heun')
    for K in (6, 8):
        sched = closed_form.fit(net, K, solver='dpmpp-2m', **SETTINGS)
        art = rms_error(sampler.sample(net, z, torch.as_tensor(sched['sigmas']), c, solver='dpmpp-2m'), ref)
        edm = rms_error(sampler.sample(net, z, schedules.get_sigmas('edm', K, net=net), c, solver='dpmpp-2m'), ref)
        assert art < 0.8 * edm, (K, art, edm)

def test_polish_lowers_the_held_out_error(net):
    plain = closed_form.fit(net, 5, solver='dpmpp-2m', select=8, **SETTINGS)
    sched = closed_form.fit(net, 5, solver='dpmpp-2m', select=8, polish=15, polish_lr=0.1, **SETTINGS)
    assert sched['terminal_error']['polished'] < min(plain['terminal_error'].values())
    assert sched['chosen'] == plain['chosen'] + '+polish'
    s = np.asarray(sched['sigmas'])
    assert s[0] == pytest.approx(net.sigma_max) and s[-1] == 0 and np.all(np.diff(s) < 0)

def test_without_held_out_trajectories_the_discrete_cost_decides(net):
    sched = closed_form.fit(net, 6, solver='dpmpp-2m', select=0, **SETTINGS)
    cost = sched['discrete_cost']
    assert 'terminal_error' not in sched and sched['chosen'] == min(cost, key=cost.get)

def test_errors(net):
    with pytest.raises(dnnlib.UserError, match='polish needs select'):
        closed_form.fit(net, 5, solver='dpmpp-2m', select=0, polish=3, **SETTINGS)
    with pytest.raises(dnnlib.UserError, match='select >= 0'):
        closed_form.fit(net, 5, solver='dpmpp-2m', select=-1, **SETTINGS)

def test_spline_candidates_and_the_paper_density(net):
    """The Hölder grids of the bank's spline densities (eq. 31) are candidates; the spline |Q| is the
    paper's |Q| by JVP (closed_form.profile) at the nodes of the same trajectories, within 2 % away from
    the ends of the spline (64 nodes)."""
    sched = closed_form.fit(net, 6, solver='dpmpp-2m', select=8, **SETTINGS)
    assert {'q_spline', 'q_spline_beta0', 'r2m_spline', 'r2m_spline_beta0'} <= set(sched['terminal_error'])
    fine = dict(SETTINGS, fine_steps=64)
    sig_j, q_jvp = closed_form.profile(net, 'euler', **fine)
    sig_s, q_spline = local_error.spline_density(closed_form.trajectory_bank(net, **fine), 'euler')
    np.testing.assert_allclose(sig_s, sig_j, rtol=1e-12)
    np.testing.assert_allclose(q_spline[2:-2], q_jvp[2:-2], rtol=0.02)
