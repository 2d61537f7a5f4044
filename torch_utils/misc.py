# ART-EDM: learned time grids for EDM-style diffusion samplers.
# Copyright (c) 2026 The ART-EDM authors. Released under the MIT License (see LICENSE).

"""PyTorch odds and ends with EDM's names (docs/edm-spec.md §4.4, §4.6): cached constants (used by
the source embedded in official AugmentPipe pickles), shape asserts, InfiniteSampler, parameter
copying, DDP helpers and a compact module summary."""

import contextlib
import os
import re
import warnings

import numpy as np
import torch

import dnnlib

#----------------------------------------------------------------------------
# Script helpers shared by every CLI: the device choice and atomic writes.

def resolve_device(device=None):
    """torch.device for a `--device` value: cuda if available else cpu when None; anything but cpu
    and cuda[:N] (meta, mps, ...), or a device that does not exist here, is a one-line dnnlib.UserError."""
    try:
        device = torch.device(device or ('cuda' if torch.cuda.is_available() else 'cpu'))
    except (RuntimeError, TypeError):
        raise dnnlib.UserError(f'Unknown device "{device}"; use e.g. --device=cpu or --device=cuda') from None
    if device.type not in ('cpu', 'cuda'):
        raise dnnlib.UserError(f'--device={device} is not supported; use --device=cpu or --device=cuda[:N]')
    if device.type == 'cuda' and device.index is not None and torch.cuda.is_available() and device.index >= torch.cuda.device_count():
        raise dnnlib.UserError(f'--device={device} does not exist here ({torch.cuda.device_count()} CUDA devices); use e.g. --device=cuda:0')
    if device.type == 'cuda' and not torch.cuda.is_available():
        raise dnnlib.UserError(f'--device={device} but CUDA is not available here; use --device=cpu')
    return device

def write_atomic(path, data, mode='w'):
    """Write `data` (str or bytes) to `path` through a temporary file in the same folder and
    os.replace, so that readers never see a partial file; the temporary file is removed on error."""
    tmp = f'{path}.tmp{os.getpid()}'
    try:
        with open(tmp, mode) as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)

@contextlib.contextmanager
def exclusive_output(path, what='output'):
    """Hold an exclusive advisory lock on `path`.lock while writing `path`, so that a second process writing
    the same output fails at once with a one-line dnnlib.UserError instead of both exiting 0 with torn files.
    The lock dies with the process (fcntl.flock), so a killed run never leaves a stale lock behind."""
    import fcntl # pylint: disable=import-outside-toplevel
    lock = f'{path}.lock'
    try:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as e:
        raise dnnlib.UserError(f'Cannot create the lock file "{lock}" ({e.strerror}); check that the {what} folder is writable') from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise dnnlib.UserError(f'Another process is writing "{path}"; wait for it to finish or choose another {what}') from None
        yield
    finally:
        os.close(fd)

def save_atomic(path, save_fn, what=None):
    """Call save_fn(tmp_path) and move the result to `path` atomically (figures, torch.save, PNGs); the
    temporary file never survives. With `what` (e.g. '--outdir'), an OSError is a one-line dnnlib.UserError."""
    root, ext = os.path.splitext(str(path))
    tmp = f'{root}.tmp{os.getpid()}{ext}'
    try:
        if os.path.dirname(str(path)):
            os.makedirs(os.path.dirname(str(path)), exist_ok=True)
        save_fn(tmp)
        os.replace(tmp, path)
    except OSError as e:
        if what is None:
            raise
        raise dnnlib.UserError(f'Cannot write "{path}" ({e.strerror or e}); check {what}') from None
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)

#----------------------------------------------------------------------------
# Cached constant tensors, keyed by value bytes, shape, dtype, device and memory format.

_constant_cache = dict()

#----------------------------------------------------------------------------

def constant(value, shape=None, dtype=None, device=None, memory_format=None):
    value = np.asarray(value)
    if shape is not None:
        shape = tuple(shape)
    if dtype is None:
        dtype = torch.get_default_dtype()
    if device is None:
        device = torch.device('cpu')
    if memory_format is None:
        memory_format = torch.contiguous_format
    key = (value.shape, value.dtype, value.tobytes(), shape, dtype, device, memory_format)
    tensor = _constant_cache.get(key, None)
    if tensor is None:
        tensor = torch.as_tensor(value.copy(), dtype=dtype, device=device)
        if shape is not None:
            tensor, _ = torch.broadcast_tensors(tensor, torch.empty(shape))
        tensor = tensor.contiguous(memory_format=memory_format)
        _constant_cache[key] = tensor
    return tensor

