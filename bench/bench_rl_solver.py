# ART-EDM: learned time grids for EDM-style diffusion samplers.
# Copyright (c) 2026 The ART-EDM authors. Released under the MIT License (see LICENSE).

"""Benchmark of ART-RL with a solver's running cost against that solver's closed forms (issue 13).

One ART-RL run per seed, `methods.learn('art-rl:iters=N[:OPTIONS]', net, RL_STEPS, solver=SOLVER)`, its
learned time change read off at each K of --steps, sampled with SOLVER from the latents of seeds
0..samples-1 (art.sampler.edm_latents). Prints, per K, the RMS error against a high-NFE Heun reference
from the same latents (art.sampler.reference_samples) of:
  * EDM rho=7;
  * `closed-form:refine=false`: the Hölder closed form of the solver's density as closed_form.fit
    measures it (dpmpp-2m / ipndm: probed along the trajectory bank, art.local_error.density);
  * the Hölder closed form of ART-RL's OWN running cost, E r_S along the same trajectories with r_S the
    per-state density art.objective.error_density (closed_form.profile + closed_form.nodes); for euler and
    heun it is the same grid as the previous row;
  * the refined closed form (`closed-form`, the solver's default refine);
  * ART-RL, and the ratios ART-RL / each Hölder closed form;
and, per K, the time-only cost Σ rbar |Δσ|^p of each grid under ART-RL's own density (closed_form.
surrogate_error) relative to that of its own closed form: how far ART-RL is from the optimum of what it
optimises. Also prints each run's wall time and the machine load (os.getloadavg()). Never fails on
time; the learned schedules and their JSON-lines logs are written to --outdir. Examples:

    python bench/bench_rl_solver.py --solver=dpmpp-2m --iters=5000 --seeds=0,1,2
    python bench/bench_rl_solver.py --solver=dpmpp-2m --schedules=out/art-rl-dpmpp-2m-seed0.json
"""

import json
import os
import sys
import time

import click
import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import dnnlib # pylint: disable=wrong-import-position
from art import closed_form, methods, objective, rl, sampler, schedules # pylint: disable=wrong-import-position
from art.builtin import load_network # pylint: disable=wrong-import-position
from art.metrics import rms_error # pylint: disable=wrong-import-position
from dnnlib.util import parse_int_list # pylint: disable=wrong-import-position

#----------------------------------------------------------------------------

def load_text():
    return ', '.join(f'{v:.2f}' for v in os.getloadavg())

def run_rl(net, args, seed):
    """One ART-RL run (or the schedule file given for it); returns (schedule, seconds or None)."""
    spec = f'art-rl:iters={args.iters}' + (f':{args.options}' if args.options else '')
    t0 = time.time()
    out = os.path.join(args.outdir, f'art-rl-{args.solver}-seed{seed}')
    sched = methods.learn(spec, net, args.rl_steps, solver=args.solver, seed=seed, log_path=f'{out}.jsonl')
    sec = time.time() - t0
    with open(f'{out}.json', 'w') as f:
        json.dump(sched, f)
    print(f'ART-RL {spec} solver={args.solver} K={args.rl_steps} seed {seed}: {sec:.0f} s ({sec / max(args.iters, 1) * 1000:.0f} ms/it), '
          f'load {load_text()}, q_scale_c {sched["settings"]["q_scale_c"]:.4g}, gamma_final {sched["settings"]["gamma_final"]:.4g}', flush=True)
    return sched, sec

def fmt(v):
    return ' '.join(f'{x:.4g}' for x in v)

#----------------------------------------------------------------------------

