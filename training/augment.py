# ART-EDM: learned time grids for EDM-style diffusion samplers.
# Copyright (c) 2026 The ART-EDM authors. Released under the MIT License (see LICENSE).

"""Augmentation pipeline used by EDM training (docs/edm-spec.md §5.7), in the spirit of the
non-leaking augmentations of Karras et al., "Training Generative Adversarial Networks with Limited
Data" (2020): every enabled operation fires per sample with probability multiplier * p, and the
network is told what was done through a vector of augmentation labels (augment_dim = 9 for the
configuration train.py uses), so that it can learn the clean distribution.

Geometric operations are composed as inverse 3x3 matrices in centred pixel coordinates and executed
once: reflect padding sized from the transformed image corners, a 2x upsample with the sym6 wavelet
low-pass filter, bilinear grid_sample (zero padding, align_corners=False), a 2x downsample with the
same filter, and a crop back to the input size. Because sym6 is orthonormal, the identity transform
returns the input exactly; the filter's small delay (its centroid is 0.4 taps off centre) is undone
around the transform so that flips and 90-degree rotations stay aligned. Colour operations are composed as 4x4 matrices in
RGB (grey images use the luma projection). This is our own implementation from the specification;
the order of the labels follows §5.7, the exact resampling arithmetic of EDM is not reproduced.
Imports only numpy, torch and torch_utils names that EDM also has."""

import numpy as np
import torch
from torch_utils import persistence
from torch_utils import misc

#----------------------------------------------------------------------------
# sym6 wavelet decomposition low-pass filter (Daubechies' least-asymmetric wavelet with 6 vanishing
# moments; coefficients obtained by spectral factorisation, sum = sqrt(2), unit norm).

wavelets = {
    'sym6': [0.0154041093270448, 0.0034907120842221, -0.1179901111485196, -0.0483117425856973, 0.4910559419279736, 0.78764114102865,
             0.3379294217281656, -0.0726375227863761, -0.0210602925123707, 0.0447249017707813, 0.001767711864254, -0.0078007083250324],
}

#----------------------------------------------------------------------------
# Batched matrices: each entry is a Python scalar or a [N] tensor; returns [N, rows, cols] (or a
# constant [rows, cols] when every entry is a scalar).

def matrix(*rows, device=None):
    assert all(len(row) == len(rows[0]) for row in rows)
    elems = [x for row in rows for x in row]
    ref = [x for x in elems if isinstance(x, torch.Tensor)]
    if len(ref) == 0:
        return misc.constant(np.asarray(rows), device=device)
    assert device is None or device == ref[0].device
    elems = [x if isinstance(x, torch.Tensor) else misc.constant(x, shape=ref[0].shape, device=ref[0].device) for x in elems]
    return torch.stack(elems, dim=-1).reshape(ref[0].shape + (len(rows), -1))

def translate2d(tx, ty, **kwargs):
    return matrix([1, 0, tx], [0, 1, ty], [0, 0, 1], **kwargs)

def scale2d(sx, sy, **kwargs):
    return matrix([sx, 0, 0], [0, sy, 0], [0, 0, 1], **kwargs)

def rotate2d(theta, **kwargs):
    return matrix([torch.cos(theta), torch.sin(-theta), 0], [torch.sin(theta), torch.cos(theta), 0], [0, 0, 1], **kwargs)

def translate2d_inv(tx, ty, **kwargs):
    return translate2d(-tx, -ty, **kwargs)

def scale2d_inv(sx, sy, **kwargs):
    return scale2d(1 / sx, 1 / sy, **kwargs)

def rotate2d_inv(theta, **kwargs):
    return rotate2d(-theta, **kwargs)

def translate3d(tx, ty, tz, **kwargs):
    return matrix([1, 0, 0, tx], [0, 1, 0, ty], [0, 0, 1, tz], [0, 0, 0, 1], **kwargs)

def scale3d(sx, sy, sz, **kwargs):
    return matrix([sx, 0, 0, 0], [0, sy, 0, 0], [0, 0, sz, 0], [0, 0, 0, 1], **kwargs)

