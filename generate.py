# ART-EDM: learned time grids for EDM-style diffusion samplers.
# Copyright (c) 2026 The ART-EDM authors. Released under the MIT License (see LICENSE).

"""Generate images with an EDM-style network: EDM's generate.py (edm-spec.md §2) plus --schedule.

Flags, defaults, seed handling, per-seed RNG draw order (§2.3), the batch/rank split (§2.2), file
names and the uint8 conversion (§2.7) follow EDM. New: `--schedule` picks the time grid (a name or a
learned schedule file, art.schedules), `--final-step`/`--afs` the sampling convention (art.sampler.sample,
docs/solvers.md "Conventions"), `--device`, `--trust-pickle`, resumable output (images
already in --outdir are skipped; every image is written atomically). EDM's sigma(t) ablation flag
`--schedule` is renamed `--sigma_schedule`; `--disc` stays as an alias of `--schedule`.
"""

import math
import os

import click
import PIL.Image
import torch
import tqdm
from click.core import ParameterSource

import dnnlib
from art import pictures as art_pictures
from art import sampler as art_sampler
from art.builtin import load_network
from art.metrics import to_uint8 as metrics_to_uint8
from art import schedules as art_schedules
from dnnlib.util import parse_int_list
from torch_utils import distributed as dist
from torch_utils.misc import resolve_device, save_atomic

EDM_GRIDS = ('vp', 've', 'iddpm', 'edm')
MAX_SEEDS = 10 ** 8 # the most seeds one run takes

#----------------------------------------------------------------------------
def _seed_list(ctx, param, value):
    try:
        seeds = parse_int_list(value, max_count=MAX_SEEDS)
    except ValueError as e:
        if 'more than' in str(e):
            raise click.ClickException(f'--seeds="{value}" gives more than {MAX_SEEDS:,} seeds, the limit per run; split the seeds over several runs') from None
        raise click.ClickException(f'--seeds="{value}" is not a valid seed list; expected e.g. 1,2,5-10') from None
    if not seeds:
        raise click.ClickException(f'--seeds="{value}" gives no seeds; pass e.g. --seeds=0-63 (a range a-b needs a <= b)')
    return seeds

#----------------------------------------------------------------------------
# Batches of seeds: EDM's split, nearly equal chunks, rank r takes chunks r, r+W, r+2W, ... (§2.2).

def split_seeds(seeds, max_batch_size, world_size=1, rank=0):
    return dist.split_batches(seeds, max_batch_size, rank, world_size)

#----------------------------------------------------------------------------
# Output file of a seed (§2.7).

def image_path(outdir, seed, subdirs=False):
    image_dir = os.path.join(outdir, f'{seed - seed % 1000:06d}') if subdirs else outdir
    return os.path.join(image_dir, f'{seed:06d}.png')

#----------------------------------------------------------------------------
def to_uint8(images):
    """[B,C,H,W] float in about [-1,1] -> [B,H,W,C] uint8 NumPy: (x*127.5 + 128), clip, truncate."""
    return metrics_to_uint8(images).permute(0, 2, 3, 1).cpu().numpy()

#----------------------------------------------------------------------------
def save_image_atomic(image_np, path):
    """Write one HWC uint8 image as PNG via a temporary file + os.replace (never a partial PNG)."""
    img = PIL.Image.fromarray(image_np[:, :, 0], 'L') if image_np.shape[2] == 1 else PIL.Image.fromarray(image_np, 'RGB')
    save_atomic(path, lambda tmp: img.save(tmp, format='PNG'), what='--outdir')

#----------------------------------------------------------------------------
def check_outdir(outdir):
    """UserError unless --outdir is a writable folder or can be created (nothing is created here)."""
    path = os.path.abspath(outdir)
    while not os.path.exists(path) and os.path.dirname(path) != path:
        path = os.path.dirname(path)
    if not os.path.isdir(path):
        raise dnnlib.UserError(f'--outdir "{outdir}" cannot be a folder: "{path}" is a file; give another --outdir')
    if not os.access(path, os.W_OK | os.X_OK):
        raise dnnlib.UserError(f'--outdir "{outdir}" is not writable (no write permission in "{path}"); give another --outdir')