@click.command()
@click.option('--network',   help='Network (builtin:NAME or a pickle)', type=str, default='builtin:gmm-digits', show_default=True)
@click.option('--solver',    help='Solver: the running cost and the sampler', type=click.Choice(list(objective.ERROR_MODELS)), default='dpmpp-2m', show_default=True)
@click.option('--iters',     help='ART-RL iterations', type=click.IntRange(min=0), default=5000, show_default=True)
@click.option('--options',   help='More art-rl spec keys, e.g. lr=0.0003:batch=32', type=str, default='', show_default=True)
@click.option('--rl-steps',  help='Steps of the RL clock (one run serves every K)', type=click.IntRange(min=1), default=10, show_default=True)
@click.option('--steps',     help='K values to read off and sample', type=parse_int_list, default='4,6,8,10', show_default=True)
@click.option('--seeds',     help='ART-RL seeds (one run each)', type=parse_int_list, default='0', show_default=True)
@click.option('--schedules', help='Comma-separated ART-RL schedule files to evaluate instead of training', type=str, default='', show_default=True)
@click.option('--samples',   help='Samples (seeds 0..N-1) for the RMS errors', type=click.IntRange(min=1), default=128, show_default=True)
@click.option('--ref-steps', help='Reference Heun steps', type=click.IntRange(min=2), default=1024, show_default=True)
@click.option('--threads',   help='torch intra-op threads', type=click.IntRange(min=1), default=1, show_default=True)
@click.option('--outdir',    help='Where the learned schedules go', type=str, default='bench-rl-solver-out', show_default=True)
def main(**kwargs):
    """ART-RL with a solver's running cost against the solver's closed forms (RMS vs a Heun reference)."""
    args = dnnlib.EasyDict(kwargs)
    torch.set_num_threads(args.threads)
    os.makedirs(args.outdir, exist_ok=True)
    t_start = time.time()
    print(f'load at start {load_text()} ({os.cpu_count()} CPUs), {args.threads} thread(s)', flush=True)
    net = load_network(args.network, verbose=False)
    solver, p = args.solver, objective.error_power(args.solver)

    # Closed forms (each fit per K) and ART-RL's own running cost's profile.
    grids = {name: dict() for name in ('EDM rho=7', 'closed form (Hölder)', 'closed form (own cost)', 'closed form (refined)')}
    t0 = time.time()
    sigma_own, r_own = closed_form.profile(net, solver)
    for K in args.steps:
        grids['EDM rho=7'][K] = schedules.get_sigmas('edm', K, net=net).numpy()
        grids['closed form (Hölder)'][K] = np.asarray(methods.learn('closed-form:refine=false', net, K, solver=solver)['sigmas'])
        grids['closed form (own cost)'][K] = np.asarray(closed_form.nodes(sigma_own, r_own, K, p)[0])
        grids['closed form (refined)'][K] = np.asarray(methods.learn('closed-form', net, K, solver=solver)['sigmas'])
    print(f'closed forms: {time.time() - t0:.1f} s', flush=True)

    runs = []
    if args.schedules:
        for path in args.schedules.split(','):
            with open(path) as f:
                runs.append((os.path.basename(path), json.load(f), None))
    else:
        for seed in args.seeds:
            sched, sec = run_rl(net, args, seed)
            runs.append((f'seed {seed}', sched, sec))
    for name, sched, _sec in runs:
        grids[f'ART-RL {name}'] = {K: np.asarray(rl.schedule_grid(sched, K)) for K in args.steps}

    # RMS errors against the reference from the same latents.
    latents, labels, _rnd = sampler.edm_latents(net, range(args.samples))
    t0 = time.time()
    ref = sampler.reference_samples(net, latents, labels, num_steps=args.ref_steps)
    print(f'reference: Heun {args.ref_steps} steps, {args.samples} samples, {time.time() - t0:.1f} s', flush=True)
    sample = lambda s: sampler.batched(lambda z, c: sampler.sample(net, z, torch.as_tensor(s, dtype=torch.float64), c, solver=solver), latents, labels)
    rms = {name: {K: rms_error(sample(g[K]), ref) for K in args.steps} for name, g in grids.items()}
    cost = {name: {K: closed_form.surrogate_error(g[K], sigma_own, r_own, p) for K in args.steps} for name, g in grids.items()}

    width = max(len(n) for n in grids) + 2
    print(f'\nRMS error vs Heun {args.ref_steps}-step reference, {args.samples} samples, sampled with {solver}')
    print(f'{"K (= NFE)":{width}s}' + ''.join(f'{K:>9d}' for K in args.steps))
    for name in grids:
        print(f'{name:{width}s}' + ''.join(f'{rms[name][K]:9.4f}' for K in args.steps))
    for name, _s, _t in runs:
        for target in ('closed form (Hölder)', 'closed form (own cost)'):
            label = f'ART-RL {name} / {target[12:-1]}'
            print(f'{label:{width}s}' + ''.join(f'{rms[f"ART-RL {name}"][K] / rms[target][K]:9.3f}' for K in args.steps))
    print(f'\ntime-only cost Σ rbar|Δσ|^{p} under ART-RL\'s own density, / that of its closed form')
    for name in grids:
        print(f'{name:{width}s}' + ''.join(f'{cost[name][K] / cost["closed form (own cost)"][K]:9.3f}' for K in args.steps))
    K = max(args.steps)
    print(f'\ngrids at K={K}:')
    for name in grids:
        print(f'{name:{width}s} {fmt(grids[name][K])}')
    for name, sched, sec in runs:
        st = sched['settings']
        print(f'ART-RL {name}: {"%.0f s" % sec if sec is not None else "(file)"}, iters {st["iters"]}, batch {st["batch"]}, '
              f'lr {st["lr"]:g}, lr_critic {st["lr_critic"]}, lam {st["lam"]:g}, std_cap {st["std_cap"]}, q_scale {st["q_scale"]}')
    print(f'total {time.time() - t_start:.0f} s, load at end {load_text()}', flush=True)

#----------------------------------------------------------------------------

if __name__ == '__main__':
    main() # pylint: disable=no-value-for-parameter

#----------------------------------------------------------------------------
