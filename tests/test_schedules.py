# ART-EDM: learned time grids for EDM-style diffusion samplers.
# Copyright (c) 2026 The ART-EDM authors. Released under the MIT License (see LICENSE).

"""Tests of art.schedules: spec test vectors (edm-spec.md §2.5-2.6), closed forms of the named
grids, the schedule file (save/load/validation), log-linear resampling, clamping and exports."""

import json
import math

import numpy as np
import pytest
import torch
from click.testing import CliRunner

import dnnlib
from art import schedules

# EDM's 18-step grid for an EDMPrecond net (spec §2.5, verified values).
EDM18 = [80.0, 57.58598472124816, 40.78557379650796, 28.374584604156844, 19.35245298032523, 12.91008238075732,
    8.400935309099816, 5.315194521796382, 3.256821519765537, 1.9233398370400518, 1.088170636545279,
    0.5853481231945422, 0.29644228447915727, 0.13951646873101678, 0.05994731123547159, 0.022934518372333384,
    0.0075280199627840785, 0.002000000000000003, 0.0]

#----------------------------------------------------------------------------

class RangeNet:
    """Only what the grid code needs from a network: its sigma range and round_sigma."""
    def __init__(self, sigma_min=0.0, sigma_max=math.inf, table=None):
        self.sigma_min, self.sigma_max, self.table = sigma_min, sigma_max, table
    def round_sigma(self, sigma):
        sigma = torch.as_tensor(sigma)
        if self.table is None:
            return sigma
        table = torch.as_tensor(self.table, dtype=sigma.dtype)
        return table[(sigma[..., None] - table).abs().argmin(-1)]

#----------------------------------------------------------------------------

def test_edm18_vector():
    sigmas = schedules.get_sigmas('edm', 18, net=RangeNet())
    assert sigmas.dtype == torch.float64 and sigmas.shape == (19,)
    np.testing.assert_allclose(sigmas.numpy(), EDM18, rtol=1e-6, atol=0)

#----------------------------------------------------------------------------
def test_named_grids_closed_forms():
    K = 7
    np.testing.assert_allclose(schedules.get_sigmas('uniform', K)[:-1].numpy(), np.linspace(80, 0.002, K), rtol=1e-12)
    np.testing.assert_allclose(schedules.get_sigmas('logsnr', K)[:-1].numpy(), np.geomspace(80, 0.002, K), rtol=1e-12)
    np.testing.assert_allclose(schedules.get_sigmas('ve', K)[:-1].numpy(), np.geomspace(100, 0.02, K), rtol=1e-12)
    r = 1 / 7
    edm = (80 ** r + np.arange(K) / (K - 1) * (0.002 ** r - 80 ** r)) ** 7
    np.testing.assert_allclose(schedules.get_sigmas('edm', K)[:-1].numpy(), edm, rtol=1e-12)
    np.testing.assert_allclose(schedules.get_sigmas('edm', K, rho=3, sigma_min=0.01, sigma_max=10)[:-1].numpy(),
        (10 ** (1 / 3) + np.arange(K) / (K - 1) * (0.01 ** (1 / 3) - 10 ** (1 / 3))) ** 3, rtol=1e-12)

#----------------------------------------------------------------------------
@pytest.mark.parametrize('name', schedules.SCHEDULES)
@pytest.mark.parametrize('K', [1, 2, 5, 18])
def test_grid_shape_and_order(name, K):
    sigmas = schedules.get_sigmas(name, K, net=RangeNet()).numpy()
    assert sigmas.shape == (K + 1,) and sigmas[-1] == 0
    assert np.all(np.diff(sigmas) < 0) and np.all(np.isfinite(sigmas))

#----------------------------------------------------------------------------
def test_vp_defaults_and_refit():
    lo, hi = schedules.sigma_range('vp')
    assert math.isclose(lo, 0.010485992786706403, rel_tol=1e-12) and math.isclose(hi, 152.16697028394634, rel_tol=1e-12)
    # The refit reproduces the endpoints: sigma(eps_s) = sigma_min, sigma(1) = sigma_max.
    beta_d, beta_min = schedules.vp_beta_refit(0.05, 40.0, 1e-3)
    assert math.isclose(float(np.sqrt(np.exp(0.5 * beta_d * 1e-6 + beta_min * 1e-3) - 1)), 0.05, rel_tol=1e-9)
    assert math.isclose(float(np.sqrt(np.exp(0.5 * beta_d + beta_min) - 1)), 40.0, rel_tol=1e-9)
    t = torch.tensor([0.3, 0.7], dtype=torch.float64)
    torch.testing.assert_close(schedules.vp_sigma_inv(schedules.vp_sigma(t, beta_d, beta_min), beta_d, beta_min), t)

