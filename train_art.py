# ART-EDM: learned time grids for EDM-style diffusion samplers.
# Copyright (c) 2026 The ART-EDM authors. Released under the MIT License (see LICENSE).

"""Learn an ART time grid for a network and write it as a schedule JSON plus a PNG plot.

Methods (art-paper §2 and §1.5): `rl` is ART-RL (art.rl, the paper's Algorithm 1 with distillation),
`closed-form` the time-only optimum theta ∝ E|Q|^(-1/2) (art.closed_form). More methods can be
registered in METHODS. The script is thin: parse, load, call the learner, save.
"""

import json
import os

import click
import numpy as np

import dnnlib
from art.builtin import load_network
from torch_utils.misc import resolve_device

#----------------------------------------------------------------------------
# Learners: name -> fn(net, K, opts) -> schedule dict (sigmas + metadata). Extend here.

RL_FLAGS = ('iters', 'batch', 'lam', 'lr', 'lr_critic', 'lr_gamma', 'augmented', 'critic_warmup', 'time_map', 'step_cost',
            'std_cap', 'init', 'q_scale')

def _learn_rl(net, num_steps, opts):
    from art import rl # pylint: disable=import-outside-toplevel
    kwargs = dict(rl.PAPER) if opts.preset == 'paper' else {}
    kwargs.update({k: opts[k] for k in RL_FLAGS if opts.get(k) is not None})  # flags given on the command line win
    return rl.train(net, num_steps, q_backend=opts.q_backend, sigma_min=opts.sigma_min, sigma_max=opts.sigma_max,
        rl_steps=opts.rl_steps, seed=opts.seed, device=opts.device, checkpoint=opts.out + '.ckpt.pt', resume=opts.resume,
        log_path=opts.out + '.log.jsonl', network_name=opts.network, progress=True, running_cost=opts.get('running_cost', 'euler'), **kwargs)

def _learn_closed_form(net, num_steps, opts):
    from art import closed_form # pylint: disable=import-outside-toplevel
    return closed_form.fit(net, num_steps, num_trajectories=opts.trajectories, sigma_min=opts.sigma_min,
        sigma_max=opts.sigma_max, q_backend=opts.q_backend, seed=opts.seed, device=opts.device,
        network_name=opts.network, progress=True)

def _learn_rl_heun(net, num_steps, opts):
    return _learn_rl(net, num_steps, dnnlib.EasyDict(opts, running_cost='heun'))

def _learn_quality(method, net, num_steps, opts):
    from art import quality # pylint: disable=import-outside-toplevel
    return quality.learn(method, net, num_steps, solver=opts.solver, seed=opts.seed, device=opts.device, verbose=True)

METHODS = {'rl': _learn_rl, 'closed-form': _learn_closed_form, 'rl-heun': _learn_rl_heun} # + art.quality.METHODS below
for _name in ('art-heun', 'art-heun-D', 'art-heun-w', 'art-heun-tuned', 'gits', 'edm-best-rho'):
    METHODS[_name] = (lambda name: lambda net, num_steps, opts: _learn_quality(name, net, num_steps, opts))(_name)

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
    tmp = f'{path}.tmp{os.getpid()}.png'
    fig.savefig(tmp, dpi=100)
    plt.close(fig)
    os.replace(tmp, path)

#----------------------------------------------------------------------------

