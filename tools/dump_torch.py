#!/usr/bin/env python3
"""dump_torch.py: write a qlab layer dump (DESIGN section 8) from any PyTorch model.

Forward hooks on every linear layer capture the input each layer sees on a real
forward pass; the file holds, per layer in execution order, its weight [n,k], bias [n]
(if any), the captured input [tokens,k] and output [tokens,n]. qlab then runs every
quantization scheme on those real tensors:  workload: {kind: dump, path: FILE}.

Linear layers are torch.nn.Linear (weight [out, in], y = x W^T + b) and
transformers.pytorch_utils.Conv1D, the linear of GPT-2 and its kin, whose weight is
[in, out] (y = x W + b): it is written transposed, so every weight in the file is in
qlab's [out, in] layout. qlab checks each layer's stored output against x W^T + b and
fails a layer whose weight is stored the wrong way round. Each layer also records
compute_dtype, the precision its output was computed in (the module's or autocast's
dtype; tf32 for float32 matmuls on a GPU that allows TF32), so that the check's
tolerance fits a float32 dump of a model that ran in float16, bfloat16 or TF32.

Usage (needs torch, h5py and numpy; transformers for --model; a missing one is named,
with how to install it, and the script exits 2):

  # a Hugging Face model on your own texts (one text per line)
  python3 tools/dump_torch.py --model bert-base-uncased --text texts.txt -o bert.h5

  # from Python, for any model and any input batch
  from dump_torch import dump_model
  dump_model(model, lambda m: m(batch), "my-model.h5", model_name="my-model")

  qlab run experiments/dump-example.yaml --set workload.path=bert.h5

Options: --dtype float32 | float16 | bfloat16 (storage; default float32),
--max-tokens N (tokens kept per layer, default 512), --layers GLOB (only linears whose
module name matches; GPT-2's are e.g. "*.attn.c_attn"). Inputs with more than two dimensions are flattened to
[tokens, k] (batch and sequence together). A layer called more than once (shared
modules) gets one group per call. Padding tokens are dropped when the model is run on
texts with an attention mask.
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

if __name__ == "__main__":
    # every package the command needs, checked at once: one message, exit 2
    require("dump_torch.py", ["numpy", "torch", "h5py", "transformers"])
np, = require("dump_torch.py", ["numpy"], library=True)

FORMAT = "qlab-dump"
FORMAT_VERSION = 1


def _to_numpy(t, dtype):
    """A float tensor as the numpy array stored for `dtype` (bfloat16: uint16 bits)."""
    import torch
    t = t.detach().to("cpu")
    if dtype == "float32":
        return t.to(torch.float32).numpy(), None
    if dtype == "float16":
        return t.to(torch.float16).numpy(), None
    # bfloat16 has no numpy type: store its bit pattern as uint16, tagged
    bits = t.to(torch.bfloat16).contiguous().view(torch.int16).numpy().view(np.uint16)
    return bits, "bfloat16"


def _linear_classes():
    """The module classes dumped, and for each whether its weight is [in, out]."""
    import torch
    classes = [(torch.nn.Linear, False)]
    try:
        from transformers.pytorch_utils import Conv1D
        classes.append((Conv1D, True))
    except ImportError:   # no transformers: no Conv1D modules can exist either
        pass
    return classes


def _weight_out_in(mod, in_out):
    """The module's weight as a float32 CPU tensor in qlab's [out, in] layout."""
    w = mod.weight.detach()
    if in_out:
        w = w.t()
    return w.float().contiguous().cpu()


_PRECISION_ORDER = ["float32", "tf32", "float16", "bfloat16"]   # finer to coarser


def _compute_dtype(mod, output):
    """The coarsest precision the layer's output went through: its weight's and its
    output's dtype (autocast shows there), tf32 for float32 on a GPU allowing TF32."""
    import torch
    names = {torch.float16: "float16", torch.bfloat16: "bfloat16"}
    found = [names.get(mod.weight.dtype, "float32"), names.get(output.dtype, "float32")]
    if (output.dtype == torch.float32 and output.is_cuda and
            torch.backends.cuda.matmul.allow_tf32):
        found.append("tf32")
    return max(found, key=_PRECISION_ORDER.index)


