# ART-EDM: learned time grids for EDM-style diffusion samplers.
# Copyright (c) 2026 The ART-EDM authors. Released under the MIT License (see LICENSE).

"""Tests for art.analytic and the builtin:gauss1d / builtin:gmm-digits networks: the posterior mean
against independent numpy formulas, the EDM network interface, and the exact 1-D Euler W2."""

import numpy as np
import pytest
import torch

import dnnlib
from art import analytic
from art.builtin import list_builtins, load_builtin
from art.metrics import w2_gauss_euler

#----------------------------------------------------------------------------

def test_gauss1d_interface_and_denoiser():
    assert 'gauss1d' in list_builtins() and 'gmm-digits' in list_builtins()
    net = load_builtin('gauss1d')
    assert (net.img_resolution, net.img_channels, net.label_dim) == (1, 1, 0)
    assert (net.sigma_max, net.sigma_data) == (3.0, 1.0) and 0 < net.sigma_min < 0.01
    x = torch.linspace(-5, 5, 7, dtype=torch.float64).reshape(7, 1, 1, 1)
    sigma = torch.tensor(1.5, dtype=torch.float64)
    D = net(x, sigma)
    assert D.dtype == torch.float64 and D.shape == x.shape
    np.testing.assert_allclose(D.numpy(), x.numpy() / (1 + 1.5 ** 2), rtol=1e-12)
    assert net(x.float(), sigma).dtype == torch.float32
    s = torch.tensor([0.1, 0.2, 0.5, 1, 2, 3, 4], dtype=torch.float64)
    np.testing.assert_allclose(net(x, s).flatten().numpy(), (x.flatten() / (1 + s ** 2)).numpy(), rtol=1e-12)

def test_mixture_posterior_mean_numpy():
    """Two 2-D components with full covariances: compare with Bayes' rule written in numpy."""
    rng = np.random.default_rng(0)
    means = rng.normal(size=[2, 4])
    A = rng.normal(size=[2, 4, 4])
    covs = A @ A.transpose(0, 2, 1) * 0.3 + 0.05 * np.eye(4)
    weights = np.array([0.3, 0.7])
    net = analytic.GaussianMixtureDenoiser(means, covs, weights, img_resolution=2, img_channels=1, label_dim=0)
    x = rng.normal(size=[5, 4]) * 2
    for sigma in [0.1, 1.0, 7.0]:
        D = net(torch.tensor(x).reshape(5, 1, 2, 2), torch.tensor(sigma)).reshape(5, 4).numpy()
        for b in range(5):
            logp, post = [], []
            for c in range(2):
                S = covs[c] + sigma ** 2 * np.eye(4)
                r = x[b] - means[c]
                logp.append(np.log(weights[c]) - 0.5 * r @ np.linalg.solve(S, r) - 0.5 * np.linalg.slogdet(S)[1])
                post.append(means[c] + covs[c] @ np.linalg.solve(S, r))
            w = np.exp(np.array(logp) - max(logp)); w /= w.sum()
            np.testing.assert_allclose(D[b], w @ np.array(post), rtol=1e-7, atol=1e-10)

def test_gmm_digits_class_conditional():
    pytest.importorskip('sklearn')
    from sklearn.datasets import load_digits
    net = load_builtin('gmm-digits')
    assert (net.img_resolution, net.img_channels, net.label_dim) == (8, 1, 10)
    digits = load_digits()
    x = digits.data / 8.0 - 1.0
    c = 3
    xc = x[digits.target == c]
    mu, cov = xc.mean(0), np.cov(xc, rowvar=False) + (1 / 8) ** 2 / 12 * np.eye(64)
    rng = np.random.default_rng(1)
    xs = rng.normal(size=[3, 64]) * 1.5
    labels = torch.zeros([3, 10]); labels[:, c] = 1
    D = net(torch.tensor(xs).reshape(3, 1, 8, 8), torch.tensor(1.5, dtype=torch.float64), labels).reshape(3, 64).numpy()
    ref = mu + (cov @ np.linalg.solve(cov + 1.5 ** 2 * np.eye(64), (xs - mu).T)).T
    np.testing.assert_allclose(D, ref, rtol=1e-8, atol=1e-10)
    # A batch mixing classes and noise levels: each sample its own class's posterior mean.
    cls, sig = np.array([3, 0, 3, 7, 0]), np.array([0.05, 1.5, 4.0, 0.3, 20.0])
    xm = rng.normal(size=[5, 64]) * 1.5
    D = net(torch.tensor(xm).reshape(5, 1, 8, 8), torch.tensor(sig), torch.eye(10)[cls]).reshape(5, 64).numpy()
    for b, (k, s) in enumerate(zip(cls, sig)):
        xk = x[digits.target == k]
        mu_k, cov_k = xk.mean(0), np.cov(xk, rowvar=False) + (1 / 8) ** 2 / 12 * np.eye(64)
        np.testing.assert_allclose(D[b], mu_k + cov_k @ np.linalg.solve(cov_k + s ** 2 * np.eye(64), xm[b] - mu_k), rtol=1e-8, atol=1e-10)
    # Small sigma: the denoiser of a clean training image is close to the image (full-rank covariance).
    img = torch.tensor(xc[:2]).reshape(2, 1, 8, 8)
    D = net(img, torch.tensor(0.002, dtype=torch.float64), labels[:2])
    assert float((D - img).abs().max()) < 0.01
    # Unconditional: a mixture, different from the class-3 posterior mean in general.
    Du = net(torch.tensor(xs).reshape(3, 1, 8, 8), torch.tensor(1.5, dtype=torch.float64))
    assert Du.shape == (3, 1, 8, 8) and torch.isfinite(Du).all()

def test_gmm_digits_needs_sklearn(monkeypatch, tmp_path):
    import builtins
    monkeypatch.setattr(dnnlib.util, '_dnnlib_cache_dir', str(tmp_path))
    real_import = builtins.__import__
    def fake_import(name, *args, **kwargs):
        if name.startswith('sklearn'):
            raise ImportError('no sklearn')
        return real_import(name, *args, **kwargs)
    monkeypatch.setattr(builtins, '__import__', fake_import)
    with pytest.raises(dnnlib.UserError, match='scikit-learn'):
        analytic.fit_digits_gmm()

#----------------------------------------------------------------------------
# Exact W2 of Euler on N(0,1) (art-paper §1.5): the Uniform row of v1 Table 1 without sampling noise.

def test_w2_uniform_row():
    expected = {2: .465, 5: .212, 10: .110, 20: .057, 50: .023, 100: .012}
    for K, w in expected.items():
        assert abs(w2_gauss_euler(np.linspace(3, 0, K + 1)) - w) <= 0.002, K

def test_w2_matches_monte_carlo_euler():
    net = load_builtin('gauss1d')
    sig = [3.0, 2.0, 0.8, 0.2, 0.0]
    g = torch.Generator().manual_seed(0)
    x = torch.randn([200000, 1, 1, 1], generator=g, dtype=torch.float64) * 10 ** 0.5  # p_T = N(0, 1 + 3²)
    for s, t in zip(sig[:-1], sig[1:]):
        x = x + (t - s) * (x - net(x, torch.tensor(s, dtype=torch.float64))) / s
    # 1-D W2 between N(0, v) and N(0, 1) is |sqrt(v) - 1|
    assert abs(abs(float(x.std()) - 1) - w2_gauss_euler(sig)) < 0.01
