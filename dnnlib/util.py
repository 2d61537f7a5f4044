# ART-EDM: learned time grids for EDM-style diffusion samplers.
# Copyright (c) 2026 The ART-EDM authors. Released under the MIT License (see LICENSE).

"""Generic utilities shared by every script: EasyDict, UserError, download cache (open_url), object
construction by name. The public names follow NVlabs/edm's dnnlib.util (see docs/edm-spec.md §4.5)."""

import os
import tempfile

#----------------------------------------------------------------------------
# Attribute-style dict.

class EasyDict(dict):
    """dict whose items are also attributes."""
    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name)
    def __setattr__(self, name, value):
        self[name] = value
    def __delattr__(self, name):
        del self[name]

#----------------------------------------------------------------------------
# An error the user caused (bad path, bad schedule, offline download...). CLIs print str(e) as one
# line and exit non-zero, without a traceback.

class UserError(Exception):
    pass

#----------------------------------------------------------------------------
# Cache directory.

_dnnlib_cache_dir = None

def set_cache_dir(path):
    global _dnnlib_cache_dir
    _dnnlib_cache_dir = path

def make_cache_dir_path(*paths):
    """Priority: set_cache_dir(), $DNNLIB_CACHE_DIR, $HOME/.cache/dnnlib, %USERPROFILE%, tempdir."""
    if _dnnlib_cache_dir is not None:
        return os.path.join(_dnnlib_cache_dir, *paths)
    if 'DNNLIB_CACHE_DIR' in os.environ:
        return os.path.join(os.environ['DNNLIB_CACHE_DIR'], *paths)
    if 'HOME' in os.environ:
        return os.path.join(os.environ['HOME'], '.cache', 'dnnlib', *paths)
    if 'USERPROFILE' in os.environ:
        return os.path.join(os.environ['USERPROFILE'], '.cache', 'dnnlib', *paths)
    return os.path.join(tempfile.gettempdir(), '.cache', 'dnnlib', *paths)
