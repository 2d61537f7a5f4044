# ART-EDM: learned time grids for EDM-style diffusion samplers.
# Copyright (c) 2026 The ART-EDM authors. Released under the MIT License (see LICENSE).

"""Tests for art.objective's Heun local-error term R (docs/solver-aware-art.md eq. 7-8),
its estimators, the time-only closed form (eq. 15-16) and the running costs."""

import numpy as np
import pytest
import torch

from art import objective as ho
from art import closed_form
from gauss_net import Gauss

#----------------------------------------------------------------------------
# Analytic denoisers written here (independent of art.analytic).

class Mix1d(torch.nn.Module):
    """1-D two-component mixture 0.5 N(-m, v) + 0.5 N(m, v): exact posterior mean."""
    def __init__(self, m=1.0, v=0.05):
        super().__init__()
        self.m, self.v, self.img_resolution, self.img_channels, self.label_dim = m, v, 1, 1, 0
        self.sigma_min, self.sigma_max, self.sigma_data = 0.002, 80.0, float(np.sqrt(v + m * m))
    def round_sigma(self, sigma):
        return torch.as_tensor(sigma)
    def forward(self, x, sigma, class_labels=None):
        s2 = torch.as_tensor(sigma, dtype=x.dtype).reshape(-1, 1, 1, 1) ** 2
        var = self.v + s2
        logit = 2 * self.m * x / var                        # log w_+ - log w_-
        w = torch.sigmoid(logit)
        post = lambda mu: mu + self.v / var * (x - mu)
        return w * post(self.m) + (1 - w) * post(-self.m)

#----------------------------------------------------------------------------

def _R_gauss(x, sigma, s=1.0):
    return 0.5 * x * s * s * sigma / (s * s + sigma * sigma) ** 3   # eq. 8

#----------------------------------------------------------------------------

def _heun_step(f, x, s0, h):
    d = f(x, s0)
    xp = x + h * d
    return x + h * (d + f(xp, s0 + h)) / 2

#----------------------------------------------------------------------------

@pytest.mark.parametrize('backend', ['fd', 'jvp'])
@pytest.mark.parametrize('sigma', [0.2, 1.0, 3.0])

#----------------------------------------------------------------------------

def test_R_matches_gaussian_closed_form(backend, sigma):
    net = Gauss(s=0.7)
    x = torch.tensor([0.3, -1.5, 4.0], dtype=torch.float64).reshape(3, 1, 1, 1)
    t = ho.heun_error_terms(net, x, sigma, backend=backend, rel_step=0.02)
    expected = _R_gauss(x, sigma, 0.7)
    tol = 1e-9 if backend == 'jvp' else 2e-3
    np.testing.assert_allclose(t.R.numpy(), expected.numpy(), rtol=tol, atol=1e-14)
    np.testing.assert_allclose(t.Q.numpy(), (x * 0.49 / (0.49 + sigma ** 2) ** 2).numpy(), rtol=tol)

#----------------------------------------------------------------------------

def test_gaussian_heun_step_error_over_h3_converges_to_R():
    # Exact flow of dx/dsigma = x sigma/(s^2+sigma^2): x(sigma) = c sqrt(s^2 + sigma^2) (numpy, closed form).
    s, x0, s0 = 1.3, 0.8, 1.1
    f = lambda x, sig: x * sig / (s * s + sig * sig)
    R = _R_gauss(x0, s0, s)
    ratios = []
    for h in [-0.04, -0.02, -0.01, -0.005]:
        exact = x0 * np.sqrt(s * s + (s0 + h) ** 2) / np.sqrt(s * s + s0 * s0)
        ratios.append((exact - _heun_step(f, x0, s0, h)) / h ** 3)
    errs = np.abs(np.array(ratios) - R)
    assert errs[-1] < 0.01 * abs(R)
    assert np.all(np.diff(errs) < 0)                             # O(h) approach to the constant.
    assert 1.7 < errs[-2] / errs[-1] < 2.3

#----------------------------------------------------------------------------

def test_mixture_heun_step_error_matches_estimator():
    # Nonlinear field: the one-step Heun error against a fine RK4 reference, over h^3, tends to R (fd and jvp).
    net = Mix1d()
    x = torch.tensor([0.35, -0.9, 1.4], dtype=torch.float64).reshape(3, 1, 1, 1)
    s0 = 0.6
    def f(xx, sig):
        sig_t = torch.full([xx.shape[0]], float(sig), dtype=torch.float64)
        return (xx - net(xx, sig_t)) / float(sig)
    def rk4(xx, a, b, n=50):
        hh = (b - a) / n
        for k in range(n):
            t0 = a + k * hh
            k1 = f(xx, t0); k2 = f(xx + hh / 2 * k1, t0 + hh / 2); k3 = f(xx + hh / 2 * k2, t0 + hh / 2); k4 = f(xx + hh * k3, t0 + hh)
            xx = xx + hh / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
        return xx
    h = -0.001
    measured = (rk4(x, s0, s0 + h) - _heun_step(f, x, s0, h)) / h ** 3
    for backend in ['fd', 'jvp']:
        R = ho.heun_error_terms(net, x, s0, backend=backend, rel_step=0.01).R
        np.testing.assert_allclose(measured.numpy(), R.numpy(), rtol=0.03)

