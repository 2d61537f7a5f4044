# ART-EDM: learned time grids for EDM-style diffusion samplers.
# Copyright (c) 2026 The ART-EDM authors. Released under the MIT License (see LICENSE).

"""torch_utils.loading: EDM pickles through the safe loader (never exec) and the trusted exec path
in fresh processes, refusal of malicious pickles, our weights-only .pt checkpoints, builtin:NAME."""

import os
import pickle
import subprocess
import sys
import textwrap

import pytest
import torch

import dnnlib
from art.builtin import load_network as builtin_load
from torch_utils import loading, persistence
from training import loss, networks

#----------------------------------------------------------------------------
# A pickle written the way EDM's training loop writes snapshots (spec §4.1).

SMALL_SONGUNET = dict(img_resolution=8, img_channels=3, label_dim=4, model_type='SongUNet', model_channels=16,
    channel_mult=[1, 2], num_blocks=1, attn_resolutions=[4], augment_dim=9, dropout=0.0)

#----------------------------------------------------------------------------

def _make_net(seed=0):
    torch.manual_seed(seed)
    net = networks.EDMPrecond(**SMALL_SONGUNET)
    with torch.no_grad():
        for p in net.parameters():
            p.add_(torch.randn_like(p) * 0.05) # Random weights everywhere (EDM zero-inits some layers).
    return net.eval().requires_grad_(False)

#----------------------------------------------------------------------------

@pytest.fixture(scope='module')
def edm_pickle(tmp_path_factory):
    root = tmp_path_factory.mktemp('edm_pickle')
    net = _make_net()
    data = dict(ema=net, loss_fn=loss.EDMLoss(), augment_pipe=None, dataset_kwargs=dict(class_name='training.dataset.ImageFolderDataset',
        path='datasets/x.zip', use_labels=True, xflip=False, cache=True, resolution=8, max_size=None))
    with open(root / 'network-snapshot.pkl', 'wb') as f:
        pickle.dump(data, f)
    torch.manual_seed(1)
    x = torch.randn(3, 3, 8, 8)
    sigma = torch.tensor([0.05, 1.0, 40.0])
    labels = torch.eye(4)[[0, 2, 3]]
    torch.save(dict(x=x, sigma=sigma, labels=labels, D=net(x, sigma, labels)), root / 'io.pt')
    return root

#----------------------------------------------------------------------------
# Run in a fresh interpreter: load the pickle and write D(x; sigma, labels).

CHILD = textwrap.dedent('''
    import builtins, sys, torch
    mode, pkl, io_path, out_path = sys.argv[1:]
    import torch_utils.loading as loading
    io = torch.load(io_path, weights_only=True)
    if mode == 'safe':
        import training.networks, training.loss # Imports (which exec module code) happen before exec is disabled.
        def no_exec(*args, **kwargs):
            raise RuntimeError('exec called during safe load')
        real_exec, builtins.exec = builtins.exec, no_exec
        try:
            data = loading.load_pickle(pkl)
            net = loading.load_network(pkl)
        finally:
            builtins.exec = real_exec
        assert type(net) is training.networks.EDMPrecond
        assert type(data['loss_fn']) is training.loss.EDMLoss and data['loss_fn'].P_std == 1.2
        assert data['augment_pipe'] is None and data['dataset_kwargs']['resolution'] == 8
    else:
        net = loading.load_network(pkl, trust=True)
        assert 'training.networks' not in sys.modules
        assert type(net).__module__.startswith('_imported_module_'), type(net).__module__ # The embedded source ran.
    assert not any(p.requires_grad for p in net.parameters()) and not net.training
    assert not (mode == 'safe' and any(m.startswith('_imported_module_') for m in sys.modules))
    torch.save(net(io['x'], io['sigma'], io['labels']), out_path)
    print('OK')
''')

#----------------------------------------------------------------------------

