/**
 * Compiles persistentThreadpool.c into libtinyllamad-threadpool.so next to the compiled loader
 * (dist/hal/backends/llamaCpp/persistentThreadpool/<platform>-<arch>/), against llama.cpp's own
 * headers taken from node-llama-cpp's source bundle (cached under .cache/llama-headers/<release>).
 *
 * `npm run build` runs it for this machine; cross-compile.sh runs it with --target linux-arm64 and
 * a cross compiler. Without a C compiler it warns and exits 0: the daemon then runs without the
 * persistent threadpool (slower decode on small models, same results) and says so in its log.
 *
 *   node dist/hal/backends/llamaCpp/persistentThreadpool/buildPersistentThreadpool.js
 *        [--target linux-arm64] [--cc aarch64-linux-gnu-gcc] [--out-dir DIR] [--require]
 *
 * --require makes a missing compiler an error (exit 1), for release builds.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { parseArgs } from "node:util";
import { projectCacheDirectory, projectRoot } from "../../../../models/projectCacheDirectory.js";
import { llamaCppRelease, llamaCppSourceBundle } from "../nodeLlamaCppPackage.js";
import {
  hostTarget,
  persistentThreadpoolLibraryName,
  persistentThreadpoolLibraryPath,
} from "./persistentThreadpoolLibraryPath.js";

const sourceFile = join("hal", "backends", "llamaCpp", "persistentThreadpool", "persistentThreadpool.c");
const headerFolders = ["include", "ggml/include"];

/** llama.h and ggml's headers of the bundled llama.cpp release, extracted once (needs git and tar). */
function llamaCppHeaders(cacheDirectory = projectCacheDirectory()): string {
  const bundle = llamaCppSourceBundle();
  const target = join(cacheDirectory, "llama-headers", `${llamaCppRelease()}-${statSync(bundle).size}`);
  if (existsSync(join(target, "include", "llama.h"))) return target;
  mkdirSync(dirname(target), { recursive: true });
  const scratch = mkdtempSync(`${target}.partial-`);
  try {
    const repository = join(scratch, "llama.cpp.git");
    execFileSync("git", ["clone", "--quiet", "--bare", bundle, repository], { stdio: ["ignore", "ignore", "pipe"] });
    const archive = execFileSync(
      "git",
      ["--git-dir", repository, "archive", "--format=tar", "HEAD", ...headerFolders],
      {
        maxBuffer: 64 * 1024 * 1024,
      },
    );
    const headers = join(scratch, "headers");
    mkdirSync(headers);
    execFileSync("tar", ["-x", "-C", headers], { input: archive });
    rmSync(target, { recursive: true, force: true });
    renameSync(headers, target);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  return target;
}

interface BuildOptions {
  target?: string;
  compiler?: string;
  outputFile?: string;
}

/** Compiles the library; returns its path. Throws when the compiler is missing or fails. */
function buildPersistentThreadpool(options: BuildOptions = {}): string {
  const target = options.target ?? hostTarget();
  const compiler = options.compiler ?? process.env.CC ?? "cc";
  const output = options.outputFile ?? persistentThreadpoolLibraryPath(target);
  const headers = llamaCppHeaders();
  mkdirSync(dirname(output), { recursive: true });
  const partial = `${output}.partial`;
  const result = spawnSync(
    compiler,
    [
      "-std=gnu11",
      "-O2",
      "-fPIC",
      "-shared",
      "-Wall",
      "-Wextra",
      "-Werror",
      "-Wno-unused-parameter",
      "-I",
      join(headers, "include"),
      "-I",
      join(headers, "ggml", "include"),
      join(projectRoot(), sourceFile),
      "-o",
      partial,
      "-ldl",
      "-lpthread",
    ],
    { encoding: "utf8" },
  );
  if (result.error) throw new Error(`cannot run the C compiler "${compiler}": ${result.error.message}`);
  if (result.status !== 0) throw new Error(`"${compiler}" failed on ${sourceFile}:\n${result.stderr}`);
  renameSync(partial, output);
  return output;
}

function main(): void {
  const { values } = parseArgs({
    options: {
      target: { type: "string" },
      cc: { type: "string" },
      "out-dir": { type: "string" },
      require: { type: "boolean", default: false },
    },
  });
  const target = values.target ?? hostTarget();
  const outputFile =
    values["out-dir"] === undefined ? undefined : join(values["out-dir"], target, persistentThreadpoolLibraryName);
  try {
    const built = buildPersistentThreadpool({ target, compiler: values.cc, outputFile });
    process.stdout.write(`persistent threadpool library: ${built}\n`);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    if (values.require) {
      process.stderr.write(`persistent threadpool library: ${message}\n`);
      process.exitCode = 1;
      return;
    }
    process.stderr.write(
      `warning: persistent threadpool library not built (${message}).\n` +
        "The daemon still runs, but llama.cpp starts its worker threads on every token, which is slower on small models.\n" +
        "Install a C compiler (Debian: apt-get install gcc) and run npm run build again.\n",
    );
  }
}

main();
