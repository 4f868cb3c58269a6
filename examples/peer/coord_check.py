#!/usr/bin/env python3
"""The NumPy baseline of examples/bench_peer.rs: a coordinate check written the way
one would without tp.

The network is programs/mlp_mup.tp: a tanh MLP with 3 hidden layers in the maximal
update parameterization (muP), in Yang and Hu's abc form. Layer l applies
W^l = n^(-a_l) w^l, where the trained weights w^l start with N(0, n^(-2 b_l))
entries, and SGD on w uses the learning rate eta * n^(-c); muP is
a = (-1/2, 0, 0, 1/2), b = 1/2 for every layer, c = 0. One input
xi = (1, 1/2, -1/2) with target 1, loss (f - y)^2 / 2, eta = 1/2, 3 SGD steps.

Every weight matrix is materialized (n x n for the middle layers) and updated in
place, as a framework would. For each width, seed and step (0 = initialization) the
script records the RMS of the pre-activations h1, h2, h3 and |f|, averages them over
seeds, and fits the least-squares slope of log2(mean) against log2(n): about 0 for
the h's and -1/2 for f at step 0 in muP.

    python3 examples/peer/coord_check.py [--widths 128,256,...,4096] [--seeds 10]
                                         [--seed 0] [--steps 3]

Prints one line per (step, quantity) and then `wall_seconds=S`, the time spent
computing (not starting Python or importing NumPy), which bench_peer reads.
"""

import argparse
import time

import numpy as np

DEPTH = 3
A = [-0.5] + [0.0] * (DEPTH - 1) + [0.5]  # layer multipliers n^-a
B = [0.5] * (DEPTH + 1)  # initial standard deviations n^-b
C = 0.0  # learning-rate exponent
ETA = 0.5
XI = np.array([1.0, 0.5, -0.5])
TARGET = 1.0


def sizes_along_training(n, seed, steps):
    """RMS of h1..h3 and |f| at steps 0..steps for one network, as an array
    of shape (steps + 1, DEPTH + 1)."""
    rng = np.random.default_rng(seed)
    fan_in = [XI.size] + [n] * DEPTH
    fan_out = [n] * DEPTH + [1]
    weights = [
        rng.standard_normal((rows, cols)) * n ** -b
        for rows, cols, b in zip(fan_out, fan_in, B)
    ]
    mult = [n ** -a for a in A]
    lr = ETA * n ** -C
    sizes = np.empty((steps + 1, DEPTH + 1))
    for step in range(steps + 1):
        # Forward pass, keeping the layer inputs for the gradients.
        inputs = [XI]
        pre = []
        for layer in range(DEPTH):
            h = mult[layer] * (weights[layer] @ inputs[-1])
            pre.append(h)
            inputs.append(np.tanh(h))
        f = mult[DEPTH] * float(weights[DEPTH][0] @ inputs[-1])
        sizes[step, :DEPTH] = [np.sqrt(np.mean(h * h)) for h in pre]
        sizes[step, DEPTH] = abs(f)
        if step == steps:
            break
        # Backward pass: d loss / d f = f - y, then layer by layer down to layer 1.
        d_out = f - TARGET
        grads = [None] * (DEPTH + 1)
        grads[DEPTH] = (mult[DEPTH] * d_out) * inputs[DEPTH][np.newaxis, :]
        d_x = (mult[DEPTH] * d_out) * weights[DEPTH][0]
        for layer in reversed(range(DEPTH)):
            d_h = d_x * (1.0 - inputs[layer + 1] ** 2)  # tanh' = 1 - tanh^2
            grads[layer] = mult[layer] * np.outer(d_h, inputs[layer])
            if layer > 0:
                d_x = mult[layer] * (weights[layer].T @ d_h)
        for w, g in zip(weights, grads):
            w -= lr * g
    return sizes


def slope(log_n, log_y):
    """Least-squares slope of log_y against log_n."""
    dn = log_n - log_n.mean()
    return float(dn @ (log_y - log_y.mean()) / (dn @ dn))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--widths", default="128,256,512,1024,2048,4096")
    parser.add_argument("--seeds", type=int, default=10, help="networks per width")
    parser.add_argument("--seed", type=int, default=0, help="first seed")
    parser.add_argument("--steps", type=int, default=3, help="SGD steps")
    args = parser.parse_args()
    widths = [int(w) for w in args.widths.split(",")]
    seeds = range(args.seed, args.seed + args.seeds)

    start = time.perf_counter()
    # mean over seeds: shape (widths, steps + 1, DEPTH + 1)
    mean = np.array(
        [
            np.mean([sizes_along_training(n, s, args.steps) for s in seeds], axis=0)
            for n in widths
        ]
    )
    elapsed = time.perf_counter() - start

    names = [f"h{layer + 1}" for layer in range(DEPTH)] + ["f"]
    log_n = np.log2(widths)
    for step in range(args.steps + 1):
        for k, name in enumerate(names):
            print(f"step={step} {name:>2} slope={slope(log_n, np.log2(mean[:, step, k])):+.3f}")
    print(f"wall_seconds={elapsed:.3f}")


if __name__ == "__main__":
    main()
