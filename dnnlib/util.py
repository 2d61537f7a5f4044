# ART-EDM: learned time grids for EDM-style diffusion samplers.
# Copyright (c) 2026 The ART-EDM authors. Released under the MIT License (see LICENSE).

"""Generic utilities shared by every script: EasyDict, UserError, Logger, download cache (open_url),
object construction by name. The public names and the cache layout follow NVlabs/edm's dnnlib.util
(docs/edm-spec.md §4.5); distutils is not used (§8.4)."""

import contextlib
import ctypes
import fnmatch
import hashlib
import importlib
import inspect
import io
import os
import re
import shutil
import sys
import tempfile
import types
import urllib.parse
import uuid
from typing import Any, List, Optional, Tuple, Union

import numpy as np

#----------------------------------------------------------------------------
# Attribute-style dict.

class EasyDict(dict):
    """dict whose items are also attributes."""
    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name)
    def __setattr__(self, name, value):
        self[name] = value
    def __delattr__(self, name):
        del self[name]

#----------------------------------------------------------------------------
# An error the user caused (bad path, bad schedule, offline download...). CLIs print str(e) as one
# line and exit non-zero, without a traceback.

class UserError(Exception):
    pass

@contextlib.contextmanager
def click_user_errors():
    """In a click command: turn a UserError into click's one-line "Error: ..." exit (no traceback)."""
    import click # pylint: disable=import-outside-toplevel
    try:
        yield
    except UserError as e:
        raise click.ClickException(str(e)) from None

#----------------------------------------------------------------------------
# User-given text files (schedules, configs): regular files only, read with a size cap.

def read_text_bounded(path, max_bytes, what):
    """The text of the user-given file `path` (UTF-8), refusing with a one-line UserError anything
    that is not a regular file (FIFOs, devices such as /dev/zero: checked with os.stat before opening,
    so nothing blocks), a file over `max_bytes`, and text that is not UTF-8. `what` names the file
    in the message, e.g. 'Schedule file "x.json"'."""
    import stat # pylint: disable=import-outside-toplevel
    try:
        st = os.stat(path)
    except (OSError, ValueError) as e:
        raise UserError(f'{what} cannot be read ({getattr(e, "strerror", None) or e}); check the path') from None
    if not stat.S_ISREG(st.st_mode):
        raise UserError(f'{what} cannot be read: it is not a regular file (a directory, FIFO or device); give the path of a file')
    if st.st_size > max_bytes:
        raise UserError(f'{what} is {st.st_size} bytes, over the {max_bytes}-byte limit for such files')
    try:
        with open(path, 'rb') as f:
            if not stat.S_ISREG(os.fstat(f.fileno()).st_mode): # replaced between stat and open
                raise UserError(f'{what} cannot be read: it is not a regular file (a directory, FIFO or device); give the path of a file')
            data = f.read(max_bytes + 1)
    except OSError as e:
        raise UserError(f'{what} cannot be read ({e.strerror or e}); check the path') from None
    if len(data) > max_bytes:
        raise UserError(f'{what} is over the {max_bytes}-byte limit for such files')
    try:
        return data.decode('utf-8')
    except UnicodeDecodeError:
        raise UserError(f'{what} is not a UTF-8 text file') from None

#----------------------------------------------------------------------------
# Tee of stdout/stderr into a log file (train.py uses it with file_mode='a' on log.txt).

class Logger:
    """Redirects sys.stdout and sys.stderr to itself; writes go to the original stdout and to
    `file_name` (if given). Usable as a context manager; close() restores the streams."""
    def __init__(self, file_name: Optional[str] = None, file_mode: str = 'w', should_flush: bool = True):
        self.file = open(file_name, file_mode) if file_name is not None else None
        self.should_flush = should_flush
        self.stdout = sys.stdout
        self.stderr = sys.stderr
        sys.stdout = self
        sys.stderr = self

    def __enter__(self) -> 'Logger':
        return self

    def __exit__(self, exc_type, exc_value, traceback) -> None:
        self.close()

    def write(self, text: Union[str, bytes]) -> None:
        if isinstance(text, bytes):
            text = text.decode()
        if len(text) == 0: # Workaround for a bug in VSCode's debugger.
            return
        if self.file is not None:
            self.file.write(text)
        self.stdout.write(text)
        if self.should_flush:
            self.flush()

    def flush(self) -> None:
        if self.file is not None:
            self.file.flush()
        self.stdout.flush()

    def isatty(self) -> bool:
        return False

    def close(self) -> None:
        self.flush()
        if sys.stdout is self:
            sys.stdout = self.stdout
        if sys.stderr is self:
            sys.stderr = self.stderr
        if self.file is not None:
            self.file.close()
            self.file = None

