# ART-EDM: learned time grids for EDM-style diffusion samplers.
# Copyright (c) 2026 The ART-EDM authors. Released under the MIT License (see LICENSE).

"""THE registry of schedule methods: every way the project turns a network into a time grid.

Every entry of METHODS is called the same way (`learn()`):

    learn(spec, net, num_steps, *, solver, seed, device, progress, log, ...) -> schedule dict

and returns a validated schedule dict (art.schedules.make_schedule): `sigmas` (K+1, ending in 0),
`method` = the registry name, `solver` = the solver it was learned for, `seed`, `settings` = every
option used (defaults included), and the time change / theta_bar where the method has one.

A spec is `NAME[:key=val[:key=val...]]` (train_art.py --method, compare.py --schedules). Values are
read with the type of the option's default (tuples as `a/b/c`, `none` for None). The reserved key
`solver` learns for another solver than the one sampled with (e.g. `closed-form:solver=euler`, the
paper's Euler surrogate, in a Heun table). Unknown methods, unknown keys and solvers a method cannot
learn for are one-line errors. A method with `fixed_solver` learns for that solver whatever it is
asked for, and says so in the log; the file records it.
"""

import dataclasses
import math
from typing import Callable, Optional

import dnnlib
from art import closed_form
from art import objective
from art import peers
from art import rl
from art import sampler
from art import schedules

COMMON_OPTIONS = dict(sigma_min=None, sigma_max=None)  # the noise range, for every method

#----------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Method:
    name: str
    description: str
    fn: Callable                   # fn(net, K, *, solver, seed, device, progress, log, [checkpoint, resume, log_path,] **options)
    options: dict                  # every option the method takes, with its default
    solvers: Optional[tuple]       # solvers it can learn for (None: any solver of art.sampler)
    fixed_solver: str = None       # learns for this solver whatever is asked (the grid does not depend on it)
    resumable: bool = False        # takes checkpoint / resume / log_path

    def learns_for(self, solver):
        """The solver this method learns a grid for when asked for `solver` (or a one-line error)."""
        if self.fixed_solver is not None:
            return self.fixed_solver
        allowed = self.solvers if self.solvers is not None else sampler.SOLVERS
        if solver not in allowed:
            raise dnnlib.UserError(f'Method "{self.name}" cannot learn a grid for solver "{solver}"; it supports {", ".join(allowed)}')
        return solver

METHODS = dict()

def register(name, description, *, options, solvers, fixed_solver=None, resumable=False):
    """Decorator adding fn to METHODS under `name`."""
    def decorator(fn):
        METHODS[name] = Method(name, description, fn, dict(COMMON_OPTIONS, **options), solvers, fixed_solver, resumable)
        return fn
    return decorator

#----------------------------------------------------------------------------
# The spec grammar NAME:key=val:key=val.

def _parse_value(text, default, key, name):
    t = text.strip()
    if t.lower() == 'none':
        return None
    if default is None and t.lower() in ('true', 'false'):
        return t.lower() == 'true'
    try:
        if isinstance(default, bool):
            if t.lower() not in ('true', 'false', '1', '0'):
                raise ValueError
            return t.lower() in ('true', '1')
        if isinstance(default, tuple):
            return tuple(float(v) for v in t.split('/'))
        if isinstance(default, int):
            return int(t)
        if isinstance(default, float) or default is None:
            for cast in (int, float):
                try:
                    v = cast(t)
                    if isinstance(v, float) and not math.isfinite(v):
                        raise ValueError
                    return v
                except ValueError:
                    pass
            raise ValueError  # options without a default value are numbers or booleans
        return t
    except ValueError:
        kind = 'a/b/c list of numbers' if isinstance(default, tuple) else type(default).__name__ if default is not None else 'number (or true/false)'
        raise dnnlib.UserError(f'Option "{key}={text}" of method "{name}" is not a valid {kind}') from None

