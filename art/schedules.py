# ART-EDM: learned time grids for EDM-style diffusion samplers.
# Copyright (c) 2026 The ART-EDM authors. Released under the MIT License (see LICENSE).

"""Time grids (noise-level discretisations) for EDM-style samplers, and the schedule file.

A grid for K steps is a float64 vector of K+1 noise levels sigma_0 > ... > sigma_{K-1} > sigma_K = 0:
K nodes from sigma_max down to sigma_min, then 0 (the convention of EDM's samplers, edm-spec.md
§2.5-2.6, under which NFE = 2K-1 for Heun).

Named grids:
  edm      EDM's rho-grid, uniform in sigma^(1/rho) (Karras et al. 2022, eq. 5; spec §2.5).
  uniform  uniform in sigma = t (the ART paper's "Uniform").
  logsnr   geometric in sigma, i.e. uniform in log-SNR (DPM-Solver; the ART paper's "DPM").
  vp       EDM ablation discretisation: uniform in VP time t in [epsilon_s, 1] (spec §2.6).
  ve       EDM ablation discretisation: geometric in sigma^2 between the VE defaults (spec §2.6).
  iddpm    EDM ablation discretisation: subsampled improved-DDPM u-table (spec §2.6).
Learned or custom grids come from a JSON schedule file (format "art-schedule/1", DESIGN.md), which
is validated, clamped to the network's sigma range and resampled log-linearly to any step count.

CLI:  python -m art.schedules make --schedule=edm --steps=18 --out=edm18.json
      python -m art.schedules export FILE.json --format=comfyui [--steps=9]
"""

import json
import math
import os
import warnings

import click
import numpy as np
import torch

import dnnlib

#----------------------------------------------------------------------------
# Constants.

SCHEDULES = ('edm', 'uniform', 'logsnr', 'vp', 've', 'iddpm')
FORMAT = 'art-schedule/1'
EXPORT_FORMATS = ('json', 'kdiffusion', 'comfyui', 'diffusers')
VP_BETA_D, VP_BETA_MIN = 19.9, 0.1          # VP defaults used for the default vp noise range
MAX_SCHEDULE_BYTES = 16 << 20               # schedule files are read with this size cap
MAX_STEPS = 10000                           # the most steps K of any grid

#----------------------------------------------------------------------------
# The VP noise schedule sigma(t) = sqrt(e^(beta_d t^2 / 2 + beta_min t) - 1) (Song et al. 2021;
# EDM Table 1), its derivative and inverse. The exponential is the power np.e ** (.) (spec §2.6): on
# Python numbers in Python floats (EDM's default noise range), else on a float64 tensor (torch.pow).

def vp_sigma(t, beta_d, beta_min):
    if isinstance(t, (int, float)) and not isinstance(t, bool):
        t = float(t)
        return torch.tensor((np.e ** (0.5 * beta_d * (t ** 2) + beta_min * t) - 1) ** 0.5, dtype=torch.float64)
    t = torch.as_tensor(t, dtype=torch.float64)
    return (np.e ** (0.5 * beta_d * (t ** 2) + beta_min * t) - 1) ** 0.5

#----------------------------------------------------------------------------
def vp_sigma_deriv(t, beta_d, beta_min):
    t = torch.as_tensor(t, dtype=torch.float64)
    sigma = vp_sigma(t, beta_d, beta_min)
    return 0.5 * (beta_min + beta_d * t) * (sigma + 1 / sigma)

#----------------------------------------------------------------------------
def vp_sigma_inv(sigma, beta_d, beta_min):
    sigma = torch.as_tensor(sigma, dtype=torch.float64)
    return ((beta_min ** 2 + 2 * beta_d * (sigma ** 2 + 1).log()) ** 0.5 - beta_min) / beta_d

#----------------------------------------------------------------------------
# VP beta refit so that sigma(epsilon_s) = sigma_min and sigma(1) = sigma_max (spec §2.6).

def vp_beta_refit(sigma_min, sigma_max, epsilon_s=1e-3):
    beta_d = 2 * (np.log(sigma_min ** 2 + 1) / epsilon_s - np.log(sigma_max ** 2 + 1)) / (epsilon_s - 1)
    beta_min = np.log(sigma_max ** 2 + 1) - 0.5 * beta_d
    return float(beta_d), float(beta_min)

#----------------------------------------------------------------------------
# Noise range: per-grid defaults (spec §2.5-2.6), then clamped to the network as EDM does.

