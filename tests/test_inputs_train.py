# ART-EDM: learned time grids for EDM-style diffusion samplers.
# Copyright (c) 2026 The ART-EDM authors. Released under the MIT License (see LICENSE).

"""train.py with bad output folders and devices: one line, non-zero exit, nothing written."""

import os

import pytest
from click.testing import CliRunner

import train

@pytest.mark.parametrize('make_out, device, msg', [
    (lambda d: d / 'afile', 'cpu', 'is a file'),
    (lambda d: d / 'runs', 'meta', 'is not supported'),
    (lambda d: d / 'runs', 'cuda:7', 'CUDA is not available'),
])
def test_bad_outdir_or_device(make_out, device, msg, tmp_path):
    out = make_out(tmp_path)
    if str(out).endswith('afile'):
        out.write_text('x')
    r = CliRunner().invoke(train.main, [f'--outdir={out}', '--data=nonexistent.zip', f'--device={device}'])
    assert r.exit_code != 0 and msg in r.output and 'Traceback' not in r.output, r.output
    assert not os.path.isdir(tmp_path / 'runs')
