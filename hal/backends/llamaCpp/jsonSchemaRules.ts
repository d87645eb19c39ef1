/**
 * The value-level rules of the json_schema subset (checkJsonSchemaSubset.ts): which literals the
 * grammar can write, integer ranges turned into the list of allowed values, and when two oneOf
 * alternatives could match the same value.
 */

/** A schema in the form node-llama-cpp's JSON-schema grammar reads. */
export type GrammarSchema = Record<string, unknown>;

/** The most values an integer range may have: the grammar enforces a range by listing them. */
export const maxIntegerChoices = 256;

/**
 * A string the grammar cannot write as JSON: node-llama-cpp escapes only \t, \r, \n, \\ and " in
 * literals, so other control characters would come out raw (invalid JSON); a lone surrogate has
 * no UTF-8 form.
 */
function hasUnwritableCharacter(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit < 0x20 && unit !== 0x09 && unit !== 0x0a && unit !== 0x0d) return true;
    if (unit >= 0xdc00 && unit <= 0xdfff) return true; // a low surrogate with no high one before it
    if (unit >= 0xd800 && unit <= 0xdbff) {
      const next = text.charCodeAt(i + 1);
      if (!(next >= 0xdc00 && next <= 0xdfff)) return true;
      i += 1;
    }
  }
  return false;
}

export function literalProblem(value: unknown): string | undefined {
  if (value === null || typeof value === "boolean") return undefined;
  if (typeof value === "number") return Number.isFinite(value) ? undefined : "numbers must be finite";
  if (typeof value === "string")
    return hasUnwritableCharacter(value)
      ? "strings with control characters (other than tab, CR, LF) or lone surrogates are not supported"
      : undefined;
  return "only strings, numbers, booleans and null are supported";
}

export function literalTypeMatches(value: unknown, type: string): boolean {
  switch (type) {
    case "string":
      return typeof value === "string";
    case "number":
      return typeof value === "number";
    case "integer":
      return typeof value === "number" && Number.isInteger(value);
    case "boolean":
      return typeof value === "boolean";
    case "null":
      return value === null;
    default:
      return false;
  }
}

/** An integer from 0 to max; undefined when absent, null when anything else. */
export function nonNegativeIntegerOrUndefined(value: unknown, max: number): number | undefined | null {
  if (value === undefined) return undefined;
  return typeof value === "number" && Number.isInteger(value) && value >= 0 && value <= max ? value : null;
}

const rangeKeywords = ["minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"] as const;

/**
 * The values an integer schema's bounds allow (undefined when it has none), or the problem with
 * them: node-llama-cpp's integer grammar has no bounds, so a range is enforced by listing it.
 */
export function integerRangeProblem(node: Record<string, unknown>): {
  values?: number[];
  problem?: string;
  keyword: string;
} {
  const read = (key: (typeof rangeKeywords)[number]) => (Object.hasOwn(node, key) ? node[key] : undefined);
  const present = rangeKeywords.filter((key) => read(key) !== undefined);
  if (present.length === 0) return { keyword: "type" };
  for (const key of present) {
    const value = read(key);
    if (typeof value !== "number" || !Number.isFinite(value))
      return { keyword: key, problem: "must be a finite number" };
  }
  let low = -Infinity;
  let high = Infinity;
  const minimum = read("minimum") as number | undefined;
  const maximum = read("maximum") as number | undefined;
  const exclusiveMinimum = read("exclusiveMinimum") as number | undefined;
  const exclusiveMaximum = read("exclusiveMaximum") as number | undefined;
  if (minimum !== undefined) low = Math.ceil(minimum);
  if (exclusiveMinimum !== undefined) low = Math.max(low, Math.floor(exclusiveMinimum) + 1);
  if (maximum !== undefined) high = Math.floor(maximum);
  if (exclusiveMaximum !== undefined) high = Math.min(high, Math.ceil(exclusiveMaximum) - 1);
  const step = (read("multipleOf") as number | undefined) ?? 1;
  if (!Number.isSafeInteger(step) || step <= 0) return { keyword: "multipleOf", problem: "must be a positive integer" };
  const boundKeyword = present.find((key) => key !== "multipleOf") ?? "multipleOf";
  if (low === -Infinity || high === Infinity)
    return {
      keyword: boundKeyword,
      problem: `needs both a lower and an upper bound: the grammar enforces integer bounds by listing the allowed values (at most ${maxIntegerChoices})`,
    };
  if (!Number.isSafeInteger(low) || !Number.isSafeInteger(high))
    return { keyword: boundKeyword, problem: "bounds must be within ±2^53" };
  const first = Math.ceil(low / step) * step;
  const last = Math.floor(high / step) * step;
  const count = last < first ? 0 : (last - first) / step + 1;
  if (count === 0) return { keyword: boundKeyword, problem: "no integer satisfies these bounds" };
  if (count > maxIntegerChoices)
    return {
      keyword: boundKeyword,
      problem: `allows ${count} values; the grammar enforces integer bounds by listing them, at most ${maxIntegerChoices}`,
    };
  const values: number[] = [];
  for (let value = first; value <= last; value += step) values.push(value === 0 ? 0 : value);
  return { keyword: boundKeyword, values };
}

type ValueClass = { literal: string; of: string } | { of: string };

/**
 * The first pair of alternatives (converted schemas) that could match one value, or undefined.
 * Conservative: two alternatives overlap unless told apart by JSON type or by literal value.
 */
export function oneOfOverlap(alternatives: GrammarSchema[]): [number, number] | undefined {
  const classes = alternatives.map(valueClasses);
  for (let i = 0; i < classes.length; i++)
    for (let j = i + 1; j < classes.length; j++)
      if ((classes[i] as ValueClass[]).some((a) => (classes[j] as ValueClass[]).some((b) => classesOverlap(a, b))))
        return [i, j];
  return undefined;
}

function valueClasses(schema: GrammarSchema): ValueClass[] {
  if (Object.hasOwn(schema, "const")) return [literalClass(schema.const)];
  if (Object.hasOwn(schema, "enum")) return (schema.enum as unknown[]).map(literalClass);
  if (Object.hasOwn(schema, "oneOf")) return (schema.oneOf as GrammarSchema[]).flatMap(valueClasses);
  const types = Array.isArray(schema.type) ? (schema.type as string[]) : [schema.type as string];
  return types.map((type) => ({ of: type === "integer" ? "number" : type }));
}

function literalClass(value: unknown): ValueClass {
  const of = value === null ? "null" : typeof value;
  return { literal: JSON.stringify(value), of };
}

function classesOverlap(a: ValueClass, b: ValueClass): boolean {
  if (a.of !== b.of) return false;
  if ("literal" in a && "literal" in b) return a.literal === b.literal;
  return true;
}