def default_sigma_range(schedule, epsilon_s=1e-3):
    if schedule == 'vp':
        return float(vp_sigma(epsilon_s, VP_BETA_D, VP_BETA_MIN)), float(vp_sigma(1, VP_BETA_D, VP_BETA_MIN))
    if schedule == 've':
        return 0.02, 100.0
    if schedule == 'iddpm':
        return 0.002, 81.0
    return 0.002, 80.0 # edm, uniform, logsnr

#----------------------------------------------------------------------------
def sigma_range(schedule, net=None, sigma_min=None, sigma_max=None, epsilon_s=1e-3):
    """(sigma_min, sigma_max) as the samplers use it: the user's values, else the grid's defaults,
    then clamped to [net.sigma_min, net.sigma_max]."""
    lo, hi = default_sigma_range(schedule, epsilon_s)
    sigma_min = lo if sigma_min is None else float(sigma_min)
    sigma_max = hi if sigma_max is None else float(sigma_max)
    if net is not None:
        sigma_min = max(sigma_min, float(net.sigma_min))
        sigma_max = min(sigma_max, float(net.sigma_max))
    if not (0 < sigma_min < sigma_max < math.inf):
        raise dnnlib.UserError(f'Invalid noise range sigma_min={sigma_min:g}, sigma_max={sigma_max:g}: need 0 < sigma_min < sigma_max (check --sigma_min/--sigma_max and the network range)')
    return sigma_min, sigma_max

#----------------------------------------------------------------------------
# The improved-DDPM u-table (Nichol & Dhariwal 2021 as used by EDM; spec §2.6), length M+1,
# u_M = 0 and u_{j-1} = sqrt((u_j^2 + 1) / max(abar(j-1)/abar(j), C_1) - 1).

_iddpm_cache = {}

def iddpm_u(M=1000, C_1=0.001, C_2=0.008, device='cpu'):
    """u_0 > ... > u_{M-1} > u_M = 0 in float64, with the operations of spec §2.6: abar(j) in float32
    (from an integer index tensor), the recurrence in float64 torch ops on one entry at a time
    (torch's pow/sqrt, which differ from Python's math by a few ulp on some inputs). Cached."""
    key = (int(M), float(C_1), float(C_2), str(torch.device(device)))
    if key not in _iddpm_cache:
        j = torch.arange(M + 1, device=device)
        alpha_bar = (0.5 * np.pi * j / M / (C_2 + 1)).sin() ** 2
        ratio = (alpha_bar[:-1] / alpha_bar[1:]).clip(min=C_1) # abar(j-1)/abar(j), j = 1..M
        u = torch.zeros(M + 1, dtype=torch.float64, device=device)
        for k in range(M, 0, -1):
            u[k - 1] = ((u[k] ** 2 + 1) / ratio[k - 1] - 1).sqrt()
        _iddpm_cache[key] = u
    return _iddpm_cache[key].clone()

#----------------------------------------------------------------------------
def check_num_steps(num_steps):
    """int(num_steps) if 1 <= K <= MAX_STEPS, else a one-line dnnlib.UserError."""
    if isinstance(num_steps, bool) or not isinstance(num_steps, (int, np.integer)) or not 1 <= num_steps <= MAX_STEPS:
        raise dnnlib.UserError(f'Number of steps must be an integer from 1 to {MAX_STEPS}, got {num_steps!r}')
    return int(num_steps)

#----------------------------------------------------------------------------
# The K nodes sigma_0 > ... > sigma_{K-1} of a named grid (before rounding and the final 0).

