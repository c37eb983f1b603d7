/**
 * ggml's tensor types as this project writes them: each type's block layout (values and bytes per block), the f16
 * conversion, and one row encoder per type, bit for bit as ggml's reference quantizers (quantize_row_*_ref).
 * The GGUF file around the tensors is gguf-writer.ts's.
 */

/** ggml tensor types this project can write (values are ggml's `enum ggml_type`). */
export enum GgmlType {
  F32 = 0,
  F16 = 1,
  Q4_0 = 2,
  Q8_0 = 8,
}

/** llama.cpp's `enum llama_ftype` values for `general.file_type`, matching the tensor type used for 2-D weights. */
export const LLAMA_FILE_TYPE: Readonly<Record<GgmlType, number>> = {
  [GgmlType.F32]: 0, // LLAMA_FTYPE_ALL_F32
  [GgmlType.F16]: 1, // LLAMA_FTYPE_MOSTLY_F16
  [GgmlType.Q4_0]: 2, // LLAMA_FTYPE_MOSTLY_Q4_0
  [GgmlType.Q8_0]: 7, // LLAMA_FTYPE_MOSTLY_Q8_0
};

/** Values per quantization block and bytes per block. */
const TYPE_LAYOUT: Readonly<Record<GgmlType, { blockSize: number; blockBytes: number }>> = {
  [GgmlType.F32]: { blockSize: 1, blockBytes: 4 },
  [GgmlType.F16]: { blockSize: 1, blockBytes: 2 },
  [GgmlType.Q4_0]: { blockSize: 32, blockBytes: 2 + 16 },
  [GgmlType.Q8_0]: { blockSize: 32, blockBytes: 2 + 32 },
};

/** Bytes the data of one tensor takes (without alignment padding). */
export function tensorByteSize(ne: readonly number[], type: GgmlType): number {
  const layout = TYPE_LAYOUT[type];
  const ne0 = ne[0] ?? 1;
  if (ne0 % layout.blockSize !== 0) {
    throw new Error(`ne[0]=${ne0} is not a multiple of the block size ${layout.blockSize} of ggml type ${GgmlType[type]}`);
  }
  const rows = ne.slice(1).reduce((a, b) => a * b, 1);
  return (ne0 / layout.blockSize) * layout.blockBytes * rows;
}

// ---------------------------------------------------------------------------------------------------------------
// Scalar conversions

const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);

/** IEEE 754 binary32 → binary16 bits, round to nearest even (as ggml's GGML_FP32_TO_FP16 on CPUs with F16C). */
export function f32ToF16Bits(value: number): number {
  f32Scratch[0] = value;
  const x = u32Scratch[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant !== 0 ? 0x200 : 0); // Inf / NaN
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00; // overflow → Inf
  if (e <= 0) {
    // subnormal half (or zero)
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (rem > halfway || (rem === halfway && (half & 1) === 1)) half += 1;
    return sign | half;
  }
  let half = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (half & 1) === 1)) half += 1; // may carry into the exponent: still correct
  return sign | half; // a carry into exponent 31 correctly yields Inf (0x7c00)
}

/** binary16 bits → number (the inverse of f32ToF16Bits; used by tests and readers). */
export function f16BitsToF32(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exp = (bits >>> 10) & 0x1f;
  const mant = bits & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

// ---------------------------------------------------------------------------------------------------------------
// Row encoders (each writes one row of ne0 values into `dst` at `offset`, returns the new offset)

function encodeF32(src: Float32Array, dst: Buffer, offset: number): number {
  for (let i = 0; i < src.length; i++) offset = dst.writeFloatLE(src[i]!, offset);
  return offset;
}

function encodeF16(src: Float32Array, dst: Buffer, offset: number): number {
  for (let i = 0; i < src.length; i++) offset = dst.writeUInt16LE(f32ToF16Bits(src[i]!), offset);
  return offset;
}

/**
 * Q8_0 (ggml's quantize_row_q8_0_ref): per block of 32, d = max|x| / 127 stored as f16, q = round(x / d) as int8.
 * Dequantized value: x ≈ d · q.
 */
function encodeQ8_0(src: Float32Array, dst: Buffer, offset: number): number {
  for (let b = 0; b < src.length; b += 32) {
    let amax = 0;
    for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(src[b + j]!));
    const d = amax / 127;
    const id = d !== 0 ? 1 / d : 0;
    offset = dst.writeUInt16LE(f32ToF16Bits(d), offset);
    for (let j = 0; j < 32; j++) {
      // roundf() rounds half away from zero
      const v = src[b + j]! * id;
      const q = Math.sign(v) * Math.round(Math.abs(v));
      offset = dst.writeInt8(Math.max(-128, Math.min(127, q)), offset);
    }
  }
  return offset;
}

/**
 * Q4_0 (ggml's quantize_row_q4_0_ref): per block of 32, take the value with the largest magnitude `max` (keeping
 * its sign), d = max / -8 stored as f16, q = min(15, trunc(x / d + 8.5)) ∈ [0, 15] (stored as q, meaning q − 8).
 * Byte j of the 16 packed bytes holds element j in its low nibble and element j + 16 in its high nibble.
 * Dequantized value: x ≈ d · (q − 8).
 */
function encodeQ4_0(src: Float32Array, dst: Buffer, offset: number): number {
  for (let b = 0; b < src.length; b += 32) {
    let amax = 0;
    let max = 0;
    for (let j = 0; j < 32; j++) {
      const v = src[b + j]!;
      if (Math.abs(v) > amax) {
        amax = Math.abs(v);
        max = v;
      }
    }
    const d = max / -8;
    const id = d !== 0 ? 1 / d : 0;
    offset = dst.writeUInt16LE(f32ToF16Bits(d), offset);
    for (let j = 0; j < 16; j++) {
      const x0 = src[b + j]! * id;
      const x1 = src[b + 16 + j]! * id;
      const q0 = Math.max(0, Math.min(15, Math.trunc(x0 + 8.5)));
      const q1 = Math.max(0, Math.min(15, Math.trunc(x1 + 8.5)));
      offset = dst.writeUInt8(q0 | (q1 << 4), offset);
    }
  }
  return offset;
}

export const ENCODERS: Readonly<Record<GgmlType, (src: Float32Array, dst: Buffer, offset: number) => number>> = {
  [GgmlType.F32]: encodeF32,
  [GgmlType.F16]: encodeF16,
  [GgmlType.Q4_0]: encodeQ4_0,
  [GgmlType.Q8_0]: encodeQ8_0,
};

/** Encodes one row in the given type (exported for tests and for checking the quantizers against ggml). */
export function encodeRow(type: GgmlType, row: Float32Array): Buffer {
  const out = Buffer.alloc(tensorByteSize([row.length], type));
  ENCODERS[type](row, out, 0);
  return out;
}
