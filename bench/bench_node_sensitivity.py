# ART-EDM: learned time grids for EDM-style diffusion samplers.
# Copyright (c) 2026 The ART-EDM authors. Released under the MIT License (see LICENSE).

"""Which nodes of a K-step grid does the RMS error resolve, and does the leading-order cost see them? (issue 13)

Starts from the Hölder closed form of a solver's own density (E r_S along the profile's trajectories,
closed_form.profile + closed_form.nodes) and scales one interior node at a time by each --factors value
(skipped where the grid would stop decreasing). Prints, per move, the RMS error against a high-NFE Heun
reference from the same latents (art.sampler.reference_samples) and the time-only cost Σ rbar|Δσ|^p
(closed_form.surrogate_error), both relative to the unmoved grid: a node whose move changes the RMS far
more than the cost is one the leading-order objective leaves undetermined. With --schedule (an ART-RL
file) it also prints that schedule's K-step grid, and its RMS with each of its nodes replaced by the
closed form's, one at a time. Never fails on time. Example:

    python bench/bench_node_sensitivity.py --steps=6 --schedule=bench-rl-solver-out/art-rl-dpmpp-2m-seed0.json
"""

import json
import os
import sys
import time

import click
import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from art import closed_form, objective, rl, sampler # pylint: disable=wrong-import-position
from art.builtin import load_network # pylint: disable=wrong-import-position
from art.metrics import rms_error # pylint: disable=wrong-import-position
from dnnlib.util import parse_float_list # pylint: disable=wrong-import-position

#----------------------------------------------------------------------------

def fmt(v):
    return ' '.join(f'{x:.4g}' for x in v)

@click.command()
@click.option('--network',   help='Network (builtin:NAME or a pickle)', type=str, default='builtin:gmm-digits', show_default=True)
@click.option('--solver',    help='Solver: the density and the sampler', type=click.Choice(list(objective.ERROR_MODELS)), default='dpmpp-2m', show_default=True)
@click.option('--steps',     help='K, the grid size', type=click.IntRange(min=2), default=6, show_default=True)
@click.option('--factors',   help='Scalings of one node at a time', type=parse_float_list, default='0.8,1.25', show_default=True)
@click.option('--schedule',  help='An ART-RL schedule file to compare node by node', type=str, default=None)
@click.option('--samples',   help='Samples (seeds 0..N-1) for the RMS errors', type=click.IntRange(min=1), default=128, show_default=True)
@click.option('--ref-steps', help='Reference Heun steps', type=click.IntRange(min=2), default=1024, show_default=True)
@click.option('--threads',   help='torch intra-op threads', type=click.IntRange(min=1), default=2, show_default=True)
def main(network, solver, steps, factors, schedule, samples, ref_steps, threads):
    """Per-node RMS and leading-order cost sensitivity of the solver's closed-form grid."""
    torch.set_num_threads(threads)
    t0 = time.time()
    net = load_network(network, verbose=False)
    p = objective.error_power(solver)
    sigma, r = closed_form.profile(net, solver)
    base = np.asarray(closed_form.nodes(sigma, r, steps, p)[0])
    latents, labels, _rnd = sampler.edm_latents(net, range(samples))
    ref = sampler.reference_samples(net, latents, labels, num_steps=ref_steps)
    def rms(grid):
        out = sampler.batched(lambda z, c: sampler.sample(net, z, torch.as_tensor(grid, dtype=torch.float64), c, solver=solver), latents, labels)
        return rms_error(out, ref)
    cost = lambda grid: closed_form.surrogate_error(grid, sigma, r, p)
    rms0, cost0 = rms(base), cost(base)
    print(f'{network}, {solver}, K={steps}, {samples} samples vs Heun {ref_steps}')
    print(f'closed form (own density): {fmt(base)}   RMS {rms0:.4f}')
    print(f'{"node":>5s} {"sigma":>8s} {"factor":>7s} {"RMS / unmoved":>14s} {"cost / unmoved":>15s}')
    for j in range(1, steps):
        for f in factors:
            grid = base.copy()
            grid[j] *= f
            if np.all(np.diff(grid[:-1]) < 0) and grid[-2] > 0:
                print(f'{j:5d} {base[j]:8.4g} {f:7.3g} {rms(grid) / rms0:14.3f} {cost(grid) / cost0:15.3f}')
    if schedule:
        with open(schedule) as fh:
            learned = np.asarray(rl.schedule_grid(json.load(fh), steps))
        rms_l = rms(learned)
        print(f'schedule: {fmt(learned)}   RMS {rms_l:.4f} ({rms_l / rms0:.3f}x), cost {cost(learned) / cost0:.3f}x')
        for j in range(1, steps):
            grid = learned.copy()
            grid[j] = base[j]
            if np.all(np.diff(grid[:-1]) < 0):
                print(f'  node {j} from the closed form ({learned[j]:.4g} -> {base[j]:.4g}): RMS {rms(grid):.4f}')
    print(f'total {time.time() - t0:.0f} s')

#----------------------------------------------------------------------------

if __name__ == '__main__':
    main() # pylint: disable=no-value-for-parameter

#----------------------------------------------------------------------------
