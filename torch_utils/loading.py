# ART-EDM: learned time grids for EDM-style diffusion samplers.
# Copyright (c) 2026 The ART-EDM authors. Released under the MIT License (see LICENSE).

"""The one network loader of the project (docs/interfaces.md "Loading"; edm-spec.md §4).

`load_network(path_or_url)` accepts an EDM network pickle or a `.pt` checkpoint of ours
(`builtin:NAME` is resolved one layer up, in art.builtin.load_network). EDM pickles embed the source code of their classes (torch_utils.persistence), so
plain `pickle.load` executes code from the file. By default they are read SAFELY instead:

1. A restricted unpickler resolves only the globals tensors need (torch rebuild functions, numpy
   dtype/scalar, OrderedDict, torch containers) plus `_reconstruct_persistent_obj`, which is mapped to
   a stand-in that records (class_name, state) and never looks at `module_src`. Tensor storages are
   read with `torch.load(weights_only=True)`. Any other global is refused, naming it.
2. Each record is rebuilt with the project's own class of the same name (training.networks,
   training.loss): the constructor is called with the stored `_init_args` / `_init_kwargs`, the
   module tree is checked against the record tree (same class names at the same paths), and the
   tensors collected from the records (`_parameters`, `_buffers`, `_modules`, dotted names) are loaded
   with `load_state_dict(strict=True)`. AugmentPipe (training only) becomes an inert placeholder.
3. A class the project does not know means the pickle needs its own code: a one-line UserError says
   so and how to opt in (`trust=True`, CLI `--trust-pickle`), which runs EDM's exec path.

Our `.pt` checkpoints (save_checkpoint) hold only plain data and tensors and load with
`torch.load(weights_only=True)`; the class is named by a dotted path MODULE.CLASS, where MODULE is a
module of the project (training.* or art.*) and CLASS a torch.nn.Module subclass defined in it."""

import collections
import importlib
import io
import os
import pickle
import re

import numpy as np
import torch

import dnnlib

try:
    from numpy._core import multiarray as _np_multiarray # NumPy >= 2.
except ImportError:
    from numpy.core import multiarray as _np_multiarray # NumPy 1.x.

#----------------------------------------------------------------------------
# Which project classes the safe loader may rebuild, by EDM class name.

_NETWORK_CLASSES = ('EDMPrecond', 'VPPrecond', 'VEPrecond', 'iDDPMPrecond', 'SongUNet', 'DhariwalUNet',
                    'Linear', 'Conv2d', 'GroupNorm', 'UNetBlock', 'PositionalEmbedding', 'FourierEmbedding')
_LOSS_CLASSES    = ('EDMLoss', 'VPLoss', 'VELoss')
_INERT_CLASSES   = ('AugmentPipe',)     # Training-only objects: replaced by InertObject.
_MODEL_TYPES     = ('SongUNet', 'DhariwalUNet')
_CHECKPOINT_FORMAT = 'art-edm-checkpoint/1'

#----------------------------------------------------------------------------

def _known_classes():
    import training.networks # pylint: disable=import-outside-toplevel
    import training.loss # pylint: disable=import-outside-toplevel
    known = {name: getattr(training.networks, name) for name in _NETWORK_CLASSES}
    known.update({name: getattr(training.loss, name) for name in _LOSS_CLASSES})
    return known

#----------------------------------------------------------------------------
# What the safe unpickler makes of persistent objects and torch containers.

class PersistentRecord:
    """A persistent object seen by the safe loader: its class name and state, never its code."""
    def __init__(self, class_name, state):
        self.class_name = class_name
        self.state = state
    def __repr__(self):
        return f'PersistentRecord({self.class_name})'

#----------------------------------------------------------------------------

class ContainerRecord:
    """State of a pickled torch container module (ModuleDict, ModuleList, Sequential)."""
    class_name = None
    def __setstate__(self, state):
        self.state = state if isinstance(state, dict) else dict()

#----------------------------------------------------------------------------
# Placeholder for objects that sampling never needs (EDM's AugmentPipe).

class InertObject:
    """Stands in for a training-only object of an EDM pickle that the safe loader did not rebuild."""
    def __init__(self, class_name, init_kwargs=None):
        self.class_name = class_name
        self.init_kwargs = dnnlib.EasyDict(init_kwargs or {})
    def __call__(self, *args, **kwargs):
        raise dnnlib.UserError(f'{self.class_name} was replaced by a placeholder by the safe loader; load the pickle with --trust-pickle (trust=True) to use it')
    def __repr__(self):
        return f'InertObject({self.class_name})'

