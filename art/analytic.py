# ART-EDM: learned time grids for EDM-style diffusion samplers.
# Copyright (c) 2026 The ART-EDM authors. Released under the MIT License (see LICENSE).

"""Exact-score analytic denoisers: Gaussian mixtures with the exact posterior mean.

Data p0 = Σ_c π_c N(μ_c, Σ_c). Under the EDM forward process x = x0 + σ n the noisy marginal is
Σ_c π_c N(μ_c, Σ_c + σ² I) and the ideal denoiser (posterior mean, edm-spec §2) is

    D(x; σ) = Σ_c w_c(x; σ) [μ_c + Σ_c (Σ_c + σ² I)^{-1} (x - μ_c)],
    w_c ∝ π_c N(x; μ_c, Σ_c + σ² I),

evaluated through the eigendecomposition Σ_c = U_c diag(λ_c) U_cᵀ. Class conditioning restricts the
mixture to the components of the requested class (one-hot `class_labels`; None mixes all classes).

Built-ins (registered in art/builtin.py):
  gauss1d     N(0, 1) in one dimension, shape [B,1,1,1]: the paper's 1-D study (art-paper §3.1,
              σ(t) = t, T = σ_max = 3); D = x / (1 + σ²).
  gmm-digits  one full-covariance Gaussian per class fitted to scikit-learn's 8x8 digits
              (pixels 0..16 scaled to [-1, 1]); each covariance gets the dequantisation variance
              (1/8)²/12 on its diagonal so that it is positive definite. The fit is cached on disk.
Computation is in float64; the output is float64 for float64 inputs and float32 otherwise.
"""

import os

import numpy as np
import torch

import dnnlib

#----------------------------------------------------------------------------
# Generic Gaussian-mixture denoiser with EDM's network interface.

class GaussianMixtureDenoiser(torch.nn.Module):
    def __init__(self, means, covs, weights=None, component_class=None, img_resolution=1, img_channels=1,
            label_dim=0, sigma_min=0.002, sigma_max=80.0, sigma_data=None):
        super().__init__()
        means = torch.as_tensor(np.asarray(means, np.float64))          # [M, d]
        covs = torch.as_tensor(np.asarray(covs, np.float64))            # [M, d, d]
        M, d = means.shape
        assert d == img_channels * img_resolution ** 2 and covs.shape == (M, d, d)
        weights = torch.full([M], 1.0 / M, dtype=torch.float64) if weights is None else torch.as_tensor(np.asarray(weights, np.float64))
        eigvals, eigvecs = torch.linalg.eigh((covs + covs.transpose(1, 2)) / 2)
        self.register_buffer('means', means)
        self.register_buffer('eigvals', eigvals.clamp(min=0))           # [M, d]
        self.register_buffer('eigvecs', eigvecs)                        # [M, d, d]
        self.register_buffer('log_weights', weights.log())              # [M]
        cls = torch.zeros([M], dtype=torch.long) if component_class is None else torch.as_tensor(component_class, dtype=torch.long)
        self.register_buffer('component_class', cls)                    # [M]
        one_each = label_dim and sorted(cls.tolist()) == list(range(label_dim))
        self.class_component = torch.argsort(cls) if one_each else None  # class -> its single component
        self.img_resolution = img_resolution
        self.img_channels = img_channels
        self.label_dim = label_dim
        self.sigma_min = float(sigma_min)
        self.sigma_max = float(sigma_max)
        if sigma_data is None:
            mean = (weights[:, None] * means).sum(0)
            var = (weights[:, None] * (eigvals.clamp(min=0) + (means - mean).square().sum(1, keepdim=True) / d)).sum() / d
            sigma_data = float(var.sqrt())
        self.sigma_data = float(sigma_data)

    def round_sigma(self, sigma):
        return torch.as_tensor(sigma)

    def forward(self, x, sigma, class_labels=None, **unused_kwargs):
        out_dtype = torch.float64 if x.dtype == torch.float64 else torch.float32
        B = x.shape[0]
        x64 = x.to(torch.float64).reshape(B, -1)                                    # [B, d]
        s2 = torch.as_tensor(sigma).to(torch.float64).reshape(-1, 1).expand(B, 1).square()  # [B, 1]
        mask = None
        if class_labels is not None and self.label_dim:
            labels = torch.as_tensor(class_labels).to(x.device).reshape(B, -1).argmax(dim=1)
            if self.class_component is not None:   # one component per class: D is that component's posterior mean
                return self._single_component(x64, s2, self.class_component[labels]).reshape(x.shape).to(out_dtype)
            mask = self.component_class.unsqueeze(0) != labels.unsqueeze(1)
        z = torch.einsum('mij,bmi->bmj', self.eigvecs, x64[:, None, :] - self.means)  # [B,M,d] coords Uᵀ(x-μ)
        var = self.eigvals + s2[:, :, None]                                         # [B, M, d]
        logp = self.log_weights - 0.5 * (z.square() / var + var.log()).sum(-1)      # [B, M]
        if mask is not None:
            logp = logp.masked_fill(mask, float('-inf'))
        w = torch.softmax(logp, dim=1)                                              # [B, M]
        post = torch.einsum('mji,bmi->bmj', self.eigvecs, z * (self.eigvals / var))  # U diag(λ/(λ+σ²)) Uᵀ(x-μ)
        D = (w.unsqueeze(-1) * (self.means + post)).sum(1)
        return D.reshape(x.shape).to(out_dtype)

    def _single_component(self, x64, s2, comp):
        """μ_c + U_c diag(λ_c / (λ_c + σ²)) U_cᵀ (x - μ_c) per sample with c = comp[b]: one pair of matrix
        products per component present (cheaper than gathering a [d, d] matrix per sample)."""
        D = torch.empty_like(x64)
        for c in torch.unique(comp).tolist():
            rows = (comp == c).nonzero()[:, 0]
            lam = self.eigvals[c]
            z = (x64[rows] - self.means[c]) @ self.eigvecs[c]
            D[rows] = self.means[c] + (z * (lam / (lam + s2[rows]))) @ self.eigvecs[c].T
        return D

