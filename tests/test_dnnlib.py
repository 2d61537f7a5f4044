# ART-EDM: learned time grids for EDM-style diffusion samplers.
# Copyright (c) 2026 The ART-EDM authors. Released under the MIT License (see LICENSE).

"""dnnlib (edm-spec.md §4.5): EasyDict, name-based construction, format_time, Logger, cache dir,
and open_url against a real HTTP server on 127.0.0.1 (download, cache hit with the server stopped,
retries, Content-Disposition, the one-line offline error)."""

import hashlib
import http.server
import io
import os
import re
import socket
import threading

import pytest

import dnnlib
from dnnlib import util

#----------------------------------------------------------------------------

def test_easydict():
    d = dnnlib.EasyDict(a=1)
    d.b = 2
    assert d == {'a': 1, 'b': 2} and d.a == 1
    del d.a
    assert 'a' not in d
    with pytest.raises(AttributeError):
        _ = d.missing

#----------------------------------------------------------------------------

def test_format_time():
    assert util.format_time(5) == '5s'
    assert util.format_time(59.4) == '59s'
    assert util.format_time(61) == '1m 01s'
    assert util.format_time(3600 + 2 * 60 + 5) == '1h 02m 05s'
    assert util.format_time(2 * 86400 + 3 * 3600 + 4 * 60) == '2d 03h 04m'
    assert util.format_time_brief(3600 + 2 * 60 + 5) == '1h 02m'

#----------------------------------------------------------------------------

def test_construct_by_name():
    import torch
    opt = util.construct_class_by_name([torch.nn.Parameter(torch.zeros(1))], class_name='torch.optim.Adam', lr=0.5)
    assert isinstance(opt, torch.optim.Adam) and opt.param_groups[0]['lr'] == 0.5
    module, name = util.get_module_from_obj_name('torch.nn.functional.silu')
    assert module.__name__ == 'torch.nn.functional' and name == 'silu'
    import numpy as np
    assert util.get_obj_by_name('np.float32') is np.float32
    assert util.call_func_by_name(4, func_name='math.sqrt') == 2
    with pytest.raises(ImportError):
        util.get_obj_by_name('training.no_such_module.Foo')
    assert util.strtobool('yes') and not util.strtobool('0')

#----------------------------------------------------------------------------

def test_logger(tmp_path, capsys):
    log = tmp_path / 'log.txt'
    with util.Logger(file_name=str(log), file_mode='a'):
        print('hello')
    print('after')
    assert log.read_text() == 'hello\n'
    assert capsys.readouterr().out == 'hello\nafter\n'

#----------------------------------------------------------------------------

def test_cache_dir_priority(monkeypatch, tmp_path):
    monkeypatch.setenv('DNNLIB_CACHE_DIR', str(tmp_path / 'env'))
    assert util.make_cache_dir_path('downloads') == os.path.join(str(tmp_path / 'env'), 'downloads')
    util.set_cache_dir(str(tmp_path / 'set'))
    try:
        assert util.make_cache_dir_path('x') == os.path.join(str(tmp_path / 'set'), 'x')
    finally:
        util.set_cache_dir(None)
    monkeypatch.delenv('DNNLIB_CACHE_DIR')
    monkeypatch.setenv('HOME', str(tmp_path / 'home'))
    assert util.make_cache_dir_path('d') == os.path.join(str(tmp_path / 'home'), '.cache', 'dnnlib', 'd')

#----------------------------------------------------------------------------

def test_is_url_and_md5_of_spec_example():
    assert util.is_url('https://nvlabs-fi-cdn.nvidia.com/edm/pretrained/x.pkl')
    assert util.is_url('http://localhost/x') and util.is_url('http://localhost:8000/net.pkl') and util.is_url('http://127.0.0.1:8000/x')
    assert not util.is_url('http://intranet/x') # other hosts need a dot, as in EDM.
    assert not util.is_url('some/local/file.pkl')
    assert util.is_url('file:///tmp/x', allow_file_urls=True)
    # Spec §4.5 example (md5 verified there).
    url = 'https://nvlabs-fi-cdn.nvidia.com/edm/pretrained/edm-cifar10-32x32-cond-vp.pkl'
    assert os.path.basename(util.cache_file_path(url, 'c')) == '8a0cade18e36ff627fc6c7a9dce1bd11_https___nvlabs-fi-cdn.nvidia.com_edm_pretrained_edm-cifar10-32x32-cond-vp.pkl'

#----------------------------------------------------------------------------

def test_open_local_path_and_file_url(tmp_path):
    path = tmp_path / 'a b.bin'
    path.write_bytes(b'local')
    with util.open_url(str(path)) as f:
        assert f.read() == b'local'
    with util.open_url('file://' + str(path).replace(' ', '%20')) as f:
        assert f.read() == b'local'
    assert util.open_url(str(path), return_filename=True) == str(path)