#----------------------------------------------------------------------------

def _safe_reconstruct_persistent_obj(meta):
    """Stand-in for torch_utils.persistence._reconstruct_persistent_obj: records, never executes."""
    if not isinstance(meta, dict) or meta.get('type') != 'class' or not isinstance(meta.get('class_name'), str):
        raise dnnlib.UserError('Malformed persistent object in the pickle (expected an EDM persistence record); it is not an EDM network pickle')
    if meta.get('version') != 6:
        raise dnnlib.UserError(f'Unsupported EDM persistence version {meta.get("version")!r} (expected 6); pass --trust-pickle (trust=True) if you trust the source')
    state = meta.get('state')
    return PersistentRecord(meta['class_name'], state if isinstance(state, dict) else dict())

#----------------------------------------------------------------------------

def _load_storage_from_bytes(data):
    """Safe variant of torch.storage._load_from_bytes (which uses weights_only=False)."""
    try:
        return torch.load(io.BytesIO(data), map_location='cpu', weights_only=True)
    except Exception as e:
        raise dnnlib.UserError(f'A tensor storage in the pickle was refused by torch.load(weights_only=True): {str(e).splitlines()[0][:200]}') from None

#----------------------------------------------------------------------------

def _container_class(qualified_name):
    return type(qualified_name.rsplit('.', 1)[-1] + 'Record', (ContainerRecord,), dict(class_name=qualified_name.rsplit('.', 1)[-1]))

_SAFE_GLOBALS = {
    ('torch_utils.persistence', '_reconstruct_persistent_obj'): _safe_reconstruct_persistent_obj,
    ('collections', 'OrderedDict'):             collections.OrderedDict,
    ('torch._utils', '_rebuild_tensor_v2'):     torch._utils._rebuild_tensor_v2, # pylint: disable=protected-access
    ('torch._utils', '_rebuild_parameter'):     torch._utils._rebuild_parameter, # pylint: disable=protected-access
    ('torch.storage', '_load_from_bytes'):      _load_storage_from_bytes,
    ('torch', 'device'):                        torch.device,
    ('numpy', 'dtype'):                         np.dtype,
    ('numpy', 'ndarray'):                       np.ndarray,
    ('numpy._core.multiarray', 'scalar'):       _np_multiarray.scalar,
    ('numpy.core.multiarray', 'scalar'):        _np_multiarray.scalar,
    ('numpy._core.multiarray', '_reconstruct'): _np_multiarray._reconstruct, # pylint: disable=protected-access
    ('numpy.core.multiarray', '_reconstruct'):  _np_multiarray._reconstruct, # pylint: disable=protected-access
    ('dnnlib.util', 'EasyDict'):                dnnlib.EasyDict,
}
for _name in ('ModuleDict', 'ModuleList', 'Sequential'):
    _SAFE_GLOBALS[('torch.nn.modules.container', _name)] = _container_class(_name)

#----------------------------------------------------------------------------

class _SafeUnpickler(pickle.Unpickler):
    def __init__(self, file, source):
        super().__init__(file)
        self._source = source

    def find_class(self, module, name):
        if (module, name) in _SAFE_GLOBALS:
            return _SAFE_GLOBALS[(module, name)]
        if module == 'torch' and isinstance(getattr(torch, name, None), torch.dtype):
            return getattr(torch, name)
        raise dnnlib.UserError(f'Refusing to unpickle "{self._source}": it references the global {module}.{name}, which the safe loader does not allow; pass --trust-pickle (trust=True) only if you trust its source')

#----------------------------------------------------------------------------

def _needs_trust(source, class_name):
    return dnnlib.UserError(f'"{source}" needs code execution for class {class_name}, which the safe loader does not know; pass --trust-pickle (trust=True) if you trust its source')

#----------------------------------------------------------------------------

