/**
 * The one FFI boundary to Rockchip's RKLLM runtime (librkllmrt.so), through koffi. Nothing else in
 * tinyllamad touches the runtime's ABI.
 *
 * Targets RKLLM runtime API **1.2.0**: every type and function below is laid out from the facts of the
 * public header `rkllm-runtime/Linux/librkllm_api/include/rkllm.h` of airockchip/rknn-llm at release
 * 1.2.0 (the version with `n_keep`, `keep_history`, `rkllm_clear_kv_cache(handle, int)` and
 * `rkllm_set_chat_template`, a void callback, no perf stats and no `role`/`enable_thinking` in
 * RKLLMInput). The layout is checked field by field against a C compiler by the struct-layout test.
 *
 * Version check: the 1.2.0 API has no function that reports the runtime's version (the runtime only
 * prints `rkllm-runtime version: …` on stdout during rkllm_init). So compatibility is decided, before
 * any call, by what can be observed without calling:
 *  1. the symbols: every 1.2.0 function must be exported (1.1.x lacks rkllm_clear_kv_cache and
 *     rkllm_set_chat_template), and none of the later ones tinyllamad knows of may be
 *     (rkllm_set_function_tools, rkllm_get_kv_cache_size, rkllm_set_cross_attn_params: 1.2.1+ whose
 *     RKLLMInput, callback and result layouts differ);
 *  2. the version banner, when the library file holds it as one string (`rkllm-runtime version: X`):
 *     X must be 1.2.0.
 * A runtime that passes 1 but carries no readable banner is accepted (evidence "symbols"); a later
 * release that changed layouts without adding any of those symbols would not be detected — the banner
 * the runtime prints at init is then the thing to read (docs/npu.md).
 *
 * The library is loaded only when openRkllmRuntime() is called: a machine without it never touches it.
 * Calls that can take long (init, run, destroy) and abort go through koffi's async calls on worker
 * threads, so the event loop never blocks; the result callback is a registered koffi callback, which
 * koffi runs on the JS thread even when the runtime calls it from its own thread (the calling native
 * thread waits until the JS function returns, so the result's memory stays valid while we read it).
 */
import { readFile } from "node:fs/promises";
import { basename } from "node:path";
import koffi, { type LibraryHandle, type TypeObject } from "koffi";
import { RkllmRuntimeError } from "./RkllmRuntimeError.js";

/** The RKLLM runtime API version this binding is written for. */
export const rkllmApiVersion = "1.2.0";
/** dlopen() name used when no path is configured (found through the loader's search path, e.g. /usr/lib). */
export const defaultRkllmLibrary = "librkllmrt.so";

/** LLMCallState. */
export const LLMCallState = {
  RKLLM_RUN_NORMAL: 0,
  RKLLM_RUN_WAITING: 1,
  RKLLM_RUN_FINISH: 2,
  RKLLM_RUN_ERROR: 3,
} as const;
export type LLMCallStateValue = (typeof LLMCallState)[keyof typeof LLMCallState];

/** RKLLMInputType. */
export const RKLLMInputType = {
  RKLLM_INPUT_PROMPT: 0,
  RKLLM_INPUT_TOKEN: 1,
  RKLLM_INPUT_EMBED: 2,
  RKLLM_INPUT_MULTIMODAL: 3,
} as const;

/** RKLLMInferMode. */
export const RKLLMInferMode = {
  RKLLM_INFER_GENERATE: 0,
  RKLLM_INFER_GET_LAST_HIDDEN_LAYER: 1,
  RKLLM_INFER_GET_LOGITS: 2,
} as const;

/** RKLLMExtendParam, as koffi decodes and encodes it. */
export interface RkllmExtendParam {
  base_domain_id: number;
  embed_flash: number;
  enabled_cpus_num: number;
  enabled_cpus_mask: number;
  reserved: ArrayLike<number>;
}

/** RKLLMParam, as koffi decodes and encodes it (the field names are the header's). */
export interface RkllmParam {
  model_path: string | null;
  max_context_len: number;
  max_new_tokens: number;
  top_k: number;
  n_keep: number;
  top_p: number;
  temperature: number;
  repeat_penalty: number;
  frequency_penalty: number;
  presence_penalty: number;
  mirostat: number;
  mirostat_tau: number;
  mirostat_eta: number;
  skip_special_token: boolean;
  is_async: boolean;
  img_start: string | null;
  img_end: string | null;
  img_content: string | null;
  extend_param: RkllmExtendParam;
}

