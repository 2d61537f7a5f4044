# ART-EDM: learned time grids for EDM-style diffusion samplers.
# Copyright (c) 2026 The ART-EDM authors. Released under the MIT License (see LICENSE).

"""Tests of art.sampler: the sigma sequences of edm-spec.md §2.5-2.6 (recording dummy nets), NFE,
the per-step draw, Algorithm 2 against an independent NumPy implementation, convergence to the exact
Gaussian solution, ablation sampler == EDM sampler, and StackedRandomGenerator (§2.3)."""

import math

import numpy as np
import pytest
import torch

import dnnlib
from art import sampler
from art.schedules import get_sigmas

#----------------------------------------------------------------------------
# Small networks with EDM's interface.

class GaussNet(torch.nn.Module):
    """Exact denoiser of N(0, sd^2) data, D = x sd^2/(sd^2 + sigma^2); records every sigma it sees."""
    def __init__(self, sigma_min=0.0, sigma_max=math.inf, sd=0.5, out_dtype=torch.float32, label_dim=0):
        super().__init__()
        self.sigma_min, self.sigma_max, self.sigma_data = sigma_min, sigma_max, sd
        self.img_resolution, self.img_channels, self.label_dim = 2, 1, label_dim
        self.out_dtype, self.seen = out_dtype, []
    def round_sigma(self, sigma):
        return torch.as_tensor(sigma)
    def forward(self, x, sigma, class_labels=None):
        assert isinstance(sigma, torch.Tensor) and sigma.ndim == 0 and sigma.dtype == torch.float64
        self.seen.append(float(sigma))
        sd2 = self.sigma_data ** 2
        return (x.to(torch.float64) * (sd2 / (sd2 + sigma ** 2))).to(self.out_dtype)

#----------------------------------------------------------------------------
class TinyNet(torch.nn.Module):
    """A random conditional conv net with EDM's preconditioning (non-linear in x and sigma)."""
    def __init__(self, label_dim=3):
        super().__init__()
        gen = torch.Generator().manual_seed(0)
        self.sigma_min, self.sigma_max, self.sigma_data, self.label_dim = 0.0, math.inf, 0.5, label_dim
        self.img_resolution, self.img_channels = 4, 2
        self.conv = torch.nn.Conv2d(2, 2, 3, padding=1)
        self.emb = torch.nn.Linear(label_dim + 1, 2)
        with torch.no_grad():
            for p in self.parameters():
                p.copy_(torch.randn(p.shape, generator=gen) * 0.5)
        self.requires_grad_(False)
    def round_sigma(self, sigma):
        return torch.as_tensor(sigma)
    def forward(self, x, sigma, class_labels=None):
        sigma = sigma.to(torch.float32).reshape(-1, 1, 1, 1)
        sd = self.sigma_data
        c_skip, c_out = sd ** 2 / (sigma ** 2 + sd ** 2), sigma * sd / (sigma ** 2 + sd ** 2).sqrt()
        c_in, c_noise = 1 / (sd ** 2 + sigma ** 2).sqrt(), sigma.log() / 4
        cond = torch.cat([c_noise.reshape(-1, 1).expand(x.shape[0], 1), class_labels], dim=1)
        F = torch.tanh(self.conv((c_in * x).to(torch.float32)) + self.emb(cond)[:, :, None, None])
        return c_skip * x.to(torch.float32) + c_out * F

#----------------------------------------------------------------------------
def recording_randn(seed=0):
    """randn_like drawing float64 noise from a fixed generator and keeping every draw."""
    gen, draws = torch.Generator().manual_seed(seed), []
    def randn_like(x):
        draws.append(torch.randn(x.shape, dtype=x.dtype, generator=gen))
        return draws[-1]
    return randn_like, draws

#----------------------------------------------------------------------------
# Spec test vectors: the sigmas the network sees with N = 6.

