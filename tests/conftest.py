# ART-EDM: learned time grids for EDM-style diffusion samplers.
# Copyright (c) 2026 The ART-EDM authors. Released under the MIT License (see LICENSE).

"""Shared pytest fixtures."""

import os

os.environ.setdefault('OMP_NUM_THREADS', '1') # subprocesses (CLIs, torchrun) inherit this

import pytest
import torch

from art.builtin import shared_dir

# One intra-op thread: the suite's networks are tiny, and on a busy 2-core machine torch's thread pool
# is slower than a single thread by orders of magnitude (spin-waiting workers).
torch.set_num_threads(1)

@pytest.fixture(scope='session')
def shared_root():
    """Path of ../shared (or $ART_SHARED_DIR); skips the test when it is absent."""
    root = shared_dir()
    if root is None:
        pytest.skip('shared data folder not available (set ART_SHARED_DIR)')
    return root
