/** The model cannot fit the board's memory even at the smallest context: start-up stops (exit 78). */
export class ModelTooLargeError extends Error {
  override readonly name = "ModelTooLargeError";
  readonly code = "E_MODEL_TOO_LARGE";

  constructor(
    message: string,
    /** The estimate at the smallest context, and the memory available (typed: never read from the message). */
    readonly needBytes: number,
    readonly haveBytes: number,
  ) {
    super(message);
  }
}
