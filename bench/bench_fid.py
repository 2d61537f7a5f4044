# ART-EDM: learned time grids for EDM-style diffusion samplers.
# Copyright (c) 2026 The ART-EDM authors. Released under the MIT License (see LICENSE).

"""Throughput (images/s) of the offline stand-in detectors of art/detectors.py on CPU.

Prints one line per detector and thread count; never fails on time. The ResNets need their weights
(../shared/weights or --weights); LeNet uses the committed art/assets/lenet-mnist.pt."""

import os
import pathlib
import sys
import time

import click
import torch

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
from art import detectors # pylint: disable=wrong-import-position
from art.builtin import shared_dir # pylint: disable=wrong-import-position

#----------------------------------------------------------------------------

def images_per_second(det, shape, num, batch):
    images = torch.randint(0, 256, [num] + list(shape), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    det(images[:batch], return_features=True) # Warm-up.
    t0 = time.perf_counter()
    for i in range(0, num, batch):
        det(images[i:i+batch], return_features=True)
    return num / (time.perf_counter() - t0)

#----------------------------------------------------------------------------

@click.command()
@click.option('--weights',  help='Folder with resnet20-12fca82f.th / resnet56-4bfd9763.th', metavar='DIR', type=str, default=None, show_default='../shared/weights')
@click.option('--num',      help='Images per measurement',                                      type=click.IntRange(min=1), default=512, show_default=True)
@click.option('--batch',    help='Batch size',                                                  type=click.IntRange(min=1), default=64, show_default=True)
@click.option('--threads',  help='Comma-separated torch thread counts',                          type=str, default='1,2', show_default=True)
def main(weights, num, batch, threads):
    """Print images/s of the stand-in detectors (FD-ResNet20, FD-ResNet56, FD-LeNet) on CPU.

    \b
    python bench/bench_fid.py
    python bench/bench_fid.py --threads=1,2,4 --num=2048
    """
    if weights is None and shared_dir() is not None:
        weights = str(shared_dir() / 'weights')
    specs = [('lenet-mnist', [1, 28, 28])]
    for name, fname in [('resnet20-cifar10', 'resnet20-12fca82f.th'), ('resnet56-cifar10', 'resnet56-4bfd9763.th')]:
        if weights is not None and os.path.isfile(os.path.join(weights, fname)):
            specs.append((f'{name}:{os.path.join(weights, fname)}', [3, 32, 32]))
        else:
            print(f'{name}: skipped (weights {fname} not found; pass --weights=DIR)')
    for spec, shape in specs:
        det, label = detectors.load_detector(spec, device='cpu')
        for n in [int(t) for t in threads.split(',')]:
            torch.set_num_threads(n)
            ips = images_per_second(det, shape, num, batch)
            print(f'{label:12s} threads={n}  batch={batch}  {ips:8.1f} images/s  ({1000 / ips:.2f} ms/image)')

#----------------------------------------------------------------------------

if __name__ == '__main__':
    main() # pylint: disable=no-value-for-parameter
