# ART-EDM: learned time grids for EDM-style diffusion samplers.
# Copyright (c) 2026 The ART-EDM authors. Released under the MIT License (see LICENSE).

"""Learn a time grid for a network and write it as a schedule JSON plus a PNG plot.

Thin: parse, load, call art.methods.learn (the one registry; `--method` takes its spec grammar
NAME:key=val:key=val), save.
"""

import json
import os

import click
import numpy as np

import dnnlib
from art import methods
from art.builtin import load_network
from torch_utils.misc import resolve_device

#----------------------------------------------------------------------------
# Plot: theta over the ART clock t, and the sigma grid against EDM's.

def save_plot(path, sched, num_steps):
    import matplotlib # pylint: disable=import-outside-toplevel
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt # pylint: disable=import-outside-toplevel
    from art import schedules # pylint: disable=import-outside-toplevel
    sigmas = np.asarray(sched['sigmas'])
    sigma_min = sched.get('settings', {}).get('sigma_min') or float(sigmas[-2])
    edm = schedules.get_sigmas('edm', num_steps, sigma_min=sigma_min, sigma_max=float(sigmas[0])).numpy()
    # Clock speeds theta on the clock the method learned on (ART-RL's time change; else sigma = T - psi).
    tc = sched.get('time_change') or dict(theta=list(sched['theta_bar']), time_map='linear', sigma_max=float(sigmas[0]))
    if len(tc['theta']) > 4 * num_steps:  # a fine time change (closed form): plot the grid's own speeds
        tc = dict(tc, theta=list(np.diff(schedules.u_of_sigma(sigmas, tc['time_map'], tc['sigma_max']).numpy()) * num_steps))
    speeds = lambda grid: np.diff(schedules.u_of_sigma(grid, tc['time_map'], tc['sigma_max']).numpy()) * (len(grid) - 1)
    theta = np.asarray(tc['theta']) * len(tc['theta']) / np.sum(tc['theta'])
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    ax1.stairs(theta, np.linspace(0, 1, len(theta) + 1), label=f'{sched["method"]} theta')
    ax1.stairs(speeds(edm), np.linspace(0, 1, num_steps + 1), label='EDM rho=7', alpha=0.7)
    ax1.set_xlabel(f'clock t / T ({tc["time_map"]} clock)'); ax1.set_ylabel('clock speed theta'); ax1.set_yscale('log'); ax1.legend()
    k = np.arange(num_steps)
    ax2.semilogy(k, sigmas[:-1], 'o-', label=sched['method'])
    ax2.semilogy(k, edm[:-1], 's--', label='EDM rho=7', alpha=0.7)
    ax2.set_xlabel('step i'); ax2.set_ylabel('sigma_i'); ax2.legend()
    fig.suptitle(f'K={num_steps}')
    fig.tight_layout()
    from torch_utils.misc import save_atomic # pylint: disable=import-outside-toplevel
    save_atomic(path, lambda tmp: fig.savefig(tmp, dpi=100))
    plt.close(fig)

#----------------------------------------------------------------------------

_METHODS_HELP = '\n'.join(methods.describe())

