#!/usr/bin/env bash
# Builds llama.cpp's llama-bench and llama-batched-bench (CPU only) from the exact llama.cpp source that
# node-llama-cpp ships (node_modules/node-llama-cpp/llama/gitRelease.bundle), as the raw-llama.cpp baseline
# for `npm run bench -- inference`.
#
# Usage: bench/build-llama-tools.sh [out-dir]      (default: .cache/llama-tools under the repo root)
# then:  LLAMA_BENCH=<out-dir>/build/bin/llama-bench LLAMA_BATCHED_BENCH=<out-dir>/build/bin/llama-batched-bench \
#          npm run bench -- inference ...
# Idempotent: does nothing if both binaries already exist (delete <out-dir> to rebuild).
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
out="$(mkdir -p "${1:-$root/.cache/llama-tools}" && cd "${1:-$root/.cache/llama-tools}" && pwd)"
llama="$root/node_modules/node-llama-cpp/llama"
bin="$out/build/bin"

if [[ ! -x "$bin/llama-bench" || ! -x "$bin/llama-batched-bench" ]]; then
  if [[ ! -d "$out/src/.git" ]]; then
    # The bundle holds one squashed commit (HEAD) of the release in llama.cpp.info.json; check the tag out if it has it.
    git -c advice.detachedHead=false clone --quiet "$llama/gitRelease.bundle" "$out/src"
    tag="$(node -p "require('$llama/llama.cpp.info.json').tag")"
    if git -C "$out/src" rev-parse -q --verify "refs/tags/$tag" >/dev/null; then
      git -C "$out/src" -c advice.detachedHead=false checkout --quiet "$tag"
    fi
    # node-llama-cpp applies these patches to the same source before building its own binaries.
    for patch in "$llama"/patches/*.diff; do
      if [[ -e "$patch" ]]; then git -C "$out/src" apply --ignore-whitespace "$patch"; fi
    done
  fi
  cmake -S "$out/src" -B "$out/build" -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=ON -DBUILD_SHARED_LIBS=OFF \
    -DLLAMA_CURL=OFF -DGGML_CUDA=OFF -DGGML_VULKAN=OFF -DGGML_METAL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_SERVER=OFF
  cmake --build "$out/build" --config Release -j"$(nproc)" --target llama-bench llama-batched-bench
fi

echo "$bin/llama-bench"
echo "$bin/llama-batched-bench"
