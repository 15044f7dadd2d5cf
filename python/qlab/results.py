"""qlab.results: a qlab results file as pandas DataFrames.

A results file (README "Results files") is HDF5: root attributes, and three tables
/points, /layers and /samples, each a 1-D dataset of a compound type whose members
are the columns. ``read`` returns them as DataFrames with str (not bytes) text
columns, the point status as its name ("ok", "failed", "skipped") and the numbers
as int64, uint64 (seed) and float64.
"""
import io
import os
import shutil
import subprocess

import h5py
import numpy as np
import pandas as pd

TABLES = ("points", "layers", "samples")

# The columns of /points that say what a point is (its axis values, qlab_point in
# harness/core/point.h); the layers table gets these joined on point_id == id.
AXIS_COLUMNS = (
    "seed", "workload", "path", "layer", "m", "k", "n",
    "x_dist", "x_std", "x_df", "x_outlier_cols", "x_outlier_scale",
    "w_dist", "w_std", "w_df", "w_outlier_cols", "w_outlier_scale",
    "depth", "model", "mode", "scheme", "x_granularity", "w_granularity", "block",
    "threshold", "outlier_weights", "smooth_alpha",
)

JOURNAL_HEADER_BYTES = 32   # a journal holding no record is just its header


class Results:
    """One results file, read whole.

    Attributes:
      path     the file read
      attrs    dict of the root attributes (str or int): experiment, config,
               git_commit, status, the provenance keys, ...
      points   DataFrame, one row per point (axis values, errors, timing, memory);
               a run whose `measure` had no `error` holds NaN in the error columns,
               one without `memory` 0 in the byte columns
      layers   DataFrame, one row per layer of dump, chain and model points, with
               the owning point's axis columns joined (point_id == id)
      samples  DataFrame, every timing sample (point_id, stage, time_us)
      from_journal  True when the rows came through `qlab export` because the
               run had points waiting in FILE.journal
    """

    def __init__(self, path, attrs, points, layers, samples, from_journal):
        self.path = path
        self.attrs = attrs
        self.points = points
        self.layers = layers
        self.samples = samples
        self.from_journal = from_journal

    def __repr__(self):
        return "<qlab.Results %s: %s, %d points, %d layers, %d samples%s>" % (
            self.path, self.attrs.get("status", "?"), len(self.points), len(self.layers),
            len(self.samples), " (with journal)" if self.from_journal else "")