def _collect_tensors(record, prefix=''):
    """Dotted name -> tensor over the record tree (parameters, persistent buffers, submodules)."""
    state = record.state
    tensors = dict()
    skip = set(state.get('_non_persistent_buffers_set', None) or ())
    for kind in ('_parameters', '_buffers'):
        for name, value in (state.get(kind, None) or {}).items():
            if value is not None and not (kind == '_buffers' and name in skip):
                if not isinstance(value, torch.Tensor):
                    raise dnnlib.UserError(f'Malformed network pickle: {prefix}{name} is not a tensor')
                tensors[prefix + name] = value
    for name, child in (state.get('_modules', None) or {}).items():
        if child is not None:
            if not isinstance(child, (PersistentRecord, ContainerRecord)):
                raise dnnlib.UserError(f'Malformed network pickle: submodule {prefix}{name} is not a module')
            tensors.update(_collect_tensors(child, prefix + name + '.'))
    return tensors

#----------------------------------------------------------------------------

def _check_tree(module, record, known, source, path=''):
    """Every record must name a known class, and our module tree must have the same class at the
    same path (so that equal tensor names also mean equal computations)."""
    if isinstance(record, PersistentRecord) and record.class_name not in known:
        raise _needs_trust(source, record.class_name)
    if type(module).__name__ != record.class_name:
        raise dnnlib.UserError(f'"{source}": submodule "{path or "<top>"}" is a {record.class_name} in the pickle but a {type(module).__name__} in this project; pass --trust-pickle (trust=True) if you trust its source')
    children = dict(module.named_children())
    for name, child in (record.state.get('_modules', None) or {}).items():
        if child is not None:
            if name not in children or not isinstance(child, (PersistentRecord, ContainerRecord)):
                raise dnnlib.UserError(f'"{source}": submodule "{path + name}" of the pickle does not exist in this project\'s {type(module).__name__}')
            _check_tree(children[name], child, known, source, path + name + '.')

#----------------------------------------------------------------------------

def _rebuild(record, known, source):
    """Project object for one persistent record (see module docstring, step 2)."""
    name = record.class_name
    if name in _INERT_CLASSES:
        kwargs = record.state.get('_init_kwargs', None)
        return InertObject(name, kwargs if isinstance(kwargs, dict) else None)
    if name not in known:
        raise _needs_trust(source, name)
    args = record.state.get('_init_args', None)
    kwargs = record.state.get('_init_kwargs', None)
    if not isinstance(args, (tuple, list)) or not isinstance(kwargs, dict):
        raise dnnlib.UserError(f'"{source}": {name} carries no constructor arguments, so the safe loader cannot rebuild it; pass --trust-pickle (trust=True) if you trust its source')
    args, kwargs = _convert(tuple(args), known, source), _convert(dict(kwargs), known, source)
    if 'model_type' in kwargs and kwargs['model_type'] not in _MODEL_TYPES:
        raise _needs_trust(source, kwargs['model_type'])
    try:
        obj = known[name](*args, **kwargs)
    except Exception as e:
        raise dnnlib.UserError(f'"{source}": cannot rebuild {name} from its stored arguments ({type(e).__name__}: {str(e).splitlines()[0][:200] if str(e) else ""})') from None
    if isinstance(obj, torch.nn.Module):
        _check_tree(obj, record, known, source)
        tensors = _collect_tensors(record)
        ours = obj.state_dict()
        missing, unexpected = sorted(set(ours) - set(tensors)), sorted(set(tensors) - set(ours))
        bad_shape = sorted(k for k in set(ours) & set(tensors) if ours[k].shape != tensors[k].shape)
        if missing or unexpected or bad_shape:
            raise dnnlib.UserError(f'"{source}": the weights of {name} do not match this project\'s {name} (missing {missing[:3]}, unexpected {unexpected[:3]}, shape mismatch {bad_shape[:3]}); pass --trust-pickle (trust=True) if you trust its source')
        obj.load_state_dict(tensors, strict=True)
        for param_name, param in obj.named_parameters():
            param.requires_grad_(tensors[param_name].requires_grad)
        obj.train(bool(record.state.get('training', False)))
    return obj

#----------------------------------------------------------------------------

def _convert(obj, known, source):
    """Replace persistent records in a plain data structure by project objects."""
    if isinstance(obj, PersistentRecord):
        return _rebuild(obj, known, source)
    if isinstance(obj, ContainerRecord):
        raise dnnlib.UserError(f'"{source}": a bare torch {obj.class_name} outside a network is not supported by the safe loader; pass --trust-pickle (trust=True) if you trust its source')
    if isinstance(obj, dict):
        return type(obj)((k, _convert(v, known, source)) for k, v in obj.items())
    if isinstance(obj, (list, tuple)):
        return type(obj)(_convert(v, known, source) for v in obj)
    return obj

