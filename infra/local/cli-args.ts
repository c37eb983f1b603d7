/**
 * `npm start` / `npx llambda`: the command line, checked before anything starts. Numeric flags are checked by the
 * rules the functions apply to the settings they become (their exported ranges and intInRange, intEnv's rule), so a
 * value the CLI accepts never fails the twin's functions at init. Every mistake is a UsageError: one line and the
 * usage on stderr, exit status 2.
 */
import { existsSync, realpathSync, statSync } from "node:fs";
import { resolve, sep } from "node:path";
import { parseArgs } from "node:util";
import { chunkTokensRange, DEFAULT_CHUNK_TOKENS, formatBytes, LimitDefaults } from "../../functions/chunk/limits.ts";
import { InferSettingRanges } from "../../functions/infer/config.ts";
import { intInRange, type IntRange } from "../../functions/shared/config.ts";
import { schemaIdForKey, type SchemaRouting } from "../../functions/start/schema-routing.ts";
import { BucketLayout } from "../../functions/shared/bucket-layout.ts";

export class UsageError extends Error {
  override readonly name = "UsageError";
}

const { uploadsPrefix } = BucketLayout;

export const usage = `Usage: npx llambda [options] <file...>        (or: npm start -s -- [options] <file...>)

Runs each file (PDF, .txt, .md, .jsonl, .csv) through the llambda workflow on the local twin (s3rver, DynamoDB Local,
the workflow definition the stack deploys, and llama.cpp) and prints each document's outcome on stdout; progress and
the table's stream records go to stderr. (Plain \`npm start\` prints npm's own banner on stdout: use -s to pipe.)

Options:
  --json                    one JSON object per document on stdout (file, key, documentId, schemaId, status, result,
                            chunks, error, cause, item: the full DynamoDB item)
  --schema <id>             the extraction schema: the file is uploaded under the prefix that routes to it, exactly
                            as on AWS (cdk.json llambda:schemaRoutes; e.g. invoice -> uploads/invoices/)
  --prefix <key prefix>     upload under this S3 key prefix (default uploads/); the schema follows from it as on AWS
  --model <path.gguf>       model file (default: $LLAMBDA_MODEL, else the model of \`npm run model:pull\`, else the
                            tiny test model of \`npm run model:tiny\`, which is announced on stderr)
  --chunk-tokens <n>        maximum tokens per chunk, ${chunkTokensRange.min} to ${chunkTokensRange.max} (default ${DEFAULT_CHUNK_TOKENS})
  --threads <n>             llama.cpp threads, ${InferSettingRanges.threads.min} to ${InferSettingRanges.threads.max} (default: cores - 1, at least 1)
  --context-size <n>        model context per sequence, tokens, ${InferSettingRanges.contextSize.min} to ${InferSettingRanges.contextSize.max} (default 8192, at most the model's)
  --max-output-tokens <n>   answer budget per chunk, tokens, ${InferSettingRanges.maxOutputTokens.min} to ${InferSettingRanges.maxOutputTokens.max} (default 1024)
  --batch-size <n>          chunks per inference invocation, ${InferSettingRanges.parallelSequences.min} to ${InferSettingRanges.parallelSequences.max} (default 4)
  --data-dir <dir>          where local S3 and DynamoDB keep data (default .llambda)
  --stream-out <file.jsonl> also write the table's stream records there, one per line, in the shape a Lambda
                            consumer receives (the Records of a DynamoDBStreamEvent)
  --review <dir>            copy each document's review page (HTML: its pages with a box over each grounded value,
                            and the fields) from the twin's bucket to <dir>/<file name>.review.html (created if
                            missing); the summary says where (--json: reviewPage)
  --quiet-stream            do not show stream records on stderr
  --verbose                 handler logs (INFO) on stderr
  -h, --help                this help

Object keys: <prefix><file name>; files that share a name keep as many of their folders as tells them apart, so
a/same.pdf and b/same.pdf stay two documents (uploads/a/same.pdf, uploads/b/same.pdf); a file given twice is an error.

Environment: LLAMBDA_FAULTS="infer:error=0.2,..." injects faults into the twin (docs/resilience.md).
The chunk function's limits apply as on AWS: its handler reads them from the same variables by the same rule, with
the same defaults (LLAMBDA_MAX_BYTES ${formatBytes(LimitDefaults.maxBytes)}, LLAMBDA_MAX_PAGES ${LimitDefaults.maxPages}, LLAMBDA_MAX_CHUNKS ${LimitDefaults.maxChunks}, also the most
records of a batch, LLAMBDA_MAX_RECORD_BYTES ${formatBytes(LimitDefaults.maxRecordBytes)}; docs/input-errors.md): a file over one ends
FAILED with TOO_LARGE. Set them to try other values (\`npm run chunk -- --no-limits\` shows what the chunker makes of
a file without them).

A file the twin does not take (its S3 keeps keys as files under --data-dir and refuses a '.' or '..' segment, or a
file name over 233 bytes) is reported FAILED with error UPLOAD_FAILED, and the other files still run. If DynamoDB
Local stops during the run, the other services stop too and each document not yet reported is INTERRUPTED, with how
to resume: the same command again with the same --data-dir uploads the files again and completes them.

Exit status: 0 when every document ends COMPLETED or PARTIAL; 1 when any does not (FAILED, INTERRUPTED), or when
stdout was closed before every document was reported; 2 on a usage or setup error (also: no Java for DynamoDB Local,
no model); 130/143 when interrupted (SIGINT/SIGTERM). Local services are stopped and temporary files removed in every
case.`;

