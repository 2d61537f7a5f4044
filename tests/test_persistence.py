# ART-EDM: learned time grids for EDM-style diffusion samplers.
# Copyright (c) 2026 The ART-EDM authors. Released under the MIT License (see LICENSE).

"""torch_utils.persistence (edm-spec.md §4.2-4.3) with a toy module written to a temp folder, plus
torch_utils.misc and training_stats basics."""

import importlib
import os
import pickle
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

import dnnlib
from torch_utils import misc, persistence, training_stats

#----------------------------------------------------------------------------

TOY_SRC = textwrap.dedent('''
    import numpy as np
    import torch
    from torch_utils import persistence

    @persistence.persistent_class
    class Toy(torch.nn.Module):
        def __init__(self, channels, scale=np.sqrt(0.5), opts=None):
            super().__init__()
            self.scale = scale
            self.lin = torch.nn.Linear(channels, channels)
            self.blocks = torch.nn.ModuleDict(dict(a=Leaf(channels)))
        def forward(self, x):
            return self.blocks['a'](self.lin(x)) * self.scale

    @persistence.persistent_class
    class Leaf(torch.nn.Module):
        def __init__(self, channels):
            super().__init__()
            self.w = torch.nn.Parameter(torch.randn(channels))
            self.register_buffer('b', torch.full([channels], 0.25))
        def forward(self, x):
            return x * self.w + self.b

    @persistence.persistent_class
    class Plain:
        def __init__(self, value):
            self.value = value
''')

#----------------------------------------------------------------------------

@pytest.fixture
def toy(tmp_path, monkeypatch):
    name = 'persistence_toy_' + tmp_path.name.replace('-', '_')
    (tmp_path / f'{name}.py').write_text(TOY_SRC)
    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module(name)
    yield module
    sys.modules.pop(name, None)

#----------------------------------------------------------------------------

def test_init_args_and_reduce(toy):
    opts = dict(k=[1, 2])
    net = toy.Toy(3, opts=opts)
    assert persistence.is_persistent(net) and persistence.is_persistent(toy.Toy)
    assert not persistence.is_persistent(torch.nn.Linear(1, 1))
    assert net.init_args == (3,) and net.init_kwargs == dict(opts=dict(k=[1, 2]))
    opts['k'].append(3) # Deep copies: later changes do not leak in.
    assert net.init_kwargs.opts['k'] == [1, 2]
    net.init_kwargs.opts['k'].append(9)
    assert net.init_kwargs.opts['k'] == [1, 2]
    assert type(net).__name__ == 'Toy' and type(net).__module__ == toy.__name__
    assert persistence.persistent_class(toy.Toy) is toy.Toy

    fn, (meta,), state = net.__reduce__()[:3]
    assert fn is persistence._reconstruct_persistent_obj and state is None
    assert set(meta) == {'type', 'version', 'module_src', 'class_name', 'state'}
    assert meta['type'] == 'class' and meta['version'] == 6 and meta['class_name'] == 'Toy'
    assert meta['module_src'] == TOY_SRC
    assert meta['state']['_init_args'] == (3,) and 'lin' in meta['state']['_modules']

#----------------------------------------------------------------------------

def test_roundtrip_same_process(toy):
    net = toy.Toy(4)
    x = torch.randn(2, 4)
    net2 = pickle.loads(pickle.dumps(dict(ema=net)))['ema']
    assert type(net2) is type(net) # Source already known: the live module is reused.
    assert torch.equal(net(x), net2(x))
    assert isinstance(net2.scale, np.float64) and net2.init_args == (4,)
    plain = pickle.loads(pickle.dumps(toy.Plain([1, 2])))
    assert plain.value == [1, 2] and plain.init_args == ([1, 2],)

#----------------------------------------------------------------------------

def test_fresh_process_execs_embedded_source(toy, tmp_path):
    """In a process that never imported the toy module, the class comes from the embedded source
    (an _imported_module_<hex> module), shared by all objects of that source."""
    net = toy.Toy(3)
    x = torch.randn(5, 3)
    (tmp_path / 'toy.pkl').write_bytes(pickle.dumps(dict(ema=net, other=toy.Leaf(2))))
    torch.save(dict(x=x, y=net(x).detach()), tmp_path / 'io.pt')
    script = textwrap.dedent(f'''
        import pickle, sys, torch
        data = pickle.load(open({str(tmp_path / 'toy.pkl')!r}, 'rb'))
        io = torch.load({str(tmp_path / 'io.pt')!r})
        mod = type(data['ema']).__module__
        assert mod.startswith('_imported_module_'), mod
        assert type(data['other']).__module__ == mod
        assert not any(name.startswith('persistence_toy_') for name in sys.modules)
        assert torch.equal(data['ema'](io['x']), io['y'])
        again = pickle.loads(pickle.dumps(data['ema'])) # Re-pickling an exec'd object works too.
        assert type(again) is type(data['ema'])
        print('OK')
    ''')
    res = subprocess.run([sys.executable, '-c', script], capture_output=True, text=True, timeout=120, env=dict(os.environ, OMP_NUM_THREADS='1'))
    assert res.returncode == 0 and res.stdout.strip() == 'OK', res.stderr