def grid_nodes(schedule, num_steps, sigma_min, sigma_max, rho=7.0, device='cpu', *,
               epsilon_s=1e-3, C_1=0.001, C_2=0.008, M=1000):
    if schedule not in SCHEDULES:
        raise dnnlib.UserError(f'Unknown schedule "{schedule}"; choose one of {", ".join(SCHEDULES)} or a schedule .json file')
    num_steps = check_num_steps(num_steps)
    if schedule == 'edm' and not 0 < rho < math.inf:
        raise dnnlib.UserError(f'--rho must be a finite number > 0, got {rho:g}')
    i = torch.arange(num_steps, dtype=torch.float64, device=device)
    frac = i / max(num_steps - 1, 1) # K = 1 gives the single node sigma_max (EDM's formula gives 0/0 = NaN)
    if schedule == 'edm':
        return (sigma_max ** (1 / rho) + frac * (sigma_min ** (1 / rho) - sigma_max ** (1 / rho))) ** rho
    if schedule == 'uniform':
        return sigma_max * (1 - frac) + sigma_min * frac # exact at both ends
    if schedule == 'logsnr':
        return sigma_max * (sigma_min / sigma_max) ** frac
    if schedule == 'vp':
        beta_d, beta_min = vp_beta_refit(sigma_min, sigma_max, epsilon_s)
        return vp_sigma(1 + frac * (epsilon_s - 1), beta_d, beta_min)
    if schedule == 've':
        return (sigma_max ** 2 * (sigma_min ** 2 / sigma_max ** 2) ** frac).sqrt()
    # iddpm
    u = iddpm_u(M=M, C_1=C_1, C_2=C_2, device=device)
    u = u[(u >= sigma_min) & (u <= sigma_max)]
    if len(u) == 0:
        raise dnnlib.UserError(f'No iDDPM noise level lies in [{sigma_min:g}, {sigma_max:g}]; widen --sigma_min/--sigma_max')
    return u[((len(u) - 1) / max(num_steps - 1, 1) * i).round().to(torch.int64)]

#----------------------------------------------------------------------------
# Validation of a grid: the one check every grid passes (named grids, schedule files, resampled or
# clamped grids), and the element checks of a sigma list read from a file.

def check_grid(sigmas, source='schedule'):
    """Return `sigmas` (list, array or tensor) as a float64 numpy array after checking that it is a
    whole grid: >= 2 finite values, positive and strictly decreasing up to a final 0, and still finite,
    positive and strictly decreasing after rounding to float32 (networks see float32 noise levels).
    Raises a one-line dnnlib.UserError naming `source`."""
    s = np.asarray(sigmas.detach().cpu() if isinstance(sigmas, torch.Tensor) else sigmas, dtype=np.float64).reshape(-1)
    if len(s) < 2:
        raise dnnlib.UserError(f'{source}: a grid needs at least 2 sigmas (sigma_max, ..., 0), got {len(s)}')
    bad = np.flatnonzero(~np.isfinite(s))
    if len(bad):
        raise dnnlib.UserError(f'{source}: sigmas[{bad[0]}] = {s[bad[0]]:g} is not finite')
    if s[-1] != 0:
        raise dnnlib.UserError(f'{source}: the last sigma must be 0 (the final step goes to sigma=0), got {s[-1]:g}; append 0')
    with np.errstate(over='ignore'):
        s32 = s.astype(np.float32).astype(np.float64)
    for name, v in (('', s), (' after rounding to float32', s32)):
        bad = np.flatnonzero(~np.isfinite(v[:-1]) | (v[:-1] <= 0))
        if len(bad):
            raise dnnlib.UserError(f'{source}: sigmas[{bad[0]}] = {s[bad[0]]:g} must be positive and finite{name} (only the last value is 0)')
        bad = np.flatnonzero(~(v[:-1] > v[1:]))
        if len(bad):
            k = bad[0]
            raise dnnlib.UserError(f'{source}: sigmas must be strictly decreasing{name}, but sigmas[{k}] = {s[k]:.9g} <= sigmas[{k + 1}] = {s[k + 1]:.9g}')
    return s

def check_sigmas(sigmas, source='schedule'):
    """Return `sigmas` (a JSON list) as a list of Python floats after checking that every entry is a
    number and that the list is a grid (check_grid). Raises dnnlib.UserError."""
    if not isinstance(sigmas, (list, tuple)):
        raise dnnlib.UserError(f'{source}: "sigmas" must be a list of numbers, got {type(sigmas).__name__}')
    for k, s in enumerate(sigmas):
        if isinstance(s, bool) or not isinstance(s, (int, float)):
            raise dnnlib.UserError(f'{source}: sigmas[{k}] = {str(s)[:20]!r} is not a number')
        try:
            finite = math.isfinite(s)
        except OverflowError: # a huge JSON integer
            finite = False
        if not finite:
            raise dnnlib.UserError(f'{source}: sigmas[{k}] = {str(s)[:12]} is not finite')
    return check_grid([float(s) for s in sigmas], source).tolist()

#----------------------------------------------------------------------------
# Log-linear resampling: log sigma of the K non-zero nodes, piecewise linear over the normalised
# step index i/(K-1), evaluated at j/(K'-1); then the final 0 is appended (as AYS/GITS do).