/** One call of the runtime's result callback, decoded. */
export interface RkllmCallbackEvent {
  state: LLMCallStateValue;
  /** The raw bytes of RKLLMResult.text (null when the runtime gave none); may end inside a UTF-8 character. */
  text: Uint8Array | null;
  tokenId: number;
}

/** An initialised model (an LLMHandle). */
export interface RkllmModel {
  /** rkllm_set_chat_template. Resolves with the status code (0 = success). */
  setChatTemplate(systemPrompt: string, promptPrefix: string, promptPostfix: string): Promise<number>;
  /** rkllm_run with a text prompt (RKLLM_INPUT_PROMPT, RKLLM_INFER_GENERATE). Resolves with the status code when the run has ended. */
  run(prompt: string, options: { keepHistory: boolean }): Promise<number>;
  /** rkllm_abort, on a worker thread (it may wait for the run, which may wait for the JS thread). */
  abort(): Promise<number>;
  /** rkllm_is_running (the header: 0 while a task is running). */
  isRunning(): boolean;
  /** rkllm_destroy, then releases the callback. Idempotent. */
  destroy(): Promise<void>;
}

export interface RkllmRuntime {
  /** The path given, and the file the loader actually mapped (when it could be found). */
  readonly libraryPath: string;
  readonly resolvedPath: string | undefined;
  /** How compatibility was established: the banner's version, or "symbols" when the file holds no readable banner. */
  readonly versionEvidence: string;
  createDefaultParam(): RkllmParam;
  /** rkllm_init. Rejects with E_NPU_INIT_FAILED when the runtime returns non-zero. */
  init(param: RkllmParam, onEvent: (event: RkllmCallbackEvent) => void): Promise<RkllmModel>;
}

/** Every function of the 1.2.0 header: all must be exported. */
export const rkllmRequiredSymbols = [
  "rkllm_createDefaultParam",
  "rkllm_init",
  "rkllm_load_lora",
  "rkllm_load_prompt_cache",
  "rkllm_release_prompt_cache",
  "rkllm_destroy",
  "rkllm_run",
  "rkllm_run_async",
  "rkllm_abort",
  "rkllm_is_running",
  "rkllm_clear_kv_cache",
  "rkllm_set_chat_template",
] as const;

/** Functions of later runtimes (1.2.1+, whose structs and callback differ): none may be exported. */
export const rkllmLaterSymbols = [
  "rkllm_set_function_tools",
  "rkllm_get_kv_cache_size",
  "rkllm_set_cross_attn_params",
] as const;

export interface RkllmTypes {
  LLMCallState: TypeObject;
  RKLLMInputType: TypeObject;
  RKLLMInferMode: TypeObject;
  RKLLMExtendParam: TypeObject;
  RKLLMParam: TypeObject;
  RKLLMLoraAdapter: TypeObject;
  RKLLMEmbedInput: TypeObject;
  RKLLMTokenInput: TypeObject;
  RKLLMMultiModelInput: TypeObject;
  /** The anonymous union inside RKLLMInput (koffi needs a member name for it: `input_data`). */
  RKLLMInputUnion: TypeObject;
  RKLLMInput: TypeObject;
  RKLLMLoraParam: TypeObject;
  RKLLMPromptCacheParam: TypeObject;
  RKLLMInferParam: TypeObject;
  RKLLMResultLastHiddenLayer: TypeObject;
  RKLLMResultLogits: TypeObject;
  RKLLMResult: TypeObject;
  LLMResultCallback: TypeObject;
}

let types: RkllmTypes | undefined;

