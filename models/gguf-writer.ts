/**
 * A small, dependency-free GGUF v3 writer (little-endian, default alignment 32).
 *
 * Layout (see ggml's docs/gguf.md and gguf-py/gguf/constants.py in llama.cpp):
 *   magic "GGUF" | u32 version=3 | u64 tensor_count | u64 kv_count
 *   kv_count × (gguf_string key | u32 value_type | value)
 *   tensor_count × (gguf_string name | u32 n_dims | u64 ne[n_dims] | u32 ggml_type | u64 offset)
 *   padding to `general.alignment`, then the tensor data, each tensor starting at an aligned offset.
 * A gguf_string is a u64 byte length followed by UTF-8 bytes (no terminator).
 *
 * Tensor data is streamed: each tensor supplies its values one row (ne0 values) at a time through a callback, and
 * the writer converts/quantizes the row and appends it to a 1 MiB buffer that is flushed to the file. Memory use is
 * constant whatever the model size, and the sha256 of the file is computed while writing.
 */
import { createHash } from "node:crypto";
import { mkdir, open, rename, rm } from "node:fs/promises";
import { dirname } from "node:path";
import { ENCODERS, GgmlType, tensorByteSize } from "./ggml-types.ts";

export const GGUF_MAGIC = 0x46554747; // "GGUF" read as a little-endian u32
export const GGUF_VERSION = 3;
export const GGUF_DEFAULT_ALIGNMENT = 32;

/** GGUF metadata value types (`enum gguf_type`). */
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

export type GgufValue =
  | { type: "uint32"; value: number }
  | { type: "int32"; value: number }
  | { type: "float32"; value: number }
  | { type: "bool"; value: boolean }
  | { type: "string"; value: string }
  | { type: "array"; itemType: "string"; value: readonly string[] }
  | { type: "array"; itemType: "int32"; value: ArrayLike<number> }
  | { type: "array"; itemType: "float32"; value: ArrayLike<number> };

/** Shorthands for building metadata values: `gguf.u32(2048)`, `gguf.str("llama")`, `gguf.strArr(tokens)`… */
export const gguf = {
  u32: (value: number): GgufValue => ({ type: "uint32", value }),
  i32: (value: number): GgufValue => ({ type: "int32", value }),
  f32: (value: number): GgufValue => ({ type: "float32", value }),
  bool: (value: boolean): GgufValue => ({ type: "bool", value }),
  str: (value: string): GgufValue => ({ type: "string", value }),
  strArr: (value: readonly string[]): GgufValue => ({ type: "array", itemType: "string", value }),
  i32Arr: (value: ArrayLike<number>): GgufValue => ({ type: "array", itemType: "int32", value }),
  f32Arr: (value: ArrayLike<number>): GgufValue => ({ type: "array", itemType: "float32", value }),
};

/**
 * A tensor to write. `ne` lists dimensions fastest-varying first (ne[0] = number of columns = values per row), as
 * GGUF and ggml do. `fillRow(row, out)` must write the `ne[0]` values of row `row` (0 ≤ row < ne[1]·ne[2]·…) into
 * `out`; rows are requested in order, exactly once each.
 */
export interface GgufTensor {
  name: string;
  ne: readonly number[];
  type: GgmlType;
  fillRow: (row: number, out: Float32Array) => void;
}

export interface GgufFile {
  /** Metadata in write order. `general.alignment` is added when absent. */
  metadata: ReadonlyArray<readonly [key: string, value: GgufValue]>;
  tensors: readonly GgufTensor[];
}

export interface GgufWriteResult {
  path: string;
  bytes: number;
  sha256: string;
}

const alignUp = (n: number, alignment: number): number => Math.ceil(n / alignment) * alignment;

// ---------------------------------------------------------------------------------------------------------------
// Buffered sequential writer

const CHUNK_BYTES = 1 << 20;

class ChunkedFileWriter {
  private buf = Buffer.alloc(CHUNK_BYTES);
  private used = 0;
  private hash = createHash("sha256");
  written = 0;

  constructor(private readonly handle: import("node:fs/promises").FileHandle) {}

  /** Space for at least `n` bytes in the buffer, flushing first when needed; returns the buffer and write offset. */
  async reserve(n: number): Promise<void> {
    if (n > this.buf.length) {
      await this.flush();
      this.buf = Buffer.alloc(n);
    } else if (this.used + n > this.buf.length) {
      await this.flush();
    }
  }

  get buffer(): Buffer {
    return this.buf;
  }

  get offset(): number {
    return this.used;
  }

  advanceTo(offset: number): void {
    this.used = offset;
  }

  async bytes(data: Uint8Array): Promise<void> {
    await this.reserve(data.length);
    this.buf.set(data, this.used);
    this.used += data.length;
  }

  async flush(): Promise<void> {
    if (this.used === 0) return;
    const view = this.buf.subarray(0, this.used);
    this.hash.update(view);
    let done = 0;
    while (done < view.length) {
      const { bytesWritten } = await this.handle.write(view, done, view.length - done);
      done += bytesWritten;
    }
    this.written += view.length;
    this.used = 0;
  }

  digest(): string {
    return this.hash.digest("hex");
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Header encoding

function ggufString(s: string): Buffer {
  const bytes = Buffer.from(s, "utf8");
  const out = Buffer.alloc(8 + bytes.length);
  out.writeBigUInt64LE(BigInt(bytes.length), 0);
  bytes.copy(out, 8);
  return out;
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n, 0);
  return b;
}

function u64(n: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(n), 0);
  return b;
}

