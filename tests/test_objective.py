# ART-EDM: learned time grids for EDM-style diffusion samplers.
# Copyright (c) 2026 The ART-EDM authors. Released under the MIT License (see LICENSE).

"""Tests for art.objective: F and Q against the Gaussian closed form (art-paper §1.3), agreement of
the three JVP backends, and the automatic fallback on a network with a custom autograd.Function."""

import warnings

import numpy as np
import pytest
import torch

from art import objective

#----------------------------------------------------------------------------
# A Gaussian N(0, s_d² I) denoiser written independently of art.analytic.

class GaussNet(torch.nn.Module):
    def __init__(self, sigma_data=0.7):
        super().__init__()
        self.sigma_data = sigma_data
        self.scale = torch.nn.Parameter(torch.ones([]), requires_grad=False)

    def forward(self, x, sigma, class_labels=None):
        s = torch.as_tensor(sigma, dtype=x.dtype).reshape(-1, 1, 1, 1)
        return self.scale * x * self.sigma_data ** 2 / (self.sigma_data ** 2 + s ** 2)

class _Square(torch.autograd.Function):
    """Old-style custom Function (ctx in forward, no setup_context/jvp): torch.func rejects it,
    like EDM's AttentionOp. Its backward is made of differentiable ops, so double backward works."""
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return a * a

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        return 2 * a * g

class CustomFnNet(GaussNet):
    """Same denoiser, computed through the custom Function: D = x s_d² / (s_d² + square(sigma))."""
    def forward(self, x, sigma, class_labels=None):
        s = torch.as_tensor(sigma, dtype=x.dtype).reshape(-1, 1, 1, 1)
        return x * self.sigma_data ** 2 / (self.sigma_data ** 2 + _Square.apply(s))

def _q_closed_form(x, sigma, sd):
    return x * sd ** 2 / (sd ** 2 + sigma.reshape(-1, 1, 1, 1) ** 2) ** 2

#----------------------------------------------------------------------------

@pytest.mark.parametrize('backend', ['forward', 'backward', 'fd', 'auto'])
def test_q_gaussian_closed_form(backend):
    net = GaussNet(0.7)
    g = torch.Generator().manual_seed(0)
    sigma = torch.tensor([0.01, 0.1, 0.5, 1.0, 3.0, 80.0], dtype=torch.float64)
    x = torch.randn([6, 2, 3, 3], generator=g, dtype=torch.float64) * (0.49 + sigma.reshape(-1, 1, 1, 1) ** 2).sqrt()
    D, F, Q = objective.field_and_curvature(net, x, sigma, backend=backend)
    np.testing.assert_allclose(F.numpy(), (x * sigma.reshape(-1, 1, 1, 1) / (0.49 + sigma.reshape(-1, 1, 1, 1) ** 2)).numpy(), rtol=1e-12)
    np.testing.assert_allclose(Q.numpy(), _q_closed_form(x, sigma, 0.7).numpy(), rtol=1e-5 if backend == 'fd' else 1e-10)
    np.testing.assert_allclose(objective.denoiser_field(net, x, sigma).numpy(), F.numpy(), rtol=1e-12)

def test_q_scalar_sigma_and_norm():
    net = GaussNet(1.0)
    x = torch.full([3, 1, 1, 1], 2.0, dtype=torch.float64)
    Q = objective.curvature(net, x, 1.0, backend='forward')
    np.testing.assert_allclose(Q.flatten().numpy(), 2.0 / 4.0)       # x/(1+σ²)² (v1's 1-D formula)
    x = torch.full([2, 1, 2, 2], 3.0, dtype=torch.float64)
    q = objective.curvature_norm(x)
    np.testing.assert_allclose(q.numpy(), 3.0)                         # per-dimension RMS
    np.testing.assert_allclose(objective.curvature_norm(x, per_dim=False).numpy(), 6.0)

def test_backends_agree_on_gmm_digits():
    pytest.importorskip('sklearn')
    from art.builtin import load_builtin
    net = load_builtin('gmm-digits')
    g = torch.Generator().manual_seed(1)
    for sigma in [0.05, 0.5, 5.0, 50.0]:
        x = torch.randn([4, 1, 8, 8], generator=g, dtype=torch.float64) * (sigma ** 2 + 0.3) ** 0.5
        labels = torch.eye(10)[torch.arange(4)]
        Qs = {b: objective.curvature(net, x, sigma, labels, backend=b) for b in ['forward', 'backward', 'fd']}
        for b in ['backward', 'fd']:
            rel = float((Qs[b] - Qs['forward']).norm() / Qs['forward'].norm())
            assert rel < 1e-3, (sigma, b, rel)

