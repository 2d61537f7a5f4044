# ART-EDM: learned time grids for EDM-style diffusion samplers.
# Copyright (c) 2026 The ART-EDM authors. Released under the MIT License (see LICENSE).

"""Tests for art.rl (ART-RL, art-paper §2): the 1-D acceptance against v1 Table 1 with the exact Euler
W2 (art-paper §1.5) under the paper's settings, checkpoint/resume, the NaN guard, the JSON-lines log,
the grid guards, the rho clock, the Simpson step cost and the augmented Lagrangian (see art/rl.py).
The gmm-digits acceptance (5,000 iterations) is a benchmark: bench/bench_art.py."""

import json

import numpy as np
import pytest
import torch

import dnnlib
from art import objective, rl, schedules
from art.builtin import load_builtin
from art.metrics import w2_gauss_euler

PAPER_ART_RL = {2: .345, 5: .149, 10: .079, 20: .042, 50: .020, 100: .013}   # v1 Table 1, ART-RL row

#----------------------------------------------------------------------------

@pytest.mark.slow
def test_gauss1d_matches_paper_row(tmp_path):
    """One ART-RL run on a 10-step clock (paper init theta = 1, raw |Q|, B = 64); the K-step grids are
    read off the learned time change psi(t). Exact W2 <= paper's ART-RL row + 0.005 at every K."""
    net = load_builtin('gauss1d')
    settings = rl.PAPER.replace(iters=1500, batch=64, lr=1e-3, lr_gamma=0.03)  # the paper's Algorithm 1, more trajectories
    sched = rl.train(net, 10, settings, rl_steps=10, q_backend='fd', distil_batch=64, seed=0, progress=False,
        log_path=str(tmp_path / 'log.jsonl'))
    w2 = {K: w2_gauss_euler(rl.schedule_grid(sched, K)) for K in PAPER_ART_RL}
    print('ART-RL W2:', {K: round(v, 4) for K, v in w2.items()})
    for K, ref in PAPER_ART_RL.items():
        assert w2[K] <= ref + 0.005, (K, w2[K])
    assert w2_gauss_euler(sched['sigmas']) == pytest.approx(w2[10])
    # The learned clock is fast at the noisy end and slow at the data end (v1 Fig. 1).
    theta = np.asarray(sched['time_change']['theta'])
    assert theta[0] > 2 and theta[-1] < 0.7 and np.all(np.diff(theta) < 0.05)
    log = [json.loads(line) for line in open(tmp_path / 'log.jsonl')]
    assert len(log) == 1500 and {'gamma', 'psi_T_minus_T', 'theta_mean', 'td_loss'} <= set(log[0])

def test_checkpoint_resume_is_exact(tmp_path):
    net = load_builtin('gauss1d')
    kw = dict(batch=8, lr=1e-3, init='uniform', q_backend='fd', distil_batch=8, progress=False, checkpoint_every=3, critic_warmup=2)
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

def test_rho_clock_maps_and_edm_init():
    """sigma = sigma_max (1 - psi)^7 on a unit clock; its inverse; EDM's grid as the initial clock speeds;
    the grid of a time change read off at another K through the same map."""
    net = load_builtin('gauss1d')
    problem = rl.ARTProblem(net, 6, time_map='rho')
    psi = torch.linspace(0, 1, 7, dtype=torch.float64)
    np.testing.assert_allclose(problem.sigma_of(psi).numpy(), 3.0 * (1 - psi.numpy()) ** 7, rtol=1e-12)
    np.testing.assert_allclose(problem.psi_of(problem.sigma_of(psi)).numpy(), psi.numpy(), atol=1e-12)
    h = 1e-6  # |dsigma/dpsi| by central differences
    fd = (problem.sigma_of(psi[1:-1] - h) - problem.sigma_of(psi[1:-1] + h)) / (2 * h)
    np.testing.assert_allclose(problem.dsigma_dpsi(psi[1:-1]).numpy(), fd.numpy(), rtol=1e-6)
    from art.schedules import get_sigmas
    edm = get_sigmas('edm', 6, sigma_min=0.002, sigma_max=3.0).numpy()
    np.testing.assert_allclose(problem.grid_from_theta(problem.base_theta('edm').numpy())[0], edm, rtol=1e-9)
    # A uniform clock gives sigma_i = sigma_max (1 - i/K)^7 for every K (nodes below sigma_min raised to it).
    for K in (3, 6, 10):
        sig = schedules.time_change_grid(dict(theta=[1.0] * 6, time_map='rho', sigma_min=0.002, sigma_max=3.0), K)[0]
        raw = 3.0 * (1 - np.arange(K) / K) ** 7
        np.testing.assert_allclose(sig[:-1][raw > 0.01], raw[raw > 0.01], rtol=1e-9)
        assert sig[-1] == 0 and np.all(sig[:-1] >= 0.002) and np.all(np.diff(sig) < 0)

