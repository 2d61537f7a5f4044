# ART-EDM: learned time grids for EDM-style diffusion samplers.
# Copyright (c) 2026 The ART-EDM authors. Released under the MIT License (see LICENSE).

"""Benchmark of ART learning (issue 4): wall times and accuracy of the closed form and ART-RL.

Prints, per network:
  * wall time of closed_form.fit and rl.train at K = 18 (targets on 2 CPU cores: <= 60 s, <= 15 min);
  * RMS error against a high-NFE Heun reference from the same latents for EDM rho=7, the closed form
    (fitted per K) and ART-RL (one K = 18 run; its time change read off at each K), Euler and Heun;
  * for builtin:gauss1d, the exact Euler W2 of ART-RL (the paper's settings) and the closed form vs v1 Table 1.
ART-RL runs with rl.train's defaults (5,000 iterations of 64 trajectories) on gmm-digits and with a
shorter schedule sized for the 15-minute budget on the MNIST DiT (RL_SETTINGS below); --rl-* flags override.
Never fails on time. Examples:

    python bench/bench_art.py --networks=gauss1d,gmm-digits --seeds=0,1,2
    python bench/bench_art.py --networks=mnist-dit
"""

import json
import os
import sys
import time

import click
import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from art import closed_form, rl, sampler, schedules # pylint: disable=wrong-import-position
from art.metrics import rms_error, w2_gauss_euler # pylint: disable=wrong-import-position
from dnnlib.util import parse_int_list # pylint: disable=wrong-import-position
from art.builtin import load_network # pylint: disable=wrong-import-position

PAPER_ART_RL = {2: .345, 5: .149, 10: .079, 20: .042, 50: .020, 100: .013}

#----------------------------------------------------------------------------

def bench_gauss1d(args):
    net = load_network('builtin:gauss1d', verbose=False)
    t0 = time.time()
    cf = closed_form.fit(net, 18, solver='euler', num_trajectories=512, fine_steps=256, batch=512)
    t_cf = time.time() - t0
    t0 = time.time()
    sched = rl.train(net, 10, rl_steps=10, q_backend='fd', progress=False, seed=args.seeds[0],
        settings=rl.PAPER.replace(iters=1500, batch=64, lr=1e-3, lr_gamma=0.03))
    t_rl = time.time() - t0
    prof = cf['profile']
    print(f'gauss1d: closed form {t_cf:.1f} s, ART-RL (10-step clock, 1500 it, B=64) {t_rl:.1f} s', flush=True)
    print('   K   ART-RL   closed   uniform  paper-ART-RL')
    for K, ref in PAPER_ART_RL.items():
        w_rl = w2_gauss_euler(rl.schedule_grid(sched, K))
        w_cf = w2_gauss_euler(closed_form.nodes(prof['sigma'], prof['rbar'], K, 2)[0])
        print(f'{K:4d}  {w_rl:.4f}   {w_cf:.4f}   {w2_gauss_euler(np.linspace(3, 0, K + 1)):.4f}   {ref:.3f}')

#----------------------------------------------------------------------------

# ART-RL settings per network (rl.train defaults otherwise); the DiT's is sized for ~15 min on 2 cores.
RL_SETTINGS = {
    'gmm-digits': dict(),
    'mnist-dit':  dict(iters=500, batch=8, lr=3e-4, lr_critic=3e-3, lr_gamma=0.1, critic_warmup=100),
}

