# ART-EDM: learned time grids for EDM-style diffusion samplers.
# Copyright (c) 2026 The ART-EDM authors. Released under the MIT License (see LICENSE).

"""Tests of training/dit.py and builtin:mnist-dit (data/README.md §3.1): state-dict layout,
EDM preconditioning, label handling, forward-mode AD, the committed weights (checksum, strict load,
samples of the requested class), and -- when the shared folder is present -- denoising real MNIST digits."""

import hashlib
import pathlib

import numpy as np
import pytest
import torch

import dnnlib
from art import builtin
from art.builtin import load_builtin
from training import dit

#----------------------------------------------------------------------------
# State-dict keys written out from the architecture description (99 tensors).

#----------------------------------------------------------------------------
def _expected_shapes():
    shapes = {
        'model.patch_pos_emb': (1, 49, 64), 'model.conv.weight': (16, 1, 4, 4), 'model.conv.bias': (16,),
        'model.patch_emb.weight': (64, 16), 'model.patch_emb.bias': (64,), 'model.time_emb.0.half_emb': (32,),
        'model.time_emb.1.weight': (64, 64), 'model.time_emb.1.bias': (64,), 'model.time_emb.3.weight': (64, 64), 'model.time_emb.3.bias': (64,),
        'model.label_emb.weight': (10, 64), 'model.ln.weight': (64,), 'model.ln.bias': (64,), 'model.linear.weight': (16, 64), 'model.linear.bias': (16,),
    }
    for i in range(3):
        b = f'model.dits.{i}.'
        for name in ['gamma1', 'beta1', 'alpha1', 'gamma2', 'beta2', 'alpha2']:
            shapes[b + name + '.weight'], shapes[b + name + '.bias'] = (64, 64), (64,)
        for name in ['ln1', 'ln2']:
            shapes[b + name + '.weight'], shapes[b + name + '.bias'] = (64,), (64,)
        for name in ['wq', 'wk', 'wv']:
            shapes[b + name + '.weight'], shapes[b + name + '.bias'] = (256, 64), (256,)
        shapes[b + 'lv.weight'], shapes[b + 'lv.bias'] = (64, 256), (64,)
        shapes[b + 'ff.0.weight'], shapes[b + 'ff.0.bias'] = (256, 64), (256,)
        shapes[b + 'ff.2.weight'], shapes[b + 'ff.2.bias'] = (64, 256), (64,)
    return shapes

#----------------------------------------------------------------------------
def test_state_dict_layout():
    net = dit.DiTPrecond()
    sd = net.state_dict()
    expected = _expected_shapes()
    assert len(expected) == 99
    assert {k: tuple(v.shape) for k, v in sd.items()} == expected
    assert sum(p.numel() for p in net.parameters()) == 388_640
    f = np.exp(-np.arange(32) * np.log(10000) / 31)
    np.testing.assert_allclose(net.model.time_emb[0].half_emb.double().numpy(), f, rtol=1e-6)
    assert (net.img_resolution, net.img_channels, net.label_dim) == (28, 1, 10)
    assert (net.sigma_min, net.sigma_max, net.sigma_data) == (0, float('inf'), 0.5)
    assert torch.equal(net.round_sigma(torch.tensor([0.1, 3.0])), torch.tensor([0.1, 3.0]))

#----------------------------------------------------------------------------
# Preconditioning and label handling with random weights.

#----------------------------------------------------------------------------
class _RecordingDiT(torch.nn.Module):
    def forward(self, x, c_noise, labels):
        self.x, self.c_noise, self.labels = x, c_noise, labels
        return torch.sin(x) * 0.7

