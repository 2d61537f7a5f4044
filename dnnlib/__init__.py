# ART-EDM: learned time grids for EDM-style diffusion samplers.
# Copyright (c) 2026 The ART-EDM authors. Released under the MIT License (see LICENSE).

"""Generic utilities (EDM-compatible names): EasyDict, download cache, name-based construction."""

from . import util
from .util import EasyDict, UserError, make_cache_dir_path
