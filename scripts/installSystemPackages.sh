#!/bin/sh
# The Debian packages the test suites run against (real Mosquitto, systemd-analyze, a C compiler, qemu …),
# checked before `npm test` (pretest) and `npm run test:slow` / `npm run bench` (their pre-scripts).
#
#   scripts/installSystemPackages.sh test|slow|vulkan-build
#
# As root, missing packages are installed with apt-get (on a fresh Debian 12 nothing is set up by hand).
# As another user, it stops at once (exit 1) with the one command to run, so a test run never fails suite
# by suite for want of a package. Not Debian (no dpkg-query/apt-get): says what the suites need and goes on.
# TINYLLAMAD_SKIP_SYSTEM_PACKAGES=1 skips the check (the packages come some other way).
set -eu

suite="${1:-test}"
# `npm test`: git (vocabulary extraction), gcc + libc6-dev (the persistent threadpool library), Mosquitto
# (the broker and mosquitto_passwd), openssl (TLS certificates), python3 (the sd_notify listener),
# systemd (systemd-analyze checks the unit), procps (its /bin/kill is the unit's ExecReload) and chromium
# (the web page's test drives Debian's browser through puppeteer-core; no browser is downloaded).
test_packages="git gcc libc6-dev mosquitto mosquitto-clients openssl procps python3 systemd chromium"
# `npm run test:slow` and the benchmark: llama.cpp's tools (g++ make cmake), the arm64 bundle under qemu
# (cross compiler, qemu-user-static with binfmt, arm64 libc), the Ansible role, lavapipe for Vulkan, and
# lintian for the Debian package.
slow_packages="$test_packages g++ make cmake gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user-static binfmt-support ansible ansible-lint mesa-vulkan-drivers libvulkan1 lintian"
# libvulkan1:arm64 and mesa-vulkan-drivers:arm64 (its v3dv): the linux-arm64-vulkan bundle's Vulkan binaries
# load under qemu and find no device, as on a board whose Mesa has no driver for its GPU.
slow_foreign_packages="libc6:arm64 libstdc++6:arm64 libvulkan1:arm64 mesa-vulkan-drivers:arm64"
# `cross-compile.sh linux-arm64-vulkan` (deploy/release/buildVulkanArm64.sh): the aarch64 C++ cross compiler,
# cmake, Debian 12's glslc (the shaders it cannot compile are guarded) and git (llama.cpp's source bundle).
# The Vulkan headers and loader come from pinned Debian 13 packages the build fetches itself.
vulkan_build_packages="g++-aarch64-linux-gnu cmake glslc git"

case "$suite" in
  test) wanted="$test_packages" foreign="" ;;
  slow) wanted="$slow_packages $vulkan_build_packages" foreign="$slow_foreign_packages" ;;
  vulkan-build) wanted="$vulkan_build_packages" foreign="" ;;
  *) echo "usage: $0 test|slow|vulkan-build" >&2 && exit 2 ;;
esac

[ "${TINYLLAMAD_SKIP_SYSTEM_PACKAGES:-0}" = 1 ] && exit 0

if ! command -v dpkg-query >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
  echo "tinyllamad: not a Debian system; the $suite suites need the equivalents of: $wanted $foreign" >&2
  exit 0
fi

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

missing=""
for package in $wanted $foreign; do
  installed "$package" || missing="$missing $package"
done
missing="${missing# }"
[ -z "$missing" ] && exit 0

# arm64 packages need the foreign architecture first.
needs_arm64=""
if [ -n "$foreign" ] && ! dpkg --print-foreign-architectures | grep -qx arm64; then needs_arm64=1; fi

if [ "$(id -u)" -ne 0 ]; then
  if [ -n "$needs_arm64" ]; then
    echo "tinyllamad: missing Debian packages for the $suite suites; run: sudo sh -c 'dpkg --add-architecture arm64 && apt-get update && apt-get install -y $missing'" >&2
  else
    echo "tinyllamad: missing Debian packages for the $suite suites; run: sudo apt-get install -y $missing" >&2
  fi
  exit 1
fi

echo "tinyllamad: installing the Debian packages the $suite suites use: $missing" >&2
[ -n "$needs_arm64" ] && dpkg --add-architecture arm64
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086 # one word per package
apt-get install -y -qq $missing >/dev/null
