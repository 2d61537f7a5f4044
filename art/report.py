# ART-EDM: learned time grids for EDM-style diffusion samplers.
# Copyright (c) 2026 The ART-EDM authors. Released under the MIT License (see LICENSE).

"""What `compare.py` writes from a comparison's results: the markdown tables (mean ± std over seed sets,
the sampling convention and NFE formula in each header, a footnote per row with another convention),
the metric-vs-NFE plot, and one picture of samples per solver table (art.comparison runs the cells)."""

import os

import numpy as np
import torch

from art.comparison import DEFAULT_CONVENTION, convention_text, generate_batch, nfe_formula, nfe_to_steps, rank_batches, safe_name
from art.metrics import to_uint8

#----------------------------------------------------------------------------
# Tables (markdown) and plot (PNG) from results.json.

def summarize(results):
    """-> {(solver, metric): {label: {nfe: (mean, std, n)}}}; std over seed sets (ddof=1, 0 for one set)."""
    groups = dict()
    for c in results['cells'].values():
        for metric in ('rms', 'fd'):
            if c.get(metric) is not None:
                groups.setdefault((c['solver'], metric), dict()).setdefault(c['schedule'], dict()).setdefault(c['nfe'], []).append(c[metric])
    out = dict()
    for gk, rows in groups.items():
        out[gk] = {label: {nfe: (float(np.mean(v)), float(np.std(v, ddof=1)) if len(v) > 1 else 0.0, len(v))
                           for nfe, v in cols.items()} for label, cols in rows.items()}
    return out

#----------------------------------------------------------------------------

def row_conventions(results):
    """{row label: (final_step, afs)} from the cells (cells written before conventions existed: EDM's)."""
    return {c['schedule']: (c.get('final_step', 'euler'), bool(c.get('afs', False))) for c in results['cells'].values()}

def metric_name(results, metric):
    return dict(rms=f'RMS error vs {results["settings"]["ref_solver"]} NFE {results["settings"]["ref_nfe"]}',
                fd=results['settings'].get('fd_label') or 'FD')[metric]

#----------------------------------------------------------------------------

def markdown_tables(results, row_order=None, baseline='edm', tie=0.01):
    """results.md: one table per (solver, metric); the header states EDM's convention, and each row
    sampled with another one is marked † and footnoted with its convention and count_nfe formula."""
    s = results['settings']
    summary = summarize(results)
    conventions = row_conventions(results)
    lines = [f'Network `{s["network"]}`; {s["num"]} samples per cell from seeds {s["first_seed"]}..'
             f'{s["first_seed"] + s["num"] * s["num_seed_sets"] - 1} ({s["num_seed_sets"]} seed set(s)'
             + ('; mean ± std over sets' if s['num_seed_sets'] > 1 else '') + '). Lower is better; best per column in bold.', '']
    for (solver, metric) in sorted(summary, key=lambda k: (k[0], k[1] != 'fd')):
        rows = summary[(solver, metric)]
        nfes = sorted({n for cols in rows.values() for n in cols})
        labels = [l for l in (row_order or []) if l in rows] + sorted(l for l in rows if l not in (row_order or []))
        best = {n: min(cols[n][0] for cols in rows.values() if n in cols) for n in nfes}
        other = {l: conventions[l] for l in labels if conventions.get(l, DEFAULT_CONVENTION) != DEFAULT_CONVENTION}
        lines.append(f'### {solver}, {metric_name(results, metric)} (EDM convention: K steps ending with an Euler step '
                     f'to sigma = 0, no AFS; NFE = {nfe_formula(solver)}' + ('; rows marked † use another, below)' if other else ')'))
        lines.append('')
        lines.append('| schedule | ' + ' | '.join(f'NFE {n}' for n in nfes) + ' |')
        lines.append('|---' * (len(nfes) + 1) + '|')
        for label in labels:
            cells = []
            for n in nfes:
                if n not in rows[label]:
                    cells.append('–')
                    continue
                mean, std, k = rows[label][n]
                txt = f'{mean:.4g}' + (f' ± {std:.2g}' if k > 1 else '')
                cells.append(f'**{txt}**' if mean == best[n] else txt)
            lines.append(f'| {label}{" †" if label in other else ""} | ' + ' | '.join(cells) + ' |')
        if other:
            lines.append('')
            for label in (l for l in labels if l in other):
                lines.append(f'† {label}: {convention_text(*other[label])}; NFE = {nfe_formula(solver, *other[label])}.')
        if baseline in rows:
            lines.append('')
            for label in labels:
                if label == baseline:
                    continue
                common = [n for n in nfes if n in rows[label] and n in rows[baseline]]
                diff = {n: (rows[label][n][0] - rows[baseline][n][0]) / max(abs(rows[baseline][n][0]), 1e-300) for n in common}
                groups = [('lower', [n for n in common if diff[n] < -tie]), ('higher', [n for n in common if diff[n] > tie]),
                          (f'within {tie:.0%}', [n for n in common if abs(diff[n]) <= tie])]
                lines.append(f'- {label} vs {baseline}: ' + '; '.join(f'{word} at NFE {", ".join(map(str, ns))}' for word, ns in groups if ns) + '.')
        if metric == 'fd' and results.get('reference'):
            vals = [v['fd'] for v in results['reference'].values() if v.get('fd') is not None]
            if vals:
                lines.append('')
                lines.append(f'Floor: the {s["ref_solver"]} NFE {s["ref_nfe"]} reference samples themselves score '
                             f'{np.mean(vals):.4g} (the FD of N samples is biased upwards by the sample size).')
        lines.append('')
    for note in results.get('notes', []):
        lines.append(f'Note: {note}')
    return '\n'.join(lines).rstrip() + '\n'

