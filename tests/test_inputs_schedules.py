# ART-EDM: learned time grids for EDM-style diffusion samplers.
# Copyright (c) 2026 The ART-EDM authors. Released under the MIT License (see LICENSE).

"""Tests of the grid numerics and input checks of art/schedules.py: EDM's exact operations for the VP
sigma(t) and the iDDPM u-table (edm-spec.md §2.6), whole-grid validation (finite, strictly decreasing,
positive up to the final 0, also after float32 rounding), schedule files that contradict their time
change, and bounded reads of schedule files (FIFOs, devices, huge or deeply nested files)."""

import json
import os

import numpy as np
import pytest
import torch
from click.testing import CliRunner

import dnnlib
from art import schedules

#----------------------------------------------------------------------------
# VP sigma(t) = sqrt(e^(beta_d t^2 / 2 + beta_min t) - 1), the exponential as a power of np.e.

def _vp_sigma_spec(t, beta_d, beta_min):
    """Independent restatement of spec §2.6: base e as a float64 tensor raised to the exponent tensor."""
    x = 0.5 * beta_d * (t ** 2) + beta_min * t
    return (torch.full_like(x, np.e).pow(x) - 1).sqrt()

def test_vp_sigma_bitwise_spec_operations():
    t = torch.linspace(1e-3, 1, 20001, dtype=torch.float64)
    for beta_d, beta_min in [(19.9, 0.1), schedules.vp_beta_refit(0.002, 80.0)]:
        got = schedules.vp_sigma(t, beta_d, beta_min)
        want = _vp_sigma_spec(t, beta_d, beta_min)
        assert torch.equal(got, want)
        x = 0.5 * beta_d * (t ** 2) + beta_min * t
        assert (want != (x.exp() - 1).sqrt()).double().mean() > 0.1 # the test tells pow from exp

def test_vp_default_range_spec_values():
    # Spec §2.6 table: VP sigma(epsilon_s) and sigma(1) with beta_d=19.9, beta_min=0.1 (Python floats).
    assert schedules.default_sigma_range('vp') == (0.010485992786706403, 152.16697028394634)

def test_vp_grid_spec_vector():
    class Net: # the VP net range of the spec's N=6 test vector; round_sigma = identity
        sigma_min, sigma_max = 0.0009765625, 152.16697
        round_sigma = staticmethod(lambda s: s)
    got = schedules.get_sigmas('vp', 6, net=Net()).numpy()
    np.testing.assert_allclose(got[:-1], [152.16697, 25.148852, 6.111663, 2.034429, 0.723807, 0.010486], rtol=2e-6)
    assert got[-1] == 0

#----------------------------------------------------------------------------
# iDDPM u-table: abar(j) in float32 from an integer index, the recurrence in float64 torch ops.

def _iddpm_u_spec(M=1000, C_1=0.001, C_2=0.008):
    """Independent restatement of spec §2.6 on one 0-d tensor at a time, j = M..1."""
    u = [torch.zeros([], dtype=torch.float64) for _ in range(M + 1)]
    abar = lambda j: (0.5 * np.pi * torch.tensor(j) / M / (C_2 + 1)).sin() ** 2
    for j in range(M, 0, -1):
        ratio = torch.maximum(abar(j - 1) / abar(j), torch.tensor(C_1, dtype=torch.float32))
        u[j - 1] = torch.sqrt((u[j] * u[j] + 1) / ratio - 1)
    return torch.stack(u)

def test_iddpm_u_bitwise_spec_operations():
    got, want = schedules.iddpm_u(), _iddpm_u_spec()
    assert got.dtype == torch.float64 and torch.equal(got, want)
    assert float(got[-2]) == pytest.approx(0.0064224696, abs=1e-10) # spec: smallest level (float32 abar)
    got_small = schedules.iddpm_u(M=50, C_1=0.01, C_2=0.02)
    assert torch.equal(got_small, _iddpm_u_spec(M=50, C_1=0.01, C_2=0.02))

def test_iddpm_grid_spec_vector():
    class Net:
        sigma_min, sigma_max = 0.006422337, 20291.17
        round_sigma = staticmethod(lambda s: s)
    got = schedules.get_sigmas('iddpm', 6, net=Net()).numpy()
    np.testing.assert_allclose(got[:-1], [80.203676, 3.007102, 1.372616, 0.730674, 0.33399, 0.006422], rtol=1e-5, atol=1e-6)

#----------------------------------------------------------------------------
# Whole-grid validation.

@pytest.mark.parametrize('kwargs,needle', [
    (dict(rho=float('nan')), 'rho'), (dict(rho=float('inf')), 'rho'), (dict(rho=-1.0), 'rho'),
    (dict(sigma_max=1e308), r'sigma_max=1e\+308.*must be positive'), (dict(sigma_max=float('nan')), 'noise range'),
    (dict(sigma_min=float('nan')), 'noise range'), (dict(sigma_max=float('inf')), 'noise range'),
])
def test_named_grid_parameters(kwargs, needle):
    with pytest.raises(dnnlib.UserError, match=needle):
        schedules.get_sigmas('edm', 18, **kwargs)

