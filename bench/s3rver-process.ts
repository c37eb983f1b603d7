/**
 * s3rver in a process of its own, for benchmarks that time a function against local storage: on AWS, S3 does its work
 * elsewhere, so serving objects must not run on the measured function's event loop (DynamoDB Local is its own JVM).
 *   tsx bench/s3rver-process.ts <directory> <port>   prints "ready <url>" once it listens; exits on SIGTERM.
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { freePort, startS3 } from "../infra/local/services.ts";

export interface S3rverProcess {
  url: string;
  close(): Promise<void>;
}

/** Starts this file as a child process and waits for its "ready" line. */
export async function startS3rverProcess(directory: string): Promise<S3rverProcess> {
  const port = await freePort();
  const child = spawn(process.execPath, ["--import", "tsx", fileURLToPath(import.meta.url), directory, String(port)], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const exited = once(child, "exit").then(([code]) => {
    throw new Error(`s3rver process exited (code ${String(code)}) before it was ready`);
  });
  const ready = (async () => {
    for await (const line of createInterface({ input: child.stdout! })) if (line.startsWith("ready ")) return line.slice("ready ".length);
    throw new Error("s3rver process closed its output before it was ready");
  })();
  const url = await Promise.race([ready, exited]);
  exited.catch(() => undefined);
  return {
    url,
    close: async () => {
      if (child.exitCode !== null) return;
      child.kill("SIGTERM");
      await once(child, "exit");
    },
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [directory, port] = process.argv.slice(2);
  if (!directory || !port) {
    process.stderr.write("usage: tsx bench/s3rver-process.ts <directory> <port>\n");
    process.exit(2);
  }
  const server = await startS3(directory, Number(port));
  process.stdout.write(`ready ${server.url}\n`);
  process.on("SIGTERM", () => void server.close().then(() => process.exit(0)));
}
