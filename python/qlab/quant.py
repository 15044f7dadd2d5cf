"""qlab.quant: qlab's reference quantization library (quant/) from numpy.

The functions here call the C library itself (libquant.so, built from quant/ with
the flags qlab's own build uses: -ffp-contract=off, no fast-math) through ctypes, so
their codes, scales and outputs are qlab's bit for bit: a kernel of your own can be
checked against them exactly. The rules are README "Semantics" and quant/quant.h.

  q = quantize(x, "absmax", "row")          # q.codes int8 [rows, cols], q.scales float32
  x2 = dequantize(q)                        # float32 [rows, cols]
  y = matmul(x, w, "absmax", "row", "channel", threshold=6.0)   # Y = X W^T, float32

Arrays are converted to C-contiguous float32 (pass float32 data for exact
comparisons). X is [m, k] (rows are tokens), W is [n, k] (rows are output channels,
as nn.Linear stores them). Bad arguments raise QuantError, a ValueError carrying
qlab's own message (quant_status_str, with the library's detail where it gives one:
the operand, group and value of a scale that overflows) and its status code.

The library is looked for, in order, at $QLAB_LIBQUANT, next to this package
(qlab/libquant.so, put there by `make python-lib` before `pip install ./python`), and
in the repository's build/ and build/cpu-only/ (beside python/, then under the
current folder). `make python-lib` builds it.
"""
import ctypes
import os

import numpy as np

__all__ = ["QuantError", "Quantized", "schemes", "quantize", "dequantize", "roundtrip", "matmul",
           "library_path"]

GRANULARITIES = ("tensor", "row", "channel", "block")
OUTLIER_WEIGHTS = ("fp16", "dequant")
QUANT_DQ_BLOCK = 256   # block scales per second-level scale under double quantization
QUANT_ERR_RANGE = 4    # quant_status: a scale overflows float32


class QuantError(ValueError):
    """A call the library refused: str(e) is qlab's message, e.status its quant_status."""

    def __init__(self, message, status=None):
        super().__init__(message)
        self.status = status


# ------------------------------------------------------------------------------------
# The library and its structs (quant/quant.h)
#
# Each struct mirrors the leading members of quant.h's and ends in a zeroed reserve,
# so a library whose struct has grown members at its end (as structs here do) writes
# into the reserve, not past the buffer; a member read back is checked where it can
# be (shapes and group counts), so a layout that changed elsewhere is reported.
_RESERVE = ("_reserve", ctypes.c_uint8 * 1024)

class _QuantMatrix(ctypes.Structure):
    _fields_ = [("scheme", ctypes.c_int), ("gran", ctypes.c_int),
                ("rows", ctypes.c_int64), ("cols", ctypes.c_int64), ("block", ctypes.c_int64),
                ("groups_per_row", ctypes.c_int64), ("n_groups", ctypes.c_int64),
                ("codes", ctypes.POINTER(ctypes.c_int8)), ("scales", ctypes.POINTER(ctypes.c_float)),
                ("zeros", ctypes.POINTER(ctypes.c_int32)),
                ("failed_group", ctypes.c_int64), ("failed_value", ctypes.c_float), _RESERVE]


class _Quant4bit(ctypes.Structure):
    _fields_ = [("scheme", ctypes.c_int), ("rows", ctypes.c_int64), ("cols", ctypes.c_int64),
                ("block", ctypes.c_int64), ("n_blocks", ctypes.c_int64), ("n_dq_blocks", ctypes.c_int64),
                ("codes", ctypes.POINTER(ctypes.c_uint8)), ("absmax", ctypes.POINTER(ctypes.c_float)),
                ("qabsmax", ctypes.POINTER(ctypes.c_int8)), ("dq_scales", ctypes.POINTER(ctypes.c_float)),
                ("dq_mean", ctypes.c_float), _RESERVE]


class _MatmulOpts(ctypes.Structure):
    _fields_ = [("scheme", ctypes.c_int), ("x_gran", ctypes.c_int), ("w_gran", ctypes.c_int),
                ("block", ctypes.c_int64), ("threshold", ctypes.c_float),
                ("outlier_weights", ctypes.c_int), ("smooth_alpha", ctypes.c_float), _RESERVE]


