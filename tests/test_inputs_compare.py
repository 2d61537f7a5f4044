# ART-EDM: learned time grids for EDM-style diffusion samplers.
# Copyright (c) 2026 The ART-EDM authors. Released under the MIT License (see LICENSE).

"""compare.py with bad input and damaged output folders: one line and a non-zero exit, or a correct
result (damaged caches are rebuilt); never a traceback, never NaN in results.json."""

import glob
import json
import os

import pytest
import torch
from click.testing import CliRunner

import compare
from art import comparison

BASE = ['--network=builtin:gauss1d', '--nfe=3', '--samples=4', '--ref-steps=4', '--device=cpu']

def _run(args):
    r = CliRunner().invoke(compare.main, BASE + args)
    assert 'Traceback' not in r.output, r.output
    return r

@pytest.mark.parametrize('args, msg', [
    (['--schedules=', ], '--schedules is empty'),
    (['--schedules=edm', '--solvers=,'], '--solvers is empty'),
    (['--schedules=edm', '--solvers=midpoint'], 'Unknown solver "midpoint"'),
    (['--schedules=edm', '--nfe='], 'must list NFE values'),
    (['--schedules=edm', '--seed-sets=1000000000'], 'more than 10^8 samples'),
    (['--schedules=art-rl:iters=-5'], 'iters >= 0'),
    (['--schedules=art-rl@0'], 'learn at K >= 1'),
    (['--schedules=edm:bogus=1'], 'has no option "bogus"'),
    (['--schedules=nope'], 'Unknown schedule "nope"'),
    (['--schedules=closed-form:nope=2'], 'has no option "nope"'),
])
def test_bad_options_are_one_line(args, msg, tmp_path):
    r = _run(args + [f'--outdir={tmp_path}/o'])
    assert r.exit_code != 0 and msg in r.output, r.output

def test_damaged_outdir(tmp_path):
    out = tmp_path / 'o'
    args = ['--schedules=edm,closed-form:trajectories=8:fine_steps=16', f'--outdir={out}']
    assert _run(args).exit_code == 0
    good = json.loads((out / 'results.json').read_text())
    (out / 'results.json').write_text('{bad')
    r = _run(args)
    assert r.exit_code != 0 and 'not valid JSON' in r.output
    (out / 'results.json').write_text('[1, 2]')
    r = _run(args)
    assert r.exit_code != 0 and 'not a results file' in r.output
    # Damaged caches and timings are rebuilt and give the same results.
    os.remove(out / 'results.json')
    for path in glob.glob(str(out / 'cache' / '*.pt')) + glob.glob(str(out / 'schedules' / '*.json')) + [str(out / 'timings.json')]:
        with open(path, 'w') as f:
            f.write('junk')
    r = _run(args)
    assert r.exit_code == 0, r.output
    assert json.loads((out / 'results.json').read_text()) == good

def test_nan_network_writes_nothing_non_finite(tmp_path, monkeypatch):
    from art import builtin
    net = builtin.load_builtin('gauss1d')
    class NaNNet(torch.nn.Module):
        def __init__(self):
            super().__init__()
            for k in ('img_resolution', 'img_channels', 'label_dim', 'sigma_min', 'sigma_max', 'sigma_data'):
                setattr(self, k, getattr(net, k))
        def round_sigma(self, s):
            return net.round_sigma(s)
        def forward(self, x, sigma, class_labels=None):
            return torch.full_like(x, float('nan'))
    monkeypatch.setattr(comparison, 'load_network', lambda *a, **k: NaNNet(), raising=False)
    import art.builtin
    monkeypatch.setattr(art.builtin, 'load_network', lambda *a, **k: NaNNet())
    r = _run(['--schedules=edm', f'--outdir={tmp_path}/o'])
    assert r.exit_code != 0 and 'non-finite' in r.output
    path = tmp_path / 'o' / 'results.json'
    if path.exists():
        text = path.read_text()
        assert 'NaN' not in text and 'Infinity' not in text
