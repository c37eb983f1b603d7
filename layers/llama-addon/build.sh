#!/usr/bin/env bash
# Builds node-llama-cpp's llama.cpp addon from the source node-llama-cpp ships (its git bundle: no network), with
# llambda's patch (addon.patch, README.md says what it changes and why). The result is node-llama-cpp's "last build"
# (node_modules/node-llama-cpp/llama/localBuilds/, lastBuild.json), which the inference engine loads in place of the
# prebuilt binaries when it is there (functions/infer/llama-binary.ts); `npm ci` removes it again.
#
#   layers/llama-addon/build.sh [--target native|graviton2|x86-64-v3] [--node-modules <dir>]
#
# --target: the CPU the binary is for. `native` (default, for this machine: -march=native), `graviton2` (Lambda's
# arm64: Neoverse N1, Armv8.2-A with dot product and fp16; build it on arm64), `x86-64-v3` (AVX2/FMA/F16C, for the
# amd64 image). Needs cmake, g++, make and patch; ~7 minutes on 2 cores. While working on the patch, an edit of the
# addon sources in node_modules rebuilds in seconds (a changed addon.patch gets a new folder and a full build):
#   cmake --build node_modules/node-llama-cpp/llama/localBuilds/<folder> --target llama-addon
set -euo pipefail

target=native
node_modules="$(cd "$(dirname "$0")/../.." && pwd)/node_modules"
while [ $# -gt 0 ]; do
  case "$1" in
    --target) target="$2"; shift 2 ;;
    --node-modules) node_modules="$(cd "$2" && pwd)"; shift 2 ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "build.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
patch_file="$(cd "$(dirname "$0")" && pwd)/addon.patch"
package="$node_modules/node-llama-cpp"
pinned=3.21.1

for tool in cmake g++ make patch; do
  command -v "$tool" >/dev/null 2>&1 || { echo "build.sh: $tool is missing (apt-get install cmake g++ make patch)" >&2; exit 1; }
done
[ -f "$package/package.json" ] || { echo "build.sh: no node-llama-cpp in $node_modules: run npm ci first" >&2; exit 1; }
version="$(node -p "require('$package/package.json').version")"
# The patch is written against this version's addon sources; another version needs the patch looked at again.
[ "$version" = "$pinned" ] || { echo "build.sh: node-llama-cpp is $version, the patch is for $pinned" >&2; exit 1; }

case "$target" in
  native) options=() ;;
  graviton2) options=(GGML_NATIVE=OFF GGML_CPU_ARM_ARCH=armv8.2-a+dotprod+fp16) ;;
  x86-64-v3) options=(GGML_NATIVE=OFF GGML_AVX=ON GGML_AVX2=ON GGML_FMA=ON GGML_F16C=ON GGML_BMI2=ON) ;;
  *) echo "build.sh: unknown --target $target (native, graviton2 or x86-64-v3)" >&2; exit 2 ;;
esac
# The patch's hash as one more (unused) CMake option: node-llama-cpp names a build's folder after its options, so the
# patched build never takes the folder of a plain build with default options, which getLlama() would load in place of
# the prebuilt binaries even when the engine asks for those (LLAMBDA_LLAMA_BINARY=prebuilt).
options+=("LLAMBDA_ADDON_PATCH=$(sha256sum "$patch_file" | cut -c1-12)")
env_options=()
for option in "${options[@]}"; do env_options+=("NODE_LLAMA_CPP_CMAKE_OPTION_${option}"); done

# Applied once: a second run finds it applied (the reverse applies cleanly) and leaves the sources alone.
cd "$package/llama"
if patch -p1 -R --dry-run -s -f < "$patch_file" >/dev/null 2>&1; then
  echo "addon.patch: already applied"
else
  patch -p1 -N -s < "$patch_file"
  echo "addon.patch: applied"
fi

cd "$node_modules/.."
echo "Building llama.cpp and the addon for $target (${options[*]:-default options})"
env "${env_options[@]}" NODE_LLAMA_CPP_SKIP_DOWNLOAD=false \
  npx --no node-llama-cpp source download --gpu false --noUsageExample

# The build must load and report the patch on a context: the engine checks the same (llama-binary.ts).
node --input-type=module -e "
  import { getLlama } from 'node-llama-cpp';
  const llama = await getLlama('lastBuild', { usePrebuiltBinaries: true, skipDownload: true, progressLogs: false });
  if (llama.buildType !== 'localBuild') throw new Error('the last build did not load: ' + llama.buildType);
  console.log('Loaded', llama.buildType, 'llama.cpp', llama.llamaCppRelease.release, 'at', llama.bindingPath ?? '');
  await llama.dispose();
"
