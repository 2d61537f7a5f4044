# ART-EDM: learned time grids for EDM-style diffusion samplers.
# Copyright (c) 2026 The ART-EDM authors. Released under the MIT License (see LICENSE).

"""Each solver's local error along stored PF-ODE trajectories, without network calls
(docs/solver-aware-art.md §7).

A solver whose network calls all happen at the nodes of its own grid (Euler = DDIM, DPM-Solver++(2M),
iPNDM) needs, for one step with exact history, only x(sigma) and D(x(sigma); sigma) along the exact
trajectory at the current and previous nodes. `TrajectoryBank` keeps both along accurate trajectories
(Heun on a fine EDM grid, the teacher) as splines in lambda = -log sigma: x as a cubic Hermite spline
with its exact derivative dx/dlambda = D - x, D as a cubic spline. For any grid, `local_errors()` then
gives the local error of every step of the solver, with its real step sizes and ratios, lower-order
warm start and final Euler step to sigma = 0 (edm-spec.md §2.5):

    e_i = || Phi_S(x(sigma_i), D(sigma_i), D(sigma_{i-1}), ...; sigma_i -> sigma_{i+1}) - x(sigma_{i+1}) || / sqrt(d),

and `surrogate()` the ART cost of the grid: the local errors carried to the sample and summed (eq. 25). `density()` probes the leading term
r_S(sigma) = E e(sigma, h) / |h|^p with an equal-step history (eq. 24), the density of the time-only
closed form; `spline_density()` evaluates the per-state densities of Euler (|Q|) and 2M (eq. 21) from
the lambda-derivatives of the D spline at the bank's nodes (eq. 31), with no finite step at all.
"""

import numpy as np
import scipy.interpolate
import scipy.optimize
import torch

import dnnlib
from art import objective
from art.sampler import IPNDM_COEFFS, dpmpp_3m_coeffs

SOLVERS = ('euler', 'dpmpp-2m', 'dpmpp-3m', 'ipndm')   # solvers whose local error the bank can evaluate
POWERS = {'euler': 2, 'dpmpp-2m': 3, 'dpmpp-3m': 4, 'ipndm': 5}  # p = order + 1 of the equal-step leading term

#----------------------------------------------------------------------------

class TrajectoryBank:
    """x(sigma) and D(sigma) along n teacher trajectories at N fine nodes (descending, > 0), plus the
    teacher's samples x(0); splines in lambda = -log sigma (scipy), evaluated for arrays of sigmas."""

    def __init__(self, sigma_fine, xs, Ds, x_final):
        s = np.asarray(sigma_fine, np.float64)
        xs, Ds = np.asarray(xs, np.float64), np.asarray(Ds, np.float64)
        if s.ndim != 1 or len(s) < 4 or np.any(np.diff(s) >= 0) or xs.shape != Ds.shape or xs.shape[0] != len(s):
            raise dnnlib.UserError('TrajectoryBank needs >= 4 descending sigmas and matching [N, n, ...] states and denoised values')
        self.n = xs.shape[1]
        self.dim = int(np.prod(xs.shape[2:]))
        self.sigma_min, self.sigma_max = float(s[-1]), float(s[0])
        lam = -np.log(s)
        X, Dm = xs.reshape(len(s), -1), Ds.reshape(len(s), -1)
        self._x = scipy.interpolate.CubicHermiteSpline(lam, X, Dm - X, axis=0)
        self._D = scipy.interpolate.CubicSpline(lam, Dm, axis=0)
        self.x_final = np.asarray(x_final, np.float64).reshape(self.n, -1)
        self.class_labels = None   # the trajectories' labels (bank_from_trajectories sets them)
        self._data = (s, xs, Ds)

    def subset(self, index):
        """The bank of the trajectories `index` (a slice or index array), with their labels."""
        s, xs, Ds = self._data
        out = TrajectoryBank(s, xs[:, index], Ds[:, index], self.x_final[index])
        out.class_labels = None if self.class_labels is None else self.class_labels[index]
        return out

    def latents(self, shape):
        """The unit-variance latents the trajectories start from (x(sigma_max) / sigma_max), shaped [n] + shape."""
        return torch.as_tensor(self._data[1][0] / self.sigma_max).reshape([self.n] + list(shape))

    @property
    def sigma_fine(self):
        """The N fine nodes (descending, > 0), a copy."""
        return self._data[0].copy()

    def denoiser_derivatives(self):
        """(D', D'') [N, n, dim]: the first two lambda-derivatives of the D spline at the fine nodes, i.e. of D
        along each trajectory (the flow's own variable; the spline interpolates D exactly at the nodes)."""
        lam = -np.log(self._data[0])
        return tuple(self._D(lam, k).reshape(len(lam), self.n, -1) for k in (1, 2))

    def at(self, sigmas):
        """(x, D) at the given sigmas (clipped to the fine range), each [len(sigmas), n, dim]."""
        lam = -np.log(np.clip(np.asarray(sigmas, np.float64), self.sigma_min, self.sigma_max))
        return self._x(lam).reshape(len(lam), self.n, -1), self._D(lam).reshape(len(lam), self.n, -1)

