"""Fixtures of the qlab package tests: the qlab binary ($QLAB) and results files it
writes. python/tests/run.sh (make test) sets $QLAB and $QLAB_LIBQUANT; a missing one
is an error, never a skip."""
import os
import subprocess

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="session")
def qlab_exe():
    exe = os.environ.get("QLAB")
    if not exe or not os.access(exe, os.X_OK):
        pytest.fail("set $QLAB to a built qlab binary (make test does: python/tests/run.sh)")
    return os.path.abspath(exe)


def run_qlab(exe, *args, cwd=REPO):
    r = subprocess.run([exe] + list(args), cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert r.returncode == 0, "qlab %s failed (%d): %s" % (" ".join(args), r.returncode, r.stderr.decode())
    return r.stdout.decode()


@pytest.fixture(scope="session")
def baseline_h5(qlab_exe, tmp_path_factory):
    """experiments/baseline.yaml run into a fresh file."""
    out = str(tmp_path_factory.mktemp("baseline") / "baseline.h5")
    run_qlab(qlab_exe, "run", "experiments/baseline.yaml", "-o", out, "--no-progress")
    return out


@pytest.fixture(scope="session")
def chain_h5(qlab_exe, tmp_path_factory):
    """A small chain sweep: points that own /layers rows (one per layer)."""
    d = tmp_path_factory.mktemp("chain")
    cfg = d / "chain.yaml"
    cfg.write_text(
        "name: pychain\n"
        "description: python test chain\n"
        "backend: cpu\n"
        "seed: 5\n"
        "workload:\n"
        "  kind: chain\n"
        "  depth: [2, 3]\n"
        "  width: 64\n"
        "  tokens: 16\n"
        "  mode: [propagated, isolated]\n"
        "  x: {dist: normal, std: 1.0, outlier_cols: 0.05, outlier_scale: 10}\n"
        "quant:\n"
        "  scheme: [fp16, absmax]\n"
        "  x_granularity: row\n"
        "  w_granularity: channel\n"
        "measure: [error, memory]\n")
    out = str(d / "chain.h5")
    run_qlab(qlab_exe, "run", str(cfg), "-o", out, "--no-progress")
    return out
