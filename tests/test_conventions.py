# ART-EDM: learned time grids for EDM-style diffusion samplers.
# Copyright (c) 2026 The ART-EDM authors. Released under the MIT License (see LICENSE).

"""The sampling conventions (final step euler|none|denoise, analytic first step) as options of
generate.py (--final-step, --afs) and of compare.py rows (the reserved keys final_step=, afs=):
the NFE printed and spent, K per NFE, the samples against a numpy re-derivation on builtin:gauss1d
(D = x/(1+sigma^2), so every solver is a linear map of the latent), the tables' header and footnotes,
the caches, and one-line errors for bad values. Expected values are written out or derived here."""

import json

import numpy as np
import PIL.Image
import pytest
import torch
from click.testing import CliRunner

import dnnlib
import generate
from art import comparison
from art.builtin import load_network
from art.sampler import count_nfe
from test_compare import _edm_grid, _z # tests/ is on sys.path under pytest's default import mode

#----------------------------------------------------------------------------
# Independent re-derivation: the gain c with x_out = c * sigma_0 * z on gauss1d, per convention.

def _gain(sigmas, solver, final_step='euler', afs=False):
    """Heun/Euler on the nodes sigmas (K+1, ending in 0): 'euler' takes all K steps, the last one an
    Euler step; 'none' the first K-1 full steps; 'denoise' those, then D = x/(1+s^2) at sigmas[K-1].
    afs: the first direction is x/sqrt(1+s_0^2) instead of the network's x s_0/(1+s_0^2)."""
    s = np.asarray(sigmas, np.float64)
    nodes = s if final_step == 'euler' else s[:-1]
    c = 1.0
    for i in range(len(nodes) - 1):
        t, tn = nodes[i], nodes[i + 1]
        d = 1 / np.sqrt(1 + t * t) if afs and i == 0 else t / (1 + t * t)
        c_euler = 1 + (tn - t) * d
        if solver == 'heun' and not (final_step == 'euler' and i == len(nodes) - 2):
            c *= 1 + (tn - t) * 0.5 * (d + tn / (1 + tn * tn) * c_euler)
        else:
            c *= c_euler
    if final_step == 'denoise':
        c /= 1 + nodes[-1] ** 2
    return c

def _uint8(x):
    return np.floor(np.clip(np.asarray(x) * 127.5 + 128, 0, 255)).astype(np.int64)

#----------------------------------------------------------------------------
# Pure helpers: K per NFE, the NFE formula, the entry grammar.

def test_nfe_to_steps_per_convention():
    # Heun: 2K-1 (euler, denoise), 2K-2 (none; euler + AFS), 2K-3 (none + AFS); Euler: K, K-1, K-2.
    for nfe, K in [(3, 3), (5, 4), (9, 6), (1, 2)]:
        assert comparison.nfe_to_steps('heun', nfe, final_step='none', afs=True) == K
    assert comparison.nfe_to_steps('heun', 4, final_step='none', afs=True) is None
    assert comparison.nfe_to_steps('heun', 4, afs=True) == 3 and comparison.nfe_to_steps('heun', 5, afs=True) is None
    assert comparison.nfe_to_steps('heun', 4, final_step='none') == 3
    assert comparison.nfe_to_steps('heun', 5, final_step='denoise') == 3
    assert [comparison.nfe_to_steps('euler', n, final_step='none', afs=True) for n in (1, 3, 5)] == [3, 5, 7]
    assert [comparison.nfe_to_steps('rk4', n, final_step='none') for n in (4, 8, 5)] == [2, 3, None]
    assert comparison.nfe_formula('heun', 'none', True) == '2K - 3' and comparison.nfe_formula('heun') == '2K - 1'
    assert comparison.nfe_formula('euler', 'none', True) == 'K - 2' and comparison.nfe_formula('rk4', 'none') == '4K - 4'
    assert comparison.nfe_formula('dpmpp-2m', 'euler', True) == 'K - 1' and comparison.nfe_formula('euler') == 'K'
    assert comparison.convention_text('none', True) == 'AFS, no final step'

