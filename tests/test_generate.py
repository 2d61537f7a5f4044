# ART-EDM: learned time grids for EDM-style diffusion samplers.
# Copyright (c) 2026 The ART-EDM authors. Released under the MIT License (see LICENSE).

"""Tests of generate.py (edm-spec.md §2.1-2.3, §2.7): seed parsing, the batch/rank split, file names,
uint8 conversion, the per-sample draw order, batch-size and process-count invariance (torchrun with
gloo), schedule files (resampling, one-line errors for malformed files), resume, and the CLI."""

import importlib.util
import os
import pathlib
import subprocess
import sys

import numpy as np
import PIL.Image
import pytest
import torch
from click.testing import CliRunner

import generate
from art import schedules
from test_schedules import MALFORMED, write_malformed # tests/ is on sys.path under pytest's default import mode

ROOT = pathlib.Path(__file__).resolve().parents[1]
needs_sklearn = pytest.mark.skipif(importlib.util.find_spec('sklearn') is None, reason='builtin:gmm-digits needs scikit-learn')

#----------------------------------------------------------------------------

def run_cli(*args):
    """Run generate.main in-process; returns the click Result."""
    return CliRunner().invoke(generate.main, [str(a) for a in args], catch_exceptions=True)

#----------------------------------------------------------------------------
def run_ok(*args):
    res = run_cli('--device=cpu', *args)
    assert res.exit_code == 0, res.output + repr(res.exception)
    return res

#----------------------------------------------------------------------------
def pngs(outdir):
    return {p.relative_to(outdir).as_posix(): p.read_bytes() for p in sorted(pathlib.Path(outdir).rglob('*.png'))}

#----------------------------------------------------------------------------
def one_line_error(res):
    lines = res.output.strip().splitlines()
    return res.exit_code == 1 and isinstance(res.exception, SystemExit) and len(lines) == 1 and lines[0].startswith('Error: ')

#----------------------------------------------------------------------------
# Pure helpers.

def test_parse_int_list():
    assert generate.parse_int_list('1,2,5-10') == [1, 2, 5, 6, 7, 8, 9, 10]
    assert generate.parse_int_list('3,1,1,0-2') == [3, 1, 1, 0, 1, 2]
    assert generate.parse_int_list('7') == [7] and generate.parse_int_list([4, 2]) == [4, 2]
    with pytest.raises(ValueError):
        generate.parse_int_list('1-')

def test_parse_float_list():
    from dnnlib.util import parse_float_list
    assert parse_float_list('0.8,1.25') == [0.8, 1.25] and parse_float_list('2,') == [2.0] and parse_float_list([1.5]) == [1.5]
    with pytest.raises(ValueError):
        parse_float_list('0.8,x')

#----------------------------------------------------------------------------
@pytest.mark.parametrize('num_seeds,batch,world,expected', [
    (50000, 64, 1, {64: 734, 63: 48}), (50000, 64, 8, {64: 608, 63: 176}), (1000, 64, 2, {63: 8, 62: 8})])

#----------------------------------------------------------------------------
def test_split_seeds_spec_examples(num_seeds, batch, world, expected):
    seeds = list(range(num_seeds))
    chunks = [generate.split_seeds(seeds, batch, world, r) for r in range(world)]
    sizes = [len(c) for rank in chunks for c in rank]
    assert {s: sizes.count(s) for s in set(sizes)} == expected
    assert sorted(int(s) for rank in chunks for c in rank for s in c) == seeds

#----------------------------------------------------------------------------
def test_split_seeds_rank_order():
    chunks = [[c.tolist() for c in generate.split_seeds(list(range(10)), 64, 4, r)] for r in range(4)]
    assert chunks == [[[0, 1, 2]], [[3, 4, 5]], [[6, 7]], [[8, 9]]]
    two = [[c.tolist() for c in generate.split_seeds(list(range(10)), 2, 2, r)] for r in range(2)]
    assert two == [[[0, 1], [4, 5], [8]], [[2, 3], [6, 7], [9]]] # 6 chunks of 2,2,2,2,1,1; rank r takes r, r+2, ...

