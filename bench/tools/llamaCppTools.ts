/**
 * llama.cpp's own tools (llama-bench, llama-server, llama-quantize), built once from the source
 * bundle inside node-llama-cpp's package — the same llama.cpp version the daemon runs — and cached
 * in bench/.build/.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { join } from "node:path";
import { llamaCppRelease, llamaCppSourceBundle } from "../../hal/backends/llamaCpp/nodeLlamaCppPackage.js";
import { projectRoot } from "../../models/projectCacheDirectory.js";

export interface LlamaCppTools {
  llamaBench: string;
  llamaServer: string;
  llamaQuantize: string;
  /** The bundle's commit, to label results. */
  commit: string;
}

const targets = ["llama-bench", "llama-server", "llama-quantize"];

export function llamaCppTools(log: (line: string) => void = console.log): LlamaCppTools {
  const buildRoot = join(projectRoot(), "bench", ".build");
  const source = join(buildRoot, "llama.cpp");
  const build = join(source, "build");
  const bundle = llamaCppSourceBundle();
  const stamp = join(build, "tinyllamad-build.json");
  const tools = {
    llamaBench: join(build, "bin", "llama-bench"),
    llamaServer: join(build, "bin", "llama-server"),
    llamaQuantize: join(build, "bin", "llama-quantize"),
  };
  // A machine given only the source tree (no bundle, no .git: the GPU machine's payload) builds it as is.
  const bundleId = existsSync(bundle) ? `${bundle}:${readFileSync(bundle).length}` : `source:${llamaCppRelease()}`;
  if (existsSync(stamp) && Object.values(tools).every(existsSync)) {
    const built = JSON.parse(readFileSync(stamp, "utf8")) as { bundleId: string; commit: string };
    if (built.bundleId === bundleId) return { ...tools, commit: built.commit };
  }
  mkdirSync(buildRoot, { recursive: true });
  if (!existsSync(join(source, "CMakeLists.txt"))) {
    log(`cloning llama.cpp from ${bundle} …`);
    execFileSync("git", ["clone", "--quiet", bundle, source], { stdio: "inherit" });
  }
  const commit = existsSync(join(source, ".git"))
    ? execFileSync("git", ["-C", source, "rev-parse", "--short", "HEAD"], { encoding: "utf8" }).trim()
    : llamaCppRelease();
  const started = Date.now();
  log("configuring llama.cpp (cmake) …");
  execFileSync(
    "cmake",
    [
      "-S",
      source,
      "-B",
      build,
      "-DCMAKE_BUILD_TYPE=Release",
      "-DLLAMA_BUILD_TESTS=OFF",
      "-DLLAMA_BUILD_EXAMPLES=OFF",
      "-DLLAMA_BUILD_APP=OFF",
      "-DLLAMA_BUILD_HTML=OFF",
      "-DLLAMA_OPENSSL=OFF",
      "-DLLAMA_CURL=OFF",
      "-DGGML_NATIVE=ON",
    ],
    { stdio: ["ignore", "ignore", "inherit"] },
  );
  log(`building ${targets.join(", ")} (about 10 minutes on 2 cores) …`);
  execFileSync("cmake", ["--build", build, "-j", String(cpus().length), "--target", ...targets], {
    stdio: ["ignore", "ignore", "inherit"],
  });
  writeFileSync(stamp, JSON.stringify({ bundleId, commit, seconds: (Date.now() - started) / 1000 }));
  log(`built llama.cpp ${commit} tools in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  return { ...tools, commit };
}