#----------------------------------------------------------------------------
def check_sampler_args(rho, S_churn, S_min, S_max, S_noise):
    """One-line UserError for NaN or out-of-range sampler parameters (S_max may be inf)."""
    for name, v, finite in (('--rho', rho, True), ('--S_churn', S_churn, True), ('--S_min', S_min, True),
                            ('--S_max', S_max, False), ('--S_noise', S_noise, True)):
        if v != v or (finite and not math.isfinite(v)):
            raise dnnlib.UserError(f'{name}={v} must be a finite number')
    if not (rho > 0 and S_churn >= 0 and S_noise >= 0):
        raise dnnlib.UserError(f'Need --rho > 0, --S_churn >= 0 and --S_noise >= 0 (got {rho:g}, {S_churn:g}, {S_noise:g})')

#----------------------------------------------------------------------------
# Resolve --schedule / --disc / --sigma_schedule / --scaling / --solver into one sampling plan.

def resolve_grid(schedule, discretization):
    """The time grid named by --schedule (or its alias --disc); errors for EDM's old --schedule use."""
    if schedule == 'linear' or (schedule in ('vp', 've') and discretization is not None):
        raise dnnlib.UserError(f'--schedule now selects the time grid {{sigma_i}}; for EDM\'s noise schedule sigma(t) use --sigma_schedule={schedule}')
    if schedule is not None and discretization is not None and schedule != discretization:
        raise dnnlib.UserError(f'--disc is an alias of --schedule; give only one of them (got --schedule={schedule} and --disc={discretization})')
    grid = schedule if schedule is not None else discretization
    if grid is None:
        return 'edm'
    if grid not in art_schedules.SCHEDULES and not os.path.exists(grid) and not grid.endswith('.json'):
        raise dnnlib.UserError(f'Unknown schedule "{grid}": choose one of {"|".join(art_schedules.SCHEDULES)} or the path of a schedule .json file')
    return grid

#----------------------------------------------------------------------------
def make_plan(net, *, grid, grid_given, num_steps, sigma_min, sigma_max, rho, solver, sigma_schedule, scaling,
              S_churn, S_min, S_max, S_noise, device, log=None, final_step='euler', afs=False):
    """Compute the grid once and return `fn(latents, class_labels, randn_like) -> float64 images`
    and the NFE (art.sampler.count_nfe). EDM's rule picks the ablation sampler for the EDM grids
    when any ablation flag is given (§2.4); other grids, the solvers beyond euler/heun, and a
    non-default convention (final_step, afs: see art.sampler.sample()) use the core solver, which has
    no sigma(t)/s(t) ablation (with sigma(t) = t, s(t) = 1 the two agree up to float64 rounding)."""
    edm_solver = solver in (None, 'euler', 'heun')
    convention = final_step != 'euler' or bool(afs)
    if grid in EDM_GRIDS and edm_solver and not convention:
        ablation = any(v is not None for v in (solver, sigma_schedule, scaling)) or grid_given
    else:
        ablation = sigma_schedule is not None or scaling is not None
    if ablation and not edm_solver:
        raise dnnlib.UserError(f'--sigma_schedule/--scaling ablate EDM\'s euler/heun sampler only; drop them to sample with --solver={solver}')
    if ablation and convention:
        raise dnnlib.UserError('The final-step and AFS conventions apply to the core solvers only; drop --sigma_schedule/--scaling')
    solver = solver or 'heun'
    churn = dict(S_churn=S_churn, S_min=S_min, S_max=S_max, S_noise=S_noise)
    sigmas = art_schedules.get_sigmas(grid, num_steps, net=net, sigma_min=sigma_min, sigma_max=sigma_max,
        rho=rho, device=device, log=log)
    nfe = art_sampler.count_nfe(solver, len(sigmas) - 1, final_step=final_step, afs=afs)
    if not ablation:
        def run(latents, class_labels, randn_like):
            return art_sampler.sample(net, latents, sigmas, class_labels, solver=solver, randn_like=randn_like,
                final_step=final_step, afs=afs, **churn)
        return run, nfe
    if art_schedules.is_schedule_path(grid):
        lo = hi = None # the file's own ends
    else:
        lo, hi = art_schedules.sigma_range(grid, net, sigma_min, sigma_max)
    def run(latents, class_labels, randn_like):
        return art_sampler.ablation_sample(net, latents, sigmas, class_labels, randn_like=randn_like, solver=solver,
            sigma_schedule=sigma_schedule or 'linear', scaling=scaling or 'none', sigma_min=lo, sigma_max=hi, **churn)
    return run, nfe