#----------------------------------------------------------------------------

def test_import_hook_and_version_check(toy, monkeypatch):
    data = pickle.dumps(toy.Plain(5))
    seen = []
    def hook(meta):
        seen.append(meta.class_name)
        meta.state.value = meta.state.value + 1
        return meta
    monkeypatch.setattr(persistence, '_import_hooks', [hook])
    assert pickle.loads(data).value == 6 and seen == ['Plain']
    monkeypatch.setattr(persistence, '_import_hooks', [lambda meta: dnnlib.EasyDict(meta, version=5)])
    with pytest.raises(AssertionError):
        pickle.loads(data)

#----------------------------------------------------------------------------

def test_check_pickleable():
    persistence._check_pickleable([1, 'a', np.zeros(3), torch.zeros(2), dict(a=(1.0, None))])
    with pytest.raises(Exception):
        persistence._check_pickleable(dict(f=lambda x: x))

#----------------------------------------------------------------------------

def test_misc_constant_and_assert_shape():
    c = misc.constant([1.0, 2.0], shape=[3, 2], dtype=torch.float64)
    assert c.shape == (3, 2) and c.dtype == torch.float64 and torch.equal(c[2], torch.tensor([1.0, 2.0], dtype=torch.float64))
    assert misc.constant([1.0, 2.0], shape=[3, 2], dtype=torch.float64) is c
    assert misc.constant(0.5).dtype == torch.get_default_dtype()
    misc.assert_shape(torch.zeros(2, 3), [None, 3])
    with pytest.raises(AssertionError):
        misc.assert_shape(torch.zeros(2, 3), [2, 4])
    with pytest.raises(AssertionError):
        misc.assert_shape(torch.zeros(2, 3), [2])

#----------------------------------------------------------------------------

def test_misc_copy_params_and_infinite_sampler():
    src, dst = torch.nn.Linear(3, 2), torch.nn.Linear(3, 2)
    misc.copy_params_and_buffers(src, dst, require_all=True)
    assert torch.equal(src.weight, dst.weight) and torch.equal(src.bias, dst.bias)

    # Sampler: replicas partition the stream; without shuffling it is 0,1,2,... repeated.
    stream = iter(misc.InfiniteSampler(list(range(5)), shuffle=False))
    assert [next(stream) for _ in range(7)] == [0, 1, 2, 3, 4, 0, 1]
    single = iter(misc.InfiniteSampler(list(range(10)), seed=3))
    single = [next(single) for _ in range(40)]
    assert sorted(single[:5]) != single[:5] and len(set(single[:5])) == 5 # Shuffled.
    for r in range(2): # Replica r sees every 2nd index of the single-replica stream.
        stream = iter(misc.InfiniteSampler(list(range(10)), rank=r, num_replicas=2, seed=3))
        assert [next(stream) for _ in range(20)] == single[r::2]

#----------------------------------------------------------------------------

def test_print_module_summary(capsys):
    net = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 2))
    out = misc.print_module_summary(net, [torch.zeros(5, 4)])
    assert out.shape == (5, 2)
    text = capsys.readouterr().out
    total = [line for line in text.splitlines() if line.startswith('Total')][0].split()
    assert int(total[1]) == 4 * 3 + 3 + 3 * 2 + 2
    assert '[5, 3]' in text and '[5, 2]' in text

#----------------------------------------------------------------------------

def test_training_stats_single_process():
    collector = training_stats.Collector(regex='TestStats/.*', keep_previous=False)
    values = np.array([1.0, 2.0, 4.0, 7.0])
    training_stats.report('TestStats/a', torch.as_tensor(values[:3]))
    training_stats.report('TestStats/a', values[3])
    training_stats.report0('TestStats/b', 3)
    training_stats.report('Other/c', 1)
    collector.update()
    assert collector.names() == ['TestStats/a', 'TestStats/b']
    assert collector.num('TestStats/a') == 4
    assert collector.mean('TestStats/a') == pytest.approx(values.mean())
    assert collector.std('TestStats/a') == pytest.approx(values.std())
    assert collector['TestStats/b'] == 3 and collector.as_dict()['TestStats/b'].num == 1
    collector.update()
    assert collector.num('TestStats/a') == 0 and np.isnan(collector.mean('TestStats/a'))
