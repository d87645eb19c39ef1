/**
 * Gets a release bundle the way an operator would: by running cross-compile.sh, which reuses its staged
 * node_modules and downloads (under .cache/release-work), so a second call is quick. Also unpacks one.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { projectRoot } from "../models/projectCacheDirectory.js";

export interface Bundle {
  archive: string;
  /** The folder at the top of the archive: tinyllamad-<version>-<target>. */
  name: string;
  /** The sha256 written beside the archive. */
  sha256: string;
}

export function releaseDirectory(): string {
  return process.env.TINYLLAMAD_RELEASE_DIR ?? join(projectRoot(), "dist", "release");
}

/** `timeoutMs`: the linux-arm64-vulkan target compiles llama.cpp when its cache is cold (≈450 s on 2 idle cores). */
export function buildBundle(target: string, timeoutMs = 15 * 60_000): Bundle {
  const version = (JSON.parse(readFileSync(join(projectRoot(), "package.json"), "utf8")) as { version: string })
    .version;
  const result = spawnSync(join(projectRoot(), "cross-compile.sh"), [target], {
    cwd: projectRoot(),
    encoding: "utf8",
    timeout: timeoutMs,
    env: { ...process.env, TINYLLAMAD_RELEASE_DIR: releaseDirectory() },
  });
  if (result.status !== 0)
    throw new Error(`cross-compile.sh ${target} failed (${result.status ?? result.signal}):\n${result.stderr}`);
  const name = `tinyllamad-${version}-${target}`;
  const archive = join(releaseDirectory(), `${name}.tar.gz`);
  const sha256 = readFileSync(`${archive}.sha256`, "utf8").split(/\s+/)[0] ?? "";
  return { archive, name, sha256 };
}

export function sha256Of(path: string): string {
  return createHash("sha256").update(readFileSync(path)).digest("hex");
}

/** Unpacks into a new temporary folder; returns the bundle's root folder. */
export function unpackBundle(bundle: Bundle): string {
  const directory = mkdtempSync(join(tmpdir(), "tinyllamad-bundle-"));
  execFileSync("tar", ["-xzf", bundle.archive, "-C", directory]);
  return join(directory, bundle.name);
}

/** The Debian package cross-compile.sh made beside a bundle (tinyllamad-vulkan for linux-arm64-vulkan). */
export function debianPackageOf(
  bundle: Bundle,
  debianArchitecture: "arm64" | "amd64",
  packageName = "tinyllamad",
): string {
  const version = bundle.name.split("-")[1] ?? "";
  return join(releaseDirectory(), `${packageName}_${version}_${debianArchitecture}.deb`);
}