def resample_sigmas(sigmas, num_steps):
    """Resample a grid of K+1 sigmas (last = 0) to num_steps+1 sigmas. Endpoints are kept exactly."""
    is_tensor = isinstance(sigmas, torch.Tensor)
    nodes = np.asarray(sigmas.detach().cpu() if is_tensor else sigmas, dtype=np.float64)[:-1]
    num_steps = check_num_steps(num_steps)
    if num_steps == len(nodes):
        new = nodes.copy()
    elif len(nodes) == 1:
        raise dnnlib.UserError(f'Cannot resample a 1-step schedule to {num_steps} steps: it has a single noise level; provide a schedule with at least 2 steps')
    elif num_steps == 1:
        new = nodes[:1].copy()
    else:
        x_old = np.arange(len(nodes)) / (len(nodes) - 1)
        x_new = np.arange(num_steps) / (num_steps - 1)
        new = np.exp(np.interp(x_new, x_old, np.log(nodes)))
        new[0], new[-1] = nodes[0], nodes[-1]
    out = np.concatenate([new, [0.0]])
    if is_tensor:
        return torch.as_tensor(out, dtype=torch.float64, device=sigmas.device)
    return out.tolist()

#----------------------------------------------------------------------------
# The grid of an ART time change (art-paper §1.2, §2.5): clock speeds theta on a uniform clock of n
# steps give psi(t) = ∫ theta (piecewise linear) and sigma_i = sigma(psi(i T / K)), i = 0..K, for any K.
# A schedule file may keep its time change as "time_change": {"theta", "time_map", "sigma_min",
# "sigma_max"} (art.rl writes it); get_sigmas then reads other K off it instead of resampling.

TIME_MAPS = ('linear', 'rho')
RHO = 7.0

def sigma_of_u(u, time_map, sigma_max):
    """Noise level at the relative clock position u = psi / T in [0, 1]: sigma_max (1 - u) ('linear':
    sigma = T - psi with T = sigma_max, the paper's 1-D mapping) or sigma_max (1 - u)^7 ('rho': EDM's
    rho = 7 curve, continued down to sigma = 0). Tensors stay tensors; anything else becomes numpy."""
    if not torch.is_tensor(u):
        return sigma_of_u(torch.as_tensor(np.asarray(u, np.float64)), time_map, sigma_max).numpy()
    return sigma_max * (1 - u).clamp(min=0) ** (RHO if time_map == 'rho' else 1)

def u_of_sigma(sigma, time_map, sigma_max):
    """Inverse of sigma_of_u: the relative clock position of noise level sigma (float64 tensor)."""
    r = torch.as_tensor(sigma, dtype=torch.float64) / sigma_max
    return 1 - (r ** (1 / RHO) if time_map == 'rho' else r)

def sigmas_from_nodes(nodes, sigma_min):
    """K noise levels from sigma_max down -> the K-step grid: first node kept, the others >= sigma_min
    and strictly decreasing (binds only for degenerate inputs), then 0. Returns (sigmas [K+1],
    theta [K] = (sigma_i - sigma_i+1) K / sigma_max, the clock speeds of the grid on the linear clock)."""
    nodes = np.array(nodes, np.float64)
    K = len(nodes)
    nodes[1:] = np.maximum(nodes[1:], sigma_min * (1 + 1e-3) ** np.arange(K - 2, -1, -1))
    for i in range(1, K):
        nodes[i] = min(nodes[i], nodes[i - 1] * (1 - 1e-5))
    sigmas = np.concatenate([nodes, [0.0]])
    return sigmas, (sigmas[:-1] - sigmas[1:]) * K / sigmas[0]

def time_change_grid(time_change, num_steps):
    """(sigmas [K+1], theta [K]) for K = num_steps from a time change dict: theta floored at 1e-6
    (positivity) and normalised to Σ theta Δt = T, psi piecewise linear in t, sigma_0 = sigma_max,
    sigma_K = 0, the K non-zero nodes kept >= sigma_min."""
    theta = np.maximum(np.asarray(time_change['theta'], np.float64), 1e-6)
    u_clock = np.concatenate([[0.0], np.cumsum(theta) / theta.sum()])
    K = int(num_steps)
    u = np.interp(np.arange(K + 1) / K, np.linspace(0, 1, len(theta) + 1), u_clock)
    return sigmas_from_nodes(sigma_of_u(u[:-1], time_change['time_map'], float(time_change['sigma_max'])), float(time_change['sigma_min']))

