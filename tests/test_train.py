# ART-EDM: learned time grids for EDM-style diffusion samplers.
# Copyright (c) 2026 The ART-EDM authors. Released under the MIT License (see LICENSE).

"""Tests for train.py and training/training_loop.py (docs/edm-spec.md §5.8-5.9, §4.1) and for the
embedded default builtin:mnist: a tiny run on a synthetic labelled image folder lowers the EDM loss,
writes EDM-layout snapshots that generate.py loads with the safe loader, resumes from its state
dump, names its run directory like EDM, and runs under torchrun with two CPU processes."""

import json
import os
import pathlib
import pickle
import subprocess
import sys

import numpy as np
import PIL.Image
import pytest
import torch
from click.testing import CliRunner

import train
from training import training_loop

ROOT = pathlib.Path(__file__).resolve().parents[1]

#----------------------------------------------------------------------------
# A tiny labelled dataset: 8x8 grey images, class 0 = a horizontal bar, class 1 = a vertical bar,
# at random positions (a folder of PNGs plus dataset.json, the layout of EDM's dataset_tool.py).

def make_bars(n=32, seed=0):
    rnd = np.random.RandomState(seed)
    x = np.zeros([n, 8, 8], dtype=np.uint8)
    y = np.arange(n) % 2
    for i in range(n):
        pos = rnd.randint(1, 7)
        if y[i] == 0:
            x[i, pos, 1:7] = 255
        else:
            x[i, 1:7, pos] = 255
    return x, y

def make_folder(path, n=32):
    x, y = make_bars(n)
    os.makedirs(path / '00000', exist_ok=True)
    labels = []
    for i in range(n):
        name = f'00000/img{i:08d}.png'
        PIL.Image.fromarray(x[i]).save(path / name)
        labels.append([name, int(y[i])])
    with open(path / 'dataset.json', 'w') as f:
        json.dump({'labels': labels}, f)
    return path

TINY = ['--arch=small', '--cbase=8', '--cres=1,2', '--device=cpu', '--dropout=0', '--augment=0', '--workers=0', '--seed=1']

def run_train(*args):
    res = CliRunner().invoke(train.main, [str(a) for a in args], catch_exceptions=True)
    return res

def run_ok(*args):
    res = run_train(*args)
    assert res.exit_code == 0, (res.output, res.exception)
    return res

#----------------------------------------------------------------------------
# One shared tiny run (2 kimg, batch 16, 125 steps) for most checks.

@pytest.fixture(scope='module')
def tiny_run(tmp_path_factory):
    root = tmp_path_factory.mktemp('train')
    data = make_folder(root / 'bars')
    run_ok(f'--outdir={root / "runs"}', f'--data={data}', '--cond=1', *TINY, '--duration=0.002', '--batch=16',
           '--lr=5e-3', '--lr-rampup=0.2', '--ema=0.0005', '--tick=0.5', '--snap=1', '--dump=2')
    run_dirs = sorted((root / 'runs').iterdir())
    assert len(run_dirs) == 1
    return dict(root=root, data=data, run_dir=run_dirs[0])

#----------------------------------------------------------------------------

def test_run_dir_and_outputs(tiny_run):
    run_dir = tiny_run['run_dir']
    assert run_dir.name == '00000-bars-cond-small-edm-gpus1-batch16-fp32' # §5.9 naming: dataset basename, total batch
    names = sorted(p.name for p in run_dir.iterdir())
    assert 'network-snapshot-000000.pkl' in names and 'network-snapshot-000002.pkl' in names
    assert 'training-state-000002.pt' in names and 'training-state-000000.pt' not in names # never dumped at tick 0
    assert {'log.txt', 'stats.jsonl', 'training_options.json'} <= set(names)
    opts = json.loads((run_dir / 'training_options.json').read_text())
    assert opts['total_kimg'] == 2 and opts['batch_size'] == 16 and opts['seed'] == 1
    assert opts['network_kwargs']['class_name'] == 'training.networks.EDMPrecond'
    assert opts['loss_kwargs']['class_name'] == 'training.loss.EDMLoss'
    assert opts['network_kwargs']['model_channels'] == 8 and opts['network_kwargs']['channel_mult'] == [1, 2]
    assert opts['dataset_kwargs']['resolution'] == 8 and opts['dataset_kwargs']['max_size'] == 32
    assert 'tick 0' in (run_dir / 'log.txt').read_text()
    stats = [json.loads(line) for line in (run_dir / 'stats.jsonl').read_text().splitlines()]
    assert len(stats) >= 4 and all('Loss/loss' in s and 'timestamp' in s for s in stats)
    assert stats[-1]['Progress/kimg']['mean'] >= 2.0
    # Every image of every step is reported once: 2000 images (125 steps of 16) x 64 pixels.
    assert sum(s['Loss/loss']['num'] for s in stats) == 2000 * 64

