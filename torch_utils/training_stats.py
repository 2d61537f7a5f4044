# ART-EDM: learned time grids for EDM-style diffusion samplers.
# Copyright (c) 2026 The ART-EDM authors. Released under the MIT License (see LICENSE).

"""Cross-process scalar statistics with EDM's API (docs/edm-spec.md §4.6): `report(name, value)`
accumulates [count, sum, sum of squares] of the value's elements (reduced in float32, accumulated in
float64); `Collector.update()` all-reduces the new moments across ranks and exposes num/mean/std."""

import re

import numpy as np
import torch

import dnnlib

#----------------------------------------------------------------------------
# Module state.

_num_moments    = 3              # [count, sum, sum of squares]
_reduce_dtype   = torch.float32  # Element reduction inside report().
_counter_dtype  = torch.float64  # Accumulation.
_rank           = 0              # Rank of this process.
_sync_device    = None           # Device for all_reduce (CUDA with NCCL); None = CPU.
_counters       = dict()         # name -> {device: moments tensor not yet synced}
_cumulative     = dict()         # name -> cumulative synced moments (CPU)

#----------------------------------------------------------------------------

def init_multiprocessing(rank, sync_device):
    """Record this process's rank and the device used for cross-process reductions (None = CPU).
    Called by torch_utils.distributed.init() before the first Collector.update()."""
    global _rank, _sync_device
    _rank = rank
    _sync_device = sync_device

#----------------------------------------------------------------------------

def report(name, value):
    """Accumulate the elements of `value` (scalar, array or tensor) under `name`; returns `value`."""
    device_counters = _counters.setdefault(name, dict()) # Registered even when empty, so that every rank syncs the same names.
    elems = torch.as_tensor(value)
    if elems.numel() == 0:
        return value
    elems = elems.detach().flatten().to(_reduce_dtype)
    moments = torch.stack([torch.ones_like(elems).sum(), elems.sum(), elems.square().sum()]).to(_counter_dtype)
    if moments.device not in device_counters:
        device_counters[moments.device] = torch.zeros_like(moments)
    device_counters[moments.device].add_(moments)
    return value

#----------------------------------------------------------------------------

def report0(name, value):
    """report() on rank 0 only (value is returned on every rank)."""
    report(name, value if _rank == 0 else [])
    return value

#----------------------------------------------------------------------------

def _sync(names):
    """Fold the pending moments of `names` into the cumulative ones, summed over all ranks.
    Every rank must call this with the same names in the same order."""
    if len(names) == 0:
        return []
    device = _sync_device if _sync_device is not None else torch.device('cpu')
    deltas = []
    for name in names:
        delta = torch.zeros([_num_moments], dtype=_counter_dtype, device=device)
        for counter in _counters.get(name, dict()).values():
            delta.add_(counter.to(device))
            counter.zero_()
        deltas.append(delta)
    deltas = torch.stack(deltas)
    if torch.distributed.is_available() and torch.distributed.is_initialized() and torch.distributed.get_world_size() > 1:
        torch.distributed.all_reduce(deltas)
    deltas = deltas.cpu()
    for idx, name in enumerate(names):
        if name not in _cumulative:
            _cumulative[name] = torch.zeros([_num_moments], dtype=_counter_dtype)
        _cumulative[name].add_(deltas[idx])
    return [(name, _cumulative[name]) for name in names]

#----------------------------------------------------------------------------

class Collector:
    """Statistics reported since the previous update() (or, with keep_previous, the last non-empty
    ones) for every name matching `regex`."""
    def __init__(self, regex='.*', keep_previous=True):
        self._regex = re.compile(regex)
        self._keep_previous = keep_previous
        self._cumulative = dict()
        self._moments = dict()
        self.update()
        self._moments.clear()

    def names(self):
        return [name for name in _counters if self._regex.fullmatch(name)]

    def update(self):
        if not self._keep_previous:
            self._moments.clear()
        for name, cumulative in _sync(self.names()):
            previous = self._cumulative.setdefault(name, torch.zeros([_num_moments], dtype=_counter_dtype))
            delta = cumulative - previous
            previous.copy_(cumulative)
            if float(delta[0]) != 0:
                self._moments[name] = delta

    def _get_delta(self, name):
        assert self._regex.fullmatch(name)
        return self._moments.get(name, torch.zeros([_num_moments], dtype=_counter_dtype))

    def num(self, name):
        return int(self._get_delta(name)[0])

    def mean(self, name):
        delta = self._get_delta(name)
        return float('nan') if int(delta[0]) == 0 else float(delta[1] / delta[0])

    def std(self, name):
        delta = self._get_delta(name)
        if int(delta[0]) == 0 or not np.isfinite(float(delta[1])):
            return float('nan')
        if int(delta[0]) == 1:
            return 0.0
        mean = float(delta[1] / delta[0])
        raw_var = float(delta[2] / delta[0])
        return float(np.sqrt(max(raw_var - mean ** 2, 0)))

    def as_dict(self):
        stats = dnnlib.EasyDict()
        for name in self.names():
            stats[name] = dnnlib.EasyDict(num=self.num(name), mean=self.mean(name), std=self.std(name))
        return stats

    def __getitem__(self, name):
        return self.mean(name)

#----------------------------------------------------------------------------
# Default collector used by the training loop.

default_collector = Collector()