#----------------------------------------------------------------------------
def test_clamp_and_round_to_net():
    net = RangeNet(sigma_min=0.01, sigma_max=3.0)
    sigmas = schedules.get_sigmas('logsnr', 5, net=net).numpy()
    np.testing.assert_allclose(sigmas[:-1], np.geomspace(3.0, 0.01, 5), rtol=1e-12)
    table = np.geomspace(80, 0.002, 50)
    sigmas = schedules.get_sigmas('edm', 6, net=RangeNet(table=table)).numpy()
    assert all(np.isclose(table, s, rtol=1e-12).any() for s in sigmas[:-1])

#----------------------------------------------------------------------------
def test_iddpm_u_table():
    u = schedules.iddpm_u().numpy()
    assert u.shape == (1001,) and u[-1] == 0 and np.all(np.diff(u) < 0)
    # Net range of an iDDPM net (spec §2.6 test): grid nodes, with alpha_bar in float32 (see iddpm_u).
    sigmas = schedules.get_sigmas('iddpm', 6, net=RangeNet(0.006422337, 20291.17)).numpy()
    np.testing.assert_allclose(sigmas[:-1], [80.203676, 3.007102, 1.372616, 0.730674, 0.33399, 0.006422], rtol=1e-6, atol=5e-7)

#----------------------------------------------------------------------------
# Resampling.

def test_resample_exact_on_geometric_grid():
    # Log-linear interpolation is exact for a geometric grid: logsnr(18) -> 9 equals logsnr(9).
    s18 = schedules.get_sigmas('logsnr', 18)
    np.testing.assert_allclose(schedules.resample_sigmas(s18, 9).numpy(), schedules.get_sigmas('logsnr', 9).numpy(), rtol=1e-12)
    np.testing.assert_allclose(schedules.resample_sigmas(s18.tolist(), 40), schedules.get_sigmas('logsnr', 40).numpy(), rtol=1e-12)

#----------------------------------------------------------------------------
def test_resample_piecewise_log_linear():
    sig = [10.0, 1.0, 0.5, 0.0] # nodes at u = 0, 1/2, 1
    out = schedules.resample_sigmas(sig, 5) # u = 0, 1/4, 1/2, 3/4, 1
    np.testing.assert_allclose(out, [10.0, math.sqrt(10.0), 1.0, math.sqrt(0.5), 0.5, 0.0], rtol=1e-12)
    assert schedules.resample_sigmas(sig, 3) == sig
    assert schedules.resample_sigmas(sig, 1) == [10.0, 0.0]
    with pytest.raises(dnnlib.UserError):
        schedules.resample_sigmas([5.0, 0.0], 4)

#----------------------------------------------------------------------------
# The schedule file.

def test_save_load_roundtrip(tmp_path):
    path = tmp_path / 'sub' / 's.json'
    sig = torch.tensor(EDM18, dtype=torch.float64)
    schedules.save_schedule(path, sig, method='art-rl', solver='heun', network='builtin:gauss1d',
        network_sha256='ab' * 32, settings=dict(lr=1e-3), seed=3, theta_bar=np.ones(4))
    assert [p.name for p in path.parent.iterdir()] == ['s.json'] # no temporary file left
    data = json.loads(path.read_text())
    assert data['format'] == 'art-schedule/1' and data['num_steps'] == 18
    assert data['sigma_max'] == 80.0 and data['sigma_min'] == EDM18[-2]
    assert data['network'] == dict(name='builtin:gauss1d', sha256='ab' * 32)
    assert data['theta_bar'] == [1.0] * 4 and data['seed'] == 3 and data['settings'] == dict(lr=1e-3)
    loaded = schedules.load_schedule(path)
    assert loaded['sigmas'] == EDM18
    np.testing.assert_array_equal(schedules.get_sigmas(str(path), 18).numpy(), EDM18)
    np.testing.assert_array_equal(schedules.get_sigmas(str(path), None).numpy(), EDM18)

#----------------------------------------------------------------------------
def test_file_resampled_and_logged(tmp_path):
    path = str(tmp_path / 'l.json')
    schedules.save_schedule(path, schedules.get_sigmas('logsnr', 18))
    msgs = []
    out = schedules.get_sigmas(path, 9, log=msgs.append)
    np.testing.assert_allclose(out.numpy(), schedules.get_sigmas('logsnr', 9).numpy(), rtol=1e-12)
    assert len(msgs) == 1 and 'resampled from K=18 to K=9' in msgs[0]