def _check_time_change(tc, source):
    ok = (isinstance(tc, dict) and tc.get('time_map') in TIME_MAPS and isinstance(tc.get('theta'), list) and len(tc['theta']) >= 1
          and all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in tc['theta'])
          and all(isinstance(tc.get(k), (int, float)) and 0 < tc[k] < math.inf for k in ('sigma_min', 'sigma_max')))
    if not ok:
        raise dnnlib.UserError(f'{source}: "time_change" must be {{"theta": [finite numbers], "time_map": one of {", ".join(TIME_MAPS)}, '
                               f'"sigma_min": > 0, "sigma_max": > 0}}; fix or remove it')

#----------------------------------------------------------------------------
# The schedule file: JSON, {"format": "art-schedule/1", "sigmas": [...], "num_steps": K,
# "sigma_min", "sigma_max", "method", "solver", "network": {"name", "sha256"}, "settings", "seed",
# "theta_bar", ...}. Unknown keys are kept (forward compatible).

def _jsonable(value):
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().tolist()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value

#----------------------------------------------------------------------------
def make_schedule(sigmas, *, method='custom', solver=None, network=None, network_sha256=None,
                  settings=None, seed=None, theta_bar=None, **extra):
    """Build (and validate) a schedule dict. `network` is a name/URL string or a dict {name, sha256}."""
    sigmas = check_sigmas(_jsonable(sigmas), source='save_schedule')
    if isinstance(network, dict):
        network = dict(network)
        network.setdefault('sha256', network_sha256)
    else:
        network = dict(name=network, sha256=network_sha256)
    data = dict(format=FORMAT, sigmas=sigmas, num_steps=len(sigmas) - 1, sigma_min=sigmas[-2],
        sigma_max=sigmas[0], method=method, solver=solver, network=network, settings=settings or {},
        seed=seed, theta_bar=theta_bar)
    data.update(extra)
    return _jsonable(data)

#----------------------------------------------------------------------------
def save_schedule(path, sigmas, **meta):
    """Write a schedule file atomically (tmp file + os.replace). Returns the dict written."""
    data = make_schedule(sigmas, **meta)
    path = str(path)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = f'{path}.tmp{os.getpid()}'
    with open(tmp, 'w') as f:
        json.dump(data, f, indent=2, allow_nan=False)
        f.write('\n')
    os.replace(tmp, path)
    return data

#----------------------------------------------------------------------------
def validate_schedule(data, source='schedule'):
    """Check a loaded schedule dict; returns it with `sigmas` as floats. Raises dnnlib.UserError."""
    if not isinstance(data, dict):
        raise dnnlib.UserError(f'{source}: expected a JSON object with "format" and "sigmas", got a JSON {type(data).__name__}')
    fmt = data.get('format')
    if fmt != FORMAT:
        raise dnnlib.UserError(f'{source}: unsupported format {fmt!r}; expected "{FORMAT}" (write it with art.schedules.save_schedule)')
    if 'sigmas' not in data:
        raise dnnlib.UserError(f'{source}: missing "sigmas" (K+1 decreasing noise levels ending in 0)')
    data = dict(data)
    data['sigmas'] = check_sigmas(data['sigmas'], source=source)
    K = len(data['sigmas']) - 1
    if 'num_steps' in data and data['num_steps'] is not None:
        n = data['num_steps']
        if isinstance(n, bool) or not isinstance(n, int) or n != K:
            raise dnnlib.UserError(f'{source}: "num_steps" is {n!r} but "sigmas" holds {K + 1} values (K = {K} steps); fix one of them')
    for key, want in [('sigma_max', data['sigmas'][0]), ('sigma_min', data['sigmas'][-2])]:
        v = data.get(key)
        if v is None:
            continue
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isclose(v, want, rel_tol=1e-6):
            raise dnnlib.UserError(f'{source}: "{key}" is {v!r} but the sigmas give {want:g}; fix one of them')
    data['num_steps'] = K
    if data.get('time_change') is not None:
        _check_time_change(data['time_change'], source)
        tc_grid = time_change_grid(data['time_change'], K)[0]
        if not np.allclose(tc_grid, data['sigmas'], rtol=1e-6, atol=0):
            k = int(np.argmax(~np.isclose(tc_grid, data['sigmas'], rtol=1e-6, atol=0)))
            raise dnnlib.UserError(f'{source}: "time_change" contradicts "sigmas" at K={K} (sigmas[{k}] = {data["sigmas"][k]:.9g}, '
                                   f'the time change gives {tc_grid[k]:.9g}); fix or remove "time_change"')
    return data

