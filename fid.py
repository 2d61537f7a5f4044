# ART-EDM: learned time grids for EDM-style diffusion samplers.
# Copyright (c) 2026 The ART-EDM authors. Released under the MIT License (see LICENSE).

"""Script for calculating Frechet Inception Distance (FID), EDM-compatible (docs/edm-spec.md §3).

Same subcommands, flags, defaults, printed lines and numerics as EDM's fid.py, plus --detector (the
official Inception-v3 pickle by default, or an offline stand-in from art/detectors.py whose numbers are
labelled "FD-<name>", never "FID"), --device and --trust-pickle (a pickled detector, the Inception one
included, can carry code and is only unpickled with it; docs/trust.md). The statistics routine lives
in art/metrics.py."""


import click
import torch

import dnnlib
from art import detectors, metrics
from torch_utils import distributed as dist
from torch_utils.misc import resolve_device

#----------------------------------------------------------------------------
# Shared setup of both subcommands.

def _init(device):
    if torch.multiprocessing.get_start_method(allow_none=True) is None:
        torch.multiprocessing.set_start_method('spawn')
    device = resolve_device(device)
    dist.init(device)
    return device

#----------------------------------------------------------------------------

def load_detector(spec, device, trust=False):
    """Load the detector on rank 0 first (it may download), then on the other ranks. A pickled
    detector (the Inception one included) is only unpickled with trust (--trust-pickle)."""
    if spec is None or spec == detectors.INCEPTION_URL:
        dist.print0('Loading Inception-v3 model...')
    else:
        dist.print0(f'Loading detector "{spec}"...')
    if dist.get_rank() != 0:
        dist.barrier()
    detector, label = detectors.load_detector(spec, device=device, verbose=(dist.get_rank() == 0), trust=trust)
    if dist.get_rank() == 0:
        dist.barrier()
    return detector, label

#----------------------------------------------------------------------------

def calculate_stats(image_path, detector, num_expected=None, seed=0, max_batch_size=64,
    num_workers=3, prefetch_factor=2, device=torch.device('cuda')):
    """EDM's calculate_inception_stats with a loaded detector; returns (mu, sigma) as float64 numpy."""
    return metrics.stats_from_images(image_path, detector, num_expected=num_expected, seed=seed,
        max_batch_size=max_batch_size, num_workers=num_workers, prefetch_factor=prefetch_factor, device=device)

#----------------------------------------------------------------------------

def _run(fn):
    with dnnlib.util.click_user_errors():
        fn()

#----------------------------------------------------------------------------

@click.group()
def main():
    """Calculate Frechet Inception Distance (FID).

    Examples:

    \b
    # Generate 50000 images and save them as fid-tmp/*/*.png
    torchrun --standalone --nproc_per_node=1 generate.py --outdir=fid-tmp --seeds=0-49999 --subdirs \\
        --network=https://nvlabs-fi-cdn.nvidia.com/edm/pretrained/edm-cifar10-32x32-cond-vp.pkl

    \b
    # Calculate FID
    torchrun --standalone --nproc_per_node=1 fid.py calc --images=fid-tmp --trust-pickle \\
        --ref=https://nvlabs-fi-cdn.nvidia.com/edm/fid-refs/cifar10-32x32.npz

    \b
    # Compute dataset reference statistics
    python fid.py ref --data=datasets/my-dataset.zip --dest=fid-refs/my-dataset.npz --trust-pickle

    \b
    # Offline stand-ins (labelled FD-<name>, never FID): CIFAR-10 ResNet-56 features, MNIST LeNet
    python fid.py ref  --data=cifar.zip --dest=refs/cifar-r56.npz --detector=resnet56-cifar10:resnet56-4bfd9763.th
    python fid.py calc --images=fid-tmp --ref=refs/cifar-r56.npz --detector=resnet56-cifar10:resnet56-4bfd9763.th
    python fid.py calc --images=mnist-tmp --ref=art/assets/mnist-lenet-ref.npz --detector=lenet-mnist --num=10000
    """

#----------------------------------------------------------------------------

_detector_help = 'Feature network: Inception pickle PATH|URL, resnet56-cifar10:PATH, resnet20-cifar10:PATH, lenet-mnist'

#----------------------------------------------------------------------------

