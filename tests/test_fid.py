# ART-EDM: learned time grids for EDM-style diffusion samplers.
# Copyright (c) 2026 The ART-EDM authors. Released under the MIT License (see LICENSE).

"""Tests of fid.py and the statistics routines of art/metrics.py (docs/edm-spec.md §3).

Expected values come from independent numpy/scipy restatements (eigendecomposition Fréchet distance,
np.mean/np.cov), never from the code under test. The Inception code path is exercised with a small
feature network pickled the EDM way (a persistent class) and loaded from a file:// URL."""

import importlib.util
import os
import pickle
import subprocess
import sys
import zipfile

import numpy as np
import PIL.Image
import pytest
import torch
from click.testing import CliRunner

import fid
from art import metrics

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

#----------------------------------------------------------------------------
# Independent float64 Fréchet distance: tr sqrt(S1 S2) = sum sqrt(eig(S1^½ S2 S1^½)), S1^½ by eigh.

def _fd_eig(mu1, s1, mu2, s2):
    w, v = np.linalg.eigh(s1)
    s1_half = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    lam = np.linalg.eigvalsh(s1_half @ s2 @ s1_half)
    return float(np.sum((mu1 - mu2) ** 2) + np.trace(s1) + np.trace(s2) - 2 * np.sum(np.sqrt(np.clip(lam, 0, None))))

def _random_gaussian(rng, dim, n):
    a = rng.standard_normal([dim, dim])
    x = rng.standard_normal([n, dim]) @ a + rng.standard_normal(dim)
    return x.mean(0), np.atleast_2d(np.cov(x, rowvar=False))

@pytest.mark.parametrize('dim', [1, 8, 64])
def test_frechet_distance_matches_eigendecomposition(dim):
    rng = np.random.default_rng(dim)
    for _ in range(3):
        mu1, s1 = _random_gaussian(rng, dim, 4 * dim + 10)
        mu2, s2 = _random_gaussian(rng, dim, 4 * dim + 10)
        ref = _fd_eig(mu1, s1, mu2, s2)
        assert metrics.frechet_distance(mu1, s1, mu2, s2) == pytest.approx(ref, rel=1e-6)
    assert abs(metrics.frechet_distance(mu1, s1, mu1, s1)) < 1e-6 * np.trace(s1)

def test_frechet_distance_closed_form_isotropic():
    # N(0, a I) vs N(m, b I) in d dims: |m|² + d (sqrt(a) - sqrt(b))².
    d, a, b, m = 5, 4.0, 0.25, np.arange(5.0)
    expected = np.sum(m ** 2) + d * (2 - 0.5) ** 2
    assert metrics.frechet_distance(np.zeros(d), a * np.eye(d), m, b * np.eye(d)) == pytest.approx(expected, rel=1e-12)

def test_feature_stats_equal_numpy():
    rng = np.random.default_rng(1)
    x = rng.standard_normal([301, 7]) * 3 + 100 # A large mean: the float64 N-1 route must stay accurate.
    stats = metrics.FeatureStats(7)
    for chunk in np.array_split(x, 5):
        stats.append(torch.from_numpy(chunk).to(torch.float32))
    mu, sigma = stats.mean_cov()
    x32 = x.astype(np.float32).astype(np.float64)
    assert mu.dtype == np.float64 and sigma.dtype == np.float64
    np.testing.assert_allclose(mu, np.mean(x32, axis=0), rtol=1e-12)
    np.testing.assert_allclose(sigma, np.cov(x32, rowvar=False), rtol=1e-7, atol=1e-9)

class _Flatten:
    """Detector returning the flattened 3-channel images as features (input checks included)."""
    def __call__(self, images, return_features=False):
        assert return_features and images.dtype == torch.uint8 and images.shape[1] == 3
        return images[:, :, ::4, ::4].flatten(1).to(torch.float32)

def test_stats_from_batches_equal_numpy():
    images = np.random.RandomState(0).randint(0, 256, size=[50, 1, 8, 8], dtype=np.uint8)
    mu, sigma = metrics.stats_from_batches(_Flatten(), (torch.from_numpy(images[i:i+16]) for i in range(0, 50, 16)))
    f = np.repeat(images, 3, axis=1)[:, :, ::4, ::4].reshape(50, -1).astype(np.float64) # 1 channel repeated to 3 (EDM).
    np.testing.assert_allclose(mu, f.mean(0), rtol=1e-12)
    np.testing.assert_allclose(sigma, np.cov(f, rowvar=False), rtol=1e-9, atol=1e-9)

#----------------------------------------------------------------------------
# A tiny "Inception-like" detector, pickled the EDM way (persistent class, source embedded).

_DETECTOR_SRC = '''
import torch
from torch_utils import persistence

@persistence.persistent_class
class TinyDetector(torch.nn.Module):
    def __init__(self, dim=6):
        super().__init__()
        self.proj = torch.nn.Linear(3 * 4 * 4, dim)
    def forward(self, images, return_features=False):
        x = (images.to(torch.float32) - 127.5) / 127.5
        x = torch.nn.functional.adaptive_avg_pool2d(x, 4).flatten(1)
        f = self.proj(x)
        return f if return_features else f.sum(1)
'''