#----------------------------------------------------------------------------

def safe_load_pickle(file, source='<pickle>'):
    """Read an EDM pickle from a binary file object without executing any code from it."""
    try:
        data = _SafeUnpickler(file, source).load()
    except dnnlib.UserError:
        raise
    except Exception as e:
        raise dnnlib.UserError(f'Cannot read "{source}" as a network pickle ({type(e).__name__}: {str(e).splitlines()[0][:200] if str(e) else ""})') from None
    return _convert(data, _known_classes(), source)

#----------------------------------------------------------------------------

def _open(path_or_url, verbose):
    """Binary file object for a local path, file:// URL or http(s) URL (cached download)."""
    if not isinstance(path_or_url, (str, os.PathLike)):
        raise dnnlib.UserError(f'Network must be a path, URL or builtin:NAME, not {type(path_or_url).__name__}')
    path_or_url = os.fspath(path_or_url)
    if not re.match('^[a-z]+://', path_or_url) or path_or_url.startswith('file://'):
        path = dnnlib.util.open_url(path_or_url, return_filename=True)
        if not os.path.isfile(path):
            raise dnnlib.UserError(f'Network file not found: "{path_or_url}"; check the path (or give a URL or builtin:NAME)')
    return dnnlib.util.open_url(path_or_url, verbose=verbose)

#----------------------------------------------------------------------------

def load_pickle(path_or_url, trust=False, verbose=True):
    """The whole network pickle as a dict (`ema`, `loss_fn`, `augment_pipe`, `dataset_kwargs`).

    Safe loader by default; trust=True runs EDM's exec path (plain pickle.load). A `.pt` checkpoint
    of ours comes back in the same shape, with loss_fn/augment_pipe None. (`builtin:NAME` is
    resolved one layer up, by art.builtin.load_network.)"""
    with _open(path_or_url, verbose) as f:
        magic = f.read(4)
        f.seek(0)
        if magic.startswith(b'PK\x03\x04'): # torch.save zip archive.
            return _load_checkpoint(f, str(path_or_url))
        if not magic.startswith(b'\x80'):
            raise dnnlib.UserError(f'"{path_or_url}" is neither a network pickle nor a .pt checkpoint')
        if trust:
            return pickle.load(f)
        return safe_load_pickle(f, str(path_or_url))

#----------------------------------------------------------------------------

def load_network(path_or_url, device='cpu', trust=False, verbose=True):
    """The `ema` network of an EDM pickle or a .pt checkpoint of ours; returned in eval mode, without
    grad, on `device`. (Scripts call art.builtin.load_network, which also resolves builtin:NAME.)"""
    data = load_pickle(path_or_url, trust=trust, verbose=verbose)
    net = data.get('ema', None) if isinstance(data, dict) else data
    if not isinstance(net, torch.nn.Module):
        raise dnnlib.UserError(f'"{path_or_url}" holds no network (expected a dict with an "ema" module)')
    return net.eval().requires_grad_(False).to(device)

#----------------------------------------------------------------------------

