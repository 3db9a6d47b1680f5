#!/usr/bin/env python3
"""PyTorch on the CPU as a benchmark peer (`npm run bench -- --peer torch`).

Times the same work as the engine's benchmark cases, named by their peer keys, and prints one
JSON line per key: {"key": ..., "ms": median milliseconds per run}. Channels-last tensors, the
given number of threads (default 2, the machine's cores). A development tool: the project and its
tests never need PyTorch.

Keys:
  conv2d:{fwd|dgrad|wgrad}:N,H,W,Cin,Cout,K,stride,pad
  matmul:M,N,K
  train-step:B,S          ResNet-18 x0.25 (CIFAR stem), S x S x 1, 10 classes, CE + SGD step
  refine-step:B,S         UNet c16 -> clamp -> frozen ResNet-18 x0.25 -> softmax -> remap -> BCE, SGD on the UNet
"""
import argparse
import json
import os
import statistics
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from refine import ResNet18, UNet  # noqa: E402


def timed(fn, budget_ms):
    for _ in range(2):
        fn()
    times = []
    start = time.perf_counter()
    while len(times) < 3 or (time.perf_counter() - start) * 1e3 < budget_ms:
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def case(key):
    kind, _, rest = key.partition(':')
    cl = torch.channels_last
    if kind == 'conv2d':
        pass_, dims = rest.split(':')
        n, h, w, ci, co, k, s, p = map(int, dims.split(','))
        x = torch.randn(n, ci, h, w).to(memory_format=cl)
        wt = torch.randn(co, ci, k, k).to(memory_format=cl)
        y = F.conv2d(x, wt, stride=s, padding=p)
        dy = torch.randn_like(y).to(memory_format=cl)
        if pass_ == 'fwd':
            return lambda: F.conv2d(x, wt, stride=s, padding=p)
        if pass_ == 'dgrad':
            return lambda: torch.nn.grad.conv2d_input(x.shape, wt, dy, stride=s, padding=p)
        if pass_ == 'wgrad':
            return lambda: torch.nn.grad.conv2d_weight(x, wt.shape, dy, stride=s, padding=p)
        return None
    if kind == 'matmul':
        m, n, k = map(int, rest.split(','))
        a, b = torch.randn(m, k), torch.randn(k, n)
        return lambda: a @ b
    if kind in ('train-step', 'refine-step'):
        bsz, s = map(int, rest.split(','))
        x = torch.rand(bsz, 1, s, s).to(memory_format=cl)
        f = ResNet18(1, [16, 32, 64, 128], 10).to(memory_format=cl)
        if kind == 'train-step':
            f.train()
            y = torch.arange(bsz) % 10
            opt = torch.optim.SGD(f.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)

            def step():
                loss = F.cross_entropy(f(x), y)
                opt.zero_grad()
                loss.backward()
                opt.step()
            return step
        f.eval()
        for q in f.parameters():
            q.requires_grad_(False)
        unet = UNet(1, 16).to(memory_format=cl)
        opt = torch.optim.SGD(unet.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
        perm = torch.tensor([1, 2, 3, 4, 5, 6, 7, 8, 9, 0])

        def step():
            with torch.no_grad():
                pseudo = F.one_hot(f(x).argmax(1), 10).float()
            p = F.softmax(f(unet(x).clamp(0, 1)), 1)[:, perm]
            loss = F.binary_cross_entropy(p.clamp(1e-7, 1 - 1e-7), pseudo)
            opt.zero_grad()
            loss.backward()
            opt.step()
        return step
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('keys', nargs='+')
    ap.add_argument('--time', type=float, default=1500, help='measuring time per key in ms')
    ap.add_argument('--threads', type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    print(json.dumps({'torch': torch.__version__, 'threads': torch.get_num_threads()}), flush=True)
    for key in a.keys:
        fn = case(key)
        if fn is None:
            print(json.dumps({'key': key, 'error': 'no PyTorch case for this key'}), flush=True)
            continue
        print(json.dumps({'key': key, 'ms': timed(fn, a.time)}), flush=True)


if __name__ == '__main__':
    main()
