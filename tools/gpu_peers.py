#!/usr/bin/env python3
"""gpu_peers.py: times other libraries' matmuls on the shapes of qlab's first GPU call.

On a GPU machine with torch (no network needed), for the LLM.int8() paper's Table 5
shapes of experiments/gpu-first.yaml (k = d, n = 4d for d = 768 ... 12288, prefill
m = 2048 and decode m = 16) and the same data distributions, this times:

  peer torch         op fp16_mm   torch.nn.functional.linear in fp16 (cuBLAS)
                     op int8_mm   stage gemm_i8: torch._int_mm alone (int8 x int8 -> int32);
                                  stage total: row-wise absmax quantization of X, _int_mm
                                  and the dequantization by the outer product of the
                                  scales, in eager torch (the scope of qlab's "total")
  peer bitsandbytes  op bnb_int8   bitsandbytes.nn.Linear8bitLt forward (has_fp16_weights
                                  False), threshold 0 (vector-wise int8) and 6 (LLM.int8())

and writes a JSON file that `qlab import-peers` reads into a results file:

  {"format": "qlab-peers", "format_version": 1, "experiment": "gpu-first",
   "device": "NVIDIA H200", "seed": 7,
   "x": {"dist": "normal", "std": 1.0, "df": 0, "outlier_cols": 0.001, "outlier_scale": 20},
   "w": {"dist": "normal", "std": 0.02, "df": 0, "outlier_cols": 0, "outlier_scale": 1},
   "versions": {"python": ..., "torch": ..., "cuda": ..., "bitsandbytes": ... or null},
   "timing": {"warmup": 10, "min_samples": 20, ..., "l2_flush_bytes": ...},
   "skipped": [{"peer": "bitsandbytes", "reason": "..."}],
   "points": [
    {"peer": "torch", "op": "fp16_mm", "m": 16, "k": 768, "n": 3072, "threshold": 0,
     "status": "ok", "message": "", "w_code_bytes": 4718592, "w_scale_bytes": 0,
     "w_outlier_bytes": 0, "x_bytes": 0, "outlier_cols": 0, "stages": {"total": [12.3, ...]}},
    ...]}

one point per line. Times are microseconds, every sample kept in the order taken. A
point that fails (an op that refuses a shape, out of memory) has "status": "failed",
the error as its message and no stages.

Timing, the rule of qlab's own cuda backend (DESIGN section 5, kernels/runtime.cu):
warm-up runs, then one CUDA-event pair around each run, with an L2 flush before each
sample outside the timed window (a read pass over a buffer of max(2 x L2, 64 MiB));
samples until at least min_samples are taken and the relative standard deviation is
under max_noise after min_time_s, or timeout_s has passed (the same numbers as
gpu-first.yaml: 10 warm-ups, >= 20 samples, 2 %, 0.05 s, 0.15 s).

The data: X ~ normal(0, 1) [m, k] with round(0.001 k) (at least 1) random feature
columns scaled by 20, W ~ normal(0, 0.02) [n, k], in fp16 on the GPU, from torch's
generator seeded with the experiment's seed: the same distributions as qlab's points,
not the same numbers. The threshold-6 points' outlier column count is that of this X.

bitsandbytes is imported from --bnb-dir when given (a folder holding the package, as
tools/device-bundle.sh packs it), else from the environment.

Exit status: 0 every requested peer ran (its points may still hold failed ones);
3 some requested peer did not run (named on stderr and in "skipped"; the file holds
the others); 4 nothing ran (torch or a usable GPU missing; no file written);
2 a usage error; 1 anything else.
"""

import argparse
import json
import math
import os
import platform
import sys
import time

# experiments/gpu-first.yaml: m, zip(k, n), data and timing. Keep the two in step.
EXPERIMENT = "gpu-first"
SEED = 7
M_LIST = [2048, 16]
K_LIST = [768, 1024, 1536, 2048, 2560, 4096, 5140, 12288]
N_LIST = [3072, 4096, 6144, 8192, 10240, 16384, 20560, 49152]
X_DIST = {"dist": "normal", "std": 1.0, "df": 0, "outlier_cols": 0.001, "outlier_scale": 20.0}
W_DIST = {"dist": "normal", "std": 0.02, "df": 0, "outlier_cols": 0, "outlier_scale": 1.0}
TIMING = {"warmup": 10, "min_samples": 20, "max_noise": 0.02, "min_time_s": 0.05, "timeout_s": 0.15}
BNB_THRESHOLDS = [0.0, 6.0]

EXIT_ALL, EXIT_SOME, EXIT_NONE, EXIT_USAGE = 0, 3, 4, 2


def say(msg):
    print("gpu_peers: " + msg, file=sys.stderr, flush=True)


