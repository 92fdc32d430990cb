#!/usr/bin/env bash
# Every GPU figure in one go, within 10 minutes on one H100/H200 (figures land in $OUT, default
# benchmarks/results/gpu):
#   1. the 1.3B preset, bf16, sequence 2048, ZeRO-1, one GPU: our trainer's tokens/s and MFU against a plain
#      PyTorch loop on the same model and batch (benchmarks/training.py --gpu);
#   2. PyTorch's sdpa against flash-attention-2 in our trainer (skipped, saying so, where flash-attn has no wheel);
#   3. the tiny pipeline end to end with training and evaluation on the GPU.
# Usage: benchmarks/gpu_check.sh        (creates .venv from requirements.lock if there is none; on a CUDA machine
#                                        PyPI's torch 2.13.0 is the CUDA build)
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-benchmarks/results/gpu}
mkdir -p "$OUT"
PY=${PYTHON:-.venv/bin/python}
if [ ! -x "$PY" ]; then
  python3 -m venv .venv && .venv/bin/python -m pip install -q --disable-pip-version-check -c requirements.lock -e . || exit 1
  PY=.venv/bin/python
fi
status=0
step() {  # step NAME SECONDS COMMAND...: time-boxed, its output kept in $OUT/NAME.txt
  local name=$1 limit=$2; shift 2
  echo "== $name (at most ${limit}s)"
  local t0=$SECONDS
  timeout "$limit" "$@" 2>&1 | tee "$OUT/$name.log" | grep -E '^(train|attention|\[run\]|pipeline|  )|Error|error' | tail -40
  local rc=${PIPESTATUS[0]}
  echo "== $name: exit $rc in $((SECONDS - t0))s" | tee -a "$OUT/summary.txt"
  [ "$rc" = 0 ] || status=1
}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$OUT/summary.txt" || exit 1
"$PY" -c "import torch; assert torch.cuda.is_available(), 'this torch has no CUDA'; print('torch', torch.__version__, 'CUDA', torch.version.cuda)" \
  | tee -a "$OUT/summary.txt" || exit 1

step mfu 240 "$PY" benchmarks/training.py --gpu --rounds 1 --steps 20 --micro 4
grep -h '^train' "$OUT/mfu.log" >> "$OUT/summary.txt"

if "$PY" -c "import flash_attn" 2>/dev/null || \
   timeout 90 "$PY" -m pip install -q --disable-pip-version-check --only-binary :all: flash-attn >/dev/null 2>&1; then
  step attention 200 "$PY" benchmarks/training.py --gpu --attention --rounds 1 --steps 20 --micro 4
  grep -h '^attention' "$OUT/attention.log" >> "$OUT/summary.txt"
else
  echo "attention: flash-attn has no wheel for this torch/CUDA here; sdpa only" | tee -a "$OUT/summary.txt"
fi

step tiny-pipeline 240 "$PY" -m components.cli run configs/tiny.yaml --workdir "$OUT/tiny" \
  --set pretrain.device=cuda --set pretrain.nproc=1 --set evaluate.device=cuda
echo "-- summary"; cat "$OUT/summary.txt"
exit $status
