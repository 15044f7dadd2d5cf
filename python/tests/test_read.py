"""qlab.read: results files written by the qlab binary, read as DataFrames."""
import io
import os
import signal
import subprocess
import time

import h5py
import numpy as np
import pandas as pd
import pytest
from numpy.lib.recfunctions import repack_fields

import qlab
from conftest import REPO, run_qlab

PROVENANCE = ("qlab_version", "git_commit", "source_hash", "compiler", "build_flags", "libc",
              "hdf5_version", "libfyaml_version", "openblas_config", "openblas_core",
              "openblas_threads", "cuda_runtime", "cuda_driver", "cublaslt_version")


def export_frame(exe, path, table):
    """A table as `qlab export` writes it (TSV), every cell as text."""
    text = run_qlab(exe, "export", path, "--table", table)
    return pd.read_csv(io.StringIO(text), sep="\t", dtype=str, keep_default_na=False)


def test_baseline_points_have_str_columns_and_proper_dtypes(baseline_h5):
    r = qlab.read(baseline_h5)
    p = r.points
    assert len(p) == 40
    assert set(p["scheme"]) == {"fp16", "bf16", "absmax", "zeropoint"}
    for col in ("scheme", "x_granularity", "w_granularity", "outlier_weights", "backend", "status", "message"):
        assert p[col].dtype == object
        assert all(type(v) is str for v in p[col]), col
    assert set(p["status"]) == {"ok"}
    assert set(p["backend"]) == {"cpu"}
    for col in ("id", "m", "k", "n", "block", "w_bytes", "outlier_cols"):
        assert p[col].dtype == np.int64, col
    assert p["seed"].dtype == np.uint64
    for col in ("rel_err", "sqnr_db", "threshold", "x_outlier_scale"):
        assert p[col].dtype == np.float64, col
    assert sorted(p["m"].unique()) == [16, 64]
    assert (p["w_bytes"] == p["w_code_bytes"] + p["w_scale_bytes"] + p["w_scale2_bytes"]
            + p["w_outlier_bytes"]).all()
    assert not r.from_journal


def test_baseline_attrs_are_str_and_int(baseline_h5):
    a = qlab.read(baseline_h5).attrs
    assert a["format"] == "qlab-results"
    assert a["experiment"] == "baseline"
    assert a["status"] == "complete"
    assert type(a["format_version"]) is int and a["format_version"] >= 1
    assert type(a["points_total"]) is int and a["points_total"] == 40
    assert "seed: 11" in a["config"]
    for k in PROVENANCE:
        assert type(a[k]) is str and a[k], k


def test_points_equal_qlab_export(qlab_exe, baseline_h5):
    """Every cell agrees with the binary's own export of the file."""
    r = qlab.read(baseline_h5)
    e = export_frame(qlab_exe, baseline_h5, "points")
    assert list(r.points.columns) == list(e.columns)
    for col in e.columns:
        got = r.points[col]
        if got.dtype == np.float64:
            want = np.array([float(v) for v in e[col]])
            assert np.array_equal(got.to_numpy(), want, equal_nan=True), col
        else:
            assert [str(v) for v in got] == list(e[col]), col


def test_baseline_layers_table_has_the_point_axes(baseline_h5):
    """baseline.yaml has no layer rows: an empty table, still with the joined columns."""
    r = qlab.read(baseline_h5)
    assert len(r.layers) == 0
    for col in ("point_id", "layer_index", "layer_name", "scheme", "m", "threshold"):
        assert col in r.layers.columns, col


def test_layers_are_joined_with_their_points(chain_h5):
    r = qlab.read(chain_h5)
    p, l = r.points, r.layers
    assert len(p) == 8
    assert len(l) == 2 * (2 + 3) * 2          # per point: one row per layer
    assert l["layer_name"].map(type).eq(str).all()
    assert set(l["scheme"]) == {"fp16", "absmax"}
    assert l["depth"].dtype == np.int64
    by_id = p.set_index("id")
    for _, row in l.iterrows():
        pt = by_id.loc[row["point_id"]]
        for col in ("scheme", "depth", "x_granularity", "w_granularity", "seed", "m", "k", "n", "mode"):
            assert row[col] == pt[col], col
    assert l.groupby("point_id").size().to_dict() == {i: d for i, d in zip(p["id"], p["depth"])}


def test_samples_table(qlab_exe, tmp_path):
    cfg = os.path.join(REPO, "tests", "data", "tiny.yaml")
    out = str(tmp_path / "tiny.h5")
    run_qlab(qlab_exe, "run", cfg, "-o", out, "--no-progress")
    r = qlab.read(out)
    s = r.samples
    assert list(s.columns) == ["point_id", "stage", "time_us"]
    assert len(s) > 0 and s["stage"].map(type).eq(str).all()
    assert "total" in set(s["stage"])
    assert s["time_us"].dtype == np.float64 and (s["time_us"] > 0).all()
    assert set(s["point_id"]) <= set(r.points["id"])