#----------------------------------------------------------------------------

def nan_to_num(input, nan=0.0, posinf=None, neginf=None, *, out=None): # pylint: disable=redefined-builtin
    """torch.nan_to_num (kept for EDM's name)."""
    return torch.nan_to_num(input, nan=nan, posinf=posinf, neginf=neginf, out=out)

#----------------------------------------------------------------------------

symbolic_assert = torch._assert # pylint: disable=protected-access

#----------------------------------------------------------------------------

@contextlib.contextmanager
def suppress_tracer_warnings():
    """Silence torch.jit.TracerWarning inside the block."""
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', category=torch.jit.TracerWarning)
        yield

#----------------------------------------------------------------------------

def assert_shape(tensor, ref_shape):
    """Assert tensor.shape matches ref_shape; None entries match any size."""
    if tensor.ndim != len(ref_shape):
        raise AssertionError(f'Wrong number of dimensions: got {tensor.ndim}, expected {len(ref_shape)}')
    for idx, (size, ref_size) in enumerate(zip(tensor.shape, ref_shape)):
        if ref_size is None:
            pass
        elif isinstance(ref_size, torch.Tensor):
            with suppress_tracer_warnings():
                symbolic_assert(torch.equal(torch.as_tensor(size), ref_size), f'Wrong size for dimension {idx}')
        elif isinstance(size, torch.Tensor):
            with suppress_tracer_warnings():
                symbolic_assert(torch.equal(size, torch.as_tensor(ref_size)), f'Wrong size for dimension {idx}: expected {ref_size}')
        elif size != ref_size:
            raise AssertionError(f'Wrong size for dimension {idx}: got {size}, expected {ref_size}')

#----------------------------------------------------------------------------

def profiled_function(fn):
    """Decorator: run fn inside torch.autograd.profiler.record_function(fn.__name__)."""
    def decorator(*args, **kwargs):
        with torch.autograd.profiler.record_function(fn.__name__):
            return fn(*args, **kwargs)
    decorator.__name__ = fn.__name__
    return decorator

#----------------------------------------------------------------------------

class InfiniteSampler(torch.utils.data.Sampler):
    """Endless index stream: a RandomState(seed) shuffle, rank-strided across replicas, where each
    visited position is swapped with a random one up to `window` (= round(size*window_size)) earlier."""
    def __init__(self, dataset, rank=0, num_replicas=1, shuffle=True, seed=0, window_size=0.5):
        assert len(dataset) > 0
        assert num_replicas > 0
        assert 0 <= rank < num_replicas
        assert 0 <= window_size <= 1
        super().__init__()
        self.dataset = dataset
        self.rank = rank
        self.num_replicas = num_replicas
        self.shuffle = shuffle
        self.seed = seed
        self.window_size = window_size

    def __iter__(self):
        order = np.arange(len(self.dataset))
        rnd = None
        window = 0
        if self.shuffle:
            rnd = np.random.RandomState(self.seed)
            rnd.shuffle(order)
            window = int(np.rint(order.size * self.window_size))
        idx = 0
        while True:
            i = idx % order.size
            if idx % self.num_replicas == self.rank:
                yield order[i]
            if window >= 2:
                j = (i - rnd.randint(window)) % order.size
                order[i], order[j] = order[j], order[i]
            idx += 1

#----------------------------------------------------------------------------

def params_and_buffers(module):
    assert isinstance(module, torch.nn.Module)
    return list(module.parameters()) + list(module.buffers())

#----------------------------------------------------------------------------

def named_params_and_buffers(module):
    assert isinstance(module, torch.nn.Module)
    return list(module.named_parameters()) + list(module.named_buffers())

#----------------------------------------------------------------------------

