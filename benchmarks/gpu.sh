#!/usr/bin/env bash
# Every GPU measurement of the speed work in one run, for the day a GPU is lent: training
# throughput of GNOCCHI and LFADS at the reference shape in fp32, bf16 autocast and with
# torch.compile; the protocol evaluation of both (demo models fitted on the GPU, UniPC-10 and
# DDIM-20); GNOCCHI's samplers; and the tests' CUDA paths. Everything printed goes to one file;
# no number is written by hand, so a row that did not run stays absent.
#
# Needs a CUDA build of torch in the environment of $PYTHON (the Makefile's .venv holds the CPU
# wheel). From the repository root:
#   PYTHON=python bash benchmarks/gpu.sh [OUT.md]
# (Not yet run on a GPU: none has been lent since it was written; its run time is unknown.)
set -euo pipefail
PYTHON=${PYTHON:-.venv/bin/python}
out=${1:-benchmarks/gpu-$(date -u +%Y-%m-%d).md}
"$PYTHON" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else f"no CUDA device (torch {torch.__version__})")'
run() {  # a step's command line, then its output; a failed step is reported and the rest go on
  echo; echo "\$ $*"; "$@" || echo "(exit status $?)"
}
{
  echo "# GPU benchmarks, $(date -u +%Y-%m-%dT%H:%MZ)"
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
  run "$PYTHON" benchmarks/bench_training.py --device cuda --compile --bf16 \
    --trials 1000 --neurons 100 --time 120 --epochs 5
  run "$PYTHON" benchmarks/bench_evaluation.py --device cuda
  run "$PYTHON" benchmarks/bench_sampling.py --device cuda
  run "$PYTHON" -m pytest -q -p no:cacheprovider tests/test_cuda.py tests/test_training_loop.py \
    -k "cuda or bf16"
} 2>&1 | tee "$out"
echo "written: $out"
