"""tools/dump_onnx.py on a small ONNX graph built here: which nodes are linear layers
(MatMul with a constant weight and a bias Add, Gemm with transA, transB, alpha, beta,
a float16 MatMul; not a MatMul of two computed tensors), the stored weight, bias,
input and output against numpy, and qlab's own check of the file. Needs onnx and
onnxruntime (or the pinned copies of tools/setup.sh): without them the tests skip,
saying so, except where CI=true."""
import os
import subprocess
import sys

import numpy as np
import pytest

from conftest import REPO, run_qlab

TOOLS = os.path.join(REPO, "tools")
sys.path.insert(0, TOOLS)
import dump_onnx  # noqa: E402

try:
    _, h5py, onnx, ort = dump_onnx.load_packages(library=True)
    MISSING = None
except ImportError as e:
    MISSING = str(e).splitlines()[0]


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    if MISSING:
        if os.environ.get("CI") == "true":
            pytest.fail("CI=true but %s" % MISSING)
        pytest.skip(MISSING)
    from onnx import helper as h, numpy_helper as nh, TensorProto as T
    rng = np.random.default_rng(3)
    w1 = rng.standard_normal((8, 16)).astype(np.float32)      # MatMul B: [in, out]
    b1 = rng.standard_normal(16).astype(np.float32)
    w2 = rng.standard_normal((12, 16)).astype(np.float32)     # Gemm transB = 1: [out, in]
    c2 = rng.standard_normal((1, 12)).astype(np.float32)
    w3 = rng.standard_normal((12, 6)).astype(np.float32)      # Gemm transA = 1, transB = 0
    w4 = rng.standard_normal((6, 5)).astype(np.float16)       # float16, bias Add(b, y)
    b4 = rng.standard_normal(5).astype(np.float16)
    nodes = [
        h.make_node("MatMul", ["x", "W1"], ["m1"], name="block/fc1"),
        h.make_node("Add", ["m1", "b1"], ["a1"]),
        h.make_node("Relu", ["a1"], ["r1"]),
        h.make_node("Gemm", ["r1", "W2", "c2"], ["g2"], name="gemm2", transB=1, alpha=0.5, beta=2.0),
        h.make_node("Transpose", ["g2"], ["g2t"]),
        h.make_node("Gemm", ["g2t", "W3"], ["g3"], name="gemm3", transA=1),
        h.make_node("Cast", ["g3"], ["g3h"], to=T.FLOAT16),
        h.make_node("MatMul", ["g3h", "W4"], ["m4"], name="half"),
        h.make_node("Add", ["b4", "m4"], ["y"]),
        h.make_node("Transpose", ["x"], ["xt"]),
        h.make_node("MatMul", ["x", "xt"], ["s"], name="scores"),   # two computed operands
    ]
    g = h.make_graph(
        nodes, "toy",
        [h.make_tensor_value_info("x", T.FLOAT, ["N", 8])],
        [h.make_tensor_value_info("y", T.FLOAT16, ["N", 5]),
         h.make_tensor_value_info("s", T.FLOAT, ["N", "N"])],
        [nh.from_array(a, n) for a, n in ((w1, "W1"), (b1, "b1"), (w2, "W2"), (c2, "c2"),
                                          (w3, "W3"), (w4, "W4"), (b4, "b4"))])
    model = h.make_model(g, opset_imports=[h.make_opsetid("", 14)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    d = tmp_path_factory.mktemp("onnx")
    path = str(d / "toy.onnx")
    onnx.save(model, path)
    x = rng.standard_normal((2, 10, 8)).astype(np.float32).reshape(20, 8)
    np.save(str(d / "x.npy"), x)
    r1 = np.maximum(x @ w1 + b1, 0)
    g2 = 0.5 * r1 @ w2.T + 2.0 * c2
    expect = {
        "block/fc1": (w1.T, b1, x, x @ w1 + b1),
        "gemm2": (0.5 * w2, 2.0 * c2[0], r1, g2),
        "gemm3": (w3.T, None, g2, g2 @ w3),
    }
    return {"dir": d, "path": path, "x": x, "expect": expect, "w4": w4, "b4": b4}


def read(path):
    out = {}
    with h5py.File(path, "r") as f:
        assert f.attrs["format"] in ("qlab-dump", b"qlab-dump") and int(f.attrs["format_version"]) == 1
        for gname, g in f["layers"].items():
            name = g.attrs["name"]
            name = name.decode() if isinstance(name, bytes) else name
            out[name] = (gname, dict(g.attrs), {k: g[k][:] for k in g})
    return out


def test_linears_found_and_stored_as_out_in(toy):
    out = str(toy["dir"] / "toy.h5")
    n, skipped = dump_onnx.dump_onnx(toy["path"], {"x": toy["x"]}, out)
    assert n == 4 and skipped == []
    got = read(out)
    assert list(got) == ["block/fc1", "gemm2", "gemm3", "half"]     # node order, not "scores"
    assert got["block/fc1"][0] == "000-block.fc1" and got["half"][0] == "003-half"
    for name, (w, b, x, y) in toy["expect"].items():
        _, attrs, ds = got[name]
        assert "compute_dtype" not in attrs
        np.testing.assert_allclose(ds["weight"], w, rtol=1e-6)
        if b is None:
            assert "bias" not in ds
        else:
            np.testing.assert_allclose(ds["bias"], b, rtol=1e-6)
        np.testing.assert_allclose(ds["input"], x, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(ds["output"], y, rtol=1e-4, atol=1e-4)
    _, attrs, ds = got["half"]
    assert attrs["compute_dtype"] in ("float16", b"float16")
    np.testing.assert_array_equal(ds["weight"], toy["w4"].astype(np.float32).T)
    np.testing.assert_array_equal(ds["bias"], toy["b4"].astype(np.float32))
    assert ds["input"].shape == (20, 6) and ds["output"].shape == (20, 5)


def test_qlab_accepts_the_dump(toy, qlab_exe):
    """qlab checks each stored output against X W^T + b (float16 layer at its precision)."""
    out = str(toy["dir"] / "cli.h5")
    r = subprocess.run([sys.executable, os.path.join(TOOLS, "dump_onnx.py"), toy["path"],
                        "--input", "x=%s" % (toy["dir"] / "x.npy"), "-o", out, "--max-tokens", "7"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert r.returncode == 0, r.stderr.decode()
    assert all(ds["input"].shape[0] == 7 for _, _, ds in read(out).values())
    res = str(toy["dir"] / "run.h5")
    # exit 0: every point ran (a layer whose stored output is not X W^T + b fails its points, exit 1)
    run_qlab(qlab_exe, "run", "experiments/dump-example.yaml", "--backend", "cpu", "--no-progress",
             "-o", res, "--set", "workload.path=" + out, "--set", "quant.scheme=[fp16,absmax]")
    with h5py.File(res, "r") as f:
        layers = {v.decode() if isinstance(v, bytes) else v for v in f["points"]["layer"][:]}
    assert len(layers) == 4, layers


def test_bfloat16_storage_and_layer_glob(toy):
    out = str(toy["dir"] / "bf16.h5")
    n, _ = dump_onnx.dump_onnx(toy["path"], {None: toy["x"]}, out, dtype="bfloat16", layers="gemm*")
    assert n == 2
    got = read(out)
    assert list(got) == ["gemm2", "gemm3"]
    with h5py.File(out, "r") as f:
        ds = f["layers"]["000-gemm2"]["weight"]
        assert ds.dtype == np.uint16 and ds.attrs["dtype"] in ("bfloat16", b"bfloat16")
        back = (ds[:].astype(np.uint32) << 16).view(np.float32)
    np.testing.assert_allclose(back, toy["expect"]["gemm2"][0], rtol=2 ** -8)


@pytest.mark.parametrize("args,message", [
    (["--input", "nope=X"], "has no input 'nope'"),
    (["--input", "x=missing.npy"], "cannot read missing.npy"),
    ([], "--input NAME=FILE.npy"),
])
def test_bad_inputs_exit_2(toy, args, message):
    args = [a.replace("X", str(toy["dir"] / "x.npy")) for a in args]
    r = subprocess.run([sys.executable, os.path.join(TOOLS, "dump_onnx.py"), toy["path"], "-o",
                        str(toy["dir"] / "bad.h5")] + args, cwd=str(toy["dir"]),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    err = r.stderr.decode()
    assert r.returncode == 2 and message in err and "Traceback" not in err, err


@pytest.mark.parametrize("blocked", ["onnx", "onnxruntime", "h5py"])
def test_missing_package_is_named_and_exits_2(blocked, tmp_path):
    code = ("import runpy, sys; sys.modules[%r] = None; sys.argv = sys.argv[1:]; "
            "runpy.run_path(sys.argv[0], run_name='__main__')" % blocked)
    r = subprocess.run([sys.executable, "-c", code, os.path.join(TOOLS, "dump_onnx.py"), "m.onnx",
                        "--input", "x.npy", "-o", "o.h5"], cwd=str(tmp_path),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    err = r.stderr.decode()
    assert r.returncode == 2, (r.returncode, err)
    assert "Traceback" not in err and blocked in err and "install" in err, err
