# ART-EDM: learned time grids for EDM-style diffusion samplers.
# Copyright (c) 2026 The ART-EDM authors. Released under the MIT License (see LICENSE).

"""Small class-conditional DiT with EDM preconditioning, matching the pretrained MNIST denoiser
shipped as `art/assets/edm-dit-mnist-11000.npz` (MIT; THIRD_PARTY_NOTICES.md; architecture: the data card §3.1;
preconditioning: Karras et al. 2022, Table 1, sigma_data = 0.5).

Module and parameter names reproduce the checkpoint's state-dict keys (all under `model.`), so it
loads with strict=True. The denoiser exposes EDM's interface `net(x, sigma, class_labels)`.
Only plain tensor ops are used (no custom autograd.Function), so forward-mode AD (jvp) works.
Imports only numpy, torch and torch_utils.persistence, like training/networks.py."""

import numpy as np
import torch
from torch_utils import persistence

#----------------------------------------------------------------------------
# Sinusoidal embedding of the scalar c_noise: [sin(c f), cos(c f)], f_i = 10000^(-i / (half - 1)).

#----------------------------------------------------------------------------
@persistence.persistent_class
class SinusoidalEmbedding(torch.nn.Module):
    def __init__(self, num_channels=64, max_positions=10000):
        super().__init__()
        half = num_channels // 2
        self.register_buffer('half_emb', torch.exp(torch.arange(half, dtype=torch.float32) * (-np.log(max_positions) / (half - 1))))

    def forward(self, c_noise):
        x = c_noise.reshape(-1, 1) * self.half_emb.to(c_noise.dtype)
        return torch.cat([x.sin(), x.cos()], dim=1)

#----------------------------------------------------------------------------
# Transformer block with adaptive LayerNorm modulation by the conditioning vector.

#----------------------------------------------------------------------------
@persistence.persistent_class
class DiTBlock(torch.nn.Module):
    def __init__(self,
        width       = 64,           # Token width.
        cond_dim    = 64,           # Width of the conditioning vector.
        num_heads   = 4,            # Number of attention heads.
        head_dim    = 64,           # Width of each head.
        ff_mult     = 4,            # Hidden width of the feed-forward net, relative to `width`.
    ):
        super().__init__()
        self.num_heads = num_heads
        self.head_dim = head_dim
        for name in ['gamma1', 'beta1', 'alpha1', 'gamma2', 'beta2', 'alpha2']:
            setattr(self, name, torch.nn.Linear(cond_dim, width))
        self.ln1 = torch.nn.LayerNorm(width)
        self.ln2 = torch.nn.LayerNorm(width)
        self.wq = torch.nn.Linear(width, num_heads * head_dim)
        self.wk = torch.nn.Linear(width, num_heads * head_dim)
        self.wv = torch.nn.Linear(width, num_heads * head_dim)
        self.lv = torch.nn.Linear(num_heads * head_dim, width)
        self.ff = torch.nn.Sequential(torch.nn.Linear(width, width * ff_mult), torch.nn.ReLU(), torch.nn.Linear(width * ff_mult, width))

    def forward(self, x, cond):
        cond = cond.unsqueeze(1) # [B, 1, cond_dim], broadcast over tokens.
        B, T, _ = x.shape
        h = self.ln1(x) * (1 + self.gamma1(cond)) + self.beta1(cond)
        q, k, v = (w(h).reshape(B, T, self.num_heads, self.head_dim).transpose(1, 2) for w in (self.wq, self.wk, self.wv))
        attn = torch.softmax(q @ k.transpose(-1, -2) / np.sqrt(self.head_dim), dim=-1) @ v
        x = x + self.alpha1(cond) * self.lv(attn.transpose(1, 2).reshape(B, T, self.num_heads * self.head_dim))
        z = self.ln2(x) * (1 + self.gamma2(cond)) + self.beta2(cond)
        return x + self.alpha2(cond) * self.ff(z)

#----------------------------------------------------------------------------
# The raw network F(x, c_noise, y): patchify, transformer blocks, unpatchify.