@pytest.mark.parametrize('sigmas,needle', [
    ([1e308, 1e-308, 0.0], 'float32'),             # float32: inf and 0
    ([2.0 + 1e-9, 2.0, 0.0], 'float32'),            # equal after float32 rounding
    ([1.0, 1e-46, 0.0], 'float32'),                 # rounds to 0 in float32
    ([1.0, 2.0, 0.0], 'strictly decreasing'),
    ([1.0, 0.5], 'last sigma must be 0'),
    ([float('nan'), 0.0], 'not finite'),
])
def test_check_grid(sigmas, needle):
    with pytest.raises(dnnlib.UserError, match=needle):
        schedules.check_grid(sigmas, 'test grid')
    with pytest.raises(dnnlib.UserError, match=needle):
        schedules.check_grid(torch.tensor(sigmas, dtype=torch.float64), 'test grid')

def test_check_grid_accepts_valid_grids():
    np.testing.assert_array_equal(schedules.check_grid([80.0, 1.0, 0.002, 0.0]), [80.0, 1.0, 0.002, 0.0])
    for name in schedules.SCHEDULES:
        for K in (1, 2, 18, 256):
            schedules.check_grid(schedules.get_sigmas(name, K))

def test_extreme_schedule_file_export_cli(tmp_path):
    path = tmp_path / 'extreme.json'
    path.write_text(json.dumps(dict(format=schedules.FORMAT, sigmas=[1e308, 1e-308, 0])))
    res = CliRunner().invoke(schedules.cli, ['export', str(path)])
    assert res.exit_code == 1 and res.stderr.strip().count('\n') == 0 and 'float32' in res.stderr
    assert 'Traceback' not in res.output

def test_steps_cap():
    with pytest.raises(dnnlib.UserError, match='10000'):
        schedules.get_sigmas('edm', 10 ** 9)
    with pytest.raises(dnnlib.UserError, match='10000'):
        schedules.resample_sigmas([80.0, 1.0, 0.0], 10 ** 6)
    assert len(schedules.get_sigmas('edm', schedules.MAX_STEPS)) == schedules.MAX_STEPS + 1

#----------------------------------------------------------------------------
# A time change that contradicts the file's sigmas.

def test_time_change_must_match_sigmas(tmp_path):
    tc = dict(theta=[1.0, 2.0, 3.0, 2.0], time_map='rho', sigma_min=0.002, sigma_max=80.0)
    good = schedules.time_change_grid(tc, 6)[0]
    path = tmp_path / 'good.json'
    schedules.save_schedule(path, good, time_change=tc)
    assert schedules.load_schedule(path)['num_steps'] == 6
    bad = good.copy()
    bad[2] *= 1.001
    path.write_text(json.dumps(dict(format=schedules.FORMAT, sigmas=bad.tolist(), time_change=tc)))
    with pytest.raises(dnnlib.UserError, match='contradicts'):
        schedules.load_schedule(path)
    with pytest.raises(dnnlib.UserError, match='contradicts'):
        schedules.get_sigmas(str(path), 9)

#----------------------------------------------------------------------------
# Bounded reads.

def test_unbounded_and_special_files(tmp_path):
    with pytest.raises(dnnlib.UserError, match='not a regular file'):
        schedules.load_schedule('/dev/zero')
    fifo = tmp_path / 'fifo.json'
    os.mkfifo(fifo) # opening it for reading would block forever
    with pytest.raises(dnnlib.UserError, match='not a regular file'):
        schedules.load_schedule(str(fifo))
    huge = tmp_path / 'huge.json'
    with open(huge, 'wb') as f:
        f.truncate(schedules.MAX_SCHEDULE_BYTES + 1) # sparse
    with pytest.raises(dnnlib.UserError, match='limit'):
        schedules.load_schedule(str(huge))
    deep = tmp_path / 'deep.json'
    deep.write_text('[' * 200000 + ']' * 200000)
    with pytest.raises(dnnlib.UserError, match='nested too deeply'):
        schedules.load_schedule(str(deep))

def test_read_text_bounded(tmp_path):
    p = tmp_path / 'a.txt'
    p.write_text('hello')
    assert dnnlib.util.read_text_bounded(str(p), 5, 'File') == 'hello'
    with pytest.raises(dnnlib.UserError, match='limit'):
        dnnlib.util.read_text_bounded(str(p), 4, 'File')
    p.write_bytes(b'\xff\xfe')
    with pytest.raises(dnnlib.UserError, match='UTF-8'):
        dnnlib.util.read_text_bounded(str(p), 100, 'File')
    with pytest.raises(dnnlib.UserError, match='cannot be read'):
        dnnlib.util.read_text_bounded(str(tmp_path / 'nope'), 100, 'File')