def _run_child(mode, root):
    out = root / f'out-{mode}.pt'
    res = subprocess.run([sys.executable, '-c', CHILD, mode, str(root / 'network-snapshot.pkl'), str(root / 'io.pt'), str(out)],
        capture_output=True, text=True, timeout=180, env=dict(os.environ, OMP_NUM_THREADS='1'), cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    assert res.returncode == 0 and res.stdout.strip().endswith('OK'), res.stderr[-3000:]
    return torch.load(out, weights_only=True)

#----------------------------------------------------------------------------

def test_safe_and_trusted_fresh_process_identical(edm_pickle):
    D_safe = _run_child('safe', edm_pickle)
    D_trusted = _run_child('trusted', edm_pickle)
    D_ref = torch.load(edm_pickle / 'io.pt', weights_only=True)['D']
    assert D_ref.abs().mean() > 0.1 # Not a degenerate output.
    assert torch.equal(D_safe, D_trusted)
    assert torch.equal(D_safe, D_ref)

#----------------------------------------------------------------------------

def test_safe_path_reads_storages_weights_only(edm_pickle, monkeypatch):
    calls = []
    real_load = torch.load
    def spy(*args, **kwargs):
        calls.append(kwargs.get('weights_only'))
        return real_load(*args, **kwargs)
    monkeypatch.setattr(torch, 'load', spy)
    data = loading.load_pickle(str(edm_pickle / 'network-snapshot.pkl'))
    assert len(calls) > 10 and all(w is True for w in calls) # torch.storage._load_from_bytes would pass False.
    assert isinstance(data['ema'], networks.EDMPrecond)
    assert data['ema'].init_kwargs == SMALL_SONGUNET # Rebuilt through the project's constructor.

#----------------------------------------------------------------------------
# Other preconditioners and backbones (NCSN++ options, ADM, iDDPM's `u` buffer) through the safe path.

OTHER_CONFIGS = [
    ('VPPrecond', dict(img_resolution=8, img_channels=2, model_channels=16, channel_mult=[1, 2], num_blocks=1, attn_resolutions=[4], dropout=0.0)),
    ('VEPrecond', dict(img_resolution=8, img_channels=2, model_channels=16, channel_mult=[1, 2], num_blocks=1, attn_resolutions=[4], dropout=0.0,
        embedding_type='fourier', encoder_type='residual', decoder_type='skip', channel_mult_noise=2, resample_filter=[1, 3, 3, 1])),
    ('iDDPMPrecond', dict(img_resolution=8, img_channels=2, label_dim=3, model_channels=64, channel_mult=[1, 2], num_blocks=1, attn_resolutions=[4], dropout=0.0)),
]

@pytest.mark.parametrize('class_name,kwargs', OTHER_CONFIGS, ids=[c for c, _ in OTHER_CONFIGS])
def test_safe_loader_other_networks(tmp_path, class_name, kwargs):
    torch.manual_seed(0)
    net = getattr(networks, class_name)(**kwargs)
    with torch.no_grad():
        for p in net.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    net.eval().requires_grad_(False)
    path = _write(tmp_path / 'net.pkl', dict(ema=net, loss_fn=loss.VPLoss() if class_name == 'VPPrecond' else loss.VELoss(), augment_pipe=None, dataset_kwargs={}))
    data = loading.load_pickle(path)
    loaded = data['ema']
    assert type(loaded) is type(net) and type(data['loss_fn']).__name__ == ('VPLoss' if class_name == 'VPPrecond' else 'VELoss')
    assert loaded.sigma_min == net.sigma_min and loaded.sigma_max == net.sigma_max
    x = torch.randn(2, 2, 8, 8)
    sigma = torch.tensor([0.5, 5.0])
    labels = torch.eye(3)[[0, 2]] if kwargs.get('label_dim') else None
    assert torch.equal(loaded(x, sigma, labels), net(x, sigma, labels))
    assert torch.equal(loaded.round_sigma(sigma), net.round_sigma(sigma))

#----------------------------------------------------------------------------
# Hand-made pickles.

class _Persistent:
    """Pickles as EDM's (_reconstruct_persistent_obj, (meta,)) with arbitrary meta."""
    def __init__(self, meta):
        self.meta = meta
    def __reduce__(self):
        return (persistence._reconstruct_persistent_obj, (self.meta,))

#----------------------------------------------------------------------------

class _Reduce:
    def __init__(self, fn, args):
        self.fn, self.args = fn, args
    def __reduce__(self):
        return (self.fn, self.args)

#----------------------------------------------------------------------------

def _evil_meta(marker, class_name, state=None):
    src = f'open({str(marker)!r}, "w").write("pwned")\nclass {class_name}:\n    pass\n'
    return dict(type='class', version=6, module_src=src, class_name=class_name, state=state or {})

#----------------------------------------------------------------------------

def _write(path, obj):
    with open(path, 'wb') as f:
        pickle.dump(obj, f)
    return str(path)

#----------------------------------------------------------------------------

def _refused(path, *fragments):
    with pytest.raises(dnnlib.UserError) as info:
        loading.load_network(path)
    msg = str(info.value)
    assert '\n' not in msg, msg
    for fragment in fragments:
        assert fragment in msg, msg
    return msg

#----------------------------------------------------------------------------

def test_malicious_module_src_is_refused(tmp_path):
    marker = tmp_path / 'marker.txt'
    path = _write(tmp_path / 'evil.pkl', dict(ema=_Persistent(_evil_meta(marker, 'Evil'))))
    _refused(path, 'needs code execution for class Evil', '--trust-pickle')
    assert not marker.exists()

    # A known class name does not make the embedded source run either: without constructor
    # arguments the object cannot be rebuilt from data alone.
    path = _write(tmp_path / 'evil2.pkl', dict(ema=_Persistent(_evil_meta(marker, 'EDMPrecond'))))
    _refused(path, 'EDMPrecond', '--trust-pickle')
    assert not marker.exists()

    # model_type must name one of the project's backbones.
    state = dict(_init_args=(), _init_kwargs=dict(SMALL_SONGUNET, model_type='weight_init'))
    path = _write(tmp_path / 'evil3.pkl', dict(ema=_Persistent(_evil_meta(marker, 'EDMPrecond', state))))
    _refused(path, 'weight_init', '--trust-pickle')
    assert not marker.exists()

    # The same pickle does run its code when trusted (so the test above is meaningful).
    with pytest.raises(Exception):
        loading.load_network(str(tmp_path / 'evil.pkl'), trust=True)
    assert marker.read_text() == 'pwned'

#----------------------------------------------------------------------------

def test_foreign_globals_are_refused(tmp_path):
    marker = tmp_path / 'marker.txt'
    path = _write(tmp_path / 'system.pkl', dict(ema=_Reduce(os.system, (f'touch {marker}',))))
    _refused(path, 'system', 'does not allow')
    assert not marker.exists()
    path = _write(tmp_path / 'eval.pkl', _Reduce(eval, ('1+1',)))
    _refused(path, 'builtins.eval')

#----------------------------------------------------------------------------

def test_structure_mismatch_is_refused(tmp_path):
    state = dict(_init_args=(), _init_kwargs=dict(SMALL_SONGUNET), _parameters={}, _buffers={}, _modules={})
    path = _write(tmp_path / 'empty.pkl', dict(ema=_Persistent(dict(type='class', version=6, module_src='', class_name='EDMPrecond', state=state))))
    _refused(path, 'do not match')

#----------------------------------------------------------------------------

def test_augment_pipe_becomes_inert(tmp_path, edm_pickle):
    marker = tmp_path / 'marker.txt'
    with open(edm_pickle / 'network-snapshot.pkl', 'rb') as f:
        data = pickle.load(f)
    data['augment_pipe'] = _Persistent(_evil_meta(marker, 'AugmentPipe', dict(_init_args=(), _init_kwargs=dict(p=0.12, xflip=1e8))))
    path = _write(tmp_path / 'with-aug.pkl', data)
    loaded = loading.load_pickle(path)
    assert isinstance(loaded['augment_pipe'], loading.InertObject) and loaded['augment_pipe'].init_kwargs.p == 0.12
    with pytest.raises(dnnlib.UserError):
        loaded['augment_pipe'](torch.zeros(1, 3, 8, 8))
    assert isinstance(loaded['ema'], networks.EDMPrecond)
    assert not marker.exists()

#----------------------------------------------------------------------------

def test_pt_checkpoint_roundtrip(tmp_path):
    net = _make_net(seed=3)
    path = tmp_path / 'net.pt'
    loading.save_checkpoint(net, str(path), dataset_kwargs=dict(resolution=8), kimg=12)
    raw = torch.load(path, weights_only=True) # Plain data only.
    assert raw['class_name'] == 'training.networks.EDMPrecond' and raw['init_kwargs'] == SMALL_SONGUNET and raw['kimg'] == 12
    x, sigma = torch.randn(2, 3, 8, 8), torch.tensor([0.3, 3.0])
    loaded = loading.load_network(str(path))
    assert type(loaded) is networks.EDMPrecond
    assert torch.equal(loaded(x, sigma), net(x, sigma))
    assert loading.load_pickle('file://' + str(path))['dataset_kwargs'] == dict(resolution=8)

    with pytest.raises(ValueError):
        loading.save_checkpoint(torch.nn.Linear(2, 2), str(tmp_path / 'lin.pt'), init_kwargs=dict(in_features=2, out_features=2))
    bad = dict(raw, class_name='os.system')
    torch.save(bad, tmp_path / 'bad.pt')
    with pytest.raises(dnnlib.UserError, match='not under training'):
        loading.load_network(str(tmp_path / 'bad.pt'))
    torch.save(net.state_dict(), tmp_path / 'sd.pt')
    with pytest.raises(dnnlib.UserError, match='not an ART-EDM checkpoint'):
        loading.load_network(str(tmp_path / 'sd.pt'))

#----------------------------------------------------------------------------

def test_builtin_and_missing(tmp_path):
    net = builtin_load('builtin:gauss1d')
    assert not net.training and net.img_resolution == 1
    with pytest.raises(dnnlib.UserError, match='not found'):
        loading.load_network(str(tmp_path / 'nope.pkl'))
    (tmp_path / 'junk.pkl').write_bytes(b'hello world')
    with pytest.raises(dnnlib.UserError, match='neither'):
        loading.load_network(str(tmp_path / 'junk.pkl'))