/** The koffi types of the 1.2.0 header, defined once per process (koffi type names are global). */
export function rkllmTypes(): RkllmTypes {
  if (types !== undefined) return types;
  const callState = koffi.enumeration("LLMCallState", { ...LLMCallState }, "int");
  const inputType = koffi.enumeration("RKLLMInputType", { ...RKLLMInputType }, "int");
  const inferMode = koffi.enumeration("RKLLMInferMode", { ...RKLLMInferMode }, "int");
  const extendParam = koffi.struct("RKLLMExtendParam", {
    base_domain_id: "int32_t",
    embed_flash: "int8_t",
    enabled_cpus_num: "int8_t",
    enabled_cpus_mask: "uint32_t",
    reserved: koffi.array("uint8_t", 106),
  });
  const param = koffi.struct("RKLLMParam", {
    model_path: "const char *",
    max_context_len: "int32_t",
    max_new_tokens: "int32_t",
    top_k: "int32_t",
    n_keep: "int32_t",
    top_p: "float",
    temperature: "float",
    repeat_penalty: "float",
    frequency_penalty: "float",
    presence_penalty: "float",
    mirostat: "int32_t",
    mirostat_tau: "float",
    mirostat_eta: "float",
    skip_special_token: "bool",
    is_async: "bool",
    img_start: "const char *",
    img_end: "const char *",
    img_content: "const char *",
    extend_param: extendParam,
  });
  const loraAdapter = koffi.struct("RKLLMLoraAdapter", {
    lora_adapter_path: "const char *",
    lora_adapter_name: "const char *",
    scale: "float",
  });
  const embedInput = koffi.struct("RKLLMEmbedInput", { embed: "float *", n_tokens: "size_t" });
  const tokenInput = koffi.struct("RKLLMTokenInput", { input_ids: "int32_t *", n_tokens: "size_t" });
  const multiModelInput = koffi.struct("RKLLMMultiModelInput", {
    prompt: "char *",
    image_embed: "float *",
    n_image_tokens: "size_t",
  });
  const inputUnion = koffi.union("RKLLMInputUnion", {
    prompt_input: "const char *",
    embed_input: embedInput,
    token_input: tokenInput,
    multimodal_input: multiModelInput,
  });
  const input = koffi.struct("RKLLMInput", { input_type: inputType, input_data: inputUnion });
  const loraParam = koffi.struct("RKLLMLoraParam", { lora_adapter_name: "const char *" });
  const promptCacheParam = koffi.struct("RKLLMPromptCacheParam", {
    save_prompt_cache: "int",
    prompt_cache_path: "const char *",
  });
  const inferParam = koffi.struct("RKLLMInferParam", {
    mode: inferMode,
    lora_params: koffi.pointer(loraParam),
    prompt_cache_params: koffi.pointer(promptCacheParam),
    keep_history: "int",
  });
  const lastHiddenLayer = koffi.struct("RKLLMResultLastHiddenLayer", {
    hidden_states: "const float *",
    embd_size: "int",
    num_tokens: "int",
  });
  const logits = koffi.struct("RKLLMResultLogits", {
    logits: "const float *",
    vocab_size: "int",
    num_tokens: "int",
  });
  const result = koffi.struct("RKLLMResult", {
    text: "const char *",
    token_id: "int32_t",
    last_hidden_layer: lastHiddenLayer,
    logits,
  });
  const callback = koffi.proto("LLMResultCallback", "void", [koffi.pointer(result), "void *", callState]);
  types = {
    LLMCallState: callState,
    RKLLMInputType: inputType,
    RKLLMInferMode: inferMode,
    RKLLMExtendParam: extendParam,
    RKLLMParam: param,
    RKLLMLoraAdapter: loraAdapter,
    RKLLMEmbedInput: embedInput,
    RKLLMTokenInput: tokenInput,
    RKLLMMultiModelInput: multiModelInput,
    RKLLMInputUnion: inputUnion,
    RKLLMInput: input,
    RKLLMLoraParam: loraParam,
    RKLLMPromptCacheParam: promptCacheParam,
    RKLLMInferParam: inferParam,
    RKLLMResultLastHiddenLayer: lastHiddenLayer,
    RKLLMResultLogits: logits,
    RKLLMResult: result,
    LLMResultCallback: callback,
  };
  return types;
}

type AsyncFunction = ReturnType<LibraryHandle["func"]>;

interface Functions {
  createDefaultParam: AsyncFunction;
  init: AsyncFunction;
  destroy: AsyncFunction;
  run: AsyncFunction;
  abort: AsyncFunction;
  isRunning: AsyncFunction;
  setChatTemplate: AsyncFunction;
}