#----------------------------------------------------------------------------
# Cache directory.

_dnnlib_cache_dir = None

#----------------------------------------------------------------------------

def set_cache_dir(path: Optional[str]) -> None:
    global _dnnlib_cache_dir
    _dnnlib_cache_dir = path

#----------------------------------------------------------------------------

def make_cache_dir_path(*paths: str) -> str:
    """Priority: set_cache_dir(), $DNNLIB_CACHE_DIR, $HOME/.cache/dnnlib, %USERPROFILE%, tempdir."""
    if _dnnlib_cache_dir is not None:
        return os.path.join(_dnnlib_cache_dir, *paths)
    if 'DNNLIB_CACHE_DIR' in os.environ:
        return os.path.join(os.environ['DNNLIB_CACHE_DIR'], *paths)
    if 'HOME' in os.environ:
        return os.path.join(os.environ['HOME'], '.cache', 'dnnlib', *paths)
    if 'USERPROFILE' in os.environ:
        return os.path.join(os.environ['USERPROFILE'], '.cache', 'dnnlib', *paths)
    return os.path.join(tempfile.gettempdir(), '.cache', 'dnnlib', *paths)

#----------------------------------------------------------------------------
# Small formatting / interaction helpers.

def _time_units(seconds):
    s = int(np.rint(seconds))
    return s // 86400, (s // 3600) % 24, (s // 60) % 60, s % 60, s

def format_time(seconds: Union[int, float]) -> str:
    """'Ns', 'Mm SSs', 'Hh MMm SSs' or 'Dd HHh MMm'."""
    d, h, m, sec, s = _time_units(seconds)
    if s < 60:
        return f'{s}s'
    if s < 60 * 60:
        return f'{s // 60}m {sec:02d}s'
    if s < 24 * 60 * 60:
        return f'{s // 3600}h {m:02d}m {sec:02d}s'
    return f'{d}d {h:02d}h {m:02d}m'

#----------------------------------------------------------------------------

def format_time_brief(seconds: Union[int, float]) -> str:
    """The two most significant units of format_time(): 'Ns', 'Mm SSs', 'Hh MMm', 'Dd HHh'."""
    return ' '.join(format_time(seconds).split(' ')[:2])

#----------------------------------------------------------------------------

def strtobool(value: str) -> bool:
    """Replacement for the removed distutils.util.strtobool."""
    v = str(value).strip().lower()
    if v in ('y', 'yes', 't', 'true', 'on', '1'):
        return True
    if v in ('n', 'no', 'f', 'false', 'off', '0'):
        return False
    raise ValueError(f'invalid truth value {value!r}')

#----------------------------------------------------------------------------

def ask_yes_no(question: str) -> bool:
    """Ask on stdin until the answer parses as yes/no."""
    while True:
        try:
            print(f'{question} [y/n]')
            return strtobool(input())
        except ValueError:
            pass

#----------------------------------------------------------------------------

def tuple_product(t: Tuple) -> Any:
    """Product of the elements of a tuple (1 for an empty one)."""
    result = 1
    for v in t:
        result *= v
    return result

_str_to_ctype = dict(
    uint8=ctypes.c_ubyte, uint16=ctypes.c_uint16, uint32=ctypes.c_uint32, uint64=ctypes.c_uint64,
    int8=ctypes.c_byte, int16=ctypes.c_int16, int32=ctypes.c_int32, int64=ctypes.c_int64,
    float32=ctypes.c_float, float64=ctypes.c_double,
)

#----------------------------------------------------------------------------