#----------------------------------------------------------------------------
def test_edm_preconditioning_and_labels():
    net = dit.DiTPrecond()
    net.model = _RecordingDiT()
    sigma = np.array([0.01, 0.5, 2.0, 40.0])
    x = torch.randn(4, 1, 28, 28)
    y = torch.tensor([3, 0, 9, 5])
    D = net(x, torch.as_tensor(sigma), torch.nn.functional.one_hot(y, 10).float())
    assert torch.equal(net.model.labels, y)
    c_skip = 0.25 / (sigma ** 2 + 0.25); c_out = 0.5 * sigma / np.sqrt(sigma ** 2 + 0.25); c_in = 1 / np.sqrt(sigma ** 2 + 0.25)
    r = lambda a: a.reshape(-1, 1, 1, 1)
    np.testing.assert_allclose(net.model.x.double().numpy(), r(c_in) * x.double().numpy(), rtol=1e-6)
    np.testing.assert_allclose(net.model.c_noise.double().numpy(), np.log(sigma) / 4, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(D.double().numpy(), r(c_skip) * x.double().numpy() + r(c_out) * np.sin(net.model.x.double().numpy()) * 0.7, rtol=1e-5, atol=1e-6)
    # Integer labels; scalar sigma and a single label broadcast over the batch.
    net(x, torch.tensor(1.0, dtype=torch.float64), torch.tensor(7))
    assert torch.equal(net.model.labels, torch.full([4], 7)) and net.model.c_noise.shape == (4,)
    with pytest.raises(ValueError, match='class-conditional'):
        net(x, torch.tensor(1.0))

#----------------------------------------------------------------------------
@pytest.mark.filterwarnings('ignore:.*torch.jit.script.*:DeprecationWarning') # torch's own jvp decompositions use jit.script.
def test_random_dit_runs_one_hot_equals_int_and_supports_jvp():
    torch.manual_seed(0)
    net = dit.DiTPrecond().eval()
    x = torch.randn(3, 1, 28, 28)
    sigma = torch.tensor([0.3, 1.0, 4.0])
    y = torch.tensor([1, 2, 3])
    D = net(x, sigma, torch.nn.functional.one_hot(y, 10).float())
    assert D.shape == x.shape and D.dtype == torch.float32
    torch.testing.assert_close(D, net(x, sigma, y), rtol=0, atol=0)
    # Forward-mode AD through the whole denoiser agrees with a central finite difference.
    v = torch.randn_like(x)
    f = lambda x_: net(x_, sigma, y)
    with torch.autograd.forward_ad.dual_level():
        jv = torch.autograd.forward_ad.unpack_dual(f(torch.autograd.forward_ad.make_dual(x, v))).tangent
    eps = 1e-2
    fd = (f(x + eps * v) - f(x - eps * v)) / (2 * eps)
    assert (jv - fd).norm() / fd.norm() < 1e-2

#----------------------------------------------------------------------------
def test_builtin_missing_file_is_a_user_error(monkeypatch, tmp_path):
    monkeypatch.setenv('ART_MNIST_DIT', str(tmp_path / 'nope.npz'))
    with pytest.raises(dnnlib.UserError, match='ART_MNIST_DIT') as info:
        load_builtin('mnist-dit')
    assert '\n' not in str(info.value)

#----------------------------------------------------------------------------
# The committed pretrained weights.

DIT_SHA256 = 'cb5317c102aba0957f55bb34394659c4678a92ac8f9152481627f4befaeec9c4' # data/README.md §1.

@pytest.fixture
def pretrained(monkeypatch):
    monkeypatch.delenv('ART_MNIST_DIT', raising=False)
    return load_builtin('mnist-dit')

#----------------------------------------------------------------------------
def test_committed_weights_checksum_and_strict_load(pretrained):
    weights = pathlib.Path(builtin.__file__).parent / 'assets' / 'edm-dit-mnist-11000.npz'
    assert hashlib.sha256(weights.read_bytes()).hexdigest() == DIT_SHA256
    assert (weights.parent / 'LICENSE-edm-dit-mnist-MIT.txt').read_text().startswith('MIT License')
    with np.load(weights) as z:
        stored = {k: z[k] for k in z.files}
    sd = pretrained.state_dict()
    assert len(stored) == 99 and set(sd) == set(stored)
    assert all(np.array_equal(sd[k].numpy(), stored[k]) for k in stored)
    assert not pretrained.training and not any(p.requires_grad for p in pretrained.parameters())

#----------------------------------------------------------------------------
def test_env_override_loads_another_file(monkeypatch, tmp_path):
    torch.manual_seed(0)
    other = dit.DiTPrecond()
    np.savez(tmp_path / 'other.npz', **{k: v.numpy() for k, v in other.state_dict().items()})
    monkeypatch.setenv('ART_MNIST_DIT', str(tmp_path / 'other.npz'))
    net = load_builtin('mnist-dit')
    assert torch.equal(net.model.linear.weight, other.model.linear.weight)

#----------------------------------------------------------------------------
def test_pretrained_samples_are_digits_of_the_requested_class(pretrained):
    """Heun, EDM grid (18 steps, 35 NFE): the project's own LeNet classifier (trained on real MNIST)
    reads the requested class in at least 40 of 50 samples (a randomly initialised DiT: about 5 of 50);
    mean brightness is MNIST-like (real MNIST: 0.13; the random DiT: 0.48)."""
    from art import detectors, sampler, schedules
    labels = torch.arange(50) % 10
    latents = torch.randn([50, 1, 28, 28], generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    sigmas = schedules.get_sigmas('edm', 18, sigma_min=0.002, sigma_max=80.0)
    x = sampler.sample(pretrained, latents, sigmas, torch.eye(10)[labels], solver='heun')
    images = (x * 127.5 + 128).clip(0, 255).to(torch.uint8)
    predicted = detectors.load_lenet()(images).argmax(dim=1)
    assert int((predicted == labels).sum()) >= 40, predicted.tolist()
    assert 0.08 < float(images.double().mean()) / 255 < 0.22

#----------------------------------------------------------------------------
# The pretrained weights on real digits (skips without the shared folder, which holds MNIST).

#----------------------------------------------------------------------------
def test_pretrained_weights_denoise_real_mnist(shared_root, pretrained):
    data = shared_root / 'data' / 'mnist' / 'mnist_test_10k.npz'
    if not data.is_file():
        pytest.skip('mnist_test_10k.npz not in the shared folder')
    net = pretrained
    with np.load(data) as z:
        x, y = z['x'][:200], z['y'][:200]
    x = torch.from_numpy(x[:, None].astype(np.float32) / 127.5 - 1)
    labels = torch.nn.functional.one_hot(torch.from_numpy(y.astype(np.int64)), 10).float()
    gen = torch.Generator().manual_seed(1)
    reference = {0.2: 0.0036, 1.0: 0.036, 5.0: 0.17}   # data/README.md §3.1 (500 digits).
    with torch.no_grad():
        for sigma, ref in reference.items():
            n = torch.randn(x.shape, generator=gen)
            mse = ((net(x + sigma * n, torch.tensor(sigma, dtype=torch.float64), labels) - x) ** 2).mean().item()
            assert mse < 0.1 * sigma ** 2, (sigma, mse)          # Far below MSE(x + n, x) = sigma^2.
            assert 0.7 * ref < mse < 1.4 * ref, (sigma, mse, ref)

#----------------------------------------------------------------------------