#----------------------------------------------------------------------------
# One step of each solver from exact values (the update rules of art.sampler, vectorised over steps).

def _steps(solver, s, x, D, max_order=4):
    """Predicted states at s[1:] from the exact states x[:-1] (len(s) - 1 steps, all non-final)."""
    h = (s[1:] - s[:-1])[:, None, None]
    if solver == 'euler':
        return x[:-1] + h * (x[:-1] - D[:-1]) / s[:-1, None, None]
    if solver == 'dpmpp-2m':
        ratio = (s[1:] / s[:-1])[:, None, None]
        lam = -np.log(s)
        hl = lam[1:] - lam[:-1]
        D_hat = D[:-1].copy()
        if len(hl) > 1:
            with np.errstate(divide='ignore', invalid='ignore'):   # coincident nodes: a zero previous step
                c = np.nan_to_num(hl[1:] / (2 * hl[:-1]), nan=0.0, posinf=0.0)[:, None, None]  # 1 / (2 r_i)
            D_hat[1:] = D[1:-1] + c * (D[1:-1] - D[:-2])
        return ratio * x[:-1] + (1 - ratio) * D_hat
    if solver == 'dpmpp-3m':   # art.sampler._dpmpp_3m: orders 1, 2 (the 2M rule), then 3 from D_i, D_{i-1}, D_{i-2}
        ratio = (s[1:] / s[:-1])[:, None, None]
        hl = np.log(s[:-1] / s[1:])
        out = ratio * x[:-1] + (1 - ratio) * D[:-1]
        fin = lambda v: np.nan_to_num(v, nan=0.0, posinf=0.0, neginf=0.0)   # coincident nodes: a zero step
        with np.errstate(divide='ignore', invalid='ignore'):
            if len(hl) > 1:
                out[1] += (1 - ratio[1]) * fin(hl[1] / (2 * hl[0])) * (D[1] - D[0])
            if len(hl) > 2:
                c_new, c_old = (fin(c.numpy())[:, None, None] for c in dpmpp_3m_coeffs(torch.as_tensor(hl)))
                out[2:] += c_new * (D[2:-1] - D[1:-2]) - c_old * (D[1:-2] - D[:-3])
        return out
    if solver == 'ipndm':
        d = (x - D) / s[:, None, None]
        out = np.empty_like(x[:-1])
        for i in range(len(s) - 1):
            q = min(max_order, i + 1)
            out[i] = x[i] + h[i] * sum(c * d[i - j] for j, c in enumerate(IPNDM_COEFFS[q - 1]))
        return out
    raise dnnlib.UserError(f'No trajectory local-error model for solver "{solver}"; use one of {", ".join(SOLVERS)}')

def local_error_vectors(bank, solver, sigmas, max_order=4):
    """[K, n, dim] local error vectors (solver step from the exact state minus the exact state) of each step of
    `solver` on the grid `sigmas` (K+1 values, descending, last 0): the K-1 steps between non-zero nodes, then
    the Euler step to 0 (x_K = D(x(sigma_{K-1}))) against the teacher's sample."""
    s = np.asarray(sigmas, np.float64)
    nodes = s[:-1]
    x, D = bank.at(nodes)
    last = (D[-1] - bank.x_final)[None]
    if len(nodes) == 1:
        return last
    return np.concatenate([_steps(solver, nodes, x, D, max_order) - x[1:], last])

def local_errors(bank, solver, sigmas, max_order=4):
    """[K] mean per-sample RMS of each step's local error (eq. 23)."""
    return np.sqrt(np.mean(local_error_vectors(bank, solver, sigmas, max_order) ** 2, axis=2)).mean(axis=1)

def propagation(sigmas, beta, sigma_data):
    """[K] scalar factors (sigma_data / sqrt(sigma^2 + sigma_data^2))^beta at the end of each step: how an
    error made there reaches the sample, exact for Gaussian data (docs/solver-aware-art.md §6)."""
    return objective.gaussian_propagation(np.asarray(sigmas, np.float64)[1:], sigma_data, beta)

