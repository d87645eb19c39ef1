/**
 * The dependency arrows of the shipped code point one way: daemon → hal → models → protocol. The engine
 * (hal/, models/) never imports the daemon that drives it; models/ (files, formats, store, catalog)
 * never imports the hal/ that runs them; protocol/ (the shared message types and error catalogue)
 * imports nothing of the project. Nothing shipped imports the development tools (devtools/), tests,
 * benchmarks or harness, except `models make-test` loading devtools/ when it runs. The client
 * (client/, `tinyllamad/client`) runs in other people's programs and browsers: it imports protocol/ and,
 * as types only, the daemon's wire messages, and loads no package but `ws` (Node entry only). See ARCHITECTURE.md.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { projectRoot } from "../../models/projectCacheDirectory.js";
import {
  importGraph,
  importsOf,
  layeringViolations,
  packageImportsOf,
  runtimeClosure,
  topFolder,
} from "./importGraph.js";

/** Per shipped folder, the other folders it may import. Anything not listed (devtools, test, bench, harness) is off limits. */
const mayImport = {
  protocol: [],
  models: ["protocol"],
  hal: ["models", "protocol"],
  daemon: ["hal", "models", "protocol", "client"],
  client: ["protocol"],
} as const satisfies Record<string, readonly string[]>;

/** The client is typed with the daemon's wire messages; a type import loads nothing of the daemon. */
const allowedTypeOnly = [{ fromFolder: "client", to: "daemon/protocol/messages.ts" }];

/** The one way into devtools/ from shipped code: loaded only when `models make-test` runs (absent in release bundles). */
const allowedDynamic = [{ from: "models/cli/runMakeTestModelCommand.ts", to: "devtools/makeTestModelCommand.ts" }];

const shipped = Object.keys(mayImport);
const describeEdge = (edge: { from: string; to: string; dynamic: boolean }) =>
  `${edge.from} → ${edge.to}${edge.dynamic ? " (dynamic)" : ""}`;

describe("layering of the shipped code", () => {
  const edges = importGraph(projectRoot(), shipped);

  it("reads the imports it judges (the scan sees known edges of every kind)", () => {
    const seen = (from: string, to: string, dynamic = false) =>
      edges.some((edge) => edge.from === from && edge.to === to && edge.dynamic === dynamic);
    assert.ok(seen("hal/backends/Backend.ts", "protocol/generation.ts"), "a multi-name type import");
    assert.ok(seen("daemon/protocol/errorCodes.ts", "protocol/errorCodes.ts"), "a re-export");
    assert.ok(
      seen("models/cli/runMakeTestModelCommand.ts", "devtools/makeTestModelCommand.ts", true),
      "a dynamic import",
    );
    assert.ok(edges.length > 200, `edges found: ${edges.length}`);
  });

  it("nothing under hal/ or models/ imports daemon/", () => {
    const intoDaemon = edges.filter(
      (edge) => ["hal", "models"].includes(topFolder(edge.from)) && topFolder(edge.to) === "daemon",
    );
    assert.deepEqual(intoDaemon.map(describeEdge), []);
  });

  it("every import follows daemon → hal → models → protocol, and nothing shipped imports devtools/, test/, bench/ or harness/", () => {
    assert.deepEqual(layeringViolations(edges, mayImport, allowedDynamic, allowedTypeOnly).map(describeEdge), []);
  });

  it("the client loads nothing of the daemon or the engine, and no package but ws (Node) — none in a browser or over MQTT", () => {
    const root = projectRoot();
    const entries = { "client/index.ts": ["ws"], "client/browser.ts": [], "client/mqtt.ts": [] } as const;
    for (const [entry, allowedPackages] of Object.entries(entries)) {
      const files = runtimeClosure(root, entry);
      assert.ok(files.includes("protocol/errorCodes.ts"), `${entry}: the closure follows re-exports`);
      assert.deepEqual(
        files.filter((file) => !["client", "protocol"].includes(topFolder(file))),
        [],
        `${entry} loads only client/ and protocol/ files`,
      );
      const packages = new Set(files.flatMap((file) => packageImportsOf(readFileSync(join(root, file), "utf8"))));
      assert.deepEqual([...packages].sort(), [...allowedPackages], `${entry} loads these packages`);
    }
  });

  it("the check tells a type import from one that runs", () => {
    const source = [
      'import type { GenerateRequest } from "../daemon/protocol/messages.js";',
      'export type {\n  ChatMessage,\n} from "../daemon/protocol/messages.js";',
      'import { Scheduler } from "../daemon/scheduler/Scheduler.js";',
      'import { getLlama } from "node-llama-cpp";',
      'import type { MqttClient } from "mqtt";',
    ].join("\n");
    const found = importsOf("client/Example.ts", source);
    assert.deepEqual(
      found.map((edge) => edge.typeOnly),
      [true, true, false],
    );
    assert.deepEqual(layeringViolations(found, mayImport, allowedDynamic, allowedTypeOnly).map(describeEdge), [
      "client/Example.ts → daemon/scheduler/Scheduler.ts",
    ]);
    assert.deepEqual(packageImportsOf(source), ["node-llama-cpp"]);
  });

  it("the check catches a wrong arrow: an engine file importing the daemon, a static import of devtools/", () => {
    const source = [
      'import type { GenerateRequest } from "../../daemon/protocol/messages.js";',
      'import {\n  makeTestModel,\n} from "../../devtools/testModel/makeTestModel.js";',
      'export * from "../../protocol/errorCodes.js";',
    ].join("\n");
    const found = importsOf("hal/backends/Example.ts", source);
    assert.deepEqual(layeringViolations(found, mayImport, allowedDynamic).map(describeEdge), [
      "hal/backends/Example.ts → daemon/protocol/messages.ts",
      "hal/backends/Example.ts → devtools/testModel/makeTestModel.ts",
    ]);
    const staticLoader = importsOf(
      "models/cli/runMakeTestModelCommand.ts",
      'import { runMakeTestModelCommand } from "../../devtools/makeTestModelCommand.js";',
    );
    assert.equal(
      layeringViolations(staticLoader, mayImport, allowedDynamic).length,
      1,
      "only the dynamic import is allowed",
    );
  });
});
