# ART-EDM: learned time grids for EDM-style diffusion samplers.
# Copyright (c) 2026 The ART-EDM authors. Released under the MIT License (see LICENSE).

"""torch_utils.distributed (edm-spec.md §4.6, §8.5): a plain single process without torchrun, and
a real 2-process gloo group on CPU launched with torchrun's environment variables."""

import os
import socket
import subprocess
import sys
import textwrap

import torch

from torch_utils import distributed as dist

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

#----------------------------------------------------------------------------

def test_single_process_without_torchrun(monkeypatch, capsys):
    for name in ('RANK', 'WORLD_SIZE', 'LOCAL_RANK', 'MASTER_ADDR', 'MASTER_PORT'):
        monkeypatch.delenv(name, raising=False)
    dist.init(device='cpu')
    assert not torch.distributed.is_initialized()
    assert dist.get_rank() == 0 and dist.get_world_size() == 1
    dist.barrier() # No group: a no-op, must not hang or raise.
    dist.print0('only rank 0')
    assert capsys.readouterr().out == 'only rank 0\n'
    assert dist.should_stop() is False
    dist.update_progress(1, 2)

#----------------------------------------------------------------------------

WORKER = textwrap.dedent('''
    import torch
    from torch_utils import distributed as dist, training_stats
    dist.init(device='cpu')
    rank, world = dist.get_rank(), dist.get_world_size()
    assert torch.distributed.get_backend() == 'gloo'
    dist.barrier()
    x = torch.tensor([float(rank + 1)])
    torch.distributed.all_reduce(x)
    collector = training_stats.Collector(regex='Test/.*')
    training_stats.report('Test/v', torch.full([rank + 1], float(rank)))  # rank 0: [0]; rank 1: [1, 1]
    training_stats.report0('Test/r0', 5.0)
    collector.update()
    dist.print0('PRINT0')
    print(f'RESULT rank={rank} world={world} sum={x.item():g} num={collector.num("Test/v")} mean={collector.mean("Test/v"):.6f} r0={collector.num("Test/r0")}', flush=True)
    dist.barrier()
    dist.destroy()
''')

#----------------------------------------------------------------------------

def test_two_process_gloo(tmp_path):
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
    procs = []
    for rank in range(2):
        env = dict(os.environ, MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port), RANK=str(rank), LOCAL_RANK=str(rank),
            WORLD_SIZE='2', OMP_NUM_THREADS='1', PYTHONPATH=REPO + os.pathsep + os.environ.get('PYTHONPATH', ''))
        procs.append(subprocess.Popen([sys.executable, '-c', WORKER], env=env, cwd=str(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    outputs = []
    try:
        for proc in procs:
            out, err = proc.communicate(timeout=120)
            assert proc.returncode == 0, err[-2000:]
            outputs.append(out)
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
    # Both ranks see the global statistics: 3 values {0, 1, 1} -> mean 2/3; report0 counts once.
    for rank, out in enumerate(outputs):
        assert f'RESULT rank={rank} world=2 sum=3 num=3 mean=0.666667 r0=1' in out, out
    assert outputs[0].count('PRINT0') == 1 and 'PRINT0' not in outputs[1]