function encodeValue(v: GgufValue): Buffer[] {
  switch (v.type) {
    case "uint32":
      return [u32(GgufValueType.UINT32), u32(v.value)];
    case "int32": {
      const b = Buffer.alloc(4);
      b.writeInt32LE(v.value, 0);
      return [u32(GgufValueType.INT32), b];
    }
    case "float32": {
      const b = Buffer.alloc(4);
      b.writeFloatLE(v.value, 0);
      return [u32(GgufValueType.FLOAT32), b];
    }
    case "bool":
      return [u32(GgufValueType.BOOL), Buffer.from([v.value ? 1 : 0])];
    case "string":
      return [u32(GgufValueType.STRING), ggufString(v.value)];
    case "array": {
      const head = [u32(GgufValueType.ARRAY)];
      if (v.itemType === "string") {
        return [...head, u32(GgufValueType.STRING), u64(v.value.length), ...v.value.map(ggufString)];
      }
      const items = Buffer.alloc(4 * v.value.length);
      for (let i = 0; i < v.value.length; i++) {
        if (v.itemType === "int32") items.writeInt32LE(v.value[i]!, 4 * i);
        else items.writeFloatLE(v.value[i]!, 4 * i);
      }
      const itemType = v.itemType === "int32" ? GgufValueType.INT32 : GgufValueType.FLOAT32;
      return [...head, u32(itemType), u64(v.value.length), items];
    }
  }
}

/**
 * Writes a GGUF v3 file. The file is written to `<path>.partial` and renamed into place when complete, so a reader
 * never sees a truncated model. Returns its size and sha256.
 */
export async function writeGguf(path: string, file: GgufFile): Promise<GgufWriteResult> {
  const metadata = [...file.metadata];
  let alignment = GGUF_DEFAULT_ALIGNMENT;
  const alignEntry = metadata.find(([k]) => k === "general.alignment");
  if (alignEntry) {
    const [, v] = alignEntry;
    if (v.type !== "uint32" || v.value <= 0 || v.value % 8 !== 0) throw new Error("general.alignment must be a uint32 multiple of 8");
    alignment = v.value;
  } else {
    metadata.push(["general.alignment", gguf.u32(alignment)]);
  }
  const keys = new Set<string>();
  for (const [k] of metadata) {
    if (keys.has(k)) throw new Error(`duplicate metadata key ${k}`);
    keys.add(k);
  }
  const names = new Set<string>();
  for (const t of file.tensors) {
    if (names.has(t.name)) throw new Error(`duplicate tensor ${t.name}`);
    if (Buffer.byteLength(t.name) >= 64) throw new Error(`tensor name too long (ggml limit 63 bytes): ${t.name}`);
    if (t.ne.length < 1 || t.ne.length > 4 || t.ne.some((d) => !Number.isInteger(d) || d < 1)) {
      throw new Error(`tensor ${t.name}: bad shape [${t.ne.join(", ")}]`);
    }
    names.add(t.name);
  }

  // Tensor data offsets, relative to the start of the data section.
  const offsets: number[] = [];
  let dataSize = 0;
  for (const t of file.tensors) {
    dataSize = alignUp(dataSize, alignment);
    offsets.push(dataSize);
    dataSize += tensorByteSize(t.ne, t.type);
  }

  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.partial`;
  const handle = await open(tmp, "w");
  let ok = false;
  try {
    const w = new ChunkedFileWriter(handle);
    await w.bytes(u32(GGUF_MAGIC));
    await w.bytes(u32(GGUF_VERSION));
    await w.bytes(u64(file.tensors.length));
    await w.bytes(u64(metadata.length));
    for (const [key, value] of metadata) {
      await w.bytes(ggufString(key));
      for (const part of encodeValue(value)) await w.bytes(part);
    }
    for (let i = 0; i < file.tensors.length; i++) {
      const t = file.tensors[i]!;
      await w.bytes(ggufString(t.name));
      await w.bytes(u32(t.ne.length));
      for (const d of t.ne) await w.bytes(u64(d));
      await w.bytes(u32(t.type));
      await w.bytes(u64(offsets[i]!));
    }
    const headerEnd = w.written + w.offset;
    await w.bytes(Buffer.alloc(alignUp(headerEnd, alignment) - headerEnd));
    const dataStart = alignUp(headerEnd, alignment);

    for (let i = 0; i < file.tensors.length; i++) {
      const t = file.tensors[i]!;
      const pos = w.written + w.offset - dataStart;
      if (pos < offsets[i]!) await w.bytes(Buffer.alloc(offsets[i]! - pos));
      const ne0 = t.ne[0]!;
      const rows = t.ne.slice(1).reduce((a, b) => a * b, 1);
      const rowBytes = tensorByteSize([ne0], t.type);
      const row = new Float32Array(ne0);
      const encode = ENCODERS[t.type];
      for (let r = 0; r < rows; r++) {
        row.fill(0);
        t.fillRow(r, row);
        await w.reserve(rowBytes);
        w.advanceTo(encode(row, w.buffer, w.offset));
      }
    }
    await w.flush();
    const expected = dataStart + dataSize;
    if (w.written !== expected) throw new Error(`internal error: wrote ${w.written} bytes, expected ${expected}`);
    await handle.close();
    await rename(tmp, path);
    ok = true;
    return { path, bytes: w.written, sha256: w.digest() };
  } finally {
    if (!ok) {
      await handle.close().catch(() => undefined);
      await rm(tmp, { force: true });
    }
  }
}