# ART-EDM: learned time grids for EDM-style diffusion samplers.
# Copyright (c) 2026 The ART-EDM authors. Released under the MIT License (see LICENSE).

"""Reproduce the paper's tables: metric vs NFE for several time grids, solvers and step counts
(docs/art-paper.md §3). Thin CLI over art.comparison (the cells) and art.report (tables, plot, pictures); docs/usage.md "compare.py"."""

import os

import click

import dnnlib
from art.detectors import LENET_MNIST_REF
from torch_utils import distributed as dist
from torch_utils.misc import write_atomic

#----------------------------------------------------------------------------
# Presets: defaults for options not given on the command line.

_ART_RL_SHORT = 'art-rl@10:solver=euler:iters=150:batch=8:critic_warmup=30:lr=0.0005:lr_critic=0.005:lr_gamma=0.1:distil_batch=8'
_PAPER_CF = 'closed-form=closed-form:solver=euler:trajectories=32:fine_steps=64'
_MNIST_FD = dict(detector='lenet-mnist', ref=str(LENET_MNIST_REF))  # FD-LeNet against the committed MNIST statistics

PRESETS = {
    # README command 1: the embedded pretrained MNIST DiT; EDM rho=7, logsnr, the paper's closed form and
    # ART-RL (Euler surrogate), and the solver-aware closed form, under Heun and iPNDM at low NFE; RMS and
    # FD-LeNet over 2 seed sets; on a fresh machine (no ../shared) in <= 10 minutes on 2 quiet CPU cores.
    'default': dict(_MNIST_FD, network='builtin:mnist-dit', solvers='heun,ipndm', nfe='5,7,9', samples=512, seed_sets=2,
                    schedules=f'edm,logsnr,{_PAPER_CF},art-rl={_ART_RL_SHORT},solver-aware=closed-form:trajectories=32:fine_steps=64',
                    ref_steps=32, batch=320, outdir='compare-runs/default', threads=2),
    # The previous default on the project's small UNet (builtin:mnist), Heun only; one intra-op thread for the tiny net
    # avoids the oversubscription that makes 2 threads several times slower on a busy machine.
    'mnist': dict(_MNIST_FD, network='builtin:mnist', solvers='heun', nfe='5,9,13,19', samples=768, seed_sets=1,
                  schedules=f'edm,uniform,logsnr,art-rl={_ART_RL_SHORT},{_PAPER_CF}',
                  ref_steps=40, batch=256, outdir='compare-runs/mnist', threads=1),
}

#----------------------------------------------------------------------------