#----------------------------------------------------------------------------
def test_file_with_time_change_is_read_off_it(tmp_path):
    """A file that keeps its time change (ART-RL) gives other K from it: on the rho clock uniform clock
    speeds give sigma_i = sigma_max (1 - i/K)^7 (numpy here, not the library's formula)."""
    tc = dict(theta=[1.0] * 18, time_map='rho', sigma_min=0.002, sigma_max=80.0)
    path = str(tmp_path / 't.json')
    schedules.save_schedule(path, schedules.time_change_grid(tc, 18)[0], time_change=tc)
    msgs = []
    out = schedules.get_sigmas(path, 5, log=msgs.append).numpy()
    want = np.maximum(80.0 * (1 - np.arange(5) / 5) ** 7, 0.002)       # the last node (1.0e-3) is raised to sigma_min
    np.testing.assert_allclose(out[:-1], want, rtol=1e-12)
    assert out[-1] == 0 and len(msgs) == 1 and 'time change for K=5' in msgs[0]
    linear = dict(tc, time_map='linear', theta=[2.0, 1.0, 1.0, 0.5])   # t = 1/2 is clock node 2: u = (2 + 1) / 4.5
    np.testing.assert_allclose(schedules.time_change_grid(linear, 2)[0], [80.0, 80.0 * (1 - 3 / 4.5), 0.0], rtol=1e-12)
    for bad in [dict(tc, time_map='log'), dict(tc, theta='1,2'), dict(tc, theta=[1.0, float('nan')]), dict(tc, sigma_min=0)]:
        with open(path, 'w') as f:
            json.dump(dict(format=schedules.FORMAT, sigmas=[80.0, 1.0, 0.0], time_change=bad), f)
        with pytest.raises(dnnlib.UserError, match='time_change'):
            schedules.load_schedule(path)

#----------------------------------------------------------------------------
def test_file_clamped_to_net_with_warning(tmp_path):
    path = str(tmp_path / 'c.json')
    schedules.save_schedule(path, [100.0, 10.0, 1.0, 0.001, 0.0])
    msgs = []
    out = schedules.get_sigmas(path, 4, net=RangeNet(0.002, 80.0), log=msgs.append).numpy()
    np.testing.assert_array_equal(out, [80.0, 10.0, 1.0, 0.002, 0.0])
    assert len(msgs) == 1 and 'clamped' in msgs[0]
    with pytest.warns(UserWarning, match='clamped'):
        schedules.get_sigmas(path, 4, net=RangeNet(0.002, 80.0))
    with pytest.warns(UserWarning), pytest.raises(dnnlib.UserError, match='strictly decreasing'):
        schedules.get_sigmas(path, 4, net=RangeNet(0.002, 0.5)) # 1.0 and 10.0 both clamp to 0.5
    with pytest.raises(dnnlib.UserError, match='sigma_min'):
        schedules.get_sigmas(path, 4, sigma_min=0.01)

# (name, file content): each must give a one-line dnnlib.UserError.
MALFORMED = {
    'empty':         '',
    'not_json':      'sigmas: [80, 0]',
    'json_list':     '[80.0, 1.0, 0.0]',
    'no_format':     '{"sigmas": [80.0, 1.0, 0.0]}',
    'wrong_version': '{"format": "art-schedule/2", "sigmas": [80.0, 1.0, 0.0]}',
    'no_sigmas':     '{"format": "art-schedule/1"}',
    'sigmas_string': '{"format": "art-schedule/1", "sigmas": "80, 1, 0"}',
    'string_value':  '{"format": "art-schedule/1", "sigmas": [80.0, "1.0", 0.0]}',
    'bool_value':    '{"format": "art-schedule/1", "sigmas": [80.0, true, 0.0]}',
    'nan':           '{"format": "art-schedule/1", "sigmas": [80.0, NaN, 0.0]}',
    'infinite':      '{"format": "art-schedule/1", "sigmas": [Infinity, 1.0, 0.0]}',
    'huge_int':      '{"format": "art-schedule/1", "sigmas": [1' + '0' * 400 + ', 1.0, 0.0]}',
    'increasing':    '{"format": "art-schedule/1", "sigmas": [1.0, 80.0, 0.0]}',
    'repeated':      '{"format": "art-schedule/1", "sigmas": [80.0, 1.0, 1.0, 0.0]}',
    'negative':      '{"format": "art-schedule/1", "sigmas": [80.0, -1.0, 0.0]}',
    'no_final_zero': '{"format": "art-schedule/1", "sigmas": [80.0, 1.0, 0.002]}',
    'too_short':     '{"format": "art-schedule/1", "sigmas": [0.0]}',
    'empty_list':    '{"format": "art-schedule/1", "sigmas": []}',
    'num_steps':     '{"format": "art-schedule/1", "sigmas": [80.0, 1.0, 0.0], "num_steps": 18}',
    'sigma_max':     '{"format": "art-schedule/1", "sigmas": [80.0, 1.0, 0.0], "sigma_max": 100}',
    'binary':        b'\x89PNG\r\n\x1a\n\xff\xfe\x00',
}

