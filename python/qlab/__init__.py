"""qlab from Python: results files as pandas DataFrames, and qlab's reference
quantization library (quant/) as numpy functions.

  import qlab
  r = qlab.read("results/baseline.h5")        # .points, .layers, .samples, .attrs
  r.points.groupby("scheme").rel_err.median()
  q = qlab.quant.quantize(w, "absmax", "channel")   # q.codes, q.scales: qlab's, bit for bit
  y = qlab.quant.matmul(x, w, "absmax", "row", "channel", threshold=6.0)

Depends on numpy, h5py and pandas only. qlab.read reads a running run's newest
points (kept in FILE.journal) through the qlab binary ($QLAB or PATH); qlab.quant
loads libquant.so (`make python-lib`). See each module's documentation.
"""
from . import quant
from .results import Results, read

__version__ = "0.1.0"
__all__ = ["read", "Results", "quant"]