def test_auto_fallback_on_custom_function():
    net = CustomFnNet(0.7)
    x = torch.randn([3, 1, 2, 2], dtype=torch.float64)
    sigma = torch.tensor([0.2, 1.0, 4.0], dtype=torch.float64)
    with pytest.raises(Exception):
        objective.curvature(net, x, sigma, backend='forward')
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter('always')
        Q = objective.curvature(net, x, sigma, backend='auto')
    assert objective.auto_backend(net) == 'backward'
    assert any('forward' in str(m.message) for m in w)
    np.testing.assert_allclose(Q.numpy(), _q_closed_form(x, sigma, 0.7).numpy(), rtol=1e-10)
    with warnings.catch_warnings(record=True) as w:           # logged once: the second call is silent
        warnings.simplefilter('always')
        objective.curvature(net, x, sigma, backend='auto')
    assert not w

def test_auto_falls_back_to_fd_when_no_autograd():
    class NoGrad(GaussNet):
        """Computes D in numpy: no autograd at all, so only finite differences work."""
        def forward(self, x, sigma, class_labels=None):
            s = np.asarray(torch.as_tensor(sigma).detach()).reshape(-1, 1, 1, 1)
            return torch.from_numpy(x.detach().numpy() * 0.49 / (0.49 + s ** 2))
    net = NoGrad(0.7)
    x = torch.randn([2, 1, 1, 1], dtype=torch.float64)
    sigma = torch.tensor([0.5, 2.0], dtype=torch.float64)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        Q = objective.curvature(net, x, sigma, backend='auto')
    assert objective.auto_backend(net) == 'fd'
    np.testing.assert_allclose(Q.numpy(), _q_closed_form(x, sigma, 0.7).numpy(), rtol=1e-5)

def test_unknown_backend():
    import dnnlib
    with pytest.raises(dnnlib.UserError):
        objective.curvature(GaussNet(), torch.zeros([1, 1, 1, 1]), 1.0, backend='nope')

def _dit_states(net, n=4):
    """PF-ODE states of `net` at sigma = 80, 3.3, 0.30, 0.023, 0.002 (Heun on EDM's 18-step grid)."""
    from art import sampler, schedules
    g = torch.Generator().manual_seed(0)
    labels = torch.eye(10)[torch.arange(n)]
    sigmas = schedules.get_sigmas('edm', 18, sigma_min=0.002, sigma_max=80.0)
    states = {0: (sigmas[0], torch.randn([n, 1, 28, 28], generator=g, dtype=torch.float64) * 80)}
    sampler.sample(net, states[0][1] / 80, sigmas, labels, solver='heun', callback=lambda i, t, x: states.__setitem__(i + 1, (t, x)))
    return [states[i] for i in (0, 8, 12, 15, 17)], labels

def _assert_dit_backends_agree(net):
    """forward and double-backward agree to 1e-3 per sample, finite differences to 1e-2. The finite
    differences run on a float64 copy of the DiT (objective._fd_network): in float32 a central
    difference of this ReLU network is stuck at ~1e-2 (round-off vs activation kinks); in float64 it
    is within 1e-4 except where activation kinks fall inside the step (the states come from float32
    sampling, so where they fall depends on the CPU): 4.6e-3 at sigma = 0.023 on one machine."""
    states, labels = _dit_states(net)
    for sigma, x in states:
        Qs = {b: objective.curvature(net, x, sigma, labels, backend=b) for b in ['forward', 'backward', 'fd']}
        ref = Qs['forward'].flatten(1).norm(dim=1)
        for b, tol in (('backward', 1e-3), ('fd', 1e-2)):
            rel = float(((Qs[b] - Qs['forward']).flatten(1).norm(dim=1) / ref).max())
            assert rel < tol, (float(sigma), b, rel)

def test_backends_agree_on_random_dit():
    from training import dit
    torch.manual_seed(0)
    _assert_dit_backends_agree(dit.DiTPrecond(width=32, num_blocks=1, num_heads=2, head_dim=16).eval().requires_grad_(False))

def test_backends_agree_on_pretrained_dit():
    from art.builtin import load_builtin
    _assert_dit_backends_agree(load_builtin('mnist-dit'))

def test_fd_uses_float64_copy_only_when_the_class_allows():
    from training import dit
    net = dit.DiTPrecond(width=32, num_blocks=1, num_heads=2, head_dim=16)
    copy = objective._fd_network(net) # pylint: disable=protected-access
    assert copy is not net and copy.model.linear.weight.dtype == torch.float64 and net.model.linear.weight.dtype == torch.float32
    assert objective._fd_network(net) is copy # pylint: disable=protected-access
    x = torch.randn([2, 1, 28, 28], dtype=torch.float64)
    assert copy(x, torch.ones(2, dtype=torch.float64), torch.tensor([1, 2])).dtype == torch.float64
    assert net(x, torch.ones(2), torch.tensor([1, 2])).dtype == torch.float32
    plain = CustomFnNet(0.7)
    assert objective._fd_network(plain) is plain # pylint: disable=protected-access
