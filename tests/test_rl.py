# ART-EDM: learned time grids for EDM-style diffusion samplers.
# Copyright (c) 2026 The ART-EDM authors. Released under the MIT License (see LICENSE).

"""Tests for art.rl (ART-RL, art-paper §2): the 1-D acceptance against v1 Table 1 with the exact Euler
W2 (art-paper §1.5), checkpoint/resume, the NaN guard, the JSON-lines log, the grid guards, and the
experimental options (std cap, antithetic pairs, TD normalisation; see art/rl.py)."""

import json

import numpy as np
import pytest
import torch

import dnnlib
from art import rl
from art.builtin import load_builtin
from art.metrics import w2_gauss_euler

PAPER_ART_RL = {2: .345, 5: .149, 10: .079, 20: .042, 50: .020, 100: .013}   # v1 Table 1, ART-RL row

#----------------------------------------------------------------------------

def test_gauss1d_matches_paper_row(tmp_path):
    """One ART-RL run on a 10-step clock (paper init theta = 1, raw |Q|, B = 64); the K-step grids are
    read off the learned time change psi(t). Exact W2 <= paper's ART-RL row + 0.005 at every K."""
    net = load_builtin('gauss1d')
    sched = rl.train(net, 10, rl_steps=10, iters=1500, batch=64, lr=1e-3, lr_gamma=0.03, init='uniform', q_scale='none',
        q_backend='fd', distil_batch=64, seed=0, progress=False, log_path=str(tmp_path / 'log.jsonl'))
    problem = rl.ARTProblem(net, 10)
    w2 = {K: w2_gauss_euler(problem.grid_from_theta(sched['theta_rl'], K)[0]) for K in PAPER_ART_RL}
    print('ART-RL W2:', {K: round(v, 4) for K, v in w2.items()})
    for K, ref in PAPER_ART_RL.items():
        assert w2[K] <= ref + 0.005, (K, w2[K])
    assert w2_gauss_euler(sched['sigmas']) == pytest.approx(w2[10])
    # The learned clock is fast at the noisy end and slow at the data end (v1 Fig. 1).
    theta = np.asarray(sched['theta_rl'])
    assert theta[0] > 2 and theta[-1] < 0.7 and np.all(np.diff(theta) < 0.05)
    log = [json.loads(line) for line in open(tmp_path / 'log.jsonl')]
    assert len(log) == 1500 and {'gamma', 'psi_T_minus_T', 'theta_mean', 'td_loss'} <= set(log[0])

def test_checkpoint_resume_is_exact(tmp_path):
    net = load_builtin('gauss1d')
    kw = dict(batch=8, lr=1e-3, init='uniform', q_backend='fd', distil_batch=8, progress=False, checkpoint_every=3)
    full = rl.train(net, 4, iters=6, checkpoint=str(tmp_path / 'a.pt'), **kw)
    rl.train(net, 4, iters=3, checkpoint=str(tmp_path / 'b.pt'), log_path=str(tmp_path / 'b.jsonl'), **kw)
    resumed = rl.train(net, 4, iters=6, checkpoint=str(tmp_path / 'b.pt'), resume=True, log_path=str(tmp_path / 'b.jsonl'), **kw)
    assert resumed['sigmas'] == full['sigmas']
    assert resumed['settings']['gamma_final'] == full['settings']['gamma_final']
    assert [json.loads(line)['iter'] for line in open(tmp_path / 'b.jsonl')] == list(range(6))
    with pytest.raises(dnnlib.UserError, match='different settings'):
        rl.train(net, 5, iters=6, checkpoint=str(tmp_path / 'b.pt'), resume=True, **kw)

def test_nan_guard():
    class NaNNet(torch.nn.Module):
        img_resolution, img_channels, label_dim, sigma_min, sigma_max, sigma_data = 1, 1, 0, 0.002, 3.0, 1.0
        def forward(self, x, sigma, class_labels=None):
            return x * float('nan')
    with pytest.raises(dnnlib.UserError, match='diverged'):
        rl.train(NaNNet(), 3, iters=2, batch=2, q_scale='dim', q_backend='fd', progress=False)