#----------------------------------------------------------------------------
# A real HTTP server on 127.0.0.1 in a thread.

class _Handler(http.server.BaseHTTPRequestHandler):
    files = {}          # path -> bytes
    fail_first = set()  # paths that answer 500 once
    disposition = {}    # path -> Content-Disposition file name
    hits = []

    def do_GET(self): # pylint: disable=invalid-name
        type(self).hits.append(self.path)
        if self.path in self.fail_first:
            self.fail_first.discard(self.path)
            self.send_error(500)
            return
        if self.path not in self.files:
            self.send_error(404)
            return
        data = self.files[self.path]
        self.send_response(200)
        self.send_header('Content-Length', str(len(data)))
        if self.path in self.disposition:
            self.send_header('Content-Disposition', f'attachment; filename="{self.disposition[self.path]}"')
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args): # Keep pytest output clean.
        pass

#----------------------------------------------------------------------------

@pytest.fixture
def http_server():
    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Handler.hits.clear()
    state = dict(server=server, base=f'http://127.0.0.1:{server.server_address[1]}', running=True)
    def stop():
        if state['running']:
            server.shutdown()
            server.server_close()
            thread.join()
            state['running'] = False
    state['stop'] = stop
    yield state
    stop()

#----------------------------------------------------------------------------

def _expected_cache_name(url, name=None):
    """Independent statement of the spec's cache naming: md5(url) + '_' + safe(name or url)."""
    return hashlib.md5(url.encode('utf-8')).hexdigest() + '_' + re.sub(r'[^0-9a-zA-Z-._]', '_', name or url)[:128]

#----------------------------------------------------------------------------

def test_open_url_download_then_cache(http_server, tmp_path, capsys):
    payload = os.urandom(20000)
    _Handler.files['/models/net.pkl'] = payload
    url = http_server['base'] + '/models/net.pkl'
    cache_dir = str(tmp_path / 'cache')

    with util.open_url(url, cache_dir=cache_dir) as f:
        assert isinstance(f, io.BytesIO) and f.read() == payload
    assert 'Downloading ' + url in capsys.readouterr().out
    assert sorted(os.listdir(cache_dir)) == [_expected_cache_name(url)] # No tmp_ file left behind.
    assert _Handler.hits == ['/models/net.pkl']

    http_server['stop']()
    with util.open_url(url, cache_dir=cache_dir) as f:
        assert f.read() == payload
    assert util.open_url(url, cache_dir=cache_dir, return_filename=True) == os.path.join(cache_dir, _expected_cache_name(url))
    assert _Handler.hits == ['/models/net.pkl'] # Served from the cache.

#----------------------------------------------------------------------------

def test_open_url_env_cache_dir_retry_and_content_disposition(http_server, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv('DNNLIB_CACHE_DIR', str(tmp_path / 'envcache'))
    _Handler.files['/dl?id=7'] = b'abc'
    _Handler.fail_first.add('/dl?id=7')
    _Handler.disposition['/dl?id=7'] = 'real name.npz'
    url = http_server['base'] + '/dl?id=7'
    path = util.open_url(url, num_attempts=3, return_filename=True)
    assert path == os.path.join(str(tmp_path / 'envcache'), 'downloads', _expected_cache_name(url, 'real name.npz'))
    assert open(path, 'rb').read() == b'abc'
    out = capsys.readouterr().out
    assert out.startswith('Downloading ' + url + ' ...') and '.' in out.split('...', 1)[1] and out.rstrip().endswith('done')
    assert _Handler.hits == ['/dl?id=7', '/dl?id=7']

#----------------------------------------------------------------------------

def test_open_url_offline_error_is_one_line(tmp_path):
    with socket.socket() as s: # A port that nobody listens on.
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
    url = f'http://127.0.0.1:{port}/edm/net-snapshot.pkl'
    cache_dir = str(tmp_path / 'cache')
    with pytest.raises(dnnlib.UserError) as info:
        util.open_url(url, cache_dir=cache_dir, num_attempts=2, verbose=False)
    msg = str(info.value)
    assert '\n' not in msg
    assert url in msg
    assert os.path.join(cache_dir, _expected_cache_name(url)) in msg
    assert not os.path.exists(cache_dir) or os.listdir(cache_dir) == []

    # Pre-seeding the named file makes the same call work offline.
    os.makedirs(cache_dir, exist_ok=True)
    with open(os.path.join(cache_dir, _expected_cache_name(url)), 'wb') as f:
        f.write(b'seeded')
    with util.open_url(url, cache_dir=cache_dir, verbose=False) as f:
        assert f.read() == b'seeded'