#----------------------------------------------------------------------------

def plot(results, path, row_order=None):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    summary = summarize(results)
    keys = sorted(summary, key=lambda k: (k[1] != 'fd', k[0]))
    fig, axes = plt.subplots(1, max(len(keys), 1), figsize=(4.5 * max(len(keys), 1), 3.6), squeeze=False)
    for ax, (solver, metric) in zip(axes[0], keys):
        rows = summary[(solver, metric)]
        labels = [l for l in (row_order or []) if l in rows] + sorted(l for l in rows if l not in (row_order or []))
        for label in labels:
            nfes = sorted(rows[label])
            mean = np.array([rows[label][n][0] for n in nfes])
            std = np.array([rows[label][n][1] for n in nfes])
            ax.errorbar(nfes, mean, yerr=std if std.any() else None, marker='o', ms=3, capsize=2, label=label)
        if all(v[0] > 0 for cols in rows.values() for v in cols.values()):
            ax.set_yscale('log')
        ax.set_xticks(sorted({n for cols in rows.values() for n in cols}))
        ax.set_xlabel('NFE')
        ax.set_title(f'{solver}: {metric_name(results, metric)}', fontsize=9)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    from torch_utils.misc import save_atomic
    save_atomic(path, lambda tmp: fig.savefig(tmp, dpi=100))
    plt.close(fig)

#----------------------------------------------------------------------------
# Sample pictures: one grid per solver table, one row per schedule at the table's lowest NFE.

def sample_grid(cmp, outdir, num=8):
    """After Comparison.run() (rank 0): write OUTDIR/samples-<solver>.png for every solver table, one row
    per schedule at that table's lowest NFE (the grid measured in its cell, else Comparison.sigmas_for)
    and a last row with the reference samples, all from the same first `num` seeds of seed set 0
    (this rank's part of it), each row sampled with its own convention (a row that cannot spend that NFE
    is left out). Returns the paths written."""
    from art import pictures
    from art.sampler import count_nfe
    ref = cmp.reference(0)
    seeds = [s for b in rank_batches(cmp.seed_sets[0], cmp.batch) for s in b][:num]
    ref_row = to_uint8(ref[:len(seeds)].to(torch.float64)).permute(0, 2, 3, 1).numpy()
    cells, _notes = cmp.plan()
    paths = []
    for solver in cmp.solvers:
        nfes = [c[2] for c in cells if c[1] == solver]
        if not seeds or not nfes:
            continue
        nfe = min(nfes)
        rows, labels = [], []
        for entry in cmp.entries:
            K = nfe_to_steps(solver, nfe, final_step=entry.final_step, afs=entry.afs)
            if K is None:
                continue
            cell = cmp.results['cells'].get(cmp.cell_key(entry.label, solver, nfe, 0))
            sigmas = torch.tensor(cell['sigmas'], dtype=torch.float64) if cell else cmp.sigmas_for(entry, K, solver)
            x = generate_batch(cmp.net, seeds, sigmas, solver, cmp.device, entry.final_step, entry.afs)
            rows.append(to_uint8(x).permute(0, 2, 3, 1).cpu().numpy())
            labels.append(f'{entry.label} ({solver}, NFE {count_nfe(solver, K, final_step=entry.final_step, afs=entry.afs)})')
        rows.append(ref_row)
        labels.append(f'reference (NFE {cmp.settings["ref_nfe"]})')
        picture, _origins, _scale = pictures.make_grid(np.concatenate(rows), len(seeds), row_labels=labels)
        path = os.path.join(outdir, f'samples-{safe_name(solver)}.png')
        pictures.save_png(picture, path, what='samples')
        paths.append(path)
    return paths

#----------------------------------------------------------------------------
