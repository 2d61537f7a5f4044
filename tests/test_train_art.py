# ART-EDM: learned time grids for EDM-style diffusion samplers.
# Copyright (c) 2026 The ART-EDM authors. Released under the MIT License (see LICENSE).

"""Tests for train_art.py: schedule JSON + PNG for both methods, resume, one-line user errors."""

import json
import os

import numpy as np
import pytest
import torch
from click.testing import CliRunner

import train_art
from art import schedules

def _run(args):
    return CliRunner().invoke(train_art.main, args, catch_exceptions=False)

#----------------------------------------------------------------------------

def test_closed_form_cli(tmp_path):
    out = tmp_path / 'cf.json'
    r = _run(['--network=builtin:gauss1d', '--method=closed-form:trajectories=32', '--solver=euler', '--steps=5', f'--out={out}', '--device=cpu'])
    assert r.exit_code == 0, r.output
    data = schedules.load_schedule(str(out))
    assert data['method'] == 'closed-form' and data['solver'] == 'euler' and data['num_steps'] == 5 and data['sigmas'][0] == 3.0
    assert data['settings']['trajectories'] == 32 and data['settings']['last_node'] == 'learned'
    assert os.path.getsize(tmp_path / 'cf.png') > 1000
    # Sampling helpers accept the file directly, and read other K off its time change.
    np.testing.assert_allclose(schedules.get_sigmas(str(out), 5).numpy(), data['sigmas'])
    assert len(schedules.get_sigmas(str(out), 9)) == 10

def test_rl_cli_and_resume(tmp_path):
    out = tmp_path / 'rl.json'
    spec = '--method=art-rl:batch=4:q_backend=fd:iters='
    args = ['--network=builtin:gauss1d', '--solver=euler', '--steps=4', f'--out={out}', '--device=cpu']
    r = _run(args + [spec + '4'])
    assert r.exit_code == 0, r.output
    data = schedules.load_schedule(str(out))
    assert data['method'] == 'art-rl' and data['solver'] == 'euler' and data['settings']['iters'] == 4
    assert data['network']['name'] == 'builtin:gauss1d' and len(data['theta_bar']) == 4
    log = [json.loads(line) for line in open(str(out) + '.log.jsonl')]
    assert [rec['iter'] for rec in log] == [0, 1, 2, 3]
    assert os.path.isfile(str(out) + '.ckpt.pt') and os.path.isfile(tmp_path / 'rl.png')
    r = _run(args + [spec + '6', '--resume'])
    assert r.exit_code == 0, r.output
    assert [json.loads(line)['iter'] for line in open(str(out) + '.log.jsonl')] == list(range(6))

def test_paper_preset_and_method_options(tmp_path):
    """--preset=paper is art-rl-paper (Algorithm 1 as published, art.rl.PAPER) for the Euler surrogate; spec options win."""
    from art import rl
    base = ['--network=builtin:gauss1d', '--steps=3', '--device=cpu']
    r = _run(base + ['--preset=paper', '--method=art-rl-paper:iters=2:q_backend=fd', f'--out={tmp_path}/p.json'])
    assert r.exit_code == 0, r.output
    data = schedules.load_schedule(f'{tmp_path}/p.json')
    st = data['settings']
    paper = {k: v for k, v in vars(rl.PAPER).items() if k not in ('iters', 'q_backend', 'rl_steps')}
    assert data['method'] == 'art-rl-paper' and data['solver'] == 'euler'
    assert {k: st[k] for k in paper} == paper and st['iters'] == 2
    r = _run(base + ['--method=art-rl:iters=2:q_backend=fd:time_map=linear:batch=4', '--solver=euler', f'--out={tmp_path}/q.json'])
    assert r.exit_code == 0, r.output
    st = schedules.load_schedule(f'{tmp_path}/q.json')['settings']
    assert (st['time_map'], st['step_cost'], st['batch'], st['augmented']) == ('linear', 'simpson', 4, 100.0)

