# ART-EDM: learned time grids for EDM-style diffusion samplers.
# Copyright (c) 2026 The ART-EDM authors. Released under the MIT License (see LICENSE).

"""PyTorch plumbing: EDM pickle persistence, safe loading, distributed helpers, misc."""
