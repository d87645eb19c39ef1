#!/usr/bin/env bash
# Builds release bundles for the boards: dist/tinyllamad-<version>-<target>.tar.gz (+ .sha256).
# Targets: linux-arm64, linux-armv7l, linux-x64, linux-arm64-vulkan.
#
# NOT IMPLEMENTED YET — tracked in issue 6 ("cross-compile.sh bundles for ARM"). This script fails
# loudly instead of pretending to build anything.
set -euo pipefail
echo "cross-compile.sh: not implemented yet (issue 6); no bundle was made for: ${*:-<no target given>}" >&2
exit 1