@pytest.fixture(scope='module')
def tiny_detector(tmp_path_factory):
    """(detector object, path of its pickle): built by the test, then pickled like an EDM network."""
    root = tmp_path_factory.mktemp('det')
    (root / 'tiny_detector_mod.py').write_text(_DETECTOR_SRC)
    spec = importlib.util.spec_from_file_location('tiny_detector_mod', root / 'tiny_detector_mod.py')
    module = importlib.util.module_from_spec(spec)
    sys.modules['tiny_detector_mod'] = module
    spec.loader.exec_module(module)
    torch.manual_seed(0)
    det = module.TinyDetector(dim=6).eval()
    with open(root / 'tiny.pkl', 'wb') as f:
        pickle.dump(det, f)
    del sys.modules['tiny_detector_mod'] # Unpickling must not depend on the module being importable.
    return det, root / 'tiny.pkl'

def _write_png_zip(path, images):
    with zipfile.ZipFile(path, 'w') as zf:
        for i, img in enumerate(images):
            with zf.open(f'{i // 10:05d}/img{i:08d}.png', 'w') as f:
                PIL.Image.fromarray(img).save(f, 'PNG')
    return str(path)

def _np_stats(features):
    return features.mean(0), np.cov(features, rowvar=False)

@pytest.fixture
def cli(monkeypatch):
    """Run fid.py in-process (click's runner) without touching the process-wide start method."""
    monkeypatch.setattr(torch.multiprocessing, 'set_start_method', lambda *a, **kw: None)
    runner = CliRunner()
    def run(*args):
        return runner.invoke(fid.main, list(args), catch_exceptions=False)
    return run

def _one_line_error(result, *fragments):
    assert result.exit_code != 0
    lines = [line for line in result.output.splitlines() if line.startswith('Error: ')]
    assert len(lines) == 1 and 'Traceback' not in result.output, result.output
    for frag in fragments:
        assert frag in lines[0], lines[0]

