/** A json_schema outside the subset the grammar enforces; the message names the keyword and its path. */
export class JsonSchemaSubsetError extends Error {
  override readonly name = "JsonSchemaSubsetError";
  constructor(
    readonly path: string,
    readonly keyword: string,
    reason: string,
  ) {
    super(`${path}.${keyword}: ${reason}`);
  }
}