#----------------------------------------------------------------------------

def generate_images(network_pkl, outdir, seeds=range(64), subdirs=False, class_idx=None, max_batch_size=64,
                    num_steps=18, sigma_min=None, sigma_max=None, rho=7, S_churn=0, S_min=0, S_max=float('inf'),
                    S_noise=1, solver=None, discretization=None, schedule=None, sigma_schedule=None, scaling=None,
                    device=None, trust_pickle=False, steps_given=True, grid_png=None, final_step='euler', afs=False):
    """The body of `python generate.py`, callable from Python. Raises dnnlib.UserError. final_step,
    afs: the sampling convention of art.sampler.sample(); a non-default one prints its NFE (count_nfe)."""
    seeds = seeds if isinstance(seeds, (list, tuple, range)) else list(seeds)
    if len(seeds) > MAX_SEEDS:
        raise dnnlib.UserError(f'{len(seeds):,} seeds is over the limit of {MAX_SEEDS:,} per run; split the seeds over several runs')
    seeds = list(seeds)
    device = resolve_device(device)
    dist.init(device)
    grid = resolve_grid(schedule, discretization)
    grid_given = schedule is not None or discretization is not None
    if schedule in ('vp', 've') and discretization is None:
        dist.print0(f'Note: --schedule={schedule} selects the {schedule} time grid {{t_i}} (EDM\'s --disc={schedule}); for EDM\'s --schedule={schedule} (noise schedule sigma(t)) use --sigma_schedule={schedule}')
    if not seeds:
        raise dnnlib.UserError('No seeds to generate; pass e.g. --seeds=0-63')
    if num_steps is not None:
        art_schedules.check_num_steps(num_steps)
    check_sampler_args(rho, S_churn, S_min, S_max, S_noise)
    if final_step not in art_sampler.FINAL_STEPS:
        raise dnnlib.UserError(f'--final-step={final_step} is not a final step; choose one of {"|".join(art_sampler.FINAL_STEPS)}')
    check_outdir(outdir)
    if grid_png is not None:
        art_pictures.check_png_path(grid_png)
    if art_schedules.is_schedule_path(grid):
        trained_for = art_schedules.load_schedule(grid).get('solver') # fail fast on a bad file, before loading the network
        if not steps_given:
            num_steps = None # use the file's own K
        if trained_for in art_sampler.SOLVERS and trained_for != (solver or 'heun'):
            dist.print0(f'Note: schedule "{grid}" was learned for the {trained_for} solver; sampling with {solver or "heun"} (set --solver={trained_for} to match)')
    rank, world_size = dist.get_rank(), dist.get_world_size()
    rank_batches = split_seeds(seeds, max_batch_size, world_size, rank) if seeds else []

    # Rank 0 goes first.
    if rank != 0:
        dist.barrier()
    dist.print0(f'Loading network from "{network_pkl}"...')
    net = load_network(network_pkl, device=device, trust=trust_pickle, verbose=(rank == 0))
    if rank == 0:
        dist.barrier()

    label_dim = int(getattr(net, 'label_dim', 0) or 0)
    if class_idx is not None and label_dim == 0:
        raise dnnlib.UserError(f'--class={class_idx} needs a class-conditional network, but "{network_pkl}" is unconditional; drop --class')
    if class_idx is not None and class_idx >= label_dim:
        raise dnnlib.UserError(f'--class={class_idx} is out of range: the network has {label_dim} classes (0..{label_dim - 1})')
    run, nfe = make_plan(net, grid=grid, grid_given=grid_given, num_steps=num_steps, sigma_min=sigma_min,
        sigma_max=sigma_max, rho=rho, solver=solver, sigma_schedule=sigma_schedule, scaling=scaling,
        S_churn=S_churn, S_min=S_min, S_max=S_max, S_noise=S_noise, device=device, log=dist.print0,
        final_step=final_step, afs=bool(afs))
    if final_step != 'euler' or afs: # EDM's convention keeps EDM's output
        dist.print0(f'Sampling with {solver or "heun"}, final step "{final_step}", {"AFS" if afs else "no AFS"}: NFE {nfe}')

    # Loop over batches.
    dist.print0(f'Generating {len(seeds)} images to "{outdir}"...')
    for batch_seeds in tqdm.tqdm(rank_batches, unit='batch', disable=(rank != 0)):
        dist.barrier()
        # Skip images already written (resume); per-seed RNGs make the rest independent of the batch.
        batch_seeds = [int(seed) for seed in batch_seeds.tolist() if not os.path.isfile(image_path(outdir, int(seed), subdirs))]
        batch_size = len(batch_seeds)
        if batch_size == 0:
            continue

        # Pick latents and labels (draw order of §2.3).
        rnd = art_sampler.StackedRandomGenerator(device, batch_seeds)
        latents = rnd.randn([batch_size, net.img_channels, net.img_resolution, net.img_resolution], device=device)
        class_labels = None
        if label_dim:
            class_labels = torch.eye(label_dim, device=device)[rnd.randint(label_dim, size=[batch_size], device=device)]
        if class_idx is not None:
            class_labels[:, :] = 0
            class_labels[:, class_idx] = 1

        # Generate and save.
        with torch.no_grad():
            images = run(latents, class_labels, rnd.randn_like)
        if not torch.isfinite(images).all():
            raise dnnlib.UserError(f'The sampler returned non-finite images for seeds {batch_seeds[0]}..{batch_seeds[-1]}; none of them was written (check the network and the grid)')
        for seed, image_np in zip(batch_seeds, to_uint8(images)):
            save_image_atomic(image_np, image_path(outdir, seed, subdirs))

    # Done.
    dist.barrier()
    if grid_png is not None and rank == 0:
        classes = [class_idx] * len(seeds) if class_idx is not None else None
        if class_idx is None and label_dim:
            classes = art_pictures.seed_classes(seeds[:art_pictures.MAX_GRID_IMAGES], label_dim, [net.img_channels, net.img_resolution, net.img_resolution], device)
        shown = art_pictures.save_seed_grid(grid_png, [image_path(outdir, seed, subdirs) for seed in seeds], seeds, classes)
        dist.print0(f'Saved a grid of {shown} images to "{grid_png}"')
    dist.print0('Done.')
    dist.destroy()

