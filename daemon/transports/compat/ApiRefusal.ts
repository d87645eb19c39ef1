/**
 * A refusal of an HTTP API request: a stable code of the error catalogue, its message and, where one
 * field is to blame, that field's name as the client spelt it (OpenAI's `param`).
 */
import { type ErrorCode, ProtocolError } from "../../protocol/errorCodes.js";

export class ApiRefusal extends ProtocolError {
  constructor(
    code: ErrorCode,
    message: string,
    readonly param: string | null = null,
  ) {
    super(code, message);
  }

  static from(error: ProtocolError, param: string | null = null): ApiRefusal {
    return error instanceof ApiRefusal ? error : new ApiRefusal(error.code, error.message, param);
  }
}

/** A 400 naming the field: how every refused or malformed field is answered. */
export function badField(param: string, message: string): ApiRefusal {
  return new ApiRefusal("E_BAD_REQUEST", message, param);
}
