# ART-EDM: learned time grids for EDM-style diffusion samplers.
# Copyright (c) 2026 The ART-EDM authors. Released under the MIT License (see LICENSE).

"""Tests of training/dataset.py (docs/edm-spec.md §5.6): folders and zips of PNG/JPEG, dataset.json
labels, EDM's max_size subset, xflip, and one-line errors for bad paths and corrupt images."""

import io
import json
import pickle
import zipfile

import numpy as np
import PIL.Image
import pytest
import torch

import dnnlib
from training.dataset import ImageFolderDataset

#----------------------------------------------------------------------------
# Helpers: a small random image set written as PNG files in nested folders (EDM's layout).

def _images(n=12, res=8, channels=3, seed=0):
    shape = [n, res, res, channels] if channels > 1 else [n, res, res]
    return np.random.RandomState(seed).randint(0, 256, size=shape, dtype=np.uint8)

def _encode(img, fmt='PNG', **kw):
    buf = io.BytesIO()
    PIL.Image.fromarray(img).save(buf, fmt, **kw)
    return buf.getvalue()

def _name(i, ext='png'):
    return f'{i // 5:05d}/img{i:08d}.{ext}'

def _write_dir(root, images, ext='png', labels=None):
    for i, img in enumerate(images):
        path = root / _name(i, ext)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(_encode(img, 'PNG' if ext == 'png' else 'JPEG'))
    if labels is not None:
        (root / 'dataset.json').write_text(json.dumps({'labels': [[_name(i, ext), lab] for i, lab in enumerate(labels)]}))
    return root

def _write_zip(path, images, ext='png', labels=None, **jpeg_kw):
    with zipfile.ZipFile(path, 'w') as zf:
        for i, img in enumerate(images):
            zf.writestr(_name(i, ext), _encode(img, 'PNG' if ext == 'png' else 'JPEG', **jpeg_kw))
        if labels is not None:
            zf.writestr('dataset.json', json.dumps({'labels': [[_name(i, ext), lab] for i, lab in enumerate(labels)]}))
    return path

#----------------------------------------------------------------------------

def test_folder_png_roundtrip(tmp_path):
    images = _images(12)
    ds = ImageFolderDataset(str(_write_dir(tmp_path / 'ds', images)))
    assert len(ds) == 12 and ds.image_shape == [3, 8, 8] and ds.resolution == 8 and ds.num_channels == 3
    assert ds.name == 'ds' and not ds.has_labels and ds.label_shape == [0]
    for i in [0, 5, 11]:
        img, label = ds[i]
        assert img.dtype == np.uint8 and np.array_equal(img, images[i].transpose(2, 0, 1))
        assert label.shape == (0,) and label.dtype == np.float32

def test_zip_png_grey_and_jpeg(tmp_path):
    grey = _images(7, res=6, channels=1)
    ds = ImageFolderDataset(str(_write_zip(tmp_path / 'grey.zip', grey)))
    assert ds.name == 'grey' and ds.image_shape == [1, 6, 6]
    assert np.array_equal(ds[3][0], grey[3][None])

    rgb = _images(5, res=16)
    ds = ImageFolderDataset(str(_write_zip(tmp_path / 'jpg.zip', rgb, ext='jpg', quality=90)))
    assert len(ds) == 5 and ds.image_shape == [3, 16, 16]
    decoded = np.array(PIL.Image.open(io.BytesIO(_encode(rgb[2], 'JPEG', quality=90)))).transpose(2, 0, 1)
    assert np.array_equal(ds[2][0], decoded) # Same decoder (Pillow) as writing + reading by hand.

def test_files_sorted_and_non_images_ignored(tmp_path):
    images = _images(3)
    root = tmp_path / 'ds'
    root.mkdir()
    for name, i in [('b.png', 0), ('a.png', 1), ('sub/c.png', 2)]:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(_encode(images[i]))
    (root / 'notes.txt').write_text('not an image')
    ds = ImageFolderDataset(str(root))
    assert len(ds) == 3
    for j, i in enumerate([1, 0, 2]): # a.png, b.png, sub/c.png
        assert np.array_equal(ds[j][0], images[i].transpose(2, 0, 1))

