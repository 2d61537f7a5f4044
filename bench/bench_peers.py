# ART-EDM: learned time grids for EDM-style diffusion samplers.
# Copyright (c) 2026 The ART-EDM authors. Released under the MIT License (see LICENSE).

"""Benchmark: the peer grids for the multistep solvers at low NFE.

For every network x solver x NFE (NFE = K for dpmpp-2m and ipndm, EDM's convention with the final Euler
step to 0): the RMS error (art.metrics.rms_error) against a high-NFE reference (Heun on EDM's rho=7 grid,
--ref_steps steps) from the same latents (seeds 0..num-1, disjoint from the learners' warm-up seeds) of
EDM rho=7, logSNR-uniform, GITS with the solver's own step cost and LD3, plus each learner's wall time
(GITS's first K includes its cost tensor, which later K reuse). Prints the machine load before and after.
Prints numbers; never fails on time.

  python bench/bench_peers.py --network=builtin:gmm-digits
"""

import os
import time

import click
import torch

import dnnlib
from art import methods
from art import sampler
from art import schedules
from art.builtin import load_network
from art.metrics import rms_error

#----------------------------------------------------------------------------

def _load():
    return ' '.join(f'{v:.2f}' for v in os.getloadavg())

def bench(net, name, solvers, nfes, num, ref_steps, gits_spec, ld3_spec):
    z, c, _ = sampler.edm_latents(net, range(num))
    ref = sampler.reference_samples(net, z, c, num_steps=ref_steps)
    err = lambda s: rms_error(sampler.batched(lambda a, b: sampler.sample(net, a, torch.as_tensor(s, dtype=torch.float64), b,
        solver=solver), z, c), ref)
    print(f'\n{name}: RMS vs Heun-{ref_steps} reference, {num} samples (seeds 0..{num - 1}); learner wall time in s')
    print(f'{"solver":<9s} {"NFE":>3s} {"edm":>9s} {"logsnr":>9s} {"gits":>9s} {"ld3":>9s} {"t_gits":>7s} {"t_ld3":>7s}')
    for solver in solvers:
        for nfe in nfes:
            K = nfe                                             # dpmpp-2m, ipndm: NFE = K
            assert sampler.count_nfe(solver, K) == nfe
            row = [err(schedules.get_sigmas(g, K, net=net)) for g in ('edm', 'logsnr')]
            times = []
            for spec in (gits_spec, ld3_spec):
                t0 = time.perf_counter()
                sched = methods.learn(spec, net, K, solver=solver, seed=0)
                times.append(time.perf_counter() - t0)
                row.append(err(sched['sigmas']))
            print(f'{solver:<9s} {nfe:>3d} ' + ' '.join(f'{v:>9.5f}' for v in row) + ' ' + ' '.join(f'{t:>7.1f}' for t in times), flush=True)

@click.command()
@click.option('--network', 'networks', help='Networks (repeatable)', multiple=True, default=['builtin:gmm-digits', 'builtin:mnist-dit'], show_default=True)
@click.option('--solvers',             help='Solvers, comma-separated', default='dpmpp-2m,ipndm', show_default=True)
@click.option('--nfe',                 help='NFE budgets, comma-separated', default='4,6,8,10', show_default=True)
@click.option('--num',                 help='Evaluation samples (seeds 0..num-1)', type=click.IntRange(min=1), default=128, show_default=True)
@click.option('--ref_steps',           help='Steps of the Heun reference', type=click.IntRange(min=2), default=256, show_default=True)
@click.option('--gits',  'gits_spec',  help='GITS method spec', default='gits', show_default=True)
@click.option('--ld3',   'ld3_spec',   help='LD3 method spec', default='ld3', show_default=True)
@click.option('--threads',             help='torch intra-op threads', type=click.IntRange(min=1), default=1, show_default=True)
def main(networks, solvers, nfe, num, ref_steps, gits_spec, ld3_spec, threads):
    """Peer grids (EDM, logSNR, GITS, LD3) for the multistep solvers at low NFE."""
    torch.set_num_threads(threads)
    print(f'load average (1, 5, 15 min) before: {_load()}; torch threads {threads}')
    for spec in networks:
        try:
            net = load_network(spec)
        except dnnlib.UserError as e:
            print(f'\n{spec}: skipped ({e})')
            continue
        bench(net, spec, [s.strip() for s in solvers.split(',')], [int(v) for v in nfe.split(',')], num, ref_steps, gits_spec, ld3_spec)
    print(f'\nload average (1, 5, 15 min) after: {_load()}')

if __name__ == '__main__':
    with dnnlib.util.click_user_errors():
        main() # pylint: disable=no-value-for-parameter
