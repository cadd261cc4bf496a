#!/usr/bin/env python3
"""PyTorch CPU reference timings for a UNet2DModel: forward, and forward + VJP (w.r.t. x and every parameter).

    python3 scripts/bench_pytorch.py --config Tests/NeuralCoreTests/Fixtures/ddpm-cifar10-32-config.json --batch 8

--config is a config.json or a model folder holding one; the weights are random (only the cost is measured).
Prints one JSON object; times are medians in milliseconds over --runs runs after --warmup runs.
With --memory it runs one forward + VJP only and prints the resident memory before it and the process's peak (MB).
With --profile it runs --runs forward + VJP passes under torch.profiler and prints self CPU time per pass by operator
and by kernel category (the counterpart of `adjointdeis bench unet --profile`).
"""
import argparse
import json
import os
import re
import statistics
import time

import diffusers
import torch
from diffusers import UNet2DModel


def timed(fn, warmup, runs):
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000.0)
    return samples


# operator-name fragments -> the categories of `bench unet --profile` (first match wins)
CATEGORIES = [
    ("convolution_backward", "convolution data + weight gradient"),
    ("convolution", "convolution forward"),
    ("group_norm_backward", "GroupNorm backward"),
    ("group_norm", "GroupNorm forward"),
    ("silu_backward", "SiLU backward"),
    ("silu", "SiLU forward"),
    ("attention", "attention core"),
    ("softmax", "attention core"),
    ("bmm", "attention core"),
    ("addmm", "linear (time embedding, attention projections)"),
    ("aten::mm", "linear (time embedding, attention projections)"),
]


def category(name):
    for fragment, label in CATEGORIES:
        if fragment in name:
            return label
    return "other (elementwise, copies, reshapes)"


def profile(fn, warmup, runs):
    for _ in range(warmup):
        fn()
    activities = [torch.profiler.ProfilerActivity.CPU]
    with torch.profiler.profile(activities=activities) as prof:
        start = time.perf_counter()
        for _ in range(runs):
            fn()
        wall = (time.perf_counter() - start) * 1000.0 / runs
    ops = {}
    for e in prof.key_averages():
        ops[e.key] = ops.get(e.key, 0.0) + e.self_cpu_time_total / 1000.0 / runs
    cats = {}
    for name, ms in ops.items():
        cats[category(name)] = cats.get(category(name), 0.0) + ms
    top = sorted(ops.items(), key=lambda kv: -kv[1])[:20]
    return {
        "wall_ms_per_pass": round(wall, 2),
        "categories_ms_per_pass": {k: round(v, 2) for k, v in sorted(cats.items(), key=lambda kv: -kv[1])},
        "top_operators_ms_per_pass": {k: round(v, 2) for k, v in top},
    }


def machine():
    """The ISA PyTorch dispatches its own kernels for, and what it is built with."""
    info = {"cpu_capability": torch.backends.cpu.get_cpu_capability(), "mkldnn": torch.backends.mkldnn.is_available()}
    found = re.search(r"BLAS_INFO=([^,\s]+)", torch.__config__.show())
    info["blas"] = found.group(1) if found else "?"
    return info


def status_mb(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", required=True)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    parser.add_argument("--memory", action="store_true", help="peak resident memory of one forward + VJP")
    parser.add_argument("--profile", action="store_true", help="per-operator self CPU time of forward + VJP")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    dtype = getattr(torch, args.dtype)
    config = UNet2DModel.load_config(args.config)
    model = UNet2DModel.from_config(config).to(dtype).eval()
    params = [p for p in model.parameters()]
    size = model.config.sample_size
    size = size if isinstance(size, int) else size[0]
    x = torch.randn(args.batch, model.config.in_channels, size, size, dtype=dtype)
    t = torch.randint(0, 1000, (args.batch,)).to(dtype)
    cotangent = torch.randn(args.batch, model.config.out_channels, size, size, dtype=dtype)
    z = None
    if model.config.class_embed_type == "identity":
        z = 0.1 * torch.randn(args.batch, model.time_embedding.linear_2.out_features, dtype=dtype)

    def forward():
        with torch.no_grad():
            return model(x, t, class_labels=z).sample

    def forward_vjp():
        xs = x.detach().requires_grad_(True)
        eps = model(xs, t, class_labels=z).sample
        return torch.autograd.grad(eps, [xs] + params, grad_outputs=cotangent)

    if args.memory:
        before = status_mb("VmRSS:")
        grads = forward_vjp()
        assert all(torch.isfinite(g).all() for g in grads)
        print(json.dumps({"rss_before_mb": round(before, 1), "peak_rss_mb": round(status_mb("VmHWM:"), 1)}))
        return

    if args.profile:
        result = {"batch": args.batch, "dtype": args.dtype, "threads": torch.get_num_threads(), "runs": args.runs}
        result.update(machine())
        result.update(profile(forward_vjp, args.warmup, args.runs))
        result.update({"torch": torch.__version__, "diffusers": diffusers.__version__})
        print(json.dumps(result, indent=2))
        return

    fwd = timed(forward, args.warmup, args.runs)
    vjp = timed(forward_vjp, args.warmup, args.runs)
    print(json.dumps({
        "config": os.path.relpath(args.config),
        "parameters": sum(p.numel() for p in params),
        "batch": args.batch,
        "dtype": args.dtype,
        "threads": torch.get_num_threads(),
        "runs": args.runs,
        "warmup": args.warmup,
        "forward_ms_median": round(statistics.median(fwd), 3),
        "forward_vjp_ms_median": round(statistics.median(vjp), 3),
        "forward_ms_min": round(min(fwd), 3),
        "forward_vjp_ms_min": round(min(vjp), 3),
        "forward_ms_all": [round(v, 1) for v in fwd],
        "forward_vjp_ms_all": [round(v, 1) for v in vjp],
        "torch": torch.__version__,
        "diffusers": diffusers.__version__,
        **machine(),
    }, indent=2))


if __name__ == "__main__":
    main()
