#!/usr/bin/env python3
"""How smooth in t is a trained network's eps? Evaluates eps(x, t) of a diffusers model folder at one fixed x on a
fine grid t in [0.4, 0.6] (401 points) with `adjointdeis unet-vjp` (float64), fits a quartic in t per pixel, and
prints the RMS of eps, of its residual, of d eps/dt and d^2 eps/dt^2 (finite differences) and the residual's
dominant frequencies. The sinusoidal time embedding takes 1000 (t - 0.001), so its top feature oscillates
~160 times per unit t.

Usage: examples/network/time-wiggle.py ADJOINTDEIS_BINARY MODEL_DIR   (needs numpy and safetensors)
"""
import subprocess, sys, tempfile, os
import numpy as np
from safetensors.numpy import save_file, load_file

binary, model = sys.argv[1], sys.argv[2]
rng = np.random.default_rng(0)
x = rng.standard_normal((1, 1, 16, 16))
ts = np.linspace(0.40, 0.60, 401)
with tempfile.TemporaryDirectory() as d:
    X = np.repeat(x, len(ts), axis=0)
    save_file({"x": X, "t": 1000 * (ts - 1e-3), "cotangent": np.zeros_like(X)}, os.path.join(d, "in.safetensors"))
    subprocess.run([binary, "unet-vjp", "--model", model, "--inputs", os.path.join(d, "in.safetensors"),
                    "--output", os.path.join(d, "out.safetensors"), "--dtype", "float64"], check=True)
    e = load_file(os.path.join(d, "out.safetensors"))["eps"].reshape(len(ts), -1)
A = np.vander((ts - 0.5) / 0.1, 5)
coef, *_ = np.linalg.lstsq(A, e, rcond=None)
res = e - A @ coef
h = ts[1] - ts[0]
print("rms eps %.4g, rms residual after a quartic fit in t %.4g" % (np.sqrt((e**2).mean()), np.sqrt((res**2).mean())))
print("rms d eps/dt %.4g, rms d2 eps/dt2 %.4g" % (np.sqrt((np.diff(e, axis=0)**2).mean()) / h, np.sqrt((np.diff(e, 2, axis=0)**2).mean()) / h**2))
F = np.abs(np.fft.rfft(res, axis=0)).mean(axis=1)
fr = np.fft.rfftfreq(len(ts), h)
top = np.argsort(F)[-5:][::-1]
print("dominant residual frequencies (cycles per unit t):", ", ".join("%.0f" % f for f in fr[top]))
