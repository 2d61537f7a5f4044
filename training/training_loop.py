# ART-EDM: learned time grids for EDM-style diffusion samplers.
# Copyright (c) 2026 The ART-EDM authors. Released under the MIT License (see LICENSE).

"""Main training loop of "Elucidating the Design Space of Diffusion-Based Generative Models"
(Karras et al. 2022), as described in docs/edm-spec.md §5.8.

One loop for every preconditioning/loss pair: images are drawn with an infinite shuffled sampler,
the per-element loss of training/loss.py is summed and back-propagated (with gradient accumulation
when --batch-gpu is smaller than the per-process batch), the learning rate ramps up linearly, NaN/Inf
gradients are zeroed/clamped, Adam takes a step and an exponential moving average of the parameters
(half-life in images, ramped up with the number of images seen) is kept. Every tick the loop prints
a status line, appends the collected statistics to stats.jsonl and, at the chosen intervals, writes
network snapshots (EDM pickles: dict ema/loss_fn/augment_pipe/dataset_kwargs) and training-state
dumps that --resume continues from: torch.save of dict(net=net.state_dict(), optimizer_state=...),
plain tensors and numbers that load with torch.load(weights_only=True). resume_pkl is read by the
safe loader of torch_utils.loading unless trust_pickle (docs/trust.md)."""

import contextlib
import copy
import json
import os
import pickle
import time

import numpy as np
import psutil
import torch

import dnnlib
from torch_utils import distributed as dist
from torch_utils import loading
from torch_utils import misc
from torch_utils import training_stats

#----------------------------------------------------------------------------
# Write a file atomically (temporary name + os.replace), so an interrupted run never leaves a
# truncated snapshot behind.

def _atomic_write(path, write_fn):
    tmp_path = f'{path}.tmp{os.getpid()}'
    with open(tmp_path, 'wb') as f:
        write_fn(f)
    os.replace(tmp_path, path)

#----------------------------------------------------------------------------
# Forward/backward passes without gradient all-reduce (DDP) except on the last accumulation round.

def _ddp_sync(module, sync):
    if isinstance(module, torch.nn.parallel.DistributedDataParallel) and not sync:
        return module.no_sync()
    return contextlib.nullcontext()

#----------------------------------------------------------------------------
# EMA update (§5.8 step 5): half-life in images, ramped up as ema_rampup_ratio * cur_nimg.
# Parameters only; buffers of the EMA copy stay as constructed (EDM behaviour).

@torch.no_grad()
def update_ema(ema, net, cur_nimg, batch_size, ema_halflife_kimg, ema_rampup_ratio):
    ema_halflife_nimg = ema_halflife_kimg * 1000
    if ema_rampup_ratio is not None:
        ema_halflife_nimg = min(ema_halflife_nimg, cur_nimg * ema_rampup_ratio)
    ema_beta = 0.5 ** (batch_size / max(ema_halflife_nimg, 1e-8))
    for p_ema, p_net in zip(ema.parameters(), net.parameters()):
        p_ema.copy_(p_net.detach().lerp(p_ema, ema_beta))
    return ema_beta

#----------------------------------------------------------------------------
# Network snapshot: the EDM pickle layout of docs/edm-spec.md §4.1 (CPU, eval, no grad).

def save_snapshot(path, ema, loss_fn, augment_pipe, dataset_kwargs):
    data = dict(ema=ema, loss_fn=loss_fn, augment_pipe=augment_pipe, dataset_kwargs=dict(dataset_kwargs))
    for key, value in data.items():
        if isinstance(value, torch.nn.Module):
            value = copy.deepcopy(value).eval().requires_grad_(False)
            if dist.get_world_size() > 1:
                misc.check_ddp_consistency(value)
            data[key] = value.cpu()
    if dist.get_rank() == 0 and path is not None:
        _atomic_write(path, lambda f: pickle.dump(data, f))
    return data

#----------------------------------------------------------------------------
# Training state: the network's state dict and the optimizer's, plain data for weights_only loading.

