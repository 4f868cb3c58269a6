#!/usr/bin/env python3
"""The NumPy baseline of examples/bench_depth.rs: a depth-convergence check of a
residual network against its SDE limit, written the way one would without tp.

The network is programs/resnet_sde.tp (Cont, Rossier and Xu 2022, Thm 3): dimension
d = 4, depth L, h_(k+1) = h_k + sig(A_k h_k + b_k) with sig(x) = tanh(x) + tanh(x)^2/2,
A_k = Abar(k/L)/L + s dW_k and b_k = bbar(k/L)/L + s_b db_k, where dW_k and db_k have
N(0, 1/L) entries, s = s_b = 1/2. Its limit is the Ito SDE
    dH = [Abar_t H + bbar_t + (1/2) sig''(0) (s^2 |H|^2 + s_b^2) 1] dt + s dB^A H + s_b dB^b
with sig''(0) = 1. Each network's increments dW_k, db_k are split into R sub-increments
that drive an Euler-Maruyama solve of the limit at step 1/(R L) (a synchronous
coupling), so sup_k |h_k - H_(k/L)| measures the network's distance to its own limit
path. Seeds are vectorized: all networks of one depth advance together.

For each depth the script records, over seeds, the RMS of the pathwise error and the
mean displacement |h_L - x|/sqrt(d), and fits the least-squares slope of log2 of each
against log2(L): about -1/2 and 0.

    python3 examples/peer/depth_check.py [--depths 16,32,...,4096] [--seeds 32]
                                         [--refine 8] [--seed 0]

Prints one line per quantity and then `wall_seconds=S`, the time spent computing (not
starting Python or importing NumPy), which bench_depth reads.
"""

import argparse
import time

import numpy as np

D = 4
S = 0.5
S_B = 0.5
X = np.array([0.5, 0.25, -0.25, 0.5])


def sig(x):
    t = np.tanh(x)
    return t + 0.5 * t * t


def trend(t):
    c = 0.5 * np.cos(2 * np.pi * t)
    s = np.sin(2 * np.pi * t)
    return np.array(
        [[-1.0, -s, 0.0, 0.0], [s, -1.0, 0.0, 0.0], [0.0, 0.0, -1.0, c], [0.0, 0.0, -c, -1.0]]
    )


def bias_trend(t):
    return np.full(D, 0.1 * np.cos(2 * np.pi * t))


def run_depth(depth, seeds, refine, rng):
    """Pathwise errors and displacements of `seeds` networks of depth `depth`."""
    h = np.tile(X, (seeds, 1))
    lim = h.copy()
    err = np.zeros(seeds)
    dt = 1.0 / (depth * refine)
    for k in range(depth):
        # The fine increments of the Brownian motions; their sums are the layer's weights.
        dwf = rng.normal(0.0, np.sqrt(dt), size=(refine, seeds, D, D))
        dbf = rng.normal(0.0, np.sqrt(dt), size=(refine, seeds, D))
        dw = dwf.sum(axis=0)
        db = dbf.sum(axis=0)
        a = trend(k / depth) / depth
        pre = h @ a.T + S * np.einsum("sij,sj->si", dw, h) + bias_trend(k / depth) / depth + S_B * db
        h = h + sig(pre)
        for r in range(refine):
            t = (k * refine + r) * dt
            sq = (lim * lim).sum(axis=1, keepdims=True)
            drift = lim @ trend(t).T + bias_trend(t) + 0.5 * (S * S * sq + S_B * S_B)
            noise = S * np.einsum("sij,sj->si", dwf[r], lim) + S_B * dbf[r]
            lim = lim + drift * dt + noise
        err = np.maximum(err, np.sqrt(((h - lim) ** 2).sum(axis=1)))
    disp = np.sqrt(((h - X) ** 2).sum(axis=1) / D)
    return err, disp


def slope(xs, ys):
    x = np.log2(np.asarray(xs, dtype=float))
    y = np.log2(np.asarray(ys, dtype=float))
    return np.polyfit(x, y, 1)[0]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--depths", default=",".join(str(2**k) for k in range(4, 13)))
    p.add_argument("--seeds", type=int, default=32)
    p.add_argument("--refine", type=int, default=8)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    depths = [int(v) for v in args.depths.split(",")]
    rng = np.random.default_rng(args.seed)
    start = time.perf_counter()
    rms_err, mean_disp = [], []
    for depth in depths:
        err, disp = run_depth(depth, args.seeds, args.refine, rng)
        rms_err.append(np.sqrt(np.mean(err * err)))
        mean_disp.append(np.mean(disp))
    wall = time.perf_counter() - start
    print("depth  rms sup_k |h_k - H_k/L|  mean |h_L - x|/sqrt(d)")
    for depth, e, m in zip(depths, rms_err, mean_disp):
        print(f"{depth:>5}  {e:.4e}  {m:.4e}")
    print(f"slope pathwise error: {slope(depths, rms_err):+.3f} (SDE limit: -1/2)")
    print(f"slope displacement:   {slope(depths, mean_disp):+.3f} (derived: 0)")
    print(f"wall_seconds={wall:.3f}")


if __name__ == "__main__":
    main()
