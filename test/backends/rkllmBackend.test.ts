/**
 * The NPU backend (RKLLM runtime 1.2.0 through koffi) against a C test double of librkllmrt.so,
 * compiled here with `cc`: the shared Backend contract, then the struct layout, the runtime's error
 * paths, version refusal, prompt formatting, UTF-8 safety and a free event loop.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import koffi from "koffi";
import type { BackendLoadOptions } from "../../hal/backends/Backend.js";
import { RkllmBackend } from "../../hal/backends/rkllm/RkllmBackend.js";
import { rkllmTypes } from "../../hal/backends/rkllm/rkllmRuntime.js";
import { fakeRkllmHooks, fakeRkllmLibraryPath, fakeRkllmModelPath } from "../support/fakeRkllmRuntime.js";
import { collect, describeBackendContract, jobFor } from "./backendContract.js";

const libraryPath = fakeRkllmLibraryPath();
const loadOptions: BackendLoadOptions = {
  modelPath: fakeRkllmModelPath(),
  contextSize: 512,
  parallelSequences: 1,
  threads: 4,
};

describeBackendContract({
  name: "rkllm npu (fake librkllmrt.so)",
  createBackend: () => new RkllmBackend({ libraryPath }),
  loadOptions,
  seededSampling: false,
});

describe("rkllm npu backend", () => {
  const hooks = fakeRkllmHooks(libraryPath);

  it("lays out every struct field where the C compiler puts it", () => {
    const types = rkllmTypes();
    const structs = [
      "RKLLMExtendParam",
      "RKLLMParam",
      "RKLLMLoraAdapter",
      "RKLLMEmbedInput",
      "RKLLMTokenInput",
      "RKLLMMultiModelInput",
      "RKLLMInput",
      "RKLLMLoraParam",
      "RKLLMPromptCacheParam",
      "RKLLMInferParam",
      "RKLLMResultLastHiddenLayer",
      "RKLLMResultLogits",
      "RKLLMResult",
    ] as const;
    let checked = 0;
    for (const name of structs) {
      const type = types[name];
      assert.equal(koffi.sizeof(type), hooks.layout(name), `sizeof(${name})`);
      for (const member of Object.keys(type.members ?? {})) {
        if (name === "RKLLMInput" && member === "input_data") continue;
        assert.equal(koffi.offsetof(type, member), hooks.layout(name, member), `offsetof(${name}, ${member})`);
        checked += 1;
      }
    }
    // RKLLMInput's anonymous union: every member of it starts where koffi's `input_data` does.
    const unionOffset = koffi.offsetof(types.RKLLMInput, "input_data");
    for (const member of Object.keys(types.RKLLMInputUnion.members ?? {})) {
      assert.equal(hooks.layout("RKLLMInput", member), unionOffset, `offsetof(RKLLMInput, ${member})`);
      checked += 1;
    }
    assert.ok(checked >= 45, `checked ${checked} fields`);
  });

  describe("with a model loaded", () => {
    const backend = new RkllmBackend({ libraryPath });
    before(() => backend.load(loadOptions));
    after(() => backend.unload());

    it("initialises the runtime with the load options and switches the model's own template off", () => {
      assert.equal(hooks.param("max_context_len"), 512);
      assert.equal(hooks.param("max_new_tokens"), 512);
      assert.equal(hooks.param("top_k"), 1, "greedy by default");
      assert.equal(hooks.param("is_async"), 0);
      assert.equal(hooks.param("enabled_cpus_num"), 4);
      assert.equal(hooks.param("enabled_cpus_mask"), 0xf0, "the RK3588's big cores");
      assert.equal(hooks.param("chat_template_calls"), 1);
    });

    it("formats chat messages with TinyLlama-Chat's template and sends raw prompts as they are", async () => {
      const messages = [
        { role: "system" as const, content: "You are a blacksmith." },
        { role: "user" as const, content: "Hello!" },
      ];
      const chat = await collect(backend, jobFor("", { input: { kind: "chat", messages }, maxTokens: 4 }));
      assert.equal(hooks.lastPrompt(), "<|system|>\nYou are a blacksmith.</s>\n<|user|>\nHello!</s>\n<|assistant|>\n");
      assert.equal(chat.result.completionTokens, 4);
      await collect(backend, jobFor("Q: Any rooms?\nA:", { maxTokens: 2 }));
      assert.equal(hooks.lastPrompt(), "Q: Any rooms?\nA:");
    });

    it("never splits a UTF-8 character, even when the runtime does", async () => {
      const { result, pieces } = await collect(backend, jobFor("A menu in many languages:", { maxTokens: 200 }));
      assert.match(result.text, /[^\p{ASCII}]/u, "the stream contains multi-byte characters");
      for (const piece of pieces) assert.ok(!piece.includes("\uFFFD"), `piece ${JSON.stringify(piece)}`);
      assert.equal(pieces.join(""), result.text);
    });

    it("ends with 'stop' when the runtime finishes by itself", async () => {
      const { result } = await collect(backend, jobFor("Say four words EOS_AT_4", { maxTokens: 50 }));
      assert.equal(result.finishReason, "stop");
      assert.equal(result.completionTokens, 4);
    });

    it("rejects when the runtime reports an error mid-stream, and serves the next request", async () => {
      const pieces: string[] = [];
      await assert.rejects(
        backend.generate(
          jobFor("Tell a story FAIL_AT_5", { maxTokens: 50 }),
          { onText: (text) => pieces.push(text) },
          new AbortController().signal,
        ),
        (error: Error & { code?: string }) => {
          assert.equal(error.code, "E_NPU_RUN_FAILED");
          assert.match(error.message, /RKLLM_RUN_ERROR/);
          return true;
        },
      );
      assert.ok(pieces.length > 0 && pieces.length <= 5, `${pieces.length} pieces before the error`);
      const next = await collect(backend, jobFor("Tell a story", { maxTokens: 3 }));
      assert.equal(next.result.completionTokens, 3);
    });

    it("refuses json_schema with E_BAD_SCHEMA", async () => {
      await assert.rejects(collect(backend, jobFor("x", { jsonSchema: { type: "object" } })), {
        code: "E_BAD_SCHEMA",
        message: /not supported on the NPU backend/,
      });
    });

    it("keeps the event loop free while the runtime generates", async () => {
      let ticks = 0;
      const timer = setInterval(() => {
        ticks += 1;
      }, 5);
      try {
        const started = Date.now();
        const { result } = await collect(backend, jobFor("A long walk", { maxTokens: 200 }));
        assert.equal(result.completionTokens, 200);
        const elapsed = Date.now() - started;
        assert.ok(ticks >= 5, `${ticks} timer ticks in ${elapsed} ms`);
      } finally {
        clearInterval(timer);
      }
    });
  });

  it("runs one generation at a time: parallelSequences is clamped to 1, concurrent requests wait their turn", async () => {
    const backend = new RkllmBackend({ libraryPath });
    await backend.load({ ...loadOptions, parallelSequences: 3 });
    try {
      assert.equal(backend.info().parallelSequences, 1);
      assert.ok(backend.limitations.some((line) => /clamped to 1/.test(line)));
      const prompts = ["first", "second", "third"];
      const alone = [];
      for (const p of prompts) alone.push((await collect(backend, jobFor(p, { maxTokens: 6 }))).result.text);
      const together = await Promise.all(prompts.map((p) => collect(backend, jobFor(p, { maxTokens: 6 }))));
      assert.deepEqual(
        together.map((t) => t.result.text),
        alone,
      );
    } finally {
      await backend.unload();
    }
  });

  it("ends a running generation with 'cancelled' when unloaded", async () => {
    const backend = new RkllmBackend({ libraryPath });
    await backend.load(loadOptions);
    let pieces = 0;
    let unloading: Promise<void> | undefined;
    const result = await backend.generate(
      jobFor("Keep going", { maxTokens: 500 }),
      {
        onText: () => {
          pieces += 1;
          if (pieces === 2) unloading = backend.unload();
        },
      },
      new AbortController().signal,
    );
    await unloading;
    assert.equal(result.finishReason, "cancelled");
    assert.ok(result.completionTokens < 500);
    await assert.rejects(collect(backend, jobFor("again")), { code: "E_NOT_READY" });
  });

  it("rejects load with a clear message when rkllm_init fails", async () => {
    const backend = new RkllmBackend({ libraryPath });
    const modelPath = "/nonexistent/tinyllama.rkllm";
    await assert.rejects(backend.load({ ...loadOptions, modelPath }), (error: Error & { code?: string }) => {
      assert.equal(error.code, "E_NPU_INIT_FAILED");
      assert.match(error.message, /rkllm_init returned -1/);
      assert.ok(error.message.includes(modelPath));
      return true;
    });
    await assert.rejects(collect(backend, jobFor("x")), { code: "E_NOT_READY" });
  });

  it("rejects load with E_NPU_RUNTIME_MISSING when the library cannot be loaded", async () => {
    const backend = new RkllmBackend({ libraryPath: "/nonexistent/librkllmrt.so" });
    await assert.rejects(backend.load(loadOptions), (error: Error & { code?: string }) => {
      assert.equal(error.code, "E_NPU_RUNTIME_MISSING");
      assert.match(error.message, /\/nonexistent\/librkllmrt\.so/);
      assert.match(error.message, /docs\/npu\.md/);
      return true;
    });
  });

  it("refuses a runtime of another API version with E_NPU_RUNTIME_VERSION, before calling it", async () => {
    const cases = [
      { variant: { version: "1.2.1" }, why: /reports version 1\.2\.1/ },
      { variant: { omitChatTemplate: true }, why: /does not export rkllm_set_chat_template/ },
      { variant: { withFunctionTools: true }, why: /exports rkllm_set_function_tools: it is a newer runtime/ },
    ];
    for (const { variant, why } of cases) {
      const backend = new RkllmBackend({ libraryPath: fakeRkllmLibraryPath(variant) });
      await assert.rejects(backend.load(loadOptions), (error: Error & { code?: string }) => {
        assert.equal(error.code, "E_NPU_RUNTIME_VERSION", JSON.stringify(variant));
        assert.match(error.message, why);
        assert.match(error.message, /1\.2\.0/);
        return true;
      });
    }
  });
});