def test_spec_errors_are_one_line(tmp_path):
    for spec, msg in [('nope', 'Unknown method'), ('closed-form:bogus=1', 'has no option "bogus"'),
                      ('art-rl:iters=-5', 'iters >= 0'), ('gits:coeff=x', 'not a valid float')]:
        r = CliRunner().invoke(train_art.main, ['--network=builtin:gauss1d', f'--method={spec}', f'--out={tmp_path}/a.json', '--device=cpu'])
        assert r.exit_code != 0 and msg in r.output and 'Traceback' not in r.output, (spec, r.output)
        assert not os.path.exists(tmp_path / 'a.json')
    r = CliRunner().invoke(train_art.main, ['--network=builtin:gauss1d', '--method=art-rl', '--solver=ipndm', f'--out={tmp_path}/a.json', '--device=cpu'])
    assert r.exit_code != 0 and 'cannot learn a grid for solver "ipndm"' in r.output

def test_help_is_short():
    r = CliRunner().invoke(train_art.main, ['--help'])
    assert r.exit_code == 0 and r.output.count('\n  --') <= 14
    assert all(name in r.output for name in ('closed-form', 'art-rl', 'art-rl-paper', 'gits', 'edm-best-rho'))

def test_user_errors(tmp_path):
    r = CliRunner().invoke(train_art.main, ['--network=builtin:nope', f'--out={tmp_path}/a.json', '--device=cpu'])
    assert r.exit_code != 0 and 'Unknown built-in network' in r.output and 'Traceback' not in r.output
    r = CliRunner().invoke(train_art.main, ['--network=builtin:gauss1d', f'--out={tmp_path}/a.txt', '--device=cpu'])
    assert r.exit_code != 0 and '.json' in r.output
    r = CliRunner().invoke(train_art.main, ['--network=builtin:gauss1d', f'--out={tmp_path}/a.json', '--sigma_min=5', '--device=cpu'])
    assert r.exit_code != 0 and 'sigma_min' in r.output

#----------------------------------------------------------------------------

def test_multistep_grid_end_to_end(tmp_path):
    """train_art.py --solver=dpmpp-2m, then generate.py --solver=dpmpp-2m --schedule=FILE: the PNGs are the
    file's grid sampled with DPM-Solver++(2M) from EDM's per-seed latents, converted as EDM does."""
    pytest.importorskip('sklearn')
    import generate # pylint: disable=import-outside-toplevel
    import PIL.Image # pylint: disable=import-outside-toplevel
    from art import sampler # pylint: disable=import-outside-toplevel
    from art.builtin import load_builtin # pylint: disable=import-outside-toplevel
    out = tmp_path / 'art-2m.json'
    r = _run(['--network=builtin:gmm-digits', '--method=closed-form:trajectories=16:fine_steps=32:batch=16', '--solver=dpmpp-2m',
              '--steps=6', f'--out={out}', '--device=cpu'])
    assert r.exit_code == 0, r.output
    data = schedules.load_schedule(str(out))
    assert data['solver'] == 'dpmpp-2m' and data['num_steps'] == 6 and data['chosen'] in data['terminal_error']
    res = CliRunner().invoke(generate.main, ['--network=builtin:gmm-digits', '--seeds=0-3', '--solver=dpmpp-2m', f'--schedule={out}',
                                             f'--outdir={tmp_path / "img"}', '--device=cpu'])
    assert res.exit_code == 0, res.output
    net = load_builtin('gmm-digits')
    z, c, _ = sampler.edm_latents(net, range(4))
    x = sampler.sample(net, z, torch.as_tensor(data['sigmas'], dtype=torch.float64), c, solver='dpmpp-2m')
    expect = (x * 127.5 + 128).clip(0, 255).to(torch.uint8)[:, 0].numpy()
    for i in range(4):
        img = np.asarray(PIL.Image.open(tmp_path / 'img' / f'{i:06d}.png'))
        assert np.abs(img.astype(int) - expect[i].astype(int)).max() <= 1, i
