/**
 * The image test's own processes and its log: commands run with a time limit in their own process group (so a timeout
 * or a signal kills the whole tree), the step log with timings, and removing directories that may hold mounts.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { closeSync, existsSync, openSync, readFileSync, writeSync } from "node:fs";
import { REPO } from "./options.ts";

/** A failed check or step: printed as one line, exit 1. */
export class ImageTestFailure extends Error {
  override readonly name = "ImageTestFailure";
}

export const started = performance.now();
export const timings: Array<[string, number]> = [];
export function log(message: string): void {
  console.log(`[test:image ${((performance.now() - started) / 1000).toFixed(1).padStart(6)} s] ${message}`);
}
export async function step<T>(name: string, work: () => Promise<T>): Promise<T> {
  log(`${name}...`);
  const t = performance.now();
  const result = await work();
  const ms = performance.now() - t;
  timings.push([name, ms]);
  log(`${name}: done in ${(ms / 1000).toFixed(1)} s`);
  return result;
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs a command with a time limit. Output is captured; with `logTo` it goes to that file instead, and with
 * `echo` matching lines are also printed as they come (the build's step headers).
 */
export function run(
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

export const children = new Set<ChildProcess>();
export function killTree(child: ChildProcess): void {
  if (child.pid === undefined || child.exitCode !== null) return;
  try {
    process.kill(-child.pid, "SIGKILL");
  } catch {
    /* already gone */
  }
}

export function tail(text: string, lines: number): string {
  return text.split("\n").slice(-lines).join("\n");
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * Removes a directory that may hold mounts: debootstrap mounts /proc (and may bind /dev) in the stand-in's root and
 * unmounts them only when it ends normally; dockerd can leave a network namespace mounted in its exec root. Unmount
 * whatever is still mounted there first, and never cross into another file system.
 */
export function removeTree(dir: string): void {
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
