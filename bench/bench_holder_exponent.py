# ART-EDM: learned time grids for EDM-style diffusion samplers.
# Copyright (c) 2026 The ART-EDM authors. Released under the MIT License (see LICENSE).

"""Is the leading-order Hölder exponent the RMS-optimal one at 4-10 steps? (issue 13)

The time-only optimum (docs/solver-aware-art.md eq. 16) puts the nodes at equal steps of
u = ∫ rbar^(1/p) dsigma, with p the power of the step in the local error. This bench takes the two spline
densities of the trajectory bank (eq. 31: Euler's |Q|, p = 2, and the 2M density, p = 3), forms their
Hölder grids for several exponents p' (--q-powers, --r2m-powers), samples each with every --solvers from
the latents of seeds 0..samples-1 and prints the RMS error against a Heun reference from the same
latents, and its ratio to |Q| at p' = 2 (the paper's closed form). Never fails on time. Example:

    python bench/bench_holder_exponent.py --network=builtin:mnist-dit --threads=2 --ref-steps=128
"""

import os
import sys
import time

import click
import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from art import closed_form, local_error, sampler # pylint: disable=wrong-import-position
from art.builtin import load_network # pylint: disable=wrong-import-position
from art.metrics import rms_error # pylint: disable=wrong-import-position
from dnnlib.util import parse_float_list, parse_int_list # pylint: disable=wrong-import-position

#----------------------------------------------------------------------------

@click.command()
@click.option('--network',    help='Network (builtin:NAME or a pickle)', type=str, default='builtin:gmm-digits', show_default=True)
@click.option('--solvers',    help='Solvers to sample with', type=str, default='dpmpp-2m,ipndm', show_default=True)
@click.option('--steps',      help='K values', type=parse_int_list, default='4,6,8,10', show_default=True)
@click.option('--q-powers',   help="Exponents p' for Euler's |Q|", type=str, default='1.25,1.5,1.75,2,2.5', show_default=True)
@click.option('--r2m-powers', help="Exponents p' for the 2M density", type=str, default='2,2.5,3', show_default=True)
@click.option('--samples',    help='Samples (seeds 0..N-1)', type=click.IntRange(min=1), default=128, show_default=True)
@click.option('--ref-steps',  help='Reference Heun steps', type=click.IntRange(min=2), default=256, show_default=True)
@click.option('--threads',    help='torch intra-op threads', type=click.IntRange(min=1), default=1, show_default=True)
def main(network, solvers, steps, q_powers, r2m_powers, samples, ref_steps, threads):
    """RMS error of Hölder grids of the bank's spline densities for several exponents."""
    torch.set_num_threads(threads)
    t0 = time.time()
    print(f'load at start {", ".join(f"{v:.2f}" for v in os.getloadavg())}, {threads} thread(s)', flush=True)
    net = load_network(network, verbose=False)
    bank = closed_form.trajectory_bank(net)
    dens = {'|Q|': local_error.spline_density(bank, 'euler'), '2M': local_error.spline_density(bank, 'dpmpp-2m')}
    cands = {f'|Q| p\'={p:g}': ('|Q|', p) for p in parse_float_list(q_powers)}
    cands.update({f'2M p\'={p:g}': ('2M', p) for p in parse_float_list(r2m_powers)})
    base = "|Q| p'=2"
    if base not in cands:
        cands[base] = ('|Q|', 2.0)
    latents, labels, _ = sampler.edm_latents(net, range(samples))
    ref = sampler.reference_samples(net, latents, labels, num_steps=ref_steps)
    print(f'bank and reference: {time.time() - t0:.0f} s', flush=True)
    for solver in solvers.split(','):
        run = lambda g: sampler.batched(lambda z, c: sampler.sample(net, z, torch.as_tensor(g, dtype=torch.float64), c, solver=solver),
                                        latents, labels)
        rms = {name: np.array([rms_error(run(closed_form.nodes(*dens[d], K, p)[0]), ref) for K in steps]) for name, (d, p) in cands.items()}
        print(f'\n{solver}, RMS vs Heun {ref_steps} steps, K = {", ".join(map(str, steps))}; ratio to {base}')
        for name, e in rms.items():
            print(f'  {name:12s} ' + ' '.join(f'{v:.4f}' for v in e) + '   ' + ' '.join(f'{v:.2f}' for v in e / rms[base]), flush=True)
    print(f'\ntotal {time.time() - t0:.0f} s, load at end {", ".join(f"{v:.2f}" for v in os.getloadavg())}')

#----------------------------------------------------------------------------

if __name__ == '__main__':
    main() # pylint: disable=no-value-for-parameter

#----------------------------------------------------------------------------
