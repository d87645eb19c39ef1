/**
 * Test models are made once by the project's own generator and cached under .cache/test-models.
 */
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { makeTestModel, type TestModelQuant } from "../../devtools/testModel/makeTestModel.js";
import { projectCacheDirectory } from "../../models/projectCacheDirectory.js";

export function testModelPath(shape = "tiny", quant: TestModelQuant = "q8_0", seed = 1): string {
  const directory = join(projectCacheDirectory(), "test-models");
  const path = join(directory, `${shape}-${quant}-seed${seed}.gguf`);
  if (!existsSync(path)) {
    mkdirSync(directory, { recursive: true });
    makeTestModel({ shape, quant, seed, out: path });
  }
  return path;
}
