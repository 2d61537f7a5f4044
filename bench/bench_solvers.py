# ART-EDM: learned time grids for EDM-style diffusion samplers.
# Copyright (c) 2026 The ART-EDM authors. Released under the MIT License (see LICENSE).

"""Benchmark: the solvers of art.sampler at low NFE, and the cost of the non-finite guard.

  accuracy: RMS error against a high-NFE reference (RK4, 512 steps on EDM's rho=7 grid, same latents,
            same final-step convention: the state at sigma = 0, or at sigma_min for 'none') of every
            solver x final-step convention at a few NFE budgets, on EDM's rho=7 grid. K is
            the largest number of steps whose count_nfe() fits the budget; the NFE column is exact.
  guard:    `sample()` with check_finite=True vs False, interleaved rep by rep in one process;
            overhead = min(on) / min(off) - 1 (min over reps: the least disturbed run on a shared
            machine), and the guard's own work alone (K flags isfinite(x).all() and one read) as a
            fraction of min(off). Target: < 1%. Prints numbers; never fails on time.
"""

import time

import click
import torch

import dnnlib
from art import sampler as art_sampler
from art import schedules as art_schedules
from art.builtin import load_network

#----------------------------------------------------------------------------

def steps_for_budget(solver, nfe, final_step):
    """The largest K >= 1 with count_nfe(solver, K, final_step) <= nfe, or None."""
    fits = [K for K in range(1, nfe + 2) if art_sampler.count_nfe(solver, K, final_step=final_step) <= nfe]
    return max(fits) if fits else None

#----------------------------------------------------------------------------
def accuracy(net, latents, labels, budgets, final_steps):
    ref_sigmas = art_schedules.get_sigmas('edm', 512, net=net)
    refs = {f: art_sampler.sample(net, latents, ref_sigmas, labels, solver='rk4', final_step=f) for f in final_steps}
    print(f'{"solver":<9s} {"final":<8s} ' + ' '.join(f'{"NFE<=" + str(b):>18s}' for b in budgets))
    for solver in art_sampler.SOLVERS:
        for final_step in final_steps:
            cells = []
            for budget in budgets:
                K = steps_for_budget(solver, budget, final_step)
                if K is None or K < 2:
                    cells.append(f'{"-":>18s}')
                    continue
                sigmas = art_schedules.get_sigmas('edm', K, net=net)
                x, nfe = art_sampler.sample(net, latents, sigmas, labels, solver=solver, final_step=final_step, return_nfe=True)
                rms = (x - refs[final_step]).square().mean().sqrt().item()
                cells.append(f'{rms:>9.4f} (K={K:2d},{nfe:2d})')
            print(f'{solver:<9s} {final_step:<8s} ' + ' '.join(cells))

#----------------------------------------------------------------------------
def guard_cost(net, latents, labels, num_steps, solver, reps, device):
    sigmas = art_schedules.get_sigmas('edm', num_steps, net=net, device=device)
    def timed(check):
        if device.type == 'cuda':
            torch.cuda.synchronize(device)
        t0 = time.perf_counter()
        art_sampler.sample(net, latents, sigmas, labels, solver=solver, check_finite=check)
        if device.type == 'cuda':
            torch.cuda.synchronize(device)
        return time.perf_counter() - t0
    timed(True) # warm-up
    on, off, ops = [], [], []
    x = latents.to(torch.float64)
    for rep in range(reps):
        for check in ((True, False) if rep % 2 == 0 else (False, True)):
            (on if check else off).append(timed(check))
        t0 = time.perf_counter() # the guard's own work: one flag per step, one read at the end
        flags = [torch.isfinite(x).all() for _ in range(num_steps)]
        bool(flags[-1])
        ops.append(time.perf_counter() - t0)
    return min(on), min(off), min(ops)

#----------------------------------------------------------------------------

@click.command()
@click.option('--network',  'network_pkl', help='Network for the accuracy table', metavar='PATH|URL|builtin:NAME', type=str, default='builtin:gmm-digits', show_default=True)
@click.option('--guard-network', 'guard_pkl', help='Network for the guard cost', metavar='PATH|URL|builtin:NAME', type=str, default='builtin:mnist-dit', show_default=True)
@click.option('--batch',    help='Batch size', metavar='INT',                     type=click.IntRange(min=1), default=64, show_default=True)
@click.option('--nfe',      'budgets', help='NFE budgets', metavar='LIST',        type=str, default='5,7,9,13,17', show_default=True)
@click.option('--steps',    'num_steps', help='Steps K for the guard cost', metavar='INT', type=click.IntRange(min=1), default=9, show_default=True)
@click.option('--reps',     help='Timed repetitions of the guard cost', metavar='INT', type=click.IntRange(min=1), default=7, show_default=True)
@click.option('--threads',  help='torch CPU threads  [default: torch default]', metavar='INT', type=click.IntRange(min=1), default=None)
@click.option('--device',   help='Device', type=str, default='cpu', show_default=True)
def main(network_pkl, guard_pkl, batch, budgets, num_steps, reps, threads, device):
    """Print solver accuracy at equal NFE and the non-finite guard's cost.

    \b
    python bench/bench_solvers.py
    python bench/bench_solvers.py --guard-network=builtin:gmm-digits --batch=16
    """
    if threads is not None:
        torch.set_num_threads(threads)
    device = torch.device(device)
    budgets = dnnlib.util.parse_int_list(budgets)
    with dnnlib.util.click_user_errors():
        net = load_network(network_pkl, device=device)
        latents, labels, _rnd = art_sampler.edm_latents(net, range(batch), device)
        print(f'accuracy: network={network_pkl} batch={batch} grid=edm (rho=7); RMS error vs RK4 K=512; cells: rms (K, NFE)')
        with torch.no_grad():
            accuracy(net, latents.to(torch.float64), labels, budgets, art_sampler.FINAL_STEPS[:2])
        gnet = load_network(guard_pkl, device=device)
        latents, labels, _rnd = art_sampler.edm_latents(gnet, range(batch), device)
        print(f'\nguard: network={guard_pkl} device={device} threads={torch.get_num_threads()} batch={batch} K={num_steps} reps={reps} (min over reps, interleaved)')
        print(f'{"solver":<9s} {"guard on s":>11s} {"guard off s":>12s} {"overhead":>9s} {"guard ops s":>12s} {"ops/off":>8s}')
        with torch.no_grad():
            for solver in ('heun', 'dpmpp-2m'):
                t_on, t_off, t_ops = guard_cost(gnet, latents, labels, num_steps, solver, reps, device)
                print(f'{solver:<9s} {t_on:>11.4f} {t_off:>12.4f} {t_on / t_off - 1:>8.2%} {t_ops:>12.6f} {t_ops / t_off:>8.3%}')
    print('target: guard overhead < 1% (informational; this script never fails on time)')

#----------------------------------------------------------------------------

if __name__ == '__main__':
    main() # pylint: disable=no-value-for-parameter

#----------------------------------------------------------------------------
