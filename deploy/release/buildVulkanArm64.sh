#!/usr/bin/env bash
# Cross-builds node-llama-cpp's own llama.cpp source (the git bundle inside the pinned node-llama-cpp package)
# for linux arm64 with Vulkan, on an x86-64 Debian 12 machine, and prints the folder of the result:
# llama-addon.node, libggml-vulkan.so, the CPU variants (armv8.0 for the Pi 4's A72, armv8.2 with
# dot-product/fp16 for the A76 of the Pi 5 and RK3588, armv8.6, as in the prebuilt linux-arm64 package,
# which also has armv9.2 variants that Debian 12's GCC 12 cannot build) and _nlcBuildMetadata.json — a
# folder node-llama-cpp loads as its "linux-arm64-vulkan" binary.
#
#   deploy/release/buildVulkanArm64.sh REPO_ROOT WORK_DIR      (called by cross-compile.sh linux-arm64-vulkan)
#
# Debian 12's own Vulkan headers (1.3.239) are too old for this llama.cpp (vk::LayerSettingEXT), so the
# headers, the arm64 loader to link against and SPIR-V headers come from Debian 13 packages, fetched with
# `apt-get download` under a private APT state in WORK_DIR (the machine's sources and dpkg database are never
# touched) and checked against the sha256 pinned below. Debian 12's glslc (shaderc 2023.2) lacks
# GL_KHR_cooperative_matrix, which two Intel-Xe-only flash-attention decode shaders need unconditionally:
# llamaCppDebian12Guards.diff builds them (and the code path that uses them) only where glslc supports the
# extension, as llama.cpp already does for its other cooperative-matrix shaders (the boards' GPUs never take
# that path), and builds the armv9.2 CPU variants only where the compiler knows -march=armv9.2-a+sme
# (GCC 12 does not; no board here is armv9: ggml picks armv8.6 or lower on them).
#
# The result is cached in WORK_DIR/vulkan-arm64/out/<key>, where <key> hashes every input: the
# node-llama-cpp package (its llama/ folder: source bundle, addon, CMake files, patches, toolchains), the
# pinned packages, the guard patch, the build recipe (this script's build functions) and the versions of the cross compiler, glslc, cmake and
# Node's major version. A rerun with nothing changed takes seconds (hashing); ≈450 s on 2 idle cores when it
# builds.
#
# Exit status: 0 built (or reused), 1 the build failed, 3 a prerequisite is missing (the message says which).
set -euo pipefail

readonly repo_root="$1"
readonly work="$2/vulkan-arm64"
readonly here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
readonly guard_patch="$here/llamaCppDebian12Guards.diff"
readonly llama_package="$repo_root/node_modules/node-llama-cpp"
readonly folder_name=linux-arm64-vulkan
# Debian 13 (trixie) packages: "package:arch version sha256". apt checks them against the signed archive;
# the sha256 pins make a changed file an error instead of a silently different build. If trixie moves on
# and a version disappears from the mirror, its file is still at snapshot.debian.org (same sha256).
readonly debian_suite=trixie
readonly pinned_packages="libvulkan-dev:arm64 1.4.309.0-1 3244f0422d3c5cf14f5d13bc48a0cae7786d94ea0ceff22414c094388666e70d
libvulkan1:arm64 1.4.309.0-1 f5f576d8b9e5703702a9f3254c8c5d130bef17da9db4aecd46ba86cec7a08930
spirv-headers:all 1.6.1+1.4.309.0-1 dc18db866d63680351c40ac6b6bece34cb52da64a7799ce1cc4f16f6bff4d064"

log() { printf 'buildVulkanArm64: %s\n' "$*" >&2; }
die() {
  printf 'buildVulkanArm64: ERROR: %s\n' "$*" >&2
  exit 1
}
blocked() {
  printf 'buildVulkanArm64: CANNOT BUILD: %s\n' "$*" >&2
  exit 3
}

