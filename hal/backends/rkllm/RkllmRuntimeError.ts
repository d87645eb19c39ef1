/**
 * The error the RKLLM runtime boundary and the NPU backend throw when the runtime cannot be used:
 * a stable code says why, the message says what to do.
 */
export type RkllmRuntimeErrorCode =
  /** librkllmrt.so could not be loaded (missing, wrong architecture, missing libomp.so …). */
  | "E_NPU_RUNTIME_MISSING"
  /** The installed runtime is not the API version tinyllamad's binding was written for. */
  | "E_NPU_RUNTIME_VERSION"
  /** rkllm_init refused the model (missing file, wrong platform, model converted for another runtime). */
  | "E_NPU_INIT_FAILED"
  /** rkllm_run refused to start or reported an error while generating. */
  | "E_NPU_RUN_FAILED";

export class RkllmRuntimeError extends Error {
  override readonly name = "RkllmRuntimeError";
  constructor(
    readonly code: RkllmRuntimeErrorCode,
    message: string,
  ) {
    super(message);
  }
}
