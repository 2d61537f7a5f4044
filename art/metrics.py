# ART-EDM: learned time grids for EDM-style diffusion samplers.
# Copyright (c) 2026 The ART-EDM authors. Released under the MIT License (see LICENSE).

"""Metrics: error against a reference ODE solution, exact 1-D W2, and Fréchet distances.

The Fréchet distance follows EDM's fid.py (docs/edm-spec.md §3): float64 sums of x and x xᵀ,
N-1 covariance, FD = |mu1 - mu2|² + tr(S1 + S2 - 2 sqrtm(S1 S2)), real part."""

import numpy as np
import scipy.linalg
import torch

#----------------------------------------------------------------------------
# Error against a high-NFE reference solution from the same latents.

def rms_error(x, ref):
    """Mean over samples of the per-sample RMS difference (pixel units of x, e.g. [-1, 1])."""
    diff = (torch.as_tensor(x, dtype=torch.float64) - torch.as_tensor(ref, dtype=torch.float64)).flatten(1)
    return float(diff.square().mean(dim=1).sqrt().mean())

#----------------------------------------------------------------------------
# Fréchet distance between two Gaussians.

def frechet_distance(mu1, sigma1, mu2, sigma2):
    """||mu1 - mu2||² + tr(sigma1 + sigma2 - 2 (sigma1 sigma2)^(1/2)), real part, as EDM's fid.py."""
    mu1, mu2 = np.asarray(mu1, np.float64), np.asarray(mu2, np.float64)
    sigma1, sigma2 = np.asarray(sigma1, np.float64), np.asarray(sigma2, np.float64)
    m = np.square(mu1 - mu2).sum()
    s = scipy.linalg.sqrtm(np.dot(sigma1, sigma2))
    fd = m + np.trace(sigma1 + sigma2 - s * 2)
    return float(np.real(fd))

#----------------------------------------------------------------------------
# Streaming mean/covariance of features, accumulated in float64 (EDM's procedure).

class FeatureStats:
    def __init__(self, dim, device='cpu'):
        self.n = 0
        self.sum = torch.zeros([dim], dtype=torch.float64, device=device)
        self.sum_xxT = torch.zeros([dim, dim], dtype=torch.float64, device=device)

    def append(self, features):
        f = features.to(torch.float64)
        self.n += f.shape[0]
        self.sum += f.sum(0)
        self.sum_xxT += f.T @ f

    def all_reduce(self):
        """Sum the accumulators over processes (no-op without a process group)."""
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            n = torch.as_tensor(float(self.n), dtype=torch.float64, device=self.sum.device)
            for t in (n, self.sum, self.sum_xxT):
                torch.distributed.all_reduce(t)
            self.n = int(n.item())

    def mean_cov(self):
        """Return (mu, sigma) as float64 numpy arrays; sigma uses the N-1 normalisation."""
        mu = self.sum / self.n
        sigma = (self.sum_xxT - torch.outer(mu, mu) * self.n) / (self.n - 1)
        return mu.cpu().numpy(), sigma.cpu().numpy()
