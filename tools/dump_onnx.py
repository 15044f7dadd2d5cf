#!/usr/bin/env python3
"""dump_onnx.py: write a qlab layer dump (DESIGN section 8) from any ONNX model.

The ONNX counterpart of dump_torch.py. Every MatMul and Gemm node whose weight is a
constant (an initializer or a Constant node) is a linear layer; the file holds, per
layer in the graph's node order (ONNX requires it to be an execution order), its
weight [n,k] in qlab's [out, in] layout, its bias [n] (if any), the input [tokens,k]
it saw when onnxruntime ran the model on your inputs, and its output [tokens,n]. qlab
then runs every quantization scheme on those real tensors: workload: {kind: dump,
path: FILE}.

  - MatMul(X, B) with B constant and 2-D: B is [in, out], written transposed. The bias
    is the constant of an Add that is the MatMul's only consumer, when that constant
    is a vector of n (or [1, .., 1, n]); the layer's output is then the Add's.
  - Gemm(A, B, C): B is written as is with transB = 1, transposed otherwise; alpha is
    folded into the weight, beta * C is the bias (C must be a constant vector of n);
    transA = 1 stores A transposed, so the input is always [tokens, k].
  - Any other MatMul (both operands computed, as in attention's Q K^T, a constant on
    the left, a weight of more than 2 dimensions, integer weights) is not a linear
    layer here; those with a constant operand are listed as skipped, with why.
Inputs with more than two dimensions are flattened to [tokens, k] (batch and sequence
together). Layer names are the node names ('/' is kept in the `name` attribute; the
group name uses '.' since '/' separates HDF5 paths). A weight stored in float16 or
bfloat16 sets the layer's compute_dtype, so that qlab's check of the stored output
fits the model's precision.

The intermediate tensors are captured in one onnxruntime run: every selected layer's
input and output become extra graph outputs of an in-memory copy of the model.

Usage (needs numpy, h5py, onnx and onnxruntime; a missing one is named, with how to
install it, and the script exits 2):

  # one .npy per graph input, named as in the graph (a model with one input may omit NAME=)
  python3 tools/dump_onnx.py model.onnx --input pixel_values=x.npy -o model.h5
  qlab run experiments/dump-example.yaml --set workload.path=model.h5

  # from Python
  from dump_onnx import dump_onnx
  dump_onnx("model.onnx", {"pixel_values": x}, "model.h5")

Options: --dtype float32 | float16 | bfloat16 (storage; default float32), --max-tokens N
(rows kept per layer, default 512; 0 keeps all), --layers GLOB (only nodes whose name
matches, e.g. "*/mlp/*"), --list (print the linear layers found and exit).
When onnx or onnxruntime is not importable, the pinned copies tools/setup.sh installs
under ${QLAB_CACHE:-~/.cache/qlab}/vit/py are tried (placed after sys.path, so the
Python's own numpy and h5py stay first).
"""
import argparse
import fnmatch
import os
import sys

try:
    from pydeps import require
except ImportError:   # imported from elsewhere: pydeps.py lies beside this file
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from pydeps import require

FORMAT = "qlab-dump"
FORMAT_VERSION = 1
TOOL = "dump_onnx.py"
PACKAGES = ["numpy", "h5py", "onnx", "onnxruntime"]