def read(path, qlab=None, journal=True):
    """Reads a qlab results file into a Results (attrs, points, layers, samples).

    Every format version qlab writes is read: a column an older file lacks is simply
    absent from its DataFrame (the layers join uses the axis columns present).

    A run still in progress, or killed, keeps its newest points in FILE.journal
    beside the file until they are folded into the HDF5 file (README "The journal").
    The journal's records are raw C structs whose layout belongs to the qlab build
    that wrote them and is not a stable interface, so when FILE.journal exists and
    holds more than its 32-byte header, the three tables are read through the qlab
    binary instead, as `qlab export FILE --table T --format csv` (which reads the file
    and its journal together); the root attributes still come from the HDF5 file
    (as of its last fold). Otherwise everything is read with h5py.

    Arguments:
      path     the results file (.h5)
      qlab     the qlab executable for a file with a journal; default $QLAB, else
               `qlab` on PATH
      journal  False: read only what the HDF5 file holds, ignoring any journal (what
               h5py alone sees of a running file)

    Raises FileNotFoundError when the file (or, for a file with a journal, the qlab
    executable) is missing, ValueError when it is not a qlab results file, and
    RuntimeError when `qlab export` fails (its message included).
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError("%s: no such results file" % path)
    attrs, tables, kinds = _read_hdf5(path)
    jpath = path + ".journal"
    from_journal = False
    if journal and os.path.exists(jpath) and os.path.getsize(jpath) > JOURNAL_HEADER_BYTES:
        exe = _find_qlab(qlab, path)
        tables = {t: _read_export(exe, path, t, kinds.get(t, {})) for t in TABLES}
        from_journal = True
    layers = _join_layers(tables["layers"], tables["points"])
    return Results(path, attrs, tables["points"], layers, tables["samples"], from_journal)


# ------------------------------------------------------------------------------------
# HDF5

def _attr_value(v):
    """A root attribute as str or int (h5py gives str, bytes, numpy scalars)."""
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    if isinstance(v, np.ndarray):
        v = v.tolist()
        return v[0] if isinstance(v, list) and len(v) == 1 else v
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.floating):
        return float(v)
    return v


def _decode(b):
    """A fixed-length C string field: up to its first NUL, as UTF-8."""
    return b.split(b"\0", 1)[0].decode("utf-8", "replace")


def _column_kinds(dtype):
    """name -> 'i' | 'u' | 'f' | 'str' | ('enum', {value: name}) for a compound dtype."""
    kinds = {}
    for name in dtype.names or ():
        sub = dtype.fields[name][0]
        enum = h5py.check_enum_dtype(sub)
        if enum is not None:
            kinds[name] = ("enum", {v: k for k, v in enum.items()})
        elif sub.kind == "S":
            kinds[name] = "str"
        elif sub.kind == "O":
            kinds[name] = "ostr"
        else:
            kinds[name] = sub.kind
    return kinds


def _frame_from_array(arr, kinds):
    cols = {}
    for name, kind in kinds.items():
        v = arr[name]
        if isinstance(kind, tuple):     # the status enum: its names
            names = kind[1]
            cols[name] = pd.Series([names.get(int(x), "?") for x in v], dtype=object)
        elif kind == "str":
            cols[name] = pd.Series([_decode(x) for x in v], dtype=object)
        elif kind == "ostr":
            cols[name] = pd.Series([x.decode("utf-8", "replace") if isinstance(x, bytes) else str(x)
                                    for x in v], dtype=object)
        else:
            cols[name] = pd.Series(np.asarray(v))
    return pd.DataFrame(cols, columns=list(kinds))


def _read_hdf5(path):
    """(attrs, {table: DataFrame}, {table: column kinds}) of the HDF5 file alone."""
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise ValueError("%s: HDF5 cannot open it (%s)" % (path, e)) from None
    with f:
        attrs = {k: _attr_value(f.attrs[k]) for k in f.attrs.keys()}
        if attrs.get("format") != "qlab-results":
            raise ValueError("%s: not a qlab results file (root attribute format is %r)"
                             % (path, attrs.get("format")))
        tables, kinds = {}, {}
        for t in TABLES:
            if t in f and isinstance(f[t], h5py.Dataset) and f[t].dtype.names:
                ds = f[t]
                kinds[t] = _column_kinds(ds.dtype)
                tables[t] = _frame_from_array(ds[()], kinds[t])
            else:
                kinds[t] = {}
                tables[t] = pd.DataFrame()
    return attrs, tables, kinds


# ------------------------------------------------------------------------------------
# Through `qlab export` (a file with a journal)

def _find_qlab(qlab, path):
    exe = qlab or os.environ.get("QLAB") or shutil.which("qlab")
    if exe and os.sep not in exe:
        exe = shutil.which(exe) or exe
    if not exe or not os.path.exists(exe):
        raise FileNotFoundError(
            "%s has points in %s.journal that only the qlab binary can read: set $QLAB "
            "to the qlab executable, put qlab on PATH or pass qlab=..., or read only the "
            "folded part with qlab.read(path, journal=False)" % (path, path))
    return exe


def _parse_float(s):
    return float(s)   # Python reads nan, -nan, inf, -inf as C's printf writes them


def _convert(col, kind):
    """A column of CSV text converted to the dtype the HDF5 path gives."""
    if kind == "i":
        return col.astype(np.int64)
    if kind == "u":
        return col.astype(np.uint64)
    if kind == "f":
        return pd.Series(np.array([_parse_float(x) for x in col], dtype=np.float64), index=col.index)
    if kind in ("str", "ostr") or isinstance(kind, tuple):
        return col.astype(object)
    # a column the HDF5 file does not have: the narrowest type that reads it all
    for conv in (lambda c: c.astype(np.int64), lambda c: c.map(_parse_float).astype(np.float64)):
        try:
            return conv(col)
        except (ValueError, OverflowError):
            pass
    return col.astype(object)


def _read_export(exe, path, table, kinds):
    r = subprocess.run([exe, "export", path, "--table", table, "--format", "csv"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if r.returncode != 0:
        raise RuntimeError("%s export %s --table %s failed (exit %d): %s" % (
            exe, path, table, r.returncode, r.stderr.decode("utf-8", "replace").strip()))
    text = r.stdout.decode("utf-8", "replace")
    df = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, na_filter=False)
    for name in df.columns:
        df[name] = _convert(df[name], kinds.get(name))
    return df


# ------------------------------------------------------------------------------------

def _join_layers(layers, points):
    """layers with the owning point's axis columns (those it does not have itself)."""
    if "point_id" not in layers.columns or "id" not in points.columns:
        return layers
    axes = [c for c in AXIS_COLUMNS if c in points.columns and c not in layers.columns]
    right = points[["id"] + axes].rename(columns={"id": "point_id"})
    return layers.merge(right, on="point_id", how="left", sort=False)
