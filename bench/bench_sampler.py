# ART-EDM: learned time grids for EDM-style diffusion samplers.
# Copyright (c) 2026 The ART-EDM authors. Released under the MIT License (see LICENSE).

"""Benchmark: overhead of the solver core (art.sampler) over the bare network forward passes.

For one batch, the sampler's own network inputs (x, sigma, labels) are recorded once; then, side by
side in the same process and interleaved rep by rep, we time
  bare:     the same NFE network calls replayed on the recorded inputs, and
  sampler:  the whole `art.sampler.sample()` call, with per-seed RNG draws as generate.py does it.
overhead = sampler / bare - 1 (target <= 5% on CPU with builtin:mnist-dit). Prints numbers; never
fails on time. Min over reps is the headline (robust to other load on the machine), median shown too.
"""

import statistics
import time

import click
import torch

import dnnlib
from art import sampler as art_sampler
from art import schedules as art_schedules
from torch_utils.loading import load_network

#----------------------------------------------------------------------------

class _Recorder(torch.nn.Module):
    """Wraps a net and keeps a copy of every input it is called with."""
    def __init__(self, net):
        super().__init__()
        self.net, self.calls = net, []
        for name in ('img_resolution', 'img_channels', 'label_dim', 'sigma_min', 'sigma_max', 'sigma_data'):
            setattr(self, name, getattr(net, name))
    def round_sigma(self, sigma):
        return self.net.round_sigma(sigma)
    def forward(self, x, sigma, class_labels=None):
        self.calls.append((x.clone(), sigma.clone(), None if class_labels is None else class_labels.clone()))
        return self.net(x, sigma, class_labels)

#----------------------------------------------------------------------------
def _sync(device):
    if device.type == 'cuda':
        torch.cuda.synchronize(device)

#----------------------------------------------------------------------------

def bench(net, device, batch, num_steps, schedule, solver, reps, ablation=None):
    """Returns dict(bare=[s...], sampler=[s...], nfe=N) for one configuration."""
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

    with torch.no_grad():
        recorder = _Recorder(net)
        run_sampler(recorder) # records the inputs, and warms up
        calls = recorder.calls
        times = dict(bare=[], sampler=[])
        for _rep in range(reps):
            _sync(device)
            t0 = time.perf_counter()
            for x, sigma, class_labels in calls:
                net(x, sigma, class_labels).to(torch.float64)
            _sync(device)
            t1 = time.perf_counter()
            run_sampler(net)
            _sync(device)
            t2 = time.perf_counter()
            times['bare'].append(t1 - t0)
            times['sampler'].append(t2 - t1)
    return dict(times, nfe=len(calls))

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
    print(f'{"sampler":<28s} {"NFE":>4s} {"bare min s":>11s} {"sampler min s":>14s} {"overhead(min)":>14s} {"overhead(median)":>17s} {"per-step ms":>12s}')
    configs = [
        ('sample heun', dict(solver='heun')),
        ('sample euler', dict(solver='euler')),
        ('ablation heun vp/vp', dict(solver='heun', ablation=dict(sigma_schedule='vp', scaling='vp'))),
    ]
    for label, kwargs in configs:
        r = bench(net, device, batch, num_steps, schedule, reps=reps, **kwargs)
        bare_min, samp_min = min(r['bare']), min(r['sampler'])
        over_min = samp_min / bare_min - 1
        over_med = statistics.median(r['sampler']) / statistics.median(r['bare']) - 1
        per_step_ms = (samp_min - bare_min) / num_steps * 1e3
        print(f'{label:<28s} {r["nfe"]:>4d} {bare_min:>11.4f} {samp_min:>14.4f} {over_min:>13.2%} {over_med:>16.2%} {per_step_ms:>12.3f}')
    print('target: overhead <= 5% (informational; this script never fails on time)')

#----------------------------------------------------------------------------

if __name__ == '__main__':
    main() # pylint: disable=no-value-for-parameter

#----------------------------------------------------------------------------
