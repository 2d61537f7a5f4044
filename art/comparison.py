# ART-EDM: learned time grids for EDM-style diffusion samplers.
# Copyright (c) 2026 The ART-EDM authors. Released under the MIT License (see LICENSE).

"""Metric-vs-NFE comparison of time grids: the engine behind `compare.py`.

Reproduces the layout of the paper's tables (docs/art-paper.md §3.2-3.5: rows = schedules, columns =
NFE, one table per solver) for any network with EDM's interface. Per cell (schedule, solver, NFE,
seed set) it draws N samples from fixed seeds with EDM's per-seed RNG and draw order
(art.sampler.StackedRandomGenerator, docs/edm-spec.md §2.3) and measures

  (a) RMS error against a high-NFE reference solution from the same latents (Heun on an EDM rho=7
      grid, by default 128 steps = 255 NFE; computed once per seed set and cached on disk);
  (b) the Fréchet distance of detector features against reference statistics (FID for the Inception
      detector, FD-<name> for stand-ins; art.detectors, art.metrics).

NFE -> number of steps K follows art.sampler.count_nfe (Heun: NFE = 2K-1, Euler: NFE = K; art-paper
§2.7) under each row's sampling convention (the reserved keys final_step= and afs= of a schedule entry,
art.sampler.sample(), docs/solvers.md "Conventions"; default EDM's: an Euler step to 0, no AFS);
impossible combinations are skipped with a note. "Learn on the fly" entries are methods of the
one registry (art.methods), learned once per K and solver they learn for (or once at a fixed K, the
other K read off the result, art-paper §2.6) and cached as schedule JSON in the output folder; the
methods keep their profiles per network, so several K cost one profile.

Nothing is lost: results.json is rewritten atomically after every cell, and a rerun skips the cells
it already holds. results.json holds only deterministic values (seeds are fixed), so a run that was
killed and resumed ends with the same file as an uninterrupted one; wall-clock timings go to the
separate timings.json."""

import dataclasses
import hashlib
import json
import math
import os
import re
import time

import numpy as np
import torch

import dnnlib
from art import methods
from art.metrics import to_uint8
from torch_utils import distributed as dist
from torch_utils.misc import write_atomic

FORMAT = 'art-compare/1'

#----------------------------------------------------------------------------

def _read_json(path):
    try:
        return json.loads(dnnlib.util.read_text_bounded(path, 256 << 20, 'Results file'))
    except (ValueError, RecursionError):
        raise dnnlib.UserError(f'"{path}" is not valid JSON; delete it (or the whole --outdir) and rerun') from None

def write_json_atomic(path, obj):
    write_atomic(path, json.dumps(obj, indent=1, sort_keys=True, allow_nan=False) + '\n')

#----------------------------------------------------------------------------

def nfe_to_steps(solver, nfe, max_steps=100000, *, final_step='euler', afs=False):
    """The smallest number of steps K whose cost under the convention (final_step, afs) is exactly
    `nfe` (art.sampler.count_nfe), or None."""
    from art.sampler import count_nfe
    for K in range(1, min(int(nfe) + 2, max_steps) + 1): # 'none' with AFS: NFE = K - 2 for one-call solvers
        if count_nfe(solver, K, final_step=final_step, afs=afs) == nfe:
            return K
    return None

#----------------------------------------------------------------------------
# Sampling conventions (art.sampler.sample(final_step=, afs=); docs/solvers.md "Conventions").

DEFAULT_CONVENTION = ('euler', False) # EDM's: K steps, the last one an Euler step to 0; no AFS
CONVENTION_KEYS = ('final_step', 'afs') # reserved keys of a schedule entry, stripped before the grid/method sees it
_FINAL_STEP_TEXT = dict(euler='Euler step to sigma = 0', none='no final step', denoise='no final step, D(x; sigma_{K-1}) returned')

def convention_text(final_step, afs):
    """'AFS, no final step' etc.: how a row with this convention samples, for tables."""
    return ('AFS' if afs else 'no AFS') + ', ' + _FINAL_STEP_TEXT[final_step]