#----------------------------------------------------------------------------
def test_image_path_and_uint8():
    assert generate.image_path('out', 123) == os.path.join('out', '000123.png')
    assert generate.image_path('out', 49999, subdirs=True) == os.path.join('out', '049000', '049999.png')
    assert generate.image_path('out', 999, subdirs=True) == os.path.join('out', '000000', '000999.png')
    x = torch.tensor([-2.0, -1.0, -0.996, 0.0, 0.5, 1.0, 3.0], dtype=torch.float64).reshape(1, 1, 1, 7)
    # (x*127.5 + 128) clipped then truncated: round-half-up of (x+1)*127.5.
    expected = [0, 0, int(-0.996 * 127.5 + 128), 128, 191, 255, 255]
    assert generate.to_uint8(x).reshape(-1).tolist() == expected
    assert generate.to_uint8(torch.zeros(2, 3, 4, 5)).shape == (2, 4, 5, 3)

#----------------------------------------------------------------------------
# Per-sample draw order (§2.3), with a recording network in place of the loader.

class RecordingNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.img_resolution, self.img_channels, self.label_dim = 2, 3, 4
        self.sigma_min, self.sigma_max, self.sigma_data = 0.0, float('inf'), 0.5
        self.calls = []
    def round_sigma(self, sigma):
        return torch.as_tensor(sigma)
    def forward(self, x, sigma, class_labels=None):
        self.calls.append((x.clone(), float(sigma), class_labels.clone()))
        return (0.5 * x).to(torch.float32)

#----------------------------------------------------------------------------
@pytest.mark.parametrize('class_idx', [None, 2])
def test_draw_order(tmp_path, monkeypatch, class_idx):
    net = RecordingNet()
    monkeypatch.setattr(generate, 'load_network', lambda *args, **kwargs: net)
    seeds = [11, 2 ** 32 + 3, 5]
    extra = [] if class_idx is None else [f'--class={class_idx}']
    run_ok('--network=dummy', f'--outdir={tmp_path}', '--seeds=' + ','.join(map(str, seeds)), '--steps=2', '--S_churn=10', *extra)
    x_hat0, t_hat0, labels = net.calls[0]
    gamma = np.sqrt(2) - 1 # min(S_churn / N, sqrt(2) - 1)
    assert t_hat0 == pytest.approx(80 * (1 + gamma), rel=1e-12)
    for k, seed in enumerate(seeds):
        g = torch.Generator().manual_seed(seed % 2 ** 32)
        latent = torch.randn([3, 2, 2], generator=g)                   # 1. float32 latents
        label = torch.randint(4, size=[], generator=g).item()          # 2. one int label (even with --class)
        noise = torch.randn([3, 2, 2], dtype=torch.float64, generator=g) # 3. float64 noise, step 0
        expected = latent.double() * 80 + np.sqrt(t_hat0 ** 2 - 80.0 ** 2) * noise
        torch.testing.assert_close(x_hat0[k], expected, rtol=1e-12, atol=1e-12)
        want = torch.zeros(4)
        want[label if class_idx is None else class_idx] = 1
        assert torch.equal(labels[k], want)
    assert len(net.calls) == 3 and len(pngs(tmp_path)) == 3

#----------------------------------------------------------------------------
# Invariance: batch size and number of processes.

@needs_sklearn
def test_batch_size_invariance(tmp_path):
    outs = []
    for batch in (1, 7, 64):
        run_ok('--network=builtin:gmm-digits', f'--outdir={tmp_path / str(batch)}', '--seeds=0-11', f'--batch={batch}', '--steps=2')
        outs.append(pngs(tmp_path / str(batch)))
    assert len(outs[0]) == 12 and outs[0] == outs[1] == outs[2]
    assert len(set(outs[0].values())) > 9 # images actually differ between seeds
    img = PIL.Image.open(tmp_path / '1' / '000000.png')
    assert img.mode == 'L' and img.size == (8, 8)

