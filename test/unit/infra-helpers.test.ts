/** The infra helpers that need no synth: the upload event pattern for the CDK, the model artifact, the image's run-time closure. */
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { REPO_ROOT, toCdkEventPattern } from "../../infra/llambda-stack.ts";
import { otherModelFileExcludes, resolveModelArtifact } from "../../infra/model-artifact.ts";
import { runtimeClosure } from "../../infra/image/runtime-deps.ts";
import { OCR_EXTERNAL_PACKAGES, ocrLanguagePackage, ocrWorkerEntries } from "../../infra/image/bundle-ocr.ts";
import { uploadEventPattern } from "../../infra/specs.ts";


describe("infra helpers", () => {
  it("maps the specs' upload pattern to the CDK's EventPattern", () => {
    expect(toCdkEventPattern(uploadEventPattern("b"))).toEqual({
      source: ["aws.s3"],
      detailType: ["Object Created"],
      detail: { bucket: { name: ["b"] }, object: { key: [{ prefix: "uploads/" }] } },
    });
    expect(() => toCdkEventPattern({ "no-such-field": [] })).toThrow(/no-such-field/);
  });

  describe("model artifact", () => {
    let root: string;
    beforeAll(() => {
      root = mkdtempSync(join(tmpdir(), "llambda-infra-"));
      mkdirSync(join(root, "models"));
      writeFileSync(
        join(root, "models", "models.json"),
        JSON.stringify({
          defaultModelId: "m1",
          models: [
            { id: "m1", sha256: "b".repeat(64) },
            { id: "m2", sha256: null },
            { id: "ft", sha256: "d".repeat(64), lora: { url: "https://example.invalid/a.gguf", sha256: "E".repeat(64), scale: 0.5 } },
          ],
        }),
      );
      for (const name of ["m1.gguf", "m2.gguf", "tiny.gguf", "m3.gguf.part", "notes.md", "ft.gguf", "ft.lora.gguf"]) writeFileSync(join(root, "models", name), "x");
      return () => rmSync(root, { recursive: true, force: true });
    });

    it("takes the sha256 from the manifest, an override, or reports none", () => {
      expect(resolveModelArtifact(root, "m1")).toMatchObject({ present: true, sha256: "b".repeat(64), sha256Source: "manifest", relativePath: "models/m1.gguf" });
      expect(resolveModelArtifact(root, "m2")).toMatchObject({ present: true, sha256: "", sha256Source: "none", inManifest: true });
      expect(resolveModelArtifact(root, "m2", "C".repeat(64))).toMatchObject({ sha256: "c".repeat(64), sha256Source: "override" });
      expect(resolveModelArtifact(root, "zz")).toMatchObject({ present: false, inManifest: false, sha256Source: "none" });
      expect(() => resolveModelArtifact(root, "m1", "nothex")).toThrow(/sha256/);
      expect(() => resolveModelArtifact(root, "a/b")).toThrow(/Model id/);
    });

    it("names the LoRA adapter of a fine-tune and keeps it in the image context with its model", () => {
      const fineTune = resolveModelArtifact(root, "ft");
      expect(fineTune.lora).toEqual({ relativePath: "models/ft.lora.gguf", sha256: "e".repeat(64), scale: 0.5 });
      expect(resolveModelArtifact(root, "m1").lora).toBeUndefined();
      const excludes = otherModelFileExcludes(root, fineTune);
      expect(excludes).toContain("models/m1.gguf");
      expect(excludes).not.toContain("models/ft.lora.gguf");
      expect(excludes.slice(-2)).toEqual(["!models/ft.gguf", "!models/ft.lora.gguf"]);
    });

    it("excludes every other model file from the image context, keeping the selected one", () => {
      expect(otherModelFileExcludes(root, resolveModelArtifact(root, "m1"))).toEqual([
        "models/ft.gguf",
        "models/ft.lora.gguf",
        "models/m2.gguf",
        "models/m3.gguf.part",
        "models/tiny.gguf",
        "!models/m1.gguf",
      ]);
    });
  });

  it("computes node-llama-cpp's run-time closure from the lockfile, without unrelated packages", () => {
    const closure = runtimeClosure(REPO_ROOT, "node-llama-cpp");
    expect(closure).toContain("node_modules/node-llama-cpp");
    expect(closure).not.toContain("node_modules/aws-cdk-lib");
    expect(closure).not.toContain("node_modules/@aws-sdk/client-s3");
    expect(closure).not.toContain("node_modules/typescript"); // an optional peer of node-llama-cpp
    expect(closure.every((location) => location.startsWith("node_modules/"))).toBe(true);
  });

  it("ships the OCR image's external packages with their closures, none of the LLM's or the CDK's", () => {
    const closure = new Set([...OCR_EXTERNAL_PACKAGES, ocrLanguagePackage("eng")].flatMap((name) => runtimeClosure(REPO_ROOT, name)));
    for (const name of ["tesseract.js", "tesseract.js-core", "@tesseract.js-data/eng", "@napi-rs/canvas", "pdfjs-dist", "utif2"]) {
      expect(closure, name).toContain(`node_modules/${name}`);
    }
    for (const name of ["node-llama-cpp", "aws-cdk-lib", "@aws-sdk/client-s3"]) expect(closure, name).not.toContain(`node_modules/${name}`);
  });

  it("bundles every OCR worker-thread entry (functions/ocr/*worker*.ts, functions/shared/page-render/*worker*.ts) beside the handler, no test and no other module", () => {
    const root = mkdtempSync(join(tmpdir(), "llambda-ocr-entries-"));
    try {
      mkdirSync(join(root, "functions", "ocr"), { recursive: true });
      mkdirSync(join(root, "functions", "shared", "page-render"), { recursive: true });
      for (const name of ["handler.ts", "ocr-pages.ts", "deskew-worker.ts", "deskew-worker.test.ts", "tiff-worker.ts", "worker-notes.md"]) {
        writeFileSync(join(root, "functions", "ocr", name), "");
      }
      for (const name of ["page-renderer.ts", "render-worker.ts", "render-worker.test.ts"]) {
        writeFileSync(join(root, "functions", "shared", "page-render", name), "");
      }
      expect(ocrWorkerEntries(root)).toEqual([
        "functions/ocr/deskew-worker.ts",
        "functions/ocr/tiff-worker.ts",
        "functions/shared/page-render/render-worker.ts",
      ]);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