def nfe_formula(solver, final_step='euler', afs=False):
    """count_nfe(solver, K, ...) as text, 'aK - b' (valid for K >= 2; e.g. Heun '2K - 1')."""
    from art.sampler import count_nfe
    c2, c3 = (count_nfe(solver, K, final_step=final_step, afs=afs) for K in (2, 3))
    a, b = c3 - c2, c2 - 2 * (c3 - c2)
    return ('K' if a == 1 else f'{a}K') + (f' - {-b}' if b < 0 else f' + {b}' if b > 0 else '')

def _parse_convention(key, value, text):
    from art.sampler import FINAL_STEPS
    v = value.strip()
    if key == 'final_step':
        if v not in FINAL_STEPS:
            raise dnnlib.UserError(f'final_step={v} in schedule "{text}" is not a final step; choose one of {", ".join(FINAL_STEPS)}')
        return v
    if v.lower() not in ('true', 'false', '1', '0'):
        raise dnnlib.UserError(f'afs={v} in schedule "{text}" must be true or false')
    return v.lower() in ('true', '1')

def _split_convention(opts, text):
    """(options without final_step=/afs=, {final_step, afs}) from the 'key=val:key=val' text of an entry."""
    kept, conv = [], dict()
    for item in (opts.split(':') if opts else []):
        key = item.split('=', 1)[0].strip()
        if key in CONVENTION_KEYS and '=' in item:
            if key in conv:
                raise dnnlib.UserError(f'Option "{key}" given twice in schedule "{text}"')
            conv[key] = _parse_convention(key, item.split('=', 1)[1], text)
        else:
            kept.append(item)
    return ':'.join(kept) or None, conv

def _convention_suffix(conv):
    """':final_step=none:afs=true' for the default row label (only the keys given)."""
    return ''.join(f':{k}={str(conv[k]).lower()}' for k in CONVENTION_KEYS if k in conv)

#----------------------------------------------------------------------------
# Schedule entries: [LABEL=]NAME[@K][:key=val[:key=val...]] or [LABEL=]PATH.json (commas separate entries)

@dataclasses.dataclass
class ScheduleEntry:
    label: str              # row name in the tables
    spec: str               # the text the user gave
    kind: str               # 'grid' (art.schedules name), 'file' (schedule JSON, '{K}' = per K) or 'learn'
    name: str               # grid name, file path or method name (art.methods)
    fixed_steps: int = None # methods only: learn once at this K, read the others off the result
    kwargs: dict = None     # grid kwargs (e.g. rho) or the method's options (art.methods.parse_spec)
    method_spec: str = None # methods only: NAME[:key=val...] as art.methods.learn takes it
    final_step: str = 'euler' # sampling convention of the row (art.sampler.sample)
    afs: bool = False

    @property
    def convention(self):
        return (self.final_step, self.afs)

#----------------------------------------------------------------------------

def _parse_value(v):
    for cast in (int, float):
        try:
            return cast(v)
        except ValueError:
            pass
    return {'true': True, 'false': False}.get(v.lower(), v)

#----------------------------------------------------------------------------

