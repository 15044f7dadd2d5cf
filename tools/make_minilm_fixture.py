#!/usr/bin/env python3
"""make_minilm_fixture.py: token ids and float32 embeddings of a few sentences from the
PyTorch sentence-transformers implementation of all-MiniLM-L6-v2, written as the small
text fixture that tests/test_bert.c checks qlab's C forward against.

Usage: python3 tools/make_minilm_fixture.py MODEL_DIR OUT_DIR
  MODEL_DIR  the directory tools/setup.sh installs (config.json, model.safetensors,
             vocab.txt, modules.json, 1_Pooling/ ...)
  OUT_DIR    tests/data/minilm
Needs torch, transformers and sentence-transformers (a missing one is named, with how
to install it, and the script exits 2); runs on the CPU in float32.
Writes sentences.txt (one per line), ids.txt (one line of space-separated ids per
sentence, [CLS] ... [SEP]) and embeddings.txt (one line of 384 values per sentence,
printed with 9 significant digits, enough to round-trip float32).
"""
import os
import sys

from pydeps import require   # tools/pydeps.py: a missing package is named, exit 2

torch, _, sentence_transformers = require("make_minilm_fixture.py",
                                          ["torch", "transformers", "sentence_transformers"])
SentenceTransformer = sentence_transformers.SentenceTransformer

SENTENCES = [
    "This is an example sentence.",
    "Each sentence is converted, naïvely, into a vector!",
    "Quantization error grows as it propagates through the layers of a network.",
    "The quick brown fox jumps over the lazy dog.",
    "Ünïcödé façade: Crème brûlée costs $4.50 (tax incl.) -- ok?",
    "東京は日本の首都です。",
    "LLM.int8() keeps outlier feature dimensions in fp16; the rest goes through int8.",
    "a",
]


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    model_dir, out_dir = sys.argv[1], sys.argv[2]
    torch.manual_seed(0)
    model = SentenceTransformer(model_dir, device="cpu")
    model.eval()
    tok = model.tokenizer
    with torch.no_grad():
        emb = model.encode(SENTENCES, batch_size=len(SENTENCES), convert_to_numpy=True,
                           normalize_embeddings=False)
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "sentences.txt"), "w", encoding="utf-8") as f:
        for s in SENTENCES:
            f.write(s + "\n")
    with open(os.path.join(out_dir, "ids.txt"), "w") as f:
        for s in SENTENCES:
            ids = tok(s, truncation=True, max_length=model.max_seq_length)["input_ids"]
            f.write(" ".join(str(i) for i in ids) + "\n")
    with open(os.path.join(out_dir, "embeddings.txt"), "w") as f:
        for row in emb:
            f.write(" ".join("%.9g" % float(v) for v in row) + "\n")
    print("torch %s, sentence-transformers %s, %d sentences -> %s" % (
        torch.__version__, sentence_transformers.__version__, len(SENTENCES),
        out_dir))


if __name__ == "__main__":
    main()
