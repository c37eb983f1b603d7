/**
 * Tests of the models/ folder without llama.cpp: the GGUF writer, the random llama vocabulary, the manifest, model path
 * resolution and the downloader against a local file server. The models loaded by llama.cpp and the scripts run as
 * processes are in test/e2e/models.test.ts.
 */
import { createHash, randomBytes } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { gguf, writeGguf } from "../../models/gguf-writer.ts";
import { buildVocabulary } from "../../models/random-llama.ts";
import { ManifestError, UnknownModelError, defaultModelId, getModel, listModels, parseManifest } from "../../models/manifest.ts";
import { ModelNotFoundError, pulledModelPath, resolveModelPath } from "../../models/paths.ts";
import { MODEL_URL_OVERRIDE_ENV, PullError, pullModel, sha256File } from "../../models/download.ts";
import { GgmlType, encodeRow, f16BitsToF32, f32ToF16Bits, tensorByteSize } from "../../models/ggml-types.ts";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "llambda-models-test-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------------------------------

describe("gguf-writer", () => {
  it("converts f32 to f16 with round-to-nearest-even", () => {
    expect(f32ToF16Bits(0)).toBe(0);
    expect(f32ToF16Bits(-0)).toBe(0x8000);
    expect(f32ToF16Bits(1)).toBe(0x3c00);
    expect(f32ToF16Bits(-2)).toBe(0xc000);
    expect(f32ToF16Bits(65504)).toBe(0x7bff);
    expect(f32ToF16Bits(1e6)).toBe(0x7c00);
    expect(f32ToF16Bits(0.1)).toBe(0x2e66);
    expect(f32ToF16Bits(2 ** -24)).toBe(0x0001); // smallest subnormal
    expect(f32ToF16Bits(1 + 2 ** -11)).toBe(0x3c00); // tie → even
    expect(f32ToF16Bits(1 + 3 * 2 ** -11)).toBe(0x3c02); // tie → even (up)
    for (const v of [0.5, -0.333, 3.14159, 1e-5, 123.456]) {
      expect(Math.abs(f16BitsToF32(f32ToF16Bits(v)) - v)).toBeLessThanOrEqual(Math.abs(v) * 2 ** -11 + 2 ** -25);
    }
  });

  it("lays out a Q4_0 block as ggml does (scale = max / -8, q + 8, low nibbles = elements 0..15)", () => {
    const row = Float32Array.from({ length: 32 }, (_, j) => j - 16); // -16 … 15, max magnitude -16
    const block = encodeRow(GgmlType.Q4_0, row);
    expect(block.length).toBe(18);
    const d = f16BitsToF32(block.readUInt16LE(0));
    expect(d).toBe(2); // -16 / -8
    const dequant = (j: number) => {
      const byte = block[2 + (j % 16)]!;
      const q = j < 16 ? byte & 0x0f : byte >> 4;
      return d * (q - 8);
    };
    expect(block[2]).toBe(0x80); // element 0 (-16 → q 0) low, element 16 (0 → q 8) high
    for (let j = 0; j < 32; j++) expect(Math.abs(dequant(j) - row[j]!)).toBeLessThanOrEqual(d / 2 + 1e-6);
  });

  it("lays out a Q8_0 block as ggml does (scale = amax / 127, int8 q)", () => {
    const row = Float32Array.from({ length: 32 }, (_, j) => Math.sin(j) * 3);
    const block = encodeRow(GgmlType.Q8_0, row);
    expect(block.length).toBe(34);
    const d = f16BitsToF32(block.readUInt16LE(0));
    const amax = Math.max(...row.map(Math.abs));
    expect(d).toBeCloseTo(amax / 127, 4);
    for (let j = 0; j < 32; j++) expect(Math.abs(block.readInt8(2 + j) * d - row[j]!)).toBeLessThanOrEqual(d * 0.51);
    expect(() => tensorByteSize([48, 2], GgmlType.Q8_0)).toThrow(/multiple of the block size 32/);
  });

  it("writes a GGUF v3 file that node-llama-cpp's parser reads back (all KV types, aligned tensors)", async () => {
    const { readGgufFileInfo } = await import("node-llama-cpp");
    const path = join(dir, "kv.gguf");
    const result = await writeGguf(path, {
      metadata: [
        ["general.architecture", gguf.str("llama")],
        ["test.u32", gguf.u32(4_000_000_000)],
        ["test.i32", gguf.i32(-7)],
        ["test.f32", gguf.f32(0.25)],
        ["test.bool", gguf.bool(true)],
        ["test.unicode", gguf.str("▁ é 字")],
        ["test.strs", gguf.strArr(["a", "", "▁b"])],
        ["test.ints", gguf.i32Arr([1, -2, 3])],
        ["test.floats", gguf.f32Arr([0.5, -1.5])],
      ],
      tensors: [
        { name: "a", ne: [3], type: GgmlType.F32, fillRow: (_r, o) => o.set([1, 2, 3]) },
        { name: "b", ne: [32, 2], type: GgmlType.Q4_0, fillRow: (r, o) => o.fill(r + 1) },
        { name: "c", ne: [5, 3], type: GgmlType.F16, fillRow: (r, o) => o.fill(r) },
        { name: "d", ne: [64], type: GgmlType.Q8_0, fillRow: (_r, o) => o.fill(-1) },
      ],
    });
    const bytes = await readFile(path);
    expect(result.bytes).toBe(bytes.length);
    expect(bytes.subarray(0, 4).toString("latin1")).toBe("GGUF");
    expect(bytes.readUInt32LE(4)).toBe(3);

    const info = await readGgufFileInfo(path, { logWarnings: false });
    expect(info.version).toBe(3);
    const raw = info.metadata as unknown as Record<string, Record<string, unknown>>;
    expect(raw.general?.architecture).toBe("llama");
    expect(raw.general?.alignment).toBe(32);
    expect(raw.test).toEqual({
      u32: 4_000_000_000,
      i32: -7,
      f32: 0.25,
      bool: true,
      unicode: "▁ é 字",
      strs: ["a", "", "▁b"],
      ints: [1, -2, 3],
      floats: [0.5, -1.5],
    });
    const tensors = info.tensorInfo ?? [];
    expect(tensors.map((t) => [t.name, t.dimensions.map(Number), t.ggmlType])).toEqual([
      ["a", [3], GgmlType.F32],
      ["b", [32, 2], GgmlType.Q4_0],
      ["c", [5, 3], GgmlType.F16],
      ["d", [64], GgmlType.Q8_0],
    ]);
    for (const t of tensors) {
      expect(Number(t.offset) % 32).toBe(0);
      expect(Number(t.fileOffset) % 32).toBe(0);
    }
    const last = tensors[3]!;
    expect(Number(last.fileOffset) + tensorByteSize([64], GgmlType.Q8_0)).toBe(bytes.length);
    const a = tensors[0]!;
    expect([0, 1, 2].map((i) => bytes.readFloatLE(Number(a.fileOffset) + 4 * i))).toEqual([1, 2, 3]);
  });
});

