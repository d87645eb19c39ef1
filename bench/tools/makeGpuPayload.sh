#!/usr/bin/env bash
# Packs what `bench/tools/vulkanGpuCheck.mjs` needs to run on a machine without Node or internet (the
# workplace's GPU machine): the linux-x64 release bundle's Node and production node_modules, with
# node-llama-cpp's Vulkan build added, the Llama vocabulary (for the model generator) and the Vulkan
# loader/GL dispatch .debs. Output: .cache/gpurun/ (payload.tar.xz, cpu-binary.tar.xz, *.deb).
set -euo pipefail
cd "$(dirname "$0")/../.."
./cross-compile.sh linux-x64
work=$(mktemp -d)
tar xzf dist/release/tinyllamad-*-linux-x64.tar.gz -C "$work"
bundle=$(echo "$work"/tinyllamad-*-linux-x64)
mkdir -p "$work/p/cache/vocab" .cache/gpurun
cp "$bundle/runtime/bin/node" "$work/p/node"
cp -a "$bundle/dist" "$bundle/package.json" "$bundle/node_modules" "$work/p/"
rm -rf "$work/p/node_modules/@node-llama-cpp/linux-x64"
cp -a node_modules/@node-llama-cpp/linux-x64-vulkan "$work/p/node_modules/@node-llama-cpp/"
cp .cache/vocab/ggml-vocab-llama-spm.gguf "$work/p/cache/vocab/"
cp bench/tools/vulkanGpuCheck.mjs "$work/p/gpu-check.mjs"
tar cf - -C "$work" p | xz -T0 -6 >.cache/gpurun/payload.tar.xz
(cd node_modules && tar cf - @node-llama-cpp/linux-x64 | xz -T0 -6 >../.cache/gpurun/cpu-binary.tar.xz)
(cd .cache/gpurun && apt-get download libvulkan1 libglvnd0 libglx0 libegl1 libgl1 libopengl0 libgles2)
rm -rf "$work"
ls -la .cache/gpurun