export interface CliOptions {
  help: boolean;
  json: boolean;
  files: string[];
  schema?: string;
  prefix?: string;
  model?: string;
  chunkTokens?: number;
  threads?: number;
  contextSize?: number;
  maxOutputTokens?: number;
  batchSize?: number;
  dataDir: string;
  streamOut?: string;
  /** Where to copy the documents' review pages. */
  review?: string;
  quietStream: boolean;
  verbose: boolean;
}

const optionSpec = {
  json: { type: "boolean", default: false },
  schema: { type: "string" },
  prefix: { type: "string" },
  model: { type: "string" },
  "chunk-tokens": { type: "string" },
  threads: { type: "string" },
  "context-size": { type: "string" },
  "max-output-tokens": { type: "string" },
  "batch-size": { type: "string" },
  "data-dir": { type: "string", default: ".llambda" },
  "stream-out": { type: "string" },
  review: { type: "string" },
  "quiet-stream": { type: "boolean", default: false },
  verbose: { type: "boolean", default: false },
  help: { type: "boolean", short: "h", default: false },
} as const;

function intFlag(name: string, value: string | undefined, range: IntRange): number | undefined {
  if (value === undefined) return undefined;
  const number = intInRange(value, range);
  if (number === undefined) throw new UsageError(`--${name} must be an integer from ${range.min} to ${range.max}, got ${JSON.stringify(value)}`);
  return number;
}

/** Parses and checks the arguments (files must exist); throws UsageError. */
export function parseCliArgs(args: string[], cwd: string = process.cwd()): CliOptions {
  let parsed;
  try {
    parsed = parseArgs({ args, allowPositionals: true, strict: true, options: optionSpec });
  } catch (error) {
    // node:util's messages are clear ("Unknown option '--x'"); its error code and stack are not for users.
    throw new UsageError((error as Error).message.split("\n")[0]!.replace(/\. To specify a positional argument.*$/, "."));
  }
  const { values, positionals } = parsed;
  const options: CliOptions = {
    help: values.help,
    json: values.json,
    files: positionals.map((file) => resolve(cwd, file)),
    dataDir: resolve(cwd, values["data-dir"]),
    quietStream: values["quiet-stream"],
    verbose: values.verbose,
    ...(values.schema === undefined ? {} : { schema: values.schema }),
    ...(values.prefix === undefined ? {} : { prefix: values.prefix }),
    ...(values.model === undefined ? {} : { model: values.model }),
    ...(values["stream-out"] === undefined ? {} : { streamOut: resolve(cwd, values["stream-out"]) }),
    ...(values.review === undefined ? {} : { review: resolve(cwd, values.review) }),
  };
  if (options.help) return options;
  const ints = {
    chunkTokens: intFlag("chunk-tokens", values["chunk-tokens"], chunkTokensRange),
    threads: intFlag("threads", values.threads, InferSettingRanges.threads),
    contextSize: intFlag("context-size", values["context-size"], InferSettingRanges.contextSize),
    maxOutputTokens: intFlag("max-output-tokens", values["max-output-tokens"], InferSettingRanges.maxOutputTokens),
    // The Map's batch becomes the inference function's parallel sequences.
    batchSize: intFlag("batch-size", values["batch-size"], InferSettingRanges.parallelSequences),
  };
  for (const [key, value] of Object.entries(ints)) if (value !== undefined) Object.assign(options, { [key]: value });
  if (options.prefix !== undefined && !options.prefix.startsWith(uploadsPrefix)) {
    throw new UsageError(`--prefix must start with ${uploadsPrefix} (only uploads there start the workflow), got ${JSON.stringify(options.prefix)}`);
  }
  if (options.review !== undefined) {
    if (values.review!.trim() === "") throw new UsageError("--review needs a directory");
    if (existsSync(options.review) && !statSync(options.review).isDirectory()) throw new UsageError(`--review: not a directory: ${options.review}`);
  }
  if (options.files.length === 0) throw new UsageError("No input files given.");
  for (const file of options.files) {
    if (!existsSync(file) || !statSync(file).isFile()) throw new UsageError(`Not a file: ${file}`);
  }
  return options;
}

