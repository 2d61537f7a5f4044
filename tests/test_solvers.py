# ART-EDM: learned time grids for EDM-style diffusion samplers.
# Copyright (c) 2026 The ART-EDM authors. Released under the MIT License (see LICENSE).

"""Tests of the solvers of art.sampler.sample() beyond Euler/Heun (solvers.md §2-5): convergence
order against exact solutions, DPM-Solver++(2M) and (3M) against independent NumPy implementations,
the 3M warm start, the iPNDM update against the Adams-Bashforth formulas, one RK4 step against the Taylor polynomial, the
NFE of every solver x final step x AFS, and the non-finite guard."""

import importlib.util
import math

import numpy as np
import pytest
import torch

import dnnlib
from art import sampler
from art.builtin import load_network
from art.schedules import get_sigmas

needs_sklearn = pytest.mark.skipif(importlib.util.find_spec('sklearn') is None, reason='builtin:gmm-digits needs scikit-learn')

#----------------------------------------------------------------------------
# Test networks with EDM's interface.

class FnNet(torch.nn.Module):
    """D(x; sigma) = fn(x, sigma) in float64; counts calls and records the sigmas."""
    def __init__(self, fn, img_resolution=1):
        super().__init__()
        self.fn, self.seen = fn, []
        self.sigma_min, self.sigma_max, self.sigma_data, self.label_dim = 0.0, math.inf, 1.0, 0
        self.img_resolution, self.img_channels = img_resolution, 1
    def round_sigma(self, sigma):
        return torch.as_tensor(sigma)
    def forward(self, x, sigma, class_labels=None):
        assert isinstance(sigma, torch.Tensor) and sigma.ndim == 0 and sigma.dtype == torch.float64
        self.seen.append(float(sigma))
        return self.fn(x.to(torch.float64), sigma)

SA = 0.7 # below SA the bump ODE is non-trivial; above it x(sigma) is linear in sigma

def bump_g(s):
    """g(s) = exp(-1/(SA - s)) for s < SA, else 0 (C-infinity)."""
    return math.exp(-1 / (SA - s)) if s < SA else 0.0

def bump_net():
    """D = sigma g'(sigma) x, so dx/dsigma = (1/sigma - g') x and x(sigma) = x_0 (sigma/sigma_0) exp(-g(sigma)):
    every consistent method is exact while sigma > SA, which isolates the multistep orders from their start."""
    def fn(x, sigma):
        s = float(sigma)
        gp = -bump_g(s) / (SA - s) ** 2 if s < SA else 0.0
        return x * (s * gp)
    return FnNet(fn)

def log_slope(Ks, errs):
    return -np.polyfit(np.log(Ks), np.log(errs), 1)[0]

def uniform_grid(K, hi, lo):
    return torch.cat([torch.linspace(hi, lo, K, dtype=torch.float64), torch.zeros(1, dtype=torch.float64)])

#----------------------------------------------------------------------------
# Convergence orders (final_step='none': the error at the last non-zero node).

def bump_errors(solver, Ks):
    x0 = torch.ones(1, 1, 1, 1, dtype=torch.float64)
    exact = 0.1 * math.exp(-bump_g(0.1)) # sigma_0 = 1
    return [abs(sampler.sample(bump_net(), x0, uniform_grid(K, 1.0, 0.1), solver=solver, final_step='none').item() - exact) for K in Ks]

@pytest.mark.parametrize('solver', sampler.SOLVERS)
def test_order_on_equal_steps(solver):
    Ks = [32, 45, 64, 91, 128]
    slope = log_slope(Ks, bump_errors(solver, Ks))
    assert abs(slope - sampler.SOLVER_ORDER[solver]) < 0.3, slope

