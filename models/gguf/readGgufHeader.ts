/**
 * Reads the metadata and tensor directory of a GGUF file, keeping each value's exact on-disk type.
 * (node-llama-cpp's own reader is used for inspecting models; this one exists so that metadata such
 * as the tokenizer can be copied byte-for-byte into generated files.)
 */
import { readFileSync } from "node:fs";
import { GGUF_MAGIC, type GgufScalarValue, type GgufValue, GgufValueType } from "./ggufFormat.js";

export interface GgufTensorInfo {
  name: string;
  dimensions: bigint[];
  type: number;
  offset: bigint;
}

export interface GgufHeader {
  version: number;
  metadata: Map<string, GgufValue>;
  tensors: GgufTensorInfo[];
}

class ByteCursor {
  private position = 0;
  constructor(private readonly buffer: Buffer) {}

  private need(bytes: number): number {
    const at = this.position;
    if (at + bytes > this.buffer.length) throw new Error(`GGUF truncated at byte ${at} (needed ${bytes} more)`);
    this.position += bytes;
    return at;
  }
  u8 = () => this.buffer.readUInt8(this.need(1));
  i8 = () => this.buffer.readInt8(this.need(1));
  u16 = () => this.buffer.readUInt16LE(this.need(2));
  i16 = () => this.buffer.readInt16LE(this.need(2));
  u32 = () => this.buffer.readUInt32LE(this.need(4));
  i32 = () => this.buffer.readInt32LE(this.need(4));
  f32 = () => this.buffer.readFloatLE(this.need(4));
  f64 = () => this.buffer.readDoubleLE(this.need(8));
  u64 = () => this.buffer.readBigUInt64LE(this.need(8));
  i64 = () => this.buffer.readBigInt64LE(this.need(8));
  string = (): string => {
    const length = Number(this.u64());
    const at = this.need(length);
    return this.buffer.toString("utf8", at, at + length);
  };
}

function readScalar(cursor: ByteCursor, type: GgufValueType): GgufScalarValue {
  switch (type) {
    case GgufValueType.UINT8:
      return cursor.u8();
    case GgufValueType.INT8:
      return cursor.i8();
    case GgufValueType.UINT16:
      return cursor.u16();
    case GgufValueType.INT16:
      return cursor.i16();
    case GgufValueType.UINT32:
      return cursor.u32();
    case GgufValueType.INT32:
      return cursor.i32();
    case GgufValueType.FLOAT32:
      return cursor.f32();
    case GgufValueType.BOOL:
      return cursor.u8() !== 0;
    case GgufValueType.STRING:
      return cursor.string();
    case GgufValueType.UINT64:
      return cursor.u64();
    case GgufValueType.INT64:
      return cursor.i64();
    case GgufValueType.FLOAT64:
      return cursor.f64();
    default:
      throw new Error(`unknown GGUF value type ${type}`);
  }
}

/** Parses a whole GGUF header held in memory (for small files such as vocabularies). */
export function parseGgufHeader(buffer: Buffer): GgufHeader {
  const cursor = new ByteCursor(buffer);
  if (cursor.u32() !== GGUF_MAGIC) throw new Error("not a GGUF file (bad magic)");
  const version = cursor.u32();
  if (version < 2 || version > 3) throw new Error(`unsupported GGUF version ${version}`);
  const tensorCount = Number(cursor.u64());
  const kvCount = Number(cursor.u64());
  const metadata = new Map<string, GgufValue>();
  for (let i = 0; i < kvCount; i++) {
    const key = cursor.string();
    const type = cursor.u32() as GgufValueType;
    if (type === GgufValueType.ARRAY) {
      const itemType = cursor.u32() as Exclude<GgufValueType, GgufValueType.ARRAY>;
      if (itemType === (GgufValueType.ARRAY as number)) throw new Error(`nested arrays are not supported (${key})`);
      const count = Number(cursor.u64());
      const items: GgufScalarValue[] = new Array(count);
      for (let j = 0; j < count; j++) items[j] = readScalar(cursor, itemType);
      metadata.set(key, { type, itemType, items });
    } else {
      metadata.set(key, { type, value: readScalar(cursor, type) });
    }
  }
  const tensors: GgufTensorInfo[] = [];
  for (let i = 0; i < tensorCount; i++) {
    const name = cursor.string();
    const dimensionCount = cursor.u32();
    const dimensions: bigint[] = [];
    for (let d = 0; d < dimensionCount; d++) dimensions.push(cursor.u64());
    tensors.push({ name, dimensions, type: cursor.u32(), offset: cursor.u64() });
  }
  return { version, metadata, tensors };
}

export function readGgufHeaderFile(path: string): GgufHeader {
  return parseGgufHeader(readFileSync(path));
}
