"""A real, small training run for the main example: a one-hidden-layer MLP trained with numpy
minibatch SGD on a three-arm spiral generated deterministically, scored by held-out cross-entropy.

Its flags are what autotune tunes; it writes eval_loss, eval_accuracy and the training time in
seconds (mean_e2e_latency, for the latency examples) as one JSON object to
$AUTOTUNE_METRICS_FILE (or stdout when run by hand). After every epoch it prints a progress line,
{"step": epoch, "eval_loss": ...}, which early stopping judges the run by.
"""
import argparse
import json
import time

import numpy as np
from results import write_result


def spiral(n_per_class: int, classes: int = 3, noise: float = 0.25, seed: int = 0):
    rng = np.random.default_rng(seed)
    xs, ys = [], []
    for c in range(classes):
        r = np.linspace(0.05, 1.0, n_per_class)
        t = np.linspace(c * 4.2, (c + 1) * 4.2, n_per_class) + rng.normal(0, noise, n_per_class)
        xs.append(np.c_[r * np.sin(t), r * np.cos(t)])
        ys.append(np.full(n_per_class, c))
    x, y = np.concatenate(xs), np.concatenate(ys)
    order = rng.permutation(len(y))
    return x[order], y[order]


def cross_entropy(logits, y):
    logits = logits - logits.max(axis=1, keepdims=True)
    logp = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    return -logp[np.arange(len(y)), y].mean(), logp


def train(lr, batch_size, epochs, l2, hidden, seed=0, on_epoch=None):
    """Train, then return (eval loss, eval accuracy). `on_epoch(epoch, eval_loss)` is called after every
    epoch (1-based); it may raise to end the run there (in-process pruning: Optuna, the benchmark)."""
    x, y = spiral(400)
    split = int(0.75 * len(y))
    (xt, yt), (xe, ye) = (x[:split], y[:split]), (x[split:], y[split:])
    rng = np.random.default_rng(seed)
    w1 = rng.normal(0, 1 / np.sqrt(2), (2, hidden))
    b1 = np.zeros(hidden)
    w2 = rng.normal(0, 1 / np.sqrt(hidden), (hidden, 3))
    b2 = np.zeros(3)
    for epoch in range(1, epochs + 1):
        order = rng.permutation(len(yt))
        for start in range(0, len(yt), batch_size):
            idx = order[start:start + batch_size]
            xb, yb = xt[idx], yt[idx]
            h = np.tanh(xb @ w1 + b1)
            _, logp = cross_entropy(h @ w2 + b2, yb)
            g = np.exp(logp)
            g[np.arange(len(yb)), yb] -= 1
            g /= len(yb)
            gh = (g @ w2.T) * (1 - h ** 2)
            w2 -= lr * (h.T @ g + l2 * w2)
            b2 -= lr * g.sum(axis=0)
            w1 -= lr * (xb.T @ gh + l2 * w1)
            b1 -= lr * gh.sum(axis=0)
        logits = np.tanh(xe @ w1 + b1) @ w2 + b2
        loss, _ = cross_entropy(logits, ye)
        if on_epoch is not None:
            on_epoch(epoch, float(loss))
    if epochs < 1:
        logits = np.tanh(xe @ w1 + b1) @ w2 + b2
        loss, _ = cross_entropy(logits, ye)
    return float(loss), float((logits.argmax(axis=1) == ye).mean())


def report_progress(epoch, eval_loss):
    """One progress line on stdout, flushed so autotune sees it while the run goes on."""
    print(json.dumps({"step": epoch, "eval_loss": eval_loss}), flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--l2", type=float, default=1e-4)
    parser.add_argument("--hidden", type=int, default=32)
    args = parser.parse_args()
    started = time.perf_counter()
    with np.errstate(all="ignore"):  # a diverging learning rate gives nan: a failed trial, not a crash
        loss, accuracy = train(args.lr, args.batch_size, args.epochs, args.l2, args.hidden, on_epoch=report_progress)
    write_result({"eval_loss": loss, "eval_accuracy": accuracy, "mean_e2e_latency": time.perf_counter() - started})


if __name__ == "__main__":
    main()
