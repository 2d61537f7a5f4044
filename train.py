# ART-EDM: learned time grids for EDM-style diffusion samplers.
# Copyright (c) 2026 The ART-EDM authors. Released under the MIT License (see LICENSE).

"""Train diffusion-based generative models with the EDM recipe (Karras et al. 2022): the options,
defaults and run-directory layout of EDM's train.py (docs/edm-spec.md §5.9), plus a few additions for
small CPU runs (--arch=small, --num-blocks, --attn-res, --lr-rampup, --ema-rampup, --device, and
.npz image arrays such as MNIST as --data). --augment > 0 adds training/augment.py's AugmentPipe with
EDM's settings and 9 augmentation labels. The loop itself is training/training_loop.py. Network
pickles (--transfer, the snapshot next to a --resume state) are read by the safe loader unless
--trust-pickle; training states load with torch.load(weights_only=True) (docs/trust.md)."""

import json
import os
import re
import warnings

import click
import torch

import dnnlib
from dnnlib.util import parse_int_list
from torch_utils import distributed as dist
from torch_utils.misc import resolve_device
from training import training_loop

warnings.filterwarnings('ignore', 'Grad strides do not match bucket view strides') # False warning printed by PyTorch 1.12.

#----------------------------------------------------------------------------
# Network architectures selectable with --arch (model_type plus SongUNet/DhariwalUNet options).

ARCHS = {
    'ddpmpp': dict(model_type='SongUNet', embedding_type='positional', encoder_type='standard', decoder_type='standard',
                   channel_mult_noise=1, resample_filter=[1,1], model_channels=128, channel_mult=[2,2,2]),
    'ncsnpp': dict(model_type='SongUNet', embedding_type='fourier', encoder_type='residual', decoder_type='standard',
                   channel_mult_noise=2, resample_filter=[1,3,3,1], model_channels=128, channel_mult=[2,2,2]),
    'adm':    dict(model_type='DhariwalUNet', model_channels=192, channel_mult=[1,2,3,4]),
    'small':  dict(model_type='SongUNet', embedding_type='positional', encoder_type='standard', decoder_type='standard',
                   channel_mult_noise=2, resample_filter=[1,1], model_channels=16, channel_mult=[1,2,2], num_blocks=1,
                   attn_resolutions=[]),
}

PRECONDS = {
    'vp':  ('training.networks.VPPrecond',  'training.loss.VPLoss'),
    've':  ('training.networks.VEPrecond',  'training.loss.VELoss'),
    'edm': ('training.networks.EDMPrecond', 'training.loss.EDMLoss'),
}

#----------------------------------------------------------------------------
# Dataset options for --data: an image folder or zip (EDM's ImageFolderDataset), or an .npz holding
# x (N,H,W) or (N,H,W,C) uint8 images and optional y (N,) integer labels (e.g. MNIST).

def dataset_kwargs_for(path, use_labels, xflip, cache):
    if str(path).lower().endswith('.npz'):
        return dnnlib.EasyDict(class_name='training.dataset.NpzDataset', path=path, use_labels=use_labels, xflip=xflip, cache=cache)
    return dnnlib.EasyDict(class_name='training.dataset.ImageFolderDataset', path=path, use_labels=use_labels, xflip=xflip, cache=cache)

#----------------------------------------------------------------------------
# Translate the command-line options into keyword arguments of training_loop.training_loop().