def test_grid_guards():
    net = load_builtin('gauss1d')
    problem = rl.ARTProblem(net, 5)
    sigmas, theta = problem.grid_from_theta([3.0, -1.0, 0.0, 1.0, 50.0])   # negative / zero / huge speeds
    assert sigmas[0] == 3.0 and sigmas[-1] == 0.0
    assert np.all(np.diff(sigmas) < 0) and sigmas[-2] >= net.sigma_min
    np.testing.assert_allclose(theta.sum() * 3.0 / 5, 3.0)
    # Uniform clock speeds give the uniform grid; 'edm' init gives EDM's rho=7 grid.
    np.testing.assert_allclose(problem.grid_from_theta(np.ones(5))[0], np.linspace(3, 0, 6), atol=1e-12)
    from art.schedules import get_sigmas
    np.testing.assert_allclose(problem.grid_from_theta(problem.base_theta('edm').numpy())[0],
        get_sigmas('edm', 5, sigma_min=0.002, sigma_max=3.0).numpy(), rtol=1e-9)
    # Transfer to another K reads psi(t) off the same time change.
    np.testing.assert_allclose(problem.grid_from_theta(np.ones(5), 3)[0], np.linspace(3, 0, 4), atol=1e-12)

def test_initial_policy_is_init_grid():
    """iters=0: the distilled grid is the initial one (EDM for init='edm'), up to sigma_min guards."""
    pytest.importorskip('sklearn')
    from art.schedules import get_sigmas
    net = load_builtin('gmm-digits')
    sched = rl.train(net, 6, iters=0, batch=4, distil_batch=8, q_scale='dim', progress=False)
    np.testing.assert_allclose(sched['sigmas'], get_sigmas('edm', 6, sigma_min=0.002, sigma_max=80.0).numpy(), rtol=1e-6)

#----------------------------------------------------------------------------

def test_policy_var_std_cap():
    """lam / max(q, eps_k) with eps_k chosen so that std <= std_cap m (numpy re-implementation)."""
    q = torch.tensor([1e-8, 1e-3, 1.0, 1e3], dtype=torch.float64)
    m = torch.tensor([5.0, 1.0, 0.5, 0.01], dtype=torch.float64)
    lam, eps, cap = 0.1, 1e-6, 0.2
    expect = np.minimum(lam / np.maximum(q.numpy(), eps), (cap * m.numpy()) ** 2)
    np.testing.assert_allclose(rl.policy_var(q, m, lam, eps, cap).numpy(), expect, rtol=1e-12)
    np.testing.assert_allclose(rl.policy_var(q, m, lam, eps).numpy(), lam / np.maximum(q.numpy(), eps), rtol=1e-12)

def test_antithetic_rollout_pairs():
    """Antithetic pairs share x_0, so at k = 0 they share q and m and their noises cancel."""
    net = load_builtin('gauss1d')
    problem = rl.ARTProblem(net, 4)
    actor = rl.MLP(3, 16, zero_last=True)
    ro = rl.rollout(problem, actor, problem.base_theta('uniform'), 6, torch.Generator().manual_seed(0),
        q_scale=1.0, std_cap=0.3, antithetic=True)
    np.testing.assert_allclose(ro.q[0, :3].numpy(), ro.q[0, 3:].numpy(), rtol=1e-12)
    np.testing.assert_allclose((ro.theta[0, :3] + ro.theta[0, 3:]).numpy(), 2 * ro.mean[0, :3].numpy(), rtol=1e-9)
    assert np.all(ro.var.sqrt().numpy() <= 0.3 * ro.mean.numpy() * (1 + 1e-9))
    assert not np.allclose(ro.q[0, :3].numpy(), ro.q[0, 3:].numpy()[::-1])  # distinct x_0 across pairs

def test_experimental_options_resume(tmp_path):
    """All experimental options together: a valid grid, exact resume (the td_norm state is checkpointed)."""
    net = load_builtin('gauss1d')
    kw = dict(batch=8, init='uniform', q_backend='fd', distil_batch=8, progress=False, checkpoint_every=3, std_cap=0.1,
        td_norm=True, critic_q=True, critic_steps=2, antithetic=True, actor_gain=5.0, step_cost='geometric')
    full = rl.train(net, 4, iters=6, checkpoint=str(tmp_path / 'a.pt'), **kw)
    rl.train(net, 4, iters=3, checkpoint=str(tmp_path / 'b.pt'), **kw)
    resumed = rl.train(net, 4, iters=6, checkpoint=str(tmp_path / 'b.pt'), resume=True, **kw)
    assert resumed['sigmas'] == full['sigmas']
    assert np.all(np.diff(full['sigmas']) < 0) and full['sigmas'][-1] == 0
    with pytest.raises(dnnlib.UserError, match='step cost'):
        rl.train(net, 4, iters=1, step_cost='midpoint', progress=False)
