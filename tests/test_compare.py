# ART-EDM: learned time grids for EDM-style diffusion samplers.
# Copyright (c) 2026 The ART-EDM authors. Released under the MIT License (see LICENSE).

"""Tests for compare.py / art.comparison: NFE -> K, schedule entries, the outputs on an
analytic network with RMS errors checked against a numpy re-derivation of the solvers' linear map,
resuming after SIGKILL (byte-identical results.json), settings mismatch, and torchrun on CPU."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
from click.testing import CliRunner

import dnnlib
from art import comparison as compare_lib

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

#----------------------------------------------------------------------------
# NFE -> steps (art-paper §2.7: Heun NFE = 2K-1, Euler NFE = K).

def test_nfe_to_steps():
    for nfe, K in [(3, 2), (5, 3), (9, 5), (13, 7), (19, 10), (35, 18), (1, 1)]:
        assert compare_lib.nfe_to_steps('heun', nfe) == K
    for nfe in (2, 4, 10):
        assert compare_lib.nfe_to_steps('heun', nfe) is None
    for nfe in (1, 5, 10):
        assert compare_lib.nfe_to_steps('euler', nfe) == nfe

#----------------------------------------------------------------------------

def test_parse_schedule_entry(tmp_path):
    e = compare_lib.parse_schedule_entry('edm:rho=3')
    assert (e.kind, e.name, e.kwargs, e.label) == ('grid', 'edm', {'rho': 3}, 'edm:rho=3')
    e = compare_lib.parse_schedule_entry('art=art-rl@18:iters=50:lam=0.2')
    assert (e.kind, e.name, e.fixed_steps, e.kwargs, e.label) == ('learn', 'art-rl', 18, {'iters': 50, 'lam': 0.2}, 'art')
    e = compare_lib.parse_schedule_entry('closed-form')
    assert (e.kind, e.fixed_steps, e.label) == ('learn', None, 'closed-form')
    path = tmp_path / 'mine.json'
    path.write_text('{}')
    e = compare_lib.parse_schedule_entry(str(path))
    assert (e.kind, e.label) == ('file', 'mine')
    e = compare_lib.parse_schedule_entry('art=' + str(tmp_path / 'art-K{K}.json'))
    assert (e.kind, e.label) == ('file', 'art')
    with pytest.raises(dnnlib.UserError):
        compare_lib.parse_schedule_entry(str(tmp_path / 'missing.json'))
    with pytest.raises(dnnlib.UserError):
        compare_lib.parse_schedule_entry('edm@18')

#----------------------------------------------------------------------------

def test_rank_batches_edm_split():
    # docs/edm-spec.md §2.2: 10 seeds on 4 ranks -> batches of 3, 3, 2, 2; rank r takes chunks r::W.
    got = [compare_lib.rank_batches(list(range(10)), 64, r, 4) for r in range(4)]
    assert got == [[[0, 1, 2]], [[3, 4, 5]], [[6, 7]], [[8, 9]]]
    assert sum(len(b) for b in compare_lib.rank_batches(list(range(1000)), 64, 0, 1)) == 1000

#----------------------------------------------------------------------------
# Independent re-derivation for builtin:gauss1d (D = x / (1 + sigma²)): both solvers are linear maps
# x_K = c(grid) * sigma_0 * z with z the seed's first N(0,1) draw, so the per-sample error is
# |c sigma_0 - c_ref sigma_ref,0| * |z| (the reference starts at the net's sigma_max = 3).

def _linear_gain(sigmas, solver):
    s = np.asarray(sigmas, np.float64)
    c = 1.0
    for i in range(len(s) - 1):
        t, tn = s[i], s[i + 1]
        d = t / (1 + t * t)                       # (x - D)/t per unit x
        c_euler = 1 + (tn - t) * d
        if solver == 'heun' and i < len(s) - 2:
            d2 = tn / (1 + tn * tn) * c_euler
            c *= 1 + (tn - t) * 0.5 * (d + d2)
        else:
            c *= c_euler
    return c

#----------------------------------------------------------------------------

def _edm_grid(K, smin, smax, rho=7.0):
    k = np.arange(K)
    nodes = (smax ** (1 / rho) + k / (K - 1) * (smin ** (1 / rho) - smax ** (1 / rho))) ** rho
    return np.concatenate([nodes, [0.0]])

#----------------------------------------------------------------------------

def _z(seeds):
    return np.array([torch.randn([1, 1, 1], generator=torch.Generator().manual_seed(s)).item() for s in seeds])

#----------------------------------------------------------------------------

def _run(args):
    import compare
    result = CliRunner().invoke(compare.main, list(args) + ['--device=cpu'], catch_exceptions=False)
    return result

#----------------------------------------------------------------------------

def test_compare_gauss1d_outputs(tmp_path):
    from art.schedules import save_schedule
    mine = {K: np.concatenate([np.geomspace(2.5, 0.01, K), [0.0]]) for K in (2, 3, 4, 5)}
    for K, sigmas in mine.items():
        save_schedule(str(tmp_path / f'mine-K{K}.json'), sigmas.tolist(), method='test')
    out = tmp_path / 'run'
    args = ['--network=builtin:gauss1d', f'--schedules=edm,uniform,logsnr,mine={tmp_path}/mine-K{{K}}.json', '--solvers=euler,heun',
            '--nfe=3,4,5', '--samples=40', '--seed-sets=2', '--ref-steps=32', '--batch=16', f'--outdir={out}']
    r = _run(args)
    assert r.exit_code == 0, r.output
    for name in ('results.json', 'results.md', 'results.png', 'timings.json'):
        assert (out / name).is_file()
    assert (out / 'results.png').read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    res = json.loads((out / 'results.json').read_text())
    # euler: NFE 3,4,5; heun: NFE 3,5 (4 impossible) -> 5 columns x 4 schedules x 2 seed sets.
    assert len(res['cells']) == 5 * 4 * 2
    assert any('heun' in n and '4' in n for n in res['notes'])
    assert 'timing' not in json.dumps(res)

    ref_gain = _linear_gain(_edm_grid(32, 0.002, 3.0), 'heun')
    for cell in res['cells'].values():
        seeds = range(cell['seed_set'] * 40, cell['seed_set'] * 40 + 40)
        s = cell['sigmas']
        assert len(s) == cell['num_steps'] + 1 and s[-1] == 0
        assert cell['nfe'] == (2 * cell['num_steps'] - 1 if cell['solver'] == 'heun' else cell['num_steps'])
        if cell['schedule'] == 'mine':
            np.testing.assert_allclose(s, mine[cell['num_steps']], rtol=1e-12)
        if cell['schedule'] == 'edm':
            np.testing.assert_allclose(s, _edm_grid(cell['num_steps'], 0.002, 3.0), rtol=1e-9)
        want = abs(_linear_gain(s, cell['solver']) * s[0] - ref_gain * 3.0) * np.abs(_z(seeds)).mean()
        assert cell['rms'] == pytest.approx(want, rel=1e-4)

    md = (out / 'results.md').read_text()
    assert '### euler, RMS error' in md and '### heun, RMS error' in md and 'NFE = 2K - 1)' in md
    assert '| schedule | NFE 3 | NFE 4 | NFE 5 |' in md and '±' in md
    # Heun NFE 3 is K = 2: every grid is [sigma_max, sigma_min, 0], so the three rows tie.
    heun3 = [c['rms'] for c in res['cells'].values() if c['solver'] == 'heun' and c['nfe'] == 3 and c['seed_set'] == 0 and c['schedule'] != 'mine']
    assert max(heun3) == pytest.approx(min(heun3), rel=1e-12)
    assert '- uniform vs edm: lower at NFE 5; within 1% at NFE 3.' in md # Heun section (gauss1d: uniform beats EDM)

    # Same outdir with other value-changing settings: one-line error, nothing overwritten.
    before = (out / 'results.json').read_bytes()
    import compare
    r = CliRunner().invoke(compare.main, args[:-1] + ['--samples=41', '--device=cpu', f'--outdir={out}'])
    assert r.exit_code != 0 and 'different settings' in r.output and 'Traceback' not in r.output
    assert (out / 'results.json').read_bytes() == before
    # Same label, different spec: refused too (the cached row would be stale).
    r = CliRunner().invoke(compare.main, ['--network=builtin:gauss1d', '--schedules=edm=edm:rho=3', '--solvers=euler', '--nfe=3',
                                          '--samples=40', '--seed-sets=2', '--ref-steps=32', '--batch=16', '--device=cpu', f'--outdir={out}'])
    assert r.exit_code != 0 and 'edm' in r.output and 'LABEL=' in r.output and 'Traceback' not in r.output
    assert (out / 'results.json').read_bytes() == before

#----------------------------------------------------------------------------
# FD plumbing: reference statistics made here from the cell's own samples (regenerated with the
# sampler and EDM's draw order) must give FD ~ 0 for that cell and > 0 for the others.

def test_compare_fd_matches_own_statistics(tmp_path):
    from art.detectors import LENET_WEIGHTS, load_detector
    from art.sampler import StackedRandomGenerator, sample
    from art.schedules import get_sigmas
    from art.builtin import load_network
    assert os.path.isfile(LENET_WEIGHTS), 'art/assets/lenet-mnist.pt is missing'
    pytest.importorskip('sklearn')
    net = load_network('builtin:gmm-digits')
    detector, label = load_detector('lenet-mnist')
    seeds = list(range(30))
    rnd = StackedRandomGenerator('cpu', seeds)
    latents = rnd.randn([30, 1, 8, 8])
    labels = torch.eye(10)[rnd.randint(10, size=[30])]
    x = sample(net, latents, get_sigmas('logsnr', 3, net=net), labels, solver='euler', randn_like=rnd.randn_like)
    images = (x * 127.5 + 128).clip(0, 255).to(torch.uint8).repeat([1, 3, 1, 1])
    f = detector(images, return_features=True).to(torch.float64).numpy()
    ref = tmp_path / 'ref.npz'
    np.savez(ref, mu=f.mean(0), sigma=np.cov(f, rowvar=False), detector=np.array(label))
    out = tmp_path / 'run'
    r = _run(['--network=builtin:gmm-digits', '--schedules=edm,logsnr', '--solvers=euler', '--nfe=3',
              '--samples=30', '--ref-steps=16', '--detector=lenet-mnist', f'--ref={ref}', f'--outdir={out}'])
    assert r.exit_code == 0, r.output
    res = json.loads((out / 'results.json').read_text())
    # (30 samples in 84-d: singular covariances, so sqrtm leaves ~1e-5 of round-off.)
    assert res['cells']['logsnr|euler|3|0']['fd'] == pytest.approx(0, abs=1e-3)
    assert res['cells']['edm|euler|3|0']['fd'] > 0.1
    assert f'### euler, {label}' in (out / 'results.md').read_text()

#----------------------------------------------------------------------------
# A cell's samples are generate.py's images for the same seeds (EDM's draw order, same conversion).

def test_cell_samples_match_generate_py(tmp_path):
    pytest.importorskip('sklearn')
    import generate
    from PIL import Image
    from art.schedules import get_sigmas
    from art.builtin import load_network
    r = CliRunner().invoke(generate.main, ['--network=builtin:gmm-digits', f'--outdir={tmp_path}', '--seeds=3-9',
                                           '--batch=4', '--steps=4', '--schedule=logsnr', '--device=cpu'], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    net = load_network('builtin:gmm-digits')
    x = compare_lib.generate_batch(net, list(range(3, 10)), get_sigmas('logsnr', 4, net=net), 'heun', 'cpu')
    ours = compare_lib.to_uint8(x)[:, 0].numpy()
    theirs = np.stack([np.asarray(Image.open(tmp_path / f'{seed:06d}.png')) for seed in range(3, 10)])
    assert theirs.shape == ours.shape
    np.testing.assert_array_equal(ours, theirs)

#----------------------------------------------------------------------------
# SIGKILL mid-run, rerun -> the same results.json as an uninterrupted run.

def _cmd(outdir):
    return [sys.executable, os.path.join(REPO, 'compare.py'), '--network=builtin:gauss1d',
            '--schedules=edm,uniform,art=art-rl:solver=euler:iters=10:batch=4:distil_batch=16,closed-form:trajectories=16:fine_steps=32',
            '--solvers=euler,heun', '--nfe=3,5,9', '--samples=200',
            '--ref-steps=64', '--batch=50', '--device=cpu', f'--outdir={outdir}']

#----------------------------------------------------------------------------

@pytest.mark.slow
def test_compare_resume_after_sigkill(tmp_path):
    env = dict(os.environ, OMP_NUM_THREADS='1')
    full, killed = tmp_path / 'full', tmp_path / 'killed'
    total = 2 * 3 * 4
    proc = subprocess.Popen(_cmd(killed), cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    path = killed / 'results.json'
    n_at_kill = None
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        try:
            n = len(json.loads(path.read_text())['cells'])
        except (OSError, ValueError):
            n = 0
        if n >= 2:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            n_at_kill = n
            break
        time.sleep(0.01)
    assert n_at_kill is not None and n_at_kill < total, f'the run was not interrupted mid-way ({n_at_kill}, rc {proc.returncode})'
    rerun = subprocess.run(_cmd(killed), cwd=REPO, env=env, capture_output=True, text=True)
    assert rerun.returncode == 0, rerun.stderr
    assert f'Resuming: {n_at_kill} cells already' in rerun.stdout
    subprocess.run(_cmd(full), cwd=REPO, env=env, check=True, capture_output=True)
    a, b = json.loads((killed / 'results.json').read_text()), json.loads((full / 'results.json').read_text())
    assert len(a['cells']) == total
    assert a == b, [k for k in b['cells'] if a['cells'].get(k) != b['cells'][k]]
    # Learned on the fly: art-rl:solver=euler once per K for both solvers (K = 2, 3, 5, 9); the closed form per
    # solver it is sampled with (euler K = 3, 5, 9; heun K = 2, 3, 5).
    learned = sorted(p.name for p in (killed / 'schedules').glob('*.json'))
    cf = 'closed-form_trajectories=16_fine_steps=32'
    assert learned == sorted([f'art-euler-K{K}.json' for K in (2, 3, 5, 9)] + [f'{cf}-euler-K{K}.json' for K in (3, 5, 9)]
                             + [f'{cf}-heun-K{K}.json' for K in (2, 3, 5)])
    cells = a['cells']
    assert cells['art|euler|3|0']['sigmas'] == cells['art|heun|5|0']['sigmas'] # both K = 3
    assert (killed / 'results.md').read_text() == (full / 'results.md').read_text()

#----------------------------------------------------------------------------
# torchrun with 2 CPU processes (gloo) gives the single-process numbers.

def test_compare_torchrun_two_ranks(tmp_path):
    pytest.importorskip('torch.distributed.run')
    if not torch.distributed.is_available():
        pytest.skip('torch.distributed not available')
    args = ['--network=builtin:gauss1d', '--schedules=edm,uniform', '--solvers=heun', '--nfe=3,5',
            '--samples=37', '--ref-steps=16', '--batch=8', '--device=cpu']
    env = dict(os.environ, OMP_NUM_THREADS='1')
    subprocess.run([sys.executable, '-m', 'torch.distributed.run', '--standalone', '--nproc_per_node=2',
                    os.path.join(REPO, 'compare.py')] + args + [f'--outdir={tmp_path / "two"}'],
                   cwd=REPO, env=env, check=True, capture_output=True, timeout=120)
    r = _run(args + [f'--outdir={tmp_path / "one"}'])
    assert r.exit_code == 0, r.output
    two = json.loads((tmp_path / 'two' / 'results.json').read_text())
    one = json.loads((tmp_path / 'one' / 'results.json').read_text())
    assert set(two['cells']) == set(one['cells'])
    for key, cell in one['cells'].items():
        assert two['cells'][key]['rms'] == pytest.approx(cell['rms'], rel=1e-9)

#----------------------------------------------------------------------------
# --preset=default: its values fill the options not given; explicit options win; its assets exist.

def test_compare_preset_defaults_and_overrides(tmp_path):
    import compare
    preset = compare.PRESETS['default']
    assert preset['network'] == 'builtin:mnist-dit' and os.path.isfile(preset['ref']) and preset['seed_sets'] >= 2
    assert preset['solvers'] == 'heun,ipndm' and compare.PRESETS['mnist']['network'] == 'builtin:mnist'
    out = tmp_path / 'p'
    r = _run(['--preset=default', '--network=builtin:gauss1d', '--schedules=edm', '--solvers=heun', '--seed-sets=1', '--nfe=5',
              '--samples=8', '--ref-steps=8', f'--outdir={out}'])
    assert r.exit_code == 0, r.output
    res = json.loads((out / 'results.json').read_text())
    s = res['settings']
    assert (s['network'], s['num'], s['ref_steps'], s['detector'], s['fd_label']) == ('builtin:gauss1d', 8, 8, 'lenet-mnist', 'FD-LeNet')
    assert os.path.samefile(s['ref_stats'], preset['ref'])
    assert list(res['cells']) == ['edm|heun|5|0'] and res['cells']['edm|heun|5|0']['fd'] > 0
    assert '### heun, FD-LeNet' in r.output and '### heun, RMS error' in r.output