#----------------------------------------------------------------------------
# The snapshot has EDM's layout (§4.1): a plain dict, CPU modules in eval mode without grad.

def test_snapshot_layout(tiny_run):
    with open(tiny_run['run_dir'] / 'network-snapshot-000002.pkl', 'rb') as f:
        data = pickle.load(f)
    assert sorted(data) == ['augment_pipe', 'dataset_kwargs', 'ema', 'loss_fn']
    assert data['augment_pipe'] is None and type(data['dataset_kwargs']) is dict
    assert data['dataset_kwargs']['class_name'] == 'training.dataset.ImageFolderDataset'
    ema = data['ema']
    assert type(ema).__name__ == 'EDMPrecond' and not ema.training
    assert all(p.device.type == 'cpu' and not p.requires_grad for p in ema.parameters())
    assert (ema.img_resolution, ema.img_channels, ema.label_dim) == (8, 1, 2)
    assert type(data['loss_fn']).__name__ == 'EDMLoss'

#----------------------------------------------------------------------------
# Loss decreases: the EDM loss of the final EMA net is well below that of the tick-0 net, both
# evaluated on the same images, noise levels and noise (same RNG seed for both nets).

def _edm_loss(net, images, labels, seed=123, repeats=8):
    from training.loss import EDMLoss
    loss_fn = EDMLoss()
    torch.manual_seed(seed)
    with torch.no_grad():
        return float(torch.stack([loss_fn(net, images, labels).mean() for _ in range(repeats)]).mean())

def test_loss_decreases(tiny_run):
    from torch_utils import loading
    x, y = make_bars()
    images = torch.as_tensor(x[:, None], dtype=torch.float32) / 127.5 - 1
    labels = torch.nn.functional.one_hot(torch.as_tensor(y), 2).float()
    net0 = loading.load_network(str(tiny_run['run_dir'] / 'network-snapshot-000000.pkl'), verbose=False)
    net2 = loading.load_network(str(tiny_run['run_dir'] / 'network-snapshot-000002.pkl'), verbose=False)
    loss0 = _edm_loss(net0, images, labels)
    loss2 = _edm_loss(net2, images, labels)
    assert loss2 < 0.6 * loss0, (loss0, loss2)

#----------------------------------------------------------------------------
# The snapshot loads in generate.py (safe loader: no code from the pickle is executed).

def test_snapshot_in_generate(tiny_run, tmp_path):
    import generate
    outdir = tmp_path / 'out'
    res = CliRunner().invoke(generate.main, [f'--network={tiny_run["run_dir"] / "network-snapshot-000002.pkl"}',
        f'--outdir={outdir}', '--seeds=0-2', '--steps=4', '--class=1', '--device=cpu'], catch_exceptions=True)
    assert res.exit_code == 0, (res.output, res.exception)
    pngs = sorted(outdir.rglob('*.png'))
    assert len(pngs) == 3
    assert np.asarray(PIL.Image.open(pngs[0])).shape == (8, 8)

#----------------------------------------------------------------------------
# Resume from a state dump: the matching snapshot supplies the EMA, kimg continues.

def test_resume(tiny_run):
    root, run_dir = tiny_run['root'], tiny_run['run_dir']
    run_ok(f'--outdir={root / "runs-resume"}', f'--data={tiny_run["data"]}', '--cond=1', *TINY, '--duration=0.003', '--batch=16',
           '--lr=5e-3', '--lr-rampup=0.2', '--ema=0.0005', '--tick=0.5', '--snap=10', '--dump=10',
           f'--resume={run_dir / "training-state-000002.pt"}')
    new_dir = next((root / 'runs-resume').iterdir())
    opts = json.loads((new_dir / 'training_options.json').read_text())
    assert opts['resume_kimg'] == 2 and opts['resume_pkl'].endswith('network-snapshot-000002.pkl')
    assert 'Loading training state' in (new_dir / 'log.txt').read_text()
    stats = [json.loads(line) for line in (new_dir / 'stats.jsonl').read_text().splitlines()]
    assert 2.0 < stats[0]['Progress/kimg']['mean'] < 2.1 # first tick right after the resumed 2 kimg
    assert (new_dir / 'network-snapshot-000003.pkl').is_file()

#----------------------------------------------------------------------------
# VP and VE preconditioning/loss pairs train too, and their snapshots carry the right classes.

