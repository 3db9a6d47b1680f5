#!/usr/bin/env python3
"""REFINE in PyTorch on the CPU: the project's peer for checking REFINE recipes by hand.

A development tool, never needed by the project, its tests or its users. It reads the images
that `npm run export-refine-data` wrote for one attack (the same unlabeled subset, clean test set
and triggered test set as `npm run reproduce`) and the committed backdoored model, trains REFINE
with the recipe given on the command line, and prints BA / ASR on the test sets after every
epoch (one JSON line each), so that recipes can be compared about ten times faster than on
lavapipe. The numbers that the project reports come from the engine, not from this script.

The models follow the engine's: ResNet-18 (CIFAR stem, width multiplier from the checkpoint) and
the UNet of docs/method.md (DoubleConv blocks, bilinear up-sampling with align_corners=True).

usage: python3 bench/peers/torch/refine.py DATA_DIR [--steps 780] [--lr 0.1] [--schedule onecycle]
       [--pseudo augmented|plain|agree] [--crop 0.8|none] [--renorm] [--lam 0.1] ... (see --help)
"""
import argparse
import json
import math
import struct
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def load_safetensors(path):
    with open(path, 'rb') as f:
        n = struct.unpack('<Q', f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for k, v in header.items():
        if k == '__metadata__':
            continue
        a, b = v['data_offsets']
        dt = {'F32': np.float32, 'I64': np.int64, 'F64': np.float64}[v['dtype']]
        out[k] = torch.from_numpy(np.frombuffer(data[a:b], dtype=dt).reshape(v['shape']).copy())
    return out


class Block(nn.Module):
    def __init__(self, i, o, s):
        super().__init__()
        self.conv1 = nn.Conv2d(i, o, 3, s, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(o)
        self.conv2 = nn.Conv2d(o, o, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(o)
        self.shortcut = nn.Sequential()
        if s != 1 or i != o:
            self.shortcut = nn.Sequential(nn.Conv2d(i, o, 1, s, bias=False), nn.BatchNorm2d(o))

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(y)) + self.shortcut(x))


class ResNet18(nn.Module):
    def __init__(self, c_in, widths, classes):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, widths[0], 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        layers, i = [], widths[0]
        for li, (w, s) in enumerate(zip(widths, [1, 2, 2, 2])):
            layers.append(nn.Sequential(Block(i, w, s), Block(w, w, 1)))
            i = w
        self.layer1, self.layer2, self.layer3, self.layer4 = layers
        self.linear = nn.Linear(widths[3], classes)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.linear(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


def double_conv(i, o, mid=None):
    mid = mid or o
    return nn.Sequential(nn.Conv2d(i, mid, 3, padding=1), nn.BatchNorm2d(mid), nn.ReLU(True),
                         nn.Conv2d(mid, o, 3, padding=1), nn.BatchNorm2d(o), nn.ReLU(True))


class UNet(nn.Module):
    def __init__(self, ch, c):
        super().__init__()
        self.inc = double_conv(ch, c)
        self.downs = nn.ModuleList([double_conv(a, b) for a, b in [(c, 2 * c), (2 * c, 4 * c), (4 * c, 8 * c), (8 * c, 8 * c)]])
        self.ups = nn.ModuleList([double_conv(a, b, a // 2) for a, b in [(16 * c, 4 * c), (8 * c, 2 * c), (4 * c, c), (2 * c, c)]])
        self.outc = nn.Conv2d(c, ch, 1)

    def forward(self, x):
        skips = [self.inc(x)]
        for d in self.downs:
            skips.append(d(F.max_pool2d(skips[-1], 2)))
        h = skips[4]
        for i, u in enumerate(self.ups):
            s = skips[3 - i]
            h = F.interpolate(h, scale_factor=2, mode='bilinear', align_corners=True)
            dh, dw = s.shape[2] - h.shape[2], s.shape[3] - h.shape[3]
            h = F.pad(h, [dw // 2, dw - dw // 2, dh // 2, dh - dh // 2])
            h = u(torch.cat([s, h], 1))
        return self.outc(h)


def supcon(z, labels, tau=0.07):
    """SupCon with two identical views (the official call), via the 2B x 2B matrix."""
    z = torch.cat([z, z], 0)
    lab = torch.cat([labels, labels], 0)
    sim = z @ z.t() / tau
    sim = sim - sim.max(1, keepdim=True).values.detach()
    n = z.shape[0]
    eye = torch.eye(n, dtype=torch.bool)
    pos = (lab[:, None] == lab[None, :]) & ~eye
    logp = sim - torch.log((torch.exp(sim) * (~eye)).sum(1, keepdim=True))
    return -((logp * pos).sum(1) / pos.sum(1).clamp(min=1)).mean()


def resized_crop(x, scale, gen):
    """torchvision RandomResizedCrop (ratio 3/4..4/3, bilinear, no antialias) on uint8-valued floats [N,C,H,W]."""
    n, c, h, w = x.shape
    out = torch.empty_like(x)
    area = h * w
    for k in range(n):
        for _ in range(10):
            a = area * (scale[0] + (scale[1] - scale[0]) * torch.rand(1, generator=gen).item())
            r = math.exp(math.log(3 / 4) + (math.log(4 / 3) - math.log(3 / 4)) * torch.rand(1, generator=gen).item())
            cw, ch = int(round(math.sqrt(a * r))), int(round(math.sqrt(a / r)))
            if 0 < cw <= w and 0 < ch <= h:
                top = int(torch.randint(0, h - ch + 1, (1,), generator=gen))
                left = int(torch.randint(0, w - cw + 1, (1,), generator=gen))
                break
        else:
            ch, cw, top, left = h, w, 0, 0
        crop = x[k:k + 1, :, top:top + ch, left:left + cw]
        out[k] = F.interpolate(crop, size=(h, w), mode='bilinear', align_corners=False)[0].round().clamp(0, 255)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('data')
    ap.add_argument('--steps', type=int, default=780)
    ap.add_argument('--batch', type=int, default=128)
    ap.add_argument('--images', type=int, default=10000, help='unlabeled images (first N of the export)')
    ap.add_argument('--lr', type=float, default=0.1)
    ap.add_argument('--opt', default='sgd', choices=['sgd', 'adam'])
    ap.add_argument('--schedule', default='onecycle', choices=['onecycle', 'constant', 'cosine'])
    ap.add_argument('--wd', type=float, default=5e-4)
    ap.add_argument('--lam', type=float, default=0.1)
    ap.add_argument('--unet', type=int, default=16)
    ap.add_argument('--pseudo', default='augmented', choices=['augmented', 'plain', 'agree'])
    ap.add_argument('--crop', default='0.8', help="RandomResizedCrop's lower scale, or 'none'")
    ap.add_argument('--flip', type=float, default=0.5)
    ap.add_argument('--brightness', type=float, default=0, help='ColorJitter brightness: x * U(1-b, 1+b)')
    ap.add_argument('--contrast', type=float, default=0, help='ColorJitter contrast: blend with the image mean grey by U(1-c, 1+c)')
    ap.add_argument('--noise', type=float, default=0, help='Gaussian pixel noise, std in [0,1] units')
    ap.add_argument('--rotate', type=float, default=0, help='random rotation by U(-d, d) degrees (bilinear, zero fill) after the crop and flip')
    ap.add_argument('--rotate-p', type=float, default=1, help='share of the images --rotate rotates (the others keep angle 0)')
    ap.add_argument('--soft', type=float, default=0, help="soft targets: the classifier's softmax at this temperature on the pseudo-labels' images instead of one-hot (0: one-hot, the official code)")
    ap.add_argument('--renorm', action='store_true', help='normalise T(x) before the classifier (the official code does not)')
    ap.add_argument('--residual', action='store_true', help='T(x) = x_pixels + UNet(x)')
    ap.add_argument('--eval-every', type=int, default=78)
    ap.add_argument('--eval-images', type=int, default=2000)
    ap.add_argument('--ema', type=float, default=0, help='also evaluate an exponential moving average of the UNet (decay per step, e.g. 0.99)')
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--mapping', default='derangement', choices=['derangement', 'identity'], help="the output label mapping ('identity': the paper's w/o HRF ablation)")
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--tag', default='')
    ap.add_argument('--no-defense', action='store_true', help="print the undefended classifier's BA / ASR on the evaluation images and exit")
    ap.add_argument('--bn-recal', action='store_true', help="after training, also evaluate with the UNet's batch-norm statistics recomputed over the unlabeled images (an exact average instead of the running one)")
    ap.add_argument('--save', default='', help='write the final UNet (and the permutation) here with torch.save')
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    gen = torch.Generator().manual_seed(a.seed)
    meta = json.load(open(f'{a.data}/meta.json'))
    h, w, c = meta['h'], meta['w'], meta['c']
    mean = torch.tensor(meta['normalization']['mean']).view(1, c, 1, 1)
    std = torch.tensor(meta['normalization']['std']).view(1, c, 1, 1)

    def imgs(name, n):
        x = np.fromfile(f'{a.data}/{name}.u8', dtype=np.uint8).reshape(-1, h, w, c)[:n]
        return torch.from_numpy(x.copy()).permute(0, 3, 1, 2).float()

    train = imgs('refine', a.images)
    test = imgs('test', a.eval_images)
    test_y = torch.from_numpy(np.fromfile(f'{a.data}/test_labels.u8', dtype=np.uint8)[:a.eval_images].astype(np.int64))
    asr = imgs('asr', a.eval_images)
    sd = load_safetensors(meta['model'])
    widths = [sd[f'layer{i}.0.conv1.weight'].shape[0] for i in range(1, 5)]
    k = sd['linear.weight'].shape[0]
    model = ResNet18(c, widths, k)
    model.load_state_dict({kk: v for kk, v in sd.items()}, strict=True)
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    if a.no_defense:
        with torch.no_grad():
            mn = lambda x: (x / 255 - mean) / std
            ba = (model(mn(test)).argmax(1) == test_y).float().mean().item()
            asr_rate = (model(mn(asr)).argmax(1) == meta['target']).float().mean().item()
        print(json.dumps({'tag': a.tag, 'images': test.shape[0], 'noDefenseBA': round(ba, 4), 'noDefenseASR': round(asr_rate, 4)}))
        return
    g = torch.Generator().manual_seed(a.seed + 1)
    while True:  # a random derangement
        perm = torch.randperm(k, generator=g)
        if not (perm == torch.arange(k)).any():
            break
    if a.mapping == 'identity':
        perm = torch.arange(k)
    unet = UNet(c, a.unet)
    norm = lambda x: (x / 255 - mean) / std

    def defended(xn, x_pixels):
        t = unet(xn)
        if a.residual:
            t = t + x_pixels
        t = t.clamp(0, 1)
        logits = model((t - mean) / std if a.renorm else t)
        return t, F.softmax(logits, 1)[:, perm]

    params = list(unet.parameters())
    opt = torch.optim.SGD(params, lr=a.lr, momentum=0.9, weight_decay=a.wd) if a.opt == 'sgd' else torch.optim.Adam(params, lr=a.lr, weight_decay=0)
    if a.schedule == 'onecycle':
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=a.lr, total_steps=a.steps, cycle_momentum=(a.opt == 'sgd'))
    elif a.schedule == 'cosine':
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, a.steps)
    else:
        sched = None

    ema = {k: v.detach().clone() for k, v in unet.state_dict().items()} if a.ema > 0 else None

    @torch.no_grad()
    def ema_update():
        for k, v in unet.state_dict().items():
            if v.dtype.is_floating_point:
                ema[k].mul_(a.ema).add_(v.detach(), alpha=1 - a.ema)
            else:
                ema[k].copy_(v)

    @torch.no_grad()
    def evaluate_ema():
        live = {k: v.detach().clone() for k, v in unet.state_dict().items()}
        unet.load_state_dict(ema)
        out = evaluate()
        unet.load_state_dict(live)
        return out

    @torch.no_grad()
    def evaluate():
        unet.eval()
        ba = asr_hits = 0
        for s in range(0, test.shape[0], 500):
            _, y = defended(norm(test[s:s + 500]), test[s:s + 500] / 255)
            ba += (y.argmax(1) == test_y[s:s + 500]).sum().item()
            _, y = defended(norm(asr[s:s + 500]), asr[s:s + 500] / 255)
            asr_hits += (y.argmax(1) == meta['target']).sum().item()
        unet.train()
        return ba / test.shape[0], asr_hits / asr.shape[0]

    crop = None if a.crop == 'none' else (float(a.crop), 1.0)

    def photometric(x, gen):
        """torchvision ColorJitter's brightness and contrast (random order skipped: brightness first), then noise."""
        if a.brightness == 0 and a.contrast == 0 and a.noise == 0:
            return x
        n = x.shape[0]
        if a.brightness > 0:
            b = 1 - a.brightness + 2 * a.brightness * torch.rand(n, 1, 1, 1, generator=gen)
            x = (x * b).clamp(0, 255)
        if a.contrast > 0:
            c = 1 - a.contrast + 2 * a.contrast * torch.rand(n, 1, 1, 1, generator=gen)
            m = x.mean(1, keepdim=True).mean((2, 3), keepdim=True)
            x = ((x - m) * c + m).clamp(0, 255)
        if a.noise > 0:
            x = (x + 255 * a.noise * torch.randn(x.shape, generator=gen)).clamp(0, 255)
        return x.round()
    def rotate(x, degrees):
        """Rotates each image of x [n, c, h, w] (0-255) about its centre, bilinear, zero outside."""
        r = degrees * math.pi / 180
        cos, sin = torch.cos(r), torch.sin(r)
        theta = torch.stack([torch.stack([cos, -sin, torch.zeros_like(r)], 1), torch.stack([sin, cos, torch.zeros_like(r)], 1)], 1)
        grid = F.affine_grid(theta, list(x.shape), align_corners=False)
        return F.grid_sample(x, grid, mode='bilinear', padding_mode='zeros', align_corners=False).round()

    step, t0 = 0, time.time()
    n = train.shape[0]
    while step < a.steps:
        order = torch.randperm(n, generator=gen)
        for s in range(0, n - a.batch + 1, a.batch):
            if step >= a.steps:
                break
            plain = train[order[s:s + a.batch]]
            x = resized_crop(plain, crop, gen) if crop else plain.clone()
            if a.flip > 0:
                f = torch.rand(x.shape[0], generator=gen) < a.flip
                x[f] = x[f].flip(3)
                plain = plain.clone()
                plain[f] = plain[f].flip(3)
            if a.rotate > 0:
                angle = (2 * torch.rand(x.shape[0], generator=gen) - 1) * a.rotate
                if a.rotate_p < 1:
                    angle = angle * (torch.rand(x.shape[0], generator=gen) < a.rotate_p).float()
                x = rotate(x, angle)
            x = photometric(x, gen)
            xn = norm(x)
            with torch.no_grad():
                la = model(xn)
                lp = model(norm(plain)) if a.pseudo != 'augmented' else la
                pa, pp = la.argmax(1), lp.argmax(1)
            pseudo = pa if a.pseudo == 'augmented' else pp
            t, y = defended(xn, x / 255)
            target = F.softmax((la if a.pseudo == 'augmented' else lp) / a.soft, 1) if a.soft > 0 else F.one_hot(pseudo, k).float()
            bce = F.binary_cross_entropy(y.clamp(1e-7, 1 - 1e-7), target, reduction='none').mean(1)
            if a.pseudo == 'agree':
                keep = (pa == pp).float()
                bce = (bce * keep).sum() / keep.sum().clamp(min=1)
            else:
                bce = bce.mean()
            loss = bce + (a.lam * supcon(F.normalize(t.flatten(1), dim=1), pseudo) if a.lam > 0 else 0)
            opt.zero_grad()
            loss.backward()
            opt.step()
            if sched:
                sched.step()
            if ema is not None:
                ema_update()
            step += 1
            if step % a.eval_every == 0 or step == a.steps:
                ba, asr_rate = evaluate()
                row = {'tag': a.tag, 'step': step, 'BA': round(ba, 4), 'ASR': round(asr_rate, 4), 'loss': round(loss.item(), 4), 'sec': round(time.time() - t0, 1)}
                if ema is not None:
                    eba, easr = evaluate_ema()
                    row.update({'emaBA': round(eba, 4), 'emaASR': round(easr, 4)})
                print(json.dumps(row), flush=True)
    if a.bn_recal:
        # the running statistics average the last ~10 steps' batches of a still-moving UNet; an
        # exact average over the unlabeled set (un-augmented) with the final weights
        with torch.no_grad():
            for m in unet.modules():
                if isinstance(m, nn.BatchNorm2d):
                    m.reset_running_stats()
                    m.momentum = None
            unet.train()
            for s in range(0, n, 500):
                unet(norm(train[s:s + 500]))
        ba, asr_rate = evaluate()
        print(json.dumps({'tag': a.tag, 'step': step, 'bnRecalBA': round(ba, 4), 'bnRecalASR': round(asr_rate, 4)}), flush=True)
    if a.save:
        torch.save({'unet': unet.state_dict(), 'ema': ema, 'perm': perm, 'args': vars(a)}, a.save)


if __name__ == '__main__':
    main()