def test_order_test_detects_wrong_ab4_coefficients(monkeypatch):
    Ks = [32, 45, 64, 91, 128]
    good = log_slope(Ks, bump_errors('ipndm', Ks))
    wrong = list(sampler.IPNDM_COEFFS)
    wrong[3] = (55 / 24, -59 / 24, 38 / 24, -10 / 24) # consistent (sums to 1) but not AB4
    monkeypatch.setattr(sampler, 'IPNDM_COEFFS', tuple(wrong))
    bad = log_slope(Ks, bump_errors('ipndm', Ks))
    assert good > 3.7 and bad < 2.5, (good, bad)

def log_grid(K, hi, lo):
    """K noise levels equally spaced in lambda = -log sigma from hi to lo, then 0."""
    return torch.cat([torch.exp(torch.linspace(math.log(hi), math.log(lo), K, dtype=torch.float64)), torch.zeros(1, dtype=torch.float64)])

#----------------------------------------------------------------------------
@pytest.mark.parametrize('solver', ['euler', 'heun', 'dpmpp-2m', 'rk4'])
def test_order_gauss1d_exact_solution(solver):
    net = load_network('builtin:gauss1d')
    z = torch.randn(64, 1, 1, 1, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    T = 3.0 # x(sigma) = x_T sqrt(1 + sigma^2)/sqrt(1 + T^2) for N(0, 1) data
    Ks = [16, 23, 32, 45, 64]
    errs = []
    for K in Ks:
        sig = get_sigmas('edm', K, net=net)
        exact = z * T * math.sqrt(1 + float(sig[-2]) ** 2) / math.sqrt(1 + T ** 2)
        errs.append((sampler.sample(net, z, sig, solver=solver, final_step='none') - exact).abs().max().item())
    slope = log_slope(Ks, errs)
    assert abs(slope - sampler.SOLVER_ORDER[solver]) < 0.3, slope

#----------------------------------------------------------------------------
def test_dpmpp_3m_warm_start_order_gauss1d():
    # On EDM's grid for N(0, 1) data the error of the Euler first step of the warm start (local O(h^2)),
    # carried to sigma_{K-1} by the exact linear flow, dominates: order 2 in all. The rest is order 3.
    net = load_network('builtin:gauss1d')
    z = torch.randn(64, 1, 1, 1, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    T = 3.0
    exact = lambda s: z * T * math.sqrt(1 + s ** 2) / math.sqrt(1 + T ** 2)
    Ks = [64, 91, 128, 181, 256]
    total, rest = [], []
    for K in Ks:
        sig = get_sigmas('edm', K, net=net)
        s1, s_end = float(sig[1]), float(sig[-2])
        err = sampler.sample(net, z, sig, solver='dpmpp-3m', final_step='none') - exact(s_end)
        first = (sampler.sample(net, z, sig[[0, 1, -1]], solver='euler', final_step='none') - exact(s1)) * math.sqrt(1 + s_end ** 2) / math.sqrt(1 + s1 ** 2)
        total.append(err.abs().max().item())
        rest.append((err - first).abs().max().item())
    assert abs(log_slope(Ks, total) - 2) < 0.3 and abs(log_slope(Ks, rest) - 3) < 0.3, (log_slope(Ks, total), log_slope(Ks, rest))

#----------------------------------------------------------------------------
@needs_sklearn
def test_order_gmm_digits_against_reference():
    # On EDM's rho=7 grid iPNDM's equal-step coefficients ignore the step ratios: order 2 there.
    expected = dict(sampler.SOLVER_ORDER, ipndm=2)
    net = load_network('builtin:gmm-digits')
    z = torch.randn(32, 1, 8, 8, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    labels = torch.eye(10, dtype=torch.float64)[torch.arange(32) % 10]
    ref = sampler.sample(net, z, get_sigmas('edm', 512, net=net), labels, solver='rk4', final_step='none')
    Ks = [32, 45, 64, 91, 128]
    slopes = {}
    for solver in sampler.SOLVERS:
        errs = [(sampler.sample(net, z, get_sigmas('edm', K, net=net), labels, solver=solver, final_step='none') - ref).square().mean().sqrt().item() for K in Ks]
        slopes[solver] = log_slope(Ks, errs)
    assert all(abs(slopes[s] - expected[s]) < 0.3 for s in sampler.SOLVERS), slopes

#----------------------------------------------------------------------------
# Update rules against independent implementations.

def numpy_dpmpp_2m(D, x, sig):
    """DPM-Solver++(2M) written out in t = -log(sigma) with exp(-h) (Lu et al. 2022, Alg. 2, alpha = 1)."""
    old = None
    for i in range(len(sig) - 1):
        den = D(x, sig[i])
        if sig[i + 1] == 0:
            x = den
        else:
            t, t_next = -math.log(sig[i]), -math.log(sig[i + 1])
            h = t_next - t
            if old is None:
                x = math.exp(-h) * x - math.expm1(-h) * den
            else:
                r = (t - (-math.log(sig[i - 1]))) / h
                x = math.exp(-h) * x - math.expm1(-h) * ((1 + 1 / (2 * r)) * den - (1 / (2 * r)) * old)
        old = den
    return x

@needs_sklearn
@pytest.mark.parametrize('final_step', ['euler', 'none'])
def test_dpmpp_2m_matches_independent_implementation(final_step):
    net = load_network('builtin:gmm-digits')
    z = torch.randn(6, 1, 8, 8, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    labels = torch.eye(10, dtype=torch.float64)[[0, 3, 5, 7, 8, 9]]
    sig = get_sigmas('logsnr', 7, net=net)
    x = sampler.sample(net, z, sig, labels, solver='dpmpp-2m', final_step=final_step)
    grid = sig.tolist() if final_step == 'euler' else sig.tolist()[:-1]
    ref = numpy_dpmpp_2m(lambda y, s: net(torch.as_tensor(y), torch.tensor(s, dtype=torch.float64), labels).numpy(), z.numpy() * grid[0], grid)
    np.testing.assert_allclose(x.numpy(), ref, rtol=1e-12, atol=1e-12)
    assert np.abs(ref).max() > 0.1

#----------------------------------------------------------------------------
def numpy_dpmpp_3m(D, x, sig, d2_weight=2.0):
    """DPM-Solver++(3M) written out in t = -log(sigma) (Lu et al. 2022, alpha = 1) in the paper's variables:
    r0 = h_{i-1}/h, r1 = h_{i-2}/h, D1_0 = (D_i - D_{i-1})/r0, D1_1 = (D_{i-1} - D_{i-2})/r1,
    D1 = D1_0 + r0 (D1_0 - D1_1)/(r0 + r1) (= h D'), D2 = (D1_0 - D1_1)/(r0 + r1) (= h^2 D''/2), and
    x = e^{-h} x + (1 - e^{-h}) D_i + phi_2 D1 + d2_weight phi_3 D2, phi_2 = 1 - (1 - e^{-h})/h, phi_3 = 1/2 - phi_2/h,
    where h^k phi_{k+1} = int_0^h e^{-(h-s)} s^k/k! ds. d2_weight = 2 is the Taylor weight of D''/2; d2_weight = 1
    is the weight phi_3 alone that k-diffusion's sample_dpmpp_3m_sde (eta = 0) gives D2. First step first order,
    second the 2M rule (Alg. 2), the step to 0 x = D."""
    hist = []
    for i in range(len(sig) - 1):
        den = D(x, sig[i])
        if sig[i + 1] == 0:
            x = den
        else:
            h = math.log(sig[i]) - math.log(sig[i + 1])
            x_next = math.exp(-h) * x - math.expm1(-h) * den
            if len(hist) == 1:
                r0 = (math.log(sig[i - 1]) - math.log(sig[i])) / h
                x_next = x_next - math.expm1(-h) * (den - hist[-1]) / (2 * r0)
            elif len(hist) >= 2:
                r0 = (math.log(sig[i - 1]) - math.log(sig[i])) / h
                r1 = (math.log(sig[i - 2]) - math.log(sig[i - 1])) / h
                D1_0, D1_1 = (den - hist[-1]) / r0, (hist[-1] - hist[-2]) / r1
                D1 = D1_0 + r0 * (D1_0 - D1_1) / (r0 + r1)
                D2 = (D1_0 - D1_1) / (r0 + r1)
                phi_2 = 1 + math.expm1(-h) / h
                phi_3 = 0.5 - phi_2 / h
                x_next = x_next + phi_2 * D1 + d2_weight * phi_3 * D2
            x = x_next
        hist.append(den)
    return x

@needs_sklearn
@pytest.mark.parametrize('grid,final_step', [('edm', 'euler'), ('edm', 'none'), ('logsnr', 'none')])
def test_dpmpp_3m_matches_independent_implementation(grid, final_step):
    net = load_network('builtin:gmm-digits')
    z = torch.randn(6, 1, 8, 8, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    labels = torch.eye(10, dtype=torch.float64)[[0, 3, 5, 7, 8, 9]]
    sig = get_sigmas(grid, 8, net=net)
    x = sampler.sample(net, z, sig, labels, solver='dpmpp-3m', final_step=final_step)
    nodes = sig.tolist() if final_step == 'euler' else sig.tolist()[:-1]
    ref = numpy_dpmpp_3m(lambda y, s: net(torch.as_tensor(y), torch.tensor(s, dtype=torch.float64), labels).numpy(), z.numpy() * nodes[0], nodes)
    np.testing.assert_allclose(x.numpy(), ref, rtol=1e-11, atol=1e-11)
    assert np.abs(ref).max() > 0.1
    two_m = sampler.sample(net, z, sig, labels, solver='dpmpp-2m', final_step=final_step)
    assert (x - two_m).abs().max() > 1e-4 # the third-order steps change the result

def test_dpmpp_3m_order_on_equal_lambda_steps():
    # The bump ODE is exact while sigma > SA, so the warm start is exact: the slope is the 3M rule's. The same
    # test run on the update with D2 weighted by phi_3 alone (half the Taylor term of D'') measures order 2.
    x0 = torch.ones(1, 1, 1, 1, dtype=torch.float64)
    exact = 0.2 * math.exp(-bump_g(0.2)) # sigma_0 = 1
    Ks = [64, 91, 128, 181, 256]
    errs = [abs(sampler.sample(bump_net(), x0, log_grid(K, 1.0, 0.2), solver='dpmpp-3m', final_step='none').item() - exact) for K in Ks]
    slope = log_slope(Ks, errs)
    assert abs(slope - 3) < 0.3, slope
    bump = lambda x, s: float(bump_net()(torch.tensor(x, dtype=torch.float64), torch.tensor(s, dtype=torch.float64)))
    for K in Ks[:2]:                                      # the NumPy 3M is the sampler's
        ours = sampler.sample(bump_net(), x0, log_grid(K, 1.0, 0.2), solver='dpmpp-3m', final_step='none').item()
        assert abs(numpy_dpmpp_3m(bump, 1.0, log_grid(K, 1.0, 0.2).tolist()[:-1]) - ours) < 1e-13
    half = [abs(numpy_dpmpp_3m(bump, 1.0, log_grid(K, 1.0, 0.2).tolist()[:-1], d2_weight=1.0) - exact) for K in Ks]
    assert log_slope(Ks, half) < 2.5, log_slope(Ks, half)

def test_dpmpp_3m_warm_start_is_2m():
    # Orders 1 and 2 on the first two steps: on grids with at most two steps between non-zero levels 3M is 2M.
    net = load_network('builtin:gauss1d')
    z = torch.randn(5, 1, 1, 1, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    sig = get_sigmas('edm', 6, net=net)
    for grid, final_step in [(sig[[0, 2, 4, 6]], 'euler'), (sig[[0, 1, 3, 6]], 'none'), (sig[[0, 3, 6]], 'euler'), (sig[[0, 6]], 'euler')]:
        torch.testing.assert_close(sampler.sample(net, z, grid, solver='dpmpp-3m', final_step=final_step),
            sampler.sample(net, z, grid, solver='dpmpp-2m', final_step=final_step), rtol=1e-14, atol=1e-14)
    assert not torch.allclose(sampler.sample(net, z, sig, solver='dpmpp-3m'), sampler.sample(net, z, sig, solver='dpmpp-2m'), rtol=1e-6)

#----------------------------------------------------------------------------
@pytest.mark.parametrize('max_order,final_step', [(4, 'none'), (4, 'euler'), (2, 'none')])
def test_ipndm_adams_bashforth_formulas(max_order, final_step):
    # A net returning scripted values: D_k on its k-th call, so d_k = (x_k - D_k)/sigma_k.
    gen = torch.Generator().manual_seed(2)
    script = [torch.randn(3, 1, 2, 2, generator=gen, dtype=torch.float64) for _ in range(8)]
    calls = iter(script)
    net = FnNet(lambda x, s: next(calls), img_resolution=2)
    sig = get_sigmas('edm', 7, sigma_min=0.1, sigma_max=10).tolist()
    z = torch.randn(3, 1, 2, 2, generator=gen, dtype=torch.float64)
    out = sampler.sample(net, z, sig, solver='ipndm', final_step=final_step, max_order=max_order)
    ab = {1: lambda d: d[-1], 2: lambda d: (3 * d[-1] - d[-2]) / 2, 3: lambda d: (23 * d[-1] - 16 * d[-2] + 5 * d[-3]) / 12,
          4: lambda d: (55 * d[-1] - 59 * d[-2] + 37 * d[-3] - 9 * d[-4]) / 24}
    x, ds = z * sig[0], []
    steps = 7 if final_step == 'euler' else 6
    for i in range(steps):
        ds.append((x - script[i]) / sig[i])
        q = 1 if i == 6 else min(max_order, i + 1) # Euler on the step to 0
        x = x + (sig[i + 1] - sig[i]) * ab[q](ds)
    torch.testing.assert_close(out, x, rtol=1e-13, atol=1e-13)

#----------------------------------------------------------------------------
def test_ipndm_order_1_and_dpmpp_first_step_are_euler():
    net = load_network('builtin:gauss1d')
    z = torch.randn(5, 1, 1, 1, generator=torch.Generator().manual_seed(3))
    sig = get_sigmas('edm', 6, net=net)
    euler = sampler.sample(net, z, sig, solver='euler')
    torch.testing.assert_close(sampler.sample(net, z, sig, solver='ipndm', max_order=1), euler, rtol=1e-14, atol=1e-14)
    one = sig[[0, 1, 6]]
    torch.testing.assert_close(sampler.sample(net, z, one, solver='dpmpp-2m', final_step='none'),
        sampler.sample(net, z, one, solver='euler', final_step='none'), rtol=1e-14, atol=1e-14)
    assert not torch.allclose(sampler.sample(net, z, sig, solver='ipndm'), euler, rtol=1e-3)

#----------------------------------------------------------------------------
@pytest.mark.parametrize('solver,degree', [('rk4', 4), ('heun', 2), ('euler', 1)])
def test_one_step_on_linear_ode_is_the_taylor_polynomial(solver, degree):
    # D = (1 - a sigma) x gives dx/dsigma = a x; one step of an order-p Runge-Kutta method multiplies
    # x by the degree-p Taylor polynomial of exp(a h).
    a, s0, s1 = 0.8, 2.0, 1.3
    net = FnNet(lambda x, s: (1 - a * s) * x)
    z = torch.tensor([1.0, -2.0], dtype=torch.float64).reshape(2, 1, 1, 1)
    x = sampler.sample(net, z, [s0, s1, 0.0], solver=solver, final_step='none')
    ah = a * (s1 - s0)
    taylor = sum(ah ** k / math.factorial(k) for k in range(degree + 1))
    torch.testing.assert_close(x, z * s0 * taylor, rtol=1e-14, atol=0)
    assert abs(taylor - math.exp(ah)) > 1e-6 # the test tells the degrees apart

#----------------------------------------------------------------------------
# Conventions and NFE.

SPEC_NFE = { # solvers.md §1-5, per final step; AFS saves one call (when there is one)
    'euler': lambda K: dict(euler=K, none=K - 1, denoise=K),
    'heun': lambda K: dict(euler=2 * K - 1, none=2 * (K - 1), denoise=2 * K - 1),
    'dpmpp-2m': lambda K: dict(euler=K, none=K - 1, denoise=K),
    'dpmpp-3m': lambda K: dict(euler=K, none=K - 1, denoise=K),
    'ipndm': lambda K: dict(euler=K, none=K - 1, denoise=K),
    'rk4': lambda K: dict(euler=4 * K - 3, none=4 * (K - 1), denoise=4 * K - 3),
}

@pytest.mark.parametrize('solver', sampler.SOLVERS)
@pytest.mark.parametrize('final_step', sampler.FINAL_STEPS)
@pytest.mark.parametrize('afs', [False, True])
def test_nfe_every_solver_and_convention(solver, final_step, afs):
    assert set(SPEC_NFE) == set(sampler.SOLVERS)
    for K in range(1, 7):
        net = FnNet(lambda x, s: x / (1 + s ** 2))
        steps = []
        sig = get_sigmas('edm', K, sigma_min=0.002, sigma_max=80)
        x, nfe = sampler.sample(net, torch.ones(2, 1, 1, 1), sig, solver=solver, final_step=final_step, afs=afs,
            return_nfe=True, callback=lambda i, t, y: steps.append(i))
        expected = max(SPEC_NFE[solver](K)[final_step] - int(afs), 0)
        assert nfe == len(net.seen) == expected == sampler.count_nfe(solver, K, final_step=final_step, afs=afs)
        assert steps == list(range(K - 1 if final_step == 'none' else K))
        assert x.dtype == torch.float64 and torch.isfinite(x).all()

#----------------------------------------------------------------------------
@pytest.mark.parametrize('solver', sampler.SOLVERS)
def test_final_step_conventions_agree(solver):
    net = load_network('builtin:gauss1d')
    z = torch.randn(4, 1, 1, 1, generator=torch.Generator().manual_seed(4))
    sig = get_sigmas('edm', 5, net=net)
    states = {}
    full = sampler.sample(net, z, sig, solver=solver, callback=lambda i, t, x: states.__setitem__(i, x))
    none = sampler.sample(net, z, sig, solver=solver, final_step='none')
    denoise = sampler.sample(net, z, sig, solver=solver, final_step='denoise')
    assert torch.equal(none, states[3]) # the state at sigma_{K-1}
    torch.testing.assert_close(denoise, net(none, sig[-2]).double(), rtol=0, atol=0)
    torch.testing.assert_close(full, denoise, rtol=1e-12, atol=1e-12) # an Euler step to 0 is D(x; sigma_{K-1})

#----------------------------------------------------------------------------
def test_afs_first_direction():
    net = FnNet(lambda x, s: 0 * x)
    z = torch.tensor([0.5, -1.5], dtype=torch.float64).reshape(2, 1, 1, 1)
    s0, s1 = 10.0, 4.0
    x, nfe = sampler.sample(net, z, [s0, s1, 0.0], solver='euler', final_step='none', afs=True, return_nfe=True)
    x0 = z * s0
    torch.testing.assert_close(x, x0 + (s1 - s0) * x0 / math.sqrt(1 + s0 ** 2), rtol=1e-14, atol=0)
    assert nfe == 0 and net.seen == []
    for solver in ('dpmpp-2m', 'dpmpp-3m'):
        y = sampler.sample(net, z, [s0, s1, 0.0], solver=solver, final_step='none', afs=True)
        torch.testing.assert_close(y, x, rtol=1e-14, atol=0) # D_0 = x_0 - sigma_0 d_0 gives the same first step

#----------------------------------------------------------------------------
def test_user_errors():
    net = FnNet(lambda x, s: x)
    z, sig = torch.ones(1, 1, 1, 1), get_sigmas('edm', 3)
    for kwargs in [dict(solver='rk4', S_churn=10), dict(solver='heun', final_step='last'), dict(solver='ipndm', max_order=5),
                   dict(solver='dpm')]:
        with pytest.raises(dnnlib.UserError):
            sampler.sample(net, z, sig, **kwargs)
    with pytest.raises(dnnlib.UserError):
        sampler.count_nfe('heun', 3, final_step='zero')

#----------------------------------------------------------------------------
# Non-finite guard.

def nan_below_one(x, sigma):
    return x * float('nan') if float(sigma) < 1 else x / (1 + sigma ** 2)

@pytest.mark.parametrize('solver', sampler.SOLVERS)
def test_non_finite_guard_names_the_step(solver):
    sig = get_sigmas('edm', 8, sigma_min=0.002, sigma_max=80)
    s = sig.tolist()
    # The first step that evaluates the net below sigma = 1: at its start (one-stage solvers) or at its end.
    first_bad = next(i for i in range(8) if (s[i + 1] if solver in ('heun', 'rk4') else s[i]) < 1)
    with pytest.raises(dnnlib.UserError, match=rf'non-finite samples at sigma={s[first_bad + 1]:.6g} \(step {first_bad}, from sigma={s[first_bad]:.6g}\)'):
        sampler.sample(FnNet(nan_below_one), torch.ones(2, 1, 1, 1), sig, solver=solver)
    x = sampler.sample(FnNet(nan_below_one), torch.ones(2, 1, 1, 1), sig, solver=solver, check_finite=False)
    assert torch.isnan(x).all()

def test_non_finite_guard_ablation_sampler():
    sig = get_sigmas('edm', 6, sigma_min=0.002, sigma_max=80)
    with pytest.raises(dnnlib.UserError, match='non-finite samples at sigma='):
        sampler.ablation_sample(FnNet(nan_below_one), torch.ones(2, 1, 1, 1), sig, sigma_schedule='vp', scaling='vp')
    x = sampler.sample(FnNet(lambda x, s: x / (1 + s ** 2)), torch.ones(2, 1, 1, 1), sig)
    assert torch.isfinite(x).all()

#----------------------------------------------------------------------------
# generate.py's plan: the new solvers go through sample(), never the ablation sampler.

@pytest.mark.parametrize('solver', ['dpmpp-2m', 'dpmpp-3m', 'ipndm', 'rk4'])
def test_generate_plan_new_solvers(solver):
    import generate # pylint: disable=import-outside-toplevel
    net = load_network('builtin:gauss1d')
    common = dict(grid='edm', grid_given=True, num_steps=5, sigma_min=None, sigma_max=None, rho=7, solver=solver,
        S_churn=0, S_min=0, S_max=float('inf'), S_noise=1, device='cpu')
    run, nfe = generate.make_plan(net, sigma_schedule=None, scaling=None, **common)
    z = torch.randn(3, 1, 1, 1, generator=torch.Generator().manual_seed(5))
    assert nfe == SPEC_NFE[solver](5)['euler']
    assert torch.equal(run(z, None, torch.randn_like), sampler.sample(net, z, get_sigmas('edm', 5, net=net), solver=solver))
    _run, nfe = generate.make_plan(net, sigma_schedule=None, scaling=None, final_step='none', afs=True, **common)
    assert nfe == SPEC_NFE[solver](5)['none'] - 1
    with pytest.raises(dnnlib.UserError):
        generate.make_plan(net, sigma_schedule='vp', scaling=None, **common)

#----------------------------------------------------------------------------
