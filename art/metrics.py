# ART-EDM: learned time grids for EDM-style diffusion samplers.
# Copyright (c) 2026 The ART-EDM authors. Released under the MIT License (see LICENSE).

"""Metrics: error against a reference ODE solution, exact 1-D W2, and Fréchet distances.

The Fréchet distance follows EDM's fid.py (docs/edm-spec.md §3): float64 sums of x and x xᵀ,
N-1 covariance, FD = |mu1 - mu2|² + tr(S1 + S2 - 2 sqrtm(S1 S2)), real part. The feature statistics
of an image folder/zip (EDM's calculate_inception_stats, with any detector of art/detectors.py) and of
in-memory uint8 batches (for compare.py, no PNGs written) are computed here; fid.py stays thin."""

import os

import numpy as np
import scipy.linalg
import torch

import dnnlib

#----------------------------------------------------------------------------
# EDM's conversion of samples to images (edm-spec.md §2.7).

def to_uint8(x):
    """[-1, 1] float images -> uint8 NCHW: (x * 127.5 + 128), clipped to [0, 255], truncated."""
    return (x * 127.5 + 128).clip(0, 255).to(torch.uint8)

#----------------------------------------------------------------------------
# Error against a high-NFE reference solution from the same latents.

def rms_error(x, ref):
    """Mean over samples of the per-sample RMS difference (pixel units of x, e.g. [-1, 1])."""
    diff = (torch.as_tensor(x, dtype=torch.float64) - torch.as_tensor(ref, dtype=torch.float64)).flatten(1)
    return float(diff.square().mean(dim=1).sqrt().mean())

#----------------------------------------------------------------------------
# Fréchet distance between two Gaussians.

FD_RTOL = 1e-6 # round-off allowance, relative to |mu1 - mu2|² + tr(sigma1) + tr(sigma2)

def frechet_distance(mu1, sigma1, mu2, sigma2):
    """||mu1 - mu2||² + tr(sigma1 + sigma2 - 2 (sigma1 sigma2)^(1/2)), real part, as EDM's fid.py.
    A distance is >= 0: a negative round-off within FD_RTOL of the scale is returned as 0, anything
    more negative (or non-finite) means invalid statistics and raises dnnlib.UserError."""
    mu1, mu2 = np.asarray(mu1, np.float64), np.asarray(mu2, np.float64)
    sigma1, sigma2 = np.asarray(sigma1, np.float64), np.asarray(sigma2, np.float64)
    m = np.square(mu1 - mu2).sum()
    s = scipy.linalg.sqrtm(np.dot(sigma1, sigma2))
    fd = float(np.real(m + np.trace(sigma1 + sigma2 - s * 2)))
    scale = float(m + abs(np.trace(sigma1)) + abs(np.trace(sigma2)))
    if not np.isfinite(fd):
        raise dnnlib.UserError('The Frechet distance is not finite: the feature statistics contain NaN/inf (check the images and the reference)')
    if fd < 0:
        if fd < -FD_RTOL * scale:
            raise dnnlib.UserError(f'The Frechet distance came out negative ({fd:g}): a covariance is not positive semi-definite; check the reference statistics')
        fd = 0.0
    return fd

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

#----------------------------------------------------------------------------
# Feature statistics of in-memory uint8 image batches (each rank passes its own share).

def _features(detector, images, device):
    images = torch.as_tensor(images)
    if images.ndim == 3: # [N,H,W] grey images -> [N,1,H,W]
        images = images[:, None]
    if images.dtype != torch.uint8:
        raise ValueError(f'detector input must be uint8 images, got {images.dtype}')
    if images.shape[1] == 1:
        images = images.repeat([1, 3, 1, 1])
    return detector(images.to(device), return_features=True).to(torch.float64)

#----------------------------------------------------------------------------

def stats_from_batches(detector, batches, device='cpu', dim=None):
    """Mean and N-1 covariance (float64 numpy) of `detector` features over an iterable of uint8 NCHW
    (or NHW) batches. Under torch.distributed, every rank passes its own images and the sums are
    all-reduced; `dim` (the feature dimension) is then required when a rank may get no batch."""
    stats = None if dim is None else FeatureStats(dim, device)
    for images in batches:
        if len(images) == 0:
            continue
        features = _features(detector, images, device)
        if stats is None:
            stats = FeatureStats(features.shape[1], device)
        stats.append(features)
    if stats is None:
        raise dnnlib.UserError('No images to compute statistics of')
    stats.all_reduce()
    if stats.n < 2:
        raise dnnlib.UserError(f'Found {stats.n} images, but need at least 2 to compute statistics')
    return stats.mean_cov()

