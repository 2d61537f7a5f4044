# ART-EDM: learned time grids for EDM-style diffusion samplers.
# Copyright (c) 2026 The ART-EDM authors. Released under the MIT License (see LICENSE).

"""Tests of fid.py's and art/metrics.py's input checks: malformed or invalid reference statistics
(not a zip, missing keys, wrong shapes, object arrays, NaN, asymmetric or indefinite covariances) end in
one error line; the Frechet distance is never negative (round-off clamped to 0, clearly negative
values refused); `fid.py ref --dest` must be a writable .npz path; unusable devices are one line."""

import pathlib

import numpy as np
import pytest
import scipy.linalg
from click.testing import CliRunner

import dnnlib
import fid
from art import metrics

#----------------------------------------------------------------------------

def run_fid(*args):
    return CliRunner().invoke(fid.main, [str(a) for a in args])

def assert_one_line_error(res, tmp_path, *needles):
    err = res.stderr.strip().splitlines()
    assert res.exit_code != 0 and len(err) == 1 and err[0].startswith('Error: '), res.output
    assert 'Traceback' not in res.output
    for needle in needles:
        assert needle in err[0], err[0]
    assert not [p for p in pathlib.Path(tmp_path).rglob('*') if '.tmp' in p.name]

def _rank_deficient_cov(seed, d=20, n=10):
    x = np.random.RandomState(seed).standard_normal([n, d])
    return x.mean(0), np.cov(x, rowvar=False)

#----------------------------------------------------------------------------
# The Frechet distance.

def test_fd_round_off_clamped_to_zero():
    for seed in range(5):
        mu, s = _rank_deficient_cov(seed)
        raw = np.real(np.trace(s + s - 2 * scipy.linalg.sqrtm(s @ s))) # EDM's formula, unclamped
        assert raw < 0 # the case the clamp is for: identical rank-deficient statistics
        assert metrics.frechet_distance(mu, s, mu, s) == 0.0

def test_fd_clearly_negative_or_nan_refused():
    mu = np.zeros(3)
    bad = np.diag([1.0, 1.0, -50.0]) # not a covariance
    with pytest.raises(dnnlib.UserError, match='negative'):
        metrics.frechet_distance(mu, np.eye(3), mu, bad)
    with pytest.raises(dnnlib.UserError, match='not finite'):
        metrics.frechet_distance(mu, np.eye(3), mu + np.nan, np.eye(3))

def test_fd_value_kept():
    # Independent value: 1-D Gaussians N(0, 1) and N(1, 4): (0-1)^2 + 1 + 4 - 2*2 = 2.
    assert metrics.frechet_distance([0.0], [[1.0]], [1.0], [[4.0]]) == pytest.approx(2.0, abs=1e-12)

#----------------------------------------------------------------------------
# Reference statistics files.

def _bad_refs(tmp_path):
    d = 4
    good_mu, good_sigma = np.zeros(d), np.eye(d)
    refs = {}
    def save(name, **arrays):
        path = tmp_path / f'{name}.npz'
        np.savez(path, **arrays)
        refs[name] = path
    (tmp_path / 'notzip.npz').write_bytes(b'this is not a zip file')
    refs['notzip'] = tmp_path / 'notzip.npz'
    save('nomu', sigma=good_sigma)
    save('shape', mu=good_mu, sigma=np.eye(d + 1))
    save('mu2d', mu=good_sigma, sigma=good_sigma)
    save('object', mu=np.array([1, 'a', None], dtype=object), sigma=good_sigma)
    save('nan', mu=good_mu, sigma=np.diag([1.0, np.nan, 1.0, 1.0]))
    asym = np.eye(d)
    asym[0, 1] = 0.5
    save('asym', mu=good_mu, sigma=asym)
    save('indefinite', mu=good_mu, sigma=np.diag([1.0, 1.0, 1.0, -0.5]))
    save('strings', mu=np.array(['a', 'b']), sigma=good_sigma)
    return refs

@pytest.mark.parametrize('name,needle', [
    ('notzip', 'Cannot read'), ('nomu', 'lack'), ('shape', 'shape'), ('mu2d', '1-d'), ('object', 'Cannot read'),
    ('nan', 'NaN'), ('asym', 'symmetric'), ('indefinite', 'positive semi-definite'), ('strings', 'numbers'),
])
def test_bad_reference_files(tmp_path, name, needle):
    path = _bad_refs(tmp_path)[name]
    with pytest.raises(dnnlib.UserError, match=needle):
        metrics.load_ref(str(path))
    res = run_fid('calc', f'--images={tmp_path}', f'--ref={path}', '--device=cpu', '--workers=0')
    assert_one_line_error(res, tmp_path, needle)

def test_valid_reference_loads(tmp_path):
    mu, sigma = _rank_deficient_cov(0) # PSD up to round-off
    metrics.save_ref(str(tmp_path / 'sub' / 'ref.npz'), mu, sigma, detector='FD-LeNet')
    ref = metrics.load_ref(str(tmp_path / 'sub' / 'ref.npz'))
    np.testing.assert_array_equal(ref['sigma'], sigma)
    assert ref['detector'] == 'FD-LeNet'

#----------------------------------------------------------------------------
# --dest and --device.

def test_ref_dest_checks(tmp_path):
    afile = tmp_path / 'afile'
    afile.write_text('x')
    for dest, needle in [(tmp_path, 'must be the path of a .npz file'), (tmp_path / 'ref.txt', '.npz'),
                         (afile / 'ref.npz', 'not a writable folder')]:
        res = run_fid('ref', f'--data={tmp_path}', f'--dest={dest}', '--detector=lenet-mnist', '--device=cpu', '--workers=0')
        assert_one_line_error(res, tmp_path, needle)
    assert not list(tmp_path.glob('*.npz'))

def test_save_ref_write_errors(tmp_path):
    with pytest.raises(dnnlib.UserError, match='Cannot write'):
        metrics.save_ref('/proc/art-edm-test/ref.npz', np.zeros(2), np.eye(2)) # /proc refuses even root
    metrics.save_ref(str(tmp_path / 'a' / 'b' / 'r.npz'), np.zeros(2), np.eye(2)) # parents are created, as EDM does
    assert [p.name for p in (tmp_path / 'a' / 'b').iterdir()] == ['r.npz']

@pytest.mark.parametrize('device', ['meta', 'mps', 'nonsense'])
def test_fid_device(tmp_path, device):
    np.savez(tmp_path / 'ref.npz', mu=np.zeros(2), sigma=np.eye(2))
    res = run_fid('calc', f'--images={tmp_path}', f'--ref={tmp_path / "ref.npz"}', f'--device={device}')
    assert_one_line_error(res, tmp_path, device)
