# ART-EDM: learned time grids for EDM-style diffusion samplers.
# Copyright (c) 2026 The ART-EDM authors. Released under the MIT License (see LICENSE).

"""Datasets of uint8 images with optional labels: a folder or a zip of PNG/JPEG files plus an optional
dataset.json (docs/edm-spec.md §5.6; the layout EDM's dataset_tool.py writes).

Random subset (max_size): shuffle the indices with RandomState(random_seed % 2**31), keep the first
max_size and sort them, as EDM; fid.py uses it to pick --num of the images with --seed."""

import json
import os
import zipfile

import numpy as np
import PIL.Image
import torch

import dnnlib

try:
    import pyspng
except ImportError:
    pyspng = None

#----------------------------------------------------------------------------
# Errors: a UserError (one line in every CLI) that is still an IOError, as EDM raises.

class DatasetError(dnnlib.UserError, IOError):
    pass

#----------------------------------------------------------------------------

def reraise_worker_error(e):
    """DataLoader workers re-raise an exception with the worker's whole traceback as its message;
    raise the original one-line message again (as a UserError) so CLIs still print one line."""
    msg = str(e)
    if msg.startswith('Caught '):
        lines = [line for line in msg.strip().splitlines() if line.strip()]
        msg = lines[-1].split(': ', 1)[-1] if lines else msg
        raise dnnlib.UserError(msg) from None
    raise e

#----------------------------------------------------------------------------
# Abstract base: index bookkeeping (max_size subset, xflip), labels, item access.

class Dataset(torch.utils.data.Dataset):
    def __init__(self,
        name,                   # Name of the dataset.
        raw_shape,              # Shape of the raw image data (NCHW).
        max_size    = None,     # Artificially limit the size of the dataset. None = no limit.
        use_labels  = False,    # Enable conditioning labels? False = label dimension is zero.
        xflip       = False,    # Artificially double the size of the dataset via x-flips.
        random_seed = 0,        # Random seed to use when applying max_size.
        cache       = False,    # Cache images in CPU memory?
    ):
        self._name = name
        self._raw_shape = list(raw_shape)
        self._use_labels = use_labels
        self._cache = cache
        self._cached_images = dict() # {raw_idx: np.ndarray, ...}
        self._raw_labels = None
        self._label_shape = None

        # Apply max_size: a sorted random subset of the raw indices.
        self._raw_idx = np.arange(self._raw_shape[0], dtype=np.int64)
        if (max_size is not None) and (self._raw_idx.size > max_size):
            np.random.RandomState(random_seed % (1 << 31)).shuffle(self._raw_idx)
            self._raw_idx = np.sort(self._raw_idx[:max_size])

        # Apply xflip: a second, horizontally flipped copy of every index.
        self._xflip = np.zeros(self._raw_idx.size, dtype=np.uint8)
        if xflip:
            self._raw_idx = np.tile(self._raw_idx, 2)
            self._xflip = np.concatenate([self._xflip, np.ones_like(self._xflip)])

    def _get_raw_labels(self):
        if self._raw_labels is None:
            self._raw_labels = self._load_raw_labels() if self._use_labels else None
            if self._raw_labels is None:
                self._raw_labels = np.zeros([self._raw_shape[0], 0], dtype=np.float32)
            assert isinstance(self._raw_labels, np.ndarray)
            assert self._raw_labels.shape[0] == self._raw_shape[0]
            assert self._raw_labels.dtype in [np.float32, np.int64]
            if self._raw_labels.dtype == np.int64:
                assert self._raw_labels.ndim == 1
                assert np.all(self._raw_labels >= 0)
        return self._raw_labels

    def close(self): # to be overridden by subclass
        pass

    def _load_raw_image(self, raw_idx): # to be overridden by subclass
        raise NotImplementedError

    def _load_raw_labels(self): # to be overridden by subclass
        raise NotImplementedError

    def __getstate__(self):
        return dict(self.__dict__, _raw_labels=None)

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    def __len__(self):
        return self._raw_idx.size

    def __getitem__(self, idx):
        raw_idx = self._raw_idx[idx]
        image = self._cached_images.get(raw_idx, None)
        if image is None:
            image = self._load_raw_image(raw_idx)
            if self._cache:
                self._cached_images[raw_idx] = image
        assert isinstance(image, np.ndarray)
        if list(image.shape) != self.image_shape:
            raise DatasetError(f'Image {self._image_name(raw_idx)} has shape {list(image.shape)}, but the dataset has {self.image_shape}: '
                               'all images must have the same resolution and channels')
        assert image.dtype == np.uint8
        if self._xflip[idx]:
            assert image.ndim == 3 # CHW
            image = image[:, :, ::-1]
        return image.copy(), self.get_label(idx)

    def _image_name(self, raw_idx): # to be overridden by subclass
        return f'#{raw_idx}'

    def get_label(self, idx):
        label = self._get_raw_labels()[self._raw_idx[idx]]
        if label.dtype == np.int64:
            onehot = np.zeros(self.label_shape, dtype=np.float32)
            onehot[label] = 1
            label = onehot
        return label.copy()

    def get_details(self, idx):
        d = dnnlib.EasyDict()
        d.raw_idx = int(self._raw_idx[idx])
        d.xflip = (int(self._xflip[idx]) != 0)
        d.raw_label = self._get_raw_labels()[d.raw_idx].copy()
        return d

    @property
    def name(self):
        return self._name

    @property
    def image_shape(self):
        return list(self._raw_shape[1:])

    @property
    def num_channels(self):
        assert len(self.image_shape) == 3 # CHW
        return self.image_shape[0]

    @property
    def resolution(self):
        assert len(self.image_shape) == 3 # CHW
        assert self.image_shape[1] == self.image_shape[2]
        return self.image_shape[1]

    @property
    def label_shape(self):
        if self._label_shape is None:
            raw_labels = self._get_raw_labels()
            if raw_labels.dtype == np.int64:
                self._label_shape = [int(np.max(raw_labels)) + 1]
            else:
                self._label_shape = raw_labels.shape[1:]
        return list(self._label_shape)

    @property
    def label_dim(self):
        assert len(self.label_shape) == 1
        return self.label_shape[0]

    @property
    def has_labels(self):
        return any(x != 0 for x in self.label_shape)

    @property
    def has_onehot_labels(self):
        return self._get_raw_labels().dtype == np.int64