@click.command(context_settings=dict(show_default=True))
@click.option('--preset',       help='Defaults for every option not given', type=click.Choice(sorted(PRESETS)))
@click.option('--network',      help='Network pickle, .pt or builtin:NAME', metavar='PKL|URL|builtin:NAME', type=str)
@click.option('--trust-pickle', help='Run code embedded in a pickle (trusted files only)', is_flag=True)
@click.option('--schedules',    help='Comma-separated schedule entries (see above)', metavar='LIST', type=str, default='edm,uniform,logsnr')
@click.option('--solvers',      help='Comma-separated solvers', metavar='LIST', type=str, default='heun')
@click.option('--nfe',          help='NFE values (columns)', metavar='LIST', type=str, default='3,5,9,13,19,35')
@click.option('--samples',      help='Samples per cell and seed set', metavar='INT', type=click.IntRange(min=2), default=1000)
@click.option('--seed-sets',    help='Number of disjoint seed sets (mean ± std)', metavar='INT', type=click.IntRange(min=1), default=1)
@click.option('--first-seed',   help='First seed of set 0', metavar='INT', type=click.IntRange(min=0), default=0)
@click.option('--detector',     help='Feature network for FD (art.detectors.load_detector)', metavar='SPEC', type=str, default='inception')
@click.option('--ref',          help='Reference statistics for FD (omit: RMS only)', metavar='NPZ|URL', type=str)
@click.option('--ref-steps',    help='Steps K of the Heun EDM reference (NFE 2K-1)', metavar='INT', type=click.IntRange(min=2), default=128)
@click.option('--batch',        help='Maximum batch size', metavar='INT', type=click.IntRange(min=1), default=64)
@click.option('--learn-seed',   help='Seed for learned (on-the-fly) schedules', metavar='INT', type=click.IntRange(min=0), default=0)
@click.option('--outdir',       help='Where results.json, results.md, results.png go', metavar='DIR', type=str, show_default='compare-runs/<network name>')
@click.option('--device',       help='Device', metavar='cuda|cpu|...', type=str, default=None, show_default='cuda if available, else cpu')
@click.option('--threads',      help='CPU intra-op threads (0 = torch default)', metavar='INT', type=click.IntRange(min=0), default=0)
@click.pass_context
def main(ctx, preset, outdir, **opts):
    """Compare time grids: RMS error against a high-NFE reference and FD/FID, vs NFE.

    Schedule entries (comma-separated): a grid name of art.schedules (edm, uniform, logsnr, vp, ve,
    iddpm; options as NAME:key=val, e.g. edm:rho=3), a schedule JSON file (a {K} in its name picks
    one file per K), or a method of art.methods learned on the fly for each K (closed-form, art-rl,
    gits, ...; NAME@K learns once at K and reads the other K off it; NAME:key=val:key=val is the
    method spec of train_art.py --method, e.g. closed-form:solver=euler). Prefix LABEL= to name a row.
    Any entry takes the reserved keys final_step=euler|none|denoise and afs=true|false, the sampling
    convention of its row (art.sampler.sample; default EDM's: an Euler step to 0, no AFS), e.g.
    edm-afs=edm:final_step=none:afs=true; K per NFE then follows count_nfe under that convention.
    A killed run resumes from OUTDIR/results.json.

    Examples:

    \b
    # README command 1: the embedded default (builtin:mnist-dit, grids learned on the fly, Heun and iPNDM at low NFE)
    python compare.py --preset=default

    \b
    # EDM's convention next to "AFS, no final step" (diff-sampler/AMED's), Heun NFE 3,5,9
    python compare.py --network=builtin:mnist-dit --solvers=heun --nfe=3,5,9 \\
        --schedules=edm,logsnr,edm-afs=edm:final_step=none:afs=true,logsnr-afs=logsnr:final_step=none:afs=true

    \b
    # CIFAR-10, official pickle and FID statistics, a learned schedule file, 8 GPUs
    torchrun --standalone --nproc_per_node=8 compare.py --device=cuda --trust-pickle \\
        --network=https://nvlabs-fi-cdn.nvidia.com/edm/pretrained/edm-cifar10-32x32-cond-vp.pkl \\
        --schedules=edm,logsnr,uniform,art=art-cifar10-k18.json --nfe=3,5,9,13,19,35 \\
        --samples=50000 --ref=https://nvlabs-fi-cdn.nvidia.com/edm/fid-refs/cifar10-32x32.npz \\
        --outdir=compare-runs/cifar10
    """
    from click.core import ParameterSource
    from art import comparison, report
    if preset is not None:
        for k, v in PRESETS[preset].items():
            if k == 'outdir':
                outdir = outdir or v
            elif ctx.get_parameter_source(k) in (ParameterSource.DEFAULT, None):
                opts[k] = v
    if not opts['network']:
        raise click.ClickException('--network is required (or use --preset=default)')
    if outdir is None:
        outdir = os.path.join('compare-runs', os.path.basename(opts['network'].replace('builtin:', '')).split('.')[0])
    import torch
    if opts['device'] is None:
        opts['device'] = 'cuda' if torch.cuda.is_available() else 'cpu'
    if opts['threads']:
        torch.set_num_threads(opts['threads'])
    dist.init(opts['device'])
    with dnnlib.util.click_user_errors():
        lists = {name: [s.strip() for s in opts[name].split(',') if s.strip()] for name in ('schedules', 'solvers')}
        for name, values in lists.items():
            if not values:
                raise dnnlib.UserError(f'--{name} is empty; give at least one entry')
        from art.sampler import SOLVERS
        for solver in lists['solvers']:
            if solver not in SOLVERS:
                raise dnnlib.UserError(f'Unknown solver "{solver}" in --solvers; choose from {", ".join(SOLVERS)}')
        import contextlib
        from torch_utils.misc import exclusive_output
        try:
            os.makedirs(outdir, exist_ok=True)
        except OSError as e:
            raise dnnlib.UserError(f'Cannot create --outdir "{outdir}" ({e.strerror}); choose another --outdir') from None
        lock = exclusive_output(os.path.join(outdir, 'results.json'), '--outdir') if dist.get_rank() == 0 else contextlib.nullcontext()
        with lock:
            cmp = comparison.Comparison(
                network=opts['network'], outdir=outdir, trust_pickle=opts['trust_pickle'],
                schedules=lists['schedules'], solvers=lists['solvers'],
                nfes=opts['nfe'], num=opts['samples'], num_seed_sets=opts['seed_sets'], first_seed=opts['first_seed'],
                detector=opts['detector'], ref=opts['ref'], ref_steps=opts['ref_steps'], batch=opts['batch'],
                learn_seed=opts['learn_seed'], device=opts['device'])
            results = cmp.run()
            if dist.get_rank() == 0:
                order = [e.label for e in cmp.entries]
                md = report.markdown_tables(results, row_order=order)
                write_atomic(os.path.join(outdir, 'results.md'), md)
                report.plot(results, os.path.join(outdir, 'results.png'), row_order=order)
                report.sample_grid(cmp, outdir)
                print()
                print(md)
                print(f'Wrote results.json, results.md, results.png, samples-<solver>.png and timings.json to "{outdir}".')
    dist.barrier()

#----------------------------------------------------------------------------

if __name__ == '__main__':
    main()

#----------------------------------------------------------------------------