@torch.no_grad()
def copy_params_and_buffers(src_module, dst_module, require_all=False):
    """Copy tensors by name from src_module into dst_module (missing ones are skipped unless
    require_all)."""
    assert isinstance(src_module, torch.nn.Module)
    assert isinstance(dst_module, torch.nn.Module)
    src_tensors = dict(named_params_and_buffers(src_module))
    for name, tensor in named_params_and_buffers(dst_module):
        assert (name in src_tensors) or (not require_all), f'missing {name}'
        if name in src_tensors:
            tensor.copy_(src_tensors[name])

#----------------------------------------------------------------------------

@contextlib.contextmanager
def ddp_sync(module, sync):
    """Context: module.no_sync() when a DDP module should not sync gradients, else nothing."""
    assert isinstance(module, torch.nn.Module)
    if sync or not isinstance(module, torch.nn.parallel.DistributedDataParallel):
        yield
    else:
        with module.no_sync():
            yield

#----------------------------------------------------------------------------

def check_ddp_consistency(module, ignore_regex=None):
    """Assert every parameter/buffer equals rank 0's copy (NaNs compare equal)."""
    assert isinstance(module, torch.nn.Module)
    for name, tensor in named_params_and_buffers(module):
        fullname = type(module).__name__ + '.' + name
        if ignore_regex is not None and re.fullmatch(ignore_regex, fullname):
            continue
        tensor = tensor.detach()
        if tensor.is_floating_point():
            tensor = nan_to_num(tensor)
        other = tensor.clone()
        torch.distributed.broadcast(tensor=other, src=0)
        assert (tensor == other).all(), fullname

#----------------------------------------------------------------------------

def print_module_summary(module, inputs, max_nesting=3, skip_redundant=True):
    """Run module(*inputs) once and print a table of submodules (up to `max_nesting` deep) with
    their parameter/buffer counts and output shapes/dtypes. Returns the outputs."""
    assert isinstance(module, torch.nn.Module)
    assert not isinstance(module, torch.jit.ScriptModule)
    assert isinstance(inputs, (tuple, list))

    entries = []
    nesting = [0]
    def pre_hook(_mod, _inputs):
        nesting[0] += 1
    def post_hook(mod, _inputs, outputs):
        nesting[0] -= 1
        if nesting[0] <= max_nesting:
            outputs = list(outputs) if isinstance(outputs, (tuple, list)) else [outputs]
            entries.append(dnnlib.EasyDict(mod=mod, outputs=[t for t in outputs if isinstance(t, torch.Tensor)]))
    hooks = [mod.register_forward_pre_hook(pre_hook) for mod in module.modules()]
    hooks += [mod.register_forward_hook(post_hook) for mod in module.modules()]
    try:
        outputs = module(*inputs)
    finally:
        for hook in hooks:
            hook.remove()

    # Count each tensor once (at the outermost module that owns it).
    seen = set()
    for e in entries:
        e.params = [t for t in e.mod.parameters() if id(t) not in seen]
        e.buffers = [t for t in e.mod.buffers() if id(t) not in seen]
        seen |= {id(t) for t in e.params + e.buffers}
    if skip_redundant:
        entries = [e for e in entries if len(e.params) or len(e.buffers) or len(e.outputs)]

    names = {mod: name for name, mod in module.named_modules()}
    rows = [['Module', 'Parameters', 'Buffers', 'Output shape', 'Datatype'], ['---'] * 5]
    param_total = buffer_total = 0
    for e in entries:
        name = '<top-level>' if e.mod is module else names.get(e.mod, '?')
        num_params = sum(t.numel() for t in e.params)
        num_buffers = sum(t.numel() for t in e.buffers)
        shapes = [str(list(t.shape)) for t in e.outputs] or ['-']
        dtypes = [str(t.dtype).split('.')[-1] for t in e.outputs] or ['-']
        rows.append([name + (':0' if len(e.outputs) >= 2 else ''), str(num_params) if num_params else '-',
            str(num_buffers) if num_buffers else '-', shapes[0], dtypes[0]])
        rows += [[name + f':{idx}', '-', '-', shapes[idx], dtypes[idx]] for idx in range(1, len(shapes))]
        param_total += num_params
        buffer_total += num_buffers
    rows += [['---'] * 5, ['Total', str(param_total), str(buffer_total), '-', '-']]
    widths = [max(len(cell) for cell in column) for column in zip(*rows)]
    print()
    for row in rows:
        print('  '.join(cell + ' ' * (width - len(cell)) for cell, width in zip(row, widths)))
    print()
    return outputs