#----------------------------------------------------------------------------
# Feature statistics of an image folder or zip (EDM's calculate_inception_stats, any detector).

def stats_from_images(image_path, detector, num_expected=None, seed=0, max_batch_size=64,
    num_workers=3, prefetch_factor=2, device='cpu', verbose=True):
    """EDM's procedure: (random subset of) the images of a folder/zip, split over ranks like
    generate.py, 1-channel images repeated to 3, float64 sums, all_reduce, N-1 covariance."""
    import tqdm
    from torch_utils import distributed as dist
    from training.dataset import ImageFolderDataset, reraise_worker_error
    from art.detectors import feature_dim

    rank, world_size = dist.get_rank(), dist.get_world_size()
    if verbose:
        dist.print0(f'Loading images from "{image_path}"...')
    dataset_obj = ImageFolderDataset(path=image_path, max_size=num_expected, random_seed=seed)
    if num_expected is not None and len(dataset_obj) < num_expected:
        raise dnnlib.UserError(f'Found {len(dataset_obj)} images, but expected at least {num_expected}')
    if len(dataset_obj) < 2:
        raise dnnlib.UserError(f'Found {len(dataset_obj)} images, but need at least 2 to compute statistics')
    dim = feature_dim(detector, dataset_obj.image_shape, device)

    # Same split as generate.py: equal numbers of (possibly empty) batches on every rank.
    from torch_utils.distributed import split_batches # pylint: disable=import-outside-toplevel
    rank_batches = split_batches(range(len(dataset_obj)), max_batch_size, rank, world_size)
    loader_kwargs = dict(num_workers=num_workers, prefetch_factor=prefetch_factor) if num_workers > 0 else {}
    data_loader = torch.utils.data.DataLoader(dataset_obj, batch_sampler=rank_batches, **loader_kwargs)

    if verbose:
        dist.print0(f'Calculating statistics for {len(dataset_obj)} images...')
    stats = FeatureStats(dim, device)
    try:
        for images, _labels in tqdm.tqdm(data_loader, unit='batch', disable=(rank != 0 or not verbose)):
            dist.barrier()
            if images.shape[0] == 0:
                continue
            stats.append(_features(detector, images, device))
    except dnnlib.UserError as e:
        reraise_worker_error(e)
    stats.all_reduce()
    return stats.mean_cov()

#----------------------------------------------------------------------------
# Reference statistics files: mu, sigma and the label of the detector that made them.

def check_ref_dest(dest_path):
    """`dest_path` if it can be a reference file: a path ending in .npz that is not a folder, whose
    nearest existing parent is a writable folder (missing parents are created when saving)."""
    dest_path = os.fspath(dest_path)
    if not dest_path.endswith('.npz') or os.path.isdir(dest_path):
        raise dnnlib.UserError(f'--dest "{dest_path}" must be the path of a .npz file, e.g. "{os.path.join(dest_path.rstrip("/") or ".", "ref.npz")}"')
    parent = os.path.dirname(os.path.abspath(dest_path))
    while not os.path.exists(parent) and os.path.dirname(parent) != parent:
        parent = os.path.dirname(parent)
    if not os.path.isdir(parent) or not os.access(parent, os.W_OK | os.X_OK):
        raise dnnlib.UserError(f'--dest "{dest_path}" cannot be written: "{parent}" is not a writable folder')
    return dest_path

def save_ref(dest_path, mu, sigma, detector='FID', **meta):
    """np.savez(dest, mu=, sigma=, detector=) like EDM's `fid.py ref` (plus the label): the parent
    folders are created, `dest_path` must be a file path ending in .npz (np.savez would otherwise
    write `dest_path + '.npz'`), and the file is written atomically. Errors are one-line UserErrors."""
    dest_path = check_ref_dest(dest_path)
    from torch_utils.misc import save_atomic # pylint: disable=import-outside-toplevel
    save_atomic(dest_path, lambda tmp: np.savez(tmp, mu=mu, sigma=sigma, detector=np.array(detector),
                                                **{k: np.array(v) for k, v in meta.items()}), what='--dest')

#----------------------------------------------------------------------------

