/**
 * tinyllamad/client as other programs get it: by the package's name through its "exports" map, the
 * docs' example run as written (in Node over ws with the token as a header; under the "browser"
 * condition over the global WebSocket with the token in the URL) and type-checked as TypeScript
 * against the published declarations, against a daemon that requires a token.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { TinyllamadClient, TinyllamadError } from "../../client/index.js";
import { projectRoot } from "../../models/projectCacheDirectory.js";
import { daemonForSuite } from "../support/daemonForSuite.js";
import { testDaemonFlags } from "../support/testDaemonFlags.js";

const token = "package-test-token-7";

/** The first ```js block of docs/client.md: the 10-line example. */
function docsExample(): string {
  const docs = readFileSync(join(projectRoot(), "docs", "client.md"), "utf8");
  const block = /```js\n([\s\S]*?)```/.exec(docs)?.[1];
  assert.ok(block, "docs/client.md has a js example");
  assert.ok(block.trim().split("\n").length <= 10, "the example stays at 10 lines");
  return block;
}

describe("tinyllamad/client from a program that installed the package", () => {
  const scratch = mkdtempSync(join(tmpdir(), "tinyllamad-client-package-"));
  const consumer = join(scratch, "consumer");
  const { url } = daemonForSuite(testDaemonFlags({ "backend.threads": 1, "state.directory": join(scratch, "state") }), {
    TINYLLAMAD_HTTP_TOKEN: token,
  });

  before(() => {
    // As `npm install /path/to/tinyllamad` leaves it: the package under node_modules/tinyllamad.
    mkdirSync(join(consumer, "node_modules"), { recursive: true });
    symlinkSync(projectRoot(), join(consumer, "node_modules", "tinyllamad"));
    writeFileSync(join(consumer, "package.json"), JSON.stringify({ name: "consumer", type: "module" }));
    const example = docsExample().replace("ws://127.0.0.1:8765/", url()).replace("max_tokens: 64", "max_tokens: 6");
    writeFileSync(join(consumer, "example.mjs"), example);
    writeFileSync(join(consumer, "example.ts"), example);
  });

  after(() => rmSync(scratch, { recursive: true, force: true }));

  const runExample = (nodeFlags: string[]) =>
    spawnSync(process.execPath, [...nodeFlags, "example.mjs"], {
      cwd: consumer,
      encoding: "utf8",
      env: { ...process.env, TINYLLAMAD_TOKEN: token },
      timeout: 60_000,
    });

  it("refuses a client without the token with E_UNAUTHORIZED at once (no retries)", async () => {
    const client = new TinyllamadClient({ url: url(), connectTimeoutMs: 60_000 });
    await assert.rejects(client.complete({ prompt: "Hi" }), (error: unknown) => {
      assert.ok(error instanceof TinyllamadError);
      assert.equal(error.code, "E_UNAUTHORIZED");
      return true;
    });
    client.close();
  });

  it("the docs' example runs as written in Node, importing tinyllamad/client by name", () => {
    const result = runExample([]);
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, /\n\[length, 6 tokens\]\n$/);
  });

  it('under the "browser" condition it gets the global-WebSocket entry, the token in the URL, and runs the same', () => {
    const resolved = spawnSync(
      process.execPath,
      ["--conditions=browser", "--input-type=module", "-e", 'console.log(import.meta.resolve("tinyllamad/client"))'],
      { cwd: consumer, encoding: "utf8" },
    );
    assert.equal(resolved.status, 0, resolved.stderr);
    assert.match(resolved.stdout.trim(), /\/dist\/client\/browser\.js$/);
    // Node 20's global WebSocket (undici) stands in for a browser's.
    const result = runExample(["--conditions=browser", "--experimental-websocket", "--no-warnings"]);
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, /\n\[length, 6 tokens\]\n$/);
  });

  it("type-checks as TypeScript against the published declarations (exports → types)", () => {
    writeFileSync(
      join(consumer, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          target: "ES2022",
          module: "NodeNext",
          moduleResolution: "NodeNext",
          strict: true,
          noEmit: true,
          skipLibCheck: true,
          types: ["node"],
          typeRoots: [join(projectRoot(), "node_modules", "@types")],
        },
        files: ["example.ts"],
      }),
    );
    const tsc = spawnSync(join(projectRoot(), "node_modules", ".bin", "tsc"), ["-p", consumer], {
      cwd: consumer,
      encoding: "utf8",
      timeout: 120_000,
    });
    assert.equal(tsc.status, 0, tsc.stdout + tsc.stderr);
    // The types are real, not `any`: a wrong option is an error.
    writeFileSync(
      join(consumer, "wrong.ts"),
      'import { TinyllamadClient } from "tinyllamad/client";\nnew TinyllamadClient({ url: 8765 });\n',
    );
    const config = JSON.parse(readFileSync(join(consumer, "tsconfig.json"), "utf8")) as Record<string, unknown>;
    writeFileSync(join(consumer, "tsconfig.wrong.json"), JSON.stringify({ ...config, files: ["wrong.ts"] }));
    const wrong = spawnSync(
      join(projectRoot(), "node_modules", ".bin", "tsc"),
      ["-p", join(consumer, "tsconfig.wrong.json")],
      {
        cwd: consumer,
        encoding: "utf8",
        timeout: 120_000,
      },
    );
    assert.notEqual(wrong.status, 0);
    assert.match(wrong.stdout, /wrong\.ts.*number.*string/s);
  });
});