def _write(group, name, tensor, dtype):
    arr, tag = _to_numpy(tensor, dtype)
    ds = group.create_dataset(name, data=arr)
    if tag:
        ds.attrs["dtype"] = tag


def dump_model(model, run, path, model_name="", source="tools/dump_torch.py", dtype="float32",
               max_tokens=512, layers="*", token_mask=None):
    """Runs run(model) once with hooks on every nn.Linear and Conv1D and writes the dump to path.

    run: a function calling the model (e.g. lambda m: m(**batch)).
    token_mask: optional bool tensor [batch, seq]; where given, only the tokens it marks
    (e.g. the attention mask) are kept from inputs shaped [batch, seq, k].
    Returns the number of layers written. Raises ImportError naming torch or h5py
    (and how to install them) when one is missing."""
    h5py, torch = require("dump_torch.py", ["h5py", "torch"], library=True)

    captured = []   # (module name, weight [out,in], bias, input [tokens,k], output [tokens,n], compute dtype)
    flat_mask = token_mask.reshape(-1).bool().cpu() if token_mask is not None else None

    def rows(t):
        t = t.detach().float().reshape(-1, t.shape[-1]).cpu()
        if flat_mask is not None and t.shape[0] == flat_mask.shape[0]:
            t = t[flat_mask]
        return t[:max_tokens]

    def hook_for(name, in_out):
        def hook(mod, inputs, output):
            captured.append((name, _weight_out_in(mod, in_out),
                             None if mod.bias is None else mod.bias.detach().float().cpu(),
                             rows(inputs[0]), rows(output), _compute_dtype(mod, output)))
        return hook

    classes = _linear_classes()
    handles = []
    for n, m in model.named_modules():
        if not fnmatch.fnmatch(n, layers):
            continue
        for cls, in_out in classes:
            if isinstance(m, cls):
                handles.append(m.register_forward_hook(hook_for(n, in_out)))
                break
    if not handles:
        raise ValueError("the model has no nn.Linear or Conv1D matching %r" % layers)
    try:
        with torch.no_grad():
            run(model)
    finally:
        for h in handles:
            h.remove()
    if not captured:
        raise ValueError("no linear layer ran during the forward pass")

    with h5py.File(path, "w") as f:
        f.attrs["format"] = FORMAT
        f.attrs["format_version"] = np.int64(FORMAT_VERSION)
        f.attrs["model"] = model_name
        f.attrs["source"] = source
        lg = f.create_group("layers")
        for i, (name, w, b, x, y, compute) in enumerate(captured):
            # qlab's group names: execution index, then the module name ('/' is a path separator in HDF5)
            g = lg.create_group("%03d-%s" % (i, name.replace("/", ".")))
            g.attrs["name"] = name
            g.attrs["index"] = np.int64(i)
            if compute != "float32":
                g.attrs["compute_dtype"] = compute
            _write(g, "weight", w, dtype)
            if b is not None:
                _write(g, "bias", b, dtype)
            _write(g, "input", x, dtype)
            _write(g, "output", y, dtype)
    return len(captured)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", required=True, help="Hugging Face model name or local directory")
    ap.add_argument("--text", required=True, help="text file, one input per line")
    ap.add_argument("-o", "--output", required=True, help="dump file to write (.h5)")
    ap.add_argument("--dtype", default="float32", choices=["float32", "float16", "bfloat16"])
    ap.add_argument("--max-tokens", type=int, default=512)
    ap.add_argument("--layers", default="*", help="glob over module names (default: every linear)")
    a = ap.parse_args(argv)

    from transformers import AutoModel, AutoTokenizer
    texts = [line.strip() for line in open(a.text, encoding="utf-8") if line.strip()]
    if not texts:
        sys.exit("dump_torch.py: %s holds no text" % a.text)
    tok = AutoTokenizer.from_pretrained(a.model)
    model = AutoModel.from_pretrained(a.model, torch_dtype="float32").eval()
    batch = tok(texts, padding=True, truncation=True, return_tensors="pt")
    n = dump_model(model, lambda m: m(**batch), a.output, model_name=a.model,
                   source="tools/dump_torch.py --text %s" % a.text, dtype=a.dtype,
                   max_tokens=a.max_tokens, layers=a.layers,
                   token_mask=batch.get("attention_mask"))
    print("wrote %s: %d linear layers" % (a.output, n))


if __name__ == "__main__":
    main()
