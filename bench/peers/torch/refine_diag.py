#!/usr/bin/env python3
"""Where do triggered images go through a trained REFINE UNet? A development tool beside refine.py.

usage: python3 bench/peers/torch/refine_diag.py UNET.pt DATA_DIR

UNET.pt is a UNet saved by `refine.py --save`, DATA_DIR an `npm run export-refine-data` folder of
the Blended attack. On the first 2,000 non-target clean test images and their triggered copies it
prints, for the input as it is and for variants of it (a raised background without the pattern, a
uniform offset, a contrast cut), the share the frozen classifier F puts on the target, the share
the defended model y = M(F(T(x))) classifies correctly and as the target, and the histogram of
F(T(x)): it shows whether the triggered images reach the target through the UNet's own output.
"""
import importlib.util
import json
import os
import sys

import numpy as np
import torch

here = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location('refine_peer', os.path.join(here, 'refine.py'))
r = importlib.util.module_from_spec(spec)
spec.loader.exec_module(r)


def main():
    if len(sys.argv) != 3:
        print(__doc__.split('\n\n')[1])
        sys.exit(1)
    ckpt, data = sys.argv[1], sys.argv[2]
    torch.set_num_threads(2)
    meta = json.load(open(f'{data}/meta.json'))
    sd = r.load_safetensors(meta['model'])
    widths = [sd[f'layer{i}.0.conv1.weight'].shape[0] for i in range(1, 5)]
    model = r.ResNet18(meta['c'], widths, sd['linear.weight'].shape[0])
    model.load_state_dict(sd)
    model.eval()
    ck = torch.load(ckpt)
    unet = r.UNet(meta['c'], ck['args']['unet'])
    unet.load_state_dict(ck['unet'])
    unet.eval()
    inverse = torch.argsort(ck['perm'])  # y = softmax(F)[:, perm]: argmax y = perm⁻¹(argmax F)
    mean = torch.tensor(meta['normalization']['mean']).view(1, -1, 1, 1)
    std = torch.tensor(meta['normalization']['std']).view(1, -1, 1, 1)
    norm = lambda x: (x / 255 - mean) / std
    target = meta['target']
    h, w, c = meta['h'], meta['w'], meta['c']
    load = lambda name: torch.from_numpy(np.fromfile(f'{data}/{name}.u8', dtype=np.uint8).reshape(-1, h, w, c).copy()).permute(0, 3, 1, 2).float()
    labels = torch.from_numpy(np.fromfile(f'{data}/test_labels.u8', dtype=np.uint8).astype(np.int64))
    n = 2000
    keep = labels != target  # the triggered set is the non-target test images, in order
    clean, y = load('test')[keep][:n], labels[keep][:n]
    trig = load('asr')[:n]
    mu = clean.mean((1, 2, 3), keepdim=True)
    print(f'mapping {ck["perm"].tolist()}: the target {target} is output where F(T(x)) = {ck["perm"][target].item()}')
    for name, x in [('clean', clean), ('triggered', trig), ('0.9 x + 25 (no pattern)', (0.9 * clean + 25.5).round()),
                    ('x + 25', (clean + 25).clamp(0, 255)), ('contrast 0.8', ((clean - mu) * 0.8 + mu).round())]:
        with torch.no_grad():
            f = model(norm(x)).argmax(1)
            t = unet(norm(x)).clamp(0, 1)
            ft = model((t - mean) / std).argmax(1)
            out = inverse[ft]
        print(f'{name:26s} F(x) = target {(f == target).float().mean():.3f} | defended: correct {(out == y).float().mean():.3f}, '
              f'target {(out == target).float().mean():.3f} | F(T(x)) histogram {np.bincount(ft.numpy(), minlength=len(inverse)).tolist()}')


if __name__ == '__main__':
    main()
