# ART-EDM: learned time grids for EDM-style diffusion samplers.
# Copyright (c) 2026 The ART-EDM authors. Released under the MIT License (see LICENSE).

"""Feature detectors for Fréchet distances (docs/edm-spec.md §3, ../shared/data/README.md §3.2).

Every detector follows the interface of EDM's Inception pickle: `detector(images, return_features=True)`
takes uint8 NCHW images (3 channels, native resolution, not normalised) and returns float features
[N, feature_dim]; it resizes and normalises internally. `load_detector(spec, device, trust=False)` returns
`(detector, label)`:

- the official Inception-v3 pickle (the default, `INCEPTION_URL`), or any URL/path of a pickle with the
  same interface: label "FID". A pickle can carry code, so it is only unpickled with trust=True
  (CLI `--trust-pickle`); without it the spec is refused with one line;
- `resnet56-cifar10:PATH` / `resnet20-cifar10:PATH`: 64-d pooled features of the option-A CIFAR-10
  ResNet (He et al. 2016) from the given weights file: label "FD-ResNet56" / "FD-ResNet20";
- `lenet-mnist[:PATH]`: the penultimate (84-d, pre-activation) layer of the project's own LeNet-5
  MNIST classifier (art/assets/lenet-mnist.pt, trained by tools/train_lenet.py): label "FD-LeNet",
  in the spirit of the "LeNet-FID" of the ART paper's MNIST experiment (docs/art-paper.md).

A stand-in's number is a Fréchet distance in its own feature space, never an FID: do not compare it
with published FID values.
"""

import os
import pathlib

import torch
import torch.nn.functional as F

import dnnlib

INCEPTION_URL = 'https://api.ngc.nvidia.com/v2/models/nvidia/research/stylegan3/versions/1/files/metrics/inception-2015-12-05.pkl'
INCEPTION_FILE = 'inception-2015-12-05.pkl'
ASSETS_DIR = pathlib.Path(__file__).resolve().parent / 'assets'
LENET_WEIGHTS = ASSETS_DIR / 'lenet-mnist.pt'
LENET_MNIST_REF = ASSETS_DIR / 'mnist-lenet-ref.npz'

IMAGENET_MEAN = (0.485, 0.456, 0.406) # Normalisation the CIFAR ResNets were trained with (README §3.2).
IMAGENET_STD = (0.229, 0.224, 0.225)
MNIST_MEAN = 0.1307                   # Normalisation of the project's LeNet (tools/train_lenet.py).
MNIST_STD = 0.3081

#----------------------------------------------------------------------------
# Shared input handling: uint8 NCHW -> float in [0, 1] at the detector's resolution.

def _to_unit_float(images, channels, resolution):
    x = torch.as_tensor(images)
    if x.ndim != 4:
        raise ValueError(f'detector input must be NCHW, got shape {tuple(x.shape)}')
    x = x.to(torch.float32)
    if channels == 3 and x.shape[1] == 1:
        x = x.repeat(1, 3, 1, 1)
    elif channels == 1 and x.shape[1] == 3:
        x = x.mean(dim=1, keepdim=True) # Exact for grey images repeated to 3 channels (integer values).
    if x.shape[1] != channels:
        raise ValueError(f'detector expects {channels} or {4 - channels} channels, got {x.shape[1]}')
    x = x / 255
    if x.shape[2] != resolution or x.shape[3] != resolution:
        x = F.interpolate(x, size=(resolution, resolution), mode='bilinear', align_corners=False, antialias=True)
    return x

#----------------------------------------------------------------------------
# CIFAR-10 ResNet with option-A (parameter-free) shortcuts, README §3.2.

class BasicBlock(torch.nn.Module):
    def __init__(self, in_planes, planes, stride=1):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(in_planes, planes, kernel_size=3, stride=stride, padding=1, bias=False)
        self.bn1 = torch.nn.BatchNorm2d(planes)
        self.conv2 = torch.nn.Conv2d(planes, planes, kernel_size=3, stride=1, padding=1, bias=False)
        self.bn2 = torch.nn.BatchNorm2d(planes)
        self.pad = (planes - in_planes) // 2 if (stride != 1 or in_planes != planes) else None

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        shortcut = x
        if self.pad is not None: # Option A: subsample, then zero-pad the channel axis on both sides.
            shortcut = F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, self.pad, self.pad))
        return F.relu(y + shortcut)

#----------------------------------------------------------------------------