def save_training_state(path, net, optimizer):
    state = dict(net=net.state_dict(), optimizer_state=optimizer.state_dict())
    _atomic_write(path, lambda f: torch.save(state, f))

def load_training_state(path, net, optimizer):
    """Load a training state written by save_training_state into `net` and `optimizer`, with
    torch.load(weights_only=True): a file that holds anything but tensors and plain data is refused."""
    try:
        data = torch.load(path, map_location=torch.device('cpu'), weights_only=True)
    except Exception as e: # pylint: disable=broad-exception-caught
        raise dnnlib.UserError(f'--resume: "{path}" cannot be read with torch.load(weights_only=True) ({type(e).__name__}); it is not a '
                               'training state of this version (older ones hold a pickled network): start from its network snapshot with --transfer') from None
    if not (isinstance(data, dict) and isinstance(data.get('net'), dict) and isinstance(data.get('optimizer_state'), dict)):
        raise dnnlib.UserError(f'--resume: "{path}" is not a training state (expected a dict with the state dicts net and optimizer_state)')
    try:
        net.load_state_dict(data['net'], strict=True)
        optimizer.load_state_dict(data['optimizer_state'])
    except (RuntimeError, ValueError, KeyError) as e:
        raise dnnlib.UserError(f'--resume: the training state "{path}" does not match the network/optimizer of this run ({" ".join(str(e).split())[:200]}); use the options it was trained with') from None

#----------------------------------------------------------------------------
# Main training loop.

