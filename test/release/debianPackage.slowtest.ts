/**
 * The amd64 Debian package that cross-compile.sh makes, installed with dpkg into a throwaway root
 * (`dpkg --root`, maintainer scripts run chrootless with DPKG_ROOT): its files, the `tinyllamad` user
 * and the ownership of its configuration, the unit enabled but not started, a conffile with working
 * defaults, the installed command answering --help on its own Node 22 runtime, removal keeping the
 * conffile and purge removing it; and lintian's verdict, every remaining tag explained below.
 */
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { buildBundle, debianPackageOf } from "../../harness/releaseBundle.js";
import { projectRoot } from "../../models/projectCacheDirectory.js";

function skipReason(): string | undefined {
  if (process.platform !== "linux") return "dpkg needs Linux";
  if (process.getuid?.() !== 0) return "installing a .deb with dpkg --root needs root (file ownership)";
  if (spawnSync("dpkg", ["--version"]).status !== 0) return "dpkg is not installed";
  return undefined;
}

/**
 * lintian tags that remain (lintian 2.116, Debian 12), each for a reason. The package is a self-contained
 * release bundle: its own Node runtime and the npm packages it runs on, under /opt as the issue asks and
 * as the unit and the Ansible role lay it out. Any other warning or error fails the test.
 */
const explainedLintianTags: Record<string, string> = {
  "dir-or-file-in-opt": "the bundle lives in /opt/tinyllamad (add-on software, the unit's ExecStart path)",
  "bogus-mail-host":
    "the Maintainer is a placeholder until the project has a public address (TINYLLAMAD_DEB_MAINTAINER)",
  "bogus-mail-host-in-debian-changelog": "the same placeholder in the changelog",
  "embedded-library": "the official Node binary links zlib statically",
  "hardening-no-pie": "the official Node binary is shipped as published",
  "unstripped-binary-or-object":
    "llama.cpp/koffi prebuilts as published, and our threadpool library (kept for backtraces)",
  "missing-dep-for-interpreter":
    "npm packages' CLIs say #!/usr/bin/env node; the daemon never runs them, it has runtime/bin/node",
  "unusual-interpreter": "koffi's install script (env -S), never run on the board",
  "embedded-javascript-library": "fs-extra's own async helper inside node_modules",
  "executable-not-elf-or-script": "npm packages publish some files with the executable bit",
  "script-not-executable": "npm packages' scripts and type declarations with a shebang, run through node or not at all",
  "privacy-breach-generic": "pino's documentation page links CDNs; it is never served",
  "non-standard-dir-perm": "/etc/tinyllamad is 0750: the configuration may hold tokens",
  "non-standard-file-perm": "config.json is 0640: it may hold tokens",
  "no-manual-page": "tinyllamad --help (every command and subcommand) is the manual; no man page yet",
};