#----------------------------------------------------------------------------
def load_schedule(path):
    """Read and validate a schedule file. Every problem raises a one-line dnnlib.UserError."""
    source = f'Schedule file "{path}"'
    text = dnnlib.util.read_text_bounded(path, MAX_SCHEDULE_BYTES, source)
    if not text.strip():
        raise dnnlib.UserError(f'{source} is empty; write it with art.schedules.save_schedule or train_art.py')
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise dnnlib.UserError(f'{source} is not valid JSON ({e.msg} at line {e.lineno} column {e.colno})') from None
    except RecursionError:
        raise dnnlib.UserError(f'{source} is nested too deeply to be a schedule file') from None
    return validate_schedule(data, source=source)

#----------------------------------------------------------------------------
def is_schedule_path(schedule):
    return isinstance(schedule, (str, os.PathLike)) and str(schedule) not in SCHEDULES

#----------------------------------------------------------------------------
# Clamp a grid to the network's sigma range (with a warning, as EDM clamps sigma_min/sigma_max).

def clamp_to_net(sigmas, net, source='schedule', log=None):
    if net is None:
        return sigmas
    lo, hi = float(net.sigma_min), float(net.sigma_max)
    nodes = sigmas[:-1]
    if float(nodes[0]) <= hi and float(nodes[-1]) >= lo:
        return sigmas
    msg = f'Warning: {source} spans [{float(nodes[-1]):g}, {float(nodes[0]):g}], outside the network range [{lo:g}, {hi:g}]; clamped'
    (log or (lambda m: warnings.warn(m, stacklevel=3)))(msg)
    nodes = nodes.clip(min=lo, max=hi)
    if not bool((nodes[1:] < nodes[:-1]).all()):
        raise dnnlib.UserError(f'{source}: after clamping to the network range [{lo:g}, {hi:g}] the sigmas are no longer strictly decreasing; use a schedule inside that range')
    return torch.cat([nodes, sigmas[-1:]])

#----------------------------------------------------------------------------
# The one entry point for grids.

def get_sigmas(schedule, num_steps, net=None, sigma_min=None, sigma_max=None, rho=7.0, device='cpu', *,
               epsilon_s=1e-3, C_1=0.001, C_2=0.008, M=1000, log=None):
    """Float64 tensor of K+1 sigmas (strictly decreasing, last = 0) on `device`.

    `schedule` is a grid name (SCHEDULES) or the path of a schedule file; a file trained for another
    K is read off its learned time change when it keeps one (ART-RL files), else resampled
    log-linearly (art-paper §2.6), and `log` is told so. Named grids use the noise range of
    `sigma_range()`; nodes go through `net.round_sigma()` when a net is given. `num_steps=None` keeps
    a file's own K. `log`: callable for messages (default: clamping warnings via warnings.warn)."""
    if num_steps is not None:
        num_steps = check_num_steps(num_steps)
    if is_schedule_path(schedule):
        source = f'Schedule "{schedule}"'
        if sigma_min is not None or sigma_max is not None:
            raise dnnlib.UserError('--sigma_min/--sigma_max cannot be combined with a schedule file: the file fixes the noise levels')
        data = load_schedule(schedule)
        sigmas = torch.as_tensor(data['sigmas'], dtype=torch.float64, device=device)
        K = data['num_steps']
        if num_steps is not None and int(num_steps) != K and data.get('time_change') is not None:
            sigmas = torch.as_tensor(time_change_grid(data['time_change'], num_steps)[0], dtype=torch.float64, device=device)
            if log is not None:
                log(f'Schedule "{schedule}" read off its learned time change for K={int(num_steps)} steps (trained with K={K})')
        elif num_steps is not None and int(num_steps) != K:
            sigmas = resample_sigmas(sigmas, num_steps)
            if log is not None:
                log(f'Schedule "{schedule}" resampled from K={K} to K={int(num_steps)} steps (log-linear in sigma over the step index)')
        sigmas = clamp_to_net(sigmas, net, source=source, log=log)
    else:
        lo, hi = sigma_range(schedule, net, sigma_min, sigma_max, epsilon_s)
        sigmas = grid_nodes(schedule, 18 if num_steps is None else num_steps, lo, hi, rho, device,
            epsilon_s=epsilon_s, C_1=C_1, C_2=C_2, M=M)
        sigmas = torch.cat([sigmas, torch.zeros_like(sigmas[:1])])
        source = f'The {schedule} grid (K={len(sigmas) - 1}, sigma_min={lo:g}, sigma_max={hi:g}{f", rho={rho:g}" if schedule == "edm" else ""})'
    if net is not None:
        nodes = torch.as_tensor(net.round_sigma(sigmas[:-1])).to(torch.float64)
        sigmas = torch.cat([nodes, torch.zeros_like(nodes[:1])])
    check_grid(sigmas, source + (' after the network\'s round_sigma' if net is not None else ''))
    return sigmas

