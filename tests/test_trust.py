# ART-EDM: learned time grids for EDM-style diffusion samplers.
# Copyright (c) 2026 The ART-EDM authors. Released under the MIT License (see LICENSE).

"""The trust rule (docs/trust.md): no file that can carry code is executed unless --trust-pickle.

Every input that can carry code gets a LIVE payload, one that creates a marker file when unpickled
(pickle.load / torch.load(weights_only=False)); each test first shows that the payload does run
that way, then runs the CLI (or loader) without --trust-pickle and requires: non-zero exit, one
"Error:" line naming the refusal, no traceback, no marker. Where a trusted path exists, the same
file with --trust-pickle does create the marker."""

import os
import pathlib
import pickle

import numpy as np
import pytest
import torch
from click.testing import CliRunner

import dnnlib
from torch_utils import loading

#----------------------------------------------------------------------------
# Payloads.

class _Reduce:
    """Pickles as the call fn(*args): what a malicious pickle runs on load."""
    def __init__(self, fn, args):
        self.fn, self.args = fn, args
    def __reduce__(self):
        return (self.fn, self.args)

class _Persistent:
    """Pickles like an EDM persistent object whose embedded module source is `src`."""
    def __init__(self, meta):
        self.meta = meta
    def __reduce__(self):
        from torch_utils import persistence # pylint: disable=import-outside-toplevel
        return (persistence._reconstruct_persistent_obj, (self.meta,)) # pylint: disable=protected-access

def _touch(marker):
    return _Reduce(pathlib.Path.touch, (pathlib.Path(marker),))

_serial = [0]

def _source_payload(marker, class_name='Evil'):
    """Embedded source that touches `marker`; unique per call (persistence runs each source once)."""
    _serial[0] += 1
    src = f'# {_serial[0]}\nimport pathlib\npathlib.Path({str(marker)!r}).touch()\nclass {class_name}:\n    pass\n'
    return _Persistent(dict(type='class', version=6, module_src=src, class_name=class_name, state={}))

def _pickle_file(path, obj):
    with open(path, 'wb') as f:
        pickle.dump(obj, f)
    return str(path)

def _pickles(tmp_path, make):
    """Two pickles of the payload `make()`: one for the unsafe-load check, one for the CLI runs."""
    return _pickle_file(tmp_path / 'live.pkl', make()), _pickle_file(tmp_path / 'evil.pkl', make())

def _assert_live(path, marker, torch_file=False):
    """The payload really runs when the file is loaded the unsafe way (so the refusals mean something)."""
    assert not os.path.exists(marker)
    try:
        if torch_file:
            torch.load(path, weights_only=False)
        else:
            with open(path, 'rb') as f:
                pickle.load(f)
    except Exception: # pylint: disable=broad-exception-caught
        pass # Code already ran while unpickling; what it returns does not matter here.
    assert os.path.exists(marker)
    os.remove(marker)

def _refused(res, *fragments):
    out = res.output
    assert res.exit_code != 0, out
    assert 'Traceback' not in out and not isinstance(res.exception, (AssertionError, TypeError, AttributeError, KeyError)), (out, res.exception)
    lines = [line for line in out.splitlines() if line.startswith('Error:')]
    assert len(lines) == 1, out
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]

def _invoke(main, args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=True)

#----------------------------------------------------------------------------
# Network pickles (generate.py --network): unknown class with embedded source, and a reduce payload.

@pytest.mark.parametrize('kind', ['source', 'reduce'])
def test_network_pickle(tmp_path, kind):
    import generate # pylint: disable=import-outside-toplevel
    marker = tmp_path / 'MARKER'
    live, pkl = _pickles(tmp_path, lambda: dict(ema=_source_payload(marker) if kind == 'source' else _touch(marker)))
    _assert_live(live, marker)
    args = [f'--network={pkl}', f'--outdir={tmp_path / "out"}', '--seeds=0', '--steps=2', '--device=cpu']
    _refused(_invoke(generate.main, args), '--trust-pickle')
    assert not marker.exists()
    res = _invoke(generate.main, args + ['--trust-pickle']) # The trusted path runs it.
    assert marker.exists() and res.exit_code != 0

