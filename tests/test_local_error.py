# ART-EDM: learned time grids for EDM-style diffusion samplers.
# Copyright (c) 2026 The ART-EDM authors. Released under the MIT License (see LICENSE).

"""Tests for art.local_error and the multistep error models (docs/solver-aware-art.md §7-§9), on Gaussian
data where the PF-ODE trajectory and D along it are known in closed form."""

import numpy as np
import pytest
import torch

from art import local_error as le
from art import objective, sampler, schedules
from gauss_net import Gauss

S = 0.5   # data std
T = 80.0

def _exact(sigma, xT):
    """x(sigma) and D(x(sigma); sigma) for N(0, S^2) data, from x(T) = xT: x = xT sqrt(sigma^2+S^2)/sqrt(T^2+S^2)."""
    sigma = np.asarray(sigma, np.float64)[:, None]
    x = xT[None] * np.sqrt(sigma ** 2 + S ** 2) / np.sqrt(T ** 2 + S ** 2)
    return x, x * S ** 2 / (S ** 2 + sigma ** 2)

def _bank(n=4, N=3000):
    xT = np.random.default_rng(0).standard_normal(n) * T
    s = np.exp(np.linspace(np.log(T), np.log(0.002), N))
    s[0], s[-1] = T, 0.002
    x, D = _exact(s, xT)
    x0 = xT * S / np.sqrt(T ** 2 + S ** 2)
    return le.TrajectoryBank(s, x[:, :, None], D[:, :, None], x0[:, None]), xT

#----------------------------------------------------------------------------

@pytest.mark.parametrize('solver', ['euler', 'dpmpp-2m', 'dpmpp-3m', 'ipndm'])
def test_step_errors_match_the_sampler(solver):
    """The bank's step (23) from exact states equals art.sampler's update from the same states: the last step of
    sample() on the grid, run from the exact state at its first node, for a linear (Gaussian) denoiser whose
    history enters linearly is checked on a two-node grid (first step: no history)."""
    bank, xT = _bank()
    net = Gauss(s=S)
    for a, b in [(10.0, 6.0), (1.0, 0.7), (0.05, 0.03)]:
        x_a, _ = _exact([a], xT)
        x_b, _ = _exact([b], xT)
        grid = torch.tensor([a, b, 0.0], dtype=torch.float64)
        z = torch.as_tensor(x_a[0] / a).reshape(-1, 1, 1, 1)
        ours = sampler.sample(net, z, grid, solver=solver, final_step='none').flatten().numpy()
        e = le.local_error_vectors(bank, solver, [a, b, 0.0])[0, :, 0]
        np.testing.assert_allclose(ours - x_b[0], e, rtol=1e-5, atol=1e-9)

class _Scripted(torch.nn.Module):
    """A network returning script[k] on its k-th call (EDM's interface), whatever x and sigma are."""
    def __init__(self, script):
        super().__init__()
        self.script, self.calls, self.img_resolution, self.img_channels, self.label_dim = script, 0, 2, 1, 0
    def round_sigma(self, sigma):
        return torch.as_tensor(sigma)
    def forward(self, x, sigma, class_labels=None):
        self.calls += 1
        return self.script[self.calls - 1]

@pytest.mark.parametrize('solver', le.SOLVERS)
def test_steps_match_the_sampler_with_history(solver):
    """Every step of _steps (23), given the sampler's own states and denoised values as the history, lands on the
    sampler's next state: the warm start (orders 1, 2, 3 for dpmpp-3m), the real step ratios, all steps at once."""
    gen = torch.Generator().manual_seed(4)
    K = 9
    for s in (schedules.get_sigmas('edm', K, sigma_min=0.01, sigma_max=T).numpy()[:-1],
              np.sort(np.exp(np.random.default_rng(5).uniform(np.log(0.01), np.log(T), K)))[::-1]):
        script = [torch.randn(3, 1, 2, 2, generator=gen, dtype=torch.float64) for _ in range(K)]
        z = torch.randn(3, 1, 2, 2, generator=gen, dtype=torch.float64)
        states = sampler.trajectory(_Scripted(script), z, list(s) + [0.0], solver=solver, final_step='none')
        x = states.reshape(K, 3, -1).numpy()
        D = torch.stack(script).reshape(K, 3, -1).numpy()               # D[K-1] is never used
        np.testing.assert_allclose(le._steps(solver, s, x, D), x[1:], rtol=1e-12, atol=1e-12)