/**
 * Loads librkllmrt.so (a path, or a name for the loader to find) and checks that it is the 1.2.0 API.
 * Rejects with RkllmRuntimeError E_NPU_RUNTIME_MISSING or E_NPU_RUNTIME_VERSION; never crashes.
 */
export async function openRkllmRuntime(libraryPath: string = defaultRkllmLibrary): Promise<RkllmRuntime> {
  let library: LibraryHandle;
  try {
    library = koffi.load(libraryPath);
  } catch (error) {
    throw new RkllmRuntimeError(
      "E_NPU_RUNTIME_MISSING",
      `cannot load the RKLLM runtime '${libraryPath}': ${(error as Error).message}. Install librkllmrt.so ` +
        `(RKLLM runtime ${rkllmApiVersion}, aarch64) in /usr/lib or set its path; see docs/npu.md`,
    );
  }
  try {
    const resolvedPath = await mappedLibraryPath(libraryPath);
    const versionEvidence = await checkVersion(library, libraryPath, resolvedPath);
    const t = rkllmTypes();
    const functions: Functions = {
      createDefaultParam: library.func("rkllm_createDefaultParam", t.RKLLMParam, []),
      init: library.func("rkllm_init", "int", [
        koffi.out(koffi.pointer("void *")),
        koffi.pointer(t.RKLLMParam),
        koffi.pointer(t.LLMResultCallback),
      ]),
      destroy: library.func("rkllm_destroy", "int", ["void *"]),
      run: library.func("rkllm_run", "int", [
        "void *",
        koffi.pointer(t.RKLLMInput),
        koffi.pointer(t.RKLLMInferParam),
        "void *",
      ]),
      abort: library.func("rkllm_abort", "int", ["void *"]),
      isRunning: library.func("rkllm_is_running", "int", ["void *"]),
      setChatTemplate: library.func("rkllm_set_chat_template", "int", [
        "void *",
        "const char *",
        "const char *",
        "const char *",
      ]),
    };
    return {
      libraryPath,
      resolvedPath,
      versionEvidence,
      createDefaultParam: () => functions.createDefaultParam() as RkllmParam,
      init: (param, onEvent) => initModel(functions, param, onEvent),
    };
  } catch (error) {
    library.unload();
    throw error;
  }
}

async function checkVersion(library: LibraryHandle, libraryPath: string, resolvedPath: string | undefined) {
  const refuse = (why: string) =>
    new RkllmRuntimeError(
      "E_NPU_RUNTIME_VERSION",
      `the RKLLM runtime '${resolvedPath ?? libraryPath}' ${why}; tinyllamad's binding is written for RKLLM ` +
        `runtime ${rkllmApiVersion} (install that librkllmrt.so; see docs/npu.md)`,
    );
  const missing = rkllmRequiredSymbols.filter((name) => !exportsSymbol(library, name));
  if (missing.length > 0)
    throw refuse(`does not export ${missing.join(", ")}: it is not an RKLLM ${rkllmApiVersion} runtime (older?)`);
  const later = rkllmLaterSymbols.filter((name) => exportsSymbol(library, name));
  if (later.length > 0)
    throw refuse(`exports ${later.join(", ")}: it is a newer runtime, whose structs and callback differ`);
  const banner = resolvedPath === undefined ? undefined : await readVersionBanner(resolvedPath);
  if (banner !== undefined && banner !== rkllmApiVersion) throw refuse(`reports version ${banner}`);
  return banner ?? "symbols";
}

function exportsSymbol(library: LibraryHandle, name: string): boolean {
  try {
    // Declaring a function only resolves its address: nothing is called.
    library.func(name, "void", []);
    return true;
  } catch {
    return false;
  }
}

/** The version in the library's `rkllm-runtime version: X` string, if it holds one. */
async function readVersionBanner(path: string): Promise<string | undefined> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch {
    return undefined;
  }
  const text = bytes.toString("latin1");
  const pattern = /rkllm-runtime version:? ?v?(\d+\.\d+\.\d+[0-9a-z]*)/g;
  const found = new Set<string>();
  for (const match of text.matchAll(pattern)) if (match[1] !== undefined) found.add(match[1]);
  if (found.size === 0) return undefined;
  // Several different versions in one file cannot be trusted: report the first that is not ours.
  return [...found].find((version) => version !== rkllmApiVersion) ?? rkllmApiVersion;
}

