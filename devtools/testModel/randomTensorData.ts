/**
 * Deterministic random tensor contents. Every tensor gets its own generator seeded from the model
 * seed and the tensor's name, so the bytes do not depend on the order tensors are written in.
 * Quantized tensors are drawn directly in their block format (random quants, random scales), which
 * is exactly as random as quantizing random floats and fast enough for the 1.1B shape.
 */
import { GgmlType, ggmlBlockLayout } from "../../models/gguf/ggufFormat.js";

/** xoshiro128** — small, fast, good statistical quality; not for cryptography. */
export class SeededRandom {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  constructor(seed: number, stream: string) {
    // splitmix32 over (seed, FNV-1a of the stream name) to spread the state.
    let h = 0x811c9dc5 ^ seed;
    for (let i = 0; i < stream.length; i++) h = Math.imul(h ^ stream.charCodeAt(i), 0x01000193);
    let x = (h ^ Math.imul(seed, 0x9e3779b9)) >>> 0;
    const next = () => {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.s0 = next();
    this.s1 = next();
    this.s2 = next();
    this.s3 = next() | 1;
  }

  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** Uniform in [0, 1). */
  nextFloat(): number {
    return this.nextUint32() / 4294967296;
  }

  fillBytes(target: Uint8Array): void {
    const view = new DataView(target.buffer, target.byteOffset, target.byteLength);
    let i = 0;
    for (; i + 4 <= target.length; i += 4) view.setUint32(i, this.nextUint32(), true);
    for (; i < target.length; i++) target[i] = this.nextUint32() & 0xff;
  }
}

function rotl(value: number, bits: number): number {
  return (value << bits) | (value >>> (32 - bits));
}

const float32Scratch = new Float32Array(1);
const uint32Scratch = new Uint32Array(float32Scratch.buffer);

/** IEEE 754 half-precision bits of a number (round to nearest even; handles subnormals). */
export function toFloat16Bits(value: number): number {
  float32Scratch[0] = value;
  const bits = uint32Scratch[0] ?? 0;
  const sign = (bits >>> 16) & 0x8000;
  const exponent = ((bits >>> 23) & 0xff) - 127 + 15;
  let mantissa = bits & 0x7fffff;
  if (exponent >= 0x1f) return sign | 0x7c00; // overflow → infinity (NaN is never generated)
  if (exponent <= 0) {
    if (exponent < -10) return sign;
    mantissa |= 0x800000;
    const shift = 14 - exponent;
    const half = 1 << (shift - 1);
    let result = mantissa >>> shift;
    const rest = mantissa & ((1 << shift) - 1);
    if (rest > half || (rest === half && (result & 1) === 1)) result++;
    return sign | result;
  }
  let result = (exponent << 10) | (mantissa >>> 13);
  const rest = mantissa & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && (result & 1) === 1)) result++;
  return sign | result;
}

/** Rows are produced in chunks of about this many bytes. */
const CHUNK_BYTES = 4 << 20;

export interface RandomTensorSpec {
  type: GgmlType;
  elementCount: number;
  /** Standard deviation of the weights around `mean`. */
  std: number;
  mean?: number;
}

/** Emits the bytes of one tensor filled with deterministic random values. */
export function produceRandomTensor(
  spec: RandomTensorSpec,
  random: SeededRandom,
  emit: (chunk: Uint8Array) => void,
): void {
  const { blockElements, blockBytes } = ggmlBlockLayout[spec.type];
  const blockCount = spec.elementCount / blockElements;
  const blocksPerChunk = Math.max(1, Math.floor(CHUNK_BYTES / blockBytes));
  for (let first = 0; first < blockCount; first += blocksPerChunk) {
    const count = Math.min(blocksPerChunk, blockCount - first);
    const chunk = new Uint8Array(count * blockBytes);
    fillBlocks(spec, random, chunk, count);
    emit(chunk);
  }
}

// Uniform integer quants: int8 in [-128, 127] has std ≈ 73.9; 4-bit (q - 8) has std ≈ 4.61.
const Q8_UNIFORM_STD = 73.9;
const Q4_UNIFORM_STD = 4.61;
// Uniform in [-1, 1) has std 1/√3.
const UNIFORM_STD = 1 / Math.sqrt(3);

function fillBlocks(spec: RandomTensorSpec, random: SeededRandom, chunk: Uint8Array, blocks: number): void {
  const view = new DataView(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  const mean = spec.mean ?? 0;
  switch (spec.type) {
    case GgmlType.F32:
      for (let i = 0; i < blocks; i++) {
        view.setFloat32(i * 4, mean + ((random.nextFloat() * 2 - 1) * spec.std) / UNIFORM_STD, true);
      }
      return;
    case GgmlType.F16:
      for (let i = 0; i < blocks; i++) {
        const value = mean + ((random.nextFloat() * 2 - 1) * spec.std) / UNIFORM_STD;
        view.setUint16(i * 2, toFloat16Bits(value), true);
      }
      return;
    case GgmlType.Q8_0:
    case GgmlType.Q4_0: {
      if (mean !== 0) throw new Error("quantized random tensors are centred on 0");
      const { blockBytes } = ggmlBlockLayout[spec.type];
      const quantStd = spec.type === GgmlType.Q8_0 ? Q8_UNIFORM_STD : Q4_UNIFORM_STD;
      random.fillBytes(chunk);
      for (let i = 0; i < blocks; i++) {
        // Scales vary by ±50 % between blocks, as real quantized weights do.
        const scale = (spec.std / quantStd) * (0.5 + random.nextFloat());
        view.setUint16(i * blockBytes, toFloat16Bits(scale), true);
      }
      return;
    }
    default:
      throw new Error(`unsupported tensor type ${spec.type}`);
  }
}