def check_ref_stats(mu, sigma, source, rtol=1e-6):
    """Check reference statistics: mu of shape [d], sigma [d, d], finite, symmetric and positive
    semi-definite within `rtol` of the largest eigenvalue. Raises a one-line dnnlib.UserError."""
    hint = 'pass an .npz made with "fid.py ref"'
    for name, v, ndim in (('mu', mu, 1), ('sigma', sigma, 2)):
        if not isinstance(v, np.ndarray) or v.dtype.kind not in 'fiu' or v.ndim != ndim:
            raise dnnlib.UserError(f'{source}: "{name}" must be a {ndim}-d array of numbers, got {getattr(v, "dtype", type(v))} of shape {getattr(v, "shape", "?")}; {hint}')
    d = mu.shape[0]
    if d == 0 or sigma.shape != (d, d):
        raise dnnlib.UserError(f'{source}: "mu" has shape {mu.shape} and "sigma" {sigma.shape}; need [d] and [d, d] with d >= 1; {hint}')
    mu, sigma = mu.astype(np.float64), sigma.astype(np.float64)
    if not (np.isfinite(mu).all() and np.isfinite(sigma).all()):
        raise dnnlib.UserError(f'{source}: "mu"/"sigma" contain NaN or inf; {hint}')
    scale = max(float(np.abs(sigma).max()), np.finfo(np.float64).tiny)
    if float(np.abs(sigma - sigma.T).max()) > rtol * scale:
        raise dnnlib.UserError(f'{source}: "sigma" is not symmetric, so it is not a covariance; {hint}')
    w = np.linalg.eigvalsh((sigma + sigma.T) / 2)
    if w[0] < -rtol * max(float(w[-1]), scale):
        raise dnnlib.UserError(f'{source}: "sigma" is not positive semi-definite (smallest eigenvalue {w[0]:g}), so it is not a covariance; {hint}')
    return mu, sigma

#----------------------------------------------------------------------------

def load_ref(ref_path, label=None, verbose=True):
    """Load reference statistics from a path or URL as a dict with 'mu', 'sigma' and 'detector'
    (files without that key, such as EDM's official refs, are Inception statistics: 'FID'). The
    file is read without pickles (allow_pickle=False) and checked by check_ref_stats.
    With `label`, a ref made with another detector is a UserError."""
    is_url = dnnlib.util.is_url(ref_path, allow_file_urls=True)
    if not is_url and not os.path.isfile(ref_path):
        raise dnnlib.UserError(f'Reference statistics "{ref_path}" not found: pass an existing .npz (made with "fid.py ref") or a URL')
    source = f'Reference statistics "{ref_path}"'
    try:
        with dnnlib.util.open_url(ref_path, verbose=verbose) as f:
            with np.load(f, allow_pickle=False) as z:
                ref = {k: z[k] for k in z.files}
    except dnnlib.UserError:
        raise # open_url's one line (offline: which cache file to pre-seed).
    except Exception as e:
        raise dnnlib.UserError(f'Cannot read reference statistics "{ref_path}" ({type(e).__name__}): pass an .npz made with "fid.py ref"') from None
    if 'mu' not in ref or 'sigma' not in ref:
        raise dnnlib.UserError(f'Reference statistics "{ref_path}" lack "mu"/"sigma": pass an .npz made with "fid.py ref"')
    ref['mu'], ref['sigma'] = check_ref_stats(ref['mu'], ref['sigma'], source)
    det = ref.get('detector')
    if det is not None and (det.ndim != 0 or det.dtype.kind != 'U'):
        raise dnnlib.UserError(f'{source}: "detector" must be a string; pass an .npz made with "fid.py ref"')
    ref['detector'] = str(det) if det is not None else 'FID'
    if label is not None and ref['detector'] != label:
        raise dnnlib.UserError(f'Reference statistics "{ref_path}" were computed for {ref["detector"]}, but the detector gives {label}: '
                               'use the same --detector as for "fid.py ref"')
    return ref

#----------------------------------------------------------------------------
# Exact W2 of the Euler sampler on Gaussian data N(0, s_d²) (art-paper §1.5).

def w2_gauss_euler(sigmas, sigma_data=1.0):
    """Exact W2 between the Euler output on the grid `sigmas` (descending, last 0) and N(0, s_d²).

    With D = x s_d²/(s_d²+σ²) the Euler map is linear, x_K = c x_0 with c = Π_i (1 + (σ_{i+1}-σ_i) σ_i/(s_d²+σ_i²)),
    and x_0 ~ N(0, s_d² + σ_0²), so W2 = |c sqrt(s_d² + σ_0²) - s_d| (the paper's 1-D Table 1 metric)."""
    s = np.asarray(sigmas, dtype=np.float64)
    c = np.prod(1 + (s[1:] - s[:-1]) * s[:-1] / (sigma_data ** 2 + s[:-1] ** 2))
    return float(abs(c * np.sqrt(sigma_data ** 2 + s[0] ** 2) - sigma_data))