def parse_schedule_entry(text):
    """Parse one --schedules entry (see compare.py --help for the grammar). The reserved keys
    final_step= (euler|none|denoise) and afs= (true|false) set the row's sampling convention, as
    art.sampler.sample() takes them; they are taken out before the grid or method sees the options."""
    text = text.strip()
    label = None
    m = re.fullmatch(r'([A-Za-z0-9_.+-]+)=(.+)', text)
    if m and not m.group(1).endswith('.json'):
        label, text = m.group(1), m.group(2)
    from art.schedules import SCHEDULES
    if label in CONVENTION_KEYS and re.fullmatch(r'[A-Za-z0-9_]+', text) and text not in set(SCHEDULES) | set(methods.METHODS):
        raise dnnlib.UserError(f'"{label}={text}" is not a schedule entry: commas separate entries, so give a row\'s options '
                               f'after ":" (e.g. edm-afs=edm:final_step=none:afs=true)')
    m = re.fullmatch(r'(.+\.json)((?::[^:=]+=[^:]*)+)', text, re.IGNORECASE)
    path, opts = (m.group(1), m.group(2)[1:]) if m else (text, None)
    if path.lower().endswith('.json'):
        rest, conv = _split_convention(opts, text)
        if rest:
            raise dnnlib.UserError(f'Schedule file entry "{text}" takes only the options {" and ".join(k + "=" for k in CONVENTION_KEYS)}, not "{rest}"')
        if '{K}' not in path and not os.path.isfile(path):
            raise dnnlib.UserError(f'Schedule file "{path}" not found; give an existing schedule JSON (from train_art.py)')
        label = label or os.path.splitext(os.path.basename(path))[0].replace('{K}', '') + _convention_suffix(conv)
        return ScheduleEntry(label=label, spec=text, kind='file', name=path, kwargs={}, **conv)
    m = re.fullmatch(r'([A-Za-z0-9_-]+)(?:@(\d+))?(?::(.*))?', text)
    if not m:
        raise dnnlib.UserError(f'Cannot parse schedule "{text}"; use NAME, NAME@K, NAME:key=val:key=val or a .json file')
    name, fixed, opts = m.group(1), m.group(2), m.group(3)
    rest, conv = _split_convention(opts, text)
    if name in methods.METHODS:
        method_spec = name + (f':{rest}' if rest else '')
        _name, kwargs = methods.parse_spec(method_spec)
        if fixed is not None and int(fixed) < 1:
            raise dnnlib.UserError(f'"@{fixed}" in schedule "{text}": learn at K >= 1')
        label = label or name + (f'@{fixed}' if fixed else '') + (f':{opts}' if opts else '')
        return ScheduleEntry(label=label, spec=text, kind='learn', name=name, fixed_steps=int(fixed) if fixed else None,
                             kwargs=kwargs, method_spec=method_spec, **conv)
    if fixed is not None:
        raise dnnlib.UserError(f'"@K" only applies to learned schedules ({", ".join(methods.METHODS)}), not to "{name}"')
    if name not in SCHEDULES:
        raise dnnlib.UserError(f'Unknown schedule "{name}"; use a grid ({", ".join(SCHEDULES)}), a method ({", ".join(methods.METHODS)}) or a .json file')
    kwargs = dict()
    for item in (rest.split(':') if rest else []):
        if '=' not in item:
            raise dnnlib.UserError(f'Cannot parse option "{item}" of schedule "{text}"; use key=value')
        k, v = item.split('=', 1)
        if k.strip() not in ('rho', 'sigma_min', 'sigma_max'):
            raise dnnlib.UserError(f'Grid "{name}" has no option "{k.strip()}"; its options: rho, sigma_min, sigma_max, '
                                   f'and {", ".join(CONVENTION_KEYS)} for the sampling convention')
        kwargs[k.strip()] = _parse_value(v.strip())
    label = label or name + ''.join(f':{k}={v}' for k, v in kwargs.items()) + _convention_suffix(conv)
    return ScheduleEntry(label=label, spec=text, kind='grid', name=name, kwargs=kwargs, **conv)

#----------------------------------------------------------------------------
# Seeds and batches (EDM's split: chunks r, r+W, ... go to rank r; docs/edm-spec.md §2.2).

def seed_sets(num, num_sets, first_seed=0):
    """Seed set j holds seeds first_seed + j*num ... first_seed + (j+1)*num - 1."""
    return [list(range(first_seed + j * num, first_seed + (j + 1) * num)) for j in range(num_sets)]

#----------------------------------------------------------------------------

def rank_batches(seeds, max_batch_size, rank=None, world_size=None):
    """This rank's non-empty batches of seeds (lists), EDM's split (torch_utils.distributed.split_batches)."""
    return [c.tolist() for c in dist.split_batches(seeds, max_batch_size, rank, world_size) if len(c)]