def test_inception_path_ref_and_calc(tmp_path, tiny_detector, cli):
    det, pkl = tiny_detector
    rng = np.random.RandomState(3)
    real = rng.randint(0, 256, size=[30, 12, 12, 3], dtype=np.uint8)
    fake = np.clip(real[:25].astype(int) + rng.randint(-40, 41, size=[25, 12, 12, 3]), 0, 255).astype(np.uint8)
    real_zip, fake_zip = _write_png_zip(tmp_path / 'real.zip', real), _write_png_zip(tmp_path / 'fake.zip', fake)
    url = 'file://' + str(pkl)

    r = cli('ref', f'--data={real_zip}', f'--dest={tmp_path}/refs/real.npz', f'--detector={url}', '--trust-pickle', '--device=cpu', '--workers=0', '--batch=7')
    assert r.exit_code == 0, r.output
    assert 'Saving dataset reference statistics to' in r.output and r.output.rstrip().endswith('Done.')
    with torch.no_grad():
        f_real = det(torch.from_numpy(real.transpose(0, 3, 1, 2)), return_features=True).double().numpy()
        f_fake = det(torch.from_numpy(fake.transpose(0, 3, 1, 2)), return_features=True).double().numpy()
    saved = np.load(tmp_path / 'refs' / 'real.npz')
    assert str(saved['detector']) == 'FID'
    mu_r, sigma_r = _np_stats(f_real)
    np.testing.assert_allclose(saved['mu'], mu_r, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(saved['sigma'], sigma_r, rtol=1e-4, atol=1e-6)

    # calc with a random subset of 20 of the 25 images (EDM's max_size rule with --seed).
    r = cli('calc', f'--images={fake_zip}', f'--ref={tmp_path}/refs/real.npz', '--num=20', '--seed=5', f'--detector={url}', '--trust-pickle', '--device=cpu', '--workers=0')
    assert r.exit_code == 0, r.output
    lines = r.output.strip().splitlines()
    assert 'Calculating FID...' in r.output and 'Loading dataset reference statistics from' in lines[0]
    assert 'FD-' not in r.output
    subset = np.sort(np.random.RandomState(5).permutation(25)[:20])
    expected = _fd_eig(*_np_stats(f_fake[subset]), mu_r, sigma_r)
    assert float(lines[-1]) == pytest.approx(expected, rel=1e-3)
    assert lines[-1] == f'{float(lines[-1]):g}'

    # EDM's messages for too few images, and one clear line for a ref of another detector.
    _one_line_error(cli('calc', f'--images={fake_zip}', f'--ref={tmp_path}/refs/real.npz', '--num=26', f'--detector={url}', '--trust-pickle', '--device=cpu', '--workers=0'),
                    'Found 25 images, but expected at least 26')
    np.savez(tmp_path / 'other.npz', mu=mu_r, sigma=sigma_r, detector=np.array('FD-LeNet'))
    _one_line_error(cli('calc', f'--images={fake_zip}', f'--ref={tmp_path}/other.npz', '--num=20', f'--detector={url}', '--trust-pickle', '--device=cpu', '--workers=0'),
                    'FD-LeNet', 'FID')

def test_cli_errors(tmp_path, tiny_detector, cli):
    _, pkl = tiny_detector
    images = np.random.RandomState(4).randint(0, 256, size=[6, 8, 8, 3], dtype=np.uint8)
    root = tmp_path / 'imgs'
    root.mkdir()
    for i, img in enumerate(images):
        PIL.Image.fromarray(img).save(root / f'{i}.png')
    np.savez(tmp_path / 'ref.npz', mu=np.zeros(6), sigma=np.eye(6))
    common = [f'--detector={pkl}', '--trust-pickle', '--device=cpu']
    _one_line_error(cli('calc', f'--images={root}', f'--ref={tmp_path}/nope.npz', '--num=6', *common, '--workers=0'), 'nope.npz', 'not found')
    _one_line_error(cli('calc', f'--images={root}', f'--ref={tmp_path}/ref.npz', '--num=6', '--detector=vgg16', '--device=cpu'), 'Unknown detector "vgg16"')
    _one_line_error(cli('ref', f'--data={tmp_path}/nothing', f'--dest={tmp_path}/x.npz', *common), 'directory or zip')
    (root / '3.png').write_bytes(b'\x89PNG\r\n\x1a\n truncated')
    for workers in ['0', '1']: # The error travels back from a DataLoader worker as one line too.
        _one_line_error(cli('calc', f'--images={root}', f'--ref={tmp_path}/ref.npz', '--num=6', *common, f'--workers={workers}'), '3.png')
    assert not os.path.exists(tmp_path / 'x.npz')

#----------------------------------------------------------------------------
# torchrun with 2 gloo processes gives the same statistics as one process.

def test_two_gloo_processes_match_one(tmp_path, tiny_detector, cli):
    _, pkl = tiny_detector
    images = np.random.RandomState(6).randint(0, 256, size=[37, 10, 10, 3], dtype=np.uint8)
    data = _write_png_zip(tmp_path / 'd.zip', images)
    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHONPATH=REPO + os.pathsep + os.environ.get('PYTHONPATH', ''))
    args = ['ref', f'--data={data}', f'--detector={pkl}', '--trust-pickle', '--device=cpu', '--workers=0', '--batch=4']
    one = cli(*args, f'--dest={tmp_path}/one.npz') # One process (in-process; no process group).
    assert one.exit_code == 0, one.output
    two = subprocess.run([sys.executable, '-m', 'torch.distributed.run', '--standalone', '--nproc_per_node=2', 'fid.py', *args, f'--dest={tmp_path}/two.npz'],
                         cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert two.returncode == 0, two.stderr[-3000:]
    assert two.stdout.count('Done.') == 1 # Rank 0 prints, rank 1 stays quiet.
    a, b = np.load(tmp_path / 'one.npz'), np.load(tmp_path / 'two.npz')
    np.testing.assert_allclose(b['mu'], a['mu'], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(b['sigma'], a['sigma'], rtol=1e-12, atol=1e-12)

#----------------------------------------------------------------------------
# End to end: generate.py samples of the MNIST DiT, then `fid.py calc --detector=lenet-mnist` against the
# committed reference statistics (skips without ../shared, which holds the DiT weights).

def test_generate_then_fd_lenet(tmp_path, shared_root, cli):
    import generate
    from art import detectors
    r = CliRunner().invoke(generate.main, ['--network=builtin:mnist-dit', f'--outdir={tmp_path}/gen', '--seeds=0-99',
                                           '--batch=100', '--steps=8', '--device=cpu'], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    r = cli('calc', f'--images={tmp_path}/gen', f'--ref={detectors.LENET_MNIST_REF}', '--num=100', '--detector=lenet-mnist', '--device=cpu', '--workers=0')
    assert r.exit_code == 0, r.output
    assert 'Calculating FD-LeNet...' in r.output and 'FID' not in r.output
    fd_gen = float(r.output.strip().splitlines()[-1])
    # Bounds from the same number of real test digits and of uniform noise images.
    det, _ = detectors.load_detector('lenet-mnist')
    ref = metrics.load_ref(str(detectors.LENET_MNIST_REF))
    with np.load(shared_root / 'data' / 'mnist' / 'mnist_test_10k.npz') as z:
        real = torch.from_numpy(z['x'][:100].copy())
    noise = torch.randint(0, 256, [100, 28, 28], dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    fd_real = metrics.frechet_distance(*metrics.stats_from_batches(det, [real]), ref['mu'], ref['sigma'])
    fd_noise = metrics.frechet_distance(*metrics.stats_from_batches(det, [noise]), ref['mu'], ref['sigma'])
    assert fd_gen < 2 * fd_real and fd_gen < 0.1 * fd_noise, (fd_gen, fd_real, fd_noise)