def test_errors_a_run_did_not_measure_are_nan_never_zero(qlab_exe, tmp_path):
    cfg = os.path.join(REPO, "tests", "data", "tiny.yaml")
    out = str(tmp_path / "lat.h5")
    run_qlab(qlab_exe, "run", cfg, "--set", "measure=[latency]", "-o", out, "--no-progress")
    p = qlab.read(out).points
    assert len(p) > 0
    for col in ("rel_err", "sqnr_db", "max_abs_err", "mean_abs_err", "cosine", "x_rel_err", "w_rel_err"):
        assert p[col].isna().all(), col
    assert (p["median_us"] > 0).all()
    assert (p["w_bytes"] == 0).all()   # memory not measured either


def test_a_killed_run_is_read_with_its_journal(qlab_exe, tmp_path):
    """Points waiting in FILE.journal (the run killed before folding them) come
    through `qlab export`; h5py alone sees fewer."""
    cfg = tmp_path / "slow.yaml"
    cfg.write_text(
        "name: slow\n"
        "description: slow points, killed mid-run\n"
        "backend: cpu\n"
        "seed: 3\n"
        "workload:\n"
        "  kind: synthetic\n"
        "  m: [64, 128, 192, 256]\n"
        "  k: 1024\n"
        "  n: 512\n"
        "quant:\n"
        "  scheme: [absmax, zeropoint, fp16]\n"
        "measure: [error, latency, memory]\n"
        # Points of a few hundred ms, each with a small record: a journal past 4 MiB is
        # folded into the file at once (tiny shapes fill 0.3 s with ~60,000 samples a
        # stage), and then no point would wait in it to be read. max_samples caps the
        # record; the shape keeps the points slow (about 0.4 s each, 5 s in all).
        "timing: {warmup: 1, min_samples: 3, max_noise: 0.0001, min_time_s: 0.3, timeout_s: 0.3,"
        " max_samples: 100}\n")
    out = str(tmp_path / "slow.h5")
    journal = out + ".journal"
    proc = subprocess.Popen([qlab_exe, "run", str(cfg), "-o", out, "--no-progress"], cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        # kill once a whole record is in the journal (qlab export reads one), not
        # while the first one is still being written
        deadline = time.time() + 60
        while time.time() < deadline and proc.poll() is None:
            if os.path.exists(journal) and os.path.getsize(journal) > 32 and os.path.exists(out):
                e = subprocess.run([qlab_exe, "export", out], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
                if e.returncode == 0 and len(e.stdout.splitlines()) >= 2:
                    break
            time.sleep(0.01)
        assert proc.poll() is None, "the run ended before any point waited in its journal"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    assert os.path.getsize(journal) > 32

    full = qlab.read(out, qlab=qlab_exe)
    plain = qlab.read(out, journal=False)
    assert full.from_journal and not plain.from_journal
    with h5py.File(out, "r") as f:
        assert f["points"].shape[0] == len(plain.points)
    exported = export_frame(qlab_exe, out, "points")
    assert len(full.points) == len(exported) >= 1
    assert len(full.points) > len(plain.points)
    assert full.attrs["status"] == "running"
    # the same columns and dtypes whichever way the rows were read
    assert list(full.points.columns) == list(plain.points.columns)
    assert full.points.dtypes.to_dict() == plain.points.dtypes.to_dict()
    assert full.samples.dtypes.to_dict() == plain.samples.dtypes.to_dict()
    assert set(full.points["scheme"]) <= {"absmax", "zeropoint", "fp16"}
    assert set(full.samples["point_id"]) == set(full.points["id"])
    # without a qlab binary the journal cannot be read: said, not ignored
    env_qlab = os.environ.pop("QLAB", None)
    try:
        with pytest.raises(FileNotFoundError, match="journal"):
            qlab.read(out, qlab="/nonexistent/qlab")
    finally:
        if env_qlab is not None:
            os.environ["QLAB"] = env_qlab


def test_older_files_without_newer_columns(baseline_h5, tmp_path):
    """A file written before some columns existed: they are simply absent."""
    old = str(tmp_path / "old.h5")
    with h5py.File(baseline_h5, "r") as src, h5py.File(old, "w") as dst:
        for k, v in src.attrs.items():
            dst.attrs[k] = v
        pts = src["points"][()]
        keep = [n for n in pts.dtype.names
                if n not in ("w_code_bytes", "w_scale_bytes", "w_scale2_bytes", "w_outlier_bytes",
                             "rank_agreement", "smooth_alpha", "cpu_other")]
        dst.create_dataset("points", data=repack_fields(pts[keep]))
        dst.create_dataset("samples", data=src["samples"][()])
        # no /layers at all
    r = qlab.read(old)
    assert "w_code_bytes" not in r.points.columns and "smooth_alpha" not in r.points.columns
    assert len(r.points) == 40 and r.points["scheme"].map(type).eq(str).all()
    assert len(r.layers) == 0


def test_not_a_results_file(tmp_path):
    bad = str(tmp_path / "bad.h5")
    with h5py.File(bad, "w") as f:
        f.attrs["format"] = "something-else"
    with pytest.raises(ValueError, match="not a qlab results file"):
        qlab.read(bad)
    with pytest.raises(FileNotFoundError):
        qlab.read(str(tmp_path / "missing.h5"))
