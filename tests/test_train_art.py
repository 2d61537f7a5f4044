# ART-EDM: learned time grids for EDM-style diffusion samplers.
# Copyright (c) 2026 The ART-EDM authors. Released under the MIT License (see LICENSE).

"""Tests for train_art.py: schedule JSON + PNG for both methods, resume, one-line user errors."""

import json
import os

import numpy as np
from click.testing import CliRunner

import train_art
from art import schedules

def _run(args):
    return CliRunner().invoke(train_art.main, args, catch_exceptions=False)

#----------------------------------------------------------------------------

def test_closed_form_cli(tmp_path):
    out = tmp_path / 'cf.json'
    r = _run(['--network=builtin:gauss1d', '--method=closed-form', '--steps=5', '--trajectories=32', f'--out={out}', '--device=cpu'])
    assert r.exit_code == 0, r.output
    data = schedules.load_schedule(str(out))
    assert data['method'] == 'closed-form' and data['num_steps'] == 5 and data['sigmas'][0] == 3.0
    assert os.path.getsize(tmp_path / 'cf.png') > 1000
    # Sampling helpers accept the file directly.
    sig = schedules.get_sigmas(str(out), 5)
    np.testing.assert_allclose(sig.numpy(), data['sigmas'])

def test_rl_cli_and_resume(tmp_path):
    out = tmp_path / 'rl.json'
    args = ['--network=builtin:gauss1d', '--method=rl', '--steps=4', '--batch=4', '--q-backend=fd', f'--out={out}', '--device=cpu']
    r = _run(args + ['--iters=4'])
    assert r.exit_code == 0, r.output
    data = schedules.load_schedule(str(out))
    assert data['method'] == 'art-rl' and data['solver'] == 'euler' and data['settings']['iters'] == 4
    assert data['network']['name'] == 'builtin:gauss1d' and len(data['theta_bar']) == 4
    log = [json.loads(line) for line in open(str(out) + '.log.jsonl')]
    assert [rec['iter'] for rec in log] == [0, 1, 2, 3]
    assert os.path.isfile(str(out) + '.ckpt.pt') and os.path.isfile(tmp_path / 'rl.png')
    r = _run(args + ['--iters=6', '--resume'])
    assert r.exit_code == 0, r.output
    assert [json.loads(line)['iter'] for line in open(str(out) + '.log.jsonl')] == list(range(6))

def test_rl_cli_presets_and_flags(tmp_path):
    """--preset=paper gives the paper's Algorithm 1 settings (art.rl.PAPER); flags given explicitly win."""
    from art import rl
    base = ['--network=builtin:gauss1d', '--method=rl', '--steps=3', '--q-backend=fd', '--iters=2', '--device=cpu']
    r = _run(base + ['--preset=paper', f'--out={tmp_path}/p.json'])
    assert r.exit_code == 0, r.output
    st = schedules.load_schedule(f'{tmp_path}/p.json')['settings']
    assert {k: st[k] for k in rl.PAPER if k != 'iters'} == {k: v for k, v in rl.PAPER.items() if k != 'iters'} and st['iters'] == 2
    r = _run(base + ['--preset=paper', '--time-map=rho', '--step-cost=simpson', '--augmented=10', '--batch=4', f'--out={tmp_path}/q.json'])
    assert r.exit_code == 0, r.output
    st = schedules.load_schedule(f'{tmp_path}/q.json')['settings']
    assert (st['time_map'], st['step_cost'], st['augmented'], st['batch'], st['lr']) == ('rho', 'simpson', 10.0, 4, rl.PAPER['lr'])
    r = _run(base + [f'--out={tmp_path}/d.json'])
    assert r.exit_code == 0, r.output
    st = schedules.load_schedule(f'{tmp_path}/d.json')['settings']
    assert (st['time_map'], st['step_cost'], st['batch'], st['augmented']) == ('rho', 'simpson', 64, 100.0)

def test_user_errors(tmp_path):
    r = CliRunner().invoke(train_art.main, ['--network=builtin:nope', f'--out={tmp_path}/a.json', '--device=cpu'])
    assert r.exit_code != 0 and 'Unknown built-in network' in r.output and 'Traceback' not in r.output
    r = CliRunner().invoke(train_art.main, ['--network=builtin:gauss1d', f'--out={tmp_path}/a.txt', '--device=cpu'])
    assert r.exit_code != 0 and '.json' in r.output
    r = CliRunner().invoke(train_art.main, ['--network=builtin:gauss1d', f'--out={tmp_path}/a.json', '--sigma_min=5', '--device=cpu'])
    assert r.exit_code != 0 and 'sigma_min' in r.output