@main.command()
@click.option('--images', 'image_path', help='Path to the images', metavar='PATH|ZIP',                     type=str, required=True)
@click.option('--ref', 'ref_path',      help='Dataset reference statistics ', metavar='NPZ|URL',          type=str, required=True)
@click.option('--num', 'num_expected',  help='Number of images to use', metavar='INT',                    type=click.IntRange(min=2), default=50000, show_default=True)
@click.option('--seed',                 help='Random seed for selecting the images', metavar='INT',       type=int, default=0, show_default=True)
@click.option('--batch',                help='Maximum batch size', metavar='INT',                         type=click.IntRange(min=1), default=64, show_default=True)
@click.option('--detector',             help=_detector_help, metavar='SPEC',                              type=str, default=detectors.INCEPTION_URL, show_default='Inception-v3 URL')
@click.option('--device',               help='Device (default: cuda if available, else cpu)', metavar='STR', type=str, default=None)
@click.option('--workers',              help='Data loader worker processes', metavar='INT',               type=click.IntRange(min=0), default=3, show_default=True)
@click.option('--trust-pickle', 'trust', help='Run the code embedded in a pickled --detector (trusted files only)', is_flag=True)
def calc(image_path, ref_path, num_expected, seed, batch, detector, device, workers, trust):
    """Calculate FID for a given set of images."""
    def run():
        dev = _init(device)
        dist.print0(f'Loading dataset reference statistics from "{ref_path}"...')
        ref = None
        if dist.get_rank() == 0:
            ref = metrics.load_ref(ref_path, verbose=True)

        det, label = load_detector(detector, dev, trust=trust)
        if dist.get_rank() == 0 and ref['detector'] != label:
            raise dnnlib.UserError(f'Reference statistics "{ref_path}" were computed for {ref["detector"]}, but --detector gives {label}: '
                                   'use the same --detector as for "fid.py ref"')
        mu, sigma = calculate_stats(image_path=image_path, detector=det, num_expected=num_expected,
            seed=seed, max_batch_size=batch, num_workers=workers, device=dev)
        dist.print0(f'Calculating {label}...')
        if dist.get_rank() == 0:
            if ref['mu'].shape != mu.shape:
                raise dnnlib.UserError(f'Reference statistics "{ref_path}" have {ref["mu"].shape[0]}-d features, but the detector gives {mu.shape[0]}-d')
            fd = metrics.frechet_distance(mu, sigma, ref['mu'], ref['sigma'])
            print(f'{fd:g}')
        dist.barrier()
    _run(run)

#----------------------------------------------------------------------------

@main.command()
@click.option('--data', 'dataset_path', help='Path to the dataset', metavar='PATH|ZIP',                   type=str, required=True)
@click.option('--dest', 'dest_path',    help='Destination .npz file (folders are created)', metavar='NPZ', type=str, required=True)
@click.option('--batch',                help='Maximum batch size', metavar='INT',                         type=click.IntRange(min=1), default=64, show_default=True)
@click.option('--detector',             help=_detector_help, metavar='SPEC',                              type=str, default=detectors.INCEPTION_URL, show_default='Inception-v3 URL')
@click.option('--device',               help='Device (default: cuda if available, else cpu)', metavar='STR', type=str, default=None)
@click.option('--workers',              help='Data loader worker processes', metavar='INT',               type=click.IntRange(min=0), default=3, show_default=True)
@click.option('--trust-pickle', 'trust', help='Run the code embedded in a pickled --detector (trusted files only)', is_flag=True)
def ref(dataset_path, dest_path, batch, detector, device, workers, trust):
    """Calculate dataset reference statistics needed by 'calc'."""
    def run():
        metrics.check_ref_dest(dest_path) # fail before computing the statistics
        dev = _init(device)
        det, label = load_detector(detector, dev, trust=trust)
        mu, sigma = calculate_stats(image_path=dataset_path, detector=det, max_batch_size=batch, num_workers=workers, device=dev)
        dist.print0(f'Saving {label} reference statistics to "{dest_path}"...' if label != 'FID' else f'Saving dataset reference statistics to "{dest_path}"...')
        if dist.get_rank() == 0:
            metrics.save_ref(dest_path, mu, sigma, detector=label)
        dist.barrier()
        dist.print0('Done.')
    _run(run)

#----------------------------------------------------------------------------

if __name__ == '__main__':
    main() # pylint: disable=no-value-for-parameter

#----------------------------------------------------------------------------