def get_dtype_and_ctype(type_obj: Any) -> Tuple[np.dtype, Any]:
    """(numpy dtype, ctypes type) for a type name, numpy dtype or ctypes type."""
    if isinstance(type_obj, str):
        type_str = type_obj
    elif hasattr(type_obj, '__name__') and type_obj.__name__.startswith('c_'):
        type_str = {v: k for k, v in _str_to_ctype.items()}[type_obj]
    else:
        type_str = np.dtype(type_obj).name
    assert type_str in _str_to_ctype, type_str
    dtype, ctype = np.dtype(type_str), _str_to_ctype[type_str]
    assert dtype.itemsize == ctypes.sizeof(ctype)
    return dtype, ctype

#----------------------------------------------------------------------------

def is_pickleable(obj: Any) -> bool:
    import pickle
    try:
        with io.BytesIO() as stream:
            pickle.dump(obj, stream)
        return True
    except Exception:
        return False

#----------------------------------------------------------------------------
# Name-based object lookup and construction (config dicts carry a dotted `class_name`).

def get_module_from_obj_name(obj_name: str) -> Tuple[types.ModuleType, str]:
    """Split 'pkg.mod.attr.sub' into (imported module, 'attr.sub'), trying the longest importable
    module prefix first. 'np.' and 'tf.' are expanded to numpy / tensorflow. A module that exists but
    fails to import re-raises its own error instead of a misleading "not found"."""
    obj_name = re.sub(r'^np\.', 'numpy.', obj_name)
    obj_name = re.sub(r'^tf\.', 'tensorflow.', obj_name)
    parts = obj_name.split('.')
    for i in range(len(parts), 0, -1):
        module_name, local_name = '.'.join(parts[:i]), '.'.join(parts[i:])
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as e:
            if e.name is not None and not module_name.startswith(e.name):
                raise # A dependency of an existing module is missing.
            continue
        try:
            get_obj_from_module(module, local_name)
        except AttributeError:
            continue
        return module, local_name
    raise ImportError(f'Cannot find "{obj_name}"')

#----------------------------------------------------------------------------

def get_obj_from_module(module: types.ModuleType, obj_name: str) -> Any:
    """Follow the dotted `obj_name` inside `module` ('' returns the module itself)."""
    if obj_name == '':
        return module
    obj = module
    for part in obj_name.split('.'):
        obj = getattr(obj, part)
    return obj

#----------------------------------------------------------------------------

def get_obj_by_name(name: str) -> Any:
    module, obj_name = get_module_from_obj_name(name)
    return get_obj_from_module(module, obj_name)

#----------------------------------------------------------------------------

def call_func_by_name(*args, func_name: str = None, **kwargs) -> Any:
    assert func_name is not None
    func_obj = get_obj_by_name(func_name)
    assert callable(func_obj)
    return func_obj(*args, **kwargs)

#----------------------------------------------------------------------------

def construct_class_by_name(*args, class_name: str = None, **kwargs) -> Any:
    """E.g. construct_class_by_name(class_name='training.networks.EDMPrecond', **kwargs)."""
    return call_func_by_name(*args, func_name=class_name, **kwargs)

#----------------------------------------------------------------------------

def get_module_dir_by_obj_name(obj_name: str) -> str:
    module, _obj_name = get_module_from_obj_name(obj_name)
    return os.path.dirname(inspect.getfile(module))

#----------------------------------------------------------------------------

def is_top_level_function(obj: Any) -> bool:
    return callable(obj) and obj.__name__ in sys.modules[obj.__module__].__dict__

#----------------------------------------------------------------------------

def get_top_level_function_name(obj: Any) -> str:
    assert is_top_level_function(obj)
    module = obj.__module__
    if module == '__main__':
        module = os.path.splitext(os.path.basename(sys.modules[module].__file__))[0]
    return module + '.' + obj.__name__

#----------------------------------------------------------------------------
# File-system helpers.

