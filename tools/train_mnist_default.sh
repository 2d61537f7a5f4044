#!/usr/bin/env bash
# ART-EDM: learned time grids for EDM-style diffusion samplers.
# Copyright (c) 2026 The ART-EDM authors. Released under the MIT License (see LICENSE).
#
# Rebuild the embedded default network builtin:mnist (art/assets/mnist-edm.pt): a small
# class-conditional EDM model (EDMPrecond + SongUNet at 28x28, 179,585 parameters) trained with
# train.py on the CPU, then its EMA weights exported as a weights-only checkpoint
# (torch_utils.loading.save_checkpoint). The train.py command is exactly the one that produced the
# committed file, except --outdir (it was /tmp/tr/mnist/runs); the committed weights are the EMA of
# the snapshot named by SNAPSHOT_KIMG below. The run is deterministic on one CPU (fixed seed,
# --workers=0) up to floating-point differences between machines and thread counts.
#
# Usage: tools/train_mnist_default.sh [OUTDIR]      (needs ../shared/data/mnist or $ART_SHARED_DIR)

set -euo pipefail
cd "$(dirname "$0")/.."
SHARED="${ART_SHARED_DIR:-../shared}"
DATA="$SHARED/data/mnist/mnist_train_60k.npz"
OUTDIR="${1:-training-runs/mnist-default}"
SNAPSHOT_KIMG=46

# 1. Train for 40 kimg (took 65 minutes on 2 CPU cores shared with other jobs; about 11 minutes alone).
python train.py --outdir="$OUTDIR" --data="$DATA" \
    --cond=1 --arch=small --cbase=8 --cres=1,2,4 --device=cpu \
    --duration=0.04 --batch=32 --lr=2e-3 --lr-rampup=1 --ema=0.002 --ema-rampup=0.1 --dropout=0 \
    --augment=0 --tick=2 --snap=1 --dump=5 --workers=0 --seed=0
RUN1="$(ls -d "$OUTDIR"/*/ | tail -n 1)"

# 2. Resume from the 40-kimg state dump (network + Adam state; EMA from network-snapshot-000040.pkl)
#    with the same options (the data order restarts, as in EDM's --resume). The committed weights are
#    its 46-kimg snapshot: the run was stopped there (time budget); running on to 80 kimg changes nothing before.
python train.py --outdir="$OUTDIR" --data="$DATA" \
    --cond=1 --arch=small --cbase=8 --cres=1,2,4 --device=cpu \
    --duration=0.08 --batch=32 --lr=2e-3 --lr-rampup=1 --ema=0.002 --ema-rampup=0.1 --dropout=0 \
    --augment=0 --tick=2 --snap=1 --dump=5 --workers=0 --seed=0 --resume="${RUN1}training-state-000040.pt"
RUN2="$(ls -d "$OUTDIR"/*/ | tail -n 1)"

# 3. Export the EMA network of the chosen snapshot as art/assets/mnist-edm.pt.
SNAPSHOT="${RUN2}network-snapshot-$(printf '%06d' "$SNAPSHOT_KIMG").pkl"
python - "$SNAPSHOT" art/assets/mnist-edm.pt <<'EOF'
import os, sys
from torch_utils import loading
src, dst = sys.argv[1], sys.argv[2]
data = loading.load_pickle(src, trust=False)
dataset_kwargs = dict(data['dataset_kwargs'], path=os.path.basename(data['dataset_kwargs']['path']))
loading.save_checkpoint(data['ema'], dst, dataset_kwargs=dataset_kwargs, source=os.path.basename(src),
    description='builtin:mnist, class-conditional EDM model for 28x28 MNIST, trained with tools/train_mnist_default.sh')
print(f'Wrote {dst} ({os.path.getsize(dst)} bytes) from {src}')
EOF