check_tools() {
  local tool missing=()
  for tool in aarch64-linux-gnu-gcc aarch64-linux-gnu-g++ cmake glslc git apt-get dpkg-deb node npm sha256sum; do
    command -v "$tool" >/dev/null || missing+=("$tool")
  done
  [ "${#missing[@]}" -eq 0 ] ||
    blocked "missing on this machine: ${missing[*]} (Debian 12: apt-get install g++-aarch64-linux-gnu cmake glslc git; or run scripts/installSystemPackages.sh vulkan-build as root)"
  [ -f "$llama_package/llama/gitRelease.bundle" ] ||
    blocked "$llama_package/llama/gitRelease.bundle is missing (run npm install in $repo_root first)"
}

# Deb file name as apt-get download writes it: name_version_arch.deb, ':' in the version as %3a.
deb_file_of() {
  local package="$1" version="$2"
  printf '%s_%s_%s.deb' "${package%%:*}" "${version//:/%3a}" "${package#*:}"
}

# The pinned Debian 13 packages, fetched once under a private APT state and checked; prints nothing.
fetch_pinned_packages() {
  local debs="$work/debs" state="$work/apt" missing=() package version sha256 file
  mkdir -p "$debs"
  while read -r package version sha256; do
    file="$debs/$(deb_file_of "$package" "$version")"
    if [ -f "$file" ] && [ "$(sha256sum "$file" | cut -d' ' -f1)" = "$sha256" ]; then continue; fi
    rm -f "$file"
    missing+=("${package%:all}=$version")
  done <<<"$pinned_packages"
  if [ "${#missing[@]}" -gt 0 ]; then
    log "fetching Debian $debian_suite packages with a private APT state ($state): ${missing[*]}"
    mkdir -p "$state/lists/partial" "$state/cache/archives/partial" "$state/etc/preferences.d"
    : >"$state/status"
    echo "deb [signed-by=/usr/share/keyrings/debian-archive-$debian_suite-stable.gpg,/usr/share/keyrings/debian-archive-$debian_suite-automatic.gpg] http://deb.debian.org/debian $debian_suite main" \
      >"$state/etc/sources.list"
    local apt_options=(-o "Dir::State=$state" -o "Dir::State::Lists=$state/lists" -o "Dir::State::status=$state/status"
      -o "Dir::Cache=$state/cache" -o "Dir::Etc::SourceList=$state/etc/sources.list" -o "Dir::Etc::SourceParts=/dev/null"
      -o "Dir::Etc::Preferences=/dev/null" -o "Dir::Etc::PreferencesParts=$state/etc/preferences.d"
      -o "APT::Architecture=arm64" -o "APT::Architectures::=arm64" -o "Debug::NoLocking=1"
      -o "APT::Sandbox::User=root" -o "Acquire::Languages=none")
    apt-get "${apt_options[@]}" -qq update ||
      die "apt-get update of Debian $debian_suite (private state in $state) failed: no network, or this machine's debian-archive-keyring lacks the $debian_suite keys (Debian 12's 2023.3+deb12u1 and later have them)"
    (cd "$debs" && apt-get "${apt_options[@]}" -qq download "${missing[@]}") ||
      die "apt-get download ${missing[*]} from Debian $debian_suite failed; if the pinned versions left the mirror, fetch the same files from snapshot.debian.org into $debs"
  fi
  while read -r package version sha256; do
    file="$debs/$(deb_file_of "$package" "$version")"
    [ -f "$file" ] || die "$file was not downloaded"
    [ "$(sha256sum "$file" | cut -d' ' -f1)" = "$sha256" ] ||
      die "$file does not match its pinned sha256 $sha256 (removed from the cache? a changed mirror?)"
  done <<<"$pinned_packages"
}