class _MatmulInfo(ctypes.Structure):
    _fields_ = [("outlier_cols", ctypes.c_int64), ("x_rel_err", ctypes.c_double),
                ("w_rel_err", ctypes.c_double), ("w_bytes", ctypes.c_int64), ("x_bytes", ctypes.c_int64),
                ("w_code_bytes", ctypes.c_int64), ("w_scale_bytes", ctypes.c_int64),
                ("w_scale2_bytes", ctypes.c_int64), ("w_outlier_bytes", ctypes.c_int64),
                ("detail", ctypes.c_char * 192), _RESERVE]


_F32P = ctypes.POINTER(ctypes.c_float)
_U8P = ctypes.POINTER(ctypes.c_uint8)
_I64P = ctypes.POINTER(ctypes.c_int64)
_lib = None
_lib_path = None
_scheme_ids = None   # name -> (id, kind) with kind "float" | "int8" | "fp8" | "4bit"


def _candidates():
    env = os.environ.get("QLAB_LIBQUANT")
    if env:
        return [env]
    here = os.path.dirname(os.path.abspath(__file__))
    repo = os.path.dirname(os.path.dirname(here))
    out = [os.path.join(here, "libquant.so")]
    for root in (repo, os.getcwd()):
        out += [os.path.join(root, "build", "libquant.so"),
                os.path.join(root, "build", "cpu-only", "libquant.so")]
    return out


def library_path():
    """The libquant.so this module loads (see the module docstring for the order)."""
    global _lib_path
    if _lib_path is None:
        cands = _candidates()
        found = [c for c in cands if os.path.isfile(c)]
        if not found:
            raise OSError("libquant.so not found (looked at %s); build it with `make python-lib` "
                          "in the qlab tree, or set $QLAB_LIBQUANT" % ", ".join(cands))
        _lib_path = found[0]
    return _lib_path


def _load():
    global _lib
    if _lib is not None:
        return _lib
    lib = ctypes.CDLL(library_path())
    c_int, c_i64, c_f = ctypes.c_int, ctypes.c_int64, ctypes.c_float
    protos = {
        "quant_status_str": (ctypes.c_char_p, [c_int]),
        "quant_scheme_from_name": (c_int, [ctypes.c_char_p]),
        "quant_gran_from_name": (c_int, [ctypes.c_char_p]),
        "quant_outlier_weights_from_name": (c_int, [ctypes.c_char_p]),
        "quant_group_count": (c_i64, [c_int, c_i64, c_i64, c_i64, ctypes.POINTER(c_int)]),
        "quant_matrix_init": (c_int, [ctypes.POINTER(_QuantMatrix), c_int, c_int, c_i64, c_i64, c_i64]),
        "quant_matrix_free": (None, [ctypes.POINTER(_QuantMatrix)]),
        "quant_quantize": (c_int, [_F32P, ctypes.POINTER(_QuantMatrix)]),
        "quant_dequantize": (c_int, [ctypes.POINTER(_QuantMatrix), _F32P]),
        "quant_fp8_group_scale": (c_int, [c_int, _F32P, c_i64, c_i64, _F32P]),
        "quant_fp8_quantize": (c_int, [c_int, c_int, _F32P, c_i64, c_i64, c_i64, _U8P, _F32P, _I64P]),
        "quant_fp8_dequantize": (c_int, [c_int, _U8P, _F32P, c_i64, c_i64, _F32P]),
        "quant_4bit_table": (_F32P, [c_int]),
        "quant_4bit_init": (c_int, [ctypes.POINTER(_Quant4bit), c_int, c_i64, c_i64, c_i64]),
        "quant_4bit_free": (None, [ctypes.POINTER(_Quant4bit)]),
        "quant_4bit_quantize": (c_int, [_F32P, ctypes.POINTER(_Quant4bit)]),
        "quant_4bit_dequantize": (c_int, [ctypes.POINTER(_Quant4bit), _F32P]),
        "quant_roundtrip": (c_int, [c_int, c_int, _F32P, c_i64, c_i64, c_i64, _F32P]),
        "quant_matmul_scheme": (c_int, [_F32P, _F32P, c_i64, c_i64, c_i64, ctypes.POINTER(_MatmulOpts),
                                        _F32P, ctypes.POINTER(_MatmulInfo)]),
    }
    for name, (restype, argtypes) in protos.items():
        fn = getattr(lib, name)
        fn.restype = restype
        fn.argtypes = argtypes
    _lib = lib
    return lib