def make_config(opts):
    c = dnnlib.EasyDict()
    c.dataset_kwargs = dataset_kwargs_for(opts.data, use_labels=opts.cond, xflip=opts.xflip, cache=opts.cache)
    c.data_loader_kwargs = dnnlib.EasyDict(pin_memory=opts.device.startswith('cuda'), num_workers=opts.workers)
    if opts.workers > 0:
        c.data_loader_kwargs.prefetch_factor = 2
    c.network_kwargs = dnnlib.EasyDict()
    c.loss_kwargs = dnnlib.EasyDict()
    c.optimizer_kwargs = dnnlib.EasyDict(class_name='torch.optim.Adam', lr=opts.lr, betas=[0.9,0.999], eps=1e-8)

    # Validate dataset options.
    try:
        dataset_obj = dnnlib.util.construct_class_by_name(**c.dataset_kwargs)
        dataset_name = dataset_obj.name
        c.dataset_kwargs.resolution = dataset_obj.resolution # be explicit about dataset resolution
        c.dataset_kwargs.max_size = len(dataset_obj) # be explicit about dataset size
        if opts.cond and not dataset_obj.has_labels:
            raise dnnlib.UserError(f'--cond=True requires labels: dataset.json in the folder/zip or y in the .npz ({opts.data})')
        del dataset_obj # conserve memory
    except IOError as err:
        raise dnnlib.UserError(f'--data: {err}')

    # Network architecture.
    c.network_kwargs.update(ARCHS[opts.arch])
    if opts.cbase is not None:
        c.network_kwargs.model_channels = opts.cbase
    if opts.cres is not None:
        c.network_kwargs.channel_mult = opts.cres
    if opts.num_blocks is not None:
        c.network_kwargs.num_blocks = opts.num_blocks
    if opts.attn_res is not None:
        c.network_kwargs.attn_resolutions = opts.attn_res

    # Preconditioning & loss function.
    precond_class, loss_class = PRECONDS[opts.precond]
    c.network_kwargs.class_name = precond_class
    c.loss_kwargs.class_name = loss_class

    # Network options.
    if opts.augment:
        c.augment_kwargs = dnnlib.EasyDict(class_name='training.augment.AugmentPipe', p=opts.augment)
        c.augment_kwargs.update(xflip=1e8, yflip=1, scale=1, rotate_frac=1, aniso=1, translate_frac=1)
        c.network_kwargs.augment_dim = 9
    c.network_kwargs.update(dropout=opts.dropout, use_fp16=opts.fp16)

    # Training options.
    c.total_kimg = max(int(opts.duration * 1000), 1)
    c.ema_halflife_kimg = opts.ema * 1000
    c.ema_rampup_ratio = opts.ema_rampup if opts.ema_rampup > 0 else None
    c.lr_rampup_kimg = opts.lr_rampup
    if opts.batch % dist.get_world_size() != 0 or (opts.batch_gpu is not None and (opts.batch // dist.get_world_size()) % min(opts.batch_gpu, opts.batch // dist.get_world_size()) != 0):
        raise dnnlib.UserError(f'--batch={opts.batch} must be a multiple of --batch-gpu times the number of processes ({dist.get_world_size()})')
    c.update(batch_size=opts.batch, batch_gpu=opts.batch_gpu)
    c.update(loss_scaling=opts.ls, cudnn_benchmark=opts.bench)
    c.update(kimg_per_tick=opts.tick, snapshot_ticks=opts.snap, state_dump_ticks=opts.dump)
    c.device = opts.device

    # Random seed.
    if opts.seed is not None:
        c.seed = opts.seed
    else:
        seed = torch.randint(1 << 31, size=[], device=torch.device(opts.device))
        if dist.get_world_size() > 1:
            torch.distributed.broadcast(seed, src=0)
        c.seed = int(seed)

    # Transfer learning and resume.
    if opts.transfer is not None:
        if opts.resume is not None:
            raise dnnlib.UserError('--transfer and --resume cannot be specified at the same time')
        c.resume_pkl = opts.transfer
        c.ema_rampup_ratio = None
    elif opts.resume is not None:
        match = re.fullmatch(r'training-state-(\d+).pt', os.path.basename(opts.resume))
        if not match or not os.path.isfile(opts.resume):
            raise dnnlib.UserError('--resume must point to training-state-*.pt from a previous training run')
        c.resume_pkl = os.path.join(os.path.dirname(opts.resume), f'network-snapshot-{match.group(1)}.pkl')
        if not os.path.isfile(c.resume_pkl):
            raise dnnlib.UserError(f'--resume: the matching network snapshot {c.resume_pkl} is missing')
        c.resume_kimg = int(match.group(1))
        c.resume_state_dump = opts.resume
    if opts.trust_pickle:
        c.trust_pickle = True # Else resume_pkl goes through the safe loader (docs/trust.md).

    # Description string.
    cond_str = 'cond' if c.dataset_kwargs.use_labels else 'uncond'
    dtype_str = 'fp16' if c.network_kwargs.use_fp16 else 'fp32'
    desc = f'{dataset_name:s}-{cond_str:s}-{opts.arch:s}-{opts.precond:s}-gpus{dist.get_world_size():d}-batch{c.batch_size:d}-{dtype_str:s}'
    if opts.desc is not None:
        desc += f'-{opts.desc}'

    # Pick output directory: {next id:05d}-{desc}.
    if dist.get_rank() != 0:
        c.run_dir = None
    elif opts.nosubdir:
        c.run_dir = opts.outdir
    else:
        prev_run_dirs = []
        if os.path.isdir(opts.outdir):
            prev_run_dirs = [x for x in os.listdir(opts.outdir) if os.path.isdir(os.path.join(opts.outdir, x))]
        prev_run_ids = [re.match(r'^\d+', x) for x in prev_run_dirs]
        prev_run_ids = [int(x.group()) for x in prev_run_ids if x is not None]
        cur_run_id = max(prev_run_ids, default=-1) + 1
        c.run_dir = os.path.join(opts.outdir, f'{cur_run_id:05d}-{desc}')
        if os.path.exists(c.run_dir):
            raise dnnlib.UserError(f'Output directory {c.run_dir} already exists; pick another --outdir')
    return c

#----------------------------------------------------------------------------

@click.command()

# Main options.
@click.option('--outdir',        help='Where to save the results', metavar='DIR',                          type=str, required=True)
@click.option('--data',          help='Path to the dataset: folder, zip, or .npz (x, y)', metavar='ZIP|DIR|NPZ', type=str, required=True)
@click.option('--cond',          help='Train class-conditional model', metavar='BOOL',                      type=bool, default=False, show_default=True)
@click.option('--arch',          help='Network architecture', metavar='ddpmpp|ncsnpp|adm|small',            type=click.Choice(list(ARCHS)), default='ddpmpp', show_default=True)
@click.option('--precond',       help='Preconditioning & loss function', metavar='vp|ve|edm',                type=click.Choice(list(PRECONDS)), default='edm', show_default=True)
@click.option('--device',        help='Torch device (cpu works)', metavar='STR',                             type=str, default=('cuda' if torch.cuda.is_available() else 'cpu'), show_default=True)

# Hyperparameters.
@click.option('--duration',      help='Training duration', metavar='MIMG',                                  type=click.FloatRange(min=0, min_open=True), default=200, show_default=True)
@click.option('--batch',         help='Total batch size', metavar='INT',                                    type=click.IntRange(min=1), default=512, show_default=True)
@click.option('--batch-gpu',     help='Limit batch size per process', metavar='INT',                        type=click.IntRange(min=1))
@click.option('--cbase',         help='Channel multiplier  [default: varies]', metavar='INT',               type=click.IntRange(min=1))
@click.option('--cres',          help='Channels per resolution  [default: varies]', metavar='LIST',         type=parse_int_list)
@click.option('--num-blocks',    help='Residual blocks per resolution  [default: varies]', metavar='INT',   type=click.IntRange(min=1))
@click.option('--attn-res',      help='Resolutions with self-attention, e.g. 16 or 7,14  [default: varies]', metavar='LIST', type=parse_int_list)
@click.option('--lr',            help='Learning rate', metavar='FLOAT',                                     type=click.FloatRange(min=0, min_open=True), default=10e-4, show_default=True)
@click.option('--lr-rampup',     help='Learning rate ramp-up duration', metavar='KIMG',                     type=click.FloatRange(min=0), default=10000, show_default=True)
@click.option('--ema',           help='EMA half-life', metavar='MIMG',                                      type=click.FloatRange(min=0), default=0.5, show_default=True)
@click.option('--ema-rampup',    help='EMA ramp-up ratio (0 = none)', metavar='FLOAT',                      type=click.FloatRange(min=0), default=0.05, show_default=True)
@click.option('--dropout',       help='Dropout probability', metavar='FLOAT',                               type=click.FloatRange(min=0, max=1), default=0.13, show_default=True)
@click.option('--augment',       help='Augment probability', metavar='FLOAT',                               type=click.FloatRange(min=0, max=1), default=0.12, show_default=True)
@click.option('--xflip',         help='Enable dataset x-flips', metavar='BOOL',                             type=bool, default=False, show_default=True)

# Performance-related.
@click.option('--fp16',          help='Enable mixed-precision training', metavar='BOOL',                    type=bool, default=False, show_default=True)
@click.option('--ls',            help='Loss scaling', metavar='FLOAT',                                      type=click.FloatRange(min=0, min_open=True), default=1, show_default=True)
@click.option('--bench',         help='Enable cuDNN benchmarking', metavar='BOOL',                          type=bool, default=True, show_default=True)
@click.option('--cache',         help='Cache dataset in CPU memory', metavar='BOOL',                        type=bool, default=True, show_default=True)
@click.option('--workers',       help='DataLoader worker processes', metavar='INT',                         type=click.IntRange(min=0), default=1, show_default=True)

# I/O-related.
@click.option('--desc',          help='String to include in result dir name', metavar='STR',                type=str)
@click.option('--nosubdir',      help='Do not create a subdirectory for results',                           is_flag=True)
@click.option('--tick',          help='How often to print progress', metavar='KIMG',                        type=click.FloatRange(min=0, min_open=True), default=50, show_default=True)
@click.option('--snap',          help='How often to save snapshots', metavar='TICKS',                       type=click.IntRange(min=1), default=50, show_default=True)
@click.option('--dump',          help='How often to dump state', metavar='TICKS',                           type=click.IntRange(min=1), default=500, show_default=True)
@click.option('--seed',          help='Random seed  [default: random]', metavar='INT',                      type=int)
@click.option('--transfer',      help='Transfer learning from network pickle', metavar='PKL|URL',           type=str)
@click.option('--resume',        help='Resume from previous training state', metavar='PT',                  type=str)
@click.option('--trust-pickle',  help='Run code embedded in the --transfer/--resume network pickle',        is_flag=True)
@click.option('-n', '--dry-run', help='Print training options and exit',                                    is_flag=True)

def main(**kwargs):
    """Train diffusion-based generative model using the techniques described in the
    paper "Elucidating the Design Space of Diffusion-Based Generative Models".

    Examples:

    \b
    # Train DDPM++ model for class-conditional CIFAR-10 using 8 GPUs
    torchrun --standalone --nproc_per_node=8 train.py --outdir=training-runs \\
        --data=datasets/cifar10-32x32.zip --cond=1 --arch=ddpmpp

    \b
    # Train a small class-conditional MNIST model on the CPU (see tools/train_mnist_default.sh)
    python train.py --outdir=training-runs --data=mnist_train_60k.npz --cond=1 --arch=small \\
        --device=cpu --duration=0.04 --batch=32 --lr=2e-3 --lr-rampup=1 --ema=0.002 --dropout=0 --augment=0 --workers=0
    """
    opts = dnnlib.EasyDict(kwargs)
    with dnnlib.util.click_user_errors():
        run(opts)

#----------------------------------------------------------------------------

def _nearest_existing(path):
    path = os.path.abspath(path)
    while not os.path.exists(path):
        path = os.path.dirname(path)
    return path

def run(opts):
    torch.multiprocessing.set_start_method('spawn', force=True)
    opts.device = str(resolve_device(opts.device))
    if os.path.exists(opts.outdir) and not os.path.isdir(opts.outdir):
        raise dnnlib.UserError(f'--outdir "{opts.outdir}" is a file; give a folder')
    if not os.access(_nearest_existing(opts.outdir), os.W_OK):
        raise dnnlib.UserError(f'--outdir "{opts.outdir}" is not writable; choose another --outdir')
    dist.init(opts.device)
    if opts.device == 'cuda':
        opts.device = f'cuda:{torch.cuda.current_device()}'
    c = make_config(opts)

    # Print options.
    dist.print0()
    dist.print0('Training options:')
    dist.print0(json.dumps(c, indent=2))
    dist.print0()
    dist.print0(f'Output directory:        {c.run_dir}')
    dist.print0(f'Dataset path:            {c.dataset_kwargs.path}')
    dist.print0(f'Class-conditional:       {c.dataset_kwargs.use_labels}')
    dist.print0(f'Network architecture:    {opts.arch}')
    dist.print0(f'Preconditioning & loss:  {opts.precond}')
    dist.print0(f'Number of processes:     {dist.get_world_size()}')
    dist.print0(f'Batch size:              {c.batch_size}')
    dist.print0(f'Mixed-precision:         {c.network_kwargs.use_fp16}')
    dist.print0(f'Device:                  {c.device}')
    dist.print0()

    # Dry run?
    if opts.dry_run:
        dist.print0('Dry run; exiting.')
        return

    # Create output directory.
    dist.print0('Creating output directory...')
    logger = None
    if dist.get_rank() == 0:
        os.makedirs(c.run_dir, exist_ok=True)
        with open(os.path.join(c.run_dir, 'training_options.json'), 'wt') as f:
            json.dump(c, f, indent=2)
        logger = dnnlib.util.Logger(file_name=os.path.join(c.run_dir, 'log.txt'), file_mode='a', should_flush=True)

    # Train.
    try:
        training_loop.training_loop(**c)
        dist.barrier() # all ranks finish together before the process group is torn down
    finally:
        if logger is not None:
            logger.close()

#----------------------------------------------------------------------------

if __name__ == "__main__":
    main()

#----------------------------------------------------------------------------