class CifarResNet(torch.nn.Module):
    """ResNet-(6n+2) for 32x32 CIFAR-10; n=3 is ResNet-20, n=9 is ResNet-56."""
    def __init__(self, n, num_classes=10):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(3, 16, kernel_size=3, stride=1, padding=1, bias=False)
        self.bn1 = torch.nn.BatchNorm2d(16)
        stages, in_planes = [], 16
        for planes, stride in [(16, 1), (32, 2), (64, 2)]:
            blocks = []
            for i in range(n):
                blocks.append(BasicBlock(in_planes, planes, stride if i == 0 else 1))
                in_planes = planes
            stages.append(torch.nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3 = stages
        self.linear = torch.nn.Linear(64, num_classes)

    def features(self, x):
        """Normalised float input [N,3,32,32] -> 64-d globally pooled features."""
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return x.mean(dim=(2, 3))

    def forward(self, x):
        return self.linear(self.features(x))

#----------------------------------------------------------------------------
# LeNet-5 style MNIST classifier (trained by tools/train_lenet.py).

class LeNet(torch.nn.Module):
    def __init__(self, num_classes=10):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(1, 6, kernel_size=5, padding=2)  # 28x28 -> 28x28, pool -> 14x14
        self.conv2 = torch.nn.Conv2d(6, 16, kernel_size=5)            # 14x14 -> 10x10, pool -> 5x5
        self.fc1 = torch.nn.Linear(16 * 5 * 5, 120)
        self.fc2 = torch.nn.Linear(120, 84)
        self.fc3 = torch.nn.Linear(84, num_classes)

    def features(self, x):
        """Normalised float input [N,1,28,28] -> 84-d penultimate features (before the ReLU)."""
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = F.relu(self.fc1(x.flatten(1)))
        return self.fc2(x)

    def forward(self, x):
        return self.fc3(F.relu(self.features(x)))

#----------------------------------------------------------------------------
# Detector wrapper with the Inception pickle's calling convention.

class FeatureDetector(torch.nn.Module):
    """Wraps a classifier with `.features(x)`; call as `det(uint8 NCHW, return_features=True)`."""
    def __init__(self, model, label, channels, resolution, mean, std):
        super().__init__()
        self.model = model
        self.label = label
        self.channels = channels
        self.resolution = resolution
        self.register_buffer('mean', torch.tensor(mean, dtype=torch.float32).reshape(1, -1, 1, 1))
        self.register_buffer('std', torch.tensor(std, dtype=torch.float32).reshape(1, -1, 1, 1))
        self.feature_dim = model.fc2.out_features if isinstance(model, LeNet) else model.linear.in_features

    def normalize(self, images):
        x = _to_unit_float(images, self.channels, self.resolution).to(self.mean.device)
        return (x - self.mean) / self.std

    @torch.no_grad()
    def forward(self, images, return_features=False):
        x = self.normalize(images)
        return self.model.features(x) if return_features else self.model(x)

#----------------------------------------------------------------------------
# Loaders for each detector spec.

def _load_state_dict(path, what):
    path = os.path.expanduser(str(path))
    if not os.path.isfile(path):
        raise dnnlib.UserError(f'{what} weights "{path}" not found: pass the path of the weights file')
    try:
        ckpt = torch.load(path, map_location='cpu', weights_only=True)
    except Exception as e:
        raise dnnlib.UserError(f'Cannot read {what} weights "{path}" ({type(e).__name__}): pass a valid weights file') from None
    state = ckpt.get('state_dict', ckpt) if isinstance(ckpt, dict) else None
    if not isinstance(state, dict):
        raise dnnlib.UserError(f'{what} weights "{path}" hold no state dict')
    return {k.removeprefix('module.'): v for k, v in state.items()}

#----------------------------------------------------------------------------

def _load_into(model, state, path, what):
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError:
        raise dnnlib.UserError(f'{what} weights "{path}" do not match the {what} architecture') from None
    return model

#----------------------------------------------------------------------------

def load_cifar_resnet(n, path, device='cpu'):
    label = f'FD-ResNet{6 * n + 2}'
    what = f'ResNet-{6 * n + 2}'
    model = _load_into(CifarResNet(n), _load_state_dict(path, what), path, what)
    det = FeatureDetector(model, label, channels=3, resolution=32, mean=IMAGENET_MEAN, std=IMAGENET_STD)
    return det.eval().requires_grad_(False).to(device)

#----------------------------------------------------------------------------

def load_lenet(path=None, device='cpu'):
    path = LENET_WEIGHTS if path is None else path
    model = _load_into(LeNet(), _load_state_dict(path, 'LeNet'), path, 'LeNet')
    det = FeatureDetector(model, 'FD-LeNet', channels=1, resolution=28, mean=(MNIST_MEAN,), std=(MNIST_STD,))
    return det.eval().requires_grad_(False).to(device)

#----------------------------------------------------------------------------
# Pickled detectors (the official Inception-v3 and anything with its interface).

def inception_cache_file():
    """Where open_url looks for the Inception pickle (any name starting with '<md5(url)>_' works)."""
    return os.path.join(dnnlib.make_cache_dir_path('downloads'), f'{dnnlib.util.url_md5(INCEPTION_URL)}_{INCEPTION_FILE}')

#----------------------------------------------------------------------------

def _refuse_untrusted(url_or_path):
    return dnnlib.UserError(f'The detector file "{url_or_path}" is a pickle and can carry code; pass --trust-pickle (trust=True) '
                            'to run it (only for files you trust), or use an offline stand-in: resnet56-cifar10:PATH, resnet20-cifar10:PATH, lenet-mnist')

def load_pickled_detector(url_or_path, device='cpu', verbose=True, trust=False):
    """Load a detector pickle. EDM loads the official Inception pickle (NVIDIA's StyleGAN3 translation
    of TF's Inception-v3) with plain pickle.load; its classes are not ours, so it can only be unpickled
    with the project's loader in trusted mode, which runs code embedded in the pickle. Without
    trust=True it is refused (before any download) with a UserError."""
    if dnnlib.util.is_url(url_or_path) and not url_or_path.startswith('file://'):
        if not trust:
            raise _refuse_untrusted(url_or_path)
        try:
            path = dnnlib.util.open_url(url_or_path, verbose=verbose, return_filename=True)
        except dnnlib.UserError as e:
            if url_or_path != INCEPTION_URL:
                raise
            raise dnnlib.UserError(f'Cannot download the Inception-v3 detector (offline?): put {INCEPTION_FILE} (from {INCEPTION_URL}) '
                                   f'at "{inception_cache_file()}", or pass --detector=PATH; offline stand-ins: '
                                   'resnet56-cifar10:PATH, resnet20-cifar10:PATH, lenet-mnist') from e
    else:
        path = dnnlib.util.open_url(url_or_path, return_filename=True) # Local path or file:// URL.
        if not os.path.isfile(path):
            raise dnnlib.UserError(f'Unknown detector "{url_or_path}": pass an Inception-style pickle (path or URL), '
                                   'resnet56-cifar10:PATH, resnet20-cifar10:PATH or lenet-mnist')
        if not trust:
            raise _refuse_untrusted(url_or_path)
    try:
        detector = _unpickle_trusted(path)
    except dnnlib.UserError:
        raise
    except Exception as e:
        raise dnnlib.UserError(f'Cannot load the detector pickle "{url_or_path}" ({type(e).__name__}: {e}): pass a pickled detector network') from None
    if not callable(detector):
        raise dnnlib.UserError(f'Detector pickle "{url_or_path}" does not hold a callable network')
    if isinstance(detector, torch.nn.Module):
        detector = detector.eval().requires_grad_(False).to(device)
    return detector

#----------------------------------------------------------------------------

def _unpickle_trusted(path):
    from torch_utils import loading # pylint: disable=import-outside-toplevel # Keeps `import art.detectors` cheap.
    return loading.load_pickle(path, trust=True, verbose=False)

#----------------------------------------------------------------------------
# Entry point.

_RESNET_DEPTHS = {'resnet20-cifar10': 3, 'resnet56-cifar10': 9}

#----------------------------------------------------------------------------

def load_detector(spec=None, device='cpu', verbose=True, trust=False):
    """Return (detector, label) for a --detector spec (None = the official Inception-v3 pickle).
    Pickled detectors (the Inception one included) need trust=True; the stand-ins never do."""
    spec = INCEPTION_URL if spec in (None, '', 'inception') else str(spec)
    name, _, arg = spec.partition(':')
    if name in _RESNET_DEPTHS:
        if not arg:
            raise dnnlib.UserError(f'--detector={name} needs the weights file: --detector={name}:PATH')
        det = load_cifar_resnet(_RESNET_DEPTHS[name], arg, device)
        return det, det.label
    if name == 'lenet-mnist':
        det = load_lenet(arg or None, device)
        return det, det.label
    return load_pickled_detector(spec, device, verbose=verbose, trust=trust), 'FID'

#----------------------------------------------------------------------------
# Feature dimension (ours carry it; for pickles, probe once with one image).

def feature_dim(detector, image_shape, device='cpu'):
    dim = getattr(detector, 'feature_dim', None)
    if dim is None:
        probe = torch.zeros([1, 3] + list(image_shape[1:]), dtype=torch.uint8, device=device)
        dim = int(detector(probe, return_features=True).shape[1])
    return dim