# Unpacks the pinned packages into a folder of their own (never into /usr); sets $sysroot.
unpack_pinned_packages() {
  sysroot="$work/sysroot-$(printf '%s' "$pinned_packages" | sha256sum | cut -c1-12)"
  [ -f "$sysroot/.complete" ] && return 0
  rm -rf "$sysroot"
  mkdir -p "$sysroot"
  local package version sha256
  while read -r package version sha256; do
    dpkg-deb -x "$work/debs/$(deb_file_of "$package" "$version")" "$sysroot"
  done <<<"$pinned_packages"
  [ -f "$sysroot/usr/include/vulkan/vulkan.hpp" ] || die "the pinned libvulkan-dev has no vulkan/vulkan.hpp"
  [ -e "$sysroot/usr/lib/aarch64-linux-gnu/libvulkan.so" ] || die "the pinned libvulkan-dev has no arm64 libvulkan.so"
  touch "$sysroot/.complete"
}

# Everything the result depends on, hashed.
cache_key() {
  {
    (cd "$llama_package" && find package.json llama -type f \
      ! -path 'llama/localBuilds/*' ! -path 'llama/llama.cpp/*' ! -name lastBuild.json -print0 |
      sort -z | xargs -0 sha256sum)
    printf '%s\n' "$pinned_packages"
    sha256sum "$guard_patch" | cut -d' ' -f1
    # The recipe itself: the functions that shape the result (not this file's comments or messages).
    declare -f prepare_build_folder build
    aarch64-linux-gnu-g++ --version | head -n1
    glslc --version | head -n1
    cmake --version | head -n1
    node -p 'process.versions.node.split(".")[0]'
  } | sha256sum | cut -c1-16
}

