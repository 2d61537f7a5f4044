# ART-EDM: learned time grids for EDM-style diffusion samplers.
# Copyright (c) 2026 The ART-EDM authors. Released under the MIT License (see LICENSE).

"""Train the LeNet-5 MNIST classifier behind the "FD-LeNet" detector and compute its MNIST reference
statistics (art/detectors.py; the ART paper measures MNIST with a "LeNet-FID", docs/art-paper.md).

Writes art/assets/lenet-mnist.pt (state dict + test accuracy, loadable with weights_only=True) and
art/assets/mnist-lenet-ref.npz (mu, sigma of the 84-d features of the 60k MNIST training images, the
same reference convention as EDM's dataset statistics, plus 'detector'='FD-LeNet')."""

import os
import pathlib
import sys
import time

import click
import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
from art import detectors, metrics # pylint: disable=wrong-import-position

#----------------------------------------------------------------------------

def load_mnist(mnist_dir, split):
    with np.load(os.path.join(mnist_dir, f'mnist_{split}.npz')) as z:
        x, y = z['x'], z['y']
    return torch.from_numpy(x[:, None].copy()), torch.from_numpy(y.astype(np.int64))

#----------------------------------------------------------------------------

def evaluate(det, x, y, batch=1000):
    correct = 0
    for i in range(0, len(x), batch):
        correct += int((det(x[i:i+batch]).argmax(1) == y[i:i+batch]).sum())
    return correct / len(x)

#----------------------------------------------------------------------------

@click.command()
@click.option('--mnist',        help='Folder with mnist_train_60k.npz and mnist_test_10k.npz', metavar='DIR', type=str, default=None, show_default='../shared/data/mnist')
@click.option('--dest',         help='Output weights file', metavar='PT',                                     type=str, default=str(detectors.LENET_WEIGHTS), show_default=True)
@click.option('--ref',          help='Output reference statistics', metavar='NPZ',                            type=str, default=str(detectors.LENET_MNIST_REF), show_default=True)
@click.option('--epochs',       help='Training epochs',                                                       type=click.IntRange(min=1), default=5, show_default=True)
@click.option('--batch',        help='Batch size',                                                            type=click.IntRange(min=1), default=128, show_default=True)
@click.option('--lr',           help='Adam learning rate (cosine decay to 0)',                                type=click.FloatRange(min=0, min_open=True), default=2e-3, show_default=True)
@click.option('--seed',         help='Random seed',                                                           type=int, default=0, show_default=True)
@click.option('--ref-only',     help='Keep the weights, only recompute the reference statistics',             is_flag=True)
def main(mnist, dest, ref, epochs, batch, lr, seed, ref_only):
    """Train the LeNet-5 MNIST classifier used by --detector=lenet-mnist.

    \b
    # Train (about 1.5 minutes on one CPU thread; 99.09% test accuracy) and write the weights and reference statistics
    python tools/train_lenet.py

    \b
    # Only recompute art/assets/mnist-lenet-ref.npz from the committed weights
    python tools/train_lenet.py --ref-only
    """
    if mnist is None:
        from art.builtin import shared_dir
        root = shared_dir()
        if root is None:
            raise click.ClickException('MNIST not found: pass --mnist=DIR (folder with mnist_train_60k.npz)')
        mnist = str(root / 'data' / 'mnist')
    x_train, y_train = load_mnist(mnist, 'train_60k')
    x_test, y_test = load_mnist(mnist, 'test_10k')

    torch.set_num_threads(1) # Reproducible (and faster for this small net on a busy machine).
    if not ref_only:
        torch.manual_seed(seed)
        model = detectors.LeNet()
        det = detectors.FeatureDetector(model, 'FD-LeNet', 1, 28, (detectors.MNIST_MEAN,), (detectors.MNIST_STD,))
        opt = torch.optim.Adam(model.parameters(), lr=lr)
        steps_per_epoch = (len(x_train) + batch - 1) // batch
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs * steps_per_epoch)
        gen = torch.Generator().manual_seed(seed)
        t0 = time.time()
        for epoch in range(epochs):
            model.train()
            perm = torch.randperm(len(x_train), generator=gen)
            total = 0.0
            for i in range(0, len(x_train), batch):
                idx = perm[i:i+batch]
                x = det.normalize(x_train[idx])
                # Light augmentation: random shifts of up to 2 pixels.
                dx, dy = torch.randint(-2, 3, [2], generator=gen).tolist()
                x = torch.roll(x, shifts=(dy, dx), dims=(2, 3))
                loss = F.cross_entropy(model(x), y_train[idx])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
                total += float(loss.detach()) * len(idx)
            model.eval()
            acc = evaluate(det, x_test, y_test)
            print(f'epoch {epoch + 1}/{epochs}: loss {total / len(x_train):.4f}, test accuracy {acc * 100:.2f}% ({time.time() - t0:.0f}s)')
        state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        os.makedirs(os.path.dirname(dest) or '.', exist_ok=True)
        torch.save(dict(state_dict=state, test_accuracy=acc, epochs=epochs, seed=seed, arch='LeNet-5 (art.detectors.LeNet)'), dest)
        print(f'Saved "{dest}" ({os.path.getsize(dest)} bytes); test accuracy {acc * 100:.2f}%')

    det = detectors.load_lenet(dest)
    print(f'Test accuracy of "{dest}": {evaluate(det, x_test, y_test) * 100:.2f}%')
    mu, sigma = metrics.stats_from_batches(det, (x_train[i:i+1000] for i in range(0, len(x_train), 1000)))
    metrics.save_ref(ref, mu, sigma, detector=det.label, source='MNIST train 60k (../shared/data/mnist)')
    mu_test, sigma_test = metrics.stats_from_batches(det, (x_test[i:i+1000] for i in range(0, len(x_test), 1000)))
    print(f'Saved "{ref}"; FD-LeNet of the 10k test set against it: {metrics.frechet_distance(mu_test, sigma_test, mu, sigma):g}')

#----------------------------------------------------------------------------

if __name__ == '__main__':
    main()
