# ART-EDM: learned time grids for EDM-style diffusion samplers.
# Copyright (c) 2026 The ART-EDM authors. Released under the MIT License (see LICENSE).

"""Loss functions of "Elucidating the Design Space of Diffusion-Based Generative Models"
(Karras et al., NeurIPS 2022): VP, VE and the proposed EDM loss (edm-spec.md §5.5).

Each `__call__(net, images, labels, augment_pipe=None)` returns the unreduced per-element loss.
Random draws happen in EDM's order: sigma, then augmentation, then noise. Imports only torch
and torch_utils.persistence, so that pickles holding these objects also load in EDM."""

import torch
from torch_utils import persistence

#----------------------------------------------------------------------------
# The part all three losses share, after sigma is drawn: augment, add noise, weighted L2 of D.

def _weighted_denoising_loss(net, images, labels, augment_pipe, sigma, weight):
    y, augment_labels = augment_pipe(images) if augment_pipe is not None else (images, None)
    n = torch.randn_like(y) * sigma
    D_yn = net(y + n, sigma, labels, augment_labels=augment_labels)
    return weight * ((D_yn - y) ** 2)

#----------------------------------------------------------------------------
# Loss of the variance preserving (VP) formulation (Song et al., ICLR 2021).

@persistence.persistent_class
class VPLoss:
    def __init__(self, beta_d=19.9, beta_min=0.1, epsilon_t=1e-5):
        self.beta_d = beta_d
        self.beta_min = beta_min
        self.epsilon_t = epsilon_t

    def __call__(self, net, images, labels, augment_pipe=None):
        rnd_uniform = torch.rand([images.shape[0], 1, 1, 1], device=images.device)
        sigma = self.sigma(1 + rnd_uniform * (self.epsilon_t - 1))
        weight = 1 / sigma ** 2
        return _weighted_denoising_loss(net, images, labels, augment_pipe, sigma, weight)

    def sigma(self, t):
        t = torch.as_tensor(t)
        return ((0.5 * self.beta_d * (t ** 2) + self.beta_min * t).exp() - 1).sqrt()

#----------------------------------------------------------------------------
# Loss of the variance exploding (VE) formulation (Song et al., ICLR 2021).

@persistence.persistent_class
class VELoss:
    def __init__(self, sigma_min=0.02, sigma_max=100):
        self.sigma_min = sigma_min
        self.sigma_max = sigma_max

    def __call__(self, net, images, labels, augment_pipe=None):
        rnd_uniform = torch.rand([images.shape[0], 1, 1, 1], device=images.device)
        sigma = self.sigma_min * ((self.sigma_max / self.sigma_min) ** rnd_uniform)
        weight = 1 / sigma ** 2
        return _weighted_denoising_loss(net, images, labels, augment_pipe, sigma, weight)

#----------------------------------------------------------------------------
# Improved loss function proposed in the EDM paper: ln(sigma) ~ N(P_mean, P_std^2),
# weight lambda(sigma) = (sigma^2 + sigma_data^2) / (sigma * sigma_data)^2.

@persistence.persistent_class
class EDMLoss:
    def __init__(self, P_mean=-1.2, P_std=1.2, sigma_data=0.5):
        self.P_mean = P_mean
        self.P_std = P_std
        self.sigma_data = sigma_data

    def __call__(self, net, images, labels=None, augment_pipe=None):
        rnd_normal = torch.randn([images.shape[0], 1, 1, 1], device=images.device)
        sigma = (rnd_normal * self.P_std + self.P_mean).exp()
        weight = (sigma ** 2 + self.sigma_data ** 2) / (sigma * self.sigma_data) ** 2
        return _weighted_denoising_loss(net, images, labels, augment_pipe, sigma, weight)

#----------------------------------------------------------------------------