def rotate3d(v, theta, **kwargs):
    """Rotation by theta about the unit axis v (Rodrigues)."""
    vx, vy, vz = v[..., 0], v[..., 1], v[..., 2]
    s, c = torch.sin(theta), torch.cos(theta)
    cc = 1 - c
    return matrix(
        [vx*vx*cc+c,    vx*vy*cc-vz*s, vx*vz*cc+vy*s, 0],
        [vy*vx*cc+vz*s, vy*vy*cc+c,    vy*vz*cc-vx*s, 0],
        [vz*vx*cc-vy*s, vz*vy*cc+vx*s, vz*vz*cc+c,    0],
        [0,             0,             0,             1], **kwargs)

#----------------------------------------------------------------------------
# Separable 2x resampling with a 1-D filter f (sum 1) on the pixel-centre grid: fine sample j sits
# at coarse coordinate j/2 - 1/4, and tap k of an even-length filter at offset (k - (L-1)/2) / 2.

def _filter_1d(f, x, axis, up):
    NC, H, W = x.shape[0], x.shape[2], x.shape[3]
    L = f.numel()
    if axis == 'x':
        w = f.reshape(1, 1, 1, L)
        pad = [L // 2, L // 2 - 1, 0, 0] if up else [L // 2 - 1, L // 2, 0, 0]
        stride = (1, 1) if up else (1, 2)
    else:
        w = f.reshape(1, 1, L, 1)
        pad = [0, 0, L // 2, L // 2 - 1] if up else [0, 0, L // 2 - 1, L // 2]
        stride = (1, 1) if up else (2, 1)
    if up:
        z = torch.zeros([NC, 1, H * (2 if axis == 'y' else 1), W * (2 if axis == 'x' else 1)], dtype=x.dtype, device=x.device)
        if axis == 'x':
            z[:, :, :, ::2] = x
        else:
            z[:, :, ::2, :] = x
        return torch.nn.functional.conv2d(torch.nn.functional.pad(z, pad), w.flip(-1, -2) * 2, stride=stride)
    return torch.nn.functional.conv2d(torch.nn.functional.pad(x, pad), w, stride=stride)

def upsample2x(x, f):
    N, C, H, W = x.shape
    x = x.reshape(N * C, 1, H, W)
    x = _filter_1d(f, _filter_1d(f, x, 'x', up=True), 'y', up=True)
    return x.reshape(N, C, H * 2, W * 2)

def downsample2x(x, f):
    N, C, H, W = x.shape
    x = x.reshape(N * C, 1, H, W)
    x = _filter_1d(f, _filter_1d(f, x, 'x', up=False), 'y', up=False)
    return x.reshape(N, C, H // 2, W // 2)

#----------------------------------------------------------------------------
# Augmentation pipeline: __call__(images) -> (augmented images, labels [N, k] float32).

@persistence.persistent_class
class AugmentPipe:
    def __init__(self, p=1,
        xflip=0, yflip=0, rotate_int=0, translate_int=0, translate_int_max=0.125,
        scale=0, rotate_frac=0, aniso=0, translate_frac=0, scale_std=0.2, rotate_frac_max=1, aniso_std=0.2, aniso_rotate_prob=0.5, translate_frac_std=0.125,
        brightness=0, contrast=0, lumaflip=0, hue=0, saturation=0, brightness_std=0.2, contrast_std=0.5, hue_max=1, saturation_std=1,
    ):
        super().__init__()
        self.p                  = float(p)                  # Overall multiplier for augmentation probability.

        # Pixel blitting.
        self.xflip              = float(xflip)              # Probability multiplier for x-flip.
        self.yflip              = float(yflip)              # Probability multiplier for y-flip.
        self.rotate_int         = float(rotate_int)         # Probability multiplier for integer rotation.
        self.translate_int      = float(translate_int)      # Probability multiplier for integer translation.
        self.translate_int_max  = float(translate_int_max)  # Range of integer translation, relative to image dimensions.

        # Geometric transformations.
        self.scale              = float(scale)              # Probability multiplier for isotropic scaling.
        self.rotate_frac        = float(rotate_frac)        # Probability multiplier for fractional rotation.
        self.aniso              = float(aniso)              # Probability multiplier for anisotropic scaling.
        self.translate_frac     = float(translate_frac)     # Probability multiplier for fractional translation.
        self.scale_std          = float(scale_std)          # Log2 standard deviation of isotropic scaling.
        self.rotate_frac_max    = float(rotate_frac_max)    # Range of fractional rotation, 1 = full circle.
        self.aniso_std          = float(aniso_std)          # Log2 standard deviation of anisotropic scaling.
        self.aniso_rotate_prob  = float(aniso_rotate_prob)  # Probability of doing anisotropic scaling w.r.t. rotated coordinate frame.
        self.translate_frac_std = float(translate_frac_std) # Standard deviation of frational translation, relative to image dimensions.

        # Color transformations.
        self.brightness         = float(brightness)         # Probability multiplier for brightness.
        self.contrast           = float(contrast)           # Probability multiplier for contrast.
        self.lumaflip           = float(lumaflip)           # Probability multiplier for luma flip.
        self.hue                = float(hue)                # Probability multiplier for hue rotation.
        self.saturation         = float(saturation)         # Probability multiplier for saturation.
        self.brightness_std     = float(brightness_std)     # Standard deviation of brightness.
        self.contrast_std       = float(contrast_std)       # Log2 standard deviation of contrast.
        self.hue_max            = float(hue_max)            # Range of hue rotation, 1 = full circle.
        self.saturation_std     = float(saturation_std)     # Log2 standard deviation of saturation.

    def _gate(self, multiplier, value, shape, device, off=0):
        """value where this op fires for the sample (probability multiplier * p), else `off`."""
        fire = torch.rand(shape, device=device) < multiplier * self.p
        return torch.where(fire, value, torch.full_like(value, off))

    def __call__(self, images):
        N, C, H, W = images.shape
        device = images.device
        labels = [torch.zeros([N, 0], device=device)]

        # -----------------------------------------------------------
        # Geometric transformations (inverse matrices, output -> input, centred pixel coordinates).
        # -----------------------------------------------------------

        I_3 = torch.eye(3, device=device)
        G_inv = I_3

        if self.xflip > 0:
            w = self._gate(self.xflip, torch.randint(2, [N], device=device).to(torch.float32), [N], device)
            G_inv = G_inv @ scale2d_inv(1 - 2 * w, 1)
            labels += [w]

        if self.yflip > 0:
            w = self._gate(self.yflip, torch.randint(2, [N], device=device).to(torch.float32), [N], device)
            G_inv = G_inv @ scale2d_inv(1, 1 - 2 * w)
            labels += [w]

        if self.rotate_int > 0:
            w = self._gate(self.rotate_int, torch.randint(4, [N], device=device).to(torch.float32), [N], device)
            G_inv = G_inv @ rotate2d_inv(-np.pi / 2 * w)
            labels += [torch.cos(w * np.pi / 2) - 1, torch.sin(w * np.pi / 2)]

        if self.translate_int > 0:
            t = self._gate(self.translate_int, (torch.rand([N, 2], device=device) * 2 - 1) * self.translate_int_max, [N, 1], device)
            G_inv = G_inv @ translate2d_inv(torch.round(t[:, 0] * W), torch.round(t[:, 1] * H))
            labels += [t[:, 0], t[:, 1]]

        if self.scale > 0:
            z = self._gate(self.scale, torch.randn([N], device=device), [N], device)
            s = torch.exp2(z * self.scale_std)
            G_inv = G_inv @ scale2d_inv(s, s)
            labels += [z]

        if self.rotate_frac > 0:
            theta = self._gate(self.rotate_frac, (torch.rand([N], device=device) * 2 - 1) * np.pi * self.rotate_frac_max, [N], device)
            G_inv = G_inv @ rotate2d_inv(-theta)
            labels += [torch.cos(theta) - 1, torch.sin(theta)]

        if self.aniso > 0:
            z = torch.randn([N], device=device)
            r = torch.rand([N], device=device) * 2 * np.pi - np.pi
            r = torch.where(torch.rand([N], device=device) < self.aniso_rotate_prob, r, torch.zeros_like(r))
            fire = torch.rand([N], device=device) < self.aniso * self.p
            z, r = torch.where(fire, z, torch.zeros_like(z)), torch.where(fire, r, torch.zeros_like(r))
            s = torch.exp2(z * self.aniso_std)
            G_inv = G_inv @ rotate2d_inv(r) @ scale2d_inv(s, 1 / s) @ rotate2d_inv(-r)
            labels += [z * torch.cos(r), z * torch.sin(r)]

        if self.translate_frac > 0:
            t = self._gate(self.translate_frac, torch.randn([N, 2], device=device) * self.translate_frac_std, [N, 1], device)
            G_inv = G_inv @ translate2d_inv(t[:, 0] * W, t[:, 1] * H)
            labels += [t[:, 0], t[:, 1]]

        # Execute geometric transformations.
        if G_inv is not I_3:
            f = torch.as_tensor(wavelets['sym6'], dtype=torch.float32, device=device)
            f = f / f.sum()
            support = f.numel() // 2 # reach of upsample2x + downsample2x in coarse pixels

            # Reflect padding sized from where the output corners land in the input.
            cx, cy = W / 2, H / 2
            corners = matrix([-cx, cx, cx, -cx], [-cy, -cy, cy, cy], [1, 1, 1, 1], device=device).to(torch.float32)
            src = G_inv @ corners # [N, 3, 4]
            mx = int(np.clip(np.ceil(float(src[:, 0, :].abs().max()) - cx) + support, 0, W - 1))
            my = int(np.clip(np.ceil(float(src[:, 1, :].abs().max()) - cy) + support, 0, H - 1))
            images = torch.nn.functional.pad(images, [mx, mx, my, my], mode='reflect')
            Hp, Wp = H + 2 * my, W + 2 * mx

            # Upsample, resample with G_inv in normalised coordinates, downsample, crop.
            images = upsample2x(images, f)
            S = scale2d(Wp / 2, Hp / 2, device=device).to(torch.float32)
            S_inv = scale2d(2 / Wp, 2 / Hp, device=device).to(torch.float32)
            c = float((torch.arange(f.numel(), device=device) * f).sum()) # centroid of the filter
            delta = (c - (f.numel() - 1) / 2) / 2 # low-frequency delay of upsample2x, undone by downsample2x
            G_fine = translate2d(delta, delta, device=device).to(torch.float32) @ G_inv @ translate2d(-delta, -delta, device=device).to(torch.float32)
            theta = (S_inv @ G_fine @ S)[:, :2, :]
            grid = torch.nn.functional.affine_grid(theta, [N, C, Hp * 2, Wp * 2], align_corners=False)
            images = torch.nn.functional.grid_sample(images, grid, mode='bilinear', padding_mode='zeros', align_corners=False)
            images = downsample2x(images, f)
            images = images[:, :, my:my + H, mx:mx + W]

        # -----------------------------------------------------------
        # Color transformations (4x4 matrices in RGB; grey images use the luma projection).
        # -----------------------------------------------------------

        I_4 = torch.eye(4, device=device)
        M = I_4
        luma_axis = misc.constant(np.asarray([1, 1, 1, 0]) / np.sqrt(3), device=device)

        if self.brightness > 0:
            b = self._gate(self.brightness, torch.randn([N], device=device) * self.brightness_std, [N], device)
            M = translate3d(b, b, b) @ M
            labels += [b]

        if self.contrast > 0:
            z = self._gate(self.contrast, torch.randn([N], device=device), [N], device)
            c = torch.exp2(z * self.contrast_std)
            M = scale3d(c, c, c) @ M
            labels += [z]

        if self.lumaflip > 0:
            i = self._gate(self.lumaflip, torch.randint(2, [N], device=device).to(torch.float32), [N], device)
            M = (I_4 - 2 * luma_axis.ger(luma_axis) * i.reshape(N, 1, 1)) @ M
            labels += [i]

        if self.hue > 0:
            theta = self._gate(self.hue, (torch.rand([N], device=device) * 2 - 1) * np.pi * self.hue_max, [N], device)
            M = rotate3d(luma_axis.expand(N, 4), theta) @ M
            labels += [torch.cos(theta) - 1, torch.sin(theta)]

        if self.saturation > 0:
            z = self._gate(self.saturation, torch.randn([N], device=device), [N], device)
            s = torch.exp2(z * self.saturation_std)
            P = luma_axis.ger(luma_axis)
            M = (P + (I_4 - P) * s.reshape(N, 1, 1)) @ M
            labels += [z]

        # Execute color transformations.
        if M is not I_4:
            images = images.reshape(N, C, H * W)
            if C == 3:
                images = M[:, :3, :3] @ images + M[:, :3, 3:]
            elif C == 1:
                M = M[:, :3, :].mean(dim=1, keepdim=True)
                images = images * M[:, :, :3].sum(dim=2, keepdim=True) + M[:, :, 3:]
            else:
                raise ValueError('Image must be RGB (3 channels) or L (1 channel)')
            images = images.reshape(N, C, H, W)

        labels = torch.cat([x.to(torch.float32).reshape(N, -1) for x in labels], dim=1)
        return images, labels

#----------------------------------------------------------------------------
