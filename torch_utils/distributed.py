# ART-EDM: learned time grids for EDM-style diffusion samplers.
# Copyright (c) 2026 The ART-EDM authors. Released under the MIT License (see LICENSE).

"""Multi-process helpers with EDM's names (docs/edm-spec.md §4.6, §8.5).

Deliberate deviation from EDM: `init()` works as a plain single process (no torchrun, no process
group: rank 0 of 1) and picks the backend from the device, NCCL on CUDA and gloo on CPU, so that
`torchrun --nproc_per_node=2 generate.py --device=cpu ...` works on CPU-only hosts."""

import atexit
import os

import torch

from . import training_stats

#----------------------------------------------------------------------------
# Whether init() created the process group (destroy() only tears down what we created).

_owns_group = False

#----------------------------------------------------------------------------

def _launched_by_torchrun() -> bool:
    return 'RANK' in os.environ and 'WORLD_SIZE' in os.environ

#----------------------------------------------------------------------------

def init(device=None):
    """Set up torch.distributed from torchrun's env:// variables.

    Without them (a plain `python script.py`), nothing is created and the process is rank 0 of 1.
    `device` (str or torch.device, default: cuda if available) picks the backend: 'nccl' for CUDA,
    'gloo' otherwise. On CUDA, the process is bound to cuda:LOCAL_RANK."""
    global _owns_group
    if device is None:
        device = 'cuda' if torch.cuda.is_available() else 'cpu'
    device = torch.device(device)
    world_size = int(os.environ.get('WORLD_SIZE', '1'))
    local_rank = int(os.environ.get('LOCAL_RANK', os.environ.get('RANK', '0')))
    if device.type == 'cuda' and torch.cuda.is_available():
        torch.cuda.set_device(local_rank % torch.cuda.device_count())

    if _launched_by_torchrun() and world_size > 1 and torch.distributed.is_available() and not torch.distributed.is_initialized():
        os.environ.setdefault('MASTER_ADDR', 'localhost')
        os.environ.setdefault('MASTER_PORT', '29500')
        backend = 'nccl' if device.type == 'cuda' and torch.distributed.is_nccl_available() else 'gloo'
        torch.distributed.init_process_group(backend=backend, init_method='env://')
        _owns_group = True
        atexit.register(destroy) # tear the group down before interpreter shutdown (gloo may abort otherwise)

    sync_device = torch.device('cuda', torch.cuda.current_device()) if device.type == 'cuda' and get_world_size() > 1 else None
    training_stats.init_multiprocessing(rank=get_rank(), sync_device=sync_device)

#----------------------------------------------------------------------------

def is_initialized() -> bool:
    return torch.distributed.is_available() and torch.distributed.is_initialized()

#----------------------------------------------------------------------------

def get_rank() -> int:
    return torch.distributed.get_rank() if is_initialized() else 0

#----------------------------------------------------------------------------

def get_world_size() -> int:
    return torch.distributed.get_world_size() if is_initialized() else 1

#----------------------------------------------------------------------------

def barrier() -> None:
    """torch.distributed.barrier() when a process group exists; a no-op otherwise."""
    if is_initialized() and get_world_size() > 1:
        torch.distributed.barrier()

#----------------------------------------------------------------------------

def destroy() -> None:
    """Tear down the process group created by init() (if any)."""
    global _owns_group
    if _owns_group and is_initialized():
        torch.distributed.destroy_process_group()
    _owns_group = False

#----------------------------------------------------------------------------

def should_stop() -> bool:
    return False

#----------------------------------------------------------------------------

def update_progress(cur, total) -> None:
    _ = cur, total

#----------------------------------------------------------------------------

def print0(*args, **kwargs) -> None:
    """print() on rank 0 only."""
    if get_rank() == 0:
        print(*args, **kwargs)

#----------------------------------------------------------------------------
# EDM's split of an index list over batches and ranks (edm-spec.md §2.2).

def split_batches(items, max_batch_size, rank=None, world_size=None):
    """Nearly equal chunks (the same number on every rank, some possibly empty), at most max_batch_size
    per chunk on each rank; rank r takes chunks r, r+W, r+2W, ... Returns a list of 1-D int64 tensors."""
    rank = get_rank() if rank is None else rank
    world_size = get_world_size() if world_size is None else world_size
    num_batches = ((len(items) - 1) // (max_batch_size * world_size) + 1) * world_size
    return list(torch.as_tensor(items, dtype=torch.int64).tensor_split(num_batches)[rank :: world_size])

#----------------------------------------------------------------------------
