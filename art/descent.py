# ART-EDM: learned time grids for EDM-style diffusion samplers.
# Copyright (c) 2026 The ART-EDM authors. Released under the MIT License (see LICENSE).

"""Gradient descent on a grid's nodes through the student solver: the terminal-distance objective of
LD3 (Tong et al., ICLR'25, "Learning to Discretize Denoising Diffusion ODEs"),

    loss(theta) = mean_b || phi(rollout(z_b; grid(theta))) - phi(x_ref,b) ||_2 / sqrt(dim phi),

over the parameters theta of `grid()` (softmax fractions of the log-sigma range), by Adam with a cosine
learning-rate decay. `art.peers.ld3` runs it from EDM's grid against its own teacher; `art.closed_form`
polishes its solver-aware grid with it against the trajectory bank's teacher samples.
"""

import numpy as np
import torch

import dnnlib
from art import sampler

#----------------------------------------------------------------------------

def rollout(net, latents, sigmas, class_labels=None, *, solver='euler'):
    """Differentiable `sampler.sample()` without churn: the same samples on a grid (K+1 sigmas ending in 0) whose
    autograd graph reaches `sigmas`. Every solver's final Euler step to 0 equals D(x; sigma_{K-1}), so the
    sampler's final_step='denoise' gives the same samples while keeping sigma = 0 out of the arithmetic; Euler is
    sample()'s iPNDM of order 1 (x + h d). Heun is stepped here: sample()'s churn noise sqrt(t_hat^2 - t^2) has an
    infinite derivative at gamma = 0."""
    if solver == 'heun':
        x = latents.to(torch.float64) * sigmas[0]
        for i in range(len(sigmas) - 2):
            s, t = sigmas[i], sigmas[i + 1]
            d = (x - net(x, s, class_labels).to(torch.float64)) / s
            x_pred = x + (t - s) * d
            x = x + (t - s) * (d + (x_pred - net(x_pred, t, class_labels).to(torch.float64)) / t) / 2
        return net(x, sigmas[-2], class_labels).to(torch.float64)
    if solver == 'euler':
        return sampler.sample(net, latents, sigmas, class_labels, solver='ipndm', max_order=1, final_step='denoise', check_finite=False)
    return sampler.sample(net, latents, sigmas, class_labels, solver=solver, final_step='denoise', check_finite=False)

MIN_FRACTION = 1e-4  # every log-sigma decrement is at least this fraction of the log range

def grid_init(sigmas, last_node, floor):
    """Free parameters theta reproducing the grid `sigmas` (K+1, ending in 0) under grid()."""
    log_s = torch.as_tensor(sigmas, dtype=torch.float64)[:-1].log()
    dec = log_s[:-1] - log_s[1:]
    if last_node == 'learned':
        dec = torch.cat([dec, (log_s[-1] - np.log(floor)).reshape(1)])
    frac = dec / dec.sum()
    return ((frac - MIN_FRACTION) / (1 - len(frac) * MIN_FRACTION)).log()

def grid(theta, sigma_min, sigma_max, last_node, floor):
    """The K+1 sigmas of parameters theta: sigma_0 = sigma_max, log-decrements L f_k with fractions
    f = eps + (1 - n eps) softmax(theta) (n = len(theta), eps = MIN_FRACTION), then 0. 'pinned': n = K-1,
    L = log(sigma_max/sigma_min), so the last node is sigma_min. 'learned': n = K (the last entry is the slack
    left below the last node), L = log(sigma_max/floor), so the last node is free in (floor, sigma_max)."""
    f = MIN_FRACTION + (1 - len(theta) * MIN_FRACTION) * torch.softmax(theta, dim=0)
    top = theta.new_tensor(np.log(sigma_max))
    L = np.log(sigma_max / (sigma_min if last_node == 'pinned' else floor))
    log_s = top - L * torch.cumsum(f, dim=0)                  # the last entry ends at sigma_min or at the floor
    parts = [theta.new_tensor([sigma_max]), log_s[:-1].exp()]
    if last_node == 'pinned' and len(theta) > 0:
        parts.append(theta.new_tensor([sigma_min]))
    return torch.cat(parts + [theta.new_zeros([1])])

