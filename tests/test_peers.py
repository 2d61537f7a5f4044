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

#----------------------------------------------------------------------------
# GITS with multistep costs: the pair-state DP and the cost tensor.

@pytest.mark.parametrize('coeff', [1.0, 1.15, 0.8])
@pytest.mark.parametrize('K', [2, 3, 4, 5, 7])
def test_gits_pair_dp_matches_brute_force(coeff, K):
    rng = np.random.default_rng(10 + K)
    N = 8
    first, pair = rng.uniform(0.1, 2.0, [N]), rng.uniform(0.1, 2.0, [N, N, N])
    path, total = peers.gits_pair_dp(first, pair, K, coeff)
    assert path[0] == 0 and path[-1] == N - 1 and len(path) == K and np.all(np.diff(path) > 0)
    def cost(p):                                                # written out independently of gits_pair_brute_force
        return first[p[1]] + sum(coeff ** m * pair[p[m - 1], p[m], p[m + 1]] for m in range(1, len(p) - 1))
    best = min(cost([0, *m, N - 1]) for m in itertools.combinations(range(1, N - 1), K - 2))
    assert abs(total - best) < 1e-12 and abs(cost(path) - best) < 1e-12
    assert abs(peers.gits_pair_brute_force(first, pair, K, coeff)[1] - best) < 1e-12

def test_gits_pair_dp_uses_the_history():
    # A pair cost that punishes a large step after a small one: the one-step DP on pair[0] would not see it.
    N = 7
    first = np.zeros(N)
    pair = np.zeros([N, N, N])
    for h, i, j in itertools.product(range(N), repeat=3):
        if h < i < j:
            pair[h, i, j] = 10.0 if (j - i) > 2 * (i - h) else (j - i) * 0.1
    path, total = peers.gits_pair_dp(first, pair, 4, 1.0)
    steps = np.diff(path)
    assert np.all(steps[1:] <= 2 * steps[:-1]) and total < 10

def _np_teacher(z, nodes, s2):
    f = lambda x, s: x * s / (s2 + s * s)                       # (x - D)/sigma for N(0, s2) data
    xs = [z * nodes[0]]
    for a, b in zip(nodes[:-1], nodes[1:]):
        x = xs[-1]
        d = f(x, a); xp = x + (b - a) * d
        xs.append(x + (b - a) * (d + f(xp, b)) / 2)
    return xs, f

@pytest.mark.parametrize('solver', ['dpmpp-2m', 'ipndm'])
def test_gits_pair_costs_gaussian(solver):
    net = Gauss(s=0.5, res=2)
    z = torch.randn(5, 1, 2, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    nodes = np.array([80.0, 10.0, 2.0, 0.5, 0.1, 0.02])
    first, pair = peers.gits_pair_costs(net, z, torch.tensor(nodes), solver=solver)
    xs, f = _np_teacher(z.numpy(), nodes, 0.25)
    D = lambda x, s: x * 0.25 / (0.25 + s * s)
    err = lambda pred, b: np.linalg.norm((pred - xs[b]).reshape(5, -1), axis=1).mean()
    for b in range(1, len(nodes)):
        assert abs(first[b] - err(xs[0] + (nodes[b] - nodes[0]) * f(xs[0], nodes[0]), b)) < 1e-9
    for h, i, j in itertools.combinations(range(len(nodes)), 3):
        sh, si, sj = nodes[h], nodes[i], nodes[j]
        if solver == 'dpmpp-2m':
            r = (np.log(si / sj)) / (2 * np.log(sh / si))
            Dh = D(xs[i], si) + r * (D(xs[i], si) - D(xs[h], sh))
            pred = sj / si * xs[i] + (1 - sj / si) * Dh
        else:
            pred = xs[i] + (sj - si) * (3 * f(xs[i], si) - f(xs[h], sh)) / 2
        exp = err(pred, j)
        assert abs(pair[h, i, j] - exp) < 1e-9 * max(1, exp)

def test_gits_cost_matrix_gaussian_rk4():
    net = Gauss(s=0.5, res=2)
    z = torch.randn(3, 1, 2, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    nodes = np.array([80.0, 5.0, 0.7, 0.05])
    C = peers.gits_cost_matrix(net, z, torch.tensor(nodes), coarse='rk4')
    xs, f = _np_teacher(z.numpy(), nodes, 0.25)
    for a, b in itertools.combinations(range(len(nodes)), 2):
        x, s, h = xs[a], nodes[a], nodes[b] - nodes[a]
        k1 = f(x, s); k2 = f(x + h / 2 * k1, s + h / 2); k3 = f(x + h / 2 * k2, s + h / 2); k4 = f(x + h * k3, s + h)
        exp = np.linalg.norm((x + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4) - xs[b]).reshape(3, -1), axis=1).mean()
        assert abs(C[a, b] - exp) < 1e-9 * max(1, exp)

@pytest.mark.parametrize('solver', ['euler', 'heun', 'dpmpp-2m', 'ipndm', 'rk4'])
def test_gits_schedule_valid_for_every_solver(solver):
    net = Gauss(s=0.5, res=2)
    for K in (1, 2, 5):
        sched = peers.gits(net, K, num_teacher=17, num_warmup=4, solver=solver)
        s = np.array(sched['sigmas'])
        assert len(s) == K + 1 and s[-1] == 0 and np.all(np.diff(s) < 0) and abs(s[0] - 80) < 1e-9
        assert K == 1 or abs(s[-2] - 0.002) < 1e-9
        assert sched['solver'] == solver
