# ART-EDM: learned time grids for EDM-style diffusion samplers.
# Copyright (c) 2026 The ART-EDM authors. Released under the MIT License (see LICENSE).

"""Tests of art/detectors.py and the reference-statistics files of art/metrics.py.

Expected values are independent of the code under test: parameter counts, accuracies and Fréchet
distances stated in ../shared/data/README.md §3.2 (skipped when ../shared is absent), the md5 cache
name of the Inception URL from docs/edm-spec.md §4.5, and exact identities."""

import io
import zipfile

import numpy as np
import PIL.Image
import pytest
import torch

import dnnlib
from art import detectors, metrics

#----------------------------------------------------------------------------
# Spec parsing and one-line errors.

def test_unknown_and_malformed_specs(tmp_path):
    with pytest.raises(dnnlib.UserError, match='Unknown detector "vgg16"'):
        detectors.load_detector('vgg16')
    with pytest.raises(dnnlib.UserError, match='resnet56-cifar10:PATH'):
        detectors.load_detector('resnet56-cifar10')
    with pytest.raises(dnnlib.UserError, match='not found'):
        detectors.load_detector(f'resnet20-cifar10:{tmp_path}/missing.th')
    torch.save({'state_dict': detectors.LeNet().state_dict()}, tmp_path / 'lenet.pt')
    with pytest.raises(dnnlib.UserError, match='do not match'):
        detectors.load_detector(f'resnet20-cifar10:{tmp_path}/lenet.pt')
    (tmp_path / 'junk.pkl').write_bytes(b'not a pickle')
    with pytest.raises(dnnlib.UserError, match='junk.pkl'):
        detectors.load_detector(str(tmp_path / 'junk.pkl'))

def test_offline_inception_names_the_cache_file(monkeypatch):
    def offline(url, *args, **kwargs):
        raise dnnlib.UserError(f'Cannot download {url} (ConnectionError)')
    monkeypatch.setattr(dnnlib.util, 'open_url', offline)
    with pytest.raises(dnnlib.UserError) as e:
        detectors.load_detector(None, trust=True)
    msg = str(e.value)
    assert '\n' not in msg and 'inception-2015-12-05.pkl' in msg
    assert '18d9c1159d16cd4cc6adf7db0f2dd2a9_inception-2015-12-05.pkl' in msg # md5 of the URL (spec §4.5).
    assert dnnlib.make_cache_dir_path('downloads') in msg

#----------------------------------------------------------------------------
# Architectures: parameter counts and state-dict sizes stated in the data card (§3.2).

@pytest.mark.parametrize('n, params, entries', [(3, 269_722, 97), (9, 853_018, 277)])
def test_cifar_resnet_architecture(n, params, entries):
    model = detectors.CifarResNet(n)
    assert sum(p.numel() for p in model.parameters()) == params
    assert len([k for k in model.state_dict() if not k.endswith('num_batches_tracked')]) == entries
    det = detectors.FeatureDetector(model.eval(), 'x', 3, 32, detectors.IMAGENET_MEAN, detectors.IMAGENET_STD)
    images = torch.randint(0, 256, [2, 3, 32, 32], dtype=torch.uint8)
    assert det(images, return_features=True).shape == (2, 64) and det(images).shape == (2, 10)
    # Normalisation: (x/255 - mean) / std with the ImageNet constants.
    x = images.float() / 255
    expected = (x - torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)) / torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    torch.testing.assert_close(det.normalize(images), expected)

def test_lenet_assets():
    assert detectors.LENET_WEIGHTS.stat().st_size <= 1_000_000
    det, label = detectors.load_detector('lenet-mnist')
    assert label == 'FD-LeNet' and det.feature_dim == 84
    grey = torch.randint(0, 256, [5, 1, 28, 28], dtype=torch.uint8)
    f1 = det(grey, return_features=True)
    assert f1.shape == (5, 84)
    assert torch.equal(det(grey.repeat(1, 3, 1, 1), return_features=True), f1) # 3 channels are averaged.
    assert det(torch.randint(0, 256, [2, 3, 32, 32], dtype=torch.uint8), return_features=True).shape == (2, 84)
    ref = metrics.load_ref(str(detectors.LENET_MNIST_REF), label='FD-LeNet')
    assert ref['mu'].shape == (84,) and ref['sigma'].shape == (84, 84) and ref['sigma'].dtype == np.float64
    np.testing.assert_allclose(ref['sigma'], ref['sigma'].T, rtol=0, atol=1e-12)
    assert np.linalg.eigvalsh(ref['sigma']).min() > -1e-9