def parse_spec(spec):
    """'NAME:key=val:key=val' -> (name, {key: value}) with values typed by the method's defaults."""
    parts = str(spec).strip().split(':')
    name = parts[0].strip()
    if name not in METHODS:
        raise dnnlib.UserError(f'Unknown method "{name}"; choose one of {", ".join(METHODS)}')
    method = METHODS[name]
    allowed = dict(method.options, solver='')
    options = dict()
    for item in parts[1:]:
        if '=' not in item:
            raise dnnlib.UserError(f'Cannot parse "{item}" in method spec "{spec}"; use NAME:key=value:key=value')
        key, value = (v.strip() for v in item.split('=', 1))
        if key not in allowed:
            raise dnnlib.UserError(f'Method "{name}" has no option "{key}"; its options: {", ".join(sorted(allowed))}')
        if key in options:
            raise dnnlib.UserError(f'Option "{key}" given twice in method spec "{spec}"')
        options[key] = _parse_value(value, allowed[key], key, name)
    return name, options

#----------------------------------------------------------------------------
# The one entry point.

def learn(spec, net, num_steps, *, solver='heun', seed=0, device='cpu', progress=False, log=None, network=None,
          checkpoint=None, resume=False, log_path=None, **options):
    """Learn the K = num_steps grid of method `spec` (NAME or NAME:key=val...; `options` add to it) for
    `solver`. Returns the schedule dict. `log`: callable for progress messages (None: quiet)."""
    name, spec_options = parse_spec(spec)
    method = METHODS[name]
    unknown = sorted(set(options) - set(method.options))
    if unknown:
        raise dnnlib.UserError(f'Method "{name}" has no option(s) {", ".join(unknown)}; its options: {", ".join(sorted(method.options))}')
    if isinstance(num_steps, bool) or not isinstance(num_steps, int) or num_steps < 1:
        raise dnnlib.UserError(f'The number of steps must be an integer >= 1, got {num_steps!r}')
    asked = spec_options.pop('solver', None) or solver
    learn_for = method.learns_for(asked)
    if learn_for != asked and log is not None:
        log(f'Note: method "{name}" learns its grid for the {learn_for} solver whatever the sampling solver ({asked}); the file records {learn_for}')
    settings = dict(method.options, **spec_options, **options)
    lo, hi = schedules.sigma_range('edm', net, settings['sigma_min'], settings['sigma_max'])
    settings.update(sigma_min=lo, sigma_max=hi)
    extra = dict(checkpoint=checkpoint, resume=resume, log_path=log_path) if method.resumable else dict()
    sched = dict(method.fn(net, num_steps, solver=learn_for, seed=int(seed), device=device, progress=progress, log=log, **extra, **settings))
    sigmas = sched.pop('sigmas')
    sched.pop('solver', None)
    settings.update(sched.pop('settings', None) or {})  # what the method derived (e.g. ART-RL's |Q| scale)
    sched.setdefault('theta_bar', closed_form.theta_from_sigmas(sigmas))
    return schedules.make_schedule(sigmas, method=name, solver=learn_for, network=network, seed=int(seed),
                                   settings=dict(settings, num_steps=num_steps), **sched)

def describe():
    """One line per method: name, solvers, description (train_art.py --help, README)."""
    lines = []
    for m in METHODS.values():
        solvers = m.fixed_solver and f'{m.fixed_solver} only' or ('any solver' if m.solvers is None else '/'.join(m.solvers))
        lines.append(f'{m.name:<18s} [{solvers}] {m.description}')
    return lines

#----------------------------------------------------------------------------
# The methods.

_CF_OPTIONS = dict(last_node='learned', trajectories=128, fine_steps=128, batch=64, backend='auto')

@register('closed-form', 'time-only ART optimum for the solver\'s local error: theta ~ E r_S^(-1/p) (Euler: the paper\'s |Q|)',
          options=dict(_CF_OPTIONS, beta=None, refine=None, propagation='measured', select=32, refine_trajectories=32, polish=0,
                       polish_lr=0.05), solvers=closed_form.SOLVERS)
def _closed_form(net, num_steps, *, solver, seed, device, progress, log, last_node, beta, refine, propagation, select,
                 refine_trajectories, polish, polish_lr, trajectories, fine_steps, batch, backend, sigma_min, sigma_max):
    return closed_form.fit(net, num_steps, solver=solver, last_node=last_node, beta=beta, refine=refine, propagation=propagation,
        select=select, refine_trajectories=refine_trajectories, polish=polish, polish_lr=polish_lr, num_trajectories=trajectories, fine_steps=fine_steps, batch=batch, sigma_min=sigma_min, sigma_max=sigma_max,
        backend=backend, seed=seed, device=device, progress=progress, log=log)

