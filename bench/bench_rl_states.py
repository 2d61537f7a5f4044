# ART-EDM: learned time grids for EDM-style diffusion samplers.
# Copyright (c) 2026 The ART-EDM authors. Released under the MIT License (see LICENSE).

"""How far ART-RL's rollout states bias its running cost, and what that bias does to the grid (issue 13).

ART-RL evaluates its running cost r_S at the states of its own discretisation of the controlled
dynamics (4), not on the exact flow. For each clock resolution N of --rl-steps and each --dynamics
(euler: the paper's step; heun), this runs that discretisation on EDM's N-step rho=7 grid (the initial
policy) from warm-up latents, and prints
  * E r_S at the rollout states / E r_S at the exact states at the same sigmas (exact: Heun with 16
    substeps per step in log sigma), per node;
  * the RMS error (sampled with SOLVER from seeds 0..samples-1, against a Heun reference from the same
    latents) of the Hölder closed form of the profile density E r_S multiplied by that ratio
    (interpolated in log sigma), divided by the RMS of the unbiased closed form: what the bias alone would
    do to ART-RL's optimum.
Never fails on time. Example:

    python bench/bench_rl_states.py --solver=dpmpp-2m --rl-steps=10,30 --dynamics=euler,heun
"""

import os
import sys
import time

import click
import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from art import closed_form, objective, sampler, schedules # pylint: disable=wrong-import-position
from art.builtin import load_network # pylint: disable=wrong-import-position
from art.metrics import rms_error # pylint: disable=wrong-import-position
from dnnlib.util import parse_int_list # pylint: disable=wrong-import-position

#----------------------------------------------------------------------------

def state_bias(net, solver, num_steps, dynamics, num):
    """(sigmas ascending, ratio): E r_S on the `dynamics` rollout over EDM's grid / E r_S on the exact flow."""
    sig = schedules.get_sigmas('edm', num_steps, net=net).to(torch.float64)
    z, c = sampler.warmup_latents(net, num, 0, 'cpu')
    xs = sampler.trajectory(net, z, sig, c, solver=dynamics)
    x_exact, out = xs[0], []
    for i in range(num_steps):
        r_roll = objective.error_density(net, xs[i], sig[i], c, solver=solver).mean()
        r_exact = objective.error_density(net, x_exact, sig[i], c, solver=solver).mean()
        out.append((float(sig[i]), float(r_roll / r_exact)))
        if i < num_steps - 1:
            sub = torch.exp(torch.linspace(float(sig[i].log()), float(sig[i + 1].log()), 17, dtype=torch.float64))
            x_exact = sampler.trajectory(net, x_exact / sig[i], torch.cat([sub, sub.new_zeros(1)]), c, solver='heun')[-2]
    a = np.array(out[::-1])
    return a[:, 0], a[:, 1]

@click.command()
@click.option('--network',  help='Network (builtin:NAME or a pickle)', type=str, default='builtin:gmm-digits', show_default=True)
@click.option('--solver',   help='Error model and sampler', type=click.Choice(list(objective.ERROR_MODELS)), default='dpmpp-2m', show_default=True)
@click.option('--rl-steps', help='Clock resolutions N', type=parse_int_list, default='10,30', show_default=True)
@click.option('--dynamics', help='Rollout steps of (4)', type=str, default='euler,heun', show_default=True)
@click.option('--steps',    help='K values of the closed forms', type=parse_int_list, default='4,6,8,10', show_default=True)
@click.option('--samples',  help='Samples for the RMS errors and the state bias', type=click.IntRange(min=1), default=128, show_default=True)
@click.option('--threads',  help='torch intra-op threads', type=click.IntRange(min=1), default=2, show_default=True)
def main(network, solver, rl_steps, dynamics, steps, samples, threads):
    """State bias of ART-RL's running cost and its effect on the closed form."""
    torch.set_num_threads(threads)
    t0 = time.time()
    print(f'load at start {", ".join(f"{v:.2f}" for v in os.getloadavg())}, {threads} thread(s)')
    net = load_network(network, verbose=False)
    p = objective.error_power(solver)
    sig, rbar = closed_form.profile(net, solver)
    latents, labels, _ = sampler.edm_latents(net, range(samples))
    ref = sampler.reference_samples(net, latents, labels, num_steps=1024)
    err = lambda g: rms_error(sampler.batched(lambda z, c: sampler.sample(net, z, torch.as_tensor(g, dtype=torch.float64), c,
                                                                         solver=solver), latents, labels), ref)
    base = {K: err(closed_form.nodes(sig, rbar, K, p)[0]) for K in steps}
    print('closed form (unbiased) RMS: ' + ' '.join(f'K={K} {base[K]:.4f}' for K in steps))
    for dyn in dynamics.split(','):
        for n in rl_steps:
            s, ratio = state_bias(net, solver, n, dyn, samples)
            print(f'\n{dyn} rollout, N={n}: E r at rollout states / exact, sigma ascending:')
            print('  ' + ' '.join(f'{a:.3g}:{b:.2f}' for a, b in zip(s, ratio)))
            fac = np.interp(np.log(sig), np.log(s), ratio)
            rel = {K: err(closed_form.nodes(sig, rbar * fac, K, p)[0]) / base[K] for K in steps}
            print('  closed form of the biased density, RMS / unbiased: ' + ' '.join(f'K={K} {rel[K]:.3f}' for K in steps))
    print(f'\ntotal {time.time() - t0:.0f} s, load at end {", ".join(f"{v:.2f}" for v in os.getloadavg())}')

#----------------------------------------------------------------------------

if __name__ == '__main__':
    main() # pylint: disable=no-value-for-parameter

#----------------------------------------------------------------------------
