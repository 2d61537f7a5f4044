# ART-EDM: learned time grids for EDM-style diffusion samplers.
# Copyright (c) 2026 The ART-EDM authors. Released under the MIT License (see LICENSE).

"""Tests of the labelled picture grids: `generate.py --grid` (layout, cell pixels equal to the saved
PNGs, captions, resume, errors) and compare.py's samples-<solver>.png (one row per schedule plus
the reference)."""

import importlib.util
import math

import numpy as np
import PIL.Image
import pytest
import torch
from click.testing import CliRunner

import generate
from art import pictures

needs_sklearn = pytest.mark.skipif(importlib.util.find_spec('sklearn') is None, reason='builtin:gmm-digits needs scikit-learn')

PAD, SCALE, CELL = 2, 8, 64 # builtin:gmm-digits is 8x8: each pixel becomes 8x8, cells are 64 px, 2 px apart.

#----------------------------------------------------------------------------

def _gen(*args):
    return CliRunner().invoke(generate.main, ['--network=builtin:gmm-digits', '--device=cpu', '--batch=4', '--steps=3', *map(str, args)])

def _up(a):
    return np.repeat(np.repeat(a, SCALE, axis=0), SCALE, axis=1)

#----------------------------------------------------------------------------

@needs_sklearn
def test_generate_grid_layout_pixels_and_resume(tmp_path):
    seeds = list(range(3, 13))                                    # 10 images -> 4 columns, 3 rows
    out, png = tmp_path / 'out', tmp_path / 'pics' / 'grid.png'
    r = _gen(f'--outdir={out}', '--seeds=3-12', f'--grid={png}')
    assert r.exit_code == 0, r.output
    assert f'Saved a grid of 10 images to "{png}"' in r.output
    grid = np.asarray(PIL.Image.open(png))
    assert grid.ndim == 2 and grid.dtype == np.uint8           # grey images -> a grey grid
    cols, rows = 4, 3
    assert grid.shape[1] == PAD + cols * (CELL + PAD)
    # Row pitch = cell + caption strip + gap: find it from the pixels (the caption height is the font's).
    cells = [_up(np.asarray(PIL.Image.open(out / f'{s:06d}.png'))) for s in seeds]
    def matches(pitch):
        return all(np.array_equal(grid[PAD + (i // cols) * pitch:][:CELL, PAD + (i % cols) * (CELL + PAD):][:, :CELL], c)
                   for i, c in enumerate(cells))
    pitches = [p for p in range(CELL + PAD, CELL + PAD + 40) if matches(p)]
    assert len(pitches) == 1, pitches
    pitch = pitches[0]
    assert pitch > CELL + PAD + 5                               # there is a caption strip
    assert grid.shape[0] == PAD + rows * pitch
    for i in range(len(seeds)):                                 # every caption strip has ink, on white paper
        y, x = PAD + (i // cols) * pitch + CELL, PAD + (i % cols) * (CELL + PAD)
        strip = grid[y : y + pitch - CELL - PAD, x : x + CELL]
        assert strip.min() < 128 and np.median(strip) == 255
    assert (grid[PAD + 2 * pitch:, PAD + 2 * (CELL + PAD):] == 255).all() # cells 11 and 12 are empty

    # Resume: all images exist, nothing is sampled again, the same grid is written.
    png.unlink()
    r = _gen(f'--outdir={out}', '--seeds=3-12', f'--grid={png}')
    assert r.exit_code == 0, r.output
    assert np.array_equal(np.asarray(PIL.Image.open(png)), grid)

#----------------------------------------------------------------------------

@needs_sklearn
def test_generate_grid_captions_follow_the_drawn_classes(tmp_path):
    # generate.py's draw order for an 8x8 grey network: latents [1,8,8], then one randint(10) per seed.
    def drawn(seed):
        g = torch.Generator().manual_seed(seed)
        torch.randn([1, 8, 8], generator=g)
        return int(torch.randint(10, size=[], generator=g))
    seeds = [0, 5, 17, 123456]
    assert pictures.seed_classes(seeds, 10, [1, 8, 8]) == [drawn(s) for s in seeds]
    assert len(set(drawn(s) for s in range(20))) > 3           # the check above can tell classes apart
    # The caption's class is the one the image was drawn with: --class=<drawn> reproduces the image.
    r = _gen(f'--outdir={tmp_path}/a', '--seeds=0-3', f'--grid={tmp_path}/a.png')
    assert r.exit_code == 0, r.output
    for seed in range(4):
        r = _gen(f'--outdir={tmp_path}/b{seed}', f'--seeds={seed}', f'--class={drawn(seed)}')
        assert r.exit_code == 0, r.output
        assert (tmp_path / f'b{seed}' / f'{seed:06d}.png').read_bytes() == (tmp_path / 'a' / f'{seed:06d}.png').read_bytes()

#----------------------------------------------------------------------------

@pytest.mark.parametrize('value,message', [('grid.jpg', 'ending in .png'), ('{tmp}/dir.png', 'is a folder')])
def test_generate_grid_bad_path_is_one_line_error(tmp_path, value, message):
    (tmp_path / 'dir.png').mkdir()
    r = CliRunner().invoke(generate.main, ['--network=builtin:gauss1d', '--device=cpu', f'--outdir={tmp_path}/o', '--seeds=0-1',
                                           '--grid=' + value.replace('{tmp}', str(tmp_path))])
    lines = r.output.strip().splitlines()
    assert r.exit_code == 1 and len(lines) == 1 and message in lines[0], r.output
    assert not (tmp_path / 'o').exists()                        # refused before sampling

#----------------------------------------------------------------------------

def test_make_grid_shapes_and_row_labels():
    rgb = np.random.default_rng(0).integers(0, 256, [5, 40, 40, 3], dtype=np.uint8)
    picture, origins, scale = pictures.make_grid(rgb, 3, row_labels=['first row', 'second'])
    assert scale == 2 and picture.mode == 'RGB' and len(origins) == 5
    a = np.asarray(picture)
    x0 = a.shape[1] - 3 * (80 + PAD)                             # the labels sit left of the cells
    assert x0 > 20 and (a[:, :x0] < 128).any()
    for i, (x, y) in enumerate(origins):
        assert (x, y) == (x0 + (i % 3) * (80 + PAD), PAD + (i // 3) * (80 + PAD))
        assert np.array_equal(a[y : y + 80, x : x + 80], np.repeat(np.repeat(rgb[i], 2, 0), 2, 1))
    with pytest.raises(ValueError):
        pictures.make_grid(rgb.astype(np.float32), 3)

#----------------------------------------------------------------------------
# compare.py's samples-<solver>.png.

@needs_sklearn
def test_comparison_sample_grid_rows(tmp_path):
    from art import comparison, report
    from art.schedules import get_sigmas
    cmp = comparison.Comparison(network='builtin:gmm-digits', outdir=str(tmp_path), schedules=['edm', 'logsnr', 'uniform'],
                                solvers=['heun', 'euler'], nfes='3,5', num=10, ref_steps=16, batch=10, verbose=False)
    cmp.run()
    paths = report.sample_grid(cmp, str(tmp_path), num=8)
    assert paths == [str(tmp_path / 'samples-heun.png'), str(tmp_path / 'samples-euler.png')]
    net, seeds = cmp.net, list(range(8))
    for solver, K in [('heun', 2), ('euler', 3)]:                # lowest NFE 3: heun K=2, euler K=3
        grid = np.asarray(PIL.Image.open(tmp_path / f'samples-{solver}.png'))
        assert grid.shape[0] == PAD + 4 * (CELL + PAD)          # 3 schedules + the reference
        x0 = grid.shape[1] - 8 * (CELL + PAD)
        assert x0 > 40 and (grid[:, :x0] < 128).any()           # row labels on the left
        def row(r):
            return np.stack([grid[PAD + r * (CELL + PAD):][:CELL, x0 + k * (CELL + PAD):][:, :CELL] for k in range(8)])
        for r, name in enumerate(['edm', 'logsnr', 'uniform']):
            x = comparison.generate_batch(net, seeds, get_sigmas(name, K, net=net), solver, 'cpu')
            want = (x * 127.5 + 128).clip(0, 255).to(torch.uint8)[:, 0].numpy()
            assert np.array_equal(row(r), np.stack([_up(w) for w in want])), (solver, name)
        ref = comparison.generate_batch(net, seeds, get_sigmas('edm', 16, net=net), 'heun', 'cpu')
        want = (ref.float().double() * 127.5 + 128).clip(0, 255).to(torch.uint8)[:, 0].numpy()
        assert np.array_equal(row(3), np.stack([_up(w) for w in want]))
    assert not math.isnan(cmp.results['cells']['edm|heun|3|0']['rms'])

#----------------------------------------------------------------------------
