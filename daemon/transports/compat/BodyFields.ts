/**
 * The fields of one API request body, read one by one by the API's translator; whatever field it never
 * asked for is refused at the end (`refuseUnread`), so no field is ever silently ignored. Reads only
 * the client object's own properties, never inherited ones (`__proto__`, `constructor`).
 */
import { badField } from "./ApiRefusal.js";
import type { JsonBody } from "./readJsonBody.js";

export class BodyFields {
  private readonly unread: Set<string>;

  /** `prefix` names nested objects in messages ("options.", "stream_options."). */
  constructor(
    private readonly body: JsonBody,
    private readonly prefix = "",
  ) {
    this.unread = new Set(Object.keys(body));
  }

  /** The raw value (undefined when absent; JSON null counts as absent, as OpenAI's SDKs send it). */
  take(name: string): unknown {
    this.unread.delete(name);
    const value = Object.hasOwn(this.body, name) ? this.body[name] : undefined;
    return value === null ? undefined : value;
  }

  string(name: string): string | undefined {
    const value = this.take(name);
    if (value !== undefined && typeof value !== "string") throw this.wrongType(name, "a string");
    return value;
  }

  requiredString(name: string): string {
    const value = this.string(name);
    if (value === undefined) throw badField(this.prefix + name, `'${this.prefix + name}' is required`);
    return value;
  }

  number(name: string): number | undefined {
    const value = this.take(name);
    if (value !== undefined && (typeof value !== "number" || !Number.isFinite(value)))
      throw this.wrongType(name, "a number");
    return value;
  }

  integer(name: string): number | undefined {
    const value = this.number(name);
    if (value !== undefined && !Number.isInteger(value)) throw this.wrongType(name, "an integer");
    return value;
  }

  boolean(name: string): boolean | undefined {
    const value = this.take(name);
    if (value !== undefined && typeof value !== "boolean") throw this.wrongType(name, "true or false");
    return value;
  }

  object(name: string): BodyFields | undefined {
    const value = this.take(name);
    if (value === undefined) return undefined;
    if (typeof value !== "object" || Array.isArray(value)) throw this.wrongType(name, "an object");
    return new BodyFields(value as JsonBody, `${this.prefix}${name}.`);
  }

  array(name: string): unknown[] | undefined {
    const value = this.take(name);
    if (value !== undefined && !Array.isArray(value)) throw this.wrongType(name, "an array");
    return value;
  }

  /** A field accepted only at the value that changes nothing (a penalty of 0, n of 1, logprobs false). */
  onlyNeutral(name: string, isNeutral: (value: unknown) => boolean, why: string): void {
    const value = this.take(name);
    if (value !== undefined && !isNeutral(value))
      throw badField(this.prefix + name, `'${this.prefix + name}' ${why} (got ${JSON.stringify(value)})`);
  }

  /** A field that may be given with any value and has no effect here (documented in docs/http.md). */
  accept(...names: string[]): void {
    for (const name of names) this.take(name);
  }

  /** Refuses the first field no one read: unknown to this API, or unsupported by tinyllamad. */
  refuseUnread(): void {
    const [first] = this.unread;
    if (first !== undefined)
      throw badField(
        this.prefix + first,
        `'${this.prefix + first}' is not supported by tinyllamad (docs/http.md lists what is); remove it`,
      );
  }

  private wrongType(name: string, expected: string) {
    return badField(this.prefix + name, `'${this.prefix + name}' must be ${expected}`);
  }
}
