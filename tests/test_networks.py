# ART-EDM: learned time grids for EDM-style diffusion samplers.
# Copyright (c) 2026 The ART-EDM authors. Released under the MIT License (see LICENSE).

"""Tests of training/networks.py and training/loss.py against edm-spec.md §5.1-5.5: parameter
counts and names of the official configurations, layer formulas, the preconditioners' c_skip /
c_out / c_in / c_noise (recomputed independently in numpy float64), and the loss draw order."""

import ast
import math
import pathlib

import numpy as np
import pytest
import torch

from torch_utils import persistence
from training import networks as N
from training import loss as L

REPO = pathlib.Path(__file__).resolve().parents[1]

#----------------------------------------------------------------------------
# Official configurations (spec §5.2, §5.3), built on the meta device: no memory, no time.

DDPMPP = dict(embedding_type='positional', encoder_type='standard', decoder_type='standard', channel_mult_noise=1, resample_filter=[1,1], model_channels=128, channel_mult=[2,2,2])
NCSNPP = dict(embedding_type='fourier', encoder_type='residual', decoder_type='standard', channel_mult_noise=2, resample_filter=[1,3,3,1], model_channels=128, channel_mult=[2,2,2])

#----------------------------------------------------------------------------
def _meta(cls, **kwargs):
    with torch.device('meta'):
        return cls(**kwargs)

#----------------------------------------------------------------------------
def _count(net):
    return sum(p.numel() for p in net.parameters())

#----------------------------------------------------------------------------
@pytest.fixture(scope='module')
def cifar_ddpmpp():
    return _meta(N.EDMPrecond, img_resolution=32, img_channels=3, label_dim=10, use_fp16=False, sigma_min=0, sigma_max=float('inf'), sigma_data=0.5,
                 model_type='SongUNet', augment_dim=9, dropout=0.13, **DDPMPP)

#----------------------------------------------------------------------------
def test_param_count_cifar_ddpmpp(cifar_ddpmpp):
    params = list(cifar_ddpmpp.parameters())
    assert sum(p.numel() for p in params) == 55_735_299
    assert len(params) == 419
    assert sum(b.numel() for b in cifar_ddpmpp.buffers()) == 32

#----------------------------------------------------------------------------
def test_param_count_cifar_ncsnpp_and_ffhq():
    assert _count(_meta(N.EDMPrecond, img_resolution=32, img_channels=3, model_type='SongUNet', augment_dim=9, **NCSNPP)) == 56_397_827
    assert _count(_meta(N.EDMPrecond, img_resolution=32, img_channels=3, model_type='SongUNet', augment_dim=9, label_dim=10, **NCSNPP)) == 56_400_643
    ffhq = dict(img_resolution=64, img_channels=3, model_type='SongUNet', augment_dim=9)
    assert _count(_meta(N.EDMPrecond, **ffhq, **dict(DDPMPP, channel_mult=[1,2,2,2]))) == 61_805_571
    assert _count(_meta(N.EDMPrecond, **ffhq, **dict(NCSNPP, channel_mult=[1,2,2,2]))) == 62_761_091

#----------------------------------------------------------------------------
def test_param_count_imagenet_adm():
    net = _meta(N.EDMPrecond, img_resolution=64, img_channels=3, label_dim=1000, model_type='DhariwalUNet', model_channels=192, channel_mult=[1,2,3,4])
    assert _count(net) == 295_899_267
    sd = net.state_dict()
    assert 'model.map_label.weight' in sd and 'model.map_label.bias' not in sd
    assert sd['model.map_label.weight'].shape == (768, 1000)
    assert sd['model.out_conv.weight'].shape == (3, 192, 3, 3)
    assert list(net.model.enc.keys())[:5] == ['64x64_conv', '64x64_block0', '64x64_block1', '64x64_block2', '32x32_down']
    assert sd['model.enc.32x32_block0.qkv.weight'].shape == (3 * 384, 384, 1, 1) # Attention at 32x32, 384/64 = 6 heads.
    assert net.model.enc['32x32_block0'].num_heads == 6 and net.model.enc['64x64_block0'].num_heads == 0