#----------------------------------------------------------------------------
# Dataset subclass that loads images recursively from a folder or a zip.

class ImageFolderDataset(Dataset):
    def __init__(self,
        path,                   # Path to directory or zip.
        resolution      = None, # Ensure specific resolution, None = anything goes.
        use_pyspng      = True, # Use pyspng if available?
        **super_kwargs,         # Additional arguments for the Dataset base class.
    ):
        self._path = path
        self._use_pyspng = use_pyspng
        self._zipfile = None

        if os.path.isdir(self._path):
            self._type = 'dir'
            self._all_fnames = {os.path.relpath(os.path.join(root, fname), start=self._path) for root, _dirs, files in os.walk(self._path) for fname in files}
        elif self._file_ext(self._path) == '.zip':
            self._type = 'zip'
            if not os.path.isfile(self._path):
                raise DatasetError(f'Dataset "{self._path}" not found: pass an existing directory or zip')
            try:
                self._all_fnames = set(self._get_zipfile().namelist())
            except zipfile.BadZipFile:
                raise DatasetError(f'Dataset "{self._path}" is not a valid zip file') from None
        else:
            raise DatasetError(f'Path must point to a directory or zip: "{self._path}" is neither')

        PIL.Image.init()
        self._image_fnames = sorted(fname for fname in self._all_fnames if self._file_ext(fname) in PIL.Image.EXTENSION)
        if len(self._image_fnames) == 0:
            raise DatasetError(f'No image files found in the specified path: "{self._path}"')

        name = os.path.splitext(os.path.basename(os.path.normpath(self._path)))[0]
        raw_shape = [len(self._image_fnames)] + list(self._load_raw_image(0).shape)
        if resolution is not None and (raw_shape[2] != resolution or raw_shape[3] != resolution):
            raise DatasetError(f'Image files in "{self._path}" are {raw_shape[3]}x{raw_shape[2]}, but resolution {resolution} was requested')
        super().__init__(name=name, raw_shape=raw_shape, **super_kwargs)

    @staticmethod
    def _file_ext(fname):
        return os.path.splitext(fname)[1].lower()

    def _get_zipfile(self):
        assert self._type == 'zip'
        if self._zipfile is None:
            self._zipfile = zipfile.ZipFile(self._path)
        return self._zipfile

    def _open_file(self, fname):
        if self._type == 'dir':
            return open(os.path.join(self._path, fname), 'rb')
        if self._type == 'zip':
            return self._get_zipfile().open(fname, 'r')
        return None

    def close(self):
        try:
            if self._zipfile is not None:
                self._zipfile.close()
        finally:
            self._zipfile = None

    def __getstate__(self):
        return dict(super().__getstate__(), _zipfile=None)

    def _image_name(self, raw_idx):
        return f'"{self._image_fnames[raw_idx]}" in "{self._path}"'

    def _load_raw_image(self, raw_idx):
        fname = self._image_fnames[raw_idx]
        ext = self._file_ext(fname)
        try:
            with self._open_file(fname) as f:
                if self._use_pyspng and pyspng is not None and ext == '.png':
                    image = pyspng.load(f.read())
                else:
                    image = np.array(PIL.Image.open(f))
        except Exception as e:
            raise DatasetError(f'Cannot decode image {self._image_name(raw_idx)} ({type(e).__name__}): '
                               'remove or replace the file') from None
        if image.ndim == 2:
            image = image[:, :, np.newaxis] # HW => HWC
        image = image.transpose(2, 0, 1) # HWC => CHW
        if image.dtype != np.uint8:
            raise DatasetError(f'Image {self._image_name(raw_idx)} is {image.dtype}, not 8-bit: convert it to 8-bit PNG or JPEG')
        return image

    def _load_raw_labels(self):
        fname = 'dataset.json'
        if fname not in self._all_fnames:
            return None
        with self._open_file(fname) as f:
            labels = json.load(f)['labels']
        if labels is None:
            return None
        labels = dict(labels)
        try:
            labels = [labels[fname.replace('\\', '/')] for fname in self._image_fnames]
        except KeyError as e:
            raise DatasetError(f'dataset.json in "{self._path}" has no label for image "{e.args[0]}"') from None
        labels = np.array(labels)
        labels = labels.astype({1: np.int64, 2: np.float32}[labels.ndim])
        return labels

