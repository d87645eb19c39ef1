/**
 * What a setting accepts. loadConfig uses `fromString` to turn text (environment variables, flags,
 * strings in the file) into values, and `accepts` and `expected` to report a bad value in words.
 */
export interface SettingFormat {
  readonly name: string;
  /** What an accepted value looks like, phrased to follow "must ...". */
  readonly expected: string;
  accepts(value: unknown): boolean;
  /** Turns text from the environment, a flag or a file into a value; text it can't read is returned as is. */
  fromString?(text: string): unknown;
}

/** Every format is written as defineFormat({...}), so its type is checked where it is written. */
function defineFormat(format: SettingFormat): SettingFormat {
  return format;
}

/** Reads "42" or "-1" as a number; anything else ("1.5", "12abc", "") is left for validation to reject. */
function integerFromString(text: string): unknown {
  const trimmed = text.trim();
  return /^[+-]?\d+$/.test(trimmed) ? Number(trimmed) : text;
}

function integerAtLeast(minimum: number, name: string, expected: string): SettingFormat {
  return defineFormat({
    name,
    expected,
    accepts: (value) => Number.isSafeInteger(value) && (value as number) >= minimum,
    fromString: integerFromString,
  });
}

export const integerFromMinusOne = integerAtLeast(-1, "tinyllamad:integer>=-1", "must be an integer >= -1");
export const nonNegativeInteger = integerAtLeast(0, "tinyllamad:integer>=0", "must be an integer >= 0");
export const positiveInteger = integerAtLeast(1, "tinyllamad:integer>=1", "must be an integer >= 1");
export const atLeast64KiB = integerAtLeast(65_536, "tinyllamad:integer>=65536", "must be an integer >= 65536 (64 KiB)");

export const port = defineFormat({
  name: "tinyllamad:port",
  expected: "must be a port number 0-65535",
  accepts: (value) => Number.isInteger(value) && (value as number) >= 0 && (value as number) <= 65535,
  fromString: integerFromString,
});

const trueWords = new Set(["true", "1", "yes", "on"]);
const falseWords = new Set(["false", "0", "no", "off"]);

export const boolean = defineFormat({
  name: "tinyllamad:boolean",
  expected: "must be true or false (also accepted: 1/0, yes/no, on/off)",
  accepts: (value) => typeof value === "boolean",
  fromString(text) {
    const word = text.trim().toLowerCase();
    if (trueWords.has(word)) return true;
    if (falseWords.has(word)) return false;
    return text;
  },
});

export const text = defineFormat({
  name: "tinyllamad:string",
  expected: "must be a string",
  accepts: (value) => typeof value === "string",
});

export function oneOf<const Value extends string | number>(values: readonly Value[]): SettingFormat {
  const allNumbers = values.every((value) => typeof value === "number");
  return defineFormat({
    name: `tinyllamad:oneOf:${values.join("|")}`,
    expected: `must be one of ${values.map((value) => JSON.stringify(value)).join(", ")}`,
    accepts: (value) => (values as readonly unknown[]).includes(value),
    ...(allNumbers ? { fromString: integerFromString } : {}),
  });
}

const mqttUrlProtocols = ["mqtt:", "mqtts:", "tcp:", "tls:", "ssl:", "ws:", "wss:"];

export const mqttBrokerUrlOrEmpty = defineFormat({
  name: "tinyllamad:mqttBrokerUrlOrEmpty",
  expected: `must be empty (start an embedded broker) or a broker URL (${mqttUrlProtocols.map((p) => `${p}//`).join(", ")})`,
  accepts(value) {
    if (value === "") return true;
    if (typeof value !== "string" || !URL.canParse(value)) return false;
    return mqttUrlProtocols.includes(new URL(value).protocol);
  },
});

/** One level of an MQTT topic: it goes between slashes, so it can't hold one, nor a wildcard. */
export const mqttTopicLevel = defineFormat({
  name: "tinyllamad:mqttTopicLevel",
  expected: "must be a non-empty MQTT topic level (no '/', '+', '#' or NUL)",
  accepts: (value) => typeof value === "string" && /^[^/+#\0]+$/.test(value),
});

/** A topic that other topics are built under: levels are allowed, wildcards and `$` topics are not. */
export const mqttTopicPrefix = defineFormat({
  name: "tinyllamad:mqttTopicPrefix",
  expected: "must be a non-empty MQTT topic without wildcards ('+', '#'), NUL, a leading '$' or '/', or a trailing '/'",
  accepts: (value) =>
    typeof value === "string" &&
    /^[^+#\0]+$/.test(value) &&
    !value.startsWith("$") &&
    !value.startsWith("/") &&
    !value.endsWith("/"),
});

/** A share of something: more than none, at most all of it. */
export const fractionAboveZeroToOne = defineFormat({
  name: "tinyllamad:fraction(0,1]",
  expected: "must be a number greater than 0 and at most 1",
  accepts: (value) => typeof value === "number" && value > 0 && value <= 1,
  fromString(text) {
    const trimmed = text.trim();
    return /^[+-]?(\d+\.?\d*|\.\d+)$/.test(trimmed) ? Number(trimmed) : text;
  },
});

/** Absolute directory paths: a JSON array in the config file, PATH-style "a:b" in a flag or the environment. */
export const absolutePathList = defineFormat({
  name: "tinyllamad:absolutePathList",
  expected: 'must be a list of absolute paths (a JSON array, or "/a:/b" in a flag or the environment)',
  accepts: (value) =>
    Array.isArray(value) &&
    value.every((entry) => typeof entry === "string" && entry.startsWith("/") && !entry.includes("\0")),
  fromString: (text) =>
    text
      .split(":")
      .map((entry) => entry.trim())
      .filter((entry) => entry.length > 0),
});

/** A list of strings: a JSON array in the file; comma-separated text in the environment or a flag. */
export const stringList = defineFormat({
  name: "tinyllamad:stringList",
  expected: 'must be a list of strings (a JSON array in the file, "a,b" in the environment or a flag)',
  accepts: (value) => Array.isArray(value) && value.every((item) => typeof item === "string"),
  fromString: (text) =>
    text
      .split(",")
      .map((item) => item.trim())
      .filter((item) => item.length > 0),
});