#----------------------------------------------------------------------------
# builtin:gauss1d — the paper's 1-D study.

def make_gauss1d(device='cpu'):
    net = GaussianMixtureDenoiser(means=[[0.0]], covs=[[[1.0]]], img_resolution=1, img_channels=1,
        label_dim=0, sigma_min=0.002, sigma_max=3.0, sigma_data=1.0)
    return net.to(device)

#----------------------------------------------------------------------------
# builtin:gmm-digits — class-conditional Gaussians on scikit-learn's 8x8 digits.

DIGITS_DEQUANT_VAR = (1.0 / 8) ** 2 / 12  # a pixel step of 16 grey levels over [-1, 1] is 1/8

def fit_digits_gmm(cache=True):
    """Return dict(means [10,64], covs [10,64,64], weights [10]) fitted to load_digits in [-1, 1]."""
    path = dnnlib.make_cache_dir_path('art-builtin', 'gmm-digits-v1.npz')
    if cache and os.path.isfile(path):
        with np.load(path) as z:
            return {k: z[k] for k in z.files}
    try:
        from sklearn.datasets import load_digits # pylint: disable=import-outside-toplevel
    except ImportError as e:
        raise dnnlib.UserError('builtin:gmm-digits needs scikit-learn; install it with: pip install scikit-learn (or pip install -e ".[test]")') from e
    digits = load_digits()
    x = digits.data.astype(np.float64) / 8.0 - 1.0
    y = digits.target
    means, covs, weights = [], [], []
    for c in range(10):
        xc = x[y == c]
        means.append(xc.mean(0))
        covs.append(np.cov(xc, rowvar=False) + DIGITS_DEQUANT_VAR * np.eye(x.shape[1]))
        weights.append(len(xc) / len(x))
    fit = dict(means=np.stack(means), covs=np.stack(covs), weights=np.asarray(weights))
    if cache:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmp = path + f'.tmp{os.getpid()}.npz'
        np.savez(tmp, **fit)
        os.replace(tmp, path)
    return fit

def make_gmm_digits(device='cpu'):
    fit = fit_digits_gmm()
    net = GaussianMixtureDenoiser(means=fit['means'], covs=fit['covs'], weights=fit['weights'],
        component_class=np.arange(10), img_resolution=8, img_channels=1, label_dim=10,
        sigma_min=0.002, sigma_max=80.0)
    return net.to(device)

#----------------------------------------------------------------------------
