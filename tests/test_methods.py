# ART-EDM: learned time grids for EDM-style diffusion samplers.
# Copyright (c) 2026 The ART-EDM authors. Released under the MIT License (see LICENSE).

"""The one contract every schedule method of art.methods follows, checked over the whole registry:
a valid schedule file labelled with its registry name, the same grid for the same seed, the solver
honoured or refused, resumable where it claims to be; and the spec grammar's errors."""

import json

import numpy as np
import pytest

import dnnlib
from art import methods, sampler, schedules
from art.builtin import load_builtin

# Tiny settings per method (the contract, not the quality, is under test). Every registered method must be here.
TINY = {
    'closed-form':       'closed-form:trajectories=8:fine_steps=16:batch=8',
    'closed-form-tuned': 'closed-form-tuned:trajectories=8:fine_steps=16:batch=8:betas=0/2:num_reward=4:ref_steps=8',
    'art-rl':            'art-rl:iters=3:batch=4:critic_warmup=1:distil_batch=4:q_backend=fd',
    'art-rl-paper':      'art-rl-paper:iters=3:distil_batch=4:q_backend=fd',
    'gits':              'gits:num_teacher=13:num_warmup=4',
    'edm-best-rho':      'edm-best-rho:rhos=3/7:num_warmup=4:ref_steps=8:refine=false',
    'ld3':               'ld3:num_train=4:iters=3:batch=4:ref_steps=8',
}

@pytest.fixture(scope='module')
def net():
    return load_builtin('gauss1d')

def test_every_method_is_covered():
    assert set(TINY) == set(methods.METHODS)

#----------------------------------------------------------------------------

@pytest.mark.parametrize('name', sorted(TINY))
def test_contract(name, net, tmp_path):
    method = methods.METHODS[name]
    allowed = method.solvers if method.solvers is not None else sampler.SOLVERS
    solver = 'heun' if 'heun' in allowed else allowed[0]
    sched = methods.learn(TINY[name], net, 4, solver=solver, seed=3, network='builtin:gauss1d')
    # A valid schedule file, labelled with the registry name, recording what it was learned for.
    path = tmp_path / f'{name}.json'
    sigmas = sched['sigmas']
    schedules.save_schedule(path, sigmas, **{k: v for k, v in sched.items() if k not in ('sigmas', 'format', 'num_steps', 'sigma_min', 'sigma_max')})
    data = schedules.load_schedule(str(path))
    assert data['method'] == name and data['num_steps'] == 4 and data['sigmas'][-1] == 0
    assert data['solver'] == (method.fixed_solver or solver) and data['seed'] == 3
    assert set(method.options) <= set(data['settings'])            # every option used is recorded
    assert len(data['theta_bar']) == 4
    # Same seed, same grid.
    again = methods.learn(TINY[name], net, 4, solver=solver, seed=3)
    np.testing.assert_array_equal(again['sigmas'], sigmas)
    # The solver: honoured (learned for it) or refused with one line; fixed-solver methods say what they learned for.
    for other in sampler.SOLVERS:
        if method.fixed_solver is not None:
            assert methods.learn(TINY[name], net, 4, solver=other, seed=3)['solver'] == method.fixed_solver
        elif other in allowed:
            assert methods.learn(TINY[name], net, 4, solver=other, seed=3)['solver'] == other
        else:
            with pytest.raises(dnnlib.UserError, match=f'cannot learn a grid for solver "{other}"'):
                methods.learn(TINY[name], net, 4, solver=other, seed=3)

@pytest.mark.parametrize('name', sorted(n for n, m in methods.METHODS.items() if m.resumable))
def test_resumable_methods_resume_exactly(name, net, tmp_path):
    spec = TINY[name].replace('iters=3', 'iters=6') + ':checkpoint_every=3'
    full = methods.learn(spec, net, 4, solver='euler', seed=1)
    short = spec.replace('iters=6', 'iters=3')
    ckpt, log = str(tmp_path / 'c.pt'), str(tmp_path / 'log.jsonl')
    methods.learn(short, net, 4, solver='euler', seed=1, checkpoint=ckpt, log_path=log)
    resumed = methods.learn(spec, net, 4, solver='euler', seed=1, checkpoint=ckpt, resume=True, log_path=log)
    assert resumed['sigmas'] == full['sigmas']
    assert [json.loads(line)['iter'] for line in open(log)] == list(range(6))

#----------------------------------------------------------------------------

def test_spec_grammar():
    assert methods.parse_spec('closed-form') == ('closed-form', {})
    name, opts = methods.parse_spec('closed-form:beta=0.3:last_node=pinned:solver=euler')
    assert name == 'closed-form' and opts == dict(beta=0.3, last_node='pinned', solver='euler')
    _, opts = methods.parse_spec('edm-best-rho:rhos=2/7:refine=false:num_warmup=8')
    assert opts == dict(rhos=(2.0, 7.0), refine=False, num_warmup=8)
    _, opts = methods.parse_spec('art-rl:lr_critic=none:iters=10')
    assert opts == dict(lr_critic=None, iters=10)
    for bad, msg in [('nope', 'Unknown method'), ('closed-form:nope=1', 'has no option "nope"'),
                     ('closed-form:beta', 'Cannot parse'), ('art-rl:iters=1.5', 'not a valid int'),
                     ('closed-form:beta=x', 'not a valid number'), ('gits:coeff=x', 'not a valid float'), ('closed-form:beta=1:beta=2', 'given twice'),
                     ('art-rl:lr=nan', 'not a valid float')]:
        with pytest.raises(dnnlib.UserError, match=msg):
            methods.parse_spec(bad)

def test_unknown_options_and_bad_values_are_errors(net):
    with pytest.raises(dnnlib.UserError, match='has no option'):
        methods.learn('closed-form', net, 4, solver='heun', nope=1)
    with pytest.raises(dnnlib.UserError, match='iters >= 0'):
        methods.learn('art-rl:iters=-5', net, 4, solver='euler')
    with pytest.raises(dnnlib.UserError, match='number of steps'):
        methods.learn('closed-form', net, 0, solver='heun')

def test_profile_is_measured_once_per_network(net):
    seen = []
    for K in (3, 5, 8):
        methods.learn('closed-form:trajectories=8:fine_steps=16:batch=8', net, K, solver='euler', seed=11, log=seen.append)
    assert sum(m.startswith('Measuring') for m in seen) == 1 and sum(m.startswith('Reusing') for m in seen) == 2
    other = load_builtin('gauss1d')                                 # a new network object measures its own profile
    methods.learn('closed-form:trajectories=8:fine_steps=16:batch=8', other, 3, solver='euler', seed=11, log=seen.append)
    assert sum(m.startswith('Measuring') for m in seen) == 2

#----------------------------------------------------------------------------