def test_simpson_step_cost_matches_quadrature():
    """'simpson': q̃_k = (q_k + 4 q(half step) + q_k+1) / 6 along the executed step; on gauss1d with
    uniform speeds every state is known in closed form (x(sigma) = x_0 sqrt(1 + sigma²) / sqrt(1 + T²)
    only for the exact flow, so here the Euler states are recomputed independently)."""
    net = load_builtin('gauss1d')
    problem = rl.ARTProblem(net, 3, q_backend='forward')
    actor = rl.MLP(3, 16, zero_last=True)
    ro = rl.rollout(problem, actor, problem.base_theta('uniform'), 4, torch.Generator().manual_seed(0), stochastic=False, step_cost='simpson')
    x0 = torch.randn([4, 1, 1, 1], generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 3.0
    qf = lambda x, s: (x / (1 + s ** 2) ** 2).abs().flatten()          # |Q| of N(0,1) data (art-paper §1.3)
    x, s = x0, 3.0
    for k in range(3):                                                 # sigma 3 -> 2 -> 1 -> 0, Euler in sigma
        F = x * s / (1 + s ** 2)
        x_mid = x - 0.5 * F
        x_next = x - F
        s_q = max(s - 1.0, 0.002)
        want = (qf(x, s) + 4 * qf(x_mid, s - 0.5) + qf(x_next, s_q)) / 6
        np.testing.assert_allclose(ro.q_step[k].numpy(), want.numpy(), rtol=1e-9)
        np.testing.assert_allclose(ro.q[k].numpy(), qf(x, s).numpy(), rtol=1e-9)
        x, s = x_next, s - 1.0

def test_augmented_lagrangian_meets_budget_and_resumes(tmp_path):
    """The default settings (rho clock, Simpson, augmented Lagrangian, critic warm-up) on gauss1d: the
    policy's budget ends near T, resume is exact, unknown step costs are refused."""
    net = load_builtin('gauss1d')
    kw = dict(batch=16, q_backend='fd', distil_batch=8, progress=False, checkpoint_every=10, critic_warmup=5, iters=40)
    full = rl.train(net, 4, checkpoint=str(tmp_path / 'a.pt'), log_path=str(tmp_path / 'a.jsonl'), **kw)
    log = [json.loads(line) for line in open(tmp_path / 'a.jsonl')]
    assert abs(log[-1]['budget_minus_T']) < 0.05 and log[-1]['gamma'] != log[4]['gamma'] == log[0]['gamma']
    rl.train(net, 4, checkpoint=str(tmp_path / 'b.pt'), **dict(kw, iters=20))
    resumed = rl.train(net, 4, checkpoint=str(tmp_path / 'b.pt'), resume=True, **kw)
    assert resumed['sigmas'] == full['sigmas'] and resumed['time_change'] == full['time_change']
    assert np.all(np.diff(full['sigmas']) < 0) and full['sigmas'][-1] == 0
    assert full['settings']['time_map'] == 'rho' and rl.schedule_grid(full, 4).tolist() == full['sigmas']
    with pytest.raises(dnnlib.UserError, match='step cost'):
        rl.train(net, 4, iters=1, step_cost='midpoint', progress=False)

@pytest.mark.slow
def test_gmm_digits_short_run_beats_edm():
    """A short run of the default algorithm (400 iterations of 32 trajectories, faster step sizes) on
    builtin:gmm-digits: its grids beat EDM rho=7 clearly and approach the closed form (the full-length
    acceptance, 5,000 iterations and 3 seeds, is bench/bench_art.py). Measured: 0.26 / 0.30 / 0.68x EDM
    and 1.10x the closed form at Euler K = 18."""
    pytest.importorskip('sklearn')
    from art import closed_form, sampler
    from art.metrics import rms_error
    net = load_builtin('gmm-digits')
    sched = rl.train(net, 18, iters=400, batch=32, lr=3e-4, lr_critic=3e-3, lr_gamma=0.1, critic_warmup=100, distil_batch=8, progress=False)
    cf = closed_form.fit(net, 18, solver='euler')['profile']
    g = torch.Generator().manual_seed(123)
    latents = torch.randn([64, 1, 8, 8], generator=g, dtype=torch.float64)
    labels = torch.eye(10)[torch.randint(10, [64], generator=g)]
    ref = sampler.sample(net, latents, schedules.get_sigmas('edm', 256, net=net), labels, solver='heun')
    err = lambda sigmas, solver: rms_error(sampler.sample(net, latents, torch.as_tensor(sigmas), labels, solver=solver), ref)
    for solver, K, bound in [('heun', 5, 0.5), ('heun', 7, 0.5), ('euler', 18, 0.8)]:
        e_edm = err(schedules.get_sigmas('edm', K, sigma_min=0.002, sigma_max=80.0), solver)
        e_rl = err(rl.schedule_grid(sched, K), solver)
        e_cf = err(closed_form.nodes(cf['sigma'], cf['rbar'], K, 2)[0], solver)
        print(solver, K, 'RL/EDM', round(e_rl / e_edm, 3), 'RL/closed form', round(e_rl / e_cf, 3))
        assert e_rl < bound * e_edm and e_rl < 1.25 * e_cf, (solver, K, e_rl / e_edm, e_rl / e_cf)

#----------------------------------------------------------------------------

def test_resumed_log_keeps_only_the_checkpointed_iterations(tmp_path):
    """After kill -9 the log can hold records past the checkpoint and a torn last line: resuming at the
    checkpoint's iteration keeps 0..start-1 only, so no iteration is repeated."""
    log = tmp_path / 'log.jsonl'
    log.write_text(''.join(json.dumps(dict(iter=i)) + '\n' for i in range(9)) + '{"iter": 9, "gam')
    f = rl._open_log(str(log), 5)
    f.write(json.dumps(dict(iter=5)) + '\n')
    f.close()
    assert [json.loads(line)['iter'] for line in log.read_text().splitlines()] == [0, 1, 2, 3, 4, 5]
    f = rl._open_log(str(log), 0)       # a fresh run starts an empty log
    f.close()
    assert log.read_text() == ''

class _KnownDensity(rl.ARTProblem):
    """ARTProblem whose density is r(sigma) = g(max(sigma, sigma_min))^p, the same for every state."""
    g = staticmethod(lambda s: 1 / (0.1 + s))
    def field_and_q(self, x, psi, labels):
        from art import objective
        F = objective.denoiser_field(self.net, x, self.sigma_query(psi), labels)
        return F, (self.g(self.sigma_query(psi)) * self.dsigma_dpsi(psi)) ** self.power

@pytest.mark.parametrize('K', [4, 8])
def test_root_simpson_step_cost_is_the_step_error(K):
    """'root-simpson': q_step |theta|^p Δt = (∫ r^(1/p) dsigma)^p / Δt^(p-1) over every executed step, with the
    density held at sigma_min below it and the step to sigma = 0 (quadrature by numpy on a fine grid). The
    Simpson rule on q itself (the Euler default) does not price the last step so (the reason for the option)."""
    net = load_builtin('gauss1d')
    problem = _KnownDensity(net, K, solver='heun', time_map='rho')
    theta = torch.as_tensor(np.linspace(1.3, 0.6, K - 1).tolist() + [0], dtype=torch.float64)
    theta[-1] = K - float(theta[:-1].sum())                     # Σ theta Δt = T = 1: the last step ends at sigma = 0
    actor = rl.MLP(3, 8, zero_last=True)
    psi = np.concatenate([[0], np.cumsum(theta.numpy()) / K]).clip(0, 1)
    sig = 3.0 * (1 - psi) ** 7
    want = []
    for k in range(K):
        s = np.linspace(sig[k + 1], sig[k], 200001)
        integral = np.trapezoid(1 / (0.1 + np.maximum(s, net.sigma_min)), s)
        want.append(integral ** 3 / (psi[k + 1] - psi[k]) ** 3)  # q_step = (mean of q^(1/3) over the step)^3
    for step_cost, ok in [('root-simpson', True), ('simpson', False)]:
        ro = rl.rollout(problem, actor, theta, 2, torch.Generator().manual_seed(0), stochastic=False, step_cost=step_cost)
        got = ro.q_step[:, 0].numpy()
        assert np.allclose(got, want, rtol=0.01) == ok, (step_cost, got / np.asarray(want))
    assert np.any((sig[:-1] > net.sigma_min) & (sig[1:] < net.sigma_min)) and sig[-1] < 1e-12  # a step crosses sigma_min

def test_step_cost_auto_by_solver():
    """step_cost='auto' (the default): 'simpson' for the Euler cost (unchanged), 'root-simpson' for the p = 3 costs;
    the schedule records the rule used."""
    net = load_builtin('gauss1d')
    assert rl.DEFAULT.step_cost == 'auto' and rl.PAPER.step_cost == 'left'
    for solver, want in [('euler', 'simpson'), ('heun', 'root-simpson')]:
        sched = rl.train(net, 3, iters=0, batch=2, distil_batch=2, q_backend='fd', solver=solver, progress=False)
        assert sched['settings']['step_cost'] == want

#----------------------------------------------------------------------------

def test_heun_dynamics_step():
    """dynamics='heun': x + h (F + F(x + h F, sigma + h)) / 2 on the psi-clock (recomputed here for N(0, 1)
    data, F = x sigma / (1 + sigma²)); closer to the exact flow than the paper's Euler step; Euler where the
    step ends below sigma_min; an unknown dynamics is a one-line error."""
    net = load_builtin('gauss1d')
    heun, euler = rl.ARTProblem(net, 3, dynamics='heun'), rl.ARTProblem(net, 3)
    x = torch.tensor([-2.0, 0.5, 3.0], dtype=torch.float64).reshape(3, 1, 1, 1)
    psi = torch.tensor([0.0, 1.0, 0.5], dtype=torch.float64)            # linear clock: sigma = 3 - psi
    theta = torch.tensor([0.3, 0.2, 0.25], dtype=torch.float64)         # dt = 1
    F = objective.denoiser_field(net, x, 3.0 - psi)
    field = lambda y, s: y * s.reshape(-1, 1, 1, 1) / (1 + s.reshape(-1, 1, 1, 1) ** 2)
    s0, s1 = 3.0 - psi, 3.0 - psi - theta
    h = (s1 - s0).reshape(-1, 1, 1, 1)
    want = x + h / 2 * (field(x, s0) + field(x + h * field(x, s0), s1))
    got, psi_next = heun.step(x, psi, F, theta)
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-6)
    np.testing.assert_allclose(psi_next.numpy(), (psi + theta).numpy())
    exact = x * torch.sqrt(1 + s1.reshape(-1, 1, 1, 1) ** 2) / torch.sqrt(1 + s0.reshape(-1, 1, 1, 1) ** 2)
    assert float((got - exact).abs().max()) < 0.2 * float((euler.step(x, psi, F, theta)[0] - exact).abs().max())
    last = torch.tensor([2.5, 2.5, 2.5], dtype=torch.float64)           # sigma 0.5 -> 0: below sigma_min
    F_last = objective.denoiser_field(net, x, 3.0 - last)
    np.testing.assert_allclose(heun.step(x, last, F_last, torch.ones(3, dtype=torch.float64))[0].numpy(),
                               euler.step(x, last, F_last, torch.ones(3, dtype=torch.float64))[0].numpy(), rtol=1e-12)
    with pytest.raises(dnnlib.UserError, match='dynamics'):
        rl.ARTProblem(net, 3, dynamics='rk4')

