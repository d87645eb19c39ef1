/**
 * Runs the real probes on one of the board fixture trees (test/fixtures/boards/<name>), with the
 * architecture and Vulkan report that fixture.json records for that board.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { type HardwareProbeOptions, type HardwareReport, probeHardware } from "../../hal/probes/probeHardware.js";
import type { VulkanReport } from "../../hal/probes/vulkanReport.js";
import { type BoardFixtureName, boardFixtureRoot } from "../fixtures/boards/makeBoardFixtures.js";

export interface BoardFixtureManifest {
  description: string;
  arch: string;
  vulkan: VulkanReport;
}

export async function readBoardFixtureManifest(name: BoardFixtureName): Promise<BoardFixtureManifest> {
  return JSON.parse(await readFile(join(boardFixtureRoot(name), "fixture.json"), "utf8")) as BoardFixtureManifest;
}

export async function probeBoardFixture(
  name: BoardFixtureName,
  options: HardwareProbeOptions = {},
): Promise<HardwareReport> {
  const manifest = await readBoardFixtureManifest(name);
  return probeHardware(boardFixtureRoot(name), { arch: manifest.arch, vulkan: manifest.vulkan, ...options });
}