@click.command()
@click.option('--network', 'network',     help='Network pickle/checkpoint: file, URL or builtin:NAME', metavar='PATH|URL', type=str, required=True)
@click.option('--steps', 'num_steps',     help='Number of sampling steps K', metavar='INT',                type=click.IntRange(min=1), default=18, show_default=True)
@click.option('--method',                 help='How to learn the grid',                                    type=click.Choice(sorted(METHODS)), default='rl', show_default=True)
@click.option('--solver',                 help='Solver the grid is for (solver-aware methods)',            type=click.Choice(['heun', 'euler']), default='heun', show_default=True)
@click.option('--out',                    help='Output schedule file (.json); the plot goes next to it',   metavar='FILE', type=str, required=True)
@click.option('--preset',                 help='ART-RL settings: this project\'s defaults or the paper\'s', type=click.Choice(['default', 'paper']), default='default', show_default=True)
@click.option('--iters',                  help='ART-RL iterations [default: 5000]',                        metavar='INT', type=click.IntRange(min=0), default=None)
@click.option('--batch',                  help='ART-RL trajectories per iteration [default: 64]',          metavar='INT', type=click.IntRange(min=1), default=None)
@click.option('--lam',                    help='Policy noise level lambda [default: 0.1]',                 metavar='FLOAT', type=click.FloatRange(min=0), default=None)
@click.option('--lr',                     help='Actor Adam learning rate [default: 1e-4]',                 metavar='FLOAT', type=click.FloatRange(min=0, min_open=True), default=None)
@click.option('--lr-critic', 'lr_critic', help='Critic Adam learning rate [default: 1e-3]',                metavar='FLOAT', type=click.FloatRange(min=0, min_open=True), default=None)
@click.option('--lr-gamma', 'lr_gamma',   help='Dual step on the relative budget error [default: 0.03]',   metavar='FLOAT', type=click.FloatRange(min=0), default=None)
@click.option('--augmented',              help='Augmented-Lagrangian weight c; 0 = dual only [default: 100]', metavar='FLOAT', type=click.FloatRange(min=0), default=None)
@click.option('--critic-warmup', 'critic_warmup', help='Critic-only iterations first [default: 200]',     metavar='INT', type=click.IntRange(min=0), default=None)
@click.option('--time-map', 'time_map',   help='RL clock: sigma = sigma_max (1-psi)^7 or T - psi [default: rho]', type=click.Choice(['rho', 'linear']), default=None)
@click.option('--step-cost', 'step_cost', help='Step cost: Simpson over the step or left point [default: simpson]', type=click.Choice(['simpson', 'left']), default=None)
@click.option('--std-cap', 'std_cap',     help='Exploration std <= STD_CAP x mean [default: 0.3]',          metavar='FLOAT', type=click.FloatRange(min=0, min_open=True), default=None)
@click.option('--rl-steps', 'rl_steps',   help='Resolution of the RL clock [default: K]',                  metavar='INT', type=click.IntRange(min=1), default=None)
@click.option('--init',                   help='Initial policy mean [default: edm]',                       type=click.Choice(['edm', 'uniform']), default=None)
@click.option('--q-scale', 'q_scale',     help='|Q| normalisation [default: auto]',                        type=click.Choice(['auto', 'dim', 'none']), default=None)
@click.option('--q-backend', 'q_backend', help='JVP backend for Q',                                        type=click.Choice(['auto', 'forward', 'backward', 'fd']), default='auto', show_default=True)
@click.option('--trajectories',           help='Closed form: PF-ODE trajectories for E|Q|',                metavar='INT', type=click.IntRange(min=1), default=128, show_default=True)
@click.option('--sigma_min',              help='Lowest noise level [default: the network\'s]',             metavar='FLOAT', type=click.FloatRange(min=0, min_open=True), default=None)
@click.option('--sigma_max',              help='Highest noise level = T [default: the network\'s]',         metavar='FLOAT', type=click.FloatRange(min=0, min_open=True), default=None)
@click.option('--seed',                   help='Random seed',                                              metavar='INT', type=int, default=0, show_default=True)
@click.option('--device',                 help='Device (cpu, cuda, cuda:1, ...) [default: cuda if available]', metavar='STR', type=str, default=None)
@click.option('--resume',                 help='Resume ART-RL from OUT.ckpt.pt when present',              is_flag=True)
@click.option('--trust-pickle', 'trust',  help='Run code embedded in a pickle (only for pickles you trust)', is_flag=True)
def main(**opts):
    """Learn an ART time grid for a network (schedule JSON + PNG plot).

    Examples:

    \b
    # ART-RL, K=18, on the built-in digits model
    python train_art.py --network=builtin:gmm-digits --steps=18 --out=art18.json

    \b
    # Closed-form time-only optimum (seconds), then sample with it
    python train_art.py --network=builtin:gmm-digits --method=closed-form --steps=10 --out=cf10.json
    python generate.py --network=builtin:gmm-digits --schedule=cf10.json --steps=10 --outdir=out

    \b
    # Solver-aware closed form for EDM's Heun sampler (docs/solver-aware-art.md), and the GITS peer
    python train_art.py --network=builtin:mnist-dit --method=art-heun --steps=7 --out=heun7.json
    python train_art.py --network=builtin:mnist-dit --method=gits --steps=7 --out=gits7.json

    \b
    # The paper's 1-D study (sigma(t) = t, T = 3) with the paper's Algorithm 1 settings
    python train_art.py --network=builtin:gauss1d --steps=10 --preset=paper --out=g10.json
    """
    opts = dnnlib.EasyDict(opts)
    with dnnlib.util.click_user_errors():
        run(opts)

def run(opts):
    from art import schedules # pylint: disable=import-outside-toplevel
    if not opts.out.endswith('.json'):
        raise dnnlib.UserError(f'--out must be a .json file, got "{opts.out}"')
    if os.path.dirname(opts.out):
        os.makedirs(os.path.dirname(opts.out), exist_ok=True)
    opts.device = resolve_device(opts.device)
    net = load_network(opts.network, device=opts.device, trust=opts.trust, verbose=True)
    print(f'Learning a K={opts.num_steps} grid with method "{opts.method}" for "{opts.network}"...')
    sched = METHODS[opts.method](net, opts.num_steps, opts)
    sched = dict(sched)
    sigmas = sched.pop('sigmas')
    schedules.save_schedule(opts.out, sigmas, **sched)
    png = opts.out[:-len('.json')] + '.png'
    save_plot(png, dict(sched, sigmas=sigmas), opts.num_steps)
    print('sigmas:', json.dumps([float(f'{s:.6g}') for s in sigmas]))
    print(f'Saved "{opts.out}" and "{png}"')

#----------------------------------------------------------------------------

if __name__ == '__main__':
    main() # pylint: disable=no-value-for-parameter

#----------------------------------------------------------------------------
