import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CreateBucketCommand, S3Client } from "@aws-sdk/client-s3";
import { freePort, startS3 } from "../../infra/local/services.ts";

/** s3rver with buckets, and the SDK pointed at it through process.env as Lambda's would be (AWS_ENDPOINT_URL_S3). */
export interface S3Fixture {
  url: string;
  s3: S3Client;
  /** Stops s3rver, removes its data and puts process.env back as it was. */
  stop(): Promise<void>;
}

/**
 * Starts s3rver with `buckets` and sets the SDK's endpoint settings, plus `env` (e.g. a Lambda entry's settings), in
 * process.env: handlers find S3 the way they do on the twin.
 */
export async function startS3Fixture(buckets: readonly string[], env: Record<string, string> = {}): Promise<S3Fixture> {
  const savedEnv = { ...process.env };
  const directory = mkdtempSync(join(tmpdir(), "llambda-s3-"));
  const server = await startS3(directory, await freePort());
  Object.assign(process.env, {
    AWS_REGION: "us-east-1",
    AWS_ACCESS_KEY_ID: "S3RVER",
    AWS_SECRET_ACCESS_KEY: "S3RVER",
    AWS_ENDPOINT_URL_S3: server.url,
    // s3rver stores aws-chunked uploads with their framing; only send checksums when required.
    AWS_REQUEST_CHECKSUM_CALCULATION: "WHEN_REQUIRED",
    AWS_RESPONSE_CHECKSUM_VALIDATION: "WHEN_REQUIRED",
    ...env,
  });
  const s3 = new S3Client({ endpoint: server.url, forcePathStyle: true });
  for (const bucket of buckets) await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  return {
    url: server.url,
    s3,
    async stop() {
      s3.destroy();
      await server.close();
      rmSync(directory, { recursive: true, force: true });
      for (const key of Object.keys(process.env)) if (!(key in savedEnv)) delete process.env[key];
      Object.assign(process.env, savedEnv);
    },
  };
}