describe("the amd64 Debian package, installed into a throwaway root", {
  skip: skipReason(),
  timeout: 30 * 60_000,
}, () => {
  let deb = "";
  let version = "";
  const root = mkdtempSync(join(tmpdir(), "tinyllamad-deb-root-"));
  const dpkg = (...args: string[]) =>
    execFileSync("dpkg", [`--root=${root}`, "--force-script-chrootless", "--force-depends", ...args], {
      encoding: "utf8",
      stdio: "pipe",
    });
  const at = (path: string) => join(root, path);

  before(() => {
    const bundle = buildBundle("linux-x64");
    deb = debianPackageOf(bundle, "amd64");
    version = bundle.name.split("-")[1] ?? "";
    for (const folder of ["var/lib/dpkg/info", "var/lib/dpkg/updates", "var/lib/dpkg/triggers"])
      mkdirSync(at(folder), { recursive: true });
    writeFileSync(at("var/lib/dpkg/status"), "");
    writeFileSync(at("var/lib/dpkg/available"), "");
    dpkg("--install", deb);
  });

  after(() => rmSync(root, { recursive: true, force: true }));

  function groupId(name: string): number {
    const line = readFileSync(at("etc/group"), "utf8")
      .split("\n")
      .find((entry) => entry.startsWith(`${name}:`));
    assert.ok(line, `group ${name} exists in the root's /etc/group`);
    return Number(line.split(":")[2]);
  }

  it("is installed, with the bundle under /opt/tinyllamad and tinyllamad on PATH", () => {
    assert.match(dpkg("--status", "tinyllamad"), /Status: install ok installed/);
    assert.equal(readlinkSync(at("opt/tinyllamad/current")), `releases/${version}`);
    assert.equal(readlinkSync(at("usr/bin/tinyllamad")), "/opt/tinyllamad/current/bin/tinyllamad");
    assert.ok(statSync(at("opt/tinyllamad/current/bin/tinyllamad")).mode & 0o111, "the launcher is executable");
    assert.equal(
      readFileSync(at("lib/systemd/system/tinyllamad.service"), "utf8"),
      readFileSync(join(projectRoot(), "deploy/systemd/tinyllamad.service"), "utf8"),
      "the hardened unit as in deploy/systemd",
    );
    assert.match(
      readFileSync(at("lib/systemd/system/tinyllamad.service"), "utf8"),
      /^ExecStart=\/opt\/tinyllamad\/current\/bin\/tinyllamad serve --config \/etc\/tinyllamad\/config.json$/m,
    );
    for (const path of [
      "opt/tinyllamad/current/bin/tinyllamad",
      "opt/tinyllamad/current/runtime/bin/node",
      "usr/lib/sysusers.d/tinyllamad.conf",
    ]) {
      const stats = statSync(at(path));
      assert.equal(stats.uid, 0, `${path} is owned by root`);
      assert.equal(stats.gid, 0, `${path} is group root`);
    }
  });

  it("creates the tinyllamad system user (sysusers) with no login and its home in /var/lib/tinyllamad", () => {
    const passwd = readFileSync(at("etc/passwd"), "utf8")
      .split("\n")
      .find((line) => line.startsWith("tinyllamad:"));
    assert.ok(passwd, "the tinyllamad user exists");
    const [, , uid, gid, , home, shell] = passwd.split(":");
    assert.ok(Number(uid) < 1000, "a system user id");
    assert.equal(Number(gid), groupId("tinyllamad"));
    assert.equal(home, "/var/lib/tinyllamad");
    assert.equal(shell, "/usr/sbin/nologin");
  });

  it("/etc/tinyllamad/config.json is a conffile readable by root and the service group only, with working defaults", () => {
    assert.equal(
      execFileSync("dpkg-deb", ["--info", deb, "conffiles"], { encoding: "utf8" }).trim(),
      "/etc/tinyllamad/config.json",
    );
    const gid = groupId("tinyllamad");
    const directory = statSync(at("etc/tinyllamad"));
    assert.equal(directory.mode & 0o777, 0o750);
    assert.deepEqual([directory.uid, directory.gid], [0, gid]);
    const file = statSync(at("etc/tinyllamad/config.json"));
    assert.equal(file.mode & 0o777, 0o640);
    assert.deepEqual([file.uid, file.gid], [0, gid]);
    const printed = spawnSync(
      at("opt/tinyllamad/current/bin/tinyllamad"),
      ["config", "--print", "--json", "--config", at("etc/tinyllamad/config.json")],
      { encoding: "utf8" },
    );
    assert.equal(printed.status, 0, printed.stderr);
    const config = JSON.parse(printed.stdout) as Record<string, { value: unknown }>;
    assert.equal(config["model.pullOnStart"]?.value, true, "the first start pulls the board's default model");
    assert.equal(config["model.path"]?.value, "", "model.path empty: the board's default model");
    assert.equal(config["http.host"]?.value, "127.0.0.1", "serves on loopback until the admin opens it (with a token)");
    assert.equal(config["state.directory"]?.value, "/var/lib/tinyllamad");
  });

  it("enables the unit for the next boot and starts nothing", () => {
    const wanted = at("etc/systemd/system/multi-user.target.wants/tinyllamad.service");
    assert.ok(lstatSync(wanted).isSymbolicLink(), "enabled: linked from multi-user.target.wants");
    assert.equal(readlinkSync(wanted), "/lib/systemd/system/tinyllamad.service");
    const postinst = readFileSync(at("var/lib/dpkg/info/tinyllamad.postinst"), "utf8")
      .split("\n")
      .filter((line) => !line.trimStart().startsWith("#"))
      .join("\n");
    assert.match(postinst, /deb-systemd-helper enable tinyllamad\.service/);
    assert.doesNotMatch(
      postinst,
      /systemctl[^\n]*\b(start|restart)\b|deb-systemd-invoke[^\n]*\b(start|restart)\b/,
      "postinst starts nothing",
    );
    assert.doesNotMatch(postinst, /curl|wget|npm|models pull/, "postinst downloads nothing");
  });

  it("the installed command answers --help on the package's own Node 22 runtime", () => {
    const help = spawnSync(
      at("usr/bin/tinyllamad").replace(/usr\/bin\/tinyllamad$/, "opt/tinyllamad/current/bin/tinyllamad"),
      ["--help"],
      { cwd: "/", encoding: "utf8" },
    );
    assert.equal(help.status, 0, help.stderr);
    assert.match(help.stdout, /Usage: tinyllamad <command>/);
    const serveHelp = spawnSync(at("opt/tinyllamad/current/bin/tinyllamad"), ["serve", "--help"], { encoding: "utf8" });
    assert.equal(serveHelp.status, 0, serveHelp.stderr);
    const node = execFileSync(at("opt/tinyllamad/current/runtime/bin/node"), ["--version"], { encoding: "utf8" });
    assert.match(node, /^v22\./, "Node 22 LTS");
    const manifest = JSON.parse(readFileSync(at("opt/tinyllamad/current/MANIFEST.json"), "utf8")) as { node: string };
    assert.match(manifest.node, /^22\./);
  });

  it("lintian: no errors, and every warning is one of the explained tags", {
    skip:
      spawnSync("lintian", ["--version"]).status === 0 ? false : "lintian is not installed (apt-get install lintian)",
  }, () => {
    const result = spawnSync("lintian", ["--tag-display-limit", "0", deb], { encoding: "utf8", timeout: 20 * 60_000 });
    const tags = result.stdout
      .split("\n")
      .map((line) => /^([EWIPXO]): tinyllamad[^:]*: (\S+)/.exec(line))
      .filter((match) => match !== null)
      .map((match) => ({ severity: match[1], tag: match[2] as string }));
    const unexplained = [
      ...new Set(tags.filter((t) => t.severity === "E" || t.severity === "W").map((t) => t.tag)),
    ].filter((tag) => !(tag in explainedLintianTags));
    assert.deepEqual(unexplained, [], `lintian tags without an explanation:\n${result.stdout}`);
  });

  it("removal keeps the conffile and the user's data; purge removes the conffile", () => {
    dpkg("--remove", "tinyllamad");
    assert.ok(!existsSync(at("opt/tinyllamad/current")), "the bundle is gone");
    assert.ok(!existsSync(at("usr/bin/tinyllamad")));
    assert.ok(existsSync(at("etc/tinyllamad/config.json")), "the conffile stays after remove");
    dpkg("--purge", "tinyllamad");
    assert.ok(!existsSync(at("etc/tinyllamad/config.json")), "purge removes the conffile");
    assert.ok(!existsSync(at("etc/systemd/system/multi-user.target.wants/tinyllamad.service")), "and the enablement");
  });
});