#----------------------------------------------------------------------------
def test_parse_convention_keys(tmp_path):
    e = comparison.parse_schedule_entry('edm-afs=edm:rho=3:final_step=none:afs=true')
    assert (e.label, e.kind, e.name, e.kwargs, e.final_step, e.afs) == ('edm-afs', 'grid', 'edm', {'rho': 3}, 'none', True)
    e = comparison.parse_schedule_entry('edm:afs=1')
    assert (e.label, e.kwargs, e.convention) == ('edm:afs=true', {}, ('euler', True)) # default labels keep rows apart
    e = comparison.parse_schedule_entry('logsnr')
    assert e.convention == ('euler', False)
    e = comparison.parse_schedule_entry('cf=closed-form:solver=euler:final_step=denoise:trajectories=8')
    assert (e.kind, e.method_spec, e.kwargs, e.convention) == ('learn', 'closed-form:solver=euler:trajectories=8',
                                                               {'solver': 'euler', 'trajectories': 8}, ('denoise', False))
    e = comparison.parse_schedule_entry('art-rl@5:afs=false:iters=3')
    assert (e.label, e.fixed_steps, e.method_spec, e.convention) == ('art-rl@5:afs=false:iters=3', 5, 'art-rl:iters=3', ('euler', False))
    e = comparison.parse_schedule_entry('mine=' + str(tmp_path / 'mine-K{K}.json') + ':final_step=none')
    assert (e.kind, e.name, e.label, e.convention) == ('file', str(tmp_path / 'mine-K{K}.json'), 'mine', ('none', False))

#----------------------------------------------------------------------------
@pytest.mark.parametrize('text,needle', [
    ('edm:final_step=bogus', 'final_step=bogus'), ('edm:afs=maybe', 'afs=maybe'), ('edm:afs=true:afs=false', 'twice'),
    ('afs=true', 'commas separate entries'), ('final_step=none', 'commas separate entries'),
    ('closed-form:final_step=last', 'final_step=last'), ('x-K{K}.json:rho=3', 'takes only the options'),
])
def test_parse_convention_errors(text, needle):
    with pytest.raises(dnnlib.UserError, match=needle):
        comparison.parse_schedule_entry(text)

#----------------------------------------------------------------------------
# generate.py --final-step / --afs, end to end on builtin:gauss1d.

class CountingNet(torch.nn.Module):
    """builtin:gauss1d, counting its calls."""
    def __init__(self):
        super().__init__()
        self.net = load_network('builtin:gauss1d')
        for k in ('img_resolution', 'img_channels', 'label_dim', 'sigma_min', 'sigma_max', 'sigma_data'):
            setattr(self, k, getattr(self.net, k))
        self.calls = 0
    def round_sigma(self, sigma):
        return self.net.round_sigma(sigma)
    def forward(self, x, sigma, class_labels=None):
        self.calls += 1
        return self.net(x, sigma, class_labels)

def _generate(tmp_path, monkeypatch, name, *args):
    net = CountingNet()
    monkeypatch.setattr(generate, 'load_network', lambda *a, **k: net)
    outdir = tmp_path / name
    # sigma_max = 1: AFS's first direction x/sqrt(1+s^2) is far from the network's x s/(1+s^2); sigma_min = 0.2:
    # 'none' stops x s^2/(1+s^2) away from 'euler', both visible in 8 bits.
    res = CliRunner().invoke(generate.main, ['--network=builtin:gauss1d', f'--outdir={outdir}', '--seeds=0-31', '--steps=3',
                                             '--sigma_min=0.2', '--sigma_max=1', '--device=cpu', *args])
    assert res.exit_code == 0, res.output + repr(res.exception)
    pixels = np.array([int(np.asarray(PIL.Image.open(outdir / f'{seed:06d}.png')).item()) for seed in range(32)])
    nfe_lines = [line for line in res.output.splitlines() if 'NFE' in line]
    return pixels, nfe_lines, net.calls

@pytest.mark.parametrize('solver', ['heun', 'euler'])
def test_generate_conventions(tmp_path, monkeypatch, solver):
    sigmas = _edm_grid(3, 0.2, 1.0)
    z = _z(range(32))
    # K = 3: Heun NFE 5 | 4 | 5, minus one with AFS; Euler 3 | 2 | 3.
    expected_nfe = dict(heun={'euler': 5, 'none': 4, 'denoise': 5}, euler={'euler': 3, 'none': 2, 'denoise': 3})[solver]
    out = dict()
    for final_step in ('euler', 'none', 'denoise'):
        for afs in (False, True):
            args = [f'--solver={solver}'] + ([] if final_step == 'euler' else [f'--final-step={final_step}']) + (['--afs'] if afs else [])
            pixels, nfe_lines, calls = _generate(tmp_path, monkeypatch, f'{final_step}-{afs}', *args)
            nfe = expected_nfe[final_step] - afs
            assert calls == nfe  # one batch: the network calls are the NFE
            if final_step == 'euler' and not afs:
                assert nfe_lines == []  # EDM's convention keeps EDM's output
            else:
                assert nfe_lines == [f'Sampling with {solver}, final step "{final_step}", {"AFS" if afs else "no AFS"}: NFE {nfe}']
            want = _uint8(_gain(sigmas, solver, final_step, afs) * sigmas[0] * z)
            assert np.abs(pixels - want).max() <= 1, (final_step, afs)
            out[final_step, afs] = pixels
    for afs in (False, True):
        assert np.array_equal(out['denoise', afs], out['euler', afs])  # an Euler step to 0 is D(x; sigma_{K-1})
        assert not np.array_equal(out['none', afs], out['euler', afs])
    for final_step in ('euler', 'none', 'denoise'):
        assert np.abs(out[final_step, True] - out[final_step, False]).max() >= 3  # AFS changes the samples