#----------------------------------------------------------------------------
def test_key_names_cifar_ddpmpp(cifar_ddpmpp):
    enc = ['32x32_conv'] + [f'32x32_block{i}' for i in range(4)] + ['16x16_down'] + [f'16x16_block{i}' for i in range(4)] + ['8x8_down'] + [f'8x8_block{i}' for i in range(4)]
    dec = ['8x8_in0', '8x8_in1'] + [f'8x8_block{i}' for i in range(5)] + ['16x16_up'] + [f'16x16_block{i}' for i in range(5)] + ['32x32_up'] + [f'32x32_block{i}' for i in range(5)] + ['32x32_aux_norm', '32x32_aux_conv']
    assert list(cifar_ddpmpp.model.enc.keys()) == enc
    assert list(cifar_ddpmpp.model.dec.keys()) == dec
    sd = cifar_ddpmpp.state_dict()
    expected_shapes = {
        'model.map_label.weight':                   (128, 10),
        'model.map_label.bias':                     (128,),
        'model.map_augment.weight':                 (128, 9),
        'model.map_layer0.weight':                  (512, 128),
        'model.map_layer1.weight':                  (512, 512),
        'model.enc.32x32_conv.weight':              (128, 3, 3, 3),
        'model.enc.32x32_block0.norm0.weight':      (128,),
        'model.enc.32x32_block0.conv0.weight':      (256, 128, 3, 3),
        'model.enc.32x32_block0.affine.weight':     (256, 512),         # No adaptive scale: out channels, not 2x.
        'model.enc.32x32_block0.skip.weight':       (256, 128, 1, 1),
        'model.enc.16x16_block0.qkv.weight':        (768, 256, 1, 1),
        'model.enc.16x16_block0.proj.weight':       (256, 256, 1, 1),
        'model.enc.16x16_down.skip.weight':         (256, 256, 1, 1),   # resample_proj=True.
        'model.enc.16x16_down.conv0.resample_filter': (1, 1, 2, 2),
        'model.dec.8x8_in0.qkv.weight':             (768, 256, 1, 1),
        'model.dec.32x32_block0.conv0.weight':      (256, 512, 3, 3),
        'model.dec.32x32_aux_norm.weight':          (256,),
        'model.dec.32x32_aux_conv.weight':          (3, 256, 3, 3),
    }
    for key, shape in expected_shapes.items():
        assert tuple(sd[key].shape) == shape, key
    assert 'model.map_augment.bias' not in sd
    assert 'model.enc.32x32_block0.conv0.resample_filter' not in sd  # Registered as None without up/down.
    assert 'model.enc.32x32_block1.skip.weight' not in sd and cifar_ddpmpp.model.enc['32x32_block1'].skip is None
    assert 'model.dec.16x16_block4.qkv.weight' in sd and 'model.dec.16x16_block3.qkv.weight' not in sd

#----------------------------------------------------------------------------
def test_key_names_ncsnpp_and_skip_variants():
    net = _meta(N.SongUNet, img_resolution=32, in_channels=3, out_channels=3, **NCSNPP)
    sd = net.state_dict()
    assert sd['map_noise.freqs'].shape == (128,)
    assert sd['map_layer0.weight'].shape == (512, 256)
    assert sd['enc.16x16_aux_residual.weight'].shape == (256, 3, 3, 3)
    assert sd['enc.8x8_aux_residual.weight'].shape == (256, 256, 3, 3)
    assert sd['enc.16x16_down.conv0.resample_filter'].shape == (1, 1, 4, 4)
    net = _meta(N.SongUNet, img_resolution=32, in_channels=3, out_channels=3, model_channels=16, channel_mult=[1,2,2], encoder_type='skip', decoder_type='skip')
    assert list(net.enc.keys())[5:9] == ['16x16_down', '16x16_aux_down', '16x16_aux_skip', '16x16_block0']
    assert [k for k in net.dec.keys() if 'aux' in k] == ['8x8_aux_norm', '8x8_aux_conv', '16x16_aux_up', '16x16_aux_norm', '16x16_aux_conv',
                                                          '32x32_aux_up', '32x32_aux_norm', '32x32_aux_conv']
    assert net.state_dict()['enc.16x16_aux_skip.weight'].shape == (16, 3, 1, 1)  # cout of level 0
    assert 'enc.16x16_aux_down.weight' not in net.state_dict() and 'enc.16x16_aux_down.resample_filter' in net.state_dict()