#----------------------------------------------------------------------------
# .pt checkpoints: the class must be a torch.nn.Module DEFINED in a training.* / art.* module.

def _checkpoint_with_class(path, class_name, init_args=(), init_kwargs=None, state_dict=None):
    torch.save(dict(format='art-edm-checkpoint/1', class_name=class_name, init_args=list(init_args), init_kwargs=init_kwargs or {},
                    state_dict=state_dict or {}), path)
    return str(path)

def test_pt_foreign_class_names(tmp_path, monkeypatch):
    built = []
    real_init = torch.nn.Linear.__init__
    def spy(self, *args, **kwargs):
        built.append(args)
        real_init(self, *args, **kwargs)
    monkeypatch.setattr(torch.nn.Linear, '__init__', spy)
    lin = dict(weight=torch.zeros(2, 2), bias=torch.zeros(2))
    for name in ['art.rl.torch.nn.Linear', 'training.networks.torch.nn.Linear', 'art.detectors.F.linear']:
        path = _checkpoint_with_class(tmp_path / 'foreign.pt', name, init_kwargs=dict(in_features=2, out_features=2), state_dict=lin)
        with pytest.raises(dnnlib.UserError) as info:
            loading.load_network(path)
        assert '\n' not in str(info.value) and name in str(info.value)
    assert built == [] # torch.nn.Linear was never constructed from the file.

    marker = tmp_path / 'MARKER'
    path = _checkpoint_with_class(tmp_path / 'system.pt', 'os.system', init_args=[f'touch {marker}'])
    with pytest.raises(dnnlib.UserError, match='not under training'):
        loading.load_network(path)
    assert not marker.exists()

    # A class reachable from a project module but defined elsewhere (an import) is refused too;
    # a class defined there is accepted (so the refusal is about where it is defined).
    path = _checkpoint_with_class(tmp_path / 'reexport.pt', 'training.networks.persistence')
    with pytest.raises(dnnlib.UserError, match='defined in the project'):
        loading.load_network(path)
    from training import networks # pylint: disable=import-outside-toplevel
    net = networks.Linear(in_features=2, out_features=3)
    path = _checkpoint_with_class(tmp_path / 'ok.pt', 'training.networks.Linear', init_kwargs=dict(in_features=2, out_features=3),
                                  state_dict=net.state_dict())
    assert type(loading.load_network(path)) is networks.Linear

def test_pt_payload_in_checkpoint_is_refused(tmp_path):
    marker = tmp_path / 'MARKER'
    path = str(tmp_path / 'evil.pt')
    torch.save(dict(format='art-edm-checkpoint/1', class_name='training.networks.Linear', init_args=[], init_kwargs={},
                    state_dict={}, extra=_touch(marker)), path)
    _assert_live(path, marker, torch_file=True)
    with pytest.raises(dnnlib.UserError, match='weights-only'):
        loading.load_network(path, trust=True) # .pt files are never unpickled with trust.
    assert not marker.exists()

#----------------------------------------------------------------------------
# train_art.py --resume: OUT.ckpt.pt is read with weights_only=True (there is no trusted path).

def test_train_art_resume_checkpoint(tmp_path):
    import train_art # pylint: disable=import-outside-toplevel
    marker = tmp_path / 'MARKER'
    out = tmp_path / 'rl.json'
    ckpt = str(out) + '.ckpt.pt'
    torch.save(dict(settings={}, actor=_touch(marker)), ckpt)
    _assert_live(ckpt, marker, torch_file=True)
    args = ['--network=builtin:gauss1d', '--method=art-rl', '--steps=3', f'--out={out}', '--device=cpu', '--resume']
    line = _refused(_invoke(train_art.main, args), ckpt, 'delete it or use a new --out')
    assert 'weights_only=True' in line and not marker.exists()
    (tmp_path / 'junk.json.ckpt.pt').write_bytes(b'\x00' * 64) # A corrupt file: the same one line.
    _refused(_invoke(train_art.main, args[:3] + [f'--out={tmp_path / "junk.json"}', '--device=cpu', '--resume']), 'junk.json.ckpt.pt', 'delete it')

