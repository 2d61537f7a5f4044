# ART-EDM: learned time grids for EDM-style diffusion samplers.
# Copyright (c) 2026 The ART-EDM authors. Released under the MIT License (see LICENSE).

"""Shared pytest fixtures."""

import pytest

from art.builtin import shared_dir

@pytest.fixture(scope='session')
def shared_root():
    """Path of ../shared (or $ART_SHARED_DIR); skips the test when it is absent."""
    root = shared_dir()
    if root is None:
        pytest.skip('shared data folder not available (set ART_SHARED_DIR)')
    return root