def surrogate(bank, solver, sigmas, *, beta=1.0, sigma_data=0.5, max_order=4, weight=None):
    """The ART cost of a grid for `solver` (eq. 25): sum_i w_i E|e_i|, the local errors carried to the sample by
    the factors w_i = propagation(...); by the triangle inequality a first-order bound on the global error that,
    unlike the norm of the summed vectors, cannot be lowered by tuning cancellations on the bank's trajectories."""
    w = propagation(sigmas, beta, sigma_data) if weight is None else weight(np.asarray(sigmas, np.float64)[1:])
    return float(np.sum(w * local_errors(bank, solver, sigmas, max_order)))

def measured_propagation(net, bank, *, num_probes=12, num_trajectories=16, steps=16, rel_size=1e-3):
    """A weight function sigma -> w(sigma): the measured first-order factor by which an error at sigma reaches the
    sample, E |x_0(x + delta) - x_0(x - delta)| / (2 |delta|) along the bank's trajectories, with delta along
    dD/dlambda (the direction of the first-order local error, eq. 20) and x_0 the Heun solution on EDM's grid
    from sigma to 0 (`steps` steps); at num_probes log-spaced sigmas, interpolated in log sigma (eq. 26)."""
    from art import sampler, schedules # pylint: disable=import-outside-toplevel
    n = min(num_trajectories, bank.n)
    probes = np.exp(np.linspace(np.log(bank.sigma_max), np.log(bank.sigma_min), num_probes))
    shape = [net.img_channels, net.img_resolution, net.img_resolution]
    dD = bank._D.derivative() # pylint: disable=protected-access
    labels = None if bank.class_labels is None else bank.class_labels[:n]
    factors = []
    for sg in probes:
        x, _D = bank.at([sg])
        v = dD(-np.log(sg)).reshape(bank.n, -1)[:n]
        v = v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-30)
        delta = rel_size * max(sg, 1e-3) * np.sqrt(bank.dim) * v
        grid = (schedules.get_sigmas('edm', steps, sigma_min=bank.sigma_min, sigma_max=sg) if sg > bank.sigma_min * 1.01
                else torch.tensor([sg, 0.0], dtype=torch.float64))     # at sigma_min: the final Euler step
        run = lambda y: sampler.sample(net, torch.as_tensor(y / sg).reshape([n] + shape), grid, labels, solver='heun')
        out = (run(x[0, :n] + delta) - run(x[0, :n] - delta)).reshape(n, -1).numpy()
        factors.append(float(np.mean(np.linalg.norm(out, axis=1) / (2 * np.linalg.norm(delta, axis=1)))))
    lp, lf = np.log(probes[::-1]), np.log(np.maximum(factors[::-1], 1e-12))
    return lambda sigma: np.exp(np.interp(np.log(np.maximum(sigma, bank.sigma_min)), lp, lf))

#----------------------------------------------------------------------------
# The leading-order density: equal-step probes.

def density(bank, solver, sigma, rel_step=0.3, max_order=4):
    """r_S(sigma) = E e(sigma, h) / |h|^p for one step of size h = -rel_step sigma with an equal-step
    history (previous nodes at sigma - j h, clipped to sigma_max), p = POWERS[solver]."""
    p = POWERS[solver]
    hist = {'euler': 0, 'dpmpp-2m': 1, 'dpmpp-3m': 2, 'ipndm': max_order - 1}[solver]
    out = []
    for sg in np.asarray(sigma, np.float64):
        h = -rel_step * sg
        s = np.array([sg - j * h for j in range(hist, 0, -1)] + [sg, sg + h])
        s = s[s <= bank.sigma_max * (1 + 1e-12)]
        x, D = bank.at(s)
        pred = _steps(solver, s, x, D, max_order)[-1]               # the last step, with the full history
        out.append(np.sqrt(np.mean((pred - x[-1]) ** 2, axis=1)).mean() / abs(h) ** p)
    return np.array(out)

SPLINE_SOLVERS = ('euler', 'dpmpp-2m')   # per-state densities that need only D', D'' along the flow

def spline_density(bank, solver):
    """(sigma_fine descending, rbar): E r_S / sqrt(d) at the bank's nodes from D' and D'' in lambda along the
    trajectories (eq. 31): |Q| = |D'| / sigma^2 for euler (art.objective's Q = (1/sigma^2) dD/dlambda along the
    flow, eq. 8, without a JVP) and |D'/12 + 5 D''/12| / sigma^3 for dpmpp-2m (eq. 21, without the finite
    differences of art.objective.flow_derivatives_lambda). No network calls."""
    if solver not in SPLINE_SOLVERS:
        raise dnnlib.UserError(f'No spline density for solver "{solver}"; choose one of {", ".join(SPLINE_SOLVERS)}')
    s = bank.sigma_fine
    d1, d2 = bank.denoiser_derivatives()
    v, scale = (d1, s ** 2) if solver == 'euler' else (d1 / 12 + 5 * d2 / 12, s ** 3)
    return s, (np.linalg.norm(v, axis=2) / np.sqrt(bank.dim)).mean(1) / scale

