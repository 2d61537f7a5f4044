# ART-EDM: learned time grids for EDM-style diffusion samplers.
# Copyright (c) 2026 The ART-EDM authors. Released under the MIT License (see LICENSE).

"""The bank's spline densities (docs/solver-aware-art.md eq. 31) against the paper's |Q| by JVP (issue 13).

Builds the trajectory bank (128 Heun trajectories on 128 nodes) and the paper's JVP profile of |Q| along
the same trajectories (closed_form.profile), prints the ratio spline |Q| / JVP |Q| at every 16th node, and
the RMS error (sampled with dpmpp-2m and ipndm from seeds 0..127, against a Heun reference from the same
latents) of the Hölder grids of: the JVP |Q| (the paper's closed form), the spline |Q|, the spline |Q| with
the 2M exponent p = 3, the spline 2M density, and both spline densities weighted by beta = 1; with each
row's ratio to the first. Never fails on time. Example:

    python bench/bench_spline_density.py --network=builtin:mnist-dit --threads=2 --ref-steps=128
"""

import os
import sys
import time

import click
import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from art import closed_form, local_error, objective, sampler # pylint: disable=wrong-import-position
from art.builtin import load_network # pylint: disable=wrong-import-position
from art.metrics import rms_error # pylint: disable=wrong-import-position

#----------------------------------------------------------------------------

@click.command()
@click.option('--network',   help='Network (builtin:NAME or a pickle)', type=str, default='builtin:gmm-digits', show_default=True)
@click.option('--ref-steps', help='Reference Heun steps', type=click.IntRange(min=2), default=256, show_default=True)
@click.option('--threads',   help='torch intra-op threads', type=click.IntRange(min=1), default=1, show_default=True)
def main(network, ref_steps, threads):
    """Spline |Q| against the JVP |Q|, and the RMS of their Hölder grids."""
    torch.set_num_threads(threads)
    t0 = time.time()
    print(f'load at start {", ".join(f"{v:.2f}" for v in os.getloadavg())}, {threads} thread(s)', flush=True)
    net = load_network(network, verbose=False)
    bank = closed_form.trajectory_bank(net)
    s, r_q = local_error.spline_density(bank, 'euler')
    _, r_2m = local_error.spline_density(bank, 'dpmpp-2m')
    print(f'bank {time.time() - t0:.0f} s', flush=True)
    s_jvp, r_jvp = closed_form.profile(net, 'euler')
    print(f'JVP profile {time.time() - t0:.0f} s', flush=True)
    ratio = r_q / np.interp(np.log(s), np.log(s_jvp[::-1]), r_jvp[::-1])
    print('spline |Q| / JVP |Q| at sigma: ' + ' '.join(f'{a:.3g}:{b:.2f}' for a, b in zip(s[::16], ratio[::16])))
    w = objective.propagation_weight(net, s, 1.0).numpy()
    cands = {'|Q| by JVP': (s_jvp, r_jvp, 2), 'spline |Q|': (s, r_q, 2), 'spline |Q|, p=3': (s, r_q, 3),
             'spline 2M': (s, r_2m, 3), 'spline 2M, beta=1': (s, r_2m * w, 3), 'spline |Q|, beta=1': (s, r_q * w, 2)}
    latents, labels, _ = sampler.edm_latents(net, range(128))
    ref = sampler.reference_samples(net, latents, labels, num_steps=ref_steps)
    steps = (4, 6, 8, 10)
    for solver in ('dpmpp-2m', 'ipndm'):
        run = lambda g: sampler.batched(lambda z, c: sampler.sample(net, z, torch.as_tensor(g, dtype=torch.float64), c, solver=solver),
                                        latents, labels)
        base = None
        print(f'\n{solver}, RMS vs Heun {ref_steps} steps at K = 4, 6, 8, 10; ratio to |Q| by JVP')
        for name, (sg, r, p) in cands.items():
            e = np.array([rms_error(run(closed_form.nodes(sg, r, K, p)[0]), ref) for K in steps])
            base = e if base is None else base
            print(f'  {name:20s} ' + ' '.join(f'{v:.4f}' for v in e) + '   ' + ' '.join(f'{v:.2f}' for v in e / base), flush=True)
    print(f'\ntotal {time.time() - t0:.0f} s, load at end {", ".join(f"{v:.2f}" for v in os.getloadavg())}')

#----------------------------------------------------------------------------

if __name__ == '__main__':
    main() # pylint: disable=no-value-for-parameter

#----------------------------------------------------------------------------