EDM6 = [80, 24.408342, 24.408342, 5.838948, 5.838948, 0.965417, 0.965417, 0.085087, 0.085087, 0.002, 0.002]
VECTORS = [
    ('edm', sampler.edm_sampler, dict(), (0.0, math.inf), EDM6),
    ('euler', sampler.ablation_sampler, dict(solver='euler'), (0.0, math.inf), [80, 24.408342, 5.838948, 0.965417, 0.085087, 0.002]),
    ('vp/vp/vp', sampler.ablation_sampler, dict(discretization='vp', schedule='vp', scaling='vp'), (0.0009765625, 152.16697),
        [152.16697] + [v for v in [25.148852, 6.111663, 2.034429, 0.723807, 0.010486] for _ in range(2)]),
    ('ve/ve/none', sampler.ablation_sampler, dict(discretization='ve', schedule='ve', scaling='none'), (0.02, 100),
        [100] + [v for v in [18.205642, 3.314454, 0.603418, 0.109856, 0.02] for _ in range(2)]),
    ('iddpm', sampler.ablation_sampler, dict(discretization='iddpm', schedule='linear', scaling='none'), (0.006422337, 20291.17),
        [80.203676] + [v for v in [3.007102, 1.372616, 0.730674, 0.33399, 0.006422] for _ in range(2)]),
]

#----------------------------------------------------------------------------
@pytest.mark.parametrize('name,fn,kwargs,net_range,expected', VECTORS, ids=[v[0] for v in VECTORS])
def test_spec_sigma_sequences(name, fn, kwargs, net_range, expected):
    net = GaussNet(*net_range)
    x, nfe = fn(net, torch.randn(2, 1, 2, 2), num_steps=6, return_nfe=True, **kwargs)
    assert nfe == len(expected) == len(net.seen)
    # Spec values are printed to 6 decimals: relative 1e-6, or half a unit in the 6th decimal.
    np.testing.assert_allclose(net.seen, expected, rtol=1e-6, atol=5e-7)
    assert x.dtype == torch.float64 and torch.isfinite(x).all()

#----------------------------------------------------------------------------

@pytest.mark.parametrize('solver', ['euler', 'heun'])
@pytest.mark.parametrize('K', [1, 2, 5])
def test_nfe_and_one_draw_per_step(solver, K):
    net = GaussNet()
    randn_like, draws = recording_randn()
    latents = torch.randn(3, 1, 2, 2)
    x, nfe = sampler.sample(net, latents, get_sigmas('edm', K), solver=solver, randn_like=randn_like, return_nfe=True)
    assert nfe == len(net.seen) == sampler.count_nfe(solver, K) == (2 * K - 1 if solver == 'heun' else K)
    assert len(draws) == K and all(d.dtype == torch.float64 and d.shape == latents.shape for d in draws)
    assert x.dtype == torch.float64 and x.shape == latents.shape
    with pytest.raises(dnnlib.UserError):
        sampler.count_nfe('midpoint', K)

#----------------------------------------------------------------------------
def numpy_algorithm2(lat, sig, noise, heun, S_churn=0.0, S_min=0.0, S_max=np.inf, S_noise=1.0, sd=0.5):
    """Independent float64 implementation of EDM Algorithm 2 for the Gaussian denoiser (float32 output)."""
    def D(x, s):
        return (x * (sd ** 2 / (sd ** 2 + s ** 2))).astype(np.float32).astype(np.float64)
    N = len(sig) - 1
    x = lat.astype(np.float64) * sig[0]
    for i in range(N):
        t_cur, t_next = sig[i], sig[i + 1]
        gamma = min(S_churn / N, math.sqrt(2) - 1) if S_min <= t_cur <= S_max else 0.0
        t_hat = t_cur + gamma * t_cur
        x_hat = x + math.sqrt(t_hat ** 2 - t_cur ** 2) * S_noise * noise[i]
        d = (x_hat - D(x_hat, t_hat)) / t_hat
        x_new = x_hat + (t_next - t_hat) * d
        if heun and i < N - 1:
            x_new = x_hat + (t_next - t_hat) * (0.5 * d + 0.5 * (x_new - D(x_new, t_next)) / t_next)
        x = x_new
    return x

