# ART-EDM: learned time grids for EDM-style diffusion samplers.
# Copyright (c) 2026 The ART-EDM authors. Released under the MIT License (see LICENSE).

"""Has ART-RL reached the optimum of its own objective? (issue 13)

ART-RL minimises J(theta) = E Σ_k q̃_k |theta_k|^p Δt on its N-step clock (art.rl.rollout: the running cost
at the states of its own discretisation of (4), with its step cost), under Σ_k theta_k Δt = T. This
evaluates J, along deterministic rollouts from fixed latents, for the time change a learned ART-RL schedule
file holds and for the time changes of grids whose time-only optimum J approximates: the Hölder closed
form of ART-RL's own density (E r_S along the profile's Heun trajectories, closed_form.nodes), the default
`closed-form:refine=false`, and EDM's grid, each read at the N clock steps and normalised to the budget.
A learned time change above the closed forms' J has not converged. Never fails on time. Example:

    python bench/bench_rl_objective.py --schedule=bench-rl-solver-out/art-rl-dpmpp-2m-seed0.json --dynamics=heun
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
from art import closed_form, methods, objective, rl, schedules # pylint: disable=wrong-import-position
from art.builtin import load_network # pylint: disable=wrong-import-position
from dnnlib.util import parse_int_list # pylint: disable=wrong-import-position

#----------------------------------------------------------------------------

@click.command()
@click.option('--schedule', help='An ART-RL schedule file (its time_change)', type=str, required=True)
@click.option('--network',  help='Network (builtin:NAME or a pickle)', type=str, default='builtin:gmm-digits', show_default=True)
@click.option('--dynamics', help='The rollout of (4) J is evaluated on', type=click.Choice(list(rl.DYNAMICS)), default=None)
@click.option('--batch',    help='Rollouts per evaluation', type=click.IntRange(min=1), default=256, show_default=True)
@click.option('--seeds',    help='Rollout seeds (one J per seed)', type=parse_int_list, default='5,6', show_default=True)
@click.option('--threads',  help='torch intra-op threads', type=click.IntRange(min=1), default=1, show_default=True)
def main(schedule, network, dynamics, batch, seeds, threads):
    """J of a learned ART-RL time change against the closed forms' time changes on the same clock."""
    torch.set_num_threads(threads)
    t0 = time.time()
    with open(schedule) as f:
        sched = json.load(f)
    st, tc = sched['settings'], sched['time_change']
    if tc.get('time_map') != 'rho':
        raise dnnlib.UserError('This bench reads time changes on the rho clock')
    net = load_network(network, verbose=False)
    solver, n = sched['solver'], len(tc['theta'])
    dynamics = dynamics or st.get('dynamics', 'euler')
    step_cost = st['step_cost']
    problem = rl.ARTProblem(net, n, st['sigma_min'], st['sigma_max'], solver=solver, time_map='rho', dynamics=dynamics)
    actor = rl.MLP(3, 16, zero_last=True)                            # a zero actor: the policy mean is base_theta
    def cost(theta, seed):
        theta = torch.as_tensor(theta, dtype=torch.float64)
        theta = theta * (problem.T / (theta.sum() * problem.dt))
        ro = rl.rollout(problem, actor, theta, batch, torch.Generator().manual_seed(seed), stochastic=False, step_cost=step_cost)
        return float((ro.q_step * ro.theta.abs() ** problem.power * problem.dt).sum(0).mean())
    def theta_of(sigmas):
        psi = problem.psi_of(torch.as_tensor(np.asarray(sigmas, np.float64)))
        return ((psi[1:] - psi[:-1]) / problem.dt).numpy()
    sig_own, r_own = closed_form.profile(net, solver)
    rows = {'ART-RL (the file)': np.asarray(tc['theta'], np.float64),
            'closed form, own density': theta_of(closed_form.nodes(sig_own, r_own, n, objective.error_power(solver))[0]),
            'closed-form:refine=false': theta_of(methods.learn('closed-form:refine=false', net, n, solver=solver)['sigmas']),
            'EDM rho=7': theta_of(schedules.get_sigmas('edm', n, net=net))}
    J = {name: [cost(th, s) for s in seeds] for name, th in rows.items()}
    ref = J['closed form, own density']
    print(f'{solver} running cost, {n}-step rho clock, {dynamics} dynamics, step cost {step_cost}, {batch} rollouts per seed')
    for name, v in J.items():
        print(f'{name:26s} J = ' + ' '.join(f'{x:.5f}' for x in v) + '   / own-density closed form: '
              + ' '.join(f'{a / b:.3f}' for a, b in zip(v, ref)))
    print(f'total {time.time() - t0:.0f} s, load {", ".join(f"{v:.2f}" for v in os.getloadavg())}')

#----------------------------------------------------------------------------

if __name__ == '__main__':
    main() # pylint: disable=no-value-for-parameter

#----------------------------------------------------------------------------
