#!/usr/bin/env python3
"""Time the training step of a PyTorch twin of one of the kit's models (see twins.py); `lightvit bench` runs this.

    python3 bench/torch/bench.py --spec SPEC.json [--batch 64] [--steps 10] [--warmup 2] [--threads 1] [--check]

SPEC.json: {"family": <kit model class>, "config": <the kit's resolved config>, "extra": {...},
            "params": <the kit's trainable parameter count>}.
The twin is built, its trainable parameters are counted and compared with `params` BEFORE any timing: a mismatch
exits with status 3 and a message naming both counts. Then `warmup` + `steps` training steps on one fixed batch of
N(0, 1) images and uniform labels: forward, softmax cross-entropy (+ the model's auxiliary loss, e.g. mLiT's load
balancing), backward, Adam lr 1e-3 (the kit's AdamW with weight decay 0), as the kit's bench step.
Prints one JSON line: {"engine": "pytorch", "img_per_s": ..., "ms_per_step": ..., "params": ..., ...}.

Debian: apt-get install python3-torch libopenblas0-pthread (torch is installed for /usr/bin/python3).
"""
import argparse
import json
import os
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ inside the repository
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import torch  # noqa: E402

import twins  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--spec", required=True, help="JSON file with family, config, extra, params")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (0: leave as OMP_NUM_THREADS says)")
    ap.add_argument("--check", action="store_true", help="build the twin and check its parameter count; no timing")
    a = ap.parse_args()
    with open(a.spec, encoding="utf8") as f:
        spec = json.load(f)
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    # Flush denormals to zero: on one memorised batch the gradients shrink into the denormal range within a few
    # steps, which made the same twin up to ~1.9x slower on this CPU. The faster setting is the fair reference.
    torch.set_flush_denormal(True)
    torch.manual_seed(0)
    try:
        model = twins.build(spec["family"], spec["config"], spec.get("extra"))
    except twins.UnsupportedConfig as e:
        print(f"no twin: {e}", file=sys.stderr)
        sys.exit(2)
    params = sum(p.numel() for p in model.parameters() if p.requires_grad)
    expected = spec.get("params")
    if expected is not None and params != expected:
        print(f"twin of {spec['family']} has {params} trainable parameters; the kit's model has {expected}",
              file=sys.stderr)
        sys.exit(3)
    if a.check:
        print(json.dumps({"engine": "pytorch", "family": spec["family"], "params": params, "version": torch.__version__}))
        return
    c = spec["config"]
    model.train()
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    x = torch.randn(a.batch, c["inChannels"], c["imageSize"], c["imageSize"])
    y = torch.randint(0, c["numClasses"], (a.batch,))

    def step():
        opt.zero_grad(set_to_none=True)
        logits, aux = model(x)
        loss = torch.nn.functional.cross_entropy(logits, y)
        if aux is not None:
            loss = loss + aux
        loss.backward()
        opt.step()
        return loss.item()

    for _ in range(a.warmup):
        step()
    t0 = time.perf_counter()
    last = float("nan")
    for _ in range(a.steps):
        last = step()
    dt = (time.perf_counter() - t0) / a.steps
    print(json.dumps({
        "engine": "pytorch", "family": spec["family"], "version": torch.__version__,
        "threads": torch.get_num_threads(), "params": params, "batch": a.batch, "steps": a.steps,
        "ms_per_step": round(dt * 1000, 2), "img_per_s": round(a.batch / dt, 1), "final_loss": round(last, 4),
    }))


if __name__ == "__main__":
    main()