#----------------------------------------------------------------------------
@pytest.mark.parametrize('solver', ['euler', 'heun'])
@pytest.mark.parametrize('churn', [dict(), dict(S_churn=40, S_min=0.05, S_max=50, S_noise=1.003)])
def test_matches_numpy_algorithm2(solver, churn):
    latents = torch.randn(4, 1, 2, 2, generator=torch.Generator().manual_seed(1))
    sig = get_sigmas('edm', 8)
    randn_like, draws = recording_randn(2)
    x = sampler.sample(GaussNet(), latents, sig, solver=solver, randn_like=randn_like, **churn)
    ref = numpy_algorithm2(latents.numpy(), sig.tolist(), [d.numpy() for d in draws], solver == 'heun', **churn)
    np.testing.assert_allclose(x.numpy(), ref, rtol=1e-12, atol=1e-13)
    if churn: # churn really adds noise
        assert not np.allclose(ref, numpy_algorithm2(latents.numpy(), sig.tolist(), [0 * d.numpy() for d in draws], solver == 'heun'))

#----------------------------------------------------------------------------
def test_heun_converges_to_exact_gaussian_solution():
    sd, smax, smin = 0.5, 80.0, 0.002
    latents = torch.randn(8, 1, 2, 2, generator=torch.Generator().manual_seed(3))
    # Exact ODE flow from sigma_max to sigma_min, then the final Euler step to 0 equals D(x; sigma_min).
    exact = latents.double() * smax * sd ** 2 / math.sqrt((sd ** 2 + smax ** 2) * (sd ** 2 + smin ** 2))
    errs = [((sampler.sample(GaussNet(out_dtype=torch.float64), latents, get_sigmas('edm', K)) - exact) / exact).abs().max().item()
        for K in (32, 128, 512)]
    assert errs[2] < 1e-4
    assert errs[0] / errs[1] > 10 and errs[1] / errs[2] > 10 # second order: x16 per 4x steps

#----------------------------------------------------------------------------
@pytest.mark.parametrize('K,kwargs', [(96, dict(discretization='vp', schedule='vp', scaling='vp')),
    (384, dict(discretization='ve', schedule='ve', scaling='none')), # VE sigma(t) needs many steps (EDM's point)
    (96, dict(discretization='edm', schedule='linear', scaling='vp', alpha=0.75))])

#----------------------------------------------------------------------------
def test_ablation_converges_to_exact_gaussian_solution(K, kwargs):
    sd = 0.5
    latents = torch.randn(8, 1, 2, 2, generator=torch.Generator().manual_seed(4))
    net = GaussNet(out_dtype=torch.float64)
    x = sampler.ablation_sampler(net, latents, num_steps=K, **kwargs)
    smax = net.seen[0]
    exact = latents.double() * smax * sd / math.sqrt(sd ** 2 + smax ** 2) # flow all the way to sigma = 0
    torch.testing.assert_close(x, exact, rtol=2e-3, atol=2e-3 * exact.abs().max().item())

