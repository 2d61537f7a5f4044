# ART-EDM: learned time grids for EDM-style diffusion samplers.
# Copyright (c) 2026 The ART-EDM authors. Released under the MIT License (see LICENSE).

"""Tests of generate.py's input checks: every bad input a user can give ends in exactly one error line
(exit code != 0, no traceback, no leftover temporary files, no PNG): NaN/inf sampler parameters,
extreme schedule files, unusable --outdir and --device, special or huge schedule files, huge or empty
seed lists, huge step counts, unreachable localhost URLs and networks that return NaN. Also the note
printed for EDM's --schedule=vp."""

import json
import os
import pathlib
import re
import socket

import pytest
import torch
from click.testing import CliRunner

import dnnlib
import generate
from art import schedules

#----------------------------------------------------------------------------

def run_cli(*args):
    return CliRunner().invoke(generate.main, ['--network=builtin:gauss1d', '--device=cpu', '--seeds=0-3', *[str(a) for a in args]])

def assert_one_line_error(res, tmp_path, *needles):
    err = [line for line in res.stderr.strip().splitlines() if not re.search(r'\d+%\|', line)] # tqdm's bar is no error
    assert res.exit_code != 0 and len(err) == 1 and err[0].startswith('Error: '), res.output
    assert 'Traceback' not in res.output
    for needle in needles:
        assert needle in err[0], err[0]
    left = [p for p in pathlib.Path(tmp_path).rglob('*') if '.tmp' in p.name or p.suffix == '.png']
    assert not left, left

#----------------------------------------------------------------------------

def test_schedule_vp_note(tmp_path):
    res = run_cli(f'--outdir={tmp_path / "out"}', '--schedule=vp', '--steps=4')
    assert res.exit_code == 0, res.output
    notes = [line for line in res.output.splitlines() if line.startswith('Note: --schedule=vp')]
    assert len(notes) == 1 and '--sigma_schedule=vp' in notes[0] and 'time grid' in notes[0]
    assert len(list((tmp_path / 'out').glob('*.png'))) == 4
    res = run_cli(f'--outdir={tmp_path / "out2"}', '--schedule=edm', '--steps=4')
    assert res.exit_code == 0 and 'Note:' not in res.output

@pytest.mark.parametrize('args,needle', [
    (['--rho=nan'], '--rho'), (['--rho=inf'], '--rho'), (['--S_churn=nan'], '--S_churn'),
    (['--S_noise=nan'], '--S_noise'), (['--S_noise=inf'], '--S_noise'), (['--S_min=nan'], '--S_min'),
    (['--S_max=nan'], '--S_max'), (['--sigma_max=nan'], 'noise range'), (['--sigma_min=inf'], 'noise range'),
    (['--steps=1000000000'], '10000'), (['--seeds=0-999999999999'], '100,000,000'),
    (['--seeds='], 'no seeds'), (['--seeds=5-3'], 'no seeds'), (['--seeds=1,x'], 'not a valid seed list'),
    (['--device=meta'], 'not supported'), (['--device=mps'], 'not supported'),
    (['--schedule=/dev/zero'], 'not a regular file'),
])
def test_bad_inputs_one_line(tmp_path, args, needle):
    assert_one_line_error(run_cli(f'--outdir={tmp_path / "out"}', *args), tmp_path, needle)
    assert not (tmp_path / 'out').exists()

def test_bad_schedule_files(tmp_path):
    fifo = tmp_path / 'fifo.json'
    os.mkfifo(fifo)
    deep = tmp_path / 'deep.json'
    deep.write_text('{"a":' * 100000 + '0' + '}' * 100000)
    same32 = tmp_path / 'same32.json'
    same32.write_text(json.dumps(dict(format=schedules.FORMAT, sigmas=[2.0 + 1e-9, 2.0, 0.0])))
    tc = dict(theta=[1.0, 1.0], time_map='linear', sigma_min=0.002, sigma_max=3.0)
    contra = tmp_path / 'contra.json'
    contra.write_text(json.dumps(dict(format=schedules.FORMAT, sigmas=[3.0, 1.0, 0.0], time_change=tc)))
    for path, needle in [(fifo, 'not a regular file'), (deep, 'nested too deeply'), (same32, 'float32'), (contra, 'contradicts')]:
        assert_one_line_error(run_cli(f'--outdir={tmp_path / "out"}', f'--schedule={path}'), tmp_path, needle)

def test_outdir_file_or_readonly(tmp_path):
    f = tmp_path / 'afile'
    f.write_text('x')
    assert_one_line_error(run_cli(f'--outdir={f}'), tmp_path, 'is a file')
    assert_one_line_error(run_cli(f'--outdir={f}/sub'), tmp_path, 'is a file')
    # /proc refuses new folders even for root (os.access alone would not catch that).
    assert_one_line_error(run_cli('--outdir=/proc/art-edm-test-out'), tmp_path, '/proc/art-edm-test-out')
    if os.geteuid() != 0: # root ignores permission bits
        ro = tmp_path / 'ro'
        ro.mkdir()
        ro.chmod(0o555)
        try:
            assert_one_line_error(run_cli(f'--outdir={ro}/out'), tmp_path, 'not writable')
        finally:
            ro.chmod(0o755)

def test_localhost_url_is_a_url(tmp_path):
    assert dnnlib.util.is_url('http://localhost:8000/net.pkl')
    with socket.socket() as s: # a free port: nothing listens there once closed
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
    dnnlib.util.set_cache_dir(str(tmp_path / 'cache'))
    try:
        res = CliRunner().invoke(generate.main, [f'--network=http://localhost:{port}/net.pkl', '--device=cpu', '--seeds=0', f'--outdir={tmp_path / "out"}'])
    finally:
        dnnlib.util.set_cache_dir(None)
    assert_one_line_error(res, tmp_path, 'Cannot download', f'localhost:{port}', 'offline')

#----------------------------------------------------------------------------
# Non-finite images: from the sampler's guard, and from a plan that bypasses it.

class NaNNet(torch.nn.Module):
    img_channels, img_resolution, label_dim, sigma_min, sigma_max = 1, 4, 0, 0.002, 80.0
    def round_sigma(self, sigma):
        return torch.as_tensor(sigma)
    def forward(self, x, sigma, class_labels=None, **kwargs):
        return torch.full_like(x, float('nan'))

def test_nan_network(tmp_path, monkeypatch):
    monkeypatch.setattr(generate, 'load_network', lambda *args, **kwargs: NaNNet())
    res = run_cli(f'--outdir={tmp_path / "out"}', '--steps=3')
    assert_one_line_error(res, tmp_path)

def test_non_finite_images_never_saved(tmp_path, monkeypatch):
    def plan(net, **kwargs):
        return (lambda latents, class_labels, randn_like: latents * float('inf')), 1
    monkeypatch.setattr(generate, 'make_plan', plan)
    res = run_cli(f'--outdir={tmp_path / "out"}', '--steps=3')
    assert_one_line_error(res, tmp_path, 'non-finite')
