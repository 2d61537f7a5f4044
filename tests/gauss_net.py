# ART-EDM: learned time grids for EDM-style diffusion samplers.
# Copyright (c) 2026 The ART-EDM authors. Released under the MIT License (see LICENSE).

"""A Gaussian-data denoiser written for the tests, independent of art.analytic."""

import torch

#----------------------------------------------------------------------------

class Gauss(torch.nn.Module):
    """Data N(0, s^2) per dimension: D = x s^2 / (s^2 + sigma^2); images [B, 1, res, res]."""
    def __init__(self, s=1.0, res=1):
        super().__init__()
        self.s, self.img_resolution, self.img_channels, self.label_dim = s, res, 1, 0
        self.sigma_min, self.sigma_max, self.sigma_data = 0.002, 80.0, s
    def round_sigma(self, sigma):
        return torch.as_tensor(sigma)
    def forward(self, x, sigma, class_labels=None):
        sigma = torch.as_tensor(sigma, dtype=x.dtype).reshape(-1, *([1] * (x.ndim - 1)))
        return x * self.s ** 2 / (self.s ** 2 + sigma ** 2)

#----------------------------------------------------------------------------
