/** The one error class of the model store, pull, inspect and fit: each carries a stable code. */

export type ModelStoreErrorCode =
  /** the server answered 404/410 for the model file */
  | "E_MODEL_NOT_FOUND_UPSTREAM"
  /** not enough free space in the store for the download */
  | "E_DISK_FULL"
  /** the downloaded or stored file's sha256 (or size) is not the catalog's */
  | "E_CHECKSUM_MISMATCH"
  /** the catalog has no sha256 for the file and --allow-unverified was not given */
  | "E_CHECKSUM_UNKNOWN"
  /** HTTP errors, network errors after every retry, bad range answers */
  | "E_DOWNLOAD_FAILED"
  /** the host does not resolve (DNS) or refuses the connection: not retried, the next steps are named */
  | "E_SOURCE_UNREACHABLE"
  /** the file is a readable GGUF but not the catalog entry's model (shape or quantization differ) */
  | "E_MODEL_MISMATCH"
  /** another process holds the file's lock and did not release it in time */
  | "E_STORE_LOCKED"
  /** the model is not in the store */
  | "E_MODEL_NOT_IN_STORE"
  /** the catalog entry has no download URL and no --from/--mirror was given */
  | "E_NO_SOURCE"
  /** the model does not fit the board's memory */
  | "E_MODEL_TOO_LARGE"
  /** the file is not a readable GGUF */
  | "E_MODEL_UNREADABLE"
  /** a model name that is not one plain file name in the store (`..`, a path, empty, NUL) */
  | "E_BAD_MODEL_NAME";

export class ModelStoreError extends Error {
  override readonly name = "ModelStoreError";
  constructor(
    readonly code: ModelStoreErrorCode,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
  }
}
