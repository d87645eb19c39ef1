#!/usr/bin/env bash
# Makes tinyllamad_<version>_<arch>.deb from a staged release bundle, with dpkg-deb only (no debhelper).
# Called by cross-compile.sh; see docs/release.md ("Debian packages").
#
#   deploy/debian/buildDeb.sh BUNDLE_DIR VERSION DEB_ARCH OUT_DIR SOURCE_EPOCH [FLAVOUR]
#
# FLAVOUR "vulkan" (the linux-arm64-vulkan bundle) names the package tinyllamad-vulkan, which provides,
# conflicts with and replaces tinyllamad (same files, same service) and recommends the Vulkan loader and
# Mesa's drivers; without them its daemon falls back to the CPU and says why.
#
# Layout: the bundle in /opt/tinyllamad/releases/<version> with /opt/tinyllamad/current pointing at it
# (as the Ansible role lays it out, so the unit's ExecStart is the same), /usr/bin/tinyllamad, the unit in
# /lib/systemd/system, the sysusers file, and /etc/tinyllamad/config.json as a conffile.
set -euo pipefail

[ "$#" -eq 5 ] || [ "$#" -eq 6 ] || { echo "usage: $0 BUNDLE_DIR VERSION DEB_ARCH OUT_DIR SOURCE_EPOCH [FLAVOUR]" >&2; exit 2; }
bundle="$1" version="$2" arch="$3" out_dir="$4" epoch="$5" flavour="${6:-}"
package=tinyllamad relations=""
case "$flavour" in
  "") ;;
  vulkan)
    package=tinyllamad-vulkan
    relations=$'Provides: tinyllamad\nConflicts: tinyllamad\nReplaces: tinyllamad\nRecommends: libvulkan1, mesa-vulkan-drivers\n' ;;
  *) echo "buildDeb: unknown flavour '$flavour' (known: vulkan)" >&2 && exit 2 ;;
esac
# The Maintainer field; the default is a placeholder until the project has a public address.
maintainer="${TINYLLAMAD_DEB_MAINTAINER:-tinyllamad maintainers <tinyllamad@localhost>}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo_root="$(cd "$here/../.." && pwd)"
command -v dpkg-deb >/dev/null || { echo "buildDeb: dpkg-deb is required (Debian: it is part of dpkg)" >&2; exit 1; }

root="$(mktemp -d)"
chmod 0755 "$root"
trap 'rm -rf "$root"' EXIT
release="opt/tinyllamad/releases/$version"

install -d -m 0755 "$root/opt/tinyllamad/releases" "$root/usr/bin" "$root/lib/systemd/system" \
  "$root/usr/lib/sysusers.d" "$root/usr/share/doc/$package" "$root/DEBIAN"
cp -a "$bundle" "$root/$release"
# npm packages' development leftovers (ignore files, lint configs) have no use on a board.
find "$root/$release/node_modules" -type f \( -name .npmignore -o -name '.eslintrc*' -o -name .gitattributes \
  -o -name .gitignore \) -delete
ln -s "releases/$version" "$root/opt/tinyllamad/current"
ln -s /opt/tinyllamad/current/bin/tinyllamad "$root/usr/bin/tinyllamad"
install -m 0644 "$repo_root/deploy/systemd/tinyllamad.service" "$root/lib/systemd/system/tinyllamad.service"
install -m 0644 "$repo_root/deploy/systemd/tinyllamad.sysusers.conf" "$root/usr/lib/sysusers.d/tinyllamad.conf"
# The configuration may carry tokens: 0750/0640, group tinyllamad (set by postinst once the group exists).
install -d -m 0750 "$root/etc/tinyllamad"
install -m 0640 "$repo_root/deploy/systemd/config.json" "$root/etc/tinyllamad/config.json"
install -m 0644 "$here/copyright" "$root/usr/share/doc/$package/copyright"
printf '%s (%s) unstable; urgency=medium\n\n  * Release %s; see the project history.\n\n -- %s  %s\n' \
  "$package" "$version" "$version" "$maintainer" "$(LC_ALL=C date -u -R -d "@$epoch")" | gzip -9n >"$root/usr/share/doc/$package/changelog.gz"
chmod 0644 "$root/usr/share/doc/$package/changelog.gz"
for script in postinst prerm postrm; do install -m 0755 "$here/$script" "$root/DEBIAN/$script"; done
echo /etc/tinyllamad/config.json >"$root/DEBIAN/conffiles"

installed_kib="$(du -sk --exclude=DEBIAN "$root" | cut -f1)"
cat >"$root/DEBIAN/control" <<CONTROL
Package: $package
Version: $version
Architecture: $arch
Maintainer: $maintainer
Installed-Size: $installed_kib
Depends: libc6 (>= 2.28), libstdc++6, procps, systemd
${relations}Section: net
Priority: optional
Homepage: https://github.com/tinyllamad/tinyllamad
Description: serve TinyLlama 1.1B from a single-board computer
 tinyllamad runs a small language model (TinyLlama 1.1B, GGUF) with llama.cpp
 on a board such as a Raspberry Pi 4/5 or an RK3588, and streams its answers
 to local clients over WebSocket and MQTT. It carries its own Node.js runtime.
 The service is enabled but not started: systemctl start tinyllamad.
CONTROL
(cd "$root" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | LC_ALL=C sort -z | xargs -0 md5sum) \
  >"$root/DEBIAN/md5sums"
chmod 0644 "$root/DEBIAN/control" "$root/DEBIAN/conffiles" "$root/DEBIAN/md5sums"
find "$root" -exec touch -h -d "@$epoch" {} +

mkdir -p "$out_dir"
deb="$out_dir/${package}_${version}_${arch}.deb"
SOURCE_DATE_EPOCH="$epoch" dpkg-deb --root-owner-group -Zxz --build "$root" "$deb.partial" >/dev/null
mv "$deb.partial" "$deb"
(cd "$out_dir" && sha256sum "$(basename "$deb")" >"$(basename "$deb").sha256")
echo "$deb"