// ---------------------------------------------------------------------------------------------------------------

describe("random llama vocabulary", () => {
  it("has the byte-fallback base vocabulary and unique, deterministic padding", () => {
    const small = buildVocabulary(260);
    expect(small.tokens.slice(0, 4)).toEqual(["<unk>", "<s>", "</s>", "<0x00>"]);
    expect(small.tokens[258]).toBe("<0xFF>");
    expect(small.tokens[259]).toBe("\u2581");
    expect(Array.from(small.types.slice(0, 4))).toEqual([2, 3, 3, 6]);
    expect(small.types[259]).toBe(1);
    const banned = [...small.banned.keys()].filter((i) => small.banned[i]);
    expect(banned).toEqual([0, 1, ...Array.from({ length: 128 }, (_, i) => 3 + 0x80 + i)]);

    const big = buildVocabulary(128256);
    expect(big.tokens.length).toBe(128256);
    expect(new Set(big.tokens).size).toBe(128256);
    expect(big.tokens.slice(260, 264)).toEqual(["\u2581a", "a", "\u2581b", "b"]);
    expect(big.tokens.slice(0, 260)).toEqual(small.tokens);
  });
});

// ---------------------------------------------------------------------------------------------------------------

describe("manifest", () => {
  it("has a valid default model with a pinned https URL and sha256", () => {
    const entry = getModel();
    expect(entry.id).toBe(defaultModelId);
    expect(entry.url).toMatch(/^https:\/\/huggingface\.co\/.+\/resolve\/[0-9a-f]{40}\/.+\.gguf$/);
    expect(entry.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(entry.sha256Source.length).toBeGreaterThan(20);
    expect(entry.suggested.threads).toBeGreaterThanOrEqual(1);
    expect(entry.lora).toBeNull();
    expect(listModels().length).toBeGreaterThanOrEqual(1);
  });

  it("rejects unknown ids and bad entries", () => {
    expect(() => getModel("nope")).toThrow(UnknownModelError);
    expect(() => getModel("nope")).toThrow(new RegExp(defaultModelId.replace(/\./g, "\\.")));
    const good = JSON.parse(JSON.stringify({ defaultModelId, models: listModels() })) as { models: Record<string, unknown>[] };
    expect(parseManifest(good).models.length).toBe(listModels().length);
    const badSha = structuredClone(good);
    badSha.models[0]!.sha256 = "ABC";
    expect(() => parseManifest(badSha)).toThrow(ManifestError);
    const badDefault = { ...structuredClone(good), defaultModelId: "missing" };
    expect(() => parseManifest(badDefault)).toThrow(/defaultModelId/);
  });
});

// ---------------------------------------------------------------------------------------------------------------

describe("resolveModelPath", () => {
  it("prefers --model, then LLAMBDA_MODEL, then the pulled default model", async () => {
    const base = join(dir, "resolve");
    await mkdir(base, { recursive: true });
    const cliFile = join(base, "cli.gguf");
    const envFile = join(base, "env.gguf");
    await writeFile(cliFile, "x");
    await writeFile(envFile, "x");
    const env = { LLAMBDA_MODELS_DIR: base, LLAMBDA_MODEL: envFile };
    const pulled = pulledModelPath(defaultModelId, env);
    await writeFile(pulled, "x");

    expect(resolveModelPath({ cliPath: cliFile, env })).toEqual({ path: cliFile, source: "cli", modelId: "cli" });
    expect(resolveModelPath({ cliPath: "cli.gguf", env, cwd: base }).path).toBe(cliFile);
    expect(resolveModelPath({ env })).toEqual({ path: envFile, source: "env", modelId: "env" });
    expect(resolveModelPath({ env: { LLAMBDA_MODELS_DIR: base } })).toEqual({ path: pulled, source: "pulled", modelId: defaultModelId });
    // An explicit path that does not exist is an error, not a fall-through.
    expect(() => resolveModelPath({ cliPath: join(base, "missing.gguf"), env })).toThrow(/missing\.gguf.*--model/);
    expect(() => resolveModelPath({ env: { ...env, LLAMBDA_MODEL: join(base, "gone.gguf") } })).toThrow(/LLAMBDA_MODEL/);
  });

  it("names both npm run model:pull and npm run model:tiny when nothing exists", () => {
    const empty = join(dir, "empty-models");
    let error: unknown;
    try {
      resolveModelPath({ env: { LLAMBDA_MODELS_DIR: empty } });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ModelNotFoundError);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toContain("npm run model:pull");
    expect((error as Error).message).toContain("npm run model:tiny");
  });
});

// ---------------------------------------------------------------------------------------------------------------

describe("pull", () => {
  const dnsFailure = () =>
    Promise.reject(
      new TypeError("fetch failed", {
        cause: Object.assign(new Error("getaddrinfo ENOTFOUND huggingface.co"), { code: "ENOTFOUND" }),
      }),
    );

  it("fails fast with a clear message when huggingface.co is unreachable", async () => {
    const env = { LLAMBDA_MODELS_DIR: join(dir, "pull-offline") };
    const error = await pullModel({ env, fetchImpl: dnsFailure }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PullError);
    expect((error as PullError).reason).toBe("offline");
    const message = (error as PullError).message;
    expect(message).toContain("needs internet access to huggingface.co");
    expect(message).toContain(getModel().url);
    expect(message).toContain("npm run model:tiny");
    expect(message).toContain("ENOTFOUND");
    expect(await readdir(env.LLAMBDA_MODELS_DIR)).toEqual([]); // no temp file left behind
  });

  it("downloads to a staging file, verifies, renames into place and is idempotent", async () => {
    const payload = randomBytes(1 << 20);
    const server = await modelServer({ "/m.gguf": payload });
    try {
      const modelsDir = join(dir, "pull-ok");
      const env = { LLAMBDA_MODELS_DIR: modelsDir, [MODEL_URL_OVERRIDE_ENV]: server.url("/m.gguf") };
      const progress: number[] = [];

      // The manifest's sha256 is the real model's: these bytes must be refused and leave nothing behind.
      const mismatch = await pullModel({ env }).catch((e: unknown) => e);
      expect((mismatch as PullError).reason).toBe("checksum");
      expect(await readdir(modelsDir)).toEqual([]);

      const first = await pullModel({ env, verify: false, onProgress: (p) => progress.push(p.receivedBytes) });
      expect(first.status).toBe("downloaded");
      expect(first.path).toBe(join(modelsDir, `${defaultModelId}.gguf`));
      // Compared by hash: vitest's deep equality walks a Buffer byte by byte (seconds and GBs for megabytes).
      expect(sha(await readFile(first.path))).toBe(sha(payload));
      expect(first.sha256).toBe(await sha256File(first.path));
      expect(progress.at(-1)).toBe(payload.length);
      expect(await readdir(modelsDir)).toEqual([`${defaultModelId}.gguf`]);

      const requestsBefore = server.requests.length;
      const second = await pullModel({ env, verify: false });
      expect(second.status).toBe("already-present");
      expect(server.requests.length).toBe(requestsBefore);

      const httpError = await pullModel({ env: { ...env, [MODEL_URL_OVERRIDE_ENV]: server.url("/gone.gguf") }, force: true, verify: false }).catch((e: unknown) => e);
      expect((httpError as PullError).reason).toBe("http");
      expect((httpError as PullError).message).toContain("HTTP 404");
      // Compared by hash: vitest's deep equality walks a Buffer byte by byte (seconds and GBs for megabytes).
      expect(sha(await readFile(first.path))).toBe(sha(payload)); // a failed re-download keeps the existing file
    } finally {
      await server.close();
    }
  }, 60_000);

  it("resumes an interrupted download where it stopped, instead of starting over", async () => {
    const payload = randomBytes(24 << 20);
    const server = await modelServer({ "/big.gguf": payload });
    try {
      const modelsDir = join(dir, "pull-resume");
      const entry = { ...getModel(), id: "big", url: server.url("/big.gguf"), sha256: sha(payload), sizeBytes: payload.length };
      const env = { LLAMBDA_MODELS_DIR: modelsDir };

      // The connection goes silent half way: the pull stops, keeping what it has.
      server.hangAfterBytes = 12 << 20;
      const stopped = await pullModel({ env, entry, stallTimeoutMs: 1500 }).catch((e: unknown) => e);
      expect(stopped).toBeInstanceOf(PullError);
      expect((stopped as PullError).reason).toBe("network");
      expect((stopped as PullError).message).toContain("npm run model:pull` again: it resumes");
      expect(await readdir(modelsDir)).toEqual(["big.gguf.download.ipull"]);

      server.hangAfterBytes = undefined;
      const sentBefore = server.bytesSent;
      const resumed = await pullModel({ env, entry });
      expect(resumed).toMatchObject({ status: "downloaded", verified: true, bytes: payload.length });
      expect(sha(await readFile(join(modelsDir, "big.gguf")))).toBe(sha(payload));
      // Chunks finished before the interruption were not fetched again.
      expect(server.bytesSent - sentBefore).toBeLessThan(payload.length - (4 << 20));
      expect(await readdir(modelsDir)).toEqual(["big.gguf"]);
    } finally {
      await server.close();
    }
  }, 120_000);

  it("pulls a model's LoRA adapter beside it, verified against its own sha256", async () => {
    const model = Buffer.from("model bytes ".repeat(100));
    const adapter = Buffer.from("adapter bytes ".repeat(50));
    const server = await modelServer({ "/base.gguf": model, "/adapter.gguf": adapter });
    try {
      const modelsDir = join(dir, "pull-lora");
      const entry = {
        ...getModel(),
        id: "fine-tune",
        url: server.url("/base.gguf"),
        sha256: sha(model),
        sizeBytes: model.length,
        lora: { url: server.url("/adapter.gguf"), sha256: sha(adapter) },
      };
      const env = { LLAMBDA_MODELS_DIR: modelsDir };
      const result = await pullModel({ env, entry });
      expect(result.lora).toMatchObject({ path: join(modelsDir, "fine-tune.lora.gguf"), status: "downloaded", verified: true });
      expect(await readFile(join(modelsDir, "fine-tune.lora.gguf"))).toEqual(adapter);
      const wrong = await pullModel({ env, force: true, entry: { ...entry, lora: { ...entry.lora, sha256: sha(model) } } }).catch((e: unknown) => e);
      expect((wrong as PullError).reason).toBe("checksum");
      expect((wrong as PullError).message).toContain("adapter.gguf");
    } finally {
      await server.close();
    }
  }, 60_000);
});

const sha = (bytes: Buffer) => createHash("sha256").update(bytes).digest("hex");

interface ModelServer {
  url(path: string): string;
  requests: Array<{ method: string; path: string; range?: string }>;
  /** Body bytes written so far for ranged requests (the downloader's transfers). */
  bytesSent: number;
  /** When set, the server stops sending (without closing) once this many body bytes have been written in all. */
  hangAfterBytes: number | undefined;
  close(): Promise<void>;
}

/** A local HTTP file server with byte ranges (as Hugging Face's CDN has): the only network the tests use. */
async function modelServer(files: Record<string, Buffer>): Promise<ModelServer> {
  const sockets = new Set<Socket>();
  const state: ModelServer = {
    url: (path) => `http://127.0.0.1:${(server.address() as AddressInfo).port}${path}`,
    requests: [],
    bytesSent: 0,
    hangAfterBytes: undefined,
    close: () => {
      for (const socket of sockets) socket.destroy();
      return new Promise((resolveClose) => server.close(() => resolveClose()));
    },
  };
  const server = createServer((request, response) => {
    const path = (request.url ?? "/").split("?")[0] ?? "/";
    const range = request.headers.range;
    state.requests.push({ method: request.method ?? "GET", path, ...(range ? { range } : {}) });
    const file = files[path];
    if (!file) {
      response.writeHead(404, "Not Found").end("not found");
      return;
    }
    const match = /^bytes=(\d+)-(\d*)$/.exec(range ?? "");
    const start = match ? Number(match[1]) : 0;
    const end = match && match[2] ? Math.min(Number(match[2]), file.length - 1) : file.length - 1;
    const body = file.subarray(start, end + 1);
    if (match && state.hangAfterBytes !== undefined && state.bytesSent >= state.hangAfterBytes) return; // silent
    response.writeHead(match ? 206 : 200, {
      "accept-ranges": "bytes",
      "content-length": String(body.length),
      "content-type": "application/octet-stream",
      ...(match ? { "content-range": `bytes ${start}-${end}/${file.length}` } : {}),
    });
    if (request.method === "HEAD") {
      response.end();
      return;
    }
    if (!match) {
      // A request for the whole file: the downloader reads its headers (size, range support) and drops it.
      response.end(body);
      return;
    }
    const allowed = state.hangAfterBytes === undefined ? body.length : Math.max(0, Math.min(body.length, state.hangAfterBytes - state.bytesSent));
    state.bytesSent += allowed;
    if (allowed === body.length) response.end(body);
    else response.write(body.subarray(0, allowed)); // and then nothing more
  });
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolveListen) => server.listen(0, "127.0.0.1", resolveListen));
  return state;
}