#----------------------------------------------------------------------------

@click.command()
@click.option('--network',        'network_pkl',    help='Network pickle filename', metavar='PATH|URL',                             type=str, required=True)
@click.option('--outdir',                           help='Where to save the output images', metavar='DIR',                         type=str, required=True)
@click.option('--seeds',                            help='Random seeds (e.g. 1,2,5-10)', metavar='LIST',                           callback=_seed_list, default='0-63', show_default=True)
@click.option('--subdirs',                          help='Create subdirectory for every 1000 seeds',                               is_flag=True)
@click.option('--class',          'class_idx',      help='Class label  [default: random]', metavar='INT',                          type=click.IntRange(min=0), default=None)
@click.option('--batch',          'max_batch_size', help='Maximum batch size', metavar='INT',                                      type=click.IntRange(min=1), default=64, show_default=True)
@click.option('--grid',           'grid_png',       help='Also save a labelled grid of the first 256 images', metavar='PNG',       type=str)

@click.option('--steps',          'num_steps',      help='Number of sampling steps', metavar='INT',                                type=click.IntRange(min=1), default=18, show_default=True)
@click.option('--sigma_min',                        help='Lowest noise level  [default: varies]', metavar='FLOAT',                 type=click.FloatRange(min=0, min_open=True))
@click.option('--sigma_max',                        help='Highest noise level  [default: varies]', metavar='FLOAT',                type=click.FloatRange(min=0, min_open=True))
@click.option('--rho',                              help='Time step exponent', metavar='FLOAT',                                    type=click.FloatRange(min=0, min_open=True), default=7, show_default=True)
@click.option('--S_churn',        'S_churn',        help='Stochasticity strength', metavar='FLOAT',                                type=click.FloatRange(min=0), default=0, show_default=True)
@click.option('--S_min',          'S_min',          help='Stoch. min noise level', metavar='FLOAT',                                type=click.FloatRange(min=0), default=0, show_default=True)
@click.option('--S_max',          'S_max',          help='Stoch. max noise level', metavar='FLOAT',                                type=click.FloatRange(min=0), default='inf', show_default=True)
@click.option('--S_noise',        'S_noise',        help='Stoch. noise inflation', metavar='FLOAT',                                type=float, default=1, show_default=True)