def bench_image(name, args, cases):
    net = load_network(f'builtin:{name}', verbose=False)
    g = torch.Generator().manual_seed(123)
    N = args.samples
    latents = torch.randn([N, net.img_channels, net.img_resolution, net.img_resolution], generator=g, dtype=torch.float64)
    labels = torch.eye(net.label_dim)[torch.randint(net.label_dim, [N], generator=g)] if net.label_dim else None

    t0 = time.time()
    cf18 = closed_form.fit(net, 18, solver='euler', num_trajectories=args.cf_trajectories, fine_steps=args.cf_fine, batch=args.cf_trajectories)
    t_cf = time.time() - t0
    prof = cf18['q_profile']
    print(f'{name}: closed form K=18 ({args.cf_trajectories} trajectories, {args.cf_fine} fine steps): {t_cf:.1f} s', flush=True)
    t0 = time.time()
    ref = sampler.sample(net, latents, schedules.get_sigmas('edm', args.ref_steps, net=net), labels, solver='heun')
    print(f'{name}: reference Heun {args.ref_steps} steps: {time.time() - t0:.1f} s', flush=True)
    lo, hi = cf18['settings']['sigma_min'], cf18['settings']['sigma_max']
    err = lambda sigmas, solver: rms_error(sampler.sample(net, latents, torch.as_tensor(sigmas), labels, solver=solver), ref)
    e_edm = {c: err(schedules.get_sigmas('edm', c[1], sigma_min=lo, sigma_max=hi), c[0]) for c in cases}
    e_cf = {c: err(closed_form.nodes(prof['sigma'], prof['rbar'], c[1], 2)[0], c[0]) for c in cases}

    settings = dict(RL_SETTINGS[name])
    settings.update({k: v for k, v in dict(iters=args.rl_iters, batch=args.rl_batch, lr=args.rl_lr, lr_gamma=args.rl_lr_gamma).items() if v is not None})
    for seed in args.seeds:
        t0 = time.time()
        sched = rl.train(net, 18, progress=False, seed=seed, log_path=os.path.join(args.outdir, f'{name}-rl18-seed{seed}.jsonl'),
            distil_batch=16, **settings)
        t_rl = time.time() - t0
        iters = sched['settings']['iters']
        print(f'{name}: ART-RL K=18 seed {seed} ({iters} it, B={sched["settings"]["batch"]}): {t_rl:.1f} s ({t_rl / max(iters, 1):.2f} s/it)', flush=True)
        with open(os.path.join(args.outdir, f'{name}-rl18-seed{seed}.json'), 'w') as f:
            json.dump(sched, f)
        print(f'{"solver":6s} {"K":>3s} {"NFE":>4s} {"EDM":>8s} {"closed":>8s} {"ART-RL":>8s}  cf/EDM  RL/EDM  RL/cf')
        for c in cases:
            e_rl = err(rl.schedule_grid(sched, c[1]), c[0])
            print(f'{c[0]:6s} {c[1]:3d} {sampler.count_nfe(*c):4d} {e_edm[c]:8.4f} {e_cf[c]:8.4f} {e_rl:8.4f}  '
                  f'{e_cf[c] / e_edm[c]:6.3f}  {e_rl / e_edm[c]:6.3f}  {e_rl / e_cf[c]:6.3f}', flush=True)

#----------------------------------------------------------------------------

@click.command()
@click.option('--networks',        help='Comma-separated: gauss1d, gmm-digits, mnist-dit', type=str, default='gauss1d,gmm-digits,mnist-dit', show_default=True)
@click.option('--samples',         help='Samples for the RMS errors', type=click.IntRange(min=1), default=128, show_default=True)
@click.option('--ref-steps',       help='Reference Heun steps (gmm-digits; the DiT uses 128 = 255 NFE)', type=click.IntRange(min=2), default=1024, show_default=True)
@click.option('--rl-iters',        help='ART-RL iterations [default: per network]', type=click.IntRange(min=0), default=None)
@click.option('--rl-batch',        help='ART-RL trajectories per iteration [default: per network]', type=click.IntRange(min=1), default=None)
@click.option('--rl-lr',           help='ART-RL actor learning rate [default: per network]', type=float, default=None)
@click.option('--rl-lr-gamma',     help='ART-RL dual step [default: per network]', type=float, default=None)
@click.option('--cf-trajectories', help='Closed form: trajectories', type=click.IntRange(min=1), default=128, show_default=True)
@click.option('--cf-fine',         help='Closed form: fine grid steps', type=click.IntRange(min=2), default=128, show_default=True)
@click.option('--threads',         help='torch intra-op threads', type=click.IntRange(min=1), default=2, show_default=True)
@click.option('--seeds',           help='ART-RL seeds (one run each)', type=parse_int_list, default='0', show_default=True)
@click.option('--outdir',          help='Where logs and learned schedules go', type=str, default='bench-art-out', show_default=True)
def main(networks, **kwargs):
    """ART learning benchmark (wall times, exact W2, RMS vs reference)."""
    import dnnlib # pylint: disable=import-outside-toplevel
    args = dnnlib.EasyDict(kwargs)
    os.makedirs(args.outdir, exist_ok=True)
    torch.set_num_threads(args.threads)  # tiny tensors: more threads than free cores slow everything down
    for name in networks.split(','):
        if name == 'gauss1d':
            bench_gauss1d(args)
        elif name == 'gmm-digits':
            bench_image(name, args, [('heun', 5), ('heun', 7), ('heun', 10), ('euler', 10), ('euler', 18)])
        elif name == 'mnist-dit':
            args = dnnlib.EasyDict(args, ref_steps=128)
            bench_image(name, args, [('euler', 10), ('euler', 18), ('heun', 5), ('heun', 7)])
        else:
            raise click.ClickException(f'Unknown network "{name}"')

#----------------------------------------------------------------------------

if __name__ == '__main__':
    main() # pylint: disable=no-value-for-parameter

#----------------------------------------------------------------------------
