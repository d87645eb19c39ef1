/**
 * Every probe on every board fixture tree (real files in the kernels' formats), on an empty root (never
 * throws, says why), and on this machine's real `/`.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { decodeRaspberryPiThrottled, describeThrottling } from "../../hal/probes/decodeRaspberryPiThrottled.js";
import { probeBoard } from "../../hal/probes/probeBoard.js";
import { probeCpu } from "../../hal/probes/probeCpu.js";
import { probeHardware } from "../../hal/probes/probeHardware.js";
import { probeMemory } from "../../hal/probes/probeMemory.js";
import { probeNpu } from "../../hal/probes/probeNpu.js";
import { probeThermal } from "../../hal/probes/probeThermal.js";
import { classifyVulkanDeviceName } from "../../hal/probes/vulkanReport.js";
import { boardFixtureRoot } from "../fixtures/boards/makeBoardFixtures.js";

const root = boardFixtureRoot;
const gib = 1024 ** 3;

describe("probeBoard", () => {
  it("recognises each fixture board from its device tree", async () => {
    const rpi4 = await probeBoard(root("rpi4-4gb"), "arm64");
    assert.deepEqual(
      { id: rpi4.id, soc: rpi4.soc, model: rpi4.model, compatible: rpi4.compatible },
      {
        id: "rpi4",
        soc: "BCM2711",
        model: "Raspberry Pi 4 Model B Rev 1.5",
        compatible: ["raspberrypi,4-model-b", "brcm,bcm2711"],
      },
    );
    assert.equal((await probeBoard(root("rpi4-1gb"), "arm64")).model, "Raspberry Pi 4 Model B Rev 1.2");
    const rpi5 = await probeBoard(root("rpi5-8gb"), "arm64");
    assert.deepEqual([rpi5.id, rpi5.soc, rpi5.displayName], ["rpi5", "BCM2712", "Raspberry Pi 5"]);
    // Vendor kernel: only `rockchip,rk3588`, but the board entry says rk3588s.
    const vendor = await probeBoard(root("opi5-npu"), "arm64");
    assert.deepEqual(
      [vendor.id, vendor.soc, vendor.model, vendor.displayName],
      ["opi5", "RK3588S", "Orange Pi 5", "Orange Pi 5 (RK3588S)"],
    );
    const mainline = await probeBoard(root("opi5-no-npu"), "arm64");
    assert.deepEqual(
      [mainline.id, mainline.soc, mainline.compatible],
      ["opi5", "RK3588S", ["xunlong,orangepi-5", "rockchip,rk3588s"]],
    );
    assert.deepEqual(rpi4.reasons, []);
  });

  it("falls back to generic-<arch> without a device tree, saying why", async () => {
    const x86 = await probeBoard(root("x86-64-generic"), "x64");
    assert.deepEqual([x86.id, x86.model, x86.soc, x86.compatible], ["generic-x64", null, null, []]);
    assert.match(x86.reasons.join("\n"), /\/proc\/device-tree\/model: missing/);
  });
});

describe("probeCpu", () => {
  it("Raspberry Pi 4: four symmetric Cortex-A72 without dot-product", async () => {
    const cpu = await probeCpu(root("rpi4-4gb"), "arm64");
    assert.equal(cpu.arch, "arm64");
    assert.equal(cpu.cores, 4);
    assert.deepEqual(
      cpu.coreList.map((core) => [core.part, core.name, core.maxFrequencyKHz, core.capacity]),
      Array(4).fill(["0xd08", "Cortex-A72", 1_800_000, 1024]),
    );
    assert.equal(cpu.bigLittle, false);
    assert.deepEqual(
      cpu.clusters.map((cluster) => [cluster.role, cluster.cpus]),
      [["symmetric", [0, 1, 2, 3]]],
    );
    assert.deepEqual(cpu.bigCores, [0, 1, 2, 3]);
    assert.deepEqual(cpu.features, ["fp", "asimd", "evtstrm", "crc32", "cpuid"]);
    assert.equal((await probeCpu(root("rpi4-1gb"), "arm64")).coreList[0]?.maxFrequencyKHz, 1_500_000);
  });

  it("Raspberry Pi 5: four Cortex-A76 with asimddp and fphp, no i8mm", async () => {
    const cpu = await probeCpu(root("rpi5-8gb"), "arm64");
    assert.equal(cpu.cores, 4);
    assert.equal(cpu.modelName, "Cortex-A76");
    assert.equal(cpu.bigLittle, false);
    for (const feature of ["asimd", "asimddp", "fphp", "asimdhp"]) assert.ok(cpu.features.includes(feature), feature);
    assert.ok(!cpu.features.includes("i8mm"));
  });

  for (const name of ["opi5-npu", "opi5-no-npu"] as const) {
    it(`${name}: big.LITTLE, A76 cores 4-7 big, A55 cores 0-3 little`, async () => {
      const cpu = await probeCpu(root(name), "arm64");
      assert.equal(cpu.cores, 8);
      assert.equal(cpu.bigLittle, true);
      assert.equal(cpu.clusterBasis, "cpu-part");
      assert.deepEqual(
        cpu.clusters.map((cluster) => [cluster.role, cluster.name, cluster.cpus]),
        [
          ["big", "Cortex-A76", [4, 5, 6, 7]],
          ["little", "Cortex-A55", [0, 1, 2, 3]],
        ],
      );
      assert.deepEqual(cpu.bigCores, [4, 5, 6, 7]);
      assert.deepEqual(cpu.littleCores, [0, 1, 2, 3]);
      assert.equal(cpu.clusters[0]?.maxFrequencyKHz, 2_352_000);
      assert.equal(cpu.clusters[1]?.maxFrequencyKHz, 1_800_000);
      assert.ok(cpu.features.includes("asimddp"));
    });
  }

  it("opi5-no-npu also exposes cpu_capacity (405 little, 1024 big)", async () => {
    const cpu = await probeCpu(root("opi5-no-npu"), "arm64");
    assert.deepEqual(
      cpu.clusters.map((cluster) => cluster.capacity),
      [1024, 405],
    );
  });

  it("x86-64: 4 symmetric cores, model name and AVX2/FMA/F16C flags", async () => {
    const cpu = await probeCpu(root("x86-64-generic"), "x64");
    assert.equal(cpu.arch, "x64");
    assert.equal(cpu.cores, 4);
    assert.equal(cpu.modelName, "Intel(R) Core(TM) i5-7500 CPU @ 3.40GHz");
    assert.equal(cpu.bigLittle, false);
    assert.deepEqual(cpu.bigCores, [0, 1, 2, 3]);
    for (const flag of ["avx2", "fma", "f16c"]) assert.ok(cpu.features.includes(flag), flag);
    assert.ok(!cpu.features.includes("avx512f"));
    assert.equal(cpu.coreList[0]?.part, null);
  });
});

describe("probeMemory", () => {
  it("reads meminfo in bytes, and zram devices with their swap use", async () => {
    const rpi4 = await probeMemory(root("rpi4-4gb"));
    assert.equal(rpi4.totalBytes, 3_884_328 * 1024);
    assert.equal(rpi4.availableBytes, 3_402_116 * 1024);
    assert.equal(rpi4.swapTotalBytes, 102_396 * 1024);
    assert.deepEqual(rpi4.zram, []);
    const small = await probeMemory(root("rpi4-1gb"));
    assert.ok(small.totalBytes !== null && small.totalBytes < 1 * gib);
    assert.equal(small.swapFreeBytes, 98_300 * 1024);
    const opi5 = await probeMemory(root("opi5-npu"));
    assert.ok(opi5.totalBytes !== null && opi5.totalBytes > 7 * gib && opi5.totalBytes < 8 * gib);
    assert.deepEqual(opi5.zram, [
      { name: "zram0", diskSizeBytes: 3_995_332_608, usedAsSwap: true },
      { name: "zram1", diskSizeBytes: 52_428_800, usedAsSwap: false },
    ]);
    assert.deepEqual((await probeMemory(root("rpi5-8gb"))).zram, [
      { name: "zram0", diskSizeBytes: 2 * gib, usedAsSwap: true },
    ]);
    assert.equal((await probeMemory(root("x86-64-generic"))).availableBytes, 14_920_336 * 1024);
  });
});

describe("probeThermal", () => {
  it("Raspberry Pi 4: cpu-thermal in °C and no throttling", async () => {
    const thermal = await probeThermal(root("rpi4-4gb"));
    assert.deepEqual(thermal.zones, [{ zone: "thermal_zone0", type: "cpu-thermal", kind: "cpu", celsius: 48.686 }]);
    assert.equal(thermal.cpuCelsius, 48.686);
    assert.equal(thermal.raspberryPiThrottling?.raw, 0);
    assert.equal(describeThrottling(thermal.raspberryPiThrottling!), "none");
  });

  it("Raspberry Pi 4 1 GB: get_throttled 50005 = under-voltage and throttled, now and since boot", async () => {
    const throttling = (await probeThermal(root("rpi4-1gb"))).raspberryPiThrottling;
    assert.deepEqual(throttling, {
      raw: 0x50005,
      now: { underVoltage: true, frequencyCapped: false, throttled: true, softTemperatureLimit: false },
      sinceBoot: { underVoltage: true, frequencyCapped: false, throttled: true, softTemperatureLimit: false },
    });
    assert.equal(describeThrottling(throttling!), "under-voltage now, throttled now");
  });

  it("decodes since-boot-only and capped bits", () => {
    const decoded = decodeRaspberryPiThrottled("0xa0002\n");
    assert.deepEqual(decoded?.now, {
      underVoltage: false,
      frequencyCapped: true,
      throttled: false,
      softTemperatureLimit: false,
    });
    assert.deepEqual(decoded?.sinceBoot, {
      underVoltage: false,
      frequencyCapped: true,
      throttled: false,
      softTemperatureLimit: true,
    });
    assert.equal(decodeRaspberryPiThrottled("garbage"), null);
  });

  it("RK3588 vendor and mainline zone names, classified; the hottest CPU zone", async () => {
    const vendor = await probeThermal(root("opi5-npu"));
    assert.deepEqual(
      vendor.zones.map((zone) => [zone.type, zone.kind]),
      [
        ["soc-thermal", "soc"],
        ["bigcore0-thermal", "cpu"],
        ["bigcore1-thermal", "cpu"],
        ["littlecore-thermal", "cpu"],
        ["center-thermal", "soc"],
        ["gpu-thermal", "gpu"],
        ["npu-thermal", "npu"],
      ],
    );
    assert.equal(vendor.cpuCelsius, 46.23);
    assert.equal(vendor.raspberryPiThrottling, null);
    const mainline = await probeThermal(root("opi5-no-npu"));
    assert.equal(mainline.zones[0]?.type, "package-thermal");
    assert.equal(mainline.zones[0]?.kind, "soc");
    assert.equal(mainline.cpuCelsius, 42.538);
    const x86 = await probeThermal(root("x86-64-generic"));
    assert.deepEqual(
      x86.zones.map((zone) => zone.kind),
      ["other", "cpu"],
    );
    assert.equal(x86.cpuCelsius, 41);
  });
});

describe("probeNpu", () => {
  it("opi5-npu: RKNPU driver v0.9.8 and /usr/lib/librkllmrt.so", async () => {
    const npu = await probeNpu(root("opi5-npu"));
    assert.equal(npu.present, true);
    assert.equal(npu.driverVersion, "0.9.8");
    assert.equal(npu.runtimeLibrary, "/usr/lib/librkllmrt.so");
    assert.deepEqual(npu.evidence, [
      "/dev/rknpu",
      "/sys/kernel/debug/rknpu/version",
      "device-tree npu@fdab0000 (rockchip,rk3588-rknpu)",
    ]);
    assert.deepEqual(npu.reasons, []);
  });

  it("extra library paths are searched first (a directory or the library itself)", async () => {
    const opi5 = root("opi5-npu");
    assert.equal(
      (await probeNpu(opi5, { extraLibraryPaths: ["/usr/lib/librkllmrt.so"] })).runtimeLibrary,
      "/usr/lib/librkllmrt.so",
    );
    const missing = await probeNpu(opi5, { extraLibraryPaths: ["/opt/rkllm/lib"] });
    assert.equal(missing.runtimeLibrary, "/usr/lib/librkllmrt.so");
    const none = await probeNpu(root("opi5-no-npu"), { extraLibraryPaths: ["/opt/rkllm/lib"] });
    assert.match(none.reasons.join("\n"), /librkllmrt\.so not found in \/usr\/lib, .*\/opt\/rkllm\/lib/);
  });

  it("opi5-no-npu: mainline's rocket node is noted, no NPU", async () => {
    const npu = await probeNpu(root("opi5-no-npu"));
    assert.deepEqual([npu.present, npu.driverVersion, npu.runtimeLibrary], [false, null, null]);
    assert.match(npu.reasons.join("\n"), /rocket NPU driver \(rockchip,rk3588-rknn-core\)/);
  });

  for (const name of ["rpi4-4gb", "rpi4-1gb", "rpi5-8gb", "x86-64-generic"] as const)
    it(`${name}: no NPU, with the reason`, async () => {
      const npu = await probeNpu(root(name));
      assert.equal(npu.present, false);
      assert.match(npu.reasons[0] ?? "", /no Rockchip NPU/);
    });
});

describe("classifyVulkanDeviceName", () => {
  it("types devices by the names drivers report", () => {
    const cases: Array<[string, string]> = [
      ["llvmpipe (LLVM 15.0.6, 256 bits)", "cpu"],
      ["lavapipe", "cpu"],
      ["SwiftShader Device (Subzero)", "cpu"],
      ["Mali-G610 (panvk)", "integrated"],
      ["V3D 7.1.7.0", "integrated"],
      ["V3D 4.2.14.0", "integrated"],
      ["Adreno (TM) 740", "integrated"],
      ["Intel(R) UHD Graphics 630 (CFL GT2)", "integrated"],
      ["AMD Radeon Graphics (RADV RENOIR)", "integrated"],
      ["NVIDIA H100 80GB HBM3", "discrete"],
      ["NVIDIA GeForce RTX 4090", "discrete"],
      ["AMD Radeon RX 7900 XTX (RADV NAVI31)", "discrete"],
      ["Intel(R) Arc(tm) A770 Graphics (DG2)", "discrete"],
      ["Virtio-GPU Venus (NVIDIA GeForce RTX 3080)", "virtual"],
      ["Something Else", "other"],
    ];
    for (const [name, type] of cases) assert.equal(classifyVulkanDeviceName(name), type, name);
  });
});

describe("probeHardware", () => {
  const empty = mkdtemp(join(tmpdir(), "tinyllamad-empty-root-"));
  after(async () => rm(await empty, { recursive: true, force: true }));

  it("on an empty root: nothing throws, everything unknown says why", async () => {
    const report = await probeHardware(await empty, { arch: "arm64" });
    assert.equal(report.board.id, "generic-arm64");
    assert.equal(report.cpu.cores, null);
    assert.match(report.cpu.reasons.join("\n"), /\/proc\/cpuinfo: missing/);
    assert.equal(report.memory.totalBytes, null);
    assert.match(report.memory.reasons.join("\n"), /\/proc\/meminfo: missing/);
    assert.deepEqual(report.thermal.zones, []);
    assert.equal(report.npu.present, false);
    assert.deepEqual(report.vulkan, { available: false, devices: [], reason: "Vulkan not probed" });
  });

  it("on this machine's real /: the architecture, at least one core, some memory", async () => {
    const report = await probeHardware();
    assert.equal(report.root, "/");
    assert.equal(report.cpu.arch, process.arch);
    assert.ok(report.cpu.cores !== null && report.cpu.cores >= 1, `cores ${report.cpu.cores}`);
    assert.ok(report.cpu.bigCores.length >= 1);
    assert.ok(report.memory.totalBytes !== null && report.memory.totalBytes > 0);
    assert.ok(report.memory.availableBytes !== null && report.memory.availableBytes <= report.memory.totalBytes);
  });
});