#----------------------------------------------------------------------------
# Exports: a plain sigma list for other samplers.

def export_sigmas(sigmas, fmt='json'):
    """Text for another toolkit. json / kdiffusion / comfyui keep the final 0 (their convention);
    diffusers' `sigmas=` takes the K noise levels without the final 0 (the scheduler appends it)."""
    values = [float(s) for s in (sigmas.tolist() if isinstance(sigmas, torch.Tensor) else sigmas)]
    text = ', '.join(repr(v) for v in values)
    if fmt == 'json':
        return json.dumps(values)
    if fmt == 'kdiffusion':
        return f'sigmas = torch.tensor([{text}], dtype=torch.float64)'
    if fmt == 'comfyui':
        return text
    if fmt == 'diffusers':
        return 'sigmas=[' + ', '.join(repr(v) for v in values[:-1]) + ']'
    raise dnnlib.UserError(f'Unknown export format "{fmt}"; choose one of {", ".join(EXPORT_FORMATS)}')

#----------------------------------------------------------------------------
# Command line.

@click.group()
def cli():
    """Make, inspect and export schedule files (art-schedule/1)."""

#----------------------------------------------------------------------------
@cli.command('export')
@click.argument('path',       metavar='FILE.json')
@click.option('--format',     'fmt', help='Target toolkit', type=click.Choice(EXPORT_FORMATS), default='json', show_default=True)
@click.option('--steps',      'num_steps', help='Resample to this many steps  [default: the file\'s K]', type=click.IntRange(min=1), default=None)
def cmd_export(path, fmt, num_steps):
    """Print a schedule file's sigmas as a plain list for another toolkit.

    \b
    # ComfyUI ManualSigmas (comma-separated, final 0 included)
    python -m art.schedules export sched.json --format=comfyui
    \b
    # diffusers pipe(..., sigmas=[...]) at 9 steps
    python -m art.schedules export sched.json --format=diffusers --steps=9
    """
    with dnnlib.util.click_user_errors():  # another K: read off the file's time change, else log-linear (get_sigmas)
        click.echo(export_sigmas(get_sigmas(path, num_steps), fmt))

#----------------------------------------------------------------------------
@cli.command('make')
@click.option('--schedule',   help='Grid to write', type=click.Choice(SCHEDULES), default='edm', show_default=True)
@click.option('--steps',      'num_steps', help='Number of steps K', type=click.IntRange(min=1), default=18, show_default=True)
@click.option('--sigma_min',  help='Lowest noise level  [default: varies]', type=click.FloatRange(min=0, min_open=True), default=None)
@click.option('--sigma_max',  help='Highest noise level  [default: varies]', type=click.FloatRange(min=0, min_open=True), default=None)
@click.option('--rho',        help='Time step exponent', type=click.FloatRange(min=0, min_open=True), default=7, show_default=True)
@click.option('--out',        help='Output schedule file', metavar='FILE.json', type=str, required=True)
def cmd_make(schedule, num_steps, sigma_min, sigma_max, rho, out):
    """Write a named grid as a schedule file (no network: no clamping or rounding).

    \b
    python -m art.schedules make --schedule=edm --steps=18 --out=edm18.json
    """
    with dnnlib.util.click_user_errors():
        sigmas = get_sigmas(schedule, num_steps, sigma_min=sigma_min, sigma_max=sigma_max, rho=rho)
        save_schedule(out, sigmas, method=schedule, settings=dict(rho=rho) if schedule == 'edm' else {})
        click.echo(f'Wrote {num_steps}-step {schedule} schedule to "{out}"')

#----------------------------------------------------------------------------

if __name__ == '__main__':
    cli()

#----------------------------------------------------------------------------