def test_dpmpp_3m_leading_term():
    """With exact history on equal lambda steps the 3M error is (3/8) h^4 D''' + O(h^5) (lambda frame): the Taylor
    remainder h^4 D'''/24 plus the interpolation errors of h D' and h^2 D'' (-h^3 D'''/3 and -h^3 D''') weighted by
    phi_2 ~ h/2 and phi_3 ~ h/6."""
    bank, xT = _bank(n=2, N=6000)
    lam0 = -np.log(0.8)
    Dl = lambda lam: _exact(np.exp(-np.atleast_1d(lam)), xT)[1][0]
    d = 1e-2
    D3 = (Dl(lam0 + 2 * d) - 2 * Dl(lam0 + d) + 2 * Dl(lam0 - d) - Dl(lam0 - 2 * d)) / (2 * d ** 3)
    ratios = []
    for h in (0.04, 0.02):
        lams = lam0 + h * np.array([-2.0, -1.0, 0.0, 1.0])
        e = -le.local_error_vectors(bank, 'dpmpp-3m', list(np.exp(-lams)) + [0.0])[2, :, 0]  # exact - step
        ratios.append(e / (3 / 8 * h ** 4 * D3))
    np.testing.assert_allclose(ratios[1], 1, rtol=0.06)
    assert np.all(np.abs(ratios[1] - 1) < np.abs(ratios[0] - 1) + 1e-3)

def test_dpmpp_2m_leading_term():
    """Eq. (20): the 2M error of a step with ratio r is h^3 [D'/12 + (1/6 + r/4) D''] + O(h^4) (lambda frame)."""
    bank, xT = _bank(n=2, N=6000)
    lam0 = -np.log(0.8)
    Dl = lambda lam: _exact(np.exp(-np.atleast_1d(lam)), xT)[1][0]
    d = 1e-3
    D1 = (Dl(lam0 + d) - Dl(lam0 - d)) / (2 * d)
    D2 = (Dl(lam0 + d) - 2 * Dl(lam0) + Dl(lam0 - d)) / d ** 2
    for r in (1.0, 1.5):
        ratios = []
        for h in (0.04, 0.02):
            lams = np.array([lam0 - r * h, lam0, lam0 + h])
            e = -le.local_error_vectors(bank, 'dpmpp-2m', list(np.exp(-lams)) + [0.0])[1, :, 0]  # exact - step
            ratios.append(e / (h ** 3 * (D1 / 12 + (1 / 6 + r / 4) * D2)))
        np.testing.assert_allclose(ratios[1], 1, rtol=0.06)             # converges to the prediction
        assert np.all(np.abs(ratios[1] - 1) < np.abs(ratios[0] - 1) + 1e-3)

def test_flow_derivatives_lambda_gaussian():
    """objective.flow_derivatives_lambda (D', D'' along the flow, eq. 21) against the closed form."""
    net = Gauss(s=S)
    xT = np.array([30.0, -50.0])
    for sigma in (20.0, 1.0, 0.1):
        x, _ = _exact([sigma], xT)
        Dl = lambda lam: _exact(np.exp(-np.atleast_1d(lam)), xT)[1][0]
        lam, d = -np.log(sigma), 1e-3
        D1 = (Dl(lam + d) - Dl(lam - d)) / (2 * d)
        D2 = (Dl(lam + d) - 2 * Dl(lam) + Dl(lam - d)) / d ** 2
        _D, est1, est2 = objective.flow_derivatives_lambda(net, torch.as_tensor(x[0]).reshape(-1, 1, 1, 1), sigma, rel_step=0.01)
        np.testing.assert_allclose(est1.flatten().numpy(), D1, rtol=1e-3)
        np.testing.assert_allclose(est2.flatten().numpy(), D2, rtol=2e-3)

#----------------------------------------------------------------------------

