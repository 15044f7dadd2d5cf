#!/usr/bin/python3
"""numpy_peer.py: the default experiment's error sweep in vectorized numpy, the peer that
`make bench-cpu` times qlab against.

The same 37 points as `qlab run experiments/default.yaml --set 'measure=[error]'`: X
[256, 1024] N(0, 1) with 0.2 % of its columns scaled 20x, W [1024, 1024] N(0, 0.02); fp16,
and absmax and zeropoint at per-tensor and vector-wise scales, each at LLM.int8()
thresholds 0..8 (fp16 outlier weights, W quantized once over all its columns); every
metric qlab reports (rel_err, sqnr_db, max_abs_err, mean_abs_err, cosine, x_rel_err,
w_rel_err, outlier_cols) against a float64 reference computed once. The quantization
rules are README's "Semantics" written with numpy, each step vectorized; the integer
products run through BLAS in float64, where they are exact. The data are drawn by
numpy's generator, not qlab's: the work per point is the same, the values are not.

Prints one line: "numpy-peer: 37 points in S s (peak RSS M MB)". Usage:
  numpy_peer.py [--repeat N]   best of N runs (default 3)
"""
import resource
import sys
import time

try:
    import numpy as np
except ImportError:
    sys.stderr.write("numpy_peer.py: numpy is missing: apt-get install python3-numpy "
                     "(or pip install numpy)\n")
    sys.exit(2)

M, K, N = 256, 1024, 1024


def make_data(seed=7):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((M, K), dtype=np.float32)
    cols = rng.choice(K, size=max(1, round(0.002 * K)), replace=False)
    x[:, cols] *= np.float32(20)
    w = (rng.standard_normal((N, K), dtype=np.float32) * np.float32(0.02)).astype(np.float32)
    return x, w


def quantize(v, scheme, per_row):
    """Codes (as float64, exact), zero points and scales of v by README's rules."""
    axis = 1 if per_row else None
    if scheme == "absmax":
        amax = np.abs(v).max(axis=axis, keepdims=True)
        s = np.where(amax > 0, np.float32(127) / np.where(amax > 0, amax, 1), np.float32(1)).astype(np.float32)
        q = np.clip(np.rint(v * s), -127, 127)
        z = np.zeros_like(s)
    else:
        lo = np.minimum(v.min(axis=axis, keepdims=True), np.float32(0))
        hi = np.maximum(v.max(axis=axis, keepdims=True), np.float32(0))
        rng_ = hi - lo
        s = np.where(rng_ > 0, np.float32(255) / np.where(rng_ > 0, rng_, 1), np.float32(1)).astype(np.float32)
        z = np.clip(np.rint(-s * lo) - np.float32(128), -128, 127).astype(np.float32)
        q = np.clip(np.rint(v * s + z), -128, 127)
    return q.astype(np.float64), z.astype(np.float64), s.astype(np.float32)


def rel(a, b):
    """||a - b||_F / ||b||_F, with qlab's rules for a zero b (0 if a is 0 too, else inf)."""
    d = a.astype(np.float64) - b
    en, nb = np.sqrt(np.sum(d * d)), np.sqrt(np.sum(b.astype(np.float64) ** 2))
    if nb == 0:
        return 0.0 if en == 0 else float("inf")
    return float(en / nb)


def metrics(y, ref):
    d = y.astype(np.float64) - ref
    en, rn = np.sqrt(np.sum(d * d)), np.sqrt(np.sum(ref * ref))
    y64 = y.astype(np.float64)
    dots = np.einsum("ij,ij->i", y64, ref)
    yy, rr = np.einsum("ij,ij->i", y64, y64), np.einsum("ij,ij->i", ref, ref)
    ok = rr > 0
    cos = np.where(yy[ok] > 0, dots[ok] / (np.sqrt(yy[ok]) * np.sqrt(rr[ok])), 0.0)
    return {"rel_err": en / rn, "sqnr_db": 20 * np.log10(rn / en), "max_abs_err": float(np.abs(d).max()),
            "mean_abs_err": float(np.abs(d).mean()), "cosine": float(cos.mean())}


def point(x, w, ref, scheme, per_row, threshold):
    if scheme == "fp16":
        xr = x.astype(np.float16).astype(np.float32)
        wr = w.astype(np.float16).astype(np.float32)
        y = xr @ wr.T
        m = metrics(y, ref)
        m.update(x_rel_err=rel(xr, x), w_rel_err=rel(wr, w), outlier_cols=0)
        return m
    cols = np.zeros(K, dtype=bool)
    if threshold > 0:
        cols = (np.abs(x) >= threshold).any(axis=0)
    xz = np.where(cols[None, :], np.float32(0), x)
    qx, zx, sx = quantize(xz, scheme, per_row)
    qw, zw, sw = quantize(w, scheme, per_row)          # W once over all its columns
    acc = (qx - zx) @ (qw - zw).T                       # exact in float64
    y = (acc / (sx.astype(np.float64) * sw.astype(np.float64).reshape(1, -1))).astype(np.float32)
    if cols.any():
        xo = x[:, cols].astype(np.float16).astype(np.float32)
        wo = w[:, cols].astype(np.float16).astype(np.float32)
        y = y + xo @ wo.T
    xdq = ((qx - zx) / sx).astype(np.float32)
    wdq = ((qw - zw) / sw).astype(np.float32)
    m = metrics(y, ref)
    m.update(x_rel_err=rel(xdq, xz), w_rel_err=rel(wdq, w), outlier_cols=int(cols.sum()))
    return m


def sweep(x, w):
    ref = x.astype(np.float64) @ w.astype(np.float64).T
    rows = [point(x, w, ref, "fp16", False, 0)]
    for scheme in ("absmax", "zeropoint"):
        for per_row in (False, True):
            for t in range(9):
                rows.append(point(x, w, ref, scheme, per_row, float(t)))
    return rows


def main():
    repeat = 3
    if len(sys.argv) == 3 and sys.argv[1] == "--repeat":
        repeat = int(sys.argv[2])
    elif len(sys.argv) != 1:
        sys.stderr.write(__doc__)
        return 2
    best = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        x, w = make_data()
        rows = sweep(x, w)
        dt = time.perf_counter() - t0
        best = dt if best is None else min(best, dt)
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"numpy-peer: {len(rows)} points in {best:.3f} s (peak RSS {rss_mb:.0f} MB; best of {repeat})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
