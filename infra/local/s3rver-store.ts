/**
 * The twin's S3 store: s3rver's file-system store, refusing the bucket names and keys it cannot keep inside its
 * folder. s3rver (3.7.1) turns a key into a path with path.join, so `..` segments climb out of the data folder, and
 * it writes each object as `<last segment>._S3rver_<resource>` with a write stream that has no 'error' listener, so
 * a segment too long for a file name crashes the process that runs it (the twin runs it in its own). Real S3 takes
 * both kinds of key; the twin answers them with an S3 error instead, which the client reports like any other.
 */
import { createRequire } from "node:module";
import { isAbsolute, relative, sep } from "node:path";

const require = createRequire(import.meta.url);

interface FilesystemStore {
  readonly rootDirectory: string;
  getBucketPath(bucket: string): string;
  getResourcePath(bucket: string, key?: string, resource?: string): string;
}
const FilesystemStore = require("s3rver/lib/stores/filesystem.js") as new (rootDirectory: string) => FilesystemStore;
/** s3rver's error class: the server answers it with its code, message and HTTP status (400 for the codes below). */
const S3Error = require("s3rver/lib/models/error.js") as new (code: string, message: string) => Error;

/** S3's own bound on a key, in UTF-8 bytes. */
const maxKeyBytes = 1024;
/** NAME_MAX of common file systems (ext4, APFS, NTFS), in bytes. */
const maxFileNameBytes = 255;
/** The longest name s3rver gives an object's files: `<last segment>` + this (the others are shorter). */
const longestObjectFileSuffix = "._S3rver_metadata.json";

const utf8Bytes = (text: string) => Buffer.byteLength(text, "utf8");

/** Why s3rver cannot store `key` inside its bucket's folder, as the S3 error to answer with; undefined when it can. */
function unstorableKey(key: string): { code: "InvalidArgument" | "KeyTooLongError"; message: string } | undefined {
  if (utf8Bytes(key) > maxKeyBytes) {
    return { code: "KeyTooLongError", message: `Your key is too long: ${utf8Bytes(key)} bytes, S3 allows ${maxKeyBytes}` };
  }
  const segments = key.split("/");
  if (segments.some((segment) => segment === "." || segment === "..")) {
    return { code: "InvalidArgument", message: "The twin's S3 stores keys as file paths and refuses a key with a '.' or '..' segment" };
  }
  const last = segments.length - 1;
  for (const [index, segment] of segments.entries()) {
    const bytes = utf8Bytes(segment) + (index === last ? utf8Bytes(longestObjectFileSuffix) : 0);
    if (bytes > maxFileNameBytes) {
      const name = index === last ? "file" : "folder";
      return {
        code: "KeyTooLongError",
        message: `The twin's S3 stores keys as file paths: the ${name} name for "${segment.slice(0, 40)}…" would be ${bytes} bytes, over the ${maxFileNameBytes} a file system allows`,
      };
    }
  }
  return undefined;
}

/** s3rver's file-system store, with every bucket and object path checked before it is used. */
export class ContainedFilesystemStore extends FilesystemStore {
  override getBucketPath(bucket: string): string {
    return this.contained(super.getBucketPath(this.checkedBucket(bucket)), this.rootDirectory, bucket);
  }

  override getResourcePath(bucket: string, key = "", resource?: string): string {
    const bucketPath = super.getBucketPath(this.checkedBucket(bucket));
    // "" is the bucket's own resources (uploads, CORS, website), beside the objects.
    const problem = key === "" ? undefined : unstorableKey(key);
    if (problem) throw new S3Error(problem.code, problem.message);
    return this.contained(super.getResourcePath(bucket, key, resource), bucketPath, key);
  }

  private checkedBucket(bucket: string): string {
    // A bucket is one folder under the root; s3rver checks names only when a bucket is created.
    if (bucket === "" || bucket === "." || bucket === ".." || /[/\\]/.test(bucket)) {
      throw new S3Error("InvalidBucketName", "The specified bucket is not valid.");
    }
    return bucket;
  }

  /** The last guard: whatever the checks above missed, no path outside `folder` is used. */
  private contained(path: string, folder: string, name: string): string {
    const inside = relative(folder, path);
    if (inside === ".." || inside.startsWith(`..${sep}`) || isAbsolute(inside)) {
      throw new S3Error("InvalidArgument", `The twin's S3 refuses ${JSON.stringify(name)}: it would be stored outside its folder`);
    }
    return path;
  }
}