def _check_layout(ok, struct):
    if not ok:
        raise OSError("%s: its %s does not have the layout this package expects (quant/quant.h "
                      "changed): use the qlab package from the same tree as the library" % (library_path(), struct))


def _group_count(g, rows, cols, block):
    st = ctypes.c_int(0)
    return _load().quant_group_count(g, rows, cols, block, ctypes.byref(st))


def _status_message(st):
    msg = _load().quant_status_str(st)
    return msg.decode() if msg else "status %d" % st


def _check(st, what, detail=""):
    if st != 0:
        raise QuantError("%s: %s%s" % (what, _status_message(st), " (%s)" % detail if detail else ""), st)


def _schemes():
    """name -> (id, kind), asked of the library: the ids from quant_scheme_from_name,
    the kind from which of its format entry points take the scheme."""
    global _scheme_ids
    if _scheme_ids is not None:
        return _scheme_ids
    lib = _load()
    count = lib.quant_scheme_from_name(b"")   # QUANT_SCHEME_COUNT: not a scheme
    probe = np.ones(1, dtype=np.float32)
    scale = ctypes.c_float()
    out = {}
    for name in ("fp32", "fp16", "bf16", "absmax", "zeropoint", "fp8_e4m3", "fp8_e5m2",
                 "nf4", "fp4", "nf4_dq", "fp4_dq"):
        sid = lib.quant_scheme_from_name(name.encode())
        if not 0 <= sid < count:
            continue
        m = _QuantMatrix()
        if lib.quant_matrix_init(ctypes.byref(m), sid, 0, 1, 1, 0) == 0:
            lib.quant_matrix_free(ctypes.byref(m))
            kind = "int8"
        elif lib.quant_4bit_table(sid):
            kind = "4bit"
        elif lib.quant_fp8_group_scale(sid, probe.ctypes.data_as(_F32P), 1, 1, ctypes.byref(scale)) == 0:
            kind = "fp8"
        else:
            kind = "float"
        out[name] = (sid, kind)
    _scheme_ids = out
    return out


def schemes():
    """The scheme names the library knows, with their kind: {"absmax": "int8", ...}."""
    return {k: v[1] for k, v in _schemes().items()}


def _scheme(name, what, kinds=None):
    table = _schemes()
    if name not in table:
        raise QuantError("%s: unknown scheme %r (%s)" % (what, name, ", ".join(table)))
    sid, kind = table[name]
    if kinds and kind not in kinds:
        raise QuantError("%s: scheme %r has no codes and scales (the int8, fp8 and 4-bit schemes do: %s)"
                         % (what, name, ", ".join(k for k, v in table.items() if v[1] in kinds)))
    return sid, kind


def _gran(name, what):
    if name not in GRANULARITIES:
        raise QuantError("%s: unknown granularity %r (%s)" % (what, name, ", ".join(GRANULARITIES)))
    return _load().quant_gran_from_name(name.encode())


def _block(gran, block, what):
    if gran == "block":
        if block is None:
            raise QuantError("%s: granularity 'block' needs block=" % what)
        return int(block)
    return 0 if block is None else int(block)


def _matrix(a, name, what):
    a = np.ascontiguousarray(a, dtype=np.float32)
    if a.ndim != 2:
        raise QuantError("%s: %s must be 2-D [rows, cols], got shape %s" % (what, name, a.shape))
    if a.size == 0:
        raise QuantError("%s: %s is empty" % (what, name))
    return a


def _p(a, ptype):
    return a.ctypes.data_as(ptype)


# ------------------------------------------------------------------------------------