#----------------------------------------------------------------------------
def write_malformed(tmp_path, name):
    content = MALFORMED[name]
    path = tmp_path / f'{name}.json'
    (path.write_bytes if isinstance(content, bytes) else path.write_text)(content)
    return str(path)

#----------------------------------------------------------------------------
@pytest.mark.parametrize('name', sorted(MALFORMED))
def test_malformed_files(tmp_path, name):
    with pytest.raises(dnnlib.UserError) as info:
        schedules.load_schedule(write_malformed(tmp_path, name))
    msg = str(info.value)
    assert '\n' not in msg and f'{name}.json' in msg

#----------------------------------------------------------------------------
def test_missing_file_and_directory(tmp_path):
    for path in [tmp_path / 'nope.json', tmp_path]:
        with pytest.raises(dnnlib.UserError, match='cannot be read'):
            schedules.load_schedule(str(path))

#----------------------------------------------------------------------------
def test_save_rejects_bad_sigmas(tmp_path):
    with pytest.raises(dnnlib.UserError):
        schedules.save_schedule(tmp_path / 'x.json', [1.0, 2.0, 0.0])
    assert not (tmp_path / 'x.json').exists()

#----------------------------------------------------------------------------
# Exports and the CLI.

def test_exports():
    sig = [80.0, 1.5, 0.002, 0.0]
    assert json.loads(schedules.export_sigmas(sig, 'json')) == sig
    assert [float(v) for v in schedules.export_sigmas(sig, 'comfyui').split(',')] == sig
    assert schedules.export_sigmas(sig, 'diffusers') == 'sigmas=[80.0, 1.5, 0.002]'
    code = schedules.export_sigmas(torch.tensor(sig, dtype=torch.float64), 'kdiffusion')
    scope = dict(torch=torch)
    exec(code, scope) # pylint: disable=exec-used
    assert scope['sigmas'].tolist() == sig
    with pytest.raises(dnnlib.UserError):
        schedules.export_sigmas(sig, 'bogus')

#----------------------------------------------------------------------------
def test_cli_make_and_export(tmp_path):
    runner = CliRunner()
    path = str(tmp_path / 'e.json')
    res = runner.invoke(schedules.cli, ['make', '--schedule=edm', '--steps=18', f'--out={path}'])
    assert res.exit_code == 0, res.output
    res = runner.invoke(schedules.cli, ['export', path, '--format=comfyui'])
    assert res.exit_code == 0
    np.testing.assert_allclose([float(v) for v in res.output.split(',')], EDM18, rtol=1e-15)
    res = runner.invoke(schedules.cli, ['export', path, '--format=json', '--steps=9'])
    assert len(json.loads(res.output)) == 10
    # A file that keeps its time change (ART-RL) is exported at another K from it, as get_sigmas does.
    tc = dict(theta=[1.0] * 18, time_map='rho', sigma_min=0.002, sigma_max=80.0)
    schedules.save_schedule(path, schedules.time_change_grid(tc, 18)[0], time_change=tc)
    res = runner.invoke(schedules.cli, ['export', path, '--format=json', '--steps=4'])
    assert res.exit_code == 0, res.output
    np.testing.assert_allclose(json.loads(res.output), [80.0, 80.0 * 0.75 ** 7, 80.0 * 0.5 ** 7, 80.0 * 0.25 ** 7, 0.0], rtol=1e-12)
    res = runner.invoke(schedules.cli, ['export', write_malformed(tmp_path, 'nan')])
    assert res.exit_code == 1 and res.output.startswith('Error: ') and res.output.count('\n') == 1

#----------------------------------------------------------------------------