#----------------------------------------------------------------------------
# train.py: --transfer pickle (safe loader unless --trust-pickle) and --resume state (weights_only).

TINY = ['--arch=small', '--cbase=8', '--cres=1,2', '--device=cpu', '--dropout=0', '--augment=0', '--workers=0', '--seed=1', '--batch=64']
ONE_KIMG = ['--duration=0.0001', '--tick=1', '--snap=1', '--dump=1'] # 16 steps; snapshot and state at 1 kimg

@pytest.fixture(scope='module')
def bars(tmp_path_factory):
    """A tiny .npz dataset: 16 8x8 grey images of bars, labels 0/1."""
    root = tmp_path_factory.mktemp('bars')
    x = np.zeros([16, 8, 8], dtype=np.uint8)
    y = np.arange(16) % 2
    for i in range(16):
        if y[i] == 0:
            x[i, 1 + i % 6, 1:7] = 255
        else:
            x[i, 1:7, 1 + i % 6] = 255
    np.savez(root / 'bars.npz', x=x, y=y.astype(np.uint8))
    return root / 'bars.npz'

def _train(*args):
    import train # pylint: disable=import-outside-toplevel
    return _invoke(train.main, args)

def test_train_transfer_pickle(tmp_path, bars):
    marker = tmp_path / 'MARKER'
    live, pkl = _pickles(tmp_path, lambda: dict(ema=_source_payload(marker, 'EDMPrecond')))
    _assert_live(live, marker)
    args = [f'--outdir={tmp_path / "runs"}', f'--data={bars}', *TINY, *ONE_KIMG, f'--transfer={pkl}']
    _refused(_train(*args), '--trust-pickle')
    assert not marker.exists()
    _train(*args, '--trust-pickle') # The trusted path runs it (and then fails: it holds no network).
    assert marker.exists()

@pytest.fixture(scope='module')
def tiny_run(tmp_path_factory, bars):
    """One genuine tiny run (1 kimg): network-snapshot-000001.pkl and training-state-000001.pt."""
    root = tmp_path_factory.mktemp('run')
    res = _train(f'--outdir={root}', f'--data={bars}', *TINY, *ONE_KIMG, '--nosubdir')
    assert res.exit_code == 0, (res.output, res.exception)
    return root

def test_train_resume_state(tmp_path, bars, tiny_run):
    # The genuine state is plain data; it resumes without --trust-pickle.
    state = torch.load(tiny_run / 'training-state-000001.pt', weights_only=True)
    assert all(isinstance(v, torch.Tensor) for v in state['net'].values())
    res = _train(f'--outdir={tmp_path / "ok"}', f'--data={bars}', *TINY, '--duration=0.002', '--tick=1', '--snap=10', '--dump=10',
                 f'--resume={tiny_run / "training-state-000001.pt"}')
    assert res.exit_code == 0, (res.output, res.exception)

    # A state file with a payload next to a genuine snapshot: refused, never run (no trusted path).
    marker = tmp_path / 'MARKER'
    evil_dir = tmp_path / 'evil'
    evil_dir.mkdir()
    (evil_dir / 'network-snapshot-000001.pkl').write_bytes((tiny_run / 'network-snapshot-000001.pkl').read_bytes())
    torch.save(dict(net=_touch(marker), optimizer_state={}), evil_dir / 'training-state-000001.pt')
    _assert_live(evil_dir / 'training-state-000001.pt', marker, torch_file=True)
    for trust in [[], ['--trust-pickle']]:
        _refused(_train(f'--outdir={tmp_path / "runs"}', f'--data={bars}', *TINY, *ONE_KIMG, f'--resume={evil_dir / "training-state-000001.pt"}', *trust),
                 'training-state-000001.pt', 'weights_only=True')
        assert not marker.exists()

    # A state file of the old layout (the network module pickled in it): one line, pointing at --transfer.
    from training import networks # pylint: disable=import-outside-toplevel
    old = networks.EDMPrecond(img_resolution=8, img_channels=1, label_dim=0, model_type='SongUNet', model_channels=8, channel_mult=[1, 2],
                              num_blocks=1, attn_resolutions=[])
    torch.save(dict(net=old, optimizer_state={}), evil_dir / 'training-state-000001.pt')
    _refused(_train(f'--outdir={tmp_path / "runs2"}', f'--data={bars}', *TINY, *ONE_KIMG, f'--resume={evil_dir / "training-state-000001.pt"}'),
             '--transfer')

