/**
 * deploy/systemd/README.md's hand-written install steps name files that a release bundle has, and create
 * the config file the unit reads, readable by the service's group (issue 17: they once never created it).
 * The steps themselves were run in a fresh Debian 12 chroot (see the closing note); this keeps
 * them consistent with the unit and cross-compile.sh's bundle layout.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { projectRoot } from "../../models/projectCacheDirectory.js";

const readme = readFileSync(join(projectRoot(), "deploy/systemd/README.md"), "utf8");
const unit = readFileSync(join(projectRoot(), "deploy/systemd/tinyllamad.service"), "utf8");
const crossCompile = readFileSync(join(projectRoot(), "cross-compile.sh"), "utf8");
const steps = /```sh\n([\s\S]*?)```/.exec(readme)?.[1] ?? "";

describe("deploy/systemd/README.md's install-by-hand steps", () => {
  it("install the config file the unit's ExecStart names, root:tinyllamad 0640 in a 0750 directory", () => {
    const configPath = /--config (\S+)/.exec(unit)?.[1];
    assert.equal(configPath, "/etc/tinyllamad/config.json");
    assert.match(steps, /install -d -m 0750 -g tinyllamad \/etc\/tinyllamad\n/);
    assert.match(steps, new RegExp(`install -m 0640 -g tinyllamad etc/config\\.json ${configPath}\\n`));
    // The group must exist before it is used: sysusers runs first.
    assert.ok(steps.indexOf("systemd-sysusers") < steps.indexOf("-g tinyllamad"));
  });

  it("put the bundle where the unit's ExecStart runs it", () => {
    const execStart = /^ExecStart=(\S+)/m.exec(unit)?.[1];
    assert.equal(execStart, "/opt/tinyllamad/current/bin/tinyllamad");
    assert.match(steps, /cp -a \. \/opt\/tinyllamad\/releases\/\$\(cat VERSION\)/);
    assert.match(steps, /ln -sfn releases\/\$\(cat VERSION\) \/opt\/tinyllamad\/current/);
  });

  it("use only files a release bundle has", () => {
    const bundleFiles = [
      "systemd/tinyllamad.sysusers.conf",
      "systemd/tinyllamad.service",
      "etc/config.json",
      "VERSION",
    ];
    for (const file of bundleFiles) {
      assert.ok(steps.includes(file), `the steps use ${file}`);
      assert.ok(
        crossCompile.includes(`"$stage/${file}"`) || crossCompile.includes(`"$stage/${file.split("/")[0]}/"`),
        `cross-compile.sh puts ${file} in the bundle`,
      );
    }
  });
});