def _plain(value):
    """Constructor arguments as weights_only-loadable data (numpy scalars/arrays -> Python)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_plain(v) for v in value)
    if isinstance(value, (np.generic, np.ndarray)):
        return value.tolist()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise ValueError(f'save_checkpoint: constructor argument of type {type(value).__name__} cannot be stored')

#----------------------------------------------------------------------------

def save_checkpoint(net, path, class_name=None, init_args=None, init_kwargs=None, **extra):
    """Write `net` as our .pt checkpoint: dict(format, class_name, init_args, init_kwargs,
    state_dict, **extra), loadable with torch.load(weights_only=True). For persistent classes the
    constructor arguments are taken from the object; otherwise pass them. Written atomically."""
    if class_name is None:
        cls = type(net)
        module = cls.__module__
        if module.startswith('_imported_module_') and cls.__name__ in _NETWORK_CLASSES: # Loaded through the exec path.
            module = 'training.networks'
        class_name = f'{module}.{cls.__name__}'
    if not class_name.startswith(('training.', 'art.')):
        raise ValueError(f'save_checkpoint: class {class_name} is not under training.* or art.*')
    if init_args is None:
        init_args = getattr(net, 'init_args', None) or ()
    if init_kwargs is None:
        init_kwargs = getattr(net, 'init_kwargs', None)
        if init_kwargs is None:
            raise ValueError(f'save_checkpoint: {class_name} records no constructor arguments; pass init_kwargs')
    ckpt = dict(format=_CHECKPOINT_FORMAT, class_name=class_name, init_args=list(_plain(tuple(init_args))),
        init_kwargs=_plain(dict(init_kwargs)), state_dict={k: v.detach().cpu() for k, v in net.state_dict().items()}, **_plain(extra))
    tmp_path = f'{path}.tmp{os.getpid()}'
    torch.save(ckpt, tmp_path)
    os.replace(tmp_path, path)

#----------------------------------------------------------------------------

def _project_module_class(class_name, source):
    """The torch.nn.Module subclass named `class_name` = "MODULE.CLASS", where MODULE is one of the
    project's own modules (training.* or art.*) and CLASS is DEFINED there (cls.__module__ == MODULE),
    not merely reachable from it (so "art.rl.torch.nn.Linear" or a re-exported import is refused)."""
    refuse = f'"{source}": checkpoint class {class_name} is not a torch.nn.Module class defined in the project\'s training.* or art.* modules; refusing to construct it'
    if not isinstance(class_name, str) or not class_name.startswith(('training.', 'art.')):
        raise dnnlib.UserError(f'"{source}": checkpoint class {class_name} is not under training.* or art.*; refusing to construct it')
    module_name, _, name = class_name.rpartition('.')
    if not re.fullmatch(r'[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*', class_name):
        raise dnnlib.UserError(refuse)
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        raise dnnlib.UserError(f'"{source}": checkpoint class {class_name} does not exist in this version of the project ({module_name} is not one of its modules)') from None
    cls = vars(module).get(name, None)
    if cls is None:
        raise dnnlib.UserError(f'"{source}": checkpoint class {class_name} does not exist in this version of the project')
    if not (isinstance(cls, type) and issubclass(cls, torch.nn.Module) and cls.__module__ == module_name and cls.__qualname__ == name):
        raise dnnlib.UserError(refuse)
    return cls

#----------------------------------------------------------------------------

def _load_checkpoint(file, source):
    """Our .pt checkpoint -> dict(ema=net, ...) (torch.load with weights_only=True)."""
    try:
        ckpt = torch.load(file, map_location='cpu', weights_only=True)
    except Exception as e:
        raise dnnlib.UserError(f'Cannot read "{source}" as a weights-only checkpoint ({type(e).__name__}: {str(e).splitlines()[0][:200] if str(e) else ""})') from None
    if not isinstance(ckpt, dict) or ckpt.get('format') != _CHECKPOINT_FORMAT or not isinstance(ckpt.get('class_name'), str) or not isinstance(ckpt.get('state_dict'), dict):
        raise dnnlib.UserError(f'"{source}" is not an ART-EDM checkpoint (expected a dict with format "{_CHECKPOINT_FORMAT}", class_name and state_dict; see save_checkpoint)')
    class_name = ckpt['class_name']
    cls = _project_module_class(class_name, source)
    args, kwargs = ckpt.get('init_args', ()), ckpt.get('init_kwargs', {})
    if not isinstance(args, (list, tuple)) or not isinstance(kwargs, dict):
        raise dnnlib.UserError(f'"{source}": checkpoint constructor arguments are malformed (expected a list and a dict)')
    try:
        net = cls(*args, **kwargs)
    except Exception as e:
        raise dnnlib.UserError(f'"{source}": cannot construct {class_name} from its stored arguments ({type(e).__name__}: {str(e).splitlines()[0][:200] if str(e) else ""})') from None
    try:
        net.load_state_dict(ckpt['state_dict'], strict=True)
    except RuntimeError as e:
        raise dnnlib.UserError(f'"{source}": checkpoint weights do not match {class_name} ({" ".join(str(e).split())[:300]})') from None
    extra = {k: v for k, v in ckpt.items() if k not in ('format', 'class_name', 'init_args', 'init_kwargs', 'state_dict')}
    return dict(ema=net, loss_fn=None, augment_pipe=None, dataset_kwargs=extra.pop('dataset_kwargs', None), **extra)