def list_dir_recursively_with_ignore(dir_path: str, ignores: List[str] = None, add_base_to_relative: bool = False) -> List[Tuple[str, str]]:
    """(absolute path, relative path) of every file under dir_path, skipping fnmatch `ignores`."""
    assert os.path.isdir(dir_path)
    base_name = os.path.basename(os.path.normpath(dir_path))
    ignores = ignores or []
    result = []
    for root, dirs, files in os.walk(dir_path, topdown=True):
        for pattern in ignores:
            dirs[:] = [d for d in dirs if not fnmatch.fnmatch(d, pattern)]
            files = [f for f in files if not fnmatch.fnmatch(f, pattern)]
        abs_paths = [os.path.join(root, f) for f in files]
        rel_paths = [os.path.relpath(p, dir_path) for p in abs_paths]
        if add_base_to_relative:
            rel_paths = [os.path.join(base_name, p) for p in rel_paths]
        result += zip(abs_paths, rel_paths)
    return result

#----------------------------------------------------------------------------

def copy_files_and_create_dirs(files: List[Tuple[str, str]]) -> None:
    """Copy (src, dst) pairs, creating destination folders."""
    for src, dst in files:
        target_dir = os.path.dirname(dst)
        if target_dir:
            os.makedirs(target_dir, exist_ok=True)
        shutil.copyfile(src, dst)

#----------------------------------------------------------------------------
# URLs and the download cache.

def is_url(obj: Any, allow_file_urls: bool = False) -> bool:
    """True for 'scheme://host.tld/...', 'scheme://localhost[:port]/...' and IP-address URLs (and
    file:// URLs when allowed)."""
    if not isinstance(obj, str) or '://' not in obj:
        return False
    if allow_file_urls and obj.startswith('file://'):
        return True
    try:
        for res in (urllib.parse.urlparse(obj), urllib.parse.urlparse(urllib.parse.urljoin(obj, '/'))):
            host = res.hostname or ''
            if not res.scheme or not res.netloc or not ('.' in host or ':' in host or host == 'localhost'):
                return False
    except Exception:
        return False
    return True

#----------------------------------------------------------------------------

def url_md5(url: str) -> str:
    """The cache key: md5 of the URL's UTF-8 bytes, as hex."""
    return hashlib.md5(url.encode('utf-8')).hexdigest()

#----------------------------------------------------------------------------

def safe_file_name(name: str) -> str:
    """Every character outside [0-9a-zA-Z-._] becomes '_', truncated to 128 characters."""
    return re.sub(r'[^0-9a-zA-Z-._]', '_', name)[:128]

#----------------------------------------------------------------------------

def cache_file_path(url: str, cache_dir: Optional[str] = None) -> str:
    """Where open_url stores `url` when the server sends no Content-Disposition; pre-seeding this
    file (any name starting with '<md5>_' works) makes offline runs use it."""
    cache_dir = cache_dir if cache_dir is not None else make_cache_dir_path('downloads')
    return os.path.join(cache_dir, url_md5(url) + '_' + safe_file_name(url))

#----------------------------------------------------------------------------

def _url_to_local_path(url: str) -> str:
    """file:///C:/x -> C:/x on Windows-style paths, file:///x -> /x otherwise."""
    path = urllib.parse.unquote(urllib.parse.urlparse(url).path)
    if re.match(r'^/[a-zA-Z]:', path):
        path = path[1:]
    return path

#----------------------------------------------------------------------------

def _download(session, url: str, num_attempts: int, verbose: bool) -> Tuple[bytes, str]:
    """Fetch url with retries; returns (data, file name). One dot is printed per retry."""
    for attempts_left in reversed(range(num_attempts)):
        try:
            with session.get(url, timeout=60) as res:
                res.raise_for_status()
                if len(res.content) == 0:
                    raise IOError('No data received')
                if len(res.content) < 8192:
                    content_str = res.content.decode('utf-8', errors='replace')
                    if 'download_warning' in res.headers.get('Set-Cookie', ''):
                        links = [html.group(1) for html in re.finditer(r'href="([^"]+)"', content_str) if 'export=download' in html.group(1)]
                        if len(links) == 1:
                            url = urllib.parse.urljoin(url, links[0].replace('&amp;', '&'))
                            raise IOError('Google Drive virus checker nag')
                    if 'Google Drive - Quota exceeded' in content_str:
                        raise IOError('Google Drive download quota exceeded -- please try again later')
                match = re.search(r'filename="([^"]*)"', res.headers.get('Content-Disposition', ''))
                return res.content, (match[1] if match else url)
        except KeyboardInterrupt:
            raise
        except Exception:
            if attempts_left == 0:
                raise
            if verbose:
                print('.', end='', flush=True)
    raise IOError('unreachable')