def test_cosine_lr_decay_in_the_log(tmp_path):
    """lr_decay='cosine': the actor's learning rate after the warm-up is lr (1 + cos(pi f)) / 2 with f the
    fraction of post-warm-up iterations done (read from the JSON-lines log); 'constant' keeps lr."""
    net = load_builtin('gauss1d')
    for decay in ('cosine', 'constant'):
        log = tmp_path / f'{decay}.jsonl'
        rl.train(net, 3, iters=12, batch=2, critic_warmup=2, lr=0.01, lr_decay=decay, log_path=str(log), progress=False)
        lrs = [json.loads(line)['lr'] for line in log.read_text().splitlines()]
        want = [0.01] * 2 + [0.01 * (0.5 * (1 + np.cos(np.pi * (n - 2) / 10)) if decay == 'cosine' else 1) for n in range(2, 12)]
        np.testing.assert_allclose(lrs, want, rtol=1e-12, atol=1e-15)
    with pytest.raises(dnnlib.UserError, match='lr_decay'):
        rl.train(net, 3, iters=1, batch=2, lr_decay='linear', progress=False)

def test_unbiased_cost_estimate():
    """hermite_power: the Hermite forms written out for p = 2, 3, 5, a Monte Carlo mean equal to m^p where
    |theta|^p is biased (E|theta|^3 = m^3 + 3 m v for theta > 0), and cost_estimate's one-line error."""
    g = torch.Generator().manual_seed(0)
    theta, v = torch.randn(7, generator=g, dtype=torch.float64) + 1, torch.rand(7, generator=g, dtype=torch.float64)
    np.testing.assert_allclose(rl.hermite_power(theta, v, 2), theta ** 2 - v, rtol=1e-12)
    np.testing.assert_allclose(rl.hermite_power(theta, v, 3), theta ** 3 - 3 * v * theta, rtol=1e-12)
    np.testing.assert_allclose(rl.hermite_power(theta, v, 5), theta ** 5 - 10 * v * theta ** 3 + 15 * v ** 2 * theta, rtol=1e-12)
    m, var = 1.3, 0.15
    samples = m + var ** 0.5 * torch.randn(1_000_000, generator=g, dtype=torch.float64)
    for p in (2, 3, 5):
        mean = float(rl.hermite_power(samples, torch.full_like(samples, var), p).mean())
        assert abs(mean / m ** p - 1) < 0.01, (p, mean, m ** p)
    assert float((samples.abs() ** 3).mean()) / m ** 3 > 1.2    # the sampled estimate's bias, 1 + 3 v / m^2 = 1.27
    net = load_builtin('gauss1d')
    with pytest.raises(dnnlib.UserError, match='cost_estimate'):
        rl.train(net, 3, iters=1, batch=2, cost_estimate='exact', progress=False)
    sched = rl.train(net, 3, iters=6, batch=4, critic_warmup=2, solver='heun', cost_estimate='unbiased', progress=False)
    assert sched['settings']['cost_estimate'] == 'unbiased' and np.all(np.diff(sched['sigmas']) < 0)

def test_every_setting_documented():
    """docs/usage.md names every RLSettings field (the options `art-rl:KEY=VALUE` accepts)."""
    import dataclasses, pathlib
    text = (pathlib.Path(__file__).resolve().parents[1] / 'docs' / 'usage.md').read_text(encoding='utf-8')
    missing = [f.name for f in dataclasses.fields(rl.RLSettings) if f'`{f.name}`' not in text]
    assert not missing, missing
