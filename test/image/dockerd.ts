/**
 * This run's own dockerd: its data (images, BuildKit's cache) under the cache dir, its sockets in a temporary dir; the
 * Debian client that talks to it; the checks before starting it, and the lock that keeps two runs off one cache dir.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { options, TIMEOUTS } from "./options.ts";
import { ImageTestFailure, isAlive, log, run, sleep, tail, type RunResult } from "./processes.ts";

// Sockets, pid file and logs of this run's dockerd. /run (root's, not swept by /tmp cleaners) and short: a unix socket
// path must stay under 108 bytes.
// (Without root the run stops at its first check; the dir is removed on the way out.)
export const runDir = mkdtempSync(process.getuid?.() === 0 && existsSync("/run") ? "/run/llambda-image-test-" : join(tmpdir(), "llambda-image-test-"));
const dataRoot = join(options.cacheDir, "docker");
const socket = join(runDir, "docker.sock");
const dockerdLog = join(runDir, "dockerd.log");
let dockerd: ChildProcess | undefined;

export const dockerEnv: NodeJS.ProcessEnv = { ...process.env, DOCKER_HOST: `unix://${socket}`, DOCKER_BUILDKIT: "1" };
/** Debian's client: the daemon's built-in BuildKit. A newer client without buildx refuses DOCKER_BUILDKIT=1. */
export const DOCKER = process.env.LLAMBDA_DOCKER_CLIENT ?? "/usr/bin/docker";

export function docker(args: string[], timeoutMs: number, extra: Partial<Parameters<typeof run>[2]> = {}): Promise<RunResult> {
  return run(DOCKER, args, { timeoutMs, env: dockerEnv, ...extra });
}

export function preflight(): void {
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
export function lockCache(): void {
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

/** Removes this run's lock on the cache dir, if it took one. */
export function unlockCache(): void {
  if (lockedCache) rmSync(lockedCache, { force: true });
}

export async function startDockerd(): Promise<void> {
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

export async function stopDockerd(): Promise<void> {
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

export function printDockerdLog(): void {
  if (!existsSync(dockerdLog)) return;
  console.error(`dockerd log (last 40 lines of ${dockerdLog}):\n${tail(readFileSync(dockerdLog, "utf8"), 40)}`);
}