@pytest.mark.parametrize('precond, net_class', [('vp', 'VPPrecond'), ('ve', 'VEPrecond')])
def test_vp_ve(tiny_run, tmp_path, precond, net_class):
    run_ok(f'--outdir={tmp_path}', f'--data={tiny_run["data"]}', *TINY, f'--precond={precond}', '--duration=0.001', '--batch=64',
           '--tick=1', '--nosubdir')
    with open(tmp_path / 'network-snapshot-000001.pkl', 'rb') as f:
        data = pickle.load(f)
    assert type(data['ema']).__name__ == net_class and data['ema'].label_dim == 0
    assert type(data['loss_fn']).__name__ == {'vp': 'VPLoss', 've': 'VELoss'}[precond]

#----------------------------------------------------------------------------
# EMA update (§5.8 step 5) against a closed form: beta = 0.5 ** (batch / min(halflife, ratio * nimg)).

def test_update_ema_closed_form():
    net, ema = torch.nn.Linear(2, 1), torch.nn.Linear(2, 1)
    with torch.no_grad():
        net.weight.fill_(1.0); net.bias.fill_(1.0); ema.weight.fill_(0.0); ema.bias.fill_(0.0)
    beta = training_loop.update_ema(ema, net, cur_nimg=1000, batch_size=10, ema_halflife_kimg=500, ema_rampup_ratio=0.05)
    assert beta == pytest.approx(0.5 ** (10 / 50))
    assert float(ema.weight.detach()[0, 0]) == pytest.approx(1 - 0.5 ** 0.2)
    assert training_loop.update_ema(ema, net, 0, 10, 500, 0.05) == 0 # first step: EMA = net
    assert float(ema.bias.detach()[0]) == 1.0
    assert training_loop.update_ema(ema, net, 10**9, 100, 1, None) == pytest.approx(0.5 ** 0.1) # no ramp-up

#----------------------------------------------------------------------------
# Dry run, .npz input, and errors a user can cause (one line, no traceback).

def test_dry_run_and_npz(tmp_path):
    x, y = make_bars(20)
    np.savez(tmp_path / 'bars.npz', x=x, y=y.astype(np.uint8))
    res = run_ok(f'--outdir={tmp_path / "runs"}', f'--data={tmp_path / "bars.npz"}', '--cond=1', *TINY, '-n')
    assert 'Dry run; exiting.' in res.output and '00000-bars-cond-small-edm-gpus1-batch512-fp32' in res.output
    assert not (tmp_path / 'runs').exists()
    from training.dataset import NpzDataset
    ds = NpzDataset(str(tmp_path / 'bars.npz'), use_labels=True)
    image, label = ds[3]
    assert image.shape == (1, 8, 8) and image.dtype == np.uint8 and np.array_equal(image[0], x[3])
    assert label.tolist() == [0.0, 1.0] and ds.label_dim == 2 and ds.name == 'bars' and len(ds) == 20

def _one_line_error(res, *words):
    assert res.exit_code != 0 and 'Traceback' not in res.output
    msg = res.output.strip().splitlines()
    assert len(msg) == 1 and msg[0].startswith('Error:'), res.output
    assert all(w in msg[0] for w in words), msg[0]

def test_user_errors(tmp_path):
    data = make_folder(tmp_path / 'bars', n=4)
    os.remove(data / 'dataset.json')
    out = f'--outdir={tmp_path / "runs"}'
    _one_line_error(run_train(out, f'--data={data}', '--cond=1', *TINY, '-n'), '--cond')
    _one_line_error(run_train(out, f'--data={tmp_path / "missing"}', *TINY, '-n'), 'missing')
    _one_line_error(run_train(out, f'--data={data}', *TINY, '--batch=10', '--batch-gpu=4', '-n'), '--batch=10')
    _one_line_error(run_train(out, f'--data={data}', *TINY, f'--resume={tmp_path / "state.pt"}', '-n'), '--resume')
    np.savez(tmp_path / 'bad.npz', x=np.zeros([3, 8, 8], np.float32))
    _one_line_error(run_train(out, f'--data={tmp_path / "bad.npz"}', *TINY, '-n'), 'uint8')

#----------------------------------------------------------------------------
# Distributed: torchrun with two CPU processes (gloo), total batch split across ranks.