def parse_shapes(text):
    """'M:K:N,M:K:N' -> [(m, k, n)], or the experiment's shapes for None."""
    if not text:
        return [(m, k, n) for m in M_LIST for k, n in zip(K_LIST, N_LIST)]
    shapes = []
    for part in text.split(","):
        try:
            m, k, n = (int(v) for v in part.split(":"))
        except ValueError:
            raise SystemExit("gpu_peers: --shapes: '%s' is not M:K:N" % part)
        if min(m, k, n) < 1:
            raise SystemExit("gpu_peers: --shapes: '%s' has a dimension < 1" % part)
        shapes.append((m, k, n))
    return shapes


class Timer:
    """The sampling loop: warm-up, L2 flush before each sample, CUDA events."""

    def __init__(self, torch, timing, deadline):
        self.torch = torch
        self.t = timing
        self.deadline = deadline
        dev = torch.cuda.current_device()
        l2 = getattr(torch.cuda.get_device_properties(dev), "L2_cache_size", 0) or (50 << 20)
        self.l2_bytes = int(l2)
        self.flush_bytes = max(2 * self.l2_bytes, 64 << 20)
        # Read, never written after this: a flush by writes would leave dirty lines
        # whose write-back lands in the next timed window.
        self.flush_buf = torch.zeros(self.flush_bytes // 4, dtype=torch.float32, device="cuda")
        self.flush_out = torch.empty((), dtype=torch.float32, device="cuda")

    def flush(self):
        self.torch.sum(self.flush_buf, dim=0, out=self.flush_out)

    def samples(self, fn):
        """Samples of fn() in microseconds, in the order taken."""
        torch = self.torch
        for _ in range(self.t["warmup"]):
            fn()
        torch.cuda.synchronize()
        out = []
        t0 = time.monotonic()
        batch = 5
        while True:
            evs = []
            for _ in range(batch):
                self.flush()
                a = torch.cuda.Event(enable_timing=True)
                b = torch.cuda.Event(enable_timing=True)
                a.record()
                fn()
                b.record()
                evs.append((a, b))
            torch.cuda.synchronize()
            out.extend(a.elapsed_time(b) * 1000.0 for a, b in evs)
            elapsed = time.monotonic() - t0
            if elapsed >= self.t["timeout_s"] or time.monotonic() >= self.deadline:
                return out
            if len(out) >= self.t["min_samples"] and elapsed >= self.t["min_time_s"]:
                mean = sum(out) / len(out)
                sd = math.sqrt(sum((v - mean) ** 2 for v in out) / (len(out) - 1))
                if mean > 0 and sd / mean < self.t["max_noise"]:
                    return out


def make_x(torch, m, k, gen):
    """X [m, k] in fp16: normal, a few feature columns scaled (the experiment's X)."""
    x = torch.randn((m, k), generator=gen, device="cuda", dtype=torch.float32) * X_DIST["std"]
    n_out = min(k, max(1, round(X_DIST["outlier_cols"] * k))) if X_DIST["outlier_cols"] > 0 else 0
    if n_out:
        cols = torch.randperm(k, generator=gen, device="cuda")[:n_out]
        x[:, cols] *= X_DIST["outlier_scale"]
    return x.half()


def make_w(torch, n, k, gen):
    """W [n, k] in fp16 (the experiment's W)."""
    return (torch.randn((n, k), generator=gen, device="cuda", dtype=torch.float32) * W_DIST["std"]).half()


def point(peer, op, m, k, n, threshold=0.0):
    return {"peer": peer, "op": op, "m": m, "k": k, "n": n, "threshold": threshold,
            "status": "ok", "message": "", "w_code_bytes": 0, "w_scale_bytes": 0,
            "w_outlier_bytes": 0, "x_bytes": 0, "outlier_cols": 0, "stages": {}}


def failed(p, e):
    p["status"] = "failed"
    p["message"] = ("%s: %s" % (type(e).__name__, e)).replace("\n", " ")[:250]
    p["stages"] = {}
    say("%s %s m=%d k=%d n=%d t=%g failed: %s" % (p["peer"], p["op"], p["m"], p["k"], p["n"],
                                                  p["threshold"], p["message"]))
    return p


def torch_points(torch, timer, x, w, m, k, n):
    """fp16_mm and int8_mm of one shape."""
    F = torch.nn.functional
    pts = []
    p = point("torch", "fp16_mm", m, k, n)
    p["w_code_bytes"] = w.numel() * w.element_size()
    p["x_bytes"] = x.numel() * x.element_size()                                # fp16 X, as qlab counts it
    try:
        with torch.inference_mode():
            p["stages"]["total"] = timer.samples(lambda: F.linear(x, w))
    except Exception as e:  # an op refusing a shape, out of memory: recorded, not fatal
        failed(p, e)
    pts.append(p)

    p = point("torch", "int8_mm", m, k, n)
    try:
        with torch.inference_mode():
            sw = w.float().abs().amax(dim=1).clamp_min(1e-12) / 127.0          # [n]
            wq = torch.round(w.float() / sw[:, None]).clamp(-127, 127).to(torch.int8)
            p["w_code_bytes"] = wq.numel()
            p["w_scale_bytes"] = sw.numel() * 4
            p["x_bytes"] = m * k + 4 * m                                       # int8 X, float32 scales
            wq_t = wq.t()                                                      # [k, n], column-major
            try:
                torch._int_mm(x[:1].to(torch.int8).expand(max(m, 17), k).contiguous(), wq_t)
            except RuntimeError:
                wq_t = wq_t.contiguous()                                       # a row-major [k, n] copy

            def quant_x():
                sx = x.float().abs().amax(dim=1, keepdim=True).clamp_min(1e-12) / 127.0
                return torch.round(x.float() / sx).clamp(-127, 127).to(torch.int8), sx

            xq, _ = quant_x()

            def total():
                q, sx = quant_x()
                acc = torch._int_mm(q, wq_t)
                return (acc.float() * sx * sw[None, :]).half()

            p["stages"]["gemm_i8"] = timer.samples(lambda: torch._int_mm(xq, wq_t))
            p["stages"]["total"] = timer.samples(total)
            del wq, wq_t, xq
    except Exception as e:
        failed(p, e)
    pts.append(p)
    return pts


def bnb_points(torch, bnb, timer, x, w_cpu, m, k, n, layers):
    """Linear8bitLt at each threshold, the layers made once per (k, n) and kept in
    `layers` (quantizing W goes through the CPU copy, as loading a checkpoint does)."""
    pts = []
    for t in BNB_THRESHOLDS:
        p = point("bitsandbytes", "bnb_int8", m, k, n, t)
        try:
            key = (k, n, t)
            if key not in layers:
                # on "meta": no host-side fp32 weight of n x k made and initialized for nothing
                lin = bnb.nn.Linear8bitLt(k, n, bias=False, has_fp16_weights=False, threshold=t, device="meta")
                lin.weight = bnb.nn.Int8Params(w_cpu, requires_grad=False, has_fp16_weights=False)
                lin = lin.cuda().eval()   # quantizes W (row-wise absmax to int8 codes CB, scales SCB)
                # the first forward moves CB and SCB from the weight into the layer's state
                cb, scb = lin.weight.CB, lin.weight.SCB
                layers[key] = (lin, cb.numel() * cb.element_size(), scb.numel() * scb.element_size())
            lin, p["w_code_bytes"], p["w_scale_bytes"] = layers[key]
            if t > 0:
                p["outlier_cols"] = int((x.abs() >= t).any(dim=0).sum().item())
            # int8 X and its float32 row scales, and the fp16 outlier columns of X
            p["x_bytes"] = m * k + 4 * m + 2 * m * p["outlier_cols"]
            with torch.inference_mode():
                p["stages"]["total"] = timer.samples(lambda: lin(x))
        except Exception as e:
            failed(p, e)
        pts.append(p)
    return pts


def write_doc(path, doc, points):
    """The peers file: doc's members, then "points", one point a line (so that an
    error of `qlab import-peers` names a line that is one point). Written to
    PATH.tmp and renamed, so a cut-off run leaves no half file."""
    head = json.dumps(doc, indent=1)[:-2]   # without the closing "\n}"
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(head + ',\n "points": [\n')
        f.write(",\n".join("  " + json.dumps(p, separators=(", ", ": ")) for p in points))
        f.write("\n ]\n}\n")
    os.replace(tmp, path)


def load_bnb(bnb_dir):
    """(module, None) or (None, reason)."""
    if bnb_dir:
        if not os.path.isdir(os.path.join(bnb_dir, "bitsandbytes")):
            return None, "--bnb-dir %s holds no bitsandbytes package" % bnb_dir
        sys.path.insert(0, os.path.abspath(bnb_dir))
    try:
        import bitsandbytes as bnb
        bnb.nn.Linear8bitLt  # the CUDA library loads lazily on some versions; touch it
        return bnb, None
    except Exception as e:
        return None, "bitsandbytes cannot be imported%s: %s: %s" % (
            " from " + bnb_dir if bnb_dir else "", type(e).__name__, str(e).splitlines()[0] if str(e) else "")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-o", "--output", required=True, help="the JSON file to write")
    ap.add_argument("--peers", default="torch,bitsandbytes", help="which peers (default: both)")
    ap.add_argument("--bnb-dir", default="", help="a folder holding the bitsandbytes package")
    ap.add_argument("--shapes", default="", help="M:K:N,... instead of the experiment's shapes")
    ap.add_argument("--budget-s", type=float, default=150.0,
                    help="stop starting new shapes after this many seconds (default 150)")
    args = ap.parse_args()
    want = [p.strip() for p in args.peers.split(",") if p.strip()]
    for p in want:
        if p not in ("torch", "bitsandbytes"):
            say("--peers: unknown peer '%s' (torch, bitsandbytes)" % p)
            return EXIT_USAGE
    shapes = parse_shapes(args.shapes)
    t_start = time.monotonic()
    deadline = t_start + args.budget_s

    try:
        import torch
    except Exception as e:
        say("torch cannot be imported (%s: %s): no peer can run, nothing written" % (type(e).__name__, e))
        return EXIT_NONE
    if not torch.cuda.is_available():
        say("torch %s sees no usable CUDA GPU: no peer can run, nothing written" % torch.__version__)
        return EXIT_NONE

    skipped = []
    bnb = None
    if "bitsandbytes" in want:
        bnb, why = load_bnb(args.bnb_dir)
        if bnb is None:
            say("peer bitsandbytes skipped: " + why)
            skipped.append({"peer": "bitsandbytes", "reason": why})
    run_torch = "torch" in want
    run_bnb = bnb is not None
    if not run_torch and not run_bnb:
        say("no requested peer can run, nothing written")
        return EXIT_NONE

    torch.backends.cuda.matmul.allow_tf32 = False
    timer = Timer(torch, TIMING, deadline)
    gen = torch.Generator(device="cuda")
    gen.manual_seed(SEED)
    say("device %s, torch %s (CUDA %s), bitsandbytes %s; %d shapes; L2 %d MiB, flush %d MiB"
        % (torch.cuda.get_device_name(), torch.__version__, torch.version.cuda,
           getattr(bnb, "__version__", "not run"), len(shapes), timer.l2_bytes >> 20, timer.flush_bytes >> 20))

    points = []
    cut = []
    layers = {}
    # (k, n) outer, m inner: W and the bitsandbytes layers are made once per (k, n).
    by_kn = {}
    for m, k, n in shapes:
        by_kn.setdefault((k, n), []).append(m)
    for (k, n), ms in by_kn.items():
        if time.monotonic() >= deadline:
            cut.extend((m, k, n) for m in ms)
            continue
        x_all = {}
        try:
            w = make_w(torch, n, k, gen)
            for m in ms:
                x_all[m] = make_x(torch, m, k, gen)
        except Exception as e:
            for m in ms:
                for peer, op, ts in (("torch", "fp16_mm", [0]), ("torch", "int8_mm", [0]),
                                     ("bitsandbytes", "bnb_int8", BNB_THRESHOLDS)):
                    if (peer == "torch" and run_torch) or (peer == "bitsandbytes" and run_bnb):
                        for t in ts:
                            points.append(failed(point(peer, op, m, k, n, float(t)), e))
            continue
        w_cpu = w.cpu() if run_bnb else None
        for m in ms:
            x = x_all[m]
            if time.monotonic() >= deadline:
                cut.append((m, k, n))
                continue
            if run_torch:
                points.extend(torch_points(torch, timer, x, w, m, k, n))
            if run_bnb:
                points.extend(bnb_points(torch, bnb, timer, x, w_cpu, m, k, n, layers))
            say("m=%d k=%d n=%d done (%.0f s)" % (m, k, n, time.monotonic() - t_start))
        layers.clear()
        x_all.clear()
        del w, w_cpu
        torch.cuda.empty_cache()
    if cut:
        say("budget of %.0f s spent: %d shapes not timed (%s)" % (
            args.budget_s, len(cut), " ".join("%dx%dx%d" % s for s in cut)))
        skipped.append({"peer": "all", "reason": "%d shapes not timed: the %.0f s budget was spent"
                        % (len(cut), args.budget_s)})

    doc = {
        "format": "qlab-peers", "format_version": 1, "experiment": EXPERIMENT,
        "device": torch.cuda.get_device_name(), "seed": SEED, "x": X_DIST, "w": W_DIST,
        "versions": {"python": platform.python_version(), "torch": torch.__version__,
                     "cuda": torch.version.cuda, "bitsandbytes": getattr(bnb, "__version__", None)},
        "timing": dict(TIMING, l2_flush_bytes=timer.flush_bytes),
        "skipped": skipped,
    }
    write_doc(args.output, doc, points)
    n_ok = sum(p["status"] == "ok" for p in points)
    say("wrote %s: %d points (%d ok, %d failed) in %.0f s" % (
        args.output, len(points), n_ok, len(points) - n_ok, time.monotonic() - t_start))
    ran_all = run_torch == ("torch" in want) and run_bnb == ("bitsandbytes" in want)
    return EXIT_ALL if ran_all else EXIT_SOME


if __name__ == "__main__":
    try:
        sys.exit(main())
    except SystemExit:
        raise
    except Exception as e:
        say("stopped: %s: %s" % (type(e).__name__, e))
        sys.exit(1)