def test_labels_onehot_and_float(tmp_path):
    images = _images(6)
    ds = ImageFolderDataset(str(_write_zip(tmp_path / 'l.zip', images, labels=[3, 0, 1, 3, 2, 0])), use_labels=True)
    assert ds.has_labels and ds.has_onehot_labels and ds.label_dim == 4
    assert np.array_equal(ds[0][1], np.array([0, 0, 0, 1], np.float32))
    assert np.array_equal(ds[4][1], np.array([0, 0, 1, 0], np.float32))
    vectors = [[0.5 * i, -1.0] for i in range(6)]
    ds = ImageFolderDataset(str(_write_dir(tmp_path / 'f', images, labels=vectors)), use_labels=True)
    assert not ds.has_onehot_labels and ds.label_shape == [2]
    assert np.array_equal(ds[3][1], np.array([1.5, -1.0], np.float32))
    ds = ImageFolderDataset(str(_write_dir(tmp_path / 'g', images, labels=vectors)), use_labels=False)
    assert ds[3][1].shape == (0,)

def test_max_size_random_subset_and_xflip(tmp_path):
    images = _images(20)
    path = str(_write_zip(tmp_path / 's.zip', images))
    for seed in [0, 7, 2**31 + 5]:
        ds = ImageFolderDataset(path, max_size=6, random_seed=seed)
        # Independent restatement of EDM's rule: permute with RandomState(seed mod 2^31), first 6, sorted.
        expected = np.sort(np.random.RandomState(seed % 2**31).permutation(20)[:6])
        assert [ds.get_details(i).raw_idx for i in range(len(ds))] == expected.tolist()
        assert np.array_equal(ds[2][0], images[expected[2]].transpose(2, 0, 1))
    assert len(ImageFolderDataset(path, max_size=20)) == 20 and len(ImageFolderDataset(path, max_size=50)) == 20
    ds = ImageFolderDataset(path, xflip=True)
    assert len(ds) == 40 and ds.get_details(23).xflip and ds.get_details(23).raw_idx == 3
    assert np.array_equal(ds[23][0], images[3].transpose(2, 0, 1)[:, :, ::-1])

def test_cache_and_pickle_in_workers(tmp_path):
    images = _images(8)
    ds = ImageFolderDataset(str(_write_zip(tmp_path / 'w.zip', images)), cache=True)
    _ = ds[1]
    ds2 = pickle.loads(pickle.dumps(ds)) # The open zip handle is dropped, reopened lazily.
    assert np.array_equal(ds2[1][0], images[1].transpose(2, 0, 1))
    loader = torch.utils.data.DataLoader(ds, batch_size=3, num_workers=1)
    batches = [x for x, _ in loader]
    assert torch.equal(torch.cat(batches), torch.from_numpy(images.transpose(0, 3, 1, 2)))

#----------------------------------------------------------------------------
# Errors a user can cause: one clear line (UserError, still an IOError as in EDM).

def test_errors(tmp_path):
    with pytest.raises(dnnlib.UserError, match='directory or zip') as e:
        ImageFolderDataset(str(tmp_path / 'x.tar'))
    assert isinstance(e.value, IOError)
    with pytest.raises(dnnlib.UserError, match='not found'):
        ImageFolderDataset(str(tmp_path / 'missing.zip'))
    (tmp_path / 'empty').mkdir()
    with pytest.raises(dnnlib.UserError, match='No image files'):
        ImageFolderDataset(str(tmp_path / 'empty'))
    with pytest.raises(dnnlib.UserError, match='resolution 16'):
        ImageFolderDataset(str(_write_dir(tmp_path / 'r', _images(2))), resolution=16)
    (tmp_path / 'bad.zip').write_bytes(b'not a zip')
    with pytest.raises(dnnlib.UserError, match='not a valid zip'):
        ImageFolderDataset(str(tmp_path / 'bad.zip'))

def test_corrupt_and_mismatched_images(tmp_path):
    root = _write_dir(tmp_path / 'c', _images(4))
    (root / _name(2)).write_bytes(b'\x89PNG\r\n\x1a\n garbage')
    ds = ImageFolderDataset(str(root))
    with pytest.raises(dnnlib.UserError) as e:
        ds[2]
    msg = str(e.value)
    assert _name(2) in msg and '\n' not in msg
    root = _write_dir(tmp_path / 'm', _images(3))
    (root / 'zz.png').write_bytes(_encode(_images(1, res=4)[0]))
    ds = ImageFolderDataset(str(root))
    with pytest.raises(dnnlib.UserError, match='zz.png'):
        ds[3]
    root = _write_dir(tmp_path / 'badlab', _images(3), labels=[0, 1, 2])
    (root / 'dataset.json').write_text(json.dumps({'labels': [[_name(0), 0]]}))
    with pytest.raises(dnnlib.UserError, match='no label'):
        ImageFolderDataset(str(root), use_labels=True)[0]