def test_torchrun_two_processes(tmp_path):
    data = make_folder(tmp_path / 'bars', n=8)
    proc = subprocess.run([sys.executable, '-m', 'torch.distributed.run', '--standalone', '--nproc_per_node=2', str(ROOT / 'train.py'),
        f'--outdir={tmp_path / "runs"}', f'--data={data}', '--cond=1', *TINY, '--duration=0.001', '--batch=128', '--batch-gpu=32',
        '--tick=1'], capture_output=True, text=True, timeout=300, cwd=ROOT, env=dict(os.environ, OMP_NUM_THREADS='1'))
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    run_dir = next((tmp_path / 'runs').iterdir())
    assert run_dir.name == '00000-bars-cond-small-edm-gpus2-batch128-fp32'
    stats = [json.loads(line) for line in (run_dir / 'stats.jsonl').read_text().splitlines()]
    assert sum(s['Loss/loss']['num'] for s in stats) == 1024 * 64 # 8 steps x 128 images, gathered from both ranks
    assert (run_dir / 'network-snapshot-000001.pkl').is_file()

#----------------------------------------------------------------------------
# Augmentation (§5.7): a run with --augment trains a network with 9 augmentation labels, the
# snapshot carries the AugmentPipe, and generate.py's safe loader still samples from it.

def test_augment_run(tiny_run, tmp_path):
    args = [a for a in TINY if not a.startswith('--augment')]
    run_ok(f'--outdir={tmp_path}', f'--data={tiny_run["data"]}', '--cond=1', *args, '--augment=0.5', '--duration=0.001', '--batch=64',
           '--tick=1', '--nosubdir')
    opts = json.loads((tmp_path / 'training_options.json').read_text())
    assert opts['augment_kwargs']['p'] == 0.5 and opts['network_kwargs']['augment_dim'] == 9
    with open(tmp_path / 'network-snapshot-000001.pkl', 'rb') as f:
        data = pickle.load(f)
    assert type(data['augment_pipe']).__name__ == 'AugmentPipe' and data['augment_pipe'].xflip == 1e8
    assert data['ema'].model.map_augment.weight.shape[1] == 9
    import generate
    res = CliRunner().invoke(generate.main, [f'--network={tmp_path / "network-snapshot-000001.pkl"}', f'--outdir={tmp_path / "out"}',
        '--seeds=0', '--steps=3', '--device=cpu'], catch_exceptions=True)
    assert res.exit_code == 0, (res.output, res.exception)

#----------------------------------------------------------------------------
# AugmentPipe against closed forms.

def _smooth_images(n=8, c=1, h=16, w=16):
    yy, xx = torch.meshgrid(torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32), indexing='ij')
    base = torch.sin(xx / 3.0) * torch.cos(yy / 4.0) + 0.3 * xx / w
    return torch.stack([base * (1 + 0.1 * i) for i in range(n)])[:, None].repeat(1, c, 1, 1)

def test_sym6_filter_properties():
    from training.augment import wavelets
    h = np.asarray(wavelets['sym6'], dtype=np.float64)
    assert h.size == 12 and h.sum() == pytest.approx(np.sqrt(2), abs=1e-12)
    assert [float(np.dot(h[:h.size - 2 * k], h[2 * k:])) for k in range(6)] == pytest.approx([1, 0, 0, 0, 0, 0], abs=1e-12) # orthonormal
    g = h[::-1] * (-1.0) ** np.arange(h.size) # wavelet (high-pass) filter: 6 vanishing moments
    assert [float(np.sum(g * np.arange(h.size) ** q)) for q in range(6)] == pytest.approx([0] * 6, abs=1e-8)

def test_augment_pipe_closed_forms():
    from training.augment import AugmentPipe
    images = _smooth_images()
    torch.manual_seed(0)
    out, labels = AugmentPipe(p=0, xflip=1e8, yflip=1, scale=1, rotate_frac=1, aniso=1, translate_frac=1)(images)
    assert labels.shape == (8, 9) and (labels == 0).all()
    assert (out - images).abs().max() < 1e-5 # identity through pad/upsample/grid_sample/downsample/crop
    out, labels = AugmentPipe(p=1, xflip=1e8)(images)
    flipped = labels[:, 0] == 1
    assert 0 < int(flipped.sum()) < 8 and set(labels[:, 0].tolist()) <= {0.0, 1.0}
    expected = torch.where(flipped[:, None, None, None], images.flip(-1), images)
    assert (out - expected)[..., 3:-3, 3:-3].abs().max() < 0.02
    out, labels = AugmentPipe(p=1, translate_int=1, translate_int_max=0.25)(images)
    for i in range(8):
        tx, ty = int(round(float(labels[i, 0]) * 16)), int(round(float(labels[i, 1]) * 16))
        expected = torch.roll(images[i], shifts=(ty, tx), dims=(-2, -1))
        assert (out[i] - expected)[..., 5:-5, 5:-5].abs().max() < 1e-4
    out, labels = AugmentPipe(p=1, brightness=1)(images)
    assert torch.allclose(out, images + labels[:, 0].reshape(-1, 1, 1, 1), atol=1e-5)
    out, labels = AugmentPipe(p=1, contrast=1)(images)
    assert torch.allclose(out, images * torch.exp2(0.5 * labels[:, 0]).reshape(-1, 1, 1, 1), atol=1e-5)
    rgb = torch.rand(4, 3, 8, 8)
    out, labels = AugmentPipe(p=1, saturation=1, hue=1)(rgb)
    assert labels.shape == (4, 3) and torch.allclose(out.mean(dim=1), rgb.mean(dim=1), atol=1e-5) # luma kept

