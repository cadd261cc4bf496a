#!/usr/bin/env python3
"""Development check (not run by the tests): an independent high-accuracy gradient for a toy config.

Implements the mixture's eps with torch (float64, autograd for every Jacobian), integrates the probability-flow ODE
and the black-box adjoint with SciPy's DOP853 at rtol = atol = 1e-13, and compares with `adjointdeis gradient`'s JSON.

usage: scripts/dev/check_reference_torch.py CONFIG.json ADJOINTDEIS_BINARY
"""
import json, subprocess, sys
import numpy as np, torch
from scipy.integrate import solve_ivp

torch.set_default_dtype(torch.float64)
cfg = json.load(open(sys.argv[1]))
out = json.loads(subprocess.run([sys.argv[2], "gradient", "--config", sys.argv[1]], capture_output=True, text=True, check=True).stdout)
assert cfg["schedule"] == "vp-linear", "this check implements vp-linear only"
b0, b1 = 0.1, 20.0
T, teps = cfg["T"], cfg["t_eps"]
mdl = cfg["model"]
names = ["means", "logits", "W", "log_std"]
theta0 = [torch.tensor(mdl[n], dtype=torch.float64) for n in names]
z0 = torch.tensor(cfg["z"])
xT = torch.tensor(cfg["x_T"])
target = torch.tensor(cfg["loss"]["target"])

def log_alpha(t): return -(b1 - b0) * t * t / 4 - b0 * t / 2
def f_of(t): return -(b1 - b0) * t / 2 - b0 / 2               # d log alpha / dt

def eps(x, z, t, theta):
    means, logits, W, log_std = theta
    la = log_alpha(t); a2 = np.exp(2 * la); s2 = -np.expm1(2 * la)
    var = a2 * torch.exp(2 * log_std) + s2                        # K x d
    logpi = torch.log_softmax(logits + W @ z, 0)
    diff = x[None, :] - np.exp(la) * means
    logN = -0.5 * ((diff ** 2) / var + torch.log(2 * np.pi * var)).sum(1)
    r = torch.softmax(logpi + logN, 0)
    score = -(r[:, None] * diff / var).sum(0)
    return -np.sqrt(s2) * score

def rhs(t, x, z, theta):                                          # docs/math.md#pf-ode, g^2 = -2 f for VP
    f = f_of(t); s = np.sqrt(-np.expm1(2 * log_alpha(t)))
    return f * x + (-2 * f) / (2 * s) * eps(x, z, t, theta)

def forward(t, y):
    with torch.no_grad():
        return rhs(t, torch.tensor(y), z0, theta0).numpy()

sol = solve_ivp(forward, (T, teps), xT.numpy(), method="DOP853", rtol=1e-13, atol=1e-13, dense_output=True)
x0 = torch.tensor(sol.y[:, -1])
sizes = [p.numel() for p in theta0]
d, m = xT.numel(), z0.numel()

def adjoint(t, y):
    x = torch.tensor(sol.sol(t))
    a = torch.tensor(y[:d])
    z = z0.clone().requires_grad_(True)
    th = [p.clone().requires_grad_(True) for p in theta0]
    xr = x.clone().requires_grad_(True)
    fx = rhs(t, xr, z, th)
    g = torch.autograd.grad(fx, [xr, z] + th, grad_outputs=a)
    return np.concatenate([-g[0].numpy(), -g[1].numpy()] + [-gi.reshape(-1).numpy() for gi in g[2:]])

y0 = np.concatenate([(x0 - target).numpy(), np.zeros(m + sum(sizes))])
adj = solve_ivp(adjoint, (teps, T), y0, method="DOP853", rtol=1e-13, atol=1e-13)
y = adj.y[:, -1]
ref = {"grad_xT": y[:d], "grad_z": y[d:d + m]}
o = d + m
def flat(v): return np.array(v, dtype=float).reshape(-1)
for n, k in zip(names, sizes):
    ref[n] = y[o:o + k]; o += k
def rel(a, b): return np.linalg.norm(a - b) / np.linalg.norm(b)
print("x0      ", rel(flat(out["x0"]), x0.numpy()))
print("grad_xT ", rel(flat(out["grad_xT"]), ref["grad_xT"]))
print("grad_z  ", rel(flat(out["grad_z"]), ref["grad_z"]))
for n in names:
    print(f"{n:8s}", rel(flat(out["grad_theta"][n]), ref[n]))