@click.option('--solver',                           help='ODE solver  [default: heun]', metavar='euler|heun|dpmpp-2m|dpmpp-3m|ipndm|rk4', type=click.Choice(art_sampler.SOLVERS))
@click.option('--schedule',                         help='Time grid {sigma_i}: a name or a schedule file  [default: edm]', metavar='edm|uniform|logsnr|vp|ve|iddpm|PATH.json', type=str)
@click.option('--disc',           'discretization', help='Ablate time step discretization {t_i} (alias of --schedule)', metavar='vp|ve|iddpm|edm', type=click.Choice(EDM_GRIDS))
@click.option('--sigma_schedule', 'sigma_schedule', help='Ablate noise schedule sigma(t) (EDM\'s --schedule)', metavar='vp|ve|linear', type=click.Choice(['vp', 've', 'linear']))
@click.option('--scaling',                          help='Ablate signal scaling s(t)', metavar='vp|none',                          type=click.Choice(['vp', 'none']))
@click.option('--final-step',     'final_step',     help='Last step: Euler to 0 (EDM), none, or denoise at sigma_{K-1}', metavar='euler|none|denoise', type=str, default='euler', show_default=True)
@click.option('--afs',                              help='Analytic first step (AFS): one network call fewer',                     is_flag=True)

@click.option('--device',                           help='Device to sample on', metavar='cuda|cpu|...',                            type=str, default=lambda: 'cuda' if torch.cuda.is_available() else 'cpu', show_default='cuda if available, else cpu')
@click.option('--trust-pickle',   'trust_pickle',   help='Run the code embedded in network pickles (trusted files only)',         is_flag=True)

def main(**kwargs):
    """Generate random images using the techniques described in the paper
    "Elucidating the Design Space of Diffusion-Based Generative Models", on the
    EDM time grid or on any other grid, such as a learned ART schedule.

    Examples:

    \b
    # Generate 64 images and save them as out/*.png
    python generate.py --outdir=out --seeds=0-63 --batch=64 \\
        --network=https://nvlabs-fi-cdn.nvidia.com/edm/pretrained/edm-cifar10-32x32-cond-vp.pkl

    \b
    # Generate 1024 images using 2 GPUs
    torchrun --standalone --nproc_per_node=2 generate.py --outdir=out --seeds=0-999 --batch=64 \\
        --network=https://nvlabs-fi-cdn.nvidia.com/edm/pretrained/edm-cifar10-32x32-cond-vp.pkl

    \b
    # 9 steps on a learned schedule file (resampled if it was trained for another K), on the CPU
    python generate.py --network=builtin:gmm-digits --outdir=out --seeds=0-63 \\
        --schedule=art-schedule.json --steps=9 --device=cpu

    \b
    # Diff-sampler's convention: AFS, no final step (Heun on 9 steps: NFE 15, printed)
    python generate.py --network=builtin:gmm-digits --outdir=out --seeds=0-63 \\
        --steps=9 --final-step=none --afs --device=cpu
    """
    ctx = click.get_current_context()
    kwargs['steps_given'] = ctx.get_parameter_source('num_steps') != ParameterSource.DEFAULT
    with dnnlib.util.click_user_errors():
        generate_images(**kwargs)

#----------------------------------------------------------------------------

if __name__ == '__main__':
    main() # pylint: disable=no-value-for-parameter

#----------------------------------------------------------------------------