def training_loop(
    run_dir             = '.',      # Output directory.
    dataset_kwargs      = {},       # Options for training set.
    data_loader_kwargs  = {},       # Options for torch.utils.data.DataLoader.
    network_kwargs      = {},       # Options for model and preconditioning.
    loss_kwargs         = {},       # Options for loss function.
    optimizer_kwargs    = {},       # Options for optimizer.
    augment_kwargs      = None,     # Options for augmentation pipeline, None = disable.
    seed                = 0,        # Global random seed.
    batch_size          = 512,      # Total batch size for one training iteration.
    batch_gpu           = None,     # Limit batch size per process, None = no limit.
    total_kimg          = 200000,   # Training duration, measured in thousands of training images.
    ema_halflife_kimg   = 500,      # Half-life of the exponential moving average (EMA) of model weights.
    ema_rampup_ratio    = 0.05,     # EMA ramp-up coefficient, None = no rampup.
    lr_rampup_kimg      = 10000,    # Learning rate ramp-up duration.
    loss_scaling        = 1,        # Loss scaling factor for reducing FP16 under/overflows.
    kimg_per_tick       = 50,       # Interval of progress prints.
    snapshot_ticks      = 50,       # How often to save network snapshots, None = disable.
    state_dump_ticks    = 500,      # How often to dump training state, None = disable.
    resume_pkl          = None,     # Start from the given network snapshot, None = random initialization.
    resume_state_dump   = None,     # Start from the given training state, None = reset training state.
    resume_kimg         = 0,        # Start from the given training progress.
    trust_pickle        = False,    # Run code embedded in resume_pkl (trusted files only)? Else the safe loader.
    cudnn_benchmark     = True,     # Enable torch.backends.cudnn.benchmark?
    device              = torch.device('cuda'),
):
    # Initialize.
    start_time = time.time()
    device = torch.device(device)
    np.random.seed((seed * dist.get_world_size() + dist.get_rank()) % (1 << 31))
    torch.manual_seed(np.random.randint(1 << 31))
    torch.backends.cudnn.benchmark = cudnn_benchmark
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cuda.matmul.allow_fp16_reduced_precision_reduction = False

    # Select batch size per process.
    batch_gpu_total = batch_size // dist.get_world_size()
    if batch_gpu is None or batch_gpu > batch_gpu_total:
        batch_gpu = batch_gpu_total
    num_accumulation_rounds = batch_gpu_total // batch_gpu
    if batch_size != batch_gpu * num_accumulation_rounds * dist.get_world_size():
        raise dnnlib.UserError(f'--batch={batch_size} must be a multiple of --batch-gpu={batch_gpu} times the number of processes ({dist.get_world_size()})')

    # Load dataset.
    dist.print0('Loading dataset...')
    dataset_obj = dnnlib.util.construct_class_by_name(**dataset_kwargs)
    dataset_sampler = misc.InfiniteSampler(dataset=dataset_obj, rank=dist.get_rank(), num_replicas=dist.get_world_size(), seed=seed)
    dataset_iterator = iter(torch.utils.data.DataLoader(dataset=dataset_obj, sampler=dataset_sampler, batch_size=batch_gpu, **data_loader_kwargs))

    # Construct network.
    dist.print0('Constructing network...')
    interface_kwargs = dict(img_resolution=dataset_obj.resolution, img_channels=dataset_obj.num_channels, label_dim=dataset_obj.label_dim)
    net = dnnlib.util.construct_class_by_name(**network_kwargs, **interface_kwargs)
    net.train().requires_grad_(True).to(device)
    if dist.get_rank() == 0:
        with torch.no_grad():
            images = torch.zeros([batch_gpu, net.img_channels, net.img_resolution, net.img_resolution], device=device)
            sigma = torch.ones([batch_gpu], device=device)
            labels = torch.zeros([batch_gpu, net.label_dim], device=device)
            misc.print_module_summary(net, [images, sigma, labels], max_nesting=2)

    # Setup optimizer.
    dist.print0('Setting up optimizer...')
    loss_fn = dnnlib.util.construct_class_by_name(**loss_kwargs)
    optimizer = dnnlib.util.construct_class_by_name(params=net.parameters(), **optimizer_kwargs)
    augment_pipe = dnnlib.util.construct_class_by_name(**augment_kwargs) if augment_kwargs is not None else None
    if dist.get_world_size() > 1:
        ddp = torch.nn.parallel.DistributedDataParallel(net, device_ids=[device] if device.type == 'cuda' else None)
    else:
        ddp = net
    ema = copy.deepcopy(net).eval().requires_grad_(False)

    # Resume training from previous snapshot.
    if resume_pkl is not None:
        dist.print0(f'Loading network weights from "{resume_pkl}"...')
        if dist.get_rank() != 0:
            dist.barrier()  # rank 0 goes first
        data = loading.load_pickle(resume_pkl, trust=trust_pickle)
        if dist.get_rank() == 0:
            dist.barrier()  # other ranks follow
        misc.copy_params_and_buffers(src_module=data['ema'], dst_module=net, require_all=False)
        misc.copy_params_and_buffers(src_module=data['ema'], dst_module=ema, require_all=False)
        del data  # conserve memory
    if resume_state_dump:
        dist.print0(f'Loading training state from "{resume_state_dump}"...')
        load_training_state(resume_state_dump, net, optimizer)

    # Train.
    dist.print0(f'Training for {total_kimg} kimg...')
    dist.print0()
    cur_nimg = resume_kimg * 1000
    cur_tick = 0
    tick_start_nimg = cur_nimg
    tick_start_time = time.time()
    maintenance_time = tick_start_time - start_time
    dist.update_progress(cur_nimg // 1000, total_kimg)
    stats_jsonl = None
    while True:

        # Accumulate gradients.
        optimizer.zero_grad(set_to_none=True)
        for round_idx in range(num_accumulation_rounds):
            with _ddp_sync(ddp, (round_idx == num_accumulation_rounds - 1)):
                images, labels = next(dataset_iterator)
                images = images.to(device).to(torch.float32) / 127.5 - 1
                labels = labels.to(device)
                loss = loss_fn(net=ddp, images=images, labels=labels, augment_pipe=augment_pipe)
                training_stats.report('Loss/loss', loss)
                loss.sum().mul(loss_scaling / batch_gpu_total).backward()

        # Update weights.
        for g in optimizer.param_groups:
            g['lr'] = optimizer_kwargs['lr'] * min(cur_nimg / max(lr_rampup_kimg * 1000, 1e-8), 1)
        for param in net.parameters():
            if param.grad is not None:
                torch.nan_to_num(param.grad, nan=0, posinf=1e5, neginf=-1e5, out=param.grad)
        optimizer.step()

        # Update EMA.
        update_ema(ema, net, cur_nimg, batch_size, ema_halflife_kimg, ema_rampup_ratio)

        # Perform maintenance tasks once per tick.
        cur_nimg += batch_size
        done = (cur_nimg >= total_kimg * 1000)
        if (not done) and (cur_tick != 0) and (cur_nimg < tick_start_nimg + kimg_per_tick * 1000):
            continue

        # Print status line, accumulating the same information in training_stats.
        tick_end_time = time.time()
        fields = []
        fields += [f"tick {training_stats.report0('Progress/tick', cur_tick):<5d}"]
        fields += [f"kimg {training_stats.report0('Progress/kimg', cur_nimg / 1e3):<9.1f}"]
        fields += [f"time {dnnlib.util.format_time(training_stats.report0('Timing/total_sec', tick_end_time - start_time)):<12s}"]
        fields += [f"sec/tick {training_stats.report0('Timing/sec_per_tick', tick_end_time - tick_start_time):<7.1f}"]
        fields += [f"sec/kimg {training_stats.report0('Timing/sec_per_kimg', (tick_end_time - tick_start_time) / (cur_nimg - tick_start_nimg) * 1e3):<7.2f}"]
        fields += [f"maintenance {training_stats.report0('Timing/maintenance_sec', maintenance_time):<6.1f}"]
        fields += [f"cpumem {training_stats.report0('Resources/cpu_mem_gb', psutil.Process(os.getpid()).memory_info().rss / 2**30):<6.2f}"]
        gpumem = torch.cuda.max_memory_allocated(device) / 2**30 if device.type == 'cuda' else 0
        reserved = torch.cuda.max_memory_reserved(device) / 2**30 if device.type == 'cuda' else 0
        fields += [f"gpumem {training_stats.report0('Resources/peak_gpu_mem_gb', gpumem):<6.2f}"]
        fields += [f"reserved {training_stats.report0('Resources/peak_gpu_mem_reserved_gb', reserved):<6.2f}"]
        if device.type == 'cuda':
            torch.cuda.reset_peak_memory_stats()
        dist.print0(' '.join(fields))

        # Check for abort.
        if (not done) and dist.should_stop():
            done = True
            dist.print0()
            dist.print0('Aborting...')

        # Save network snapshot.
        if (snapshot_ticks is not None) and (done or cur_tick % snapshot_ticks == 0):
            path = os.path.join(run_dir, f'network-snapshot-{cur_nimg//1000:06d}.pkl') if run_dir is not None else None
            save_snapshot(path, ema=ema, loss_fn=loss_fn,
                augment_pipe=augment_pipe, dataset_kwargs=dataset_kwargs)

        # Save full dump of the training state.
        if (state_dump_ticks is not None) and (done or cur_tick % state_dump_ticks == 0) and cur_tick != 0 and dist.get_rank() == 0:
            save_training_state(os.path.join(run_dir, f'training-state-{cur_nimg//1000:06d}.pt'), net, optimizer)

        # Update logs.
        training_stats.default_collector.update()
        if dist.get_rank() == 0:
            if stats_jsonl is None:
                stats_jsonl = open(os.path.join(run_dir, 'stats.jsonl'), 'at')
            stats_jsonl.write(json.dumps(dict(training_stats.default_collector.as_dict(), timestamp=time.time())) + '\n')
            stats_jsonl.flush()
        dist.update_progress(cur_nimg // 1000, total_kimg)

        # Update state.
        cur_tick += 1
        tick_start_nimg = cur_nimg
        tick_start_time = time.time()
        maintenance_time = tick_start_time - tick_end_time
        if done:
            break

    # Done.
    if stats_jsonl is not None:
        stats_jsonl.close()
    dist.print0()
    dist.print0('Exiting...')
    return net, ema

#----------------------------------------------------------------------------