#----------------------------------------------------------------------------
# Sampling one batch with EDM's draw order: latents, then labels, then the sampler's draws.

def generate_batch(net, batch_seeds, sigmas, solver, device, final_step='euler', afs=False):
    """The samples generate.py writes for these seeds on this grid (final_step, afs: art.sampler.sample())."""
    from art.sampler import edm_latents, sample
    latents, class_labels, rnd = edm_latents(net, batch_seeds, device)
    return sample(net, latents, sigmas.to(device), class_labels, solver=solver, randn_like=rnd.randn_like,
                  final_step=final_step, afs=afs)

#----------------------------------------------------------------------------

def _sha(obj):
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()[:16]

#----------------------------------------------------------------------------
# The comparison: settings, cells, caches, results.

class Comparison:
    """Runs (or resumes) one comparison in `outdir`. See compare.py for the meaning of each option."""

    def __init__(self, *, network, outdir, schedules, solvers, nfes, num, num_seed_sets=1, first_seed=0,
                 detector=None, ref=None, ref_steps=128, ref_solver='heun', ref_rho=7.0, batch=64,
                 device='cpu', trust_pickle=False, learn_seed=0, verbose=True):
        self.outdir = outdir
        self.device = torch.device(device)
        self.verbose = verbose
        self.entries = [parse_schedule_entry(s) if isinstance(s, str) else s for s in schedules]
        labels = [e.label for e in self.entries]
        if len(set(labels)) != len(labels):
            raise dnnlib.UserError(f'Duplicate schedule labels in {labels}; name them with LABEL=SPEC')
        self.solvers = list(solvers)
        try:
            self.nfes = sorted(set(int(n) for n in dnnlib.util.parse_int_list(nfes)))
        except (ValueError, AttributeError):
            raise dnnlib.UserError(f'Cannot parse --nfe "{nfes}"; use e.g. 5,9,13 or 3-7') from None
        if not self.nfes or min(self.nfes) < 1 or max(self.nfes) > 20000:
            raise dnnlib.UserError(f'--nfe "{nfes}" must list NFE values between 1 and 20000')
        if num * num_seed_sets > 10 ** 8:
            raise dnnlib.UserError(f'{num} samples x {num_seed_sets} seed sets is more than 10^8 samples; lower --samples or --seed-sets')
        self.seed_sets = seed_sets(num, num_seed_sets, first_seed)
        self.batch = batch
        self.learn_seed = learn_seed
        self.metrics = ['rms'] + (['fd'] if ref is not None else [])
        self.timings = dict()

        # Everything that changes the value of a cell; a resumed run must match it exactly.
        self.settings = dict(network=network, num=num, num_seed_sets=num_seed_sets, first_seed=first_seed,
                             ref_solver=ref_solver, ref_steps=ref_steps, ref_rho=ref_rho, ref_nfe=None,
                             detector=detector if ref is not None else None, ref_stats=ref, learn_seed=learn_seed,
                             device_type=self.device.type)

        # Network, detector, reference statistics.
        from art.builtin import load_network
        self._print(f'Loading network from "{network}"...')
        self.net = load_network(network, device=self.device, trust=trust_pickle, verbose=verbose and dist.get_rank() == 0)
        from art.sampler import count_nfe
        self.settings['ref_nfe'] = count_nfe(ref_solver, ref_steps)
        self.detector = self.fd_label = self.ref_mu = self.ref_sigma = None
        if ref is not None:
            from art.detectors import load_detector
            self._print(f'Loading detector "{detector}" and reference statistics "{ref}"...')
            from art.metrics import load_ref
            self.detector, self.fd_label = load_detector(detector, self.device, verbose=verbose, trust=trust_pickle)
            ref_stats = load_ref(ref, label=self.fd_label, verbose=verbose)
            self.ref_mu, self.ref_sigma = ref_stats['mu'], ref_stats['sigma']
        self.settings['fd_label'] = self.fd_label

        # Output folder and previous results.
        os.makedirs(os.path.join(outdir, 'cache'), exist_ok=True)
        os.makedirs(os.path.join(outdir, 'schedules'), exist_ok=True)
        self.results_path = os.path.join(outdir, 'results.json')
        self.timings_path = os.path.join(outdir, 'timings.json')
        self.results = dict(format=FORMAT, settings=self.settings, cells=dict(), reference=dict(), notes=[])
        if os.path.isfile(self.results_path):
            old = _read_json(self.results_path)
            if not (isinstance(old, dict) and isinstance(old.get('cells'), dict) and isinstance(old.get('reference'), dict)):
                raise dnnlib.UserError(f'{self.results_path} is not a results file of compare.py; delete it or use another --outdir')
            if old.get('settings') != json.loads(json.dumps(self.settings)):
                diff = sorted(k for k in set(old.get('settings', {})) | set(self.settings) if old.get('settings', {}).get(k) != self.settings.get(k))
                raise dnnlib.UserError(f'{self.results_path} was made with different settings ({", ".join(diff)}); use another --outdir or delete it')
            self.results = old
            self._print(f'Resuming: {len(old["cells"])} cells already in "{self.results_path}".')
        if os.path.isfile(self.timings_path):  # wall-clock timings only: a corrupt file is replaced
            try:
                self.timings = dict(_read_json(self.timings_path))
            except (dnnlib.UserError, TypeError, ValueError):
                self._print(f'Note: "{self.timings_path}" is unreadable; starting new timings.')

    def _print(self, *args):
        if self.verbose:
            dist.print0(*args, flush=True)

    def _save(self):
        if dist.get_rank() == 0:
            write_json_atomic(self.results_path, self.results)
            write_json_atomic(self.timings_path, self.timings)

    #------------------------------------------------------------------------
    # The list of cells, with impossible (solver, NFE) pairs noted.

    def plan(self):
        """(cells (entry, solver, nfe, K, seed set), notes): K per row from count_nfe under the row's
        convention; a (solver, NFE) that a convention cannot spend is skipped for its rows, with a note."""
        cells, notes = [], []
        conventions = list(dict.fromkeys(e.convention for e in self.entries))
        for solver in self.solvers:
            for nfe in self.nfes:
                steps = {conv: nfe_to_steps(solver, nfe, final_step=conv[0], afs=conv[1]) for conv in conventions}
                for conv in conventions:
                    if steps[conv] is None:
                        rows = ', '.join(e.label for e in self.entries if e.convention == conv)
                        notes.append(f'{solver} cannot spend exactly NFE {nfe}; skipped.' if conv == DEFAULT_CONVENTION else
                                     f'{solver} cannot spend exactly NFE {nfe} with {convention_text(*conv)} ({rows}); skipped.')
                for entry in self.entries:
                    K = steps[entry.convention]
                    for j in range(len(self.seed_sets) if K is not None else 0):
                        cells.append((entry, solver, nfe, K, j))
        return cells, notes

    @staticmethod
    def cell_key(label, solver, nfe, set_idx):
        return f'{label}|{solver}|{nfe}|{set_idx}'

    #------------------------------------------------------------------------
    # Time grids, learning on the fly when asked (cached as JSON in outdir/schedules).

    def sigmas_for(self, entry, K, solver):
        from art.schedules import get_sigmas, load_schedule
        if entry.kind == 'grid':
            return get_sigmas(entry.name, K, net=self.net, **entry.kwargs)
        if entry.kind == 'file':
            path = entry.name.replace('{K}', str(K))
            if not os.path.isfile(path):
                raise dnnlib.UserError(f'Schedule file "{path}" (from "{entry.spec}") not found; learn it with train_art.py --steps={K}')
            return get_sigmas(path, K, net=self.net)
        learn_K = entry.fixed_steps or K
        learn_for = methods.METHODS[entry.name].learns_for(entry.kwargs.get('solver') or solver)
        path = os.path.join(self.outdir, 'schedules', f'{safe_name(entry.label)}-{learn_for}-K{learn_K}.json')
        if dist.get_rank() == 0 and os.path.isfile(path):  # a cached schedule that does not load is learned again
            try:
                load_schedule(path)
            except dnnlib.UserError as e:
                self._print(f'Note: {e}; learning it again.')
                os.remove(path)
        if not os.path.isfile(path):
            if dist.get_rank() == 0:
                self._learn(entry, learn_K, solver, path)
            dist.barrier()
        made_from = load_schedule(path).get('compare_spec')
        if made_from not in (None, entry.spec):
            raise dnnlib.UserError(f'"{path}" was learned for "{made_from}", not "{entry.spec}"; give the entry another LABEL= or use another --outdir')
        return get_sigmas(path, K, net=self.net)

    def _learn(self, entry, K, solver, path):
        from art.schedules import save_schedule
        self._print(f'Learning schedule "{entry.label}" for K={K} ({solver})...')
        t0 = time.time()
        sched = methods.learn(entry.method_spec, self.net, K, solver=solver, seed=self.learn_seed, device=self.device,
            log=self._print, network=self.settings['network'])
        sigmas = sched.pop('sigmas')
        save_schedule(path, sigmas, **{k: v for k, v in sched.items() if k not in ('format', 'num_steps', 'sigma_min', 'sigma_max')},
                      compare_spec=entry.spec) # atomic
        self.timings[f'learn|{entry.label}|{solver}|{K}'] = time.time() - t0
        self._print(f'  done in {time.time() - t0:.1f} s -> "{path}"')

    #------------------------------------------------------------------------
    # Reference solutions (this rank's seeds of one seed set), cached as float32.

    def reference(self, set_idx):
        from art.schedules import get_sigmas
        seeds = [s for b in rank_batches(self.seed_sets[set_idx], self.batch) for s in b]
        s = self.settings
        key = _sha(dict(network=s['network'], solver=s['ref_solver'], steps=s['ref_steps'], rho=s['ref_rho'], seeds=seeds))
        path = os.path.join(self.outdir, 'cache', f'reference-{key}.pt')
        if os.path.isfile(path):
            try:
                ref = torch.load(path, weights_only=True)
                if isinstance(ref, torch.Tensor) and len(ref) == len(seeds):
                    return ref
            except Exception: # pylint: disable=broad-exception-caught
                pass
            self._print(f'Note: the cached reference "{path}" is unreadable; computing it again.')
        self._print(f'Computing the reference solution for seed set {set_idx} ({s["ref_solver"]}, NFE {s["ref_nfe"]})...')
        t0 = time.time()
        sigmas = get_sigmas('edm', s['ref_steps'], net=self.net, rho=s['ref_rho'])
        import tqdm
        batches = rank_batches(self.seed_sets[set_idx], self.batch)
        out = [generate_batch(self.net, b, sigmas, s['ref_solver'], self.device).to(torch.float32).cpu()
               for b in tqdm.tqdm(batches, unit='batch', leave=False, disable=not self.verbose or dist.get_rank() != 0)]
        ref = torch.cat(out) if out else torch.zeros([0])
        from torch_utils.misc import save_atomic
        save_atomic(path, lambda tmp: torch.save(ref, tmp))
        self.timings[f'reference|{set_idx}|rank{dist.get_rank()}'] = time.time() - t0
        return ref

    #------------------------------------------------------------------------
    # Metrics of a list of sample batches (this rank's), reduced over ranks.

    def measure(self, batches, ref):
        """Metrics of this rank's samples, reduced over ranks. `batches`: iterable of sample batches in
        this rank's seed order (generated lazily: only the reference is held in memory); `ref`: the
        matching reference samples (CPU)."""
        from art.detectors import feature_dim
        from art.metrics import frechet_distance, stats_from_batches
        err = torch.zeros([2], dtype=torch.float64, device=self.device) # [sum of per-sample RMS, count]
        pos = 0

        def images():
            nonlocal pos
            for x in batches:
                x = x.to(self.device, torch.float64)
                r = ref[pos : pos + len(x)].to(self.device, torch.float64)
                pos += len(x)
                err[0] += (x - r).flatten(1).square().mean(1).sqrt().sum()
                err[1] += len(x)
                yield to_uint8(x)

        fd = None
        if self.detector is not None:
            dim = feature_dim(self.detector, [self.net.img_channels, self.net.img_resolution, self.net.img_resolution], self.device)
            mu, sigma = stats_from_batches(self.detector, images(), device=self.device, dim=dim)
            fd = frechet_distance(mu, sigma, self.ref_mu, self.ref_sigma)
        else:
            for _ in images():
                pass
        if dist.get_world_size() > 1:
            torch.distributed.all_reduce(err)
        out = dict(rms=float(err[0] / err[1]))
        if fd is not None:
            out['fd'] = fd
        return out

    #------------------------------------------------------------------------
    # Main loop.

    def run(self):
        cells, notes = self.plan()
        self.results['notes'] = notes
        for note in notes:
            self._print('Note:', note)
        specs = {e.label: e.spec for e in self.entries}
        for cell in self.results['cells'].values():
            if specs.get(cell['schedule'], cell['spec']) != cell['spec']:
                raise dnnlib.UserError(f'Row "{cell["schedule"]}" of {self.results_path} was made from "{cell["spec"]}", not '
                                       f'"{specs[cell["schedule"]]}"; give the new entry another LABEL= or use another --outdir')
        todo = [c for c in cells if self.cell_key(c[0].label, c[1], c[2], c[4]) not in self.results['cells']]
        self._print(f'{len(cells)} cells, {len(cells) - len(todo)} done, {len(todo)} to run.')
        refs = dict()
        for j in range(len(self.seed_sets)):
            if str(j) not in self.results['reference'] or any(c[4] == j for c in todo):
                refs[j] = self.reference(j)
            if str(j) not in self.results['reference']:
                ref_metrics = self.measure(refs[j].split(self.batch), refs[j])
                ref_metrics.pop('rms')
                self.results['reference'][str(j)] = ref_metrics
                self._save()
        for entry, solver, nfe, K, j in todo:
            t0 = time.time()
            sigmas = self.sigmas_for(entry, K, solver)
            batches = (generate_batch(self.net, b, sigmas, solver, self.device, entry.final_step, entry.afs)
                       for b in rank_batches(self.seed_sets[j], self.batch))
            m = self.measure(batches, refs[j])
            bad = [k for k, v in m.items() if not math.isfinite(v)]
            if bad:
                raise dnnlib.UserError(f'Non-finite {", ".join(bad)} for {entry.label} ({solver}, NFE {nfe}); nothing was written for this cell')
            key = self.cell_key(entry.label, solver, nfe, j)
            self.results['cells'][key] = dict(schedule=entry.label, spec=entry.spec, solver=solver, nfe=nfe,
                num_steps=K, final_step=entry.final_step, afs=entry.afs, seed_set=j, num_samples=len(self.seed_sets[j]),
                sigmas=[float(s) for s in sigmas], **m)
            self.timings[key] = time.time() - t0
            self._save()
            msg = ', '.join(f'{self._metric_label(k)} {v:.4g}' for k, v in m.items())
            self._print(f'{solver:>5s} NFE {nfe:3d} {entry.label:>14s} set {j}: {msg}  ({time.time() - t0:.1f} s)')
        self._save()
        return self.results

    def _metric_label(self, metric):
        return dict(rms='RMS', fd=self.fd_label or 'FD').get(metric, metric)

#----------------------------------------------------------------------------

def safe_name(label):
    """A label as a file-name part."""
    return re.sub(r'[^A-Za-z0-9_.+@=-]', '_', label)

#----------------------------------------------------------------------------
