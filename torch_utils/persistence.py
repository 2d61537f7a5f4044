# ART-EDM: learned time grids for EDM-style diffusion samplers.
# Copyright (c) 2026 The ART-EDM authors. Released under the MIT License (see LICENSE).

"""EDM's pickle persistence format (docs/edm-spec.md §4.2-4.3), version 6.

A class decorated with `@persistent_class` pickles its instances together with the full source of
the module that defined the class: `(_reconstruct_persistent_obj, (meta,), None)` with
meta = {type: 'class', version: 6, module_src, class_name, state}. Unpickling with plain `pickle.load`
executes that source into a fresh module (cached by source text) and rebuilds the object without
calling `__init__`. That is how official EDM pickles load, and why they need trust: the source is
arbitrary code. `torch_utils.loading` is the safe default that never runs it."""

import copy
import inspect
import io
import pickle
import sys
import types
import uuid

import dnnlib

#----------------------------------------------------------------------------
# Module state.

_version            = 6         # Persistence format version; the loader asserts equality.
_decorators         = set()     # Every class returned by persistent_class().
_import_hooks       = []        # hook(meta) -> meta, applied before reconstruction.
_module_to_src_dict = dict()    # module -> source text
_src_to_module_dict = dict()    # source text -> module

#----------------------------------------------------------------------------

def persistent_class(orig_class):
    """Class decorator: instances remember deep copies of their constructor arguments (`init_args`,
    `init_kwargs`) and pickle together with their module's source code."""
    assert isinstance(orig_class, type)
    if is_persistent(orig_class):
        return orig_class
    assert orig_class.__module__ in sys.modules
    orig_module = sys.modules[orig_class.__module__]
    orig_module_src = _module_to_src(orig_module)

    class Decorator(orig_class):
        _orig_module_src = orig_module_src
        _orig_class_name = orig_class.__name__

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            record = getattr(self, '_record_init_args', True)
            self._init_args = copy.deepcopy(args) if record else None
            self._init_kwargs = copy.deepcopy(kwargs) if record else None
            assert orig_class.__name__ in orig_module.__dict__
            _check_pickleable(self.__reduce__())

        @property
        def init_args(self):
            return copy.deepcopy(self._init_args)

        @property
        def init_kwargs(self):
            return dnnlib.EasyDict(copy.deepcopy(self._init_kwargs))

        def __reduce__(self):
            fields = list(super().__reduce__())
            fields += [None] * max(3 - len(fields), 0)
            if fields[0] is not _reconstruct_persistent_obj:
                meta = dict(type='class', version=_version, module_src=self._orig_module_src, class_name=self._orig_class_name, state=fields[2])
                fields[0] = _reconstruct_persistent_obj # Persistent objects are rebuilt from meta alone.
                fields[1] = (meta,)
                fields[2] = None
            return tuple(fields)

    Decorator.__name__ = orig_class.__name__
    Decorator.__qualname__ = orig_class.__qualname__
    Decorator.__module__ = orig_class.__module__
    Decorator.__doc__ = orig_class.__doc__
    _decorators.add(Decorator)
    return Decorator

#----------------------------------------------------------------------------

def is_persistent(obj):
    """True for classes made by persistent_class() and for their instances."""
    try:
        if obj in _decorators:
            return True
    except TypeError:
        pass
    return type(obj) in _decorators # pylint: disable=unidiomatic-typecheck

#----------------------------------------------------------------------------

def import_hook(hook):
    """Register `hook(meta) -> meta`, applied to every persistent object before it is rebuilt
    (e.g. to patch the embedded source of old pickles). Must not return None."""
    assert callable(hook)
    _import_hooks.append(hook)

#----------------------------------------------------------------------------

def _reconstruct_persistent_obj(meta):
    """Called by the unpickler: exec meta.module_src (cached), then rebuild meta.class_name from
    meta.state without calling __init__. This RUNS THE EMBEDDED SOURCE: trusted pickles only."""
    meta = dnnlib.EasyDict(meta)
    meta.state = dnnlib.EasyDict(meta.state)
    for hook in _import_hooks:
        meta = hook(meta)
        assert meta is not None

    assert meta.version == _version
    module = _src_to_module(meta.module_src)

    assert meta.type == 'class'
    orig_class = module.__dict__[meta.class_name]
    decorator_class = persistent_class(orig_class)
    obj = decorator_class.__new__(decorator_class)

    setstate = getattr(obj, '__setstate__', None)
    if callable(setstate):
        setstate(meta.state) # nn.Module.__setstate__ also adds hook dicts of newer torch versions.
    else:
        obj.__dict__.update(meta.state)
    return obj

#----------------------------------------------------------------------------

def _module_to_src(module):
    """Source text of a module (cached; exec'd modules are found through the cache)."""
    src = _module_to_src_dict.get(module, None)
    if src is None:
        src = inspect.getsource(module)
        _module_to_src_dict[module] = src
        _src_to_module_dict[src] = module
    return src

#----------------------------------------------------------------------------

def _src_to_module(src):
    """Module for a source text: the cached one, or a fresh `_imported_module_<hex>` into which the
    source is executed. Both caches are filled BEFORE exec, because the source's own
    @persistent_class decorators look their module's source up while it executes."""
    module = _src_to_module_dict.get(src, None)
    if module is None:
        module_name = '_imported_module_' + uuid.uuid4().hex
        module = types.ModuleType(module_name)
        sys.modules[module_name] = module
        _module_to_src_dict[module] = src
        _src_to_module_dict[src] = module
        exec(src, module.__dict__) # pylint: disable=exec-used
    return module

#----------------------------------------------------------------------------

def _check_pickleable(obj):
    """Raise if `obj` cannot be pickled. Containers are walked; primitives, arrays, tensors and
    persistent objects are replaced by None (they are known to pickle); the rest is pickled as-is."""
    def recurse(obj):
        if isinstance(obj, (list, tuple, set)):
            return [recurse(x) for x in obj]
        if isinstance(obj, dict):
            return [[recurse(x), recurse(y)] for x, y in obj.items()]
        if isinstance(obj, (str, int, float, bool, bytes, bytearray)):
            return None
        if f'{type(obj).__module__}.{type(obj).__name__}' in ['numpy.ndarray', 'torch.Tensor', 'torch.nn.parameter.Parameter']:
            return None
        if is_persistent(obj):
            return None
        return obj
    with io.BytesIO() as f:
        pickle.dump(recurse(obj), f)