# A private copy of node-llama-cpp (its build writes into its own llama/ folder) next to links to the
# repository's other packages, so its CLI runs on this machine's x86-64 node with the host's cmake-js.
prepare_build_folder() {
  local build="$1" entry
  rm -rf "$build"
  mkdir -p "$build/node_modules"
  for entry in "$repo_root"/node_modules/* "$repo_root"/node_modules/.bin; do
    [ "$(basename "$entry")" = node-llama-cpp ] && continue
    ln -s "$(readlink -f "$entry")" "$build/node_modules/$(basename "$entry")"
  done
  local copy="$build/node_modules/node-llama-cpp"
  cp -R "$(readlink -f "$llama_package")" "$copy"
  rm -rf "$copy/llama/localBuilds" "$copy/llama/llama.cpp" "$copy/llama/lastBuild.json"
  git -c advice.detachedHead=false clone --quiet "$copy/llama/gitRelease.bundle" "$copy/llama/llama.cpp"
  git -C "$copy/llama/llama.cpp" remote remove origin
  # node-llama-cpp's own patches (what its `source download` applies; the prebuilt binaries carry them too).
  local patch
  for patch in "$copy"/llama/patches/*.diff; do
    [ -e "$patch" ] || continue
    git -C "$copy/llama/llama.cpp" apply --ignore-whitespace "$patch" || die "node-llama-cpp's $(basename "$patch") does not apply"
  done
  git -C "$copy/llama/llama.cpp" apply "$guard_patch" ||
    die "$(basename "$guard_patch") does not apply to this node-llama-cpp's llama.cpp; re-check it against the new source"
}

build() {
  local build="$work/build" result="$1"
  prepare_build_folder "$build"
  local copy="$build/node_modules/node-llama-cpp" started=$SECONDS
  log "building llama.cpp for arm64 with Vulkan (log: $work/build.log; ≈450 s on 2 cores)"
  # CI mode is node-llama-cpp's own recipe for its prebuilt packages: no OpenMP, no -march=native, every CPU
  # variant (GGML_CPU_ALL_VARIANTS) loaded at run time by what the CPU reports, and the folder named plainly
  # "linux-arm64-vulkan" (custom CMake options left out of the name).
  if ! (cd "$copy" && env CI=true \
    NODE_LLAMA_CPP_CMAKE_OPTION_Vulkan_INCLUDE_DIR="$sysroot/usr/include" \
    NODE_LLAMA_CPP_CMAKE_OPTION_Vulkan_LIBRARY="$sysroot/usr/lib/aarch64-linux-gnu/libvulkan.so" \
    NODE_LLAMA_CPP_CMAKE_OPTION_SPIRV-Headers_DIR="$sysroot/usr/share/cmake/SPIRV-Headers" \
    node dist/cli/cli.js source build --arch arm64 --gpu vulkan --ciMode --noCustomCmakeBuildOptionsInBinaryFolderName \
    --noUsageExample) >"$work/build.log" 2>&1; then
    tail -n 40 "$work/build.log" >&2
    die "the arm64 Vulkan build failed (full log: $work/build.log)"
  fi
  local made="$copy/llama/localBuilds/$folder_name/Release"
  [ -f "$made/llama-addon.node" ] || die "the build finished without $made/llama-addon.node (see $work/build.log)"
  [ -f "$made/libggml-vulkan.so" ] || die "the build has no libggml-vulkan.so: Vulkan was not enabled (see $work/build.log)"
  ls "$made"/libggml-cpu-armv8.0*.so >/dev/null 2>&1 || die "the build has no armv8.0 (Pi 4) CPU variant"
  ls "$made"/libggml-cpu-armv8.2*.so >/dev/null 2>&1 || die "the build has no armv8.2 (A76) CPU variant"
  [ -f "$made/_nlcBuildMetadata.json" ] || die "the build has no _nlcBuildMetadata.json"
  rm -rf "$result.partial"
  mkdir -p "$result.partial"
  cp -R "$made" "$result.partial/$folder_name"
  # The metadata names this machine's private paths in customCmakeOptions; a board needs none of them.
  node -e '
    const fs = require("fs"), file = process.argv[1], data = JSON.parse(fs.readFileSync(file, "utf8"));
    data.buildOptions.customCmakeOptions = {};
    fs.writeFileSync(file, JSON.stringify(data));
  ' "$result.partial/$folder_name/_nlcBuildMetadata.json"
  echo "$((SECONDS - started))" >"$result.partial/build-seconds"
  write_build_info "$copy" "$result.partial/build-info.json"
  cp "$work/build.log" "$result.partial/build.log"
  mv "$result.partial" "$result"
  rm -rf "$build"
  log "built in $((SECONDS - started)) s"
}

# What the bundle's MANIFEST.json says about these binaries.
write_build_info() {
  local copy="$1" out="$2"
  node -e '
    const fs = require("fs"), [copy, out, key, packages, glslc, compiler] = process.argv.slice(1);
    const source = JSON.parse(fs.readFileSync(copy + "/llama/llama.cpp.info.json", "utf8"));
    const info = { folder: "linux-arm64-vulkan", cacheKey: key,
      nodeLlamaCpp: JSON.parse(fs.readFileSync(copy + "/package.json", "utf8")).version,
      llamaCpp: source.llamaCppGithubRepo + "@" + source.tag,
      debianPackages: packages.trim().split("\n").map((line) => line.split(" ").slice(0, 2).join("=")),
      glslc, compiler };
    fs.writeFileSync(out, JSON.stringify(info, null, 2) + "\n");
  ' "$copy" "$out" "$(basename "${out%/*}" .partial)" "$pinned_packages" "$(glslc --version | head -n1)" \
    "$(aarch64-linux-gnu-g++ --version | head -n1)"
}

main() {
  [ "$#" -eq 2 ] || {
    echo "usage: $0 REPO_ROOT WORK_DIR" >&2
    exit 2
  }
  check_tools
  mkdir -p "$work"
  local key result
  key="$(cache_key)"
  result="$work/out/$key"
  if [ -f "$result/$folder_name/llama-addon.node" ]; then
    log "reusing the arm64 Vulkan build $key (built in $(cat "$result/build-seconds" 2>/dev/null || echo ?) s; inputs unchanged)"
  else
    fetch_pinned_packages
    unpack_pinned_packages
    build "$result"
    # Older builds (other keys) are only disk space now.
    find "$work/out" -mindepth 1 -maxdepth 1 ! -name "$key" -exec rm -rf {} +
  fi
  printf '%s\n' "$result/$folder_name"
}

main "$@"
