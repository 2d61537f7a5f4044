# ART-EDM: learned time grids for EDM-style diffusion samplers.
# Copyright (c) 2026 The ART-EDM authors. Released under the MIT License (see LICENSE).

"""Tests for art.peers: the GITS dynamic programme (against exhaustive search), the GITS cost
matrix on an analytic model (against a numpy re-implementation), and the best-rho search."""

import itertools

import numpy as np
import pytest
import torch

from art import peers
from gauss_net import Gauss

#----------------------------------------------------------------------------


def _path_cost(C, path, coeff):
    return sum(coeff ** m * C[a, b] for m, (a, b) in enumerate(zip(path[:-1], path[1:])))

@pytest.mark.parametrize('coeff', [1.0, 1.15, 0.8])
@pytest.mark.parametrize('K', [2, 3, 4, 6])

#----------------------------------------------------------------------------

def test_gits_dp_matches_brute_force(coeff, K):
    rng = np.random.default_rng(K)
    N = 9
    C = np.triu(rng.uniform(0.1, 2.0, [N, N]), 1)
    path, total = peers.gits_dp(C, K, coeff)
    assert path[0] == 0 and path[-1] == N - 1 and len(path) == K and np.all(np.diff(path) > 0)
    best = min(_path_cost(C, [0, *m, N - 1], coeff) for m in itertools.combinations(range(1, N - 1), K - 2))
    assert abs(total - best) < 1e-12 and abs(_path_cost(C, path, coeff) - best) < 1e-12
    bf_path, bf_total = peers.gits_brute_force(C, K, coeff)
    assert abs(bf_total - best) < 1e-12

#----------------------------------------------------------------------------

def test_gits_dp_coeff_moves_steps_to_the_end():
    # Uniform costs C[i, j] = (j - i)^2: coeff > 1 makes late steps dearer, so they get shorter.
    N = 21
    i, j = np.meshgrid(np.arange(N), np.arange(N), indexing='ij')
    C = np.where(j > i, (j - i) ** 2.0, 0)
    flat, _ = peers.gits_dp(C, 5, 1.0)
    tilt, _ = peers.gits_dp(C, 5, 1.5)
    assert flat == [0, 5, 10, 15, 20]
    assert np.diff(tilt)[-1] < np.diff(tilt)[0]

#----------------------------------------------------------------------------

def test_gits_cost_matrix_gaussian_euler():
    # Teacher = Heun on the nodes; its states and the Euler costs recomputed with numpy for N(0, s^2) data.
    net = Gauss(s=0.5, res=2)
    z = torch.randn(5, 1, 2, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    nodes = np.array([80.0, 10.0, 2.0, 0.5, 0.1])
    C = peers.gits_cost_matrix(net, z, torch.tensor(nodes), coarse='euler')
    f = lambda x, s: x * s / (0.25 + s * s)                     # (x - D)/sigma
    xs = [z.numpy() * 80.0]
    for a, b in zip(nodes[:-1], nodes[1:]):
        x = xs[-1]
        d = f(x, a); xp = x + (b - a) * d
        xs.append(x + (b - a) * (d + f(xp, b)) / 2)
    for a in range(len(nodes)):
        for b in range(a + 1, len(nodes)):
            pred = xs[a] + (nodes[b] - nodes[a]) * f(xs[a], nodes[a])
            exp = np.linalg.norm((pred - xs[b]).reshape(5, -1), axis=1).mean()
            assert abs(C[a, b] - exp) < 1e-9 * max(1, exp)

#----------------------------------------------------------------------------

def test_gits_schedule_valid():
    net = Gauss(s=0.5, res=2)
    sched = peers.gits(net, 6, num_teacher=25, num_warmup=8, solver='heun')
    s = np.array(sched['sigmas'])
    assert len(s) == 7 and s[-1] == 0 and np.all(np.diff(s) < 0)
    assert abs(s[0] - 80) < 1e-9 and abs(s[-2] - 0.002) < 1e-9
    assert sched['solver'] == 'heun' and sched['teacher_indices'][0] == 0 and sched['teacher_indices'][-1] == 24

#----------------------------------------------------------------------------

def test_best_rho_finds_the_minimum_of_its_table():
    # For Gaussian data Heun's RMS error as a function of rho is smooth; the search returns the argmin of
    # everything it evaluated, and it beats the grid neighbours it refined between.
    net = Gauss(s=0.5, res=2)
    rho, table = peers.best_rho(net, 6, solver='heun', num_warmup=16, ref_steps=256, rhos=(1.5, 3, 5, 7, 10, 14))
    assert table[rho] == min(table.values())
    coarse = {r: table[r] for r in (1.5, 3, 5, 7, 10, 14)}
    assert table[rho] <= min(coarse.values())
    # Independent check of one table value: exact Heun on the scalar linear ODE, per-sample RMS vs reference.
    from art.schedules import get_sigmas
    from art.sampler import warmup_latents
    lat = warmup_latents(net, 16, 0)[0]
    def heun_gain(sig):
        g = 1.0
        for i, (a, b) in enumerate(zip(sig[:-1], sig[1:])):
            f = lambda s: s / (0.25 + s * s)
            d = f(a) * g
            gp = g + (b - a) * d
            g = gp if i == len(sig) - 2 else g + (b - a) * (d + f(b) * gp) / 2
        return g
    s7 = get_sigmas('edm', 6, rho=7.0).numpy()
    sref = get_sigmas('edm', 256, rho=7.0).numpy()
    gain = (heun_gain(s7) - heun_gain(sref)) * 80.0
    rms = np.mean(np.sqrt(np.mean((gain * lat.numpy().reshape(16, -1)) ** 2, axis=1)))
    assert abs(table[7.0] - rms) < 1e-9