#----------------------------------------------------------------------------
# Layers (spec §5.1).

#----------------------------------------------------------------------------
def test_weight_init_bounds_and_modes():
    torch.manual_seed(0)
    w = N.weight_init([200, 300], 'xavier_uniform', fan_in=300, fan_out=200)
    bound = math.sqrt(6 / 500)
    assert w.abs().max() <= bound and w.abs().max() > 0.99 * bound
    w = N.weight_init([400, 500], 'kaiming_normal', fan_in=500, fan_out=400)
    assert abs(w.std().item() - math.sqrt(1 / 500)) < 0.02 * math.sqrt(1 / 500)
    w = N.weight_init([400, 500], 'kaiming_uniform', fan_in=500, fan_out=400)
    assert w.abs().max() <= math.sqrt(3 / 500)
    w = N.weight_init([400, 500], 'xavier_normal', fan_in=500, fan_out=400)
    assert abs(w.std().item() - math.sqrt(2 / 900)) < 0.02 * math.sqrt(2 / 900)
    with pytest.raises(ValueError):
        N.weight_init([2, 2], 'bogus', fan_in=2, fan_out=2)
    lin = N.Linear(5, 7, init_mode='kaiming_uniform', init_weight=0, init_bias=0)
    assert lin.weight.abs().max() == 0 and lin.bias.abs().max() == 0

#----------------------------------------------------------------------------
def test_conv_resampling_matches_pooling_and_nearest():
    torch.manual_seed(0)
    x = torch.randn(2, 3, 8, 8)
    down = N.Conv2d(3, 3, kernel=0, down=True)                       # Box filter [1,1]: 2x2 average pooling.
    torch.testing.assert_close(down(x), torch.nn.functional.avg_pool2d(x, 2))
    up = N.Conv2d(3, 3, kernel=0, up=True)                           # [1,1] upsampling: nearest neighbour.
    torch.testing.assert_close(up(x), torch.nn.functional.interpolate(x, scale_factor=2, mode='nearest'))
    # [1,3,3,1]: the normalised filter keeps constants (away from the zero-padded border).
    c = torch.full([1, 2, 16, 16], 0.7)
    torch.testing.assert_close(N.Conv2d(2, 2, kernel=0, down=True, resample_filter=[1,3,3,1])(c)[..., 1:-1, 1:-1], torch.full([1, 2, 6, 6], 0.7))
    torch.testing.assert_close(N.Conv2d(2, 2, kernel=0, up=True, resample_filter=[1,3,3,1])(c)[..., 2:-2, 2:-2], torch.full([1, 2, 28, 28], 0.7))
    f = np.array([1, 3, 3, 1.]); f2 = np.outer(f, f) / f.sum() ** 2
    np.testing.assert_allclose(N.Conv2d(2, 2, kernel=0, down=True, resample_filter=[1,3,3,1]).resample_filter[0, 0].numpy(), f2)
    # Shapes of the fused and plain paths with a 3x3 kernel.
    for fused in [False, True]:
        assert N.Conv2d(3, 5, kernel=3, down=True, resample_filter=[1,3,3,1], fused_resample=fused)(x).shape == (2, 5, 4, 4)
        assert N.Conv2d(3, 5, kernel=3, up=True, resample_filter=[1,3,3,1], fused_resample=fused)(x).shape == (2, 5, 16, 16)
    with pytest.raises(AssertionError):
        N.Conv2d(3, 3, kernel=3, up=True, down=True)