class Quantized:
    """A quantized [rows, cols] matrix as the library stores it.

    scheme, granularity  names as given; block: the group length used (cols for row
                  and channel, rows * cols for tensor, the block size for block; the
                  4-bit block size)
    codes         int8 [rows, cols] (absmax, zeropoint); uint8 [rows, cols] fp8 codes
                  (fp8_e4m3, fp8_e5m2); uint8 [ceil(rows * cols / 2)] for the 4-bit
                  schemes, two codes per byte, element 2i in the high nibble
    scales        float32, one per group, row-major: int8 and fp8 v' = q / s (int8
                  zeropoint (q - z) / s, fp8 fp8(q) / s); 4-bit: the absmax each block
                  dequantizes with (after double quantization where the scheme has it)
    zeros         int32 zero points (zeropoint), else None
    qabsmax, dq_scales, dq_mean   double quantization (nf4_dq, fp4_dq): the int8
                  block absmax codes, the float32 second-level scales (one per 256
                  blocks) and the mean; None otherwise
    """

    def __init__(self, scheme, granularity, shape, block, codes, scales, zeros=None,
                 qabsmax=None, dq_scales=None, dq_mean=None):
        self.scheme = scheme
        self.granularity = granularity
        self.shape = shape
        self.block = block
        self.codes = codes
        self.scales = scales
        self.zeros = zeros
        self.qabsmax = qabsmax
        self.dq_scales = dq_scales
        self.dq_mean = dq_mean

    def nibbles(self):
        """4-bit schemes: the codes unpacked, uint8 [rows, cols] in 0..15."""
        if self.codes.ndim != 1:
            raise QuantError("nibbles: only the 4-bit schemes pack their codes")
        rows, cols = self.shape
        b = self.codes
        out = np.empty(2 * b.size, dtype=np.uint8)
        out[0::2] = b >> 4
        out[1::2] = b & 0x0F
        return out[:rows * cols].reshape(rows, cols)

    def __repr__(self):
        return "<qlab.quant.Quantized %s %s %dx%d, %d scales>" % (
            self.scheme, self.granularity, self.shape[0], self.shape[1], self.scales.size)