def test_ref_files_and_mismatch(tmp_path):
    mu, sigma = np.arange(3.0), np.eye(3)
    metrics.save_ref(str(tmp_path / 'a' / 'r.npz'), mu, sigma, detector='FD-ResNet56')
    ref = metrics.load_ref(str(tmp_path / 'a' / 'r.npz'), label='FD-ResNet56')
    assert ref['detector'] == 'FD-ResNet56' and np.array_equal(ref['mu'], mu)
    ref = metrics.load_ref(f'file://{tmp_path}/a/r.npz', label='FD-ResNet56') # URLs go through open_url.
    assert np.array_equal(ref['sigma'], sigma)
    with pytest.raises(dnnlib.UserError, match='FD-ResNet56.*FID'):
        metrics.load_ref(str(tmp_path / 'a' / 'r.npz'), label='FID')
    np.savez(tmp_path / 'official.npz', mu=mu, sigma=sigma) # EDM's refs have no 'detector' key: Inception.
    assert metrics.load_ref(str(tmp_path / 'official.npz'), label='FID')['detector'] == 'FID'
    with pytest.raises(dnnlib.UserError, match='not found'):
        metrics.load_ref(str(tmp_path / 'missing.npz'))

#----------------------------------------------------------------------------
# Real data (skips without ../shared): accuracies and Fréchet distances of the data card.

@pytest.fixture(scope='module')
def mnist_test(shared_root):
    with np.load(shared_root / 'data' / 'mnist' / 'mnist_test_10k.npz') as z:
        return torch.from_numpy(z['x'][:, None].copy()), torch.from_numpy(z['y'].astype(np.int64))

def test_lenet_accuracy_and_fd_on_mnist(mnist_test):
    x, y = mnist_test
    det, _ = detectors.load_detector('lenet-mnist')
    pred = torch.cat([det(x[i:i+2000]).argmax(1) for i in range(0, len(x), 2000)])
    assert (pred == y).double().mean() >= 0.985
    ref = metrics.load_ref(str(detectors.LENET_MNIST_REF), label='FD-LeNet') # MNIST train 60k.
    mu, sigma = metrics.stats_from_batches(det, (x[i:i+2000] for i in range(0, len(x), 2000)))
    fd_test = metrics.frechet_distance(mu, sigma, ref['mu'], ref['sigma'])
    noisy = (x.float() + 60 * torch.randn(x.shape, generator=torch.Generator().manual_seed(0))).clamp(0, 255).to(torch.uint8)
    mu_n, sigma_n = metrics.stats_from_batches(det, (noisy[i:i+2000] for i in range(0, len(x), 2000)))
    fd_noisy = metrics.frechet_distance(mu_n, sigma_n, ref['mu'], ref['sigma'])
    assert fd_test < 0.05 * fd_noisy

def _zip_of(path, images, fmt='PNG', **kw):
    with zipfile.ZipFile(path, 'w') as zf:
        for i, img in enumerate(images):
            buf = io.BytesIO()
            PIL.Image.fromarray(img).save(buf, fmt, **kw)
            zf.writestr(f'{i // 1000:05d}/img{i:08d}.{fmt.lower()}', buf.getvalue())
    return str(path)

@pytest.fixture(scope='module')
def resnet56_stats(shared_root, tmp_path_factory):
    """FD-ResNet56 statistics (through zips and the dataset route) of the two halves of the lossless
    CIFAR-4000 set and of the JPEG q75 (Pillow) version of the first half; computed once."""
    det, label = detectors.load_detector(f'resnet56-cifar10:{shared_root}/weights/resnet56-4bfd9763.th')
    with np.load(shared_root / 'data' / 'cifar10' / 'cifar10-train4000-lossless.npz') as z:
        x, y = z['x'], z['y']
    root = tmp_path_factory.mktemp('cifar')
    zips = dict(a=_zip_of(root / 'a.zip', x[:2000]), b=_zip_of(root / 'b.zip', x[2000:]),
                a_jpg=_zip_of(root / 'a_jpg.zip', x[:2000], 'JPEG', quality=75))
    stats = {k: metrics.stats_from_images(p, det, max_batch_size=500, num_workers=0, verbose=False) for k, p in zips.items()}
    return det, label, x, y, stats

@pytest.mark.slow
def test_resnet56_accuracy(resnet56_stats):
    det, label, x, y, _ = resnet56_stats
    assert label == 'FD-ResNet56'
    pred = det(torch.from_numpy(x[:300].transpose(0, 3, 1, 2).copy())).argmax(1).numpy()
    assert (pred == y[:300]).mean() == 1.0 # The data card: 100% on the lossless train-4000 set.

def test_fd_resnet56_cifar_halves_and_jpeg(resnet56_stats):
    *_, stats = resnet56_stats
    fd_halves = metrics.frechet_distance(*stats['a'], *stats['b'])
    fd_jpeg = metrics.frechet_distance(*stats['a'], *stats['a_jpg'])
    assert 0.12 <= fd_halves <= 0.18 # Data card: about 0.14 between two disjoint lossless sets of 2,000.
    assert 2.0 <= fd_jpeg <= 2.8     # Data card: about 2.3-2.4 between lossless and JPEG q75.