@register('closed-form-tuned', 'closed-form with the propagation weight beta chosen by the terminal distance to a high-NFE reference',
          options=dict(_CF_OPTIONS, betas=(0.0, 0.5, 1.0, 1.5, 2.0, 3.0), detector='', num_reward=64, ref_steps=64),
          solvers=tuple(objective.ERROR_MODELS))
def _closed_form_tuned(net, num_steps, *, solver, seed, device, progress, log, last_node, trajectories, fine_steps, batch,
                       backend, sigma_min, sigma_max, betas, detector, num_reward, ref_steps):
    return closed_form.fit_tuned(net, num_steps, solver=solver, betas=betas, detector=detector or None, num_reward=num_reward,
        ref_steps=ref_steps, seed=seed, device=device, log=log, last_node=last_node, num_trajectories=trajectories,
        fine_steps=fine_steps, batch=batch, sigma_min=sigma_min, sigma_max=sigma_max, backend=backend, progress=progress)

def _rl_options(settings):
    return {f.name: getattr(settings, f.name) for f in dataclasses.fields(settings)}

def _art_rl(preset):
    def fn(net, num_steps, *, solver, seed, device, progress, log, checkpoint, resume, log_path, sigma_min, sigma_max, **options):
        del log
        return rl.train(net, num_steps, preset.replace(**options), solver=solver, sigma_min=sigma_min, sigma_max=sigma_max,
            seed=seed, device=device, checkpoint=checkpoint, resume=resume, log_path=log_path, progress=progress)
    return fn

register('art-rl', 'ART-RL actor-critic (Algorithm 1) with this project\'s settings, running cost r_S |theta|^p of the solver',
         options=_rl_options(rl.DEFAULT), solvers=tuple(objective.ERROR_MODELS), resumable=True)(_art_rl(rl.DEFAULT))
register('art-rl-paper', 'ART-RL with the paper\'s published settings (Algorithm 1, App. C) and its Euler surrogate',
         options=_rl_options(rl.PAPER), solvers=('euler',), fixed_solver='euler', resumable=True)(_art_rl(rl.PAPER))

@register('gits', 'GITS (Chen et al. 2024): dynamic programming over a fine teacher grid with the solver\'s own step cost (multistep: pair-state DP)',
          options=dict(coeff=1.15, num_teacher=41, teacher_rho=7.0, num_warmup=32), solvers=peers.ONE_STEP + peers.MULTISTEP)
def _gits(net, num_steps, *, solver, seed, device, progress, log, coeff, num_teacher, teacher_rho, num_warmup, sigma_min, sigma_max):
    del progress
    return peers.gits(net, num_steps, solver=solver, coeff=coeff, num_teacher=num_teacher, teacher_rho=teacher_rho,
        num_warmup=num_warmup, seed=seed, sigma_min=sigma_min, sigma_max=sigma_max, device=device, log=log)

@register('edm-best-rho', 'EDM\'s rho grid with the rho that minimises the RMS error to a high-NFE reference, per K and solver',
          options=dict(rhos=peers.DEFAULT_RHOS, num_warmup=32, ref_steps=64, refine=True), solvers=None)
def _edm_best_rho(net, num_steps, *, solver, seed, device, progress, log, rhos, num_warmup, ref_steps, refine, sigma_min, sigma_max):
    del progress
    return peers.edm_best_rho(net, num_steps, solver=solver, rhos=rhos, num_warmup=num_warmup, ref_steps=ref_steps, refine=refine,
        seed=seed, sigma_min=sigma_min, sigma_max=sigma_max, device=device, log=log)

#----------------------------------------------------------------------------

@register('ld3', 'LD3 (Tong et al. 2025): the grid learned by Adam through the student solver on its terminal distance to a high-NFE teacher',
          options=dict(num_train=32, iters=100, lr=0.05, batch=32, ref_steps=64, detector='', last_node='pinned', floor_ratio=0.1),
          solvers=None)
def _ld3(net, num_steps, *, solver, seed, device, progress, log, num_train, iters, lr, batch, ref_steps, detector, last_node,
         floor_ratio, sigma_min, sigma_max):
    del progress
    return peers.ld3(net, num_steps, solver=solver, num_train=num_train, iters=iters, lr=lr, batch=batch, ref_steps=ref_steps,
        detector=detector, last_node=last_node, floor_ratio=floor_ratio, seed=seed, sigma_min=sigma_min, sigma_max=sigma_max,
        device=device, log=log)

#----------------------------------------------------------------------------
