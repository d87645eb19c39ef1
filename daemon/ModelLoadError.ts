/**
 * The model file could not be loaded at start-up (corrupt, truncated, not GGUF, or refused by every
 * backend). Start-up stops with exit 78 (EX_CONFIG), which the unit's RestartPreventExitStatus keeps
 * systemd from retrying: the same file fails the same way every time until a person replaces it.
 */
export class ModelLoadError extends Error {
  override readonly name = "ModelLoadError";
  readonly code = "E_MODEL_INVALID";

  constructor(
    readonly path: string,
    readonly reason: string,
  ) {
    super(
      `cannot load the model ${path}: ${reason}\n` +
        "  - the file is corrupt, truncated or not a GGUF model: `tinyllamad models verify` re-hashes the store's files,\n" +
        "    `tinyllamad models pull NAME` fetches one again; or point model.path (TINYLLAMAD_MODEL_PATH) at another file",
    );
  }
}