@pytest.mark.parametrize('solver', ['dpmpp-2m', 'dpmpp-3m', 'ipndm'])
def test_refine_lowers_the_cost_and_keeps_a_valid_grid(solver):
    bank, _ = _bank(n=8, N=400)
    for last_node in ('learned', 'pinned'):
        edm = schedules.get_sigmas('edm', 6, sigma_min=0.002, sigma_max=T).numpy()
        g = le.refine(bank, solver, edm, last_node=last_node, sigma_data=S)
        schedules.check_sigmas([float(v) for v in g])
        assert g[0] == T and len(g) == 7
        if last_node == 'pinned':
            assert abs(g[-2] - 0.002) < 1e-12
        assert le.surrogate(bank, solver, g, sigma_data=S) < 0.9 * le.surrogate(bank, solver, edm, sigma_data=S)

def test_bank_from_trajectories_records_D_at_the_nodes():
    net = Gauss(s=S, res=2)
    z = torch.randn(3, 1, 2, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    fine = schedules.get_sigmas('edm', 12, sigma_min=0.002, sigma_max=T)
    bank = le.bank_from_trajectories(net, fine, z)
    states = sampler.trajectory(net, z, fine, solver='heun')
    x, D = bank.at(fine[:-1].numpy())
    np.testing.assert_allclose(x, states[:-1].reshape(12, 3, -1).numpy(), rtol=1e-12)
    np.testing.assert_allclose(D, (states[:-1] * S ** 2 / (S ** 2 + fine[:-1, None, None, None, None] ** 2)).reshape(12, 3, -1).numpy(), rtol=1e-12)

def test_measured_propagation_is_the_gaussian_factor():
    """For N(0, S^2) data the flow is linear: an error at sigma reaches the sample scaled by S / sqrt(sigma^2 + S^2)."""
    net = Gauss(s=S, res=2)
    z = torch.randn(8, 1, 2, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    bank = le.bank_from_trajectories(net, schedules.get_sigmas('edm', 64, sigma_min=0.002, sigma_max=T), z)
    w = le.measured_propagation(net, bank, num_probes=6, steps=64)
    sig = np.exp(np.linspace(np.log(T), np.log(0.002), 6))            # the probe levels
    np.testing.assert_allclose(w(sig), S / np.sqrt(sig ** 2 + S ** 2), rtol=0.02)

#----------------------------------------------------------------------------

#----------------------------------------------------------------------------

def test_spline_density_gaussian():
    """Eq. (31) on a bank of exact trajectories on EDM's 128-node grid: |Q| = |D'|/sigma^2 and the 2M density
    |D'/12 + 5 D''/12|/sigma^3 from the D spline against D', D'' by central differences of the exact D
    (N(0, S^2) data), away from the ends of the spline and from the 2M density's zero at sigma = 1.22 S."""
    xT = np.random.default_rng(1).standard_normal(3) * T
    s = schedules.get_sigmas('edm', 128, sigma_min=0.002, sigma_max=T).numpy()[:-1]
    s[0], s[-1] = T, 0.002
    x, D = _exact(s, xT)
    bank = le.TrajectoryBank(s, x[:, :, None], D[:, :, None], (xT * S / np.sqrt(T ** 2 + S ** 2))[:, None])
    Dl = lambda lam: _exact(np.exp(-lam), xT)[1]
    lam, d = -np.log(s), 1e-4
    D1 = (Dl(lam + d) - Dl(lam - d)) / (2 * d)
    D2 = (Dl(lam + d) - 2 * Dl(lam) + Dl(lam - d)) / d ** 2
    inner = slice(3, -3)
    for solver, want in (('euler', np.abs(D1).mean(1) / s ** 2), ('dpmpp-2m', np.abs(D1 / 12 + 5 * D2 / 12).mean(1) / s ** 3)):
        sig, got = le.spline_density(bank, solver)
        np.testing.assert_array_equal(sig, s)
        keep = np.abs(np.log(s / (1.22 * S))) > 0.3 if solver == 'dpmpp-2m' else np.ones(len(s), bool)
        np.testing.assert_allclose(got[inner][keep[inner]], want[inner][keep[inner]], rtol=0.01 if solver == 'euler' else 0.03)
    with pytest.raises(Exception, match='spline density'):
        le.spline_density(bank, 'ipndm')
