import { spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { repoRoot } from "./repo-root.ts";

/**
 * `npx llambda` in a process of its own, as a user runs it, for the tests that watch how a run ends: its output as it
 * comes, and the processes it leaves (DynamoDB Local's Java process holds the data folder in its command line).
 */

/** Pids of processes whose command line mentions every one of `texts` (Linux /proc). */
export function processesMentioning(...texts: string[]): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const commandLine = readFileSync(`/proc/${entry}/cmdline`, "utf8");
      if (texts.every((text) => commandLine.includes(text))) pids.push(Number(entry));
    } catch {
      // The process ended while we looked.
    }
  }
  return pids;
}

export interface CliExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface CliRun {
  child: ReturnType<typeof spawn>;
  exit: Promise<CliExit>;
  /** Resolves once stderr holds `text`; rejects if the CLI ends first. */
  waitForStderr(text: string): Promise<void>;
}

/** DynamoDB Local's Java processes on `dataDir` (the CLI's own command line names the folder too). */
export const dynamoDbLocalProcesses = (dataDir: string) => processesMentioning("DynamoDBLocal.jar", dataDir);

/** Starts the package's bin with `args` from the repository's root; `env` adds to (or overrides) this process's. */
export function startCli(args: string[], env: NodeJS.ProcessEnv = {}): CliRun {
  const child = spawn(process.execPath, [join(repoRoot, "infra/local/bin.mjs"), ...args], {
    cwd: repoRoot,
    env: { ...process.env, LLAMBDA_MODEL: "", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  const waiters: Array<{ text: string; resolve: () => void }> = [];
  child.stdout!.on("data", (data: Buffer) => (stdout += data.toString()));
  child.stderr!.on("data", (data: Buffer) => {
    stderr += data.toString();
    for (const waiter of waiters.filter((w) => stderr.includes(w.text))) waiter.resolve();
  });
  const exit = new Promise<CliExit>((resolveExit) => child.on("close", (code, signal) => resolveExit({ code, signal, stdout, stderr })));
  return {
    child,
    exit,
    waitForStderr: (text) =>
      new Promise<void>((resolveWait, rejectWait) => {
        if (stderr.includes(text)) return resolveWait();
        waiters.push({ text, resolve: resolveWait });
        void exit.then(() => rejectWait(new Error(`The CLI ended before printing ${JSON.stringify(text)}:\n${stderr}`)));
      }),
  };
}