def pinned_dir():
    """Where tools/setup.sh installs pinned onnx and onnxruntime wheels."""
    cache = os.environ.get("QLAB_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "qlab")
    return os.path.join(cache, "vit", "py")


def load_packages(library=False):
    """numpy, h5py, onnx, onnxruntime. Tries the Python's own packages, then the pinned
    copies. Missing: one message naming them all, exit 2 (ImportError with library)."""
    try:
        return require(TOOL, PACKAGES, library=True)
    except ImportError as first:
        pinned = pinned_dir()
        if os.path.isdir(pinned) and pinned not in sys.path:
            sys.path.append(pinned)
            try:
                return require(TOOL, PACKAGES, library=True)
            except ImportError as e:
                first = e
        msg = "%s\n  (tools/setup.sh installs pinned onnx and onnxruntime into %s, which %s " \
              "uses when present)" % (first, pinned, TOOL)
        if library:
            raise ImportError(msg)
        sys.stderr.write(msg + "\n")
        sys.exit(2)


class Linear:
    """One MatMul or Gemm node taken as a linear layer."""

    def __init__(self, name, op, x_name, y_name, weight, bias, compute_dtype, trans_x):
        self.name, self.op = name, op
        self.x_name, self.y_name = x_name, y_name    # graph tensors: input, output (after the bias)
        self.weight, self.bias = weight, bias        # float32 [n, k], [n] or None
        self.compute_dtype = compute_dtype           # "float32" | "float16" | "bfloat16"
        self.trans_x = trans_x                       # Gemm transA: the input is stored [k, tokens]


def _constants(graph):
    """name -> (TensorProto) of every initializer and Constant node value; arrays are
    made on use, so a large model is not converted twice."""
    out = {t.name: t for t in graph.initializer}
    for n in graph.node:
        if n.op_type == "Constant" and n.domain in ("", "ai.onnx"):
            for a in n.attribute:
                if a.name == "value":
                    out[n.output[0]] = a.t
    return out


_FLOAT_TYPES = {1: "float32", 10: "float16", 16: "bfloat16", 11: "float64"}   # TensorProto codes


def _bias_vector(np, c, n):
    """c as a vector of n if it is one ([n], [1, n], [1, 1, n], ...), else None."""
    if c.size == n and (c.ndim == 0 and n == 1 or c.ndim >= 1 and c.shape[-1] == n):
        return c.reshape(n).astype(np.float32)
    if c.size == 1:   # a scalar broadcast over every output
        return np.full(n, float(c.reshape(())), np.float32)
    return None


def find_linears(model, layers="*", np=None, onnx=None):
    """The linear layers of model's main graph, in node order, and the skipped nodes.

    Returns (linears, skipped): a list of Linear and a list of (node name, reason)."""
    if np is None or onnx is None:
        np, _, onnx, _ = load_packages(library=True)
    from onnx import numpy_helper
    g = model.graph
    consts = _constants(g)
    graph_outputs = {o.name for o in g.output}
    consumers = {}
    for n in g.node:
        for i in n.input:
            if i:
                consumers.setdefault(i, []).append(n)

    def const(name):
        return numpy_helper.to_array(consts[name])

    linears, skipped, seen = [], [], set()
    for idx, n in enumerate(g.node):
        if n.op_type not in ("MatMul", "Gemm") or n.domain not in ("", "ai.onnx"):
            continue
        name = n.name or "%s_%d(%s)" % (n.op_type, idx, n.output[0])
        if not fnmatch.fnmatch(name, layers):
            continue
        a_name, b_name = n.input[0], n.input[1]
        if b_name not in consts:
            if a_name in consts:
                skipped.append((name, "the constant is the left operand (Y = W X)"))
            continue   # both operands computed: attention scores and the like, not a layer
        t = consts[b_name]
        if t.data_type not in _FLOAT_TYPES:
            skipped.append((name, "weight %s is not floating point (type %d)" % (b_name, t.data_type)))
            continue
        w = const(b_name)
        if w.ndim != 2:
            skipped.append((name, "weight %s has %d dimensions, not 2" % (b_name, w.ndim)))
            continue
        compute = _FLOAT_TYPES[t.data_type]
        compute = "float32" if compute == "float64" else compute
        w = w.astype(np.float32)
        trans_x, bias, y_name = False, None, n.output[0]
        if n.op_type == "MatMul":
            w = w.T
            users = consumers.get(y_name, [])
            if len(users) == 1 and y_name not in graph_outputs and users[0].op_type == "Add" \
                    and users[0].domain in ("", "ai.onnx"):
                add = users[0]
                other = [i for i in add.input if i != y_name]
                if len(other) == 1 and other[0] in consts:
                    bias = _bias_vector(np, const(other[0]), w.shape[0])
                    if bias is not None:
                        y_name = add.output[0]
        else:
            at = {a.name: onnx.helper.get_attribute_value(a) for a in n.attribute}
            alpha, beta = float(at.get("alpha", 1.0)), float(at.get("beta", 1.0))
            if not at.get("transB", 0):
                w = w.T
            if alpha != 1.0:
                w = w * np.float32(alpha)
            trans_x = bool(at.get("transA", 0))
            if len(n.input) > 2 and n.input[2]:
                if n.input[2] not in consts:
                    skipped.append((name, "its C (%s) is computed, not a constant bias" % n.input[2]))
                    continue
                bias = _bias_vector(np, const(n.input[2]), w.shape[0])
                if bias is None:
                    skipped.append((name, "its C has shape %s, not a bias vector of %d" % (
                        list(const(n.input[2]).shape), w.shape[0])))
                    continue
                bias = bias * np.float32(beta)
        if name in seen:
            name = "%s_%d" % (name, idx)
        seen.add(name)
        linears.append(Linear(name, n.op_type, a_name, y_name, np.ascontiguousarray(w), bias,
                              compute, trans_x))
    return linears, skipped


def _np_dtype(np, ort_type):
    """numpy dtype for an onnxruntime input type string such as 'tensor(float)'."""
    table = {"tensor(float)": np.float32, "tensor(float16)": np.float16,
             "tensor(double)": np.float64, "tensor(int64)": np.int64, "tensor(int32)": np.int32,
             "tensor(int8)": np.int8, "tensor(uint8)": np.uint8, "tensor(bool)": np.bool_}
    return table.get(ort_type)


def _session(model, onnx, ort):
    so = ort.SessionOptions()
    so.log_severity_level = 3
    try:
        data = model.SerializeToString()
    except ValueError:   # over protobuf's 2 GB: through a file with external data
        import tempfile
        d = tempfile.mkdtemp(prefix="dump_onnx-")
        path = os.path.join(d, "model.onnx")
        onnx.save_model(model, path, save_as_external_data=True, location="model.data")
        return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    return ort.InferenceSession(data, so, providers=["CPUExecutionProvider"])


def _to_storage(np, a, dtype):
    """a (float32) as stored for dtype; bfloat16 as its uint16 bits (round to nearest even)."""
    if dtype == "float32":
        return a.astype(np.float32), None
    if dtype == "float16":
        return a.astype(np.float16), None
    u = np.ascontiguousarray(a, dtype=np.float32).view(np.uint32)
    rounded = ((u + np.uint32(0x7FFF) + ((u >> np.uint32(16)) & np.uint32(1))) >> np.uint32(16))
    bits = np.where(np.isnan(a), np.uint32(0x7FC0), rounded).astype(np.uint16)
    return bits, "bfloat16"


class DumpError(Exception):
    """An input or model the dump cannot be made from (exit 2 on the command line)."""


def dump_onnx(model_path, inputs, path, model_name=None, source=None, dtype="float32",
              max_tokens=512, layers="*", log=None):
    """Runs the ONNX model at model_path once on inputs (graph input name -> numpy array)
    and writes the layer dump to path. Returns (layers written, skipped nodes list).
    Raises DumpError for inputs or a model it cannot use, ImportError naming a missing
    package."""
    np, h5py, onnx, ort = load_packages(library=True)
    if not os.path.isfile(model_path):
        raise DumpError("%s: no such file" % model_path)
    try:
        model = onnx.load(model_path)
    except Exception as e:   # protobuf's DecodeError and onnx's own errors alike
        raise DumpError("%s: not an ONNX model (%s)" % (model_path, e))
    linears, skipped = find_linears(model, layers, np, onnx)
    if not linears:
        raise DumpError("%s: no MatMul or Gemm with a constant weight%s" % (
            model_path, "" if layers == "*" else " matches %r" % layers))

    g = model.graph
    init_names = {t.name for t in g.initializer}
    feeds_needed = [i for i in g.input if i.name not in init_names]
    if len(feeds_needed) == 1 and None in inputs:
        inputs = {feeds_needed[0].name: inputs[None]}
    if None in inputs:
        raise DumpError("the model has %d inputs (%s): name each, --input NAME=FILE.npy" % (
            len(feeds_needed), ", ".join(i.name for i in feeds_needed)))
    known = {i.name for i in g.input}
    for k in inputs:
        if k not in known:
            raise DumpError("the model has no input %r (its inputs: %s)" % (
                k, ", ".join(i.name for i in feeds_needed)))
    missing = [i.name for i in feeds_needed if i.name not in inputs]
    if missing:
        raise DumpError("no value for the model's input%s %s (--input NAME=FILE.npy)" % (
            "s" if len(missing) > 1 else "", ", ".join(missing)))

    # every layer's input and output as a graph output; one run captures them all
    present = {o.name for o in g.output}
    elem = {}
    for L in linears:
        t = 1 if L.compute_dtype == "float32" else (10 if L.compute_dtype == "float16" else 16)
        for nm in (L.x_name, L.y_name):
            elem.setdefault(nm, t)
    wanted = []
    for nm, t in elem.items():
        if nm in inputs:
            continue   # a graph input: the fed array itself
        wanted.append(nm)
        if nm not in present:
            g.output.append(onnx.helper.make_tensor_value_info(nm, t, None))
            present.add(nm)
    try:
        sess = _session(model, onnx, ort)
    except Exception as e:
        raise DumpError("%s: onnxruntime cannot load it: %s" % (model_path, e))
    feeds = {}
    for i in sess.get_inputs():
        if i.name not in inputs:
            continue
        a = np.asarray(inputs[i.name])
        want = _np_dtype(np, i.type)
        if want is not None and a.dtype != want:
            if np.issubdtype(a.dtype, np.floating) != np.issubdtype(np.dtype(want), np.floating):
                raise DumpError("input %s: the model takes %s, the array is %s" % (i.name, i.type, a.dtype))
            a = a.astype(want)
        feeds[i.name] = a
    if log:
        log("%s: running onnxruntime %s, capturing %d tensors of %d linear layers" % (
            TOOL, ort.__version__, len(wanted), len(linears)))
    try:
        got = dict(zip(wanted, sess.run(wanted, feeds)))
    except Exception as e:
        raise DumpError("onnxruntime could not run %s on these inputs: %s" % (model_path, e))
    for k, a in inputs.items():
        got[k] = np.asarray(a)

    def rows(a, k, trans):
        a = np.asarray(a, dtype=np.float32)
        if trans:
            a = a.T
        a = a.reshape(-1, k)
        return a[:max_tokens] if max_tokens and max_tokens > 0 else a

    written = 0
    with h5py.File(path, "w") as f:
        f.attrs["format"] = FORMAT
        f.attrs["format_version"] = np.int64(FORMAT_VERSION)
        f.attrs["model"] = model_name if model_name is not None else os.path.basename(model_path)
        f.attrs["source"] = source if source is not None else "tools/dump_onnx.py %s" % model_path
        lg = f.create_group("layers")
        for L in linears:
            n, k = L.weight.shape
            x, y = got[L.x_name], got[L.y_name]
            if (x.T if L.trans_x else x).shape[-1] != k or y.shape[-1] != n or x.size // k != y.size // n:
                skipped.append((L.name, "captured input %s and output %s do not fit weight [%d, %d]" % (
                    list(x.shape), list(y.shape), n, k)))
                continue
            g_name = "%03d-%s" % (written, L.name.strip("/").replace("/", ".") or "layer")
            grp = lg.create_group(g_name)
            grp.attrs["name"] = L.name
            grp.attrs["index"] = np.int64(written)
            if L.compute_dtype != "float32":
                grp.attrs["compute_dtype"] = L.compute_dtype
            for ds, arr in (("weight", L.weight), ("bias", L.bias), ("input", rows(x, k, L.trans_x)),
                            ("output", rows(y, n, False))):
                if arr is None:
                    continue
                data, tag = _to_storage(np, arr, dtype)
                d = grp.create_dataset(ds, data=data)
                if tag:
                    d.attrs["dtype"] = tag
            written += 1
    if not written:
        os.remove(path)
        raise DumpError("%s: no layer could be written (see the skipped list)" % model_path)
    return written, skipped


def parse_inputs(specs, np):
    """--input values (NAME=FILE.npy, or FILE.npy for a model with one input) -> dict."""
    out = {}
    for s in specs:
        name, sep, file = s.partition("=")
        if not sep:
            name, file = None, s
        if name in out:
            raise DumpError("--input %s given twice" % (name or "without a name"))
        try:
            out[name] = np.load(file, allow_pickle=False)
        except (OSError, ValueError) as e:
            raise DumpError("--input %s: cannot read %s as .npy: %s" % (s, file, e))
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model", help="the .onnx file")
    ap.add_argument("--input", action="append", default=[], metavar="NAME=FILE.npy",
                    help="a graph input's value (repeat for each input)")
    ap.add_argument("-o", "--output", help="dump file to write (.h5)")
    ap.add_argument("--dtype", default="float32", choices=["float32", "float16", "bfloat16"])
    ap.add_argument("--max-tokens", type=int, default=512, help="rows kept per layer (0: all)")
    ap.add_argument("--layers", default="*", help="glob over node names (default: every linear)")
    ap.add_argument("--list", action="store_true", help="print the linear layers found and exit")
    a = ap.parse_args(argv)
    np, _, onnx, _ = load_packages()
    try:
        if a.list:
            if not os.path.isfile(a.model):
                raise DumpError("%s: no such file" % a.model)
            linears, skipped = find_linears(onnx.load(a.model), a.layers, np, onnx)
            for L in linears:
                print("%s\t%s\t[%d, %d]%s\t%s" % (L.name, L.op, L.weight.shape[0], L.weight.shape[1],
                                                  " +bias" if L.bias is not None else "", L.compute_dtype))
            for nm, why in skipped:
                print("skipped %s: %s" % (nm, why), file=sys.stderr)
            print("%d linear layers" % len(linears), file=sys.stderr)
            return 0
        if not a.output:
            ap.error("-o OUT.h5 is required")
        if a.max_tokens < 0:
            ap.error("--max-tokens must be 0 (all) or more")
        if not a.input:
            ap.error("give the model's inputs: --input NAME=FILE.npy")
        inputs = parse_inputs(a.input, np)
        src = "tools/dump_onnx.py %s %s" % (os.path.basename(a.model),
                                              " ".join("--input " + s for s in a.input))
        n, skipped = dump_onnx(a.model, inputs, a.output, source=src, dtype=a.dtype,
                               max_tokens=a.max_tokens, layers=a.layers,
                               log=lambda m: print(m, file=sys.stderr))
    except DumpError as e:
        print("%s: %s" % (TOOL, e), file=sys.stderr)
        return 2
    for nm, why in skipped:
        print("%s: skipped %s: %s" % (TOOL, nm, why), file=sys.stderr)
    print("wrote %s: %d linear layers" % (a.output, n))
    return 0


if __name__ == "__main__":
    sys.exit(main())