#----------------------------------------------------------------------------
@pytest.mark.parametrize('args,needle', [
    (['--final-step=bogus'], '--final-step=bogus'), (['--final-step=last', '--afs'], 'euler|none|denoise'),
    (['--afs', '--sigma_schedule=linear'], 'final-step and AFS'), (['--final-step=none', '--scaling=none'], 'final-step and AFS'),
    (['--final-step=none', '--disc=vp', '--sigma_schedule=vp', '--scaling=vp'], 'drop --sigma_schedule/--scaling'),
])
def test_generate_convention_errors(tmp_path, args, needle):
    res = CliRunner().invoke(generate.main, ['--network=builtin:gauss1d', f'--outdir={tmp_path / "out"}', '--seeds=0-1', '--device=cpu', *args])
    errors = [line for line in res.output.splitlines() if line.startswith('Error: ')]
    assert res.exit_code == 1 and len(errors) == 1 and needle in errors[0], res.output
    assert 'Traceback' not in res.output and not list(tmp_path.rglob('*.png'))

#----------------------------------------------------------------------------
def test_generate_convention_uses_core_solver(tmp_path, monkeypatch):
    # --solver/--disc on an EDM grid select EDM's ablation sampler (§2.4), which has no conventions:
    # with --final-step/--afs the core solver runs instead (the two agree on sigma(t) = t, s(t) = 1).
    a, lines_a, calls_a = _generate(tmp_path, monkeypatch, 'a', '--final-step=none', '--afs')
    b, lines_b, calls_b = _generate(tmp_path, monkeypatch, 'b', '--final-step=none', '--afs', '--solver=heun', '--disc=edm')
    assert np.array_equal(a, b) and lines_a == lines_b == ['Sampling with heun, final step "none", AFS: NFE 3'] and calls_a == calls_b == 3

#----------------------------------------------------------------------------
def test_generate_matches_compare_cell_samples(tmp_path):
    res = CliRunner().invoke(generate.main, ['--network=builtin:gauss1d', f'--outdir={tmp_path}', '--seeds=0-15', '--steps=4',
                                             '--schedule=logsnr', '--final-step=none', '--afs', '--device=cpu'])
    assert res.exit_code == 0, res.output
    from art.schedules import get_sigmas
    net = load_network('builtin:gauss1d')
    x = comparison.generate_batch(net, list(range(16)), get_sigmas('logsnr', 4, net=net), 'heun', 'cpu', 'none', True)
    y = comparison.generate_batch(net, list(range(16)), get_sigmas('logsnr', 4, net=net), 'heun', 'cpu')
    theirs = np.array([np.asarray(PIL.Image.open(tmp_path / f'{seed:06d}.png')).item() for seed in range(16)])
    np.testing.assert_array_equal(comparison.to_uint8(x).flatten().numpy(), theirs)
    assert not np.array_equal(comparison.to_uint8(y).flatten().numpy(), theirs)

#----------------------------------------------------------------------------
# compare.py rows with their own conventions.

def _compare(args):
    import compare
    return CliRunner().invoke(compare.main, list(args) + ['--device=cpu'], catch_exceptions=False)

ROWS = ['edm', 'edm-afs=edm:final_step=none:afs=true', 'edm-even=edm:afs=true', 'edm-dn=edm:final_step=denoise',
        'cf=closed-form:trajectories=8:fine_steps=16:final_step=none:afs=true']
CONV = {'edm': ('euler', False), 'edm-afs': ('none', True), 'edm-even': ('euler', True), 'edm-dn': ('denoise', False), 'cf': ('none', True)}
STEPS = { # (row convention, solver) -> {NFE: K}, from the NFE formulas of docs/solvers.md
    (('euler', False), 'heun'): {3: 2, 5: 3}, (('none', True), 'heun'): {3: 3, 5: 4}, (('euler', True), 'heun'): {4: 3},
    (('denoise', False), 'heun'): {3: 2, 5: 3},
    (('euler', False), 'euler'): {3: 3, 4: 4, 5: 5}, (('none', True), 'euler'): {3: 5, 4: 6, 5: 7},
    (('euler', True), 'euler'): {3: 4, 4: 5, 5: 6}, (('denoise', False), 'euler'): {3: 3, 4: 4, 5: 5},
}

