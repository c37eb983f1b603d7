import { mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort, localCredentials, localRegion, startS3, type S3Server } from "../../infra/local/services.ts";

/**
 * The twin's S3 (s3rver, started by startS3 as LocalTwin.start starts it, under <data dir>/s3) stores each key as a
 * file path. Keys that would leave the data folder, or name a file the file system cannot hold, are refused with an
 * S3 error the client can read, and the server keeps serving.
 */

/** Every file under `root`, relative to it. */
function filesUnder(root: string): string[] {
  return readdirSync(root, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => relative(root, join(entry.parentPath, entry.name)));
}

describe("the twin's S3 keeps every key inside its data folder", () => {
  let dir: string;
  let dataDir: string;
  let server: S3Server;
  let s3: S3Client;
  const bucket = "llambda-test";

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "llambda-twin-s3-"));
    dataDir = join(dir, "data");
    mkdirSync(join(dir, "outside"));
    server = await startS3(join(dataDir, "s3"), await freePort());
    s3 = new S3Client({ endpoint: server.url, region: localRegion, credentials: localCredentials, forcePathStyle: true });
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  });
  afterAll(async () => {
    s3?.destroy();
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const send = (command: PutObjectCommand | GetObjectCommand) =>
    s3.send(command as PutObjectCommand).then(
      () => ({ name: "ok", message: "" }),
      (error: Error & { $metadata?: { httpStatusCode?: number } }) => ({ name: error.name, message: error.message, status: error.$metadata?.httpStatusCode }),
    );

  it("refuses a key with '..' segments (InvalidArgument, 400) and writes nothing outside the data folder", async () => {
    // <bucket>/uploads/.. is the bucket folder; three more climb to the test's folder.
    for (const key of ["uploads/../../../../outside/x.txt", "uploads/./x.txt", "../x.txt", ".."]) {
      const put = await send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: "escaped" }));
      expect(put, key).toMatchObject({ name: "InvalidArgument", status: 400 });
      expect(put.message, key).toContain("'.' or '..'");
    }
    expect(filesUnder(dir).filter((file) => !file.startsWith(`data/s3/${bucket}/`))).toEqual([]);
    // Reads are refused the same way, rather than served from outside the bucket.
    const get = await send(new GetObjectCommand({ Bucket: bucket, Key: "uploads/../../../../outside/x.txt" }));
    expect(get).toMatchObject({ name: "InvalidArgument", status: 400 });
  });

  it("refuses a bucket name that is a path ('..', or with '/' in it) rather than store outside the data folder", async () => {
    // Sent as raw HTTP: the SDK would not build these requests, but anything on the machine can send them.
    const put = (path: string) =>
      new Promise<{ status: number; body: string }>((resolvePut, rejectPut) => {
        // A path option is sent as written; a URL would be normalised first.
        const { hostname, port } = new URL(server.url);
        const req = request({ hostname, port, path, method: "PUT" }, (res) => {
          let body = "";
          res.on("data", (data: Buffer) => (body += data.toString()));
          res.on("end", () => resolvePut({ status: res.statusCode ?? 0, body }));
        });
        req.on("error", rejectPut);
        req.end("escaped");
      });
    for (const path of ["/../x.txt", "/../../outside/x.txt", "/..%2F..%2Foutside/x.txt", "/./x.txt"]) {
      const answer = await put(path);
      expect(answer.status, path).toBe(400);
      expect(answer.body, path).toMatch(/<Code>(InvalidBucketName|InvalidArgument)<\/Code>/);
    }
    expect(filesUnder(dir).filter((file) => !file.startsWith(`data/s3/${bucket}/`))).toEqual([]);
  });

  it("refuses a name too long for a file (KeyTooLongError, 400) and keeps serving", async () => {
    const longName = `${"n".repeat(246)}.txt`;
    const put = await send(new PutObjectCommand({ Bucket: bucket, Key: `uploads/${longName}`, Body: "long" }));
    expect(put).toMatchObject({ name: "KeyTooLongError", status: 400 });
    expect(put.message).toContain("bytes");
    // Over S3's own limit of 1,024 bytes, whatever its parts.
    const tooLong = await send(new PutObjectCommand({ Bucket: bucket, Key: `uploads/${"a/".repeat(520)}x`, Body: "long" }));
    expect(tooLong).toMatchObject({ name: "KeyTooLongError", status: 400 });
    // The server is still up, and keys a file can hold are stored as before.
    const ok = await send(new PutObjectCommand({ Bucket: bucket, Key: `uploads/${"n".repeat(200)}.txt`, Body: "fine" }));
    expect(ok).toEqual({ name: "ok", message: "" });
    const dots = await send(new PutObjectCommand({ Bucket: bucket, Key: "uploads/..x/a..b/...", Body: "dots in names are fine" }));
    expect(dots).toEqual({ name: "ok", message: "" });
  });
});
