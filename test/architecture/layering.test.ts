/**
 * The dependency arrows of the shipped code point one way: daemon → hal → models → protocol. The engine
 * (hal/, models/) never imports the daemon that drives it; models/ (files, formats, store, catalog)
 * never imports the hal/ that runs them; protocol/ (the shared message types and error catalogue)
 * imports nothing of the project. Nothing shipped imports the development tools (devtools/), tests,
 * benchmarks or harness, except `models make-test` loading devtools/ when it runs. See ARCHITECTURE.md.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { projectRoot } from "../../models/projectCacheDirectory.js";
import { importGraph, importsOf, layeringViolations, topFolder } from "./importGraph.js";

/** Per shipped folder, the other folders it may import. Anything not listed (devtools, test, bench, harness) is off limits. */
const mayImport = {
  protocol: [],
  models: ["protocol"],
  hal: ["models", "protocol"],
  daemon: ["hal", "models", "protocol"],
} as const satisfies Record<string, readonly string[]>;

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
    assert.deepEqual(layeringViolations(edges, mayImport, allowedDynamic).map(describeEdge), []);
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
