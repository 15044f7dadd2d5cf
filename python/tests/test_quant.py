"""qlab.quant against the rules of README "Semantics" and quant/quant.h.

The expected codes are computed here, in numpy, from the documented rules (float32
arithmetic in the documented order, rint half to even, the fp8 formats decoded from
their bit layout, the published NF4 table and bitsandbytes' fp4 values); none of it
calls the library. qlab.quant's codes and scales must equal them bit for bit for
every int8, fp8 and 4-bit scheme, on random data with outlier columns and on data
built to land on rounding ties. dequantize (quant_dequantize & co. on the returned
codes) is also checked against quant_roundtrip, a separate entry point of the library.
"""
import numpy as np
import pytest

from qlab import quant

F32 = np.float32
INT8 = ("absmax", "zeropoint")
FP8 = ("fp8_e4m3", "fp8_e5m2")
FOURBIT = ("nf4", "fp4", "nf4_dq", "fp4_dq")


# ------------------------------------------------------------------------------------
# Reference rules

def groups(x, gran, block):
    """x [rows, cols] as [n_groups, group_len] (groups are contiguous runs)."""
    rows, cols = x.shape
    if gran == "tensor":
        return x.reshape(1, -1)
    if gran in ("row", "channel"):
        return x.reshape(rows, cols)
    return x.reshape(rows * (cols // block), block)


def ref_int8(x, scheme, gran, block):
    """absmax: s = 127 / max|v|, q = clamp(rint(v s), -127, 127) (s = 1 for an all-zero
    group). zeropoint: lo = min(min v, 0), hi = max(max v, 0), s = 255 / (hi - lo),
    z = rint(-s lo) - 128, q = clamp(rint(v s + z), -128, 127). All float32."""
    g = groups(x, gran, block)
    codes = np.empty(g.shape, dtype=np.int8)
    scales = np.empty(g.shape[0], dtype=F32)
    zeros = np.empty(g.shape[0], dtype=np.int32)
    for i, v in enumerate(g):
        if scheme == "absmax":
            amax = np.max(np.abs(v))
            s = F32(127) / amax if amax > 0 else F32(1)
            codes[i] = np.clip(np.rint(v * s), -127, 127)
            zeros[i] = 0
        else:
            lo, hi = min(np.min(v), F32(0)), max(np.max(v), F32(0))
            if hi != lo:
                s = F32(255) / F32(hi - lo)
                z = np.clip(np.rint(F32(-s * lo)) - F32(128), -128, 127)
            else:
                s, z = F32(1), F32(-128)
            codes[i] = np.clip(np.rint(F32(v * s) + F32(z)), -128, 127)
            zeros[i] = int(z)
        scales[i] = s
    return codes.reshape(x.shape), scales, zeros


FP8_FORMATS = {   # exponent bits, mantissa bits, bias, largest finite, has inf
    "fp8_e4m3": (4, 3, 7, 448.0, False),
    "fp8_e5m2": (5, 2, 15, 57344.0, True),
}


def fp8_decode(scheme):
    """float64 value of each of the 256 codes, from the bit layout (NaN for NaN codes)."""
    e_bits, m_bits, bias, _, has_inf = FP8_FORMATS[scheme]
    vals = np.empty(256)
    for b in range(256):
        sign = -1.0 if b & 0x80 else 1.0
        e = (b >> m_bits) & ((1 << e_bits) - 1)
        m = b & ((1 << m_bits) - 1)
        if has_inf and e == (1 << e_bits) - 1:
            v = np.inf if m == 0 else np.nan
        elif not has_inf and e == (1 << e_bits) - 1 and m == (1 << m_bits) - 1:
            v = np.nan
        elif e == 0:
            v = m / (1 << m_bits) * 2.0 ** (1 - bias)
        else:
            v = (1 + m / (1 << m_bits)) * 2.0 ** (e - bias)
        vals[b] = sign * v
    return vals


def fp8_encode(t, scheme):
    """Round float32 values to the nearest fp8 code, ties to the even code (mantissa
    LSB 0), saturating beyond the largest finite; -0 keeps its sign."""
    fmax = FP8_FORMATS[scheme][3]
    vals = fp8_decode(scheme)
    pos = [(vals[b], b) for b in range(0x80) if np.isfinite(vals[b])]
    pos.sort()
    mags = np.array([p[0] for p in pos])
    codes_of = np.array([p[1] for p in pos])
    out = np.empty(t.shape, dtype=np.uint8)
    for idx, v in np.ndenumerate(t.astype(np.float64)):
        a = min(abs(v), fmax)
        j = np.searchsorted(mags, a)           # mags[j-1] < a <= mags[j]
        if j < len(mags) and mags[j] == a:
            c = codes_of[j]
        else:
            lo, hi = codes_of[j - 1], codes_of[j]
            mid = (mags[j - 1] + mags[j]) / 2   # exact in float64
            if a < mid:
                c = lo
            elif a > mid:
                c = hi
            else:
                c = lo if lo % 2 == 0 else hi
        neg = v < 0 or (v == 0 and np.signbit(v))
        out[idx] = c | (0x80 if neg else 0)
    return out


def ref_fp8(x, scheme, gran, block):
    """s = fmax / max|v| (1 for an all-zero group), codes = fp8(v s)."""
    fmax = F32(FP8_FORMATS[scheme][3])
    g = groups(x, gran, block)
    scales = np.empty(g.shape[0], dtype=F32)
    codes = np.empty(g.shape, dtype=np.uint8)
    for i, v in enumerate(g):
        amax = np.max(np.abs(v))
        s = fmax / amax if amax > 0 else F32(1)
        scales[i] = s
        codes[i] = fp8_encode(v * s, scheme)
    return codes.reshape(x.shape), scales


# NormalFloat4 as published with QLoRA (Dettmers et al. 2023, appendix E).
NF4 = np.array([-1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453,
                -0.28444138169288635, -0.18477343022823334, -0.09105003625154495, 0.0,
                0.07958029955625534, 0.16093020141124725, 0.24611230194568634, 0.33791524171829224,
                0.44070982933044434, 0.5626170039176941, 0.7229568362236023, 1.0], dtype=F32)
# bitsandbytes' fp4 magnitudes by code 0..7, codes 8..15 negated, divided by 12.
_FP4_MAG = [0.0, 0.0625, 8.0, 12.0, 4.0, 6.0, 2.0, 3.0]
FP4 = np.array([m / 12.0 for m in _FP4_MAG] + [-m / 12.0 for m in _FP4_MAG], dtype=F32)


def fourbit_code(x, table, codes):
    """Nearest table value; on the float32 midpoint of two neighbours the smaller."""
    order = sorted(codes, key=lambda c: table[c])
    vals = table[order]
    mids = (vals[:-1] + vals[1:]) * F32(0.5)
    return np.array(order, dtype=np.uint8)[np.searchsorted(mids, x, side="left")]


def ref_4bit(x, scheme, block):
    """Block absmax, optional double quantization (quant.h), codes of v / absmax'."""
    table = NF4 if scheme.startswith("nf4") else FP4
    codes = list(range(16)) if scheme.startswith("nf4") else [c for c in range(16) if c != 8]
    flat = x.reshape(-1)
    blocks = flat.reshape(-1, block)
    absmax = np.max(np.abs(blocks), axis=1).astype(F32)
    extra = {}
    if scheme.endswith("_dq"):
        mean = F32(np.cumsum(absmax.astype(np.float64))[-1] / len(absmax))   # summed in order
        c = absmax - mean
        qabs = np.empty(len(absmax), dtype=np.int8)
        s2s = []
        for r0 in range(0, len(c), 256):
            run = c[r0:r0 + 256]
            amax = np.max(np.abs(run))
            s2 = F32(127) / amax if amax > 0 else F32(1)
            s2s.append(s2)
            q = np.clip(np.rint(run * s2), -127, 127)
            qabs[r0:r0 + 256] = q
            absmax[r0:r0 + 256] = q.astype(F32) / s2 + mean
        extra = dict(qabsmax=qabs, dq_scales=np.array(s2s, dtype=F32), dq_mean=mean)
    norm = np.where(absmax[:, None] != 0, blocks / np.where(absmax == 0, F32(1), absmax)[:, None], F32(0))
    nib = fourbit_code(norm.astype(F32).reshape(-1), table, codes)
    if nib.size % 2:
        nib = np.append(nib, np.uint8(0))
    packed = (nib[0::2] << 4) | nib[1::2]
    return packed.astype(np.uint8), absmax, extra


# ------------------------------------------------------------------------------------
# Data

def random_data(seed, rows, cols):
    """Normal data with a few outlier columns 20x larger, as LLM activations."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((rows, cols)).astype(F32)
    x[:, rng.choice(cols, max(1, cols // 50), replace=False)] *= F32(20)
    x[0, :3] = 0   # exact zeros
    return x


def tie_data_int8(scheme):
    """absmax: a row whose max is 127, so s = 1 and v s = v: halves hit rint's ties."""
    v = np.arange(-127, 127.5, 0.5, dtype=F32)[:256]
    v[-1] = 127
    return v.reshape(2, 128)


def tie_data_fp8(scheme):
    """Rows whose max is fmax (s = 1) holding exact midpoints of neighbouring codes."""
    vals = fp8_decode(scheme)
    fin = np.sort(np.unique(np.abs(vals[np.isfinite(vals)])))
    mids = ((fin[:-1] + fin[1:]) / 2).astype(F32)
    mids = mids[mids.astype(np.float64) == (fin[:-1] + fin[1:]) / 2]   # exact in float32
    v = np.concatenate([mids, -mids, [F32(FP8_FORMATS[scheme][3])]])
    n = -(-len(v) // 32) * 32
    v = np.resize(v, n).astype(F32)
    v[::32] = F32(FP8_FORMATS[scheme][3])
    return v.reshape(-1, 32)


def tie_data_4bit(scheme):
    """Blocks of 32 holding 1.0 (absmax 1) and the float32 midpoints of the table."""
    table = NF4 if scheme.startswith("nf4") else FP4
    vals = np.unique(table)
    mids = (vals[:-1] + vals[1:]) * F32(0.5)
    v = np.resize(mids, 31 * 4)
    blocks = np.concatenate([np.ones((4, 1), dtype=F32), v.reshape(4, 31)], axis=1)
    return blocks.reshape(2, 64).astype(F32)


SHAPES = [(8, 64, 1), (16, 128, 2), (5, 256, 3)]


# ------------------------------------------------------------------------------------
# Codes, bit for bit

@pytest.mark.parametrize("scheme", INT8)
@pytest.mark.parametrize("gran", ["tensor", "row", "channel", "block"])
@pytest.mark.parametrize("rows,cols,seed", SHAPES)
def test_int8_codes_follow_the_rule(scheme, gran, rows, cols, seed):
    x = random_data(seed, rows, cols)
    q = quant.quantize(x, scheme, gran, block=32)
    codes, scales, zeros = ref_int8(x, scheme, gran, 32)
    assert q.codes.dtype == np.int8 and q.codes.shape == x.shape
    assert np.array_equal(q.codes, codes)
    assert np.array_equal(q.scales.view(np.uint32), scales.view(np.uint32))
    if scheme == "zeropoint":
        assert np.array_equal(q.zeros, zeros)
    else:
        assert q.zeros is None
    # v' = (q - z) / s in float32, and the same from quant_roundtrip
    g = groups(codes.astype(np.int32), gran, 32)
    want = ((g - zeros[:, None]).astype(F32) / scales[:, None]).reshape(x.shape)
    got = quant.dequantize(q)
    assert np.array_equal(got.view(np.uint32), want.view(np.uint32))
    assert np.array_equal(quant.roundtrip(x, scheme, gran, 32).view(np.uint32), got.view(np.uint32))


@pytest.mark.parametrize("scheme", INT8)
def test_int8_ties_round_half_to_even(scheme):
    x = tie_data_int8(scheme)
    q = quant.quantize(x, scheme, "row")
    codes, scales, zeros = ref_int8(x, scheme, "row", None)
    assert np.array_equal(q.codes, codes)
    assert np.array_equal(q.scales, scales)
    if scheme == "absmax":
        assert q.codes[0, 1] == -126 and x[0, 1] == -126.5    # -126.5 -> -126 (even)


@pytest.mark.parametrize("scheme", FP8)
@pytest.mark.parametrize("gran", ["tensor", "row", "block"])
@pytest.mark.parametrize("rows,cols,seed", SHAPES)
def test_fp8_codes_follow_the_rule(scheme, gran, rows, cols, seed):
    x = random_data(seed + 10, rows, cols)
    q = quant.quantize(x, scheme, gran, block=32)
    codes, scales = ref_fp8(x, scheme, gran, 32)
    assert q.codes.dtype == np.uint8 and q.codes.shape == x.shape
    assert np.array_equal(q.codes, codes)
    assert np.array_equal(q.scales.view(np.uint32), scales.view(np.uint32))
    decoded = fp8_decode(scheme).astype(F32)
    want = (groups(decoded[codes], gran, 32) / scales[:, None]).reshape(x.shape).astype(F32)
    got = quant.dequantize(q)
    assert np.array_equal(got.view(np.uint32), want.view(np.uint32))
    assert np.array_equal(quant.roundtrip(x, scheme, gran, 32).view(np.uint32), got.view(np.uint32))


@pytest.mark.parametrize("scheme", FP8)
def test_fp8_ties_go_to_even_and_saturate(scheme):
    x = tie_data_fp8(scheme)
    q = quant.quantize(x, scheme, "row")
    codes, _ = ref_fp8(x, scheme, "row", None)
    assert np.array_equal(q.codes, codes)
    big = np.full((1, 4), 1e30, dtype=F32)
    big[0, 0] = -1e30
    sat = quant.quantize(big, scheme, "tensor")
    fmax_code = 0x7E if scheme == "fp8_e4m3" else 0x7B
    assert list(sat.codes[0]) == [fmax_code | 0x80] + [fmax_code] * 3


@pytest.mark.parametrize("scheme", FOURBIT)
@pytest.mark.parametrize("rows,cols,seed", SHAPES)
@pytest.mark.parametrize("gran", ["block", "row"])
def test_4bit_codes_follow_the_rule(scheme, rows, cols, seed, gran):
    x = random_data(seed + 20, rows, cols)
    q = quant.quantize(x, scheme, gran, block=32)
    block = 32 if gran == "block" else cols
    packed, absmax, extra = ref_4bit(x, scheme, block)
    assert q.codes.dtype == np.uint8 and q.codes.shape == ((rows * cols + 1) // 2,)
    assert np.array_equal(q.codes, packed)
    assert np.array_equal(q.scales.view(np.uint32), absmax.view(np.uint32))
    if extra:
        assert np.array_equal(q.qabsmax, extra["qabsmax"])
        assert np.array_equal(q.dq_scales.view(np.uint32), extra["dq_scales"].view(np.uint32))
        assert F32(q.dq_mean) == extra["dq_mean"]
    else:
        assert q.qabsmax is None
    table = NF4 if scheme.startswith("nf4") else FP4
    want = (table[q.nibbles()].reshape(-1, block) * absmax[:, None]).reshape(x.shape).astype(F32)
    got = quant.dequantize(q)
    assert np.array_equal(got.view(np.uint32), want.view(np.uint32))
    assert np.array_equal(quant.roundtrip(x, scheme, gran, 32).view(np.uint32), got.view(np.uint32))


def test_4bit_double_quantization_spans_several_runs():
    """More than 256 blocks: several second-level scales."""
    x = random_data(7, 40, 512)                   # 40 * 512 / 32 = 640 blocks -> 3 runs
    for scheme in ("nf4_dq", "fp4_dq"):
        q = quant.quantize(x, scheme, "block", block=32)
        packed, absmax, extra = ref_4bit(x, scheme, 32)
        assert q.dq_scales.size == 3
        assert np.array_equal(q.codes, packed)
        assert np.array_equal(q.scales, absmax)
        assert np.array_equal(q.qabsmax, extra["qabsmax"])


@pytest.mark.parametrize("scheme", FOURBIT)
def test_4bit_midpoints_take_the_smaller_value(scheme):
    x = tie_data_4bit(scheme)
    q = quant.quantize(x, scheme, "block", block=32)
    packed, _, _ = ref_4bit(x, scheme, 32)
    assert np.array_equal(q.codes, packed)
    table = NF4 if scheme.startswith("nf4") else FP4
    nib = q.nibbles().reshape(-1, 32)[:, 1:]
    mids = x.reshape(-1, 32)[:, 1:]
    assert (table[nib] < mids).all()              # every tie went down


def test_every_quantized_scheme_is_covered():
    kinds = quant.schemes()
    assert {s for s, k in kinds.items() if k == "int8"} == set(INT8)
    assert {s for s, k in kinds.items() if k == "fp8"} == set(FP8)
    assert {s for s, k in kinds.items() if k == "4bit"} == set(FOURBIT)


# ------------------------------------------------------------------------------------
# matmul

@pytest.mark.parametrize("scheme", INT8)
@pytest.mark.parametrize("xg,wg", [("tensor", "tensor"), ("row", "channel"), ("block", "block")])
def test_int8_matmul_is_the_integer_product_of_the_rule_codes(scheme, xg, wg):
    """Y = sum over k-blocks of (int32 product of (q - z)) / (sx sw) in float64, then
    float32, with codes from the rule above: bit for bit."""
    x = random_data(3, 12, 128)
    w = np.random.default_rng(4).standard_normal((24, 128)).astype(F32) * F32(0.02)
    y = quant.matmul(x, w, scheme, xg, wg, block=32)
    blk = 32 if xg == "block" else 128
    cx, sx, zx = ref_int8(x, scheme, xg, 32)
    cw, sw, zw = ref_int8(w, scheme, wg, 32)
    nb = 128 // blk
    acc = np.zeros((12, 24))
    for b in range(nb):
        def part(c, s, z, g, rows):
            gi = (np.zeros(rows, int) if g == "tensor" else
                  np.arange(rows) * nb + b if g == "block" else np.arange(rows))
            return (c[:, b * blk:(b + 1) * blk].astype(np.int64) - z[gi][:, None]), s[gi].astype(np.float64)
        ax, fx = part(cx, sx, zx, xg, 12)
        aw, fw = part(cw, sw, zw, wg, 24)
        acc = acc + (ax @ aw.T).astype(np.float64) / (fx[:, None] * fw[None, :])
    want = acc.astype(F32)
    assert np.array_equal(y.view(np.uint32), want.view(np.uint32))


@pytest.mark.parametrize("scheme", ["fp32", "fp16", "bf16", "absmax", "zeropoint", "fp8_e4m3", "fp8_e5m2",
                                    "nf4", "fp4", "nf4_dq", "fp4_dq"])
def test_matmul_every_scheme_close_to_float64(scheme):
    x = random_data(5, 16, 256)
    w = np.random.default_rng(6).standard_normal((32, 256)).astype(F32) * F32(0.05)
    ref = x.astype(np.float64) @ w.astype(np.float64).T
    y, info = quant.matmul(x, w, scheme, "row", "channel", block=64, threshold=6.0, info=True)
    assert y.dtype == np.float32 and y.shape == (16, 32)
    rel = np.linalg.norm(y - ref) / np.linalg.norm(ref)
    assert rel < 0.2, rel
    assert info["w_bytes"] == (info["w_code_bytes"] + info["w_scale_bytes"] + info["w_scale2_bytes"]
                               + info["w_outlier_bytes"])
    # the same call twice: deterministic
    assert np.array_equal(y, quant.matmul(x, w, scheme, "row", "channel", block=64, threshold=6.0))


def test_llm_int8_decomposition_finds_the_outlier_columns():
    x = random_data(8, 16, 256)
    w = np.random.default_rng(9).standard_normal((8, 256)).astype(F32)
    _, info = quant.matmul(x, w, "absmax", "row", "channel", threshold=6.0, info=True)
    assert info["outlier_cols"] == int((np.abs(x) >= 6.0).any(axis=0).sum())
    assert info["w_outlier_bytes"] == 2 * 8 * info["outlier_cols"]


# ------------------------------------------------------------------------------------
# Errors carry qlab's message

def test_bad_arguments_raise_valueerror_with_qlabs_message():
    x = random_data(1, 4, 64)
    with pytest.raises(ValueError, match="does not divide the row length"):
        quant.quantize(x, "absmax", "block", block=48)
    bad = x.copy()
    bad[1, 2] = np.nan
    with pytest.raises(ValueError, match="NaN or Inf in an input tensor"):
        quant.quantize(bad, "absmax", "row")
    with pytest.raises(ValueError, match="not supported"):
        quant.matmul(x, x, "fp8_e4m3", "block", "block", block=32)
    with pytest.raises(ValueError, match="unknown scheme 'int3'"):
        quant.quantize(x, "int3", "row")
    with pytest.raises(ValueError, match="no codes and scales"):
        quant.quantize(x, "fp16", "row")
    with pytest.raises(ValueError, match="unknown granularity"):
        quant.quantize(x, "absmax", "column")
    with pytest.raises(ValueError, match="k differs"):
        quant.matmul(x, x[:, :32], "absmax")
    with pytest.raises(ValueError, match="needs block="):
        quant.quantize(x, "absmax", "block")
    tiny = np.full((2, 8), 1e-40, dtype=F32)     # a subnormal max: 127 / max overflows
    with pytest.raises(ValueError, match=r"scale overflows float32.*\(group 0, value"):
        quant.quantize(tiny, "absmax", "row")
    with pytest.raises(ValueError, match=r"scale overflows float32.*\) \(.+\)$"):
        quant.matmul(tiny, np.ones((3, 8), dtype=F32), "absmax", "row", "channel")
    try:
        quant.quantize(x, "nf4", "block", block=7)
    except quant.QuantError as e:
        assert e.status == 2 and "block size" in str(e)
    else:
        raise AssertionError("block 7 accepted")
