"""The Python tools in tools/: a missing package is named with how to install it, and
the tool exits 2, not with a traceback. Each tool is run with the package blocked
(sys.modules[name] = None makes its import fail), whatever this machine has."""
import os
import subprocess
import sys

import pytest

from conftest import REPO

BLOCK_AND_RUN = ("import runpy, sys; blocked = sys.argv[1].split(','); "
                 "[sys.modules.__setitem__(b, None) for b in blocked]; "
                 "sys.argv = sys.argv[2:]; sys.path.insert(0, __import__('os').path.dirname(sys.argv[0])); "
                 "runpy.run_path(sys.argv[0], run_name='__main__')")

CASES = [
    ("dump_torch.py", "torch", ["--model", "m", "--text", "t.txt", "-o", "o.h5"]),
    ("dump_torch.py", "numpy", ["--model", "m", "--text", "t.txt", "-o", "o.h5"]),
    ("dump_torch.py", "h5py", ["--model", "m", "--text", "t.txt", "-o", "o.h5"]),
    ("dump_torch.py", "transformers", ["--model", "m", "--text", "t.txt", "-o", "o.h5"]),
    ("make_minilm_fixture.py", "torch", ["model", "out"]),
    ("make_minilm_fixture.py", "sentence_transformers", ["model", "out"]),
    ("numpy_peer.py", "numpy", []),
    ("convert_vit.py", "numpy", ["in.onnx", "out.safetensors"]),
    ("make_vit_fixture.py", "numpy", ["pkg", "photos", "out"]),
]


@pytest.mark.parametrize("tool,blocked,args", CASES, ids=["%s-%s" % (c[0], c[1]) for c in CASES])
def test_missing_package_is_named_and_exits_2(tool, blocked, args, tmp_path):
    path = os.path.join(REPO, "tools", tool)
    assert os.path.exists(path), path
    r = subprocess.run([sys.executable, "-c", BLOCK_AND_RUN, blocked, path] + args, cwd=str(tmp_path),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    err = r.stderr.decode()
    assert r.returncode == 2, (r.returncode, err)
    assert "Traceback" not in err, err
    assert blocked.split("_")[0] in err, err
    assert "install" in err, err


def test_dump_model_names_what_is_missing_when_called_from_python(tmp_path):
    code = ("import sys; sys.modules['torch'] = None; sys.path.insert(0, %r); import dump_torch\n"
            "try:\n    dump_torch.dump_model(None, None, 'x.h5')\n"
            "except ImportError as e:\n    print(e)\n" % os.path.join(REPO, "tools"))
    r = subprocess.run([sys.executable, "-c", code], cwd=str(tmp_path), stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT)
    out = r.stdout.decode()
    assert r.returncode == 0, out
    assert "missing Python package: torch" in out and "pip install torch" in out