#----------------------------------------------------------------------------
# The discrete optimum: minimise the surrogate over the nodes.

def refine(bank, solver, sigmas, *, last_node='learned', beta=1.0, sigma_data=0.5, max_order=4, maxiter=200, weight=None):
    """Nodes minimising surrogate(bank, solver, .) from the grid `sigmas` (K+1 values ending in 0): sigma_0
    (the grid's first node) fixed, the others free in log sigma (the last one kept if last_node='pinned'),
    kept in [sigma_min, sigma_max] and sorted; beta and sigma_data as in surrogate(). L-BFGS-B with
    finite-difference gradients; no network calls."""
    s0 = np.asarray(sigmas, np.float64)
    K = len(s0) - 1
    free = K - 1 - (1 if last_node == 'pinned' else 0)
    if free < 1:
        return s0
    lo, hi = np.log(bank.sigma_min), np.log(bank.sigma_max)

    def grid(v):
        inner = np.sort(np.exp(np.clip(v, lo, hi)))[::-1]
        tail = [s0[-2]] if last_node == 'pinned' else []
        return np.concatenate([s0[:1], inner, tail, [0.0]])

    def cost(v):
        g = grid(v)
        if np.any(np.diff(g[:-1]) >= 0):                               # coincident nodes: a zero step
            g = g.copy()
            for i in range(1, K):
                g[i] = min(g[i], g[i - 1] * (1 - 1e-5))
        return surrogate(bank, solver, g, beta=beta, sigma_data=sigma_data, max_order=max_order, weight=weight)

    v0 = np.log(s0[1:1 + free])
    res = scipy.optimize.minimize(cost, v0, method='L-BFGS-B', bounds=[(lo, hi)] * free,
                                  options=dict(maxiter=maxiter, maxfun=20 * maxiter, eps=1e-4))
    best = res.x if res.fun <= cost(v0) else v0
    out = grid(best)
    for i in range(1, K):
        out[i] = min(out[i], out[i - 1] * (1 - 1e-5))
    return out

#----------------------------------------------------------------------------

def bank_from_trajectories(net, sigmas, latents, class_labels=None, batch=64):
    """A TrajectoryBank from Heun teacher trajectories on `sigmas` (K+1, ending in 0): the states at the
    non-zero nodes, D at them (the Euler half of each Heun step evaluates D exactly there) and the samples."""
    from art import sampler # pylint: disable=import-outside-toplevel
    sig = torch.as_tensor(sigmas, dtype=torch.float64, device=latents.device)
    N = len(sig) - 1
    xs, Ds, finals = [], [], []
    for b0 in range(0, len(latents), batch):
        z = latents[b0:b0 + batch]
        c = None if class_labels is None else class_labels[b0:b0 + batch]
        rec = _NodeRecorder(net, sig[:-1])
        traj = sampler.trajectory(rec, z, sig, c, solver='heun')
        xs.append(traj[:N].cpu().numpy())
        Ds.append(torch.stack(rec.at_nodes).cpu().numpy())
        finals.append(traj[N].cpu().numpy())
    bank = TrajectoryBank(sig[:-1].cpu().numpy(), np.concatenate(xs, 1), np.concatenate(Ds, 1), np.concatenate(finals, 0))
    bank.class_labels = class_labels
    return bank

class _NodeRecorder(torch.nn.Module):
    """Wraps a network under Heun (no churn): calls 0, 2, 4, ... are the Euler halves of the steps, made at
    the node states x_i and sigma_i; it keeps their outputs D(x_i; sigma_i)."""
    def __init__(self, net, nodes):
        super().__init__()
        self.net, self.nodes, self.at_nodes, self.calls = net, nodes, [], 0
        for name in ('img_resolution', 'img_channels', 'label_dim', 'sigma_min', 'sigma_max', 'sigma_data'):
            setattr(self, name, getattr(net, name, None))

    def round_sigma(self, sigma):
        return self.net.round_sigma(sigma)

    def forward(self, x, sigma, class_labels=None):
        out = self.net(x, sigma, class_labels)
        if self.calls % 2 == 0:
            assert float(sigma) == float(self.nodes[self.calls // 2])
            self.at_nodes.append(out.to(torch.float64))
        self.calls += 1
        return out

#----------------------------------------------------------------------------