@click.command(epilog='\b\nMethods (--method=NAME or NAME:key=val:key=val; options in docs/usage.md):\n' + _METHODS_HELP)
@click.option('--network', 'network',    help='Network pickle/checkpoint: file, URL or builtin:NAME', metavar='PATH|URL', type=str, required=True)
@click.option('--steps', 'num_steps',    help='Number of sampling steps K', metavar='INT',                 type=click.IntRange(min=1, max=10000), default=18, show_default=True)
@click.option('--method', 'spec',        help='Method spec NAME[:key=val...]', metavar='SPEC',             type=str, default='closed-form', show_default=True)
@click.option('--solver',                help='Solver the grid is learned for',                            type=click.Choice(list(methods.sampler.SOLVERS)), default='heun', show_default=True)
@click.option('--out',                   help='Output schedule file (.json); the plot goes next to it',    metavar='FILE', type=str, required=True)
@click.option('--sigma_min',             help='Lowest noise level [default: the network\'s, >= 0.002]',   metavar='FLOAT', type=click.FloatRange(min=0, min_open=True), default=None)
@click.option('--sigma_max',             help='Highest noise level [default: the network\'s, <= 80]',     metavar='FLOAT', type=click.FloatRange(min=0, min_open=True), default=None)
@click.option('--seed',                  help='Random seed',                                               metavar='INT', type=click.IntRange(min=0), default=0, show_default=True)
@click.option('--device',                help='Device [default: cuda if available]',                       metavar='STR', type=str, default=None)
@click.option('--resume',                help='Resume from OUT.ckpt.pt when present (resumable methods)',  is_flag=True)
@click.option('--preset',                help='Shorthand: paper = --method=art-rl-paper --solver=euler',   type=click.Choice(['paper']), default=None)
@click.option('--trust-pickle', 'trust', help='Run code embedded in a pickle (only for pickles you trust)', is_flag=True)
def main(**opts):
    """Learn a time grid for a network (schedule JSON + PNG plot).

    Examples:

    \b
    # Solver-aware closed form for EDM's Heun sampler (seconds), then sample with it
    python train_art.py --network=builtin:gmm-digits --steps=10 --out=cf10.json
    python generate.py --network=builtin:gmm-digits --schedule=cf10.json --outdir=out

    \b
    # The paper's Euler surrogate; ART-RL with fewer iterations; the GITS peer
    python train_art.py --network=builtin:mnist-dit --method=closed-form --solver=euler --steps=10 --out=e10.json
    python train_art.py --network=builtin:gmm-digits --method=art-rl:iters=1000 --steps=18 --out=rl18.json
    python train_art.py --network=builtin:mnist-dit --method=gits --steps=7 --out=gits7.json

    \b
    # The paper's 1-D study with Algorithm 1 as published
    python train_art.py --network=builtin:gauss1d --steps=10 --preset=paper --out=g10.json
    """
    opts = dnnlib.EasyDict(opts)
    with dnnlib.util.click_user_errors():
        run(opts)

def run(opts):
    if not opts.out.endswith('.json'):
        raise dnnlib.UserError(f'--out must be a .json file, got "{opts.out}"')
    spec, solver = opts.spec, opts.solver
    if opts.preset == 'paper':
        ctx = click.get_current_context()
        from click.core import ParameterSource # pylint: disable=import-outside-toplevel
        if ctx.get_parameter_source('spec') != ParameterSource.DEFAULT and not spec.startswith('art-rl-paper'):
            raise dnnlib.UserError(f'--preset=paper means --method=art-rl-paper; drop --method={spec} or the preset')
        spec = spec if spec.startswith('art-rl-paper') else 'art-rl-paper'
        solver = 'euler'
    methods.parse_spec(spec)  # a bad spec fails before the network loads
    if os.path.isdir(opts.out):
        raise dnnlib.UserError(f'--out "{opts.out}" is a folder; give a .json file path')
    try:
        if os.path.dirname(opts.out):
            os.makedirs(os.path.dirname(opts.out), exist_ok=True)
    except OSError as e:
        raise dnnlib.UserError(f'Cannot create the folder of --out "{opts.out}" ({e.strerror}); choose another --out') from None
    from torch_utils.misc import exclusive_output # pylint: disable=import-outside-toplevel
    with exclusive_output(opts.out, '--out'):
        learn_and_save(opts, spec, solver)

def learn_and_save(opts, spec, solver):
    from art import schedules # pylint: disable=import-outside-toplevel
    device = resolve_device(opts.device)
    net = load_network(opts.network, device=device, trust=opts.trust, verbose=True)
    print(f'Learning a K={opts.num_steps} grid with "{spec}" for the {solver} solver on "{opts.network}"...')
    sched = methods.learn(spec, net, opts.num_steps, solver=solver, seed=opts.seed, device=device, progress=True, log=print,
        network=opts.network, sigma_min=opts.sigma_min, sigma_max=opts.sigma_max,
        checkpoint=opts.out + '.ckpt.pt', resume=opts.resume, log_path=opts.out + '.log.jsonl')
    sigmas = sched.pop('sigmas')
    schedules.save_schedule(opts.out, sigmas, **{k: v for k, v in sched.items() if k not in ('format', 'num_steps', 'sigma_min', 'sigma_max')})
    png = opts.out[:-len('.json')] + '.png'
    save_plot(png, dict(sched, sigmas=sigmas), opts.num_steps)
    print('sigmas:', json.dumps([float(f'{s:.6g}') for s in sigmas]))
    print(f'Saved "{opts.out}" and "{png}"')

#----------------------------------------------------------------------------

if __name__ == '__main__':
    main() # pylint: disable=no-value-for-parameter

#----------------------------------------------------------------------------