#----------------------------------------------------------------------------
def test_conv_matches_torch_conv():
    torch.manual_seed(0)
    conv = N.Conv2d(3, 4, kernel=3, init_bias=1)
    x = torch.randn(2, 3, 6, 6)
    torch.testing.assert_close(conv(x), torch.nn.functional.conv2d(x, conv.weight, conv.bias, padding=1))

#----------------------------------------------------------------------------
def test_group_norm_groups():
    assert N.GroupNorm(16).num_groups == 4 and N.GroupNorm(256).num_groups == 32 and N.GroupNorm(96).num_groups == 24
    gn = N.GroupNorm(16, eps=1e-6)
    x = torch.randn(2, 16, 5, 5)
    ref = torch.nn.functional.group_norm(x.double(), 4, eps=1e-6).float()
    torch.testing.assert_close(gn(x), ref, atol=1e-5, rtol=1e-5)

#----------------------------------------------------------------------------
def test_attention_op_forward_backward():
    torch.manual_seed(0)
    q = torch.randn(3, 8, 10, requires_grad=True)
    k = torch.randn(3, 8, 12, requires_grad=True)
    w = N.AttentionOp.apply(q, k)
    q64, k64 = q.detach().double().requires_grad_(), k.detach().double().requires_grad_()
    w64 = torch.softmax(torch.einsum('ncq,nck->nqk', q64, k64) / math.sqrt(8), dim=2)
    torch.testing.assert_close(w.double(), w64, atol=1e-6, rtol=1e-5)
    g = torch.randn(3, 10, 12)
    (w * g).sum().backward()
    (w64 * g.double()).sum().backward()
    torch.testing.assert_close(q.grad.double(), q64.grad, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(k.grad.double(), k64.grad, atol=1e-5, rtol=1e-4)

#----------------------------------------------------------------------------
def test_unet_block_attention_interleaves_qkv():
    # Recompute the attention output from the qkv activations with the spec's channel layout,
    # channel index = (head * C/heads + c) * 3 + {0: q, 1: k, 2: v}, and compare with proj's input.
    torch.manual_seed(0)
    block = N.UNetBlock(8, 8, emb_channels=4, attention=True, num_heads=2).eval()
    seen = {}
    block.qkv.register_forward_hook(lambda m, i, o: seen.__setitem__('qkv', o.detach().double().numpy()))
    block.proj.register_forward_pre_hook(lambda m, i: seen.__setitem__('a', i[0].detach().double().numpy()))
    block(torch.randn(2, 8, 3, 3), torch.randn(2, 4))
    y = seen['qkv'].reshape(2, 24, 9)
    heads, ch = 2, 4
    a_ref = np.zeros([2, 8, 9])
    for n in range(2):
        for h in range(heads):
            idx = lambda c, j: (h * ch + c) * 3 + j
            q = np.stack([y[n, idx(c, 0)] for c in range(ch)])
            k = np.stack([y[n, idx(c, 1)] for c in range(ch)])
            v = np.stack([y[n, idx(c, 2)] for c in range(ch)])
            s = q.T @ k / np.sqrt(ch)                                  # [query, key]
            w = np.exp(s - s.max(1, keepdims=True)); w /= w.sum(1, keepdims=True)
            a_ref[n, h * ch:(h + 1) * ch] = v @ w.T                    # [c, query]
    np.testing.assert_allclose(seen['a'].reshape(2, 8, 9), a_ref, atol=1e-5)

#----------------------------------------------------------------------------
def test_embeddings():
    x = torch.tensor([0.3, -1.7, 4.0])
    ref = lambda f: np.concatenate([np.cos(np.outer(x.double().numpy(), f)), np.sin(np.outer(x.double().numpy(), f))], axis=1)
    for endpoint in [False, True]:
        f = (1 / 10000) ** (np.arange(8) / (8 - (1 if endpoint else 0)))
        np.testing.assert_allclose(N.PositionalEmbedding(16, endpoint=endpoint)(x).numpy(), ref(f), atol=1e-5)
    emb = N.FourierEmbedding(16, scale=3)
    np.testing.assert_allclose(emb(x).numpy(), ref(2 * np.pi * emb.freqs.double().numpy()), atol=2e-4)

#----------------------------------------------------------------------------
def test_songunet_noise_embedding_is_sin_then_cos():
    net = N.SongUNet(img_resolution=8, in_channels=1, out_channels=1, model_channels=16, channel_mult=[1], num_blocks=1, attn_resolutions=[])
    seen = {}
    net.map_layer0.register_forward_pre_hook(lambda m, i: seen.__setitem__('emb', i[0].detach().double().numpy()))
    c_noise = torch.tensor([0.25, 2.0])
    net(torch.zeros(2, 1, 8, 8), c_noise, None)
    f = (1 / 10000) ** (np.arange(8) / 7)                               # endpoint=True
    arg = np.outer(c_noise.double().numpy(), f)
    np.testing.assert_allclose(seen['emb'], np.concatenate([np.sin(arg), np.cos(arg)], axis=1), atol=1e-5)

#----------------------------------------------------------------------------
# Preconditioners (spec §5.4), checked with a recording stand-in for the inner model.

#----------------------------------------------------------------------------
class _RecordingModel(torch.nn.Module):
    def __init__(self, out_channels):
        super().__init__()
        self.out_channels = out_channels
    def forward(self, x, noise_labels, class_labels=None, augment_labels=None):
        self.x, self.noise_labels, self.class_labels = x, noise_labels, class_labels
        return torch.cos(x).repeat(1, self.out_channels // x.shape[1], 1, 1) * 0.3 + 0.1

#----------------------------------------------------------------------------
def _vp_sigma_inv(sigma, beta_d=19.9, beta_min=0.1):
    return (np.sqrt(beta_min ** 2 + 2 * beta_d * np.log(sigma ** 2 + 1)) - beta_min) / beta_d

#----------------------------------------------------------------------------
def _iddpm_u(M=1000, C_1=0.001, C_2=0.008):
    alpha_bar = lambda j: np.sin(0.5 * np.pi * j / M / (C_2 + 1)) ** 2
    u = np.zeros(M + 1)
    for j in range(M, 0, -1):
        u[j - 1] = np.sqrt((u[j] ** 2 + 1) / max(alpha_bar(j - 1) / alpha_bar(j), C_1) - 1)
    return u

_TINY = dict(model_channels=16, channel_mult=[1,2], num_blocks=1, attn_resolutions=[4])
_TINY_ADM = dict(model_channels=64, channel_mult=[1,1], num_blocks=1, attn_resolutions=[4])  # 64 channels = 1 head of 64.

#----------------------------------------------------------------------------
@pytest.mark.parametrize('kind', ['vp', 've', 'iddpm', 'edm'])
def test_precond_formulas(kind):
    sigma = np.array([0.002, 0.3, 1.0, 7.0, 80.0])
    if kind == 'vp':
        net = N.VPPrecond(8, 2, label_dim=3, **_TINY)
        c_skip, c_out, c_in, c_noise = 1, -sigma, 1 / np.sqrt(sigma ** 2 + 1), 999 * _vp_sigma_inv(sigma)
    elif kind == 've':
        net = N.VEPrecond(8, 2, label_dim=3, **_TINY)
        c_skip, c_out, c_in, c_noise = 1, sigma, np.ones_like(sigma), np.log(0.5 * sigma)
    elif kind == 'iddpm':
        net = N.iDDPMPrecond(8, 2, label_dim=3, **_TINY_ADM)
        idx = np.abs(_iddpm_u()[None, :] - sigma[:, None]).argmin(1)
        c_skip, c_out, c_in, c_noise = 1, -sigma, 1 / np.sqrt(sigma ** 2 + 1), 999 - idx
    else:
        net = N.EDMPrecond(8, 2, label_dim=3, sigma_data=0.6, model_type='SongUNet', **_TINY)
        sd = 0.6
        c_skip, c_out = sd ** 2 / (sigma ** 2 + sd ** 2), sigma * sd / np.sqrt(sigma ** 2 + sd ** 2)
        c_in, c_noise = 1 / np.sqrt(sd ** 2 + sigma ** 2), np.log(sigma) / 4
    out_ch = 4 if kind == 'iddpm' else 2
    net.model = _RecordingModel(out_ch)
    x = torch.randn(5, 2, 8, 8, dtype=torch.float64)
    labels = torch.eye(3)[[0, 1, 2, 0, 1]].double()
    D = net(x, torch.as_tensor(sigma), labels)
    assert D.dtype == torch.float32 and D.shape == x.shape
    r = lambda a: np.asarray(a, dtype=np.float64).reshape(-1, 1, 1, 1)
    x64 = x.to(torch.float32).double().numpy()
    np.testing.assert_allclose(net.model.x.double().numpy(), r(c_in) * x64, rtol=2e-6, atol=1e-7)
    np.testing.assert_allclose(net.model.noise_labels.double().numpy(), np.asarray(c_noise, dtype=np.float64), rtol=2e-6, atol=1e-3) # float32 log(1+s^2) at s=0.002 (VP).
    assert net.model.class_labels.dtype == torch.float32 and torch.equal(net.model.class_labels, labels.float())
    F = np.cos(net.model.x.double().numpy()) * 0.3 + 0.1
    np.testing.assert_allclose(D.double().numpy(), r(c_skip) * x64 + r(c_out) * F, rtol=1e-5, atol=1e-5)
    # No labels on a conditional net: zeros [1, label_dim]. Scalar sigma broadcasts.
    net(x, torch.tensor(1.0))
    assert torch.equal(net.model.class_labels, torch.zeros(1, 3))

#----------------------------------------------------------------------------
def test_precond_constants():
    vp = N.VPPrecond(8, 1, **_TINY)
    assert vp.sigma_min == 0.0009765625
    assert vp.sigma_max == pytest.approx(152.16697, rel=1e-6)
    assert vp.sigma_inv(vp.sigma(0.5)).item() == pytest.approx(0.5, rel=1e-5)
    idd = N.iDDPMPrecond(8, 1, **_TINY_ADM)
    u = _iddpm_u()
    np.testing.assert_allclose(idd.u.double().numpy(), u, rtol=1e-3)          # Built in float32, as in EDM (spec §5.4).
    assert idd.u.dtype == torch.float32 and idd.u.shape == (1001,)
    assert idd.sigma_min == pytest.approx(0.006422337, rel=1e-6) and idd.sigma_max == pytest.approx(20291.17, rel=1e-6)
    r = idd.round_sigma(torch.tensor(80.0, dtype=torch.float64))
    assert r.dtype == torch.float64 and r.shape == () and r.item() == pytest.approx(80.2037, abs=1e-4)
    s = torch.tensor([[0.01, 1.0], [5.0, 100.0]])
    idx = idd.round_sigma(s, return_index=True)
    assert idx.shape == (2, 2)
    np.testing.assert_array_equal(idx.numpy().ravel(), np.abs(u[None, :] - s.double().numpy().reshape(-1, 1)).argmin(1))
    edm = N.EDMPrecond(8, 1, model_type='SongUNet', **_TINY)
    assert (edm.sigma_min, edm.sigma_max, edm.sigma_data) == (0, float('inf'), 0.5)
    assert torch.equal(edm.round_sigma(torch.tensor([0.3, 2.0])), torch.tensor([0.3, 2.0]))
    ve = N.VEPrecond(8, 1, **_TINY)
    assert (ve.sigma_min, ve.sigma_max) == (0.02, 100)

#----------------------------------------------------------------------------
@pytest.mark.parametrize('cfg', [
    ('VPPrecond',    dict(**_TINY)),
    ('VEPrecond',    dict(**_TINY, embedding_type='fourier', encoder_type='residual', channel_mult_noise=2, resample_filter=[1,3,3,1])),
    ('VEPrecond',    dict(**_TINY, encoder_type='skip', decoder_type='skip')),
    ('iDDPMPrecond', dict(**_TINY_ADM)),
    ('EDMPrecond',   dict(**_TINY_ADM, augment_dim=9)),
    ('EDMPrecond',   dict(**_TINY, model_type='SongUNet', augment_dim=9, use_fp16=True)),
], ids=['vp-ddpmpp', 've-ncsnpp', 've-skip', 'iddpm-adm', 'edm-adm', 'edm-ddpmpp-fp16flag'])

#----------------------------------------------------------------------------
def test_precond_forward_backward(cfg):
    torch.manual_seed(0)
    name, kwargs = cfg
    net = getattr(N, name)(img_resolution=8, img_channels=2, label_dim=3, **kwargs).train()
    x = torch.randn(2, 2, 8, 8, requires_grad=True)
    extra = dict(augment_labels=torch.randn(2, 9)) if kwargs.get('augment_dim') else {}
    D = net(x, torch.tensor([0.5, 3.0]), torch.eye(3)[:2], **extra)         # use_fp16 has no effect on CPU.
    assert D.shape == x.shape and D.dtype == torch.float32 and torch.isfinite(D).all()
    D.square().mean().backward()
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in net.parameters())

#----------------------------------------------------------------------------
# Persistence and imports (so that our pickles load in official EDM, and the safe loader maps by name).

#----------------------------------------------------------------------------
def test_classes_are_persistent_and_record_init_kwargs():
    for name in ['Linear', 'Conv2d', 'GroupNorm', 'UNetBlock', 'PositionalEmbedding', 'FourierEmbedding', 'SongUNet', 'DhariwalUNet',
                 'VPPrecond', 'VEPrecond', 'iDDPMPrecond', 'EDMPrecond']:
        assert persistence.is_persistent(getattr(N, name)), name
    for name in ['EDMLoss', 'VPLoss', 'VELoss']:
        assert persistence.is_persistent(getattr(L, name)), name
    net = N.EDMPrecond(8, 1, model_type='SongUNet', **_TINY)
    assert net.init_kwargs.model_type == 'SongUNet' and net.init_args == (8, 1)
    assert type(net).__name__ == 'EDMPrecond' and isinstance(net.model, N.SongUNet)

#----------------------------------------------------------------------------
@pytest.mark.parametrize('path', ['training/networks.py', 'training/loss.py', 'training/dit.py'])
def test_modules_import_only_numpy_torch_persistence(path):
    tree = ast.parse((REPO / path).read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            names.update(f'{node.module}.{a.name}' for a in node.names)
    assert names <= {'numpy', 'torch', 'torch_utils.persistence', 'torch.nn.functional.silu'}, names

#----------------------------------------------------------------------------
# Losses (spec §5.5): sigma first, then augmentation, then noise; unreduced weighted MSE.

#----------------------------------------------------------------------------
class _RecordingNet:
    def __call__(self, x, sigma, labels, augment_labels=None):
        self.x, self.sigma, self.labels, self.augment_labels = x, sigma, labels, augment_labels
        return 0.5 * x

#----------------------------------------------------------------------------
class _Augment:
    def __call__(self, images):
        flip = torch.rand([images.shape[0], 1, 1, 1]) < 0.5                 # Consumes the RNG between sigma and noise.
        return torch.where(flip, -images, images), flip.reshape(-1, 1).float().repeat(1, 9)

#----------------------------------------------------------------------------
@pytest.mark.parametrize('kind', ['edm', 'vp', 've'])
@pytest.mark.parametrize('augment', [False, True])
def test_loss_draw_order_and_value(kind, augment):
    images = torch.randn(6, 1, 4, 4)
    labels = torch.eye(10)[:6]
    loss_fn = {'edm': L.EDMLoss(), 'vp': L.VPLoss(), 've': L.VELoss()}[kind]
    net = _RecordingNet()
    torch.manual_seed(123)
    loss = loss_fn(net, images, labels, augment_pipe=_Augment() if augment else None)
    # Independent replay of the draws in the specified order.
    torch.manual_seed(123)
    if kind == 'edm':
        sigma = np.exp(torch.randn([6, 1, 1, 1]).double().numpy() * 1.2 - 1.2)
        weight = (sigma ** 2 + 0.25) / (sigma * 0.5) ** 2
    else:
        u = torch.rand([6, 1, 1, 1]).double().numpy()
        if kind == 'vp':
            t = 1 + u * (1e-5 - 1)
            sigma = np.sqrt(np.exp(0.5 * 19.9 * t ** 2 + 0.1 * t) - 1)
        else:
            sigma = 0.02 * (100 / 0.02) ** u
        weight = 1 / sigma ** 2
    y, aug = _Augment()(images) if augment else (images, None)
    n = torch.randn_like(y).double().numpy() * sigma
    np.testing.assert_allclose(net.sigma.double().numpy(), sigma, rtol=1e-5)
    np.testing.assert_allclose(net.x.double().numpy(), y.double().numpy() + n, rtol=1e-4, atol=1e-5)
    assert torch.equal(net.labels, labels)
    assert (net.augment_labels is None) if not augment else torch.equal(net.augment_labels, aug)
    expected = weight * (0.5 * (y.double().numpy() + n) - y.double().numpy()) ** 2
    assert loss.shape == images.shape
    np.testing.assert_allclose(loss.double().numpy(), expected, rtol=1e-3, atol=1e-6)

#----------------------------------------------------------------------------
def test_edm_loss_trains_a_tiny_network():
    # One EDMLoss gradient step on a tiny EDMPrecond(SongUNet) runs and reduces nothing to NaN.
    torch.manual_seed(0)
    net = N.EDMPrecond(8, 1, model_type='SongUNet', augment_dim=0, dropout=0, **_TINY)
    loss = L.EDMLoss()(net, torch.randn(4, 1, 8, 8), None).mean()
    loss.backward()
    assert torch.isfinite(loss) and all(torch.isfinite(p.grad).all() for p in net.parameters())

#----------------------------------------------------------------------------

#----------------------------------------------------------------------------
# The fp16 code path (used by use_fp16 on CUDA) on CPU: half in, half out, close to float32.

@pytest.mark.parametrize('model_type', ['SongUNet', 'DhariwalUNet'])
def test_inner_model_runs_in_half_precision(model_type):
    torch.manual_seed(0)
    kwargs = _TINY if model_type == 'SongUNet' else dict(_TINY_ADM, augment_dim=9)
    net = N.EDMPrecond(8, 2, label_dim=3, use_fp16=True, model_type=model_type, **kwargs).eval()
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randn_like(p) * 0.2)                           # Non-zero everywhere (the init zeroes output layers).
    x = torch.randn(2, 2, 8, 8)
    c_noise, labels = torch.tensor([-1.0, 0.5]), torch.eye(3)[:2]
    F16 = net.model(x.half(), c_noise, class_labels=labels)
    F32 = net.model(x, c_noise, class_labels=labels)
    assert F16.dtype == torch.float16 and F32.dtype == torch.float32
    assert F32.abs().mean() > 0.1
    assert (F16.float() - F32).abs().max() < 0.02 * F32.abs().max()
    assert net(x, torch.tensor([0.5, 2.0]), labels).dtype == torch.float32   # CPU: use_fp16 falls back to float32.
