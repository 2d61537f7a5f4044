# ART-EDM: learned time grids for EDM-style diffusion samplers.
# Copyright (c) 2026 The ART-EDM authors. Released under the MIT License (see LICENSE).

"""Outputs two processes could share: a second writer of the same train_art.py --out or compare.py
--outdir fails at once with one line, and the lock dies with its process."""

import os
import subprocess
import sys
import time

from click.testing import CliRunner

import compare
import train_art
from torch_utils.misc import exclusive_output

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

def _hold(path, seconds=30):
    """A second process that holds the lock on `path`, as a running script would."""
    code = f'import time; from torch_utils.misc import exclusive_output\nwith exclusive_output({str(path)!r}):\n    print("held", flush=True); time.sleep({seconds})'
    proc = subprocess.Popen([sys.executable, '-c', code], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == 'held'
    return proc

def test_second_train_art_writer_is_refused(tmp_path):
    out = tmp_path / 'a.json'
    proc = _hold(out)
    try:
        r = CliRunner().invoke(train_art.main, ['--network=builtin:gauss1d', '--solver=euler', '--method=closed-form:trajectories=8:fine_steps=16',
                                                '--steps=3', f'--out={out}', '--device=cpu'])
        assert r.exit_code != 0 and 'Another process is writing' in r.output and 'Traceback' not in r.output
        assert not out.exists()
    finally:
        proc.kill(); proc.wait()
    # The lock died with its process: the same command now runs.
    r = CliRunner().invoke(train_art.main, ['--network=builtin:gauss1d', '--solver=euler', '--method=closed-form:trajectories=8:fine_steps=16',
                                            '--steps=3', f'--out={out}', '--device=cpu'])
    assert r.exit_code == 0, r.output
    assert out.exists()

def test_second_compare_writer_is_refused(tmp_path):
    proc = _hold(tmp_path / 'results.json')
    try:
        r = CliRunner().invoke(compare.main, ['--network=builtin:gauss1d', '--schedules=edm', '--nfe=3', '--samples=4',
                                              '--ref-steps=4', f'--outdir={tmp_path}', '--device=cpu'])
        assert r.exit_code != 0 and 'Another process is writing' in r.output
        assert not (tmp_path / 'results.md').exists()
    finally:
        proc.kill(); proc.wait()

def test_lock_is_reentrant_across_runs(tmp_path):
    t0 = time.time()
    for _ in range(3):
        with exclusive_output(tmp_path / 'x.json'):
            pass
    assert time.time() - t0 < 5