/**
 * The object key of each file: `prefix` + its name, or, for files that share a name, as many of the folders above it
 * as it takes to tell them apart (a/same.pdf and b/same.pdf → `uploads/a/same.pdf`, `uploads/b/same.pdf`). Distinct
 * files get distinct keys, so no document replaces another; a file given twice (by any path that resolves to it) is
 * a UsageError rather than a silent second upload of the same key.
 */
export function uploadKeys(files: readonly string[], prefix: string = uploadsPrefix): string[] {
  const seen = new Map<string, string>();
  for (const file of files) {
    const real = realpathSync(file);
    const earlier = seen.get(real);
    if (earlier !== undefined) throw new UsageError(`The same file is given twice: ${earlier} and ${file}`);
    seen.set(real, file);
  }
  const parts = files.map((file) => resolve(file).split(sep).filter((part) => part !== ""));
  const tail = (index: number, depth: number) => parts[index]!.slice(-depth).join("/");
  const names = files.map((_, index) => tail(index, 1));
  const byName = new Map<string, number[]>();
  names.forEach((name, index) => byName.set(name, [...(byName.get(name) ?? []), index]));
  for (const group of byName.values()) {
    if (group.length < 2) continue;
    // Deeper until the group's keys differ: at full depth they do, the paths being distinct.
    let depth = 2;
    while (new Set(group.map((index) => tail(index, depth))).size < group.length) depth++;
    for (const index of group) names[index] = tail(index, depth);
  }
  const base = prefix === "" || prefix.endsWith("/") ? prefix : `${prefix}/`;
  return names.map((name) => base + name);
}

/** The suffix of a review page copied by `--review`. */
export const reviewPageSuffix = ".review.html";

/**
 * The file name each upload's review page gets under `--review <dir>`: the uploaded file's name and `.review.html`;
 * for files that share a name, the folders their keys keep (uploadKeys), joined with `_`, so no page overwrites another.
 */
export function reviewPageFileNames(keys: readonly string[], prefix: string = uploadsPrefix): string[] {
  const names = keys.map((key) => key.slice(key.lastIndexOf("/") + 1));
  const counts = new Map<string, number>();
  for (const name of names) counts.set(name, (counts.get(name) ?? 0) + 1);
  return keys.map((key, index) => {
    const name = names[index]!;
    const relative = key.startsWith(prefix) ? key.slice(prefix.length) : key;
    return `${counts.get(name)! > 1 ? relative.replaceAll("/", "_") : name}${reviewPageSuffix}`;
  });
}

/**
 * The key prefix for `--schema`/`--prefix`, as AWS would route it: the upload prefix whose route gives that schema
 * (the default schema: uploads/). Throws UsageError for an unknown schema, one no upload prefix gets, or a
 * --prefix that routes elsewhere.
 */
export function uploadPrefixFor(options: Pick<CliOptions, "schema" | "prefix">, routing: SchemaRouting, knownSchemaIds: readonly string[]): string {
  const { schema, prefix } = options;
  if (schema !== undefined && !knownSchemaIds.includes(schema)) {
    throw new UsageError(`Unknown schema ${JSON.stringify(schema)}; known: ${knownSchemaIds.join(", ")}`);
  }
  if (prefix !== undefined) {
    const base = prefix.endsWith("/") ? prefix : `${prefix}/`;
    const routed = schemaIdForKey(routing, base);
    if (schema !== undefined && routed !== schema) {
      throw new UsageError(`--prefix ${prefix} gets schema ${routed} (as on AWS), not ${schema}; give one of the two`);
    }
    return base;
  }
  if (schema === undefined || schema === routing.defaultSchemaId) return uploadsPrefix;
  const prefixes = Object.entries(routing.routes)
    .filter(([, id]) => id === schema)
    .map(([routePrefix]) => routePrefix)
    .sort((a, b) => a.length - b.length);
  if (prefixes.length === 0) {
    throw new UsageError(
      `No upload prefix routes to schema ${schema} (cdk.json llambda:schemaRoutes), so no upload would get it on AWS either; add a route`,
    );
  }
  return prefixes[0]!;
}

/** Checks that every key gets `schema` (a relative path can itself start with a routed folder such as invoices/). */
export function checkKeysRouteTo(keys: readonly string[], schema: string | undefined, routing: SchemaRouting): void {
  if (schema === undefined) return;
  for (const key of keys) {
    const routed = schemaIdForKey(routing, key);
    if (routed !== schema) throw new UsageError(`${key} would get schema ${routed} (as on AWS), not ${schema}`);
  }
}
