# ART-EDM: learned time grids for EDM-style diffusion samplers.
# Copyright (c) 2026 The ART-EDM authors. Released under the MIT License (see LICENSE).

"""ART / ART-RL: learned time grids for diffusion ODE samplers (arXiv 2601.18681)."""
