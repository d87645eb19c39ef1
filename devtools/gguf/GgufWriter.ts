/**
 * Writes a GGUF (v3) file in one pass without holding the tensor data in memory: the header, the
 * metadata and the tensor directory first, then each tensor's bytes as its producer emits them.
 */
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from "node:fs";
import {
  GGUF_DEFAULT_ALIGNMENT,
  GGUF_MAGIC,
  GGUF_VERSION,
  type GgmlType,
  type GgufScalarValue,
  type GgufValue,
  GgufValueType,
  tensorByteSize,
} from "../../models/gguf/ggufFormat.js";

export interface TensorToWrite {
  name: string;
  /** ggml order: dimensions[0] is the innermost (contiguous) one. */
  dimensions: number[];
  type: GgmlType;
  /** Produces exactly the tensor's byte size, in chunks, by calling emit. */
  produce(emit: (chunk: Uint8Array) => void): void;
}

class HeaderBytes {
  private readonly chunks: Buffer[] = [];
  length = 0;
  private push(buffer: Buffer): void {
    this.chunks.push(buffer);
    this.length += buffer.length;
  }
  u32(value: number): void {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(value);
    this.push(b);
  }
  u64(value: number | bigint): void {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(BigInt(value));
    this.push(b);
  }
  string(value: string): void {
    const bytes = Buffer.from(value, "utf8");
    this.u64(bytes.length);
    this.push(bytes);
  }
  scalar(type: GgufValueType, value: GgufScalarValue): void {
    if (type === GgufValueType.STRING) this.string(String(value));
    else this.push(encodeNumericScalar(type, value));
  }
  padTo(alignment: number): void {
    const padding = (alignment - (this.length % alignment)) % alignment;
    if (padding > 0) this.push(Buffer.alloc(padding));
  }
  toBuffer(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

function encodeNumericScalar(type: GgufValueType, value: GgufScalarValue): Buffer {
  const b = Buffer.alloc(8);
  switch (type) {
    case GgufValueType.UINT8:
      b.writeUInt8(Number(value));
      return b.subarray(0, 1);
    case GgufValueType.INT8:
      b.writeInt8(Number(value));
      return b.subarray(0, 1);
    case GgufValueType.UINT16:
      b.writeUInt16LE(Number(value));
      return b.subarray(0, 2);
    case GgufValueType.INT16:
      b.writeInt16LE(Number(value));
      return b.subarray(0, 2);
    case GgufValueType.UINT32:
      b.writeUInt32LE(Number(value));
      return b.subarray(0, 4);
    case GgufValueType.INT32:
      b.writeInt32LE(Number(value));
      return b.subarray(0, 4);
    case GgufValueType.FLOAT32:
      b.writeFloatLE(Number(value));
      return b.subarray(0, 4);
    case GgufValueType.BOOL:
      b.writeUInt8(value ? 1 : 0);
      return b.subarray(0, 1);
    case GgufValueType.UINT64:
      b.writeBigUInt64LE(BigInt(value));
      return b;
    case GgufValueType.INT64:
      b.writeBigInt64LE(BigInt(value));
      return b;
    case GgufValueType.FLOAT64:
      b.writeDoubleLE(Number(value));
      return b;
    default:
      throw new Error(`cannot write GGUF value type ${type}`);
  }
}

/**
 * Writes metadata and tensors to `path`. The file appears at `path` only once it is complete
 * (written to `path + ".partial"`, synced, then renamed).
 */
export function writeGgufFile(path: string, metadata: Map<string, GgufValue>, tensors: TensorToWrite[]): void {
  const alignment = GGUF_DEFAULT_ALIGNMENT;
  const header = new HeaderBytes();
  header.u32(GGUF_MAGIC);
  header.u32(GGUF_VERSION);
  header.u64(tensors.length);
  header.u64(metadata.size);
  for (const [key, entry] of metadata) {
    header.string(key);
    header.u32(entry.type);
    if (entry.type === GgufValueType.ARRAY) {
      header.u32(entry.itemType);
      header.u64(entry.items.length);
      for (const item of entry.items) header.scalar(entry.itemType, item);
    } else {
      header.scalar(entry.type, entry.value);
    }
  }
  const sizes = tensors.map((t) =>
    tensorByteSize(
      t.type,
      t.dimensions.reduce((a, b) => a * b, 1),
    ),
  );
  let offset = 0;
  const offsets: number[] = [];
  for (const [index, tensor] of tensors.entries()) {
    offsets.push(offset);
    header.string(tensor.name);
    header.u32(tensor.dimensions.length);
    for (const dimension of tensor.dimensions) header.u64(dimension);
    header.u32(tensor.type);
    header.u64(offset);
    offset += sizes[index] ?? 0;
    offset += (alignment - (offset % alignment)) % alignment;
  }
  header.padTo(alignment);

  const partialPath = `${path}.partial`;
  const fd = openSync(partialPath, "w");
  try {
    writeSync(fd, header.toBuffer());
    let written = 0;
    for (const [index, tensor] of tensors.entries()) {
      const start = written;
      if (start !== offsets[index]) throw new Error(`internal: ${tensor.name} misaligned`);
      tensor.produce((chunk) => {
        writeSync(fd, chunk);
        written += chunk.length;
      });
      if (written - start !== sizes[index]) {
        throw new Error(`${tensor.name}: produced ${written - start} bytes, expected ${sizes[index]}`);
      }
      const padding = (alignment - (written % alignment)) % alignment;
      if (padding > 0 && index < tensors.length - 1) {
        writeSync(fd, Buffer.alloc(padding));
        written += padding;
      }
    }
    fsyncSync(fd);
  } catch (error) {
    closeSync(fd);
    rmSync(partialPath, { force: true });
    throw error;
  }
  closeSync(fd);
  renameSync(partialPath, path);
}

/** Shorthands for building metadata maps. */
export const gguf = {
  string: (value: string): GgufValue => ({ type: GgufValueType.STRING, value }),
  u32: (value: number): GgufValue => ({ type: GgufValueType.UINT32, value }),
  f32: (value: number): GgufValue => ({ type: GgufValueType.FLOAT32, value }),
  bool: (value: boolean): GgufValue => ({ type: GgufValueType.BOOL, value }),
};