#----------------------------------------------------------------------------

def test_closed_form_nodes_power_law():
    # rbar = sigma^a: u = int sigma^(a/p) dsigma ~ sigma^(a/p+1), so nodes are equally spaced in sigma^(a/p+1).
    sf = np.exp(np.linspace(np.log(0.01), np.log(10), 4001))
    for a, p in [(3.0, 3), (-1.0, 2), (0.0, 3)]:
        nodes = closed_form.nodes(sf, sf ** a, 6, p, last_node='pinned')[0][:-1]
        e = a / p + 1
        expected = (10 ** e + np.linspace(0, 1, 6) * (0.01 ** e - 10 ** e)) ** (1 / e)
        np.testing.assert_allclose(nodes, expected, rtol=2e-3)

#----------------------------------------------------------------------------

def test_closed_form_minimises_discrete_surrogate():
    # The closed form should (nearly) beat random perturbations of itself on sum rbar |h|^3.
    sf = np.exp(np.linspace(np.log(0.002), np.log(80), 400))
    rbar = sf ** 1.5 / (0.25 + sf ** 2) ** 3
    nodes = closed_form.nodes(sf, rbar, 40, 3, last_node='pinned')[0][:-1]
    best = closed_form.surrogate_error(nodes, sf, rbar, p=3)
    rng = np.random.default_rng(0)
    for _ in range(50):
        pert = nodes.copy()
        pert[1:-1] *= np.exp(0.05 * rng.standard_normal(38))
        pert = np.sort(pert)[::-1]
        assert closed_form.surrogate_error(pert, sf, rbar, p=3) > 0.995 * best
    edm = (80 ** (1 / 7) + np.linspace(0, 1, 40) * (0.002 ** (1 / 7) - 80 ** (1 / 7))) ** 7
    assert closed_form.surrogate_error(edm, sf, rbar, p=3) > 1.2 * best

#----------------------------------------------------------------------------

def test_error_densities_gaussian():
    net = Gauss(s=0.5)
    x = torch.randn(4, 1, 2, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    sigma = 0.8
    R = _R_gauss(x, sigma, 0.5).flatten(1).norm(dim=1) / 2
    heun = ho.error_density(net, x, sigma, solver='heun', rel_step=0.01)
    np.testing.assert_allclose(heun.numpy(), R.numpy(), rtol=2e-3)
    Q = (x * 0.25 / (0.25 + sigma ** 2) ** 2).flatten(1).norm(dim=1) / 2
    np.testing.assert_allclose(ho.error_density(net, x, sigma, solver='euler').numpy(), Q.numpy(), rtol=1e-9)
    w = ho.propagation_weight(net, torch.tensor([sigma], dtype=torch.float64), 2.0)
    np.testing.assert_allclose(w.numpy(), [0.25 / (0.25 + sigma ** 2)], rtol=1e-12)
    assert ho.error_power('euler') == 2 and ho.error_power('heun') == 3
    with pytest.raises(Exception, match='No local-error model'):
        ho.error_power('nope')

#----------------------------------------------------------------------------

def test_fit_gauss_schedule_is_valid_and_follows_profile():
    net = Gauss(s=0.5)
    for last_node in ('pinned', 'learned'):
        sched = closed_form.fit(net, 8, solver='heun', last_node=last_node, num_trajectories=8, fine_steps=24, batch=8)
        s = np.array(sched['sigmas'])
        assert len(s) == 9 and s[-1] == 0 and np.all(np.diff(s) < 0) and abs(s[0] - 80) < 1e-9
        if last_node == 'pinned':
            assert abs(s[-2] - 0.002) < 1e-9 and sched['time_change'] is None
        else:  # learned: the last non-zero node sits well above sigma_min, and the time change gives the same grid
            from art import schedules
            assert s[-2] > 0.01
            np.testing.assert_allclose(schedules.time_change_grid(sched['time_change'], 8)[0], s, rtol=1e-12)

#----------------------------------------------------------------------------

def test_rl_running_cost_is_pluggable():
    # art.rl with solver='heun': the per-step cost is |R|/sqrt(d) (eq. 8) with power 3.
    from art import rl
    net = Gauss(s=1.0)
    problem = rl.ARTProblem(net, 4, sigma_min=0.002, sigma_max=3.0, solver='heun')
    assert problem.power == 3 and rl.ARTProblem(net, 4, sigma_min=0.002, sigma_max=3.0).power == 2
    x = torch.tensor([0.5, -2.0], dtype=torch.float64).reshape(2, 1, 1, 1)
    psi = torch.tensor([1.0, 2.2], dtype=torch.float64)
    F, r = problem.field_and_q(x, psi, None)
    sigma = 3.0 - psi
    np.testing.assert_allclose(r.numpy(), _R_gauss(x.flatten(), sigma).abs().numpy(), rtol=5e-3)
    np.testing.assert_allclose(F.flatten().numpy(), (x.flatten() * sigma / (1 + sigma ** 2)).numpy(), rtol=1e-12)
