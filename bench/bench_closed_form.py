# ART-EDM: learned time grids for EDM-style diffusion samplers.
# Copyright (c) 2026 The ART-EDM authors. Released under the MIT License (see LICENSE).

"""Benchmark: one profile pass learning the solver-aware closed-form grids for every solver and K.

In one process with empty caches, `closed-form` (art.closed_form.fit: the trajectory bank, the propagation
probes, then per (solver, K) the candidates, the refinement and the selection on held-out trajectories) is
learned for every --solvers x --nfe (NFE = K for the multistep solvers, EDM's convention); the wall time of
each grid (the first includes the bank and the probes, which the others reuse), the total, and the machine
load before and after are printed, with the grid each run chose. `--polish=N` adds the N-step polish.
Prints numbers; never fails on time.

  python bench/bench_closed_form.py --network=builtin:mnist-dit --threads=2
"""

import os
import time

import click
import torch

import dnnlib
from art import methods
from art.builtin import load_network

#----------------------------------------------------------------------------

def _load():
    return ' '.join(f'{v:.2f}' for v in os.getloadavg())

@click.command()
@click.option('--network', help='Network (builtin:NAME, .pt or pickle)', metavar='SPEC', type=str, default='builtin:mnist-dit', show_default=True)
@click.option('--solvers', help='Comma-separated solvers', metavar='LIST', type=str, default='dpmpp-2m,ipndm', show_default=True)
@click.option('--nfe',     help='K values (= NFE)', metavar='LIST', type=str, default='4,6,8,10', show_default=True)
@click.option('--polish',  help='Polish steps (closed-form:polish=N)', metavar='INT', type=click.IntRange(min=0), default=0, show_default=True)
@click.option('--threads', help='CPU intra-op threads', metavar='INT', type=click.IntRange(min=1), default=2, show_default=True)
def main(network, solvers, nfe, polish, threads):
    """Wall time of one pass learning the solver-aware grids for all solvers and K."""
    torch.set_num_threads(threads)
    net = load_network(network, device='cpu')
    spec = f'closed-form:polish={polish}'
    print(f'{network}, {spec}, {threads} threads; load before: {_load()}')
    t_all = time.perf_counter()
    for solver in solvers.split(','):
        for K in dnnlib.util.parse_int_list(nfe):
            t = time.perf_counter()
            sched = methods.learn(spec, net, K, solver=solver)
            print(f'{solver:<9s} K={K:<3d} {time.perf_counter() - t:7.1f} s  chose {sched.get("chosen")}', flush=True)
    print(f'total {time.perf_counter() - t_all:.1f} s; load after: {_load()}')

if __name__ == '__main__':
    main() # pylint: disable=no-value-for-parameter

#----------------------------------------------------------------------------
