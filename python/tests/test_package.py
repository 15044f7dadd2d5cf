"""`pip install ./python` gives a package that finds its library next to itself."""
import os
import shutil
import subprocess
import sys

from conftest import REPO


def test_pip_install_carries_the_library(tmp_path):
    """What `make python-lib && pip install ./python` does, into a scratch folder:
    the installed qlab.quant loads the libquant.so installed beside it (no
    $QLAB_LIBQUANT, no build/ in reach) and quantizes."""
    src = tmp_path / "src"
    shutil.copytree(os.path.join(REPO, "python"), src,
                    ignore=shutil.ignore_patterns("tests", "__pycache__", "*.egg-info", "build", "libquant.so"))
    shutil.copy(os.environ["QLAB_LIBQUANT"], src / "qlab" / "libquant.so")
    target = tmp_path / "site"
    r = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                        "--no-index", "--target", str(target), str(src)],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=str(tmp_path))
    assert r.returncode == 0, "pip install failed (python3-pip and python3-setuptools are needed):\n" + \
        r.stdout.decode()
    assert (target / "qlab" / "libquant.so").is_file()
    env = {k: v for k, v in os.environ.items() if k not in ("QLAB_LIBQUANT", "PYTHONPATH")}
    env["PYTHONPATH"] = str(target)
    code = ("import numpy as np, qlab; p = qlab.quant.library_path(); print(p); "
            "q = qlab.quant.quantize(np.arange(8, dtype=np.float32).reshape(2, 4), 'absmax', 'row'); "
            "print(q.codes.tolist())")
    r = subprocess.run([sys.executable, "-c", code], env=env, cwd=str(tmp_path),
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out = r.stdout.decode()
    assert r.returncode == 0, out
    lines = out.splitlines()
    assert lines[0] == str(target / "qlab" / "libquant.so")
    assert lines[1] == "[[0, 42, 85, 127], [73, 91, 109, 127]]"