#----------------------------------------------------------------------------
# Detectors: fid.py --detector=PKL and art.detectors.load_detector.

def _png_folder(path, n=4):
    import PIL.Image # pylint: disable=import-outside-toplevel
    path.mkdir()
    for i in range(n):
        PIL.Image.fromarray(np.full([8, 8, 3], 40 * i, dtype=np.uint8)).save(path / f'{i}.png')
    return path

def test_fid_detector_pickle(tmp_path, monkeypatch):
    import fid # pylint: disable=import-outside-toplevel
    monkeypatch.setattr(torch.multiprocessing, 'set_start_method', lambda *a, **kw: None)
    marker = tmp_path / 'MARKER'
    pkl = _pickle_file(tmp_path / 'det.pkl', _touch(marker))
    _assert_live(pkl, marker)
    data = _png_folder(tmp_path / 'imgs')
    args = ['ref', f'--data={data}', f'--dest={tmp_path / "ref.npz"}', f'--detector={pkl}', '--device=cpu', '--workers=0']
    _refused(_invoke(fid.main, args), 'can carry code', '--trust-pickle')
    assert not marker.exists() and not (tmp_path / 'ref.npz').exists()
    _refused(_invoke(fid.main, args + ['--trust-pickle']), 'does not hold a callable network') # Trusted: it ran.
    assert marker.exists()

    # The default (the Inception pickle) is refused the same way, before any download.
    def no_download(*args, **kwargs):
        raise AssertionError('open_url called')
    monkeypatch.setattr(dnnlib.util, 'open_url', no_download)
    _refused(_invoke(fid.main, args[:3] + ['--device=cpu', '--workers=0']), 'inception-2015-12-05.pkl', '--trust-pickle')

def test_load_detector(tmp_path):
    from art import detectors # pylint: disable=import-outside-toplevel
    marker = tmp_path / 'MARKER'
    live, pkl = _pickles(tmp_path, lambda: _source_payload(marker, 'TinyDetector'))
    _assert_live(live, marker)
    for spec in [pkl, 'file://' + pkl]:
        with pytest.raises(dnnlib.UserError) as info:
            detectors.load_detector(spec)
        assert '\n' not in str(info.value) and 'can carry code' in str(info.value) and '--trust-pickle' in str(info.value)
    assert not marker.exists()
    with pytest.raises(Exception):
        detectors.load_detector(pkl, trust=True) # Trusted: the embedded source runs.
    assert marker.exists()
    # The built-in stand-ins are state dicts loaded weights-only: no trust needed.
    det, label = detectors.load_detector('lenet-mnist')
    assert label == 'FD-LeNet' and det(torch.zeros([1, 1, 28, 28], dtype=torch.uint8), return_features=True).shape == (1, 84)
    torch.save(detectors.CifarResNet(3).state_dict(), tmp_path / 'r20.th')
    det, label = detectors.load_detector(f'resnet20-cifar10:{tmp_path / "r20.th"}')
    assert label == 'FD-ResNet20'
