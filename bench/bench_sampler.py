# ART-EDM: learned time grids for EDM-style diffusion samplers.
# Copyright (c) 2026 The ART-EDM authors. Released under the MIT License (see LICENSE).

"""Benchmark: overhead of the solver core (art.sampler) over the bare network forward passes.

Two measurements, side by side in one process, interleaved rep by rep:
  in-run:   `art.sampler.sample()` runs on a wrapper that times every network call; overhead =
            (total - time inside the network) / time inside the network. Both parts are measured
            in the same call, so load from other processes affects them alike (the headline figure).
  replay:   the sampler's own network inputs are recorded once and the NFE calls replayed bare;
            overhead = sampler time / replay time - 1 (min over reps; noisier on a shared machine).
Per-seed RNG draws are done as generate.py does them. Target: overhead <= 5% on CPU with
builtin:mnist-dit. Prints numbers; never fails on time.
"""

import statistics
import time

import click
import torch

import dnnlib
from art import sampler as art_sampler
from art import schedules as art_schedules
from art.builtin import load_network

#----------------------------------------------------------------------------

class _Wrapped(torch.nn.Module):
    """Wraps a net; records a copy of every input (record=True) and times every call."""
    def __init__(self, net, device, record=False):
        super().__init__()
        self.net, self.device, self.record, self.calls, self.seconds = net, device, record, [], 0.0
        for name in ('img_resolution', 'img_channels', 'label_dim', 'sigma_min', 'sigma_max', 'sigma_data'):
            setattr(self, name, getattr(net, name))
    def round_sigma(self, sigma):
        return self.net.round_sigma(sigma)
    def forward(self, x, sigma, class_labels=None):
        if self.record:
            self.calls.append((x.clone(), sigma.clone(), None if class_labels is None else class_labels.clone()))
        _sync(self.device)
        t0 = time.perf_counter()
        out = self.net(x, sigma, class_labels)
        _sync(self.device)
        self.seconds += time.perf_counter() - t0
        return out

#----------------------------------------------------------------------------
def _sync(device):
    if device.type == 'cuda':
        torch.cuda.synchronize(device)

#----------------------------------------------------------------------------

def bench(net, device, batch, num_steps, schedule, solver, reps, ablation=None):
    """Returns dict(total=[s...], inside=[s...], bare=[s...], sampler=[s...], nfe=N) for one configuration."""
    seeds = list(range(batch))
    sigmas = art_schedules.get_sigmas(schedule, num_steps, net=net, device=device)
    rnd = art_sampler.StackedRandomGenerator(device, seeds)
    latents = rnd.randn([batch, net.img_channels, net.img_resolution, net.img_resolution], device=device)
    labels = torch.eye(net.label_dim, device=device)[rnd.randint(net.label_dim, size=[batch], device=device)] if net.label_dim else None

    def run_sampler(model):
        randn_like = art_sampler.StackedRandomGenerator(device, seeds).randn_like
        if ablation is None:
            return art_sampler.sample(model, latents, sigmas, labels, solver=solver, randn_like=randn_like)
        return art_sampler.ablation_sample(model, latents, sigmas, labels, solver=solver, randn_like=randn_like, **ablation)

    def timed(fn):
        _sync(device)
        t0 = time.perf_counter()
        fn()
        _sync(device)
        return time.perf_counter() - t0

    with torch.no_grad():
        recorder = _Wrapped(net, device, record=True)
        run_sampler(recorder) # records the inputs, and warms up
        calls = recorder.calls
        r = dict(total=[], inside=[], bare=[], sampler=[], nfe=len(calls))
        for _rep in range(reps):
            wrapped = _Wrapped(net, device)
            r['total'].append(timed(lambda: run_sampler(wrapped)))
            r['inside'].append(wrapped.seconds)
            r['bare'].append(timed(lambda: [net(x, sigma, c).to(torch.float64) for x, sigma, c in calls]))
            r['sampler'].append(timed(lambda: run_sampler(net)))
    return r

#----------------------------------------------------------------------------

@click.command()
@click.option('--network',  'network_pkl', help='Network to sample from', metavar='PATH|URL|builtin:NAME', type=str, default='builtin:mnist-dit', show_default=True)
@click.option('--batch',    help='Batch size', metavar='INT',                type=click.IntRange(min=1), default=16, show_default=True)
@click.option('--steps',    'num_steps', help='Number of steps K', metavar='INT', type=click.IntRange(min=1), default=6, show_default=True)
@click.option('--schedule', help='Time grid', type=click.Choice(art_schedules.SCHEDULES), default='edm', show_default=True)
@click.option('--reps',     help='Timed repetitions (interleaved)', metavar='INT', type=click.IntRange(min=1), default=5, show_default=True)
@click.option('--threads',  help='torch CPU threads  [default: torch default]', metavar='INT', type=click.IntRange(min=1), default=None)
@click.option('--device',   help='Device', type=str, default='cpu', show_default=True)
def main(network_pkl, batch, num_steps, schedule, reps, threads, device):
    """Print the overhead of art.sampler over the bare network forward time.

    \b
    python bench/bench_sampler.py                                  # builtin:mnist-dit, CPU
    python bench/bench_sampler.py --batch=64 --steps=18 --reps=3
    """
    if threads is not None:
        torch.set_num_threads(threads)
    device = torch.device(device)
    try:
        net = load_network(network_pkl, device=device)
    except dnnlib.UserError as e:
        raise click.ClickException(str(e))
    print(f'network={network_pkl} device={device} threads={torch.get_num_threads()} batch={batch} K={num_steps} schedule={schedule} reps={reps}')
    print('(medians over reps; replay columns: min over reps)')
    print(f'{"sampler":<22s} {"NFE":>4s} {"net s":>8s} {"total s":>8s} {"overhead in-run":>16s} {"per-step ms":>12s} {"replay: bare s":>15s} {"sampler s":>10s} {"overhead":>9s}')
    configs = [
        ('sample heun', dict(solver='heun')),
        ('sample euler', dict(solver='euler')),
        ('ablation heun vp/vp', dict(solver='heun', ablation=dict(sigma_schedule='vp', scaling='vp'))),
    ]
    for label, kwargs in configs:
        r = bench(net, device, batch, num_steps, schedule, reps=reps, **kwargs)
        ratios = [t / i - 1 for t, i in zip(r['total'], r['inside'])]
        per_step_ms = statistics.median([t - i for t, i in zip(r['total'], r['inside'])]) / num_steps * 1e3
        replay = min(r['sampler']) / min(r['bare']) - 1
        print(f'{label:<22s} {r["nfe"]:>4d} {statistics.median(r["inside"]):>8.3f} {statistics.median(r["total"]):>8.3f} {statistics.median(ratios):>15.2%} '
              f'{per_step_ms:>12.3f} {min(r["bare"]):>15.3f} {min(r["sampler"]):>10.3f} {replay:>8.2%}')
    print('target: overhead <= 5% (informational; this script never fails on time)')

#----------------------------------------------------------------------------

if __name__ == '__main__':
    main() # pylint: disable=no-value-for-parameter

#----------------------------------------------------------------------------
