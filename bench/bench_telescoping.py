# ART-EDM: learned time grids for EDM-style diffusion samplers.
# Copyright (c) 2026 The ART-EDM authors. Released under the MIT License (see LICENSE).

"""Diagnostic: why a sum of per-step local errors can rank grids wrongly (docs/solver-aware-art.md §10, eq. 27).

For each grid, on n trajectories of the trajectory bank, the global error of DPM-Solver++(2M) is split into
per-step contributions G_j - G_{j+1}, G_j = the solver run with the network from the bank's exact state at
sigma_j with the exact history D(sigma_{j-1}) (G_K = the teacher sample). Printed per grid: the true terminal
error |G_0 - G_K|, the sum of the contributions' norms, the discrete cost (25) (local errors times the measured
propagation factor, eq. 26), the contributions and their modelled values w_j |e_j|, and the mean cosines
between contributions. Grids: the paper's Euler closed form, the 2M closed form chosen by the discrete cost
alone (select=0) and the one chosen by the terminal error (the default). Prints numbers; never fails.

  python bench/bench_telescoping.py --network=builtin:mnist-dit --steps=6
"""

import click
import numpy as np
import torch

from art import closed_form, local_error, methods
from art.builtin import load_network

#----------------------------------------------------------------------------

def run_from(net, bank, g, j, n):
    """G_j: 2M from the exact state at node j (exact previous D) to the end of grid g, on n bank trajectories."""
    x, D = bank.at(g[:-1])
    shape = [n, net.img_channels, net.img_resolution, net.img_resolution]
    labels = None if bank.class_labels is None else bank.class_labels[:n]
    xj = torch.as_tensor(x[j, :n]).reshape(shape)
    D_prev = torch.as_tensor(D[j - 1, :n]).reshape(shape) if j > 0 else None
    for i in range(j, len(g) - 1):
        D_i = net(xj, torch.tensor(g[i], dtype=torch.float64), labels).to(torch.float64)
        if g[i + 1] == 0:
            return D_i.reshape(n, -1).numpy()
        D_hat = D_i
        if D_prev is not None:                                    # the 2M correction with the real step ratio
            r = (np.log(g[i - 1]) - np.log(g[i])) / (np.log(g[i]) - np.log(g[i + 1]))
            D_hat = D_i + (D_i - D_prev) / (2 * r)
        xj = (g[i + 1] / g[i]) * xj + (1 - g[i + 1] / g[i]) * D_hat
        D_prev = D_i
    return xj.reshape(n, -1).numpy()

@click.command()
@click.option('--network', help='Network', metavar='SPEC', type=str, default='builtin:mnist-dit', show_default=True)
@click.option('--steps',   help='K', metavar='INT', type=click.IntRange(min=2), default=6, show_default=True)
@click.option('--n',       help='Bank trajectories used', metavar='INT', type=click.IntRange(min=2), default=32, show_default=True)
@click.option('--threads', help='CPU threads', metavar='INT', type=click.IntRange(min=1), default=2, show_default=True)
def main(network, steps, n, threads):
    """Telescoping split of the 2M global error into per-step contributions, for three grids."""
    torch.set_num_threads(threads)
    net = load_network(network, device='cpu')
    K = steps
    grids = {name: np.asarray(methods.learn(spec, net, K, solver='dpmpp-2m')['sigmas'], np.float64) for name, spec in
             dict(cf_euler='closed-form:solver=euler', by_discrete_cost='closed-form:select=0', by_terminal='closed-form').items()}
    bank = closed_form.trajectory_bank(net)
    w = local_error.measured_propagation(net, bank)
    fmt = lambda a: ' '.join(f'{v:.4f}' for v in a)
    with torch.no_grad():
        for name, g in grids.items():
            G = [run_from(net, bank, g, j, n) for j in range(K)] + [bank.x_final[:n]]
            C = np.stack([G[j] - G[j + 1] for j in range(K)])
            norms = np.sqrt(np.mean(C ** 2, axis=2))                # [K, n] per-sample RMS
            total = np.sqrt(np.mean((G[0] - G[K]) ** 2, axis=1)).mean()
            model = w(g[1:]) * local_error.local_errors(bank.subset(slice(0, n)), 'dpmpp-2m', g)
            nrm = np.linalg.norm(C, axis=2)
            cos = (np.einsum('ind,jnd->ijn', C, C) / (nrm[:, None] * nrm[None, :])).mean(axis=2)
            print(f'\n{name}: sigmas {fmt(g[:-1])} 0')
            print(f'  terminal error {total:.4f}   sum of contribution norms {norms.mean(axis=1).sum():.4f}   discrete cost (25) {model.sum():.4f}')
            print(f'  contributions  {fmt(norms.mean(axis=1))}')
            print(f'  modelled w|e|  {fmt(model)}')
            off = cos[~np.eye(K, dtype=bool)]
            print(f'  mean cosine between contributions: {off.mean():.3f} (min {off.min():.2f}, max {off.max():.2f})')

if __name__ == '__main__':
    main() # pylint: disable=no-value-for-parameter

#----------------------------------------------------------------------------
