# ART-EDM: learned time grids for EDM-style diffusion samplers.
# Copyright (c) 2026 The ART-EDM authors. Released under the MIT License (see LICENSE).

"""Labelled picture grids (PNG) of generated images: `generate.py --grid` and compare.py's samples-*.png.

A grid is a table of cells laid out row-major, each cell one uint8 image (upscaled by an integer
factor, nearest neighbour, so that small images stay readable), with an optional caption under each
cell and an optional label left of each row, drawn with Pillow's default font on a white background.
"""

import math
import os

import numpy as np
import PIL.Image
import PIL.ImageDraw
import PIL.ImageFont

import dnnlib
from torch_utils.misc import save_atomic

MAX_GRID_IMAGES = 256   # generate.py --grid shows at most the first this many seeds.
MIN_CELL = 64           # Images are upscaled by ceil(MIN_CELL / size) when smaller than this.
PAD = 2                 # Gap between cells, in pixels.

#----------------------------------------------------------------------------

def _text_size(draw, font, text):
    x0, y0, x1, y1 = draw.textbbox((0, 0), text, font=font)
    return x1 - x0, y1 - y0

def make_grid(images, cols, captions=None, row_labels=None):
    """Grid picture of `images` (uint8 NumPy [N,H,W,C], C = 1 or 3) in `cols` columns.

    captions: N strings drawn under the cells (or None); row_labels: one string per row drawn left
    of it (or None). Returns (PIL image, origins, scale): origins[i] = (x, y) of the top-left pixel of
    image i, which occupies scale*H x scale*W pixels (each source pixel repeated scale x scale times)."""
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[3] not in (1, 3) or images.dtype != np.uint8 or len(images) == 0:
        raise ValueError(f'make_grid needs uint8 images [N,H,W,1|3], got {images.dtype} {images.shape}')
    n, h, w, c = images.shape
    rows = math.ceil(n / cols)
    scale = max(1, math.ceil(MIN_CELL / max(h, w)))
    mode = 'L' if c == 1 else 'RGB'
    ink, paper = (0, 255) if c == 1 else ((0, 0, 0), (255, 255, 255))
    font = PIL.ImageFont.load_default()
    measure = PIL.ImageDraw.Draw(PIL.Image.new(mode, (1, 1)))
    cap_w = max((_text_size(measure, font, t)[0] for t in captions), default=0) if captions else 0
    cap_h = max(_text_size(measure, font, t)[1] for t in captions) + 4 if captions else 0
    label_w = max(_text_size(measure, font, t)[0] for t in row_labels) + 8 if row_labels else 0
    cell_w, cell_h = max(w * scale, cap_w + 2), h * scale + cap_h
    canvas = PIL.Image.new(mode, (label_w + PAD + cols * (cell_w + PAD), PAD + rows * (cell_h + PAD)), paper)
    draw = PIL.ImageDraw.Draw(canvas)
    origins = []
    for i in range(n):
        r, k = divmod(i, cols)
        x, y = label_w + PAD + k * (cell_w + PAD), PAD + r * (cell_h + PAD)
        cell = images[i].repeat(scale, axis=0).repeat(scale, axis=1)
        canvas.paste(PIL.Image.fromarray(cell[:, :, 0] if c == 1 else cell, mode), (x, y))
        if captions:
            draw.text((x, y + h * scale + 1), captions[i], fill=ink, font=font)
        origins.append((x, y))
    for r, text in enumerate(row_labels or []):
        draw.text((4, PAD + r * (cell_h + PAD) + h * scale // 2), text, fill=ink, font=font, anchor='lm')
    return canvas, origins, scale

#----------------------------------------------------------------------------

def check_png_path(path, what='--grid'):
    """UserError unless `path` names a .png file (not a folder)."""
    if not str(path).lower().endswith('.png'):
        raise dnnlib.UserError(f'{what}={path}: give a file name ending in .png')
    if os.path.isdir(path):
        raise dnnlib.UserError(f'{what}={path} is a folder; give a file name ending in .png')

def save_png(picture, path, what='--grid'):
    """Write a PIL image as PNG atomically (temporary file + rename); OSError -> one-line UserError."""
    try:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        save_atomic(path, lambda tmp: picture.save(tmp, format='PNG'))
    except OSError as e:
        raise dnnlib.UserError(f'Cannot write {what} "{path}" ({e.strerror or e})') from None

#----------------------------------------------------------------------------

def seed_classes(seeds, label_dim, shape, device='cpu'):
    """Class index of each seed as generate.py draws it (edm-spec.md §2.3: per-seed generator, the
    latents [C,H,W] first, then one randint(label_dim))."""
    from art.sampler import StackedRandomGenerator # pylint: disable=import-outside-toplevel
    rnd = StackedRandomGenerator(device, seeds)
    rnd.randn([len(seeds), *shape], device=device)
    return [int(v) for v in rnd.randint(label_dim, size=[len(seeds)], device=device).tolist()]

def save_seed_grid(path, image_paths, seeds, classes=None):
    """Square-ish grid PNG of the saved images of `seeds` (in the order given, at most MAX_GRID_IMAGES),
    captioned 's<seed>' or 's<seed> c<class>'. Returns the number of images shown."""
    n = min(len(seeds), MAX_GRID_IMAGES)
    images = []
    for p in image_paths[:n]:
        try:
            with PIL.Image.open(p) as img:
                a = np.asarray(img)
        except OSError as e:
            raise dnnlib.UserError(f'--grid: cannot read "{p}" ({e.strerror or e})') from None
        images.append(a[:, :, None] if a.ndim == 2 else a[:, :, :3])
    if len({a.shape for a in images}) != 1:
        raise dnnlib.UserError('--grid: the images in the output folder differ in size; use a fresh --outdir')
    captions = [f's{s}' if classes is None else f's{s} c{k}' for s, k in zip(seeds[:n], classes or [None] * n)]
    picture, _origins, _scale = make_grid(np.stack(images), math.ceil(math.sqrt(n)), captions=captions)
    save_png(picture, path)
    return n

#----------------------------------------------------------------------------