/** The file the dynamic loader mapped for this library (Linux: /proc/self/maps), or the path itself. */
async function mappedLibraryPath(libraryPath: string): Promise<string | undefined> {
  if (libraryPath.includes("/")) return libraryPath;
  try {
    const maps = await readFile("/proc/self/maps", "utf8");
    for (const line of maps.split("\n")) {
      const path = line.slice(line.indexOf("/"));
      if (line.includes("/") && basename(path) === libraryPath) return path;
    }
  } catch {
    // Not Linux: the banner check is skipped.
  }
  return undefined;
}

function callAsync(fn: AsyncFunction, ...args: unknown[]): Promise<number> {
  return new Promise((resolve, reject) => {
    fn.async(...args, (error: unknown, result: number) => (error ? reject(error) : resolve(result)));
  });
}

async function initModel(
  functions: Functions,
  param: RkllmParam,
  onEvent: (event: RkllmCallbackEvent) => void,
): Promise<RkllmModel> {
  const t = rkllmTypes();
  const textOffset = koffi.offsetof(t.RKLLMResult, "text");
  const tokenOffset = koffi.offsetof(t.RKLLMResult, "token_id");
  const callback = koffi.register((result: bigint | null, _userdata: unknown, state: number) => {
    try {
      const textPointer = result === null ? null : (koffi.decode(result, textOffset, "void *") as bigint | null);
      const tokenId = result === null ? -1 : (koffi.decode(result, tokenOffset, "int32_t") as number);
      onEvent({ state: state as LLMCallStateValue, text: readCString(textPointer), tokenId });
    } catch {
      // An exception must never unwind into the runtime's thread; the listener handles its own errors.
    }
  }, koffi.pointer(t.LLMResultCallback));
  const handleOut: [unknown] = [null];
  let status: number;
  try {
    status = await callAsync(functions.init, handleOut, param, callback);
  } catch (error) {
    koffi.unregister(callback);
    throw new RkllmRuntimeError("E_NPU_INIT_FAILED", `rkllm_init failed: ${(error as Error).message}`);
  }
  const handle = handleOut[0];
  if (status !== 0 || handle === null || handle === undefined || handle === 0n) {
    koffi.unregister(callback);
    throw new RkllmRuntimeError(
      "E_NPU_INIT_FAILED",
      `rkllm_init returned ${status} for model '${param.model_path}': the file is missing or unreadable, not an ` +
        `.rkllm model for this platform, or converted for another runtime than ${rkllmApiVersion} ` +
        "(the runtime's own log lines above say which)",
    );
  }
  let destroyed = false;
  return {
    setChatTemplate: (systemPrompt, promptPrefix, promptPostfix) =>
      callAsync(functions.setChatTemplate, handle, systemPrompt, promptPrefix, promptPostfix),
    run: (prompt, options) =>
      callAsync(
        functions.run,
        handle,
        { input_type: RKLLMInputType.RKLLM_INPUT_PROMPT, input_data: { prompt_input: prompt } },
        {
          mode: RKLLMInferMode.RKLLM_INFER_GENERATE,
          lora_params: null,
          prompt_cache_params: null,
          keep_history: options.keepHistory ? 1 : 0,
        },
        null,
      ),
    abort: () => callAsync(functions.abort, handle),
    isRunning: () => functions.isRunning(handle) === 0,
    destroy: async () => {
      if (destroyed) return;
      destroyed = true;
      try {
        await callAsync(functions.destroy, handle);
      } finally {
        koffi.unregister(callback);
      }
    },
  };
}

/** Maximum bytes read from one RKLLMResult.text (a token's text is a few bytes). */
const maxTextBytes = 64 * 1024;

function readCString(pointer: bigint | null): Uint8Array | null {
  if (pointer === null || pointer === 0n) return null;
  let length = 0;
  while (length < maxTextBytes && (koffi.decode(pointer, length, "uint8_t") as number) !== 0) length += 1;
  if (length === 0) return new Uint8Array(0);
  return new Uint8Array(koffi.decode(pointer, "uint8_t", length) as ArrayLike<number>);
}