def test_compare_convention_rows(tmp_path):
    out = tmp_path / 'run'
    args = ['--network=builtin:gauss1d', '--schedules=' + ','.join(ROWS), '--solvers=heun,euler', '--nfe=3,4,5',
            '--samples=16', '--ref-steps=16', '--batch=16', f'--outdir={out}']
    r = _compare(args)
    assert r.exit_code == 0, r.output
    res = json.loads((out / 'results.json').read_text())
    got = dict()
    for cell in res['cells'].values():
        conv = (cell['final_step'], cell['afs'])
        assert conv == CONV[cell['schedule']]
        got.setdefault((cell['schedule'], cell['solver']), dict())[cell['nfe']] = cell['num_steps']
        assert count_nfe(cell['solver'], cell['num_steps'], final_step=conv[0], afs=conv[1]) == cell['nfe']
    assert got == {(label, solver): STEPS[CONV[label], solver] for label in CONV for solver in ('heun', 'euler')}

    # RMS against the numpy re-derivation (reference: Heun, EDM grid, 16 steps, EDM's convention).
    ref = _gain(_edm_grid(16, 0.002, 3.0), 'heun') * 3.0
    z = np.abs(_z(range(16))).mean()
    for cell in res['cells'].values():
        s = cell['sigmas']
        assert len(s) == cell['num_steps'] + 1 and s[-1] == 0
        if cell['schedule'] != 'cf':
            np.testing.assert_allclose(s, _edm_grid(cell['num_steps'], 0.002, 3.0), rtol=1e-9)
        want = abs(_gain(s, cell['solver'], cell['final_step'], cell['afs']) * s[0] - ref) * z
        assert cell['rms'] == pytest.approx(want, rel=1e-4), cell['schedule']
    cells = res['cells']
    for key in ('heun|3|0', 'heun|5|0', 'euler|4|0'):  # 'denoise' is EDM's convention up to rounding
        assert cells[f'edm-dn|{key}']['rms'] == pytest.approx(cells[f'edm|{key}']['rms'], rel=1e-9)
        assert cells[f'edm-afs|{key}']['rms'] != pytest.approx(cells[f'edm|{key}']['rms'], rel=1e-3)

    # The learned row: learned at the K of its convention, without the convention keys in its options.
    for K in (3, 4):
        sched = json.loads((out / 'schedules' / f'cf-heun-K{K}.json').read_text())
        assert sched['num_steps'] == K and 'final_step' not in sched['settings'] and 'afs' not in sched['settings']
    assert not (out / 'schedules' / 'cf-heun-K2.json').exists()

    md = (out / 'results.md').read_text()
    assert ('### heun, RMS error vs heun NFE 31 (EDM convention: K steps ending with an Euler step to sigma = 0, no AFS; '
            'NFE = 2K - 1; rows marked † use another, below)\n') in md
    assert '| edm | ' in md and '| edm-afs † | ' in md and '| cf † | ' in md
    for line in ['† edm-afs: AFS, no final step; NFE = 2K - 3.', '† edm-even: AFS, Euler step to sigma = 0; NFE = 2K - 2.',
                 '† edm-dn: no AFS, no final step, D(x; sigma_{K-1}) returned; NFE = 2K - 1.', '† cf: AFS, no final step; NFE = 2K - 3.',
                 '† edm-afs: AFS, no final step; NFE = K - 2.', '† edm-even: AFS, Euler step to sigma = 0; NFE = K - 1.',
                 'Note: heun cannot spend exactly NFE 4; skipped.',
                 'Note: heun cannot spend exactly NFE 3 with AFS, Euler step to sigma = 0 (edm-even); skipped.',
                 'Note: heun cannot spend exactly NFE 4 with AFS, no final step (edm-afs, cf); skipped.']:
        assert line + '\n' in md, line
    assert '† edm:' not in md and '| edm † |' not in md
    assert (out / 'samples-heun.png').is_file() and (out / 'samples-euler.png').is_file()

    # The same label with another convention is another spec: refused, nothing overwritten.
    before = (out / 'results.json').read_bytes()
    r = _compare(args[:1] + ['--schedules=edm-afs=edm:final_step=none'] + args[2:])
    assert r.exit_code != 0 and 'LABEL=' in r.output and 'Traceback' not in r.output
    assert (out / 'results.json').read_bytes() == before

#----------------------------------------------------------------------------
@pytest.mark.parametrize('entry,needle', [
    ('edm:final_step=bogus', 'final_step=bogus'), ('edm:afs=maybe', 'afs=maybe'), ('edm,afs=true', 'commas separate entries'),
])
def test_compare_convention_errors(tmp_path, entry, needle):
    r = _compare(['--network=builtin:gauss1d', f'--schedules={entry}', '--nfe=3', '--samples=4', '--ref-steps=4', f'--outdir={tmp_path}/o'])
    errors = [line for line in r.output.splitlines() if line.startswith('Error: ')]
    assert r.exit_code != 0 and len(errors) == 1 and needle in errors[0], r.output
    assert 'Traceback' not in r.output

#----------------------------------------------------------------------------