#----------------------------------------------------------------------------
@persistence.persistent_class
class DiT(torch.nn.Module):
    def __init__(self,
        img_resolution  = 28,       # Image resolution.
        img_channels    = 1,        # Number of color channels.
        patch_size      = 4,        # Patch size (img_resolution must be a multiple).
        width           = 64,       # Token width (= embedding width).
        num_blocks      = 3,        # Number of transformer blocks.
        num_heads       = 4,        # Number of attention heads.
        head_dim        = 64,       # Width of each head.
        label_dim       = 10,       # Number of classes.
    ):
        super().__init__()
        assert img_resolution % patch_size == 0
        self.img_resolution = img_resolution
        self.img_channels = img_channels
        self.patch_size = patch_size
        self.grid = img_resolution // patch_size
        patch_dim = img_channels * patch_size ** 2
        self.conv = torch.nn.Conv2d(img_channels, patch_dim, kernel_size=patch_size, stride=patch_size)
        self.patch_emb = torch.nn.Linear(patch_dim, width)
        self.patch_pos_emb = torch.nn.Parameter(torch.randn(1, self.grid ** 2, width))
        self.time_emb = torch.nn.Sequential(SinusoidalEmbedding(width), torch.nn.Linear(width, width), torch.nn.ReLU(), torch.nn.Linear(width, width))
        self.label_emb = torch.nn.Embedding(label_dim, width)
        self.dits = torch.nn.ModuleList([DiTBlock(width=width, cond_dim=width, num_heads=num_heads, head_dim=head_dim) for _ in range(num_blocks)])
        self.ln = torch.nn.LayerNorm(width)
        self.linear = torch.nn.Linear(width, patch_dim)

    def forward(self, x, c_noise, labels):
        B, G, P, C = x.shape[0], self.grid, self.patch_size, self.img_channels
        x = self.conv(x).permute(0, 2, 3, 1).reshape(B, G * G, -1)      # [B, 49, 16] tokens, row-major.
        x = self.patch_emb(x) + self.patch_pos_emb
        cond = self.label_emb(labels) + self.time_emb(c_noise)           # [B, width]
        for block in self.dits:
            x = block(x, cond)
        x = self.linear(self.ln(x))                                       # [B, 49, C*P*P]
        x = x.reshape(B, G, G, C, P, P).permute(0, 3, 1, 4, 2, 5)
        return x.reshape(B, C, G * P, G * P)

#----------------------------------------------------------------------------
# EDM preconditioning around the DiT, with EDM's denoiser interface.

#----------------------------------------------------------------------------
@persistence.persistent_class
class DiTPrecond(torch.nn.Module):
    float64_ok = True  # a .double() copy computes in float64 (art.objective's finite differences use one)

    def __init__(self,
        img_resolution  = 28,           # Image resolution.
        img_channels    = 1,            # Number of color channels.
        label_dim       = 10,           # Number of classes (the model is always class-conditional).
        sigma_min       = 0,            # Minimum supported noise level.
        sigma_max       = float('inf'), # Maximum supported noise level.
        sigma_data      = 0.5,          # Expected standard deviation of the training data.
        **model_kwargs,                 # Keyword arguments for DiT.
    ):
        super().__init__()
        self.img_resolution = img_resolution
        self.img_channels = img_channels
        self.label_dim = label_dim
        self.use_fp16 = False
        self.sigma_min = sigma_min
        self.sigma_max = sigma_max
        self.sigma_data = sigma_data
        self.model = DiT(img_resolution=img_resolution, img_channels=img_channels, label_dim=label_dim, **model_kwargs)

    def forward(self, x, sigma, class_labels=None, force_fp32=False, **model_kwargs):
        # class_labels: one-hot float [B, label_dim] (argmax -> class index) or integer indices [B].
        # Extra kwargs (e.g. augment_labels=None from the training losses) are accepted and ignored.
        p = next(self.parameters(), None)
        dtype = torch.float64 if (p is not None and p.dtype == torch.float64) else torch.float32  # float64 copy: see float64_ok
        x = x.to(dtype)
        if class_labels is None:
            raise ValueError('This DiT is always class-conditional: pass class_labels (one-hot [B, 10] or int [B])')
        labels = class_labels.reshape(-1, self.label_dim).argmax(dim=1) if class_labels.is_floating_point() else class_labels.reshape(-1).to(torch.int64)
        labels = labels.to(x.device).expand(x.shape[0]) if labels.numel() == 1 else labels.to(x.device)
        sigma = sigma.to(dtype).reshape(-1, 1, 1, 1)
        c_skip = self.sigma_data ** 2 / (sigma ** 2 + self.sigma_data ** 2)
        c_out = sigma * self.sigma_data / (sigma ** 2 + self.sigma_data ** 2).sqrt()
        c_in = 1 / (self.sigma_data ** 2 + sigma ** 2).sqrt()
        c_noise = (sigma.log() / 4).flatten().expand(x.shape[0]) if sigma.numel() == 1 else (sigma.log() / 4).flatten()
        F_x = self.model(c_in * x, c_noise, labels)
        return c_skip * x + c_out * F_x.to(dtype)

    def round_sigma(self, sigma):
        return torch.as_tensor(sigma)

#----------------------------------------------------------------------------
# Build the denoiser and load a state dict saved as .npz (all 99 tensors, strict).

#----------------------------------------------------------------------------
def load_dit_npz(path, device='cpu'):
    with np.load(path) as z:
        state = {name: torch.from_numpy(z[name].copy()) for name in z.files}
    net = DiTPrecond()
    net.load_state_dict(state, strict=True)
    return net.to(device)

#----------------------------------------------------------------------------