#----------------------------------------------------------------------------
# The embedded default builtin:mnist: a committed weights-only checkpoint (<= 5 MB) that samples
# recognisable digits of the requested class (judged by the project's own LeNet classifier, trained
# independently on real MNIST), and that denoises real test digits (when ../shared is present).

ASSET = ROOT / 'art' / 'assets' / 'mnist-edm.pt'

def test_builtin_mnist_checkpoint():
    assert ASSET.is_file() and ASSET.stat().st_size <= 5 * 2**20
    ckpt = torch.load(ASSET, map_location='cpu', weights_only=True)
    assert ckpt['class_name'] == 'training.networks.EDMPrecond' and ckpt['init_kwargs']['model_type'] == 'SongUNet'
    from torch_utils import loading
    from art.builtin import load_network as builtin_load
    net = builtin_load('builtin:mnist')
    assert (net.img_resolution, net.img_channels, net.label_dim, net.sigma_data) == (28, 1, 10, 0.5)
    assert not net.training and not any(p.requires_grad for p in net.parameters())

def test_builtin_mnist_samples_are_digits():
    from art.detectors import load_lenet
    from art.sampler import sample
    from art.schedules import get_sigmas
    from torch_utils import loading
    from art.builtin import load_network as builtin_load
    net = builtin_load('builtin:mnist')
    n = 40
    latents = torch.randn([n, 1, 28, 28], generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    classes = torch.arange(n) % 10
    sigmas = get_sigmas('edm', 18, net=net, sigma_min=0.002, sigma_max=80)
    with torch.no_grad():
        x = sample(net, latents, sigmas, torch.eye(10)[classes], solver='heun')
    images = (x * 127.5 + 128).clip(0, 255).to(torch.uint8)
    mean = float(images.double().mean() / 255)
    assert 0.05 < mean < 0.3, mean # MNIST: 0.13
    accuracy = float((load_lenet()(images).argmax(dim=1) == classes).double().mean())
    assert accuracy >= 0.3, accuracy # chance: 0.1; measured 0.52 on 100 samples at Heun 35 NFE

def test_builtin_mnist_denoises_real_digits(shared_root):
    from torch_utils import loading
    with np.load(shared_root / 'data' / 'mnist' / 'mnist_test_10k.npz') as z:
        x, y = z['x'][:200], z['y'][:200]
    images = torch.as_tensor(x[:, None], dtype=torch.float32) / 127.5 - 1
    labels = torch.eye(10)[torch.as_tensor(y, dtype=torch.int64)]
    from art.builtin import load_network as builtin_load
    net = builtin_load('builtin:mnist')
    gen = torch.Generator().manual_seed(0)
    for sigma in [0.2, 0.5, 1.0, 2.0]:
        noisy = images + sigma * torch.randn(images.shape, generator=gen)
        mse = float((net(noisy, torch.tensor(sigma), labels) - images).square().mean())
        # Reference: an untrained EDM net outputs about c_skip * (x + n) (its F starts near 0); require far less.
        c_skip = 0.25 / (sigma ** 2 + 0.25)
        baseline = float((c_skip * noisy - images).square().mean())
        assert mse < 0.35 * baseline, (sigma, mse, baseline)

#----------------------------------------------------------------------------
# The snapshot also loads in train_art.py (closed-form ART grid, tiny settings).

def test_snapshot_in_train_art(tiny_run, tmp_path):
    import train_art
    out = tmp_path / 'grid.json'
    res = CliRunner().invoke(train_art.main, [f'--network={tiny_run["run_dir"] / "network-snapshot-000002.pkl"}', '--steps=3',
        '--method=closed-form:trajectories=4:fine_steps=16', f'--out={out}', '--device=cpu'], catch_exceptions=True)
    assert res.exit_code == 0, (res.output, res.exception)
    sigmas = json.loads(out.read_text())['sigmas']
    assert len(sigmas) == 4 and sigmas[-1] == 0 and all(a > b for a, b in zip(sigmas, sigmas[1:]))

#----------------------------------------------------------------------------