#----------------------------------------------------------------------------
@needs_sklearn
def test_one_vs_two_processes(tmp_path):
    common = ['--network=builtin:gmm-digits', '--seeds=0-6', '--batch=2', '--steps=2', '--device=cpu']
    run_ok(*common, f'--outdir={tmp_path / "one"}')
    env = dict(os.environ, OMP_NUM_THREADS='1')
    proc = subprocess.run([sys.executable, '-m', 'torch.distributed.run', '--standalone', '--nproc_per_node=2',
        str(ROOT / 'generate.py'), *common, f'--outdir={tmp_path / "two"}'], cwd=ROOT, env=env,
        capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count('Done.') == 1 and proc.stdout.count('Generating 7 images') == 1 # rank 0 prints
    one, two = pngs(tmp_path / 'one'), pngs(tmp_path / 'two')
    assert len(one) == 7 and one == two

#----------------------------------------------------------------------------
# Schedules on the command line.

@needs_sklearn
def test_schedule_file_resampled(tmp_path):
    path = tmp_path / 'logsnr18.json'
    schedules.save_schedule(path, schedules.get_sigmas('logsnr', 18), method='logsnr')
    common = ['--network=builtin:gmm-digits', '--seeds=0-3']
    res = run_ok(*common, f'--schedule={path}', '--steps=9', f'--outdir={tmp_path / "file9"}')
    assert 'resampled from K=18 to K=9' in res.output
    run_ok(*common, '--schedule=logsnr', '--steps=9', f'--outdir={tmp_path / "named9"}')
    assert pngs(tmp_path / 'file9') == pngs(tmp_path / 'named9') # log-linear resampling of a geometric grid is exact
    # Without --steps the file's own K is used, silently.
    res = run_ok(*common, f'--schedule={path}', f'--outdir={tmp_path / "file18"}')
    assert 'resampled from' not in res.output
    run_ok(*common, '--schedule=logsnr', '--steps=18', f'--outdir={tmp_path / "named18"}')
    assert pngs(tmp_path / 'file18') == pngs(tmp_path / 'named18')

#----------------------------------------------------------------------------
def test_schedule_file_solver_note(tmp_path):
    path = tmp_path / 'euler.json'
    schedules.save_schedule(path, [3.0, 1.0, 0.1, 0.002, 0.0], method='art-rl', solver='euler')
    common = ['--network=builtin:gauss1d', '--seeds=0-3', f'--schedule={path}']
    res = run_ok(*common, f'--outdir={tmp_path / "a"}')
    assert 'learned for the euler solver; sampling with heun' in res.output
    res = run_ok(*common, '--solver=euler', f'--outdir={tmp_path / "b"}')
    assert 'learned for' not in res.output and len(pngs(tmp_path / 'b')) == 4

#----------------------------------------------------------------------------
@pytest.mark.parametrize('name', sorted(MALFORMED))
def test_malformed_schedule_files_cli(tmp_path, name):
    path = write_malformed(tmp_path, name)
    res = run_cli('--network=builtin:gauss1d', f'--outdir={tmp_path / "out"}', f'--schedule={path}', '--device=cpu')
    assert one_line_error(res), res.output
    assert 'Traceback' not in res.output and not (tmp_path / 'out').exists()

#----------------------------------------------------------------------------
def test_malformed_schedule_no_traceback_subprocess(tmp_path):
    path = write_malformed(tmp_path, 'nan')
    proc = subprocess.run([sys.executable, str(ROOT / 'generate.py'), '--network=builtin:gauss1d', f'--outdir={tmp_path}',
        f'--schedule={path}', '--device=cpu'], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1 and 'Traceback' not in proc.stderr
    assert proc.stderr.strip().splitlines() == [f'Error: Schedule file "{path}": sigmas[1] = nan is not finite']

#----------------------------------------------------------------------------
@pytest.mark.parametrize('args,needle', [
    (['--schedule=linear'], '--sigma_schedule=linear'),
    (['--disc=edm', '--schedule=vp'], '--sigma_schedule=vp'),
    (['--disc=vp', '--schedule=iddpm'], 'alias'),
    (['--schedule=karras'], 'Unknown schedule'),
    (['--class=1'], 'unconditional'),
    (['--sigma_max=2', '--sigma_min=3'], 'sigma_min'),
    (['--device=nonsense'], 'Unknown device'),
] + ([] if torch.cuda.is_available() else [(['--device=cuda'], 'CUDA is not available')]))

#----------------------------------------------------------------------------
def test_cli_user_errors(tmp_path, args, needle):
    res = run_cli('--network=builtin:gauss1d', f'--outdir={tmp_path}', '--seeds=0-1', *(['--device=cpu'] if not any(a.startswith('--device') for a in args) else []), *args)
    errors = [line for line in res.output.splitlines() if line.startswith('Error: ')]
    assert res.exit_code == 1 and isinstance(res.exception, SystemExit) and len(errors) == 1, res.output
    assert needle in errors[0] and 'Traceback' not in res.output

#----------------------------------------------------------------------------
@needs_sklearn
def test_ablation_flags(tmp_path):
    common = ['--network=builtin:gmm-digits', '--seeds=0-4', '--steps=3']
    run_ok(*common, f'--outdir={tmp_path / "edm"}')
    run_ok(*common, '--solver=heun', '--disc=edm', '--sigma_schedule=linear', '--scaling=none', f'--outdir={tmp_path / "abl"}')
    assert pngs(tmp_path / 'edm') == pngs(tmp_path / 'abl') # equal up to float64 rounding (spec §2.6)
    run_ok(*common, '--solver=euler', '--disc=vp', '--sigma_schedule=vp', '--scaling=vp', f'--outdir={tmp_path / "vp"}')
    run_ok(*common, '--schedule=iddpm', '--S_churn=5', f'--outdir={tmp_path / "iddpm"}')
    assert len(pngs(tmp_path / 'vp')) == len(pngs(tmp_path / 'iddpm')) == 5
    assert pngs(tmp_path / 'vp') != pngs(tmp_path / 'edm')

#----------------------------------------------------------------------------
# Output handling.

@needs_sklearn
def test_resume_and_subdirs(tmp_path):
    args = ['--network=builtin:gmm-digits', '--seeds=998-1003', '--steps=2', '--subdirs', f'--outdir={tmp_path}']
    run_ok(*args)
    first = pngs(tmp_path)
    assert sorted(first) == ['000000/000998.png', '000000/000999.png'] + [f'001000/{s:06d}.png' for s in range(1000, 1004)]
    for name in ['000000/000999.png', '001000/001002.png']:
        (tmp_path / name).unlink()
    kept = tmp_path / '001000' / '001003.png'
    stamp = kept.stat().st_mtime_ns
    os.utime(kept, ns=(stamp - 10 ** 9, stamp - 10 ** 9))
    run_ok(*args)
    assert pngs(tmp_path) == first # the missing images are regenerated identically
    assert kept.stat().st_mtime_ns == stamp - 10 ** 9 # existing images are not rewritten
    assert not list(tmp_path.rglob('*.tmp*'))

#----------------------------------------------------------------------------
@needs_sklearn
def test_acceptance_command(tmp_path):
    proc = subprocess.run([sys.executable, str(ROOT / 'generate.py'), '--network=builtin:gmm-digits', f'--outdir={tmp_path}',
        '--seeds=0-63', '--schedule=logsnr', '--steps=9', '--device=cpu'], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ['Loading network from "builtin:gmm-digits"...', f'Generating 64 images to "{tmp_path}"...', 'Done.']
    images = pngs(tmp_path)
    assert len(images) == 64 and sorted(images)[0] == '000000.png' and sorted(images)[-1] == '000063.png'

#----------------------------------------------------------------------------

def test_acceptance_command_without_extras(tmp_path):
    # The same command on builtin:gauss1d, which needs nothing beyond the base install.
    res = run_ok('--network=builtin:gauss1d', f'--outdir={tmp_path}', '--seeds=0-63', '--schedule=logsnr', '--steps=9')
    assert res.output.count('Done.') == 1 and len(pngs(tmp_path)) == 64
    assert PIL.Image.open(tmp_path / '000007.png').size == (1, 1)

#----------------------------------------------------------------------------