def differentiable_features(spec, device):
    """x in [-1, 1] -> the features of a built-in art.detectors stand-in, differentiable in x (no uint8 rounding)."""
    from art.detectors import load_detector # pylint: disable=import-outside-toplevel
    import torch.nn.functional as F # pylint: disable=import-outside-toplevel
    det, _label = load_detector(spec, device)  # a pickled detector is refused here (no trust)
    if not (hasattr(det, 'model') and hasattr(det.model, 'features')):
        raise dnnlib.UserError(f'Detector "{spec}" is not differentiable here; use a built-in stand-in such as lenet-mnist')
    dtype = det.mean.dtype
    def feat(x):
        u = ((x * 127.5 + 128).clip(0, 255) / 255).to(dtype)
        if det.channels == 3 and u.shape[1] == 1:
            u = u.repeat(1, 3, 1, 1)
        elif det.channels == 1 and u.shape[1] == 3:
            u = u.mean(dim=1, keepdim=True)
        if u.shape[-1] != det.resolution or u.shape[-2] != det.resolution:
            u = F.interpolate(u, size=(det.resolution, det.resolution), mode='bilinear', align_corners=False, antialias=True)
        return det.model.features((u - det.mean) / det.std).to(torch.float64)
    return feat

#----------------------------------------------------------------------------

def descend(net, init_sigmas, latents, class_labels, ref, *, solver, iters, lr, batch, last_node, floor, sigma_min, sigma_max,
            feat=None, seed=0, log=None, tag='descent'):
    """(sigmas, loss at init_sigmas, loss of the result): Adam on theta = grid_init(init_sigmas) for `iters`
    iterations on minibatches of `batch` of (latents, class_labels) against the teacher samples `ref`, in the
    feature space `feat` (default: pixels). With batch >= len(latents) the iterate with the lowest loss is kept,
    else the last. sigma_min/sigma_max/floor/last_node as in grid(); init_sigmas must start at sigma_max."""
    num = len(latents)
    feat = feat if feat is not None else (lambda x: x.flatten(1))
    with torch.no_grad():
        ref_f = feat(ref)
    K = len(init_sigmas) - 1
    def loss_of(theta, idx):
        sigmas = grid(theta, sigma_min, sigma_max, last_node, floor)
        x = rollout(net, latents[idx], sigmas, None if class_labels is None else class_labels[idx], solver=solver)
        return (feat(x) - ref_f[idx]).square().mean(dim=1).sqrt().mean()
    def check(loss, it):
        if not torch.isfinite(loss):
            raise dnnlib.UserError(f'{tag}: non-finite training loss at iteration {it} (K={K}, {solver}); lower lr or check the network')
        return float(loss.detach())
    theta = grid_init(torch.as_tensor(init_sigmas, dtype=torch.float64).cpu(), last_node, floor).to(latents.device)
    everything = torch.arange(num, device=latents.device)
    with torch.no_grad():
        first = check(loss_of(theta, everything), 0)
    n_free = len(theta) - (1 if last_node == 'pinned' else 0) # softmax of n entries has n-1 degrees of freedom
    best = (first, theta.clone())
    if n_free > 0 and iters > 0:
        theta = theta.clone().requires_grad_(True)
        opt = torch.optim.Adam([theta], lr=lr)
        decay = torch.optim.lr_scheduler.LambdaLR(opt, lambda it: 0.5 * (1 + np.cos(np.pi * it / iters)))
        gen = torch.Generator().manual_seed(int(seed))
        order = torch.randperm(num, generator=gen)
        pos = 0
        with torch.enable_grad():
            for it in range(iters):
                if pos + min(batch, num) > num:
                    order, pos = torch.randperm(num, generator=gen), 0
                idx = order[pos:pos + batch].to(latents.device)
                pos += len(idx)
                loss = loss_of(theta, idx)
                value = check(loss, it)
                if batch >= num and value < best[0]:
                    best = (value, theta.detach().clone())
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                decay.step()
                if log is not None and (it % 20 == 0 or it == iters - 1):
                    log(f'{tag} K={K} ({solver}) iter {it}: loss {value:.5g}')
        with torch.no_grad():
            last = check(loss_of(theta.detach(), everything), iters)
        if batch < num or last < best[0]:
            best = (last, theta.detach().clone())
    return grid(best[1], sigma_min, sigma_max, last_node, floor).detach(), first, best[0]

#----------------------------------------------------------------------------