#----------------------------------------------------------------------------
@pytest.mark.parametrize('ablation', [None, dict(sigma_schedule='vp', scaling='vp')])
def test_callback_trajectory(ablation):
    sd, K = 0.5, 200
    latents = torch.randn(4, 1, 2, 2, generator=torch.Generator().manual_seed(5))
    sig = get_sigmas('edm', K)
    seen = []
    callback = lambda i, sigma_next, x_next: seen.append((i, float(sigma_next), x_next))
    net = GaussNet(out_dtype=torch.float64)
    if ablation is None:
        x = sampler.sample(net, latents, sig, callback=callback)
    else:
        x = sampler.ablation_sample(net, latents, sig, callback=callback, **ablation)
    assert [i for i, _, _ in seen] == list(range(K)) and seen[-1][2] is x
    np.testing.assert_allclose([s for _, s, _ in seen], sig[1:].numpy(), rtol=1e-9, atol=1e-12)
    for i in (10, 100, K - 2): # exact flow of N(0, sd^2) data: x(sigma) = x_T sqrt(sd^2 + sigma^2) / sqrt(sd^2 + sigma_max^2)
        s_i = seen[i][1]
        scale = 1 / math.sqrt(1 + s_i ** 2) if ablation else 1.0
        exact = latents.double() * 80 * math.sqrt(sd ** 2 + s_i ** 2) / math.sqrt(sd ** 2 + 80 ** 2) * scale
        torch.testing.assert_close(seen[i][2], exact, rtol=1e-3, atol=1e-4)

#----------------------------------------------------------------------------
@pytest.mark.parametrize('churn', [dict(), dict(S_churn=30, S_min=0.01, S_max=10, S_noise=1.007)])
@pytest.mark.parametrize('K', [2, 7])
def test_ablation_default_equals_edm_sampler(churn, K):
    net = TinyNet()
    seeds = [3, 1, 4]
    latents = sampler.StackedRandomGenerator('cpu', seeds).randn([3, 2, 4, 4])
    labels = torch.eye(3)[[0, 2, 1]]
    a = sampler.edm_sampler(net, latents, labels, randn_like=sampler.StackedRandomGenerator('cpu', seeds).randn_like, num_steps=K, **churn)
    b = sampler.ablation_sampler(net, latents, labels, randn_like=sampler.StackedRandomGenerator('cpu', seeds).randn_like, num_steps=K,
        solver='heun', discretization='edm', schedule='linear', scaling='none', **churn)
    assert (a - b).abs().max().item() <= 1e-12
    assert a.abs().max().item() > 0.1 # non-trivial output

#----------------------------------------------------------------------------
def test_sample_on_custom_grid_and_labels():
    net = TinyNet()
    sig = torch.tensor([5.0, 1.0, 0.2, 0.0], dtype=torch.float64)
    latents = torch.randn(2, 2, 4, 4)
    a = sampler.sample(net, latents, sig, torch.eye(3)[[0, 1]])
    b = sampler.sample(net, latents, sig.tolist(), torch.eye(3)[[0, 1]])
    c = sampler.sample(net, latents, sig, torch.eye(3)[[2, 2]])
    assert torch.equal(a, b) and not torch.allclose(a, c)
    with pytest.raises(dnnlib.UserError):
        sampler.sample(net, latents, sig, torch.eye(3)[[0, 1]], solver='midpoint')

#----------------------------------------------------------------------------
# StackedRandomGenerator (§2.3).

def test_stacked_generator_per_seed():
    seeds = [5, 2 ** 32 + 5, 7]
    rnd = sampler.StackedRandomGenerator('cpu', seeds)
    z = rnd.randn([3, 2, 4])
    assert z.dtype == torch.float32 and z.shape == (3, 2, 4)
    assert torch.equal(z[0], z[1]) # seed % 2**32
    assert torch.equal(z[2], torch.randn([2, 4], generator=torch.Generator().manual_seed(7)))
    lab = rnd.randint(10, size=[3])
    n = rnd.randn_like(torch.zeros(3, 2, 4, dtype=torch.float64))
    # The same draws, in the same order, from a lone generator for seed 7: a sample does not depend on its batch.
    g = torch.Generator().manual_seed(7)
    torch.randn([2, 4], generator=g)
    assert lab[2].item() == torch.randint(10, size=[], generator=g).item()
    assert torch.equal(n[2], torch.randn([2, 4], dtype=torch.float64, generator=g))
    with pytest.raises(AssertionError):
        rnd.randn([2, 4])

#----------------------------------------------------------------------------
