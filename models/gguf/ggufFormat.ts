/**
 * Constants of the GGUF file format (version 3) and of the ggml tensor types that tinyllamad writes.
 * Reference: the GGUF specification in ggml's docs (docs/gguf.md).
 */

export const GGUF_MAGIC = 0x46554747; // "GGUF" read as a little-endian u32
export const GGUF_VERSION = 3;
export const GGUF_DEFAULT_ALIGNMENT = 32;

/** Metadata value types. */
export enum GgufValueType {
  UINT8 = 0,
  INT8 = 1,
  UINT16 = 2,
  INT16 = 3,
  UINT32 = 4,
  INT32 = 5,
  FLOAT32 = 6,
  BOOL = 7,
  STRING = 8,
  ARRAY = 9,
  UINT64 = 10,
  INT64 = 11,
  FLOAT64 = 12,
}

export type GgufScalarValue = number | bigint | boolean | string;

/** A metadata value with its exact on-disk type, so that values can be copied between files unchanged. */
export type GgufValue =
  | { type: Exclude<GgufValueType, GgufValueType.ARRAY>; value: GgufScalarValue }
  | {
      type: GgufValueType.ARRAY;
      itemType: Exclude<GgufValueType, GgufValueType.ARRAY>;
      items: GgufScalarValue[];
    };

/** The ggml tensor types tinyllamad generates. */
export enum GgmlType {
  F32 = 0,
  F16 = 1,
  Q4_0 = 2,
  Q8_0 = 8,
}

/** Elements per block and bytes per block of each type. */
export const ggmlBlockLayout: Record<GgmlType, { blockElements: number; blockBytes: number }> = {
  [GgmlType.F32]: { blockElements: 1, blockBytes: 4 },
  [GgmlType.F16]: { blockElements: 1, blockBytes: 2 },
  // d (f16) + 16 bytes of 4-bit quants
  [GgmlType.Q4_0]: { blockElements: 32, blockBytes: 18 },
  // d (f16) + 32 int8 quants
  [GgmlType.Q8_0]: { blockElements: 32, blockBytes: 34 },
};

/** llama.cpp's `general.file_type` (llama_ftype) for a file whose matrices are all of one type. */
export const llamaFileTypeOf: Record<GgmlType, number> = {
  [GgmlType.F32]: 0,
  [GgmlType.F16]: 1,
  [GgmlType.Q4_0]: 2,
  [GgmlType.Q8_0]: 7,
};

export function tensorByteSize(type: GgmlType, elementCount: number): number {
  const { blockElements, blockBytes } = ggmlBlockLayout[type];
  if (elementCount % blockElements !== 0) {
    throw new Error(`${GgmlType[type]} needs a multiple of ${blockElements} elements, got ${elementCount}`);
  }
  return (elementCount / blockElements) * blockBytes;
}