#----------------------------------------------------------------------------

def open_url(url: str, cache_dir: Optional[str] = None, num_attempts: int = 10, verbose: bool = True,
             return_filename: bool = False, cache: bool = True) -> Any:
    """Open a local path, file:// URL or http(s) URL.

    Returns a binary file object (an io.BytesIO of the data for downloads), or the file name when
    `return_filename` (requires `cache`). Downloads are cached as `<cache_dir>/<md5(url)>_<safe name>`
    (default cache_dir: make_cache_dir_path('downloads')), written to a tmp file and renamed
    atomically. When the download fails, raises UserError naming the URL and the cache file a user
    can pre-seed."""
    assert num_attempts >= 1
    assert not (return_filename and not cache)

    # Local paths and file:// URLs.
    if not re.match('^[a-z]+://', url):
        return url if return_filename else open(url, 'rb')
    if url.startswith('file://'):
        path = _url_to_local_path(url)
        return path if return_filename else open(path, 'rb')
    assert is_url(url), f'not a URL: {url}'

    # Cached?
    cache_dir = cache_dir if cache_dir is not None else make_cache_dir_path('downloads')
    url_hash = url_md5(url)
    if cache:
        cache_files = [f for f in (os.listdir(cache_dir) if os.path.isdir(cache_dir) else []) if f.startswith(url_hash + '_')]
        if len(cache_files) == 1:
            filename = os.path.join(cache_dir, cache_files[0])
            return filename if return_filename else open(filename, 'rb')

    # Download.
    import requests
    if verbose:
        print(f'Downloading {url} ...', end='', flush=True)
    try:
        with requests.Session() as session:
            url_data, url_name = _download(session, url, num_attempts, verbose)
    except KeyboardInterrupt:
        raise
    except Exception as e:
        if verbose:
            print(' failed', flush=True)
        reason = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise UserError(f'Cannot download {url} ({type(e).__name__}: {reason[:200]}); if you are offline, '
            f'put the file at {cache_file_path(url, cache_dir)} (any name starting with "{url_hash}_" in that folder works)') from None
    if verbose:
        print(' done', flush=True)

    # Save to the cache: tmp file, then an atomic rename.
    if cache:
        safe_name = safe_file_name(url_name)
        cache_file = os.path.join(cache_dir, url_hash + '_' + safe_name)
        temp_file = os.path.join(cache_dir, 'tmp_' + uuid.uuid4().hex + '_' + url_hash + '_' + safe_name)
        os.makedirs(cache_dir, exist_ok=True)
        with open(temp_file, 'wb') as f:
            f.write(url_data)
        os.replace(temp_file, cache_file)
        if return_filename:
            return cache_file

    assert not return_filename
    return io.BytesIO(url_data)

#----------------------------------------------------------------------------
# EDM's seed/channel list syntax: '1,2,5-10' -> [1, 2, 5, 6, 7, 8, 9, 10]. Order and duplicates are
# kept, a-b ranges are inclusive, a list passes through unchanged, empty pieces are ignored.

# With `max_count`, a list longer than that raises ValueError before it is built.

def parse_int_list(s, max_count=None):
    if isinstance(s, list):
        return s
    result = []
    for p in s.split(','):
        if p.strip() == '':
            continue
        m = re.match(r'^(\d+)-(\d+)$', p)
        piece = range(int(m.group(1)), int(m.group(2)) + 1) if m else [int(p)]
        if max_count is not None and len(result) + len(piece) > max_count:
            raise ValueError(f'more than {max_count} values')
        result.extend(piece)
    return result

def parse_float_list(s):
    """'0.8,1.25' -> [0.8, 1.25]; a list passes through unchanged, empty pieces are ignored."""
    if isinstance(s, list):
        return s
    return [float(p) for p in s.split(',') if p.strip()]