def quantize(x, scheme, granularity="tensor", block=None):
    """Codes and scales of x [rows, cols] as qlab quantizes it.

    scheme: an int8 (absmax, zeropoint), fp8 (fp8_e4m3, fp8_e5m2) or 4-bit (nf4, fp4,
    nf4_dq, fp4_dq) scheme. granularity: tensor, row, channel (= row: W's rows are its
    channels) or block (`block` consecutive values of a row; block must divide cols).
    The 4-bit schemes quantize blocks of `block` at granularity block and one block
    per row otherwise. Returns a Quantized. Raises QuantError (a ValueError) with
    qlab's message on bad arguments and non-finite values.
    """
    what = "quantize"
    sid, kind = _scheme(scheme, what, ("int8", "fp8", "4bit"))
    g = _gran(granularity, what)
    x = _matrix(x, "x", what)
    rows, cols = x.shape
    blk = _block(granularity, block, what)
    lib = _load()
    if kind == "int8":
        m = _QuantMatrix()
        _check(lib.quant_matrix_init(ctypes.byref(m), sid, g, rows, cols, blk), what)
        try:
            _check_layout(m.rows == rows and m.cols == cols and m.n_groups == _group_count(g, rows, cols, blk),
                          "quant_matrix")
            st = lib.quant_quantize(_p(x, _F32P), ctypes.byref(m))
            _check(st, what, "group %d, value %g" % (m.failed_group, m.failed_value)
                   if st == QUANT_ERR_RANGE else "")
            ng = m.n_groups
            codes = np.ctypeslib.as_array(m.codes, shape=(rows * cols,)).copy().reshape(rows, cols)
            scales = np.ctypeslib.as_array(m.scales, shape=(ng,)).copy()
            zeros = np.ctypeslib.as_array(m.zeros, shape=(ng,)).copy() if scheme == "zeropoint" else None
            glen = rows * cols if granularity == "tensor" else m.block
        finally:
            lib.quant_matrix_free(ctypes.byref(m))
        return Quantized(scheme, granularity, (rows, cols), int(glen), codes, scales, zeros)
    if kind == "fp8":
        st = ctypes.c_int(0)
        ng = lib.quant_group_count(g, rows, cols, blk, ctypes.byref(st))
        if ng < 0:
            _check(st.value, what)
        codes = np.zeros((rows, cols), dtype=np.uint8)
        scales = np.zeros(ng, dtype=np.float32)
        n_groups = ctypes.c_int64(0)
        _check(lib.quant_fp8_quantize(sid, g, _p(x, _F32P), rows, cols, blk, _p(codes, _U8P),
                                      _p(scales, _F32P), ctypes.byref(n_groups)), what)
        return Quantized(scheme, granularity, (rows, cols), (rows * cols) // n_groups.value, codes, scales)
    # 4-bit
    blk4 = blk if granularity == "block" else cols
    q = _Quant4bit()
    _check(lib.quant_4bit_init(ctypes.byref(q), sid, rows, cols, blk4), what)
    try:
        _check_layout(q.rows == rows and q.cols == cols and q.block == blk4 and
                      q.n_blocks == rows * cols // blk4, "quant_4bit")
        _check(lib.quant_4bit_quantize(_p(x, _F32P), ctypes.byref(q)), what)
        codes = np.ctypeslib.as_array(q.codes, shape=((rows * cols + 1) // 2,)).copy()
        absmax = np.ctypeslib.as_array(q.absmax, shape=(q.n_blocks,)).copy()
        extra = {}
        if q.qabsmax:
            extra = dict(qabsmax=np.ctypeslib.as_array(q.qabsmax, shape=(q.n_blocks,)).copy(),
                         dq_scales=np.ctypeslib.as_array(q.dq_scales, shape=(q.n_dq_blocks,)).copy(),
                         dq_mean=float(q.dq_mean))
    finally:
        lib.quant_4bit_free(ctypes.byref(q))
    return Quantized(scheme, granularity, (rows, cols), int(blk4), codes, absmax, **extra)


def dequantize(q):
    """v' of a Quantized (what the scheme's reader computes), float32 [rows, cols]."""
    what = "dequantize"
    if not isinstance(q, Quantized):
        raise QuantError("%s: expected a Quantized (from quantize), got %s" % (what, type(q).__name__))
    sid, kind = _scheme(q.scheme, what, ("int8", "fp8", "4bit"))
    rows, cols = q.shape
    out = np.empty((rows, cols), dtype=np.float32)
    lib = _load()
    if kind == "int8":
        codes = np.ascontiguousarray(q.codes, dtype=np.int8)
        scales = np.ascontiguousarray(q.scales, dtype=np.float32)
        m = _QuantMatrix()
        _check(lib.quant_matrix_init(ctypes.byref(m), sid, _gran(q.granularity, what), rows, cols,
                                     q.block if q.granularity == "block" else 0), what)
        try:
            if codes.size != rows * cols or scales.size != m.n_groups:
                raise QuantError("%s: codes or scales do not fit a %dx%d %s matrix" % (what, rows, cols, q.granularity))
            np.ctypeslib.as_array(m.codes, shape=(rows * cols,))[:] = codes.reshape(-1)
            np.ctypeslib.as_array(m.scales, shape=(m.n_groups,))[:] = scales
            if q.scheme == "zeropoint":
                np.ctypeslib.as_array(m.zeros, shape=(m.n_groups,))[:] = np.asarray(q.zeros, dtype=np.int32)
            _check(lib.quant_dequantize(ctypes.byref(m), _p(out, _F32P)), what)
        finally:
            lib.quant_matrix_free(ctypes.byref(m))
        return out
    if kind == "fp8":
        codes = np.ascontiguousarray(q.codes, dtype=np.uint8)
        scales = np.ascontiguousarray(q.scales, dtype=np.float32)
        _check(lib.quant_fp8_dequantize(sid, _p(codes, _U8P), _p(scales, _F32P), rows * cols, q.block,
                                        _p(out, _F32P)), what)
        return out
    st = ctypes.c_int(0)
    if lib.quant_group_count(_gran("block", what), rows, cols, q.block, ctypes.byref(st)) < 0:
        _check(st.value, what)
    codes = np.ascontiguousarray(q.codes, dtype=np.uint8)
    absmax = np.ascontiguousarray(q.scales, dtype=np.float32)
    if codes.size != (rows * cols + 1) // 2 or absmax.size != rows * cols // q.block:
        raise QuantError("%s: codes or scales do not fit a %dx%d matrix in blocks of %d" % (what, rows, cols, q.block))
    # the library reads codes and absmax only; point the struct at our arrays
    s = _Quant4bit(scheme=sid, rows=rows, cols=cols, block=q.block, n_blocks=absmax.size,
                   n_dq_blocks=0, codes=_p(codes, _U8P), absmax=_p(absmax, _F32P))
    keep = []
    if q.qabsmax is not None:
        qa = np.ascontiguousarray(q.qabsmax, dtype=np.int8)
        dq = np.ascontiguousarray(q.dq_scales, dtype=np.float32)
        keep = [qa, dq]
        s.qabsmax = _p(qa, ctypes.POINTER(ctypes.c_int8))
        s.dq_scales = _p(dq, _F32P)
        s.n_dq_blocks = dq.size
        s.dq_mean = q.dq_mean
    elif q.scheme.endswith("_dq"):
        raise QuantError("%s: %s needs qabsmax and dq_scales" % (what, q.scheme))
    _check(lib.quant_4bit_dequantize(ctypes.byref(s), _p(out, _F32P)), what)
    del keep
    return out


def roundtrip(x, scheme, granularity="tensor", block=None):
    """v' of x through any scheme (quantize then dequantize; fp16/bf16 rounding; fp32
    a copy), float32 [rows, cols]: the library's quant_roundtrip, the operand error
    qlab reports as x_rel_err / w_rel_err comes from it."""
    what = "roundtrip"
    sid, kind = _scheme(scheme, what)
    g = _gran(granularity, what)
    x = _matrix(x, "x", what)
    out = np.empty_like(x)
    _check(_load().quant_roundtrip(sid, g, _p(x, _F32P), x.shape[0], x.shape[1],
                                   _block(granularity, block, what), _p(out, _F32P)), what)
    return out


def matmul(x, w, scheme, x_granularity="tensor", w_granularity="tensor", block=64, threshold=0.0,
           outlier_weights="fp16", smooth_alpha=0.0, info=False):
    """Y = the scheme's X W^T as qlab computes it (quant_matmul_scheme), float32 [m, n].

    x [m, k], w [n, k]. scheme: any scheme name (fp32, fp16, bf16, absmax, zeropoint,
    fp8_e4m3, fp8_e5m2, nf4, fp4, nf4_dq, fp4_dq; the config preset llm_int8 is
    absmax, x_granularity row, w_granularity channel, threshold 6). block: where a
    granularity is block, and the 4-bit block size. threshold: the LLM.int8() outlier
    threshold (0 = no decomposition); outlier_weights: fp16 or dequant; smooth_alpha:
    SmoothQuant strength (0 = off). With info=True returns (Y, dict) with the
    outlier column count, x_rel_err, w_rel_err and the byte counts of the results
    file's memory columns.
    """
    what = "matmul"
    sid, kind = _scheme(scheme, what)
    x = _matrix(x, "x", what)
    w = _matrix(w, "w", what)
    if x.shape[1] != w.shape[1]:
        raise QuantError("%s: x is [m, k] = %s and w [n, k] = %s: k differs" % (what, x.shape, w.shape))
    if outlier_weights not in OUTLIER_WEIGHTS:
        raise QuantError("%s: unknown outlier_weights %r (fp16, dequant)" % (what, outlier_weights))
    lib = _load()
    opts = _MatmulOpts(scheme=sid, x_gran=_gran(x_granularity, what), w_gran=_gran(w_granularity, what),
                       block=int(block), threshold=float(threshold),
                       outlier_weights=lib.quant_outlier_weights_from_name(outlier_weights.encode()),
                       smooth_alpha=float(smooth_alpha))
    m, k = x.shape
    n = w.shape[0]
    y = np.empty((m, n), dtype=np.float32)
    inf = _MatmulInfo()
    _check(lib.quant_matmul_scheme(_p(x, _F32P), _p(w, _F32P), m, k, n, ctypes.byref(opts),
                                   _p(y, _F32P), ctypes.byref(inf)), what,
           inf.detail.decode("utf-8", "replace"))
    if info:
        return y, {name: getattr(inf, name) for name, _ in _MatmulInfo._fields_
                   if name not in ("_reserve", "detail")}
    return y
