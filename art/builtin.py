# ART-EDM: learned time grids for EDM-style diffusion samplers.
# Copyright (c) 2026 The ART-EDM authors. Released under the MIT License (see LICENSE).

"""Named built-in networks, loaded as `--network=builtin:NAME` by every script.

Each entry is a factory `(device) -> torch.nn.Module` returning a denoiser with EDM's interface:
`net(x, sigma, class_labels=None)` -> D(x; sigma), plus the attributes `img_resolution`,
`img_channels`, `label_dim`, `sigma_min`, `sigma_max`, `sigma_data` and `round_sigma(sigma)`.
"""

import os
import pathlib

import dnnlib

#----------------------------------------------------------------------------
# Location of the optional shared data/weights folder (tests and benchmarks only).

def shared_dir():
    """Folder holding data/ and weights/: $ART_SHARED_DIR, else ../shared next to the repository.
    Returns None when it does not exist."""
    env = os.environ.get('ART_SHARED_DIR')
    root = pathlib.Path(env) if env else pathlib.Path(__file__).resolve().parents[1].parent / 'shared'
    return root if (root / 'data').is_dir() or (root / 'weights').is_dir() else None

#----------------------------------------------------------------------------
# Registry.

_builtins = dict()  # name -> (factory(device) -> nn.Module, one-line description)

def register(name, description):
    """Decorator registering a factory `fn(device) -> nn.Module` under builtin:NAME."""
    def decorator(fn):
        _builtins[name] = (fn, description)
        return fn
    return decorator

def list_builtins():
    return {name: desc for name, (_fn, desc) in sorted(_builtins.items())}

def load_network(spec, device='cpu', trust=False, verbose=True):
    """The network named by a `--network` value: `builtin:NAME`, or a file/URL handed to
    torch_utils.loading.load_network (safe loader unless trust=True). Eval mode, no grad, on `device`."""
    if isinstance(spec, str) and spec.startswith('builtin:'):
        return load_builtin(spec[len('builtin:'):], device)
    from torch_utils import loading # pylint: disable=import-outside-toplevel
    return loading.load_network(spec, device=device, trust=trust, verbose=verbose)

def load_builtin(name, device='cpu'):
    """Build the named built-in network on `device`, in eval mode without grad."""
    if name not in _builtins:
        raise dnnlib.UserError(f'Unknown built-in network "builtin:{name}"; available: {", ".join(sorted(_builtins))}')
    net = _builtins[name][0](device)
    return net.eval().requires_grad_(False).to(device)

#----------------------------------------------------------------------------
# Entries. (Factories import lazily so that `import art.builtin` stays cheap.)


@register('gauss1d', 'N(0,1) data in 1-D with the exact denoiser D = x/(1+sigma^2): the ART paper\'s study (T = sigma_max = 3)')
def _gauss1d(device):
    from art.analytic import make_gauss1d # pylint: disable=import-outside-toplevel
    return make_gauss1d(device)

@register('gmm-digits', 'class-conditional Gaussians fitted to scikit-learn\'s 8x8 digits, exact posterior-mean denoiser (needs scikit-learn)')
def _gmm_digits(device):
    from art.analytic import make_gmm_digits # pylint: disable=import-outside-toplevel
    return make_gmm_digits(device)

DIT_WEIGHTS = pathlib.Path(__file__).resolve().parent / 'assets' / 'edm-dit-mnist-11000.npz'

@register('mnist-dit', 'pretrained class-conditional DiT for 28x28 MNIST, EDM-preconditioned (MIT, Franfee; see THIRD_PARTY_NOTICES.md); committed weights art/assets/edm-dit-mnist-11000.npz, $ART_MNIST_DIT overrides')
def _mnist_dit(device):
    from training.dit import load_dit_npz # pylint: disable=import-outside-toplevel
    env = os.environ.get('ART_MNIST_DIT')
    path = pathlib.Path(env) if env else DIT_WEIGHTS
    if not path.is_file():
        where = f'$ART_MNIST_DIT={env} does not exist' if env else f'{path} is missing; reinstall the package'
        raise dnnlib.UserError(f'builtin:mnist-dit: {where} (or set ART_MNIST_DIT=/path/to/edm-dit-mnist-11000.npz)')
    return load_dit_npz(path, device)

@register('mnist', 'small class-conditional EDM model (EDMPrecond + SongUNet, 28x28 MNIST) trained with train.py; committed weights art/assets/mnist-edm.pt')
def _mnist(device):
    from torch_utils import loading # pylint: disable=import-outside-toplevel
    path = pathlib.Path(__file__).resolve().parent / 'assets' / 'mnist-edm.pt'
    if not path.is_file():
        raise dnnlib.UserError(f'builtin:mnist: {path} is missing; reinstall the package or rebuild it with tools/train_mnist_default.sh')
    return loading.load_network(str(path), device=device, verbose=False)