#----------------------------------------------------------------------------
# Dataset subclass over an .npz of uint8 images (e.g. MNIST): key x of shape (N,H,W) or (N,H,W,C),
# optional key y of N integer class labels. Used by train.py for --data=*.npz.

class NpzDataset(Dataset):
    def __init__(self,
        path,                   # Path to the .npz file.
        resolution      = None, # Ensure specific resolution, None = anything goes.
        **super_kwargs,         # Additional arguments for the Dataset base class.
    ):
        self._path = path
        if not os.path.isfile(path):
            raise DatasetError(f'Dataset "{path}" not found: pass an existing .npz file')
        try:
            with np.load(path) as z:
                x = z['x']
                self._y = np.asarray(z['y']).astype(np.int64) if 'y' in z.files else None
        except (KeyError, ValueError, OSError) as e:
            raise DatasetError(f'Cannot read "{path}" as an .npz with key x ({type(e).__name__}): save images as x (N,H,W[,C]) uint8') from None
        if x.dtype != np.uint8 or x.ndim not in (3, 4):
            raise DatasetError(f'"{path}": x is {x.dtype} {list(x.shape)}, expected uint8 (N,H,W) or (N,H,W,C)')
        self._images = np.ascontiguousarray((x[:, np.newaxis] if x.ndim == 3 else x.transpose(0, 3, 1, 2)))
        raw_shape = list(self._images.shape)
        if resolution is not None and (raw_shape[2] != resolution or raw_shape[3] != resolution):
            raise DatasetError(f'Images in "{path}" are {raw_shape[3]}x{raw_shape[2]}, but resolution {resolution} was requested')
        name = os.path.splitext(os.path.basename(path))[0]
        super().__init__(name=name, raw_shape=raw_shape, **super_kwargs)

    def _load_raw_image(self, raw_idx):
        return self._images[raw_idx]

    def _load_raw_labels(self):
        return self._y

#----------------------------------------------------------------------------
