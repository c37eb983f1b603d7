/**
 * `npm run eval -- --schema <id> [options] <dir>`: runs the documents of a folder through the local twin and scores
 * each extraction against the expected JSON beside it (`<dir>/Foo.pdf` ↔ `<dir>/Foo.json`), field by field
 * (bench/eval/score.ts). Progress goes to stderr; stdout carries only the report (a table, or one JSON object with
 * --json). Documents run one after another, so each one's time is its own.
 */
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, extname, join, resolve } from "node:path";
import { parseArgs } from "node:util";
import type { DocumentItem } from "../../functions/shared/contracts.ts";
import { ModelNotFoundError, resolveModelPath } from "../../models/paths.ts";
import { extractionSchemas, getExtractionSchema } from "../../functions/schemas/index.ts";
import { FUZZY_THRESHOLD, type ScoreOptions } from "./compare.ts";
import { schemaFields } from "./schema-fields.ts";
import {
  expectedObject,
  scoreDocument,
  scoreFailedDocument,
  summarize,
  type DocumentScore,
  type Summary,
} from "./score.ts";
import { summarizeTrust, type TrustInput, type TrustSummary } from "./trust.ts";
import type { DateOrder } from "./values.ts";

const INPUT_EXTENSIONS = [".pdf", ".txt", ".md"];

const usage = `Usage: npm run eval -- --schema <id> [options] <dir>

Runs every document of <dir> (.pdf, .txt, .md) that has an expected JSON file of the same name (Foo.pdf and Foo.json)
through the llambda workflow on the local twin, with the given extraction schema, and scores each extracted field
against the expected value. Prints accuracy per field, per document and overall. The expected JSON is an object, or an
array whose first element is used. Inputs without expected JSON, and expected JSON without input, are listed as skipped.

Options:
  --schema <id>             extraction schema (required): ${Object.keys(extractionSchemas).join(", ")}
  --model <path.gguf>       model file (default: $LLAMBDA_MODEL, else the model pulled by \`npm run model:pull\`)
  --threads <n>             llama.cpp threads (default: cores - 1, at least 1)
  --chunk-tokens <n>        maximum tokens per chunk (default 1000)
  --context-size <n>        model context per sequence, tokens (default 8192, at most the model's)
  --max-output-tokens <n>   answer budget per chunk, tokens (default 1024)
  --limit <n>               evaluate only the first n documents (by file name)
  --data-dir <dir>          where local S3 and DynamoDB keep data (default: a fresh temporary folder, removed after)
  --absent-as-null          score schema fields the expected JSON lacks as "expected null" (default: not scored)
  --date-order <dmy|mdy>    how to read 03/08/2014 when both parts could be the month (default dmy: 3 August)
  --dry-run                 list the documents to evaluate and the skipped files, then exit (no model needed)
  --json                    one JSON object on stdout: documents with every field's comparison, summary, skipped
  --verbose                 handler logs (INFO) on stderr
  -h, --help                this help

Scoring (bench/eval/score.ts): numbers (also "€ 1.234,50", "4,11") within 0.005; dates normalised to YYYY-MM-DD;
identifiers, codes and enums exactly (ignoring case, spaces and punctuation); other text by normalised Levenshtein
similarity ≥ ${FUZZY_THRESHOLD}; lists by greedy item matching, scored per item field. A document that FAILED or has no
result scores 0 on every field.

Trust (bench/eval/trust.ts): the grounding rate (values found in their documents over values looked for), documents
that need review, and the accuracy of scored fields (list items' fields included) per confidence bucket of 0.2: an
honest confidence has accuracy rising with the bucket.

Exit status: 0 when the run completed (whatever the score), 2 on a usage or setup error, 1 when the run broke off.`;

/** What the folder must hold and where to find one: the annotated corpus is not part of the repository. */
const folderHelp = `npm run eval needs a folder of documents (${INPUT_EXTENSIONS.join(", ")}), each beside the JSON you expect the schema
to extract from it, named alike (Foo.pdf and Foo.json).
  - Your own documents: put each with its expected JSON in one folder and pass that folder.
  - llambda's developers: annotated invoices are in the shared corpus beside the clone, ../shared/corpus/invoices
    (not part of the repository): npm run eval -- --schema invoice ../shared/corpus/invoices`;

class UsageError extends Error {}
/** The twin could not start (Java, ports, the model): exit status 2 like a usage error. */
class SetupError extends Error {}

function positiveInt(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const number = Number(value);
  if (!Number.isInteger(number) || number < 1) throw new UsageError(`--${name} must be a positive integer, got ${value}`);
  return number;
}

interface EvalPair {
  /** File name without extension. */
  stem: string;
  input: string;
  expectedFile: string;
}

interface SkippedFile {
  file: string;
  reason: string;
}

/** Pairs each input (.pdf, .txt, .md) of a folder with `<stem>.json`; everything unpaired is reported, not dropped. */
function pairFiles(dir: string): { pairs: EvalPair[]; skipped: SkippedFile[] } {
  const names = readdirSync(dir)
    .filter((name) => statSync(join(dir, name)).isFile())
    .sort();
  const jsonByStem = new Map<string, string>();
  for (const name of names) if (extname(name).toLowerCase() === ".json") jsonByStem.set(basename(name, extname(name)), name);
  const pairs: EvalPair[] = [];
  const skipped: SkippedFile[] = [];
  const pairedJson = new Set<string>();
  for (const name of names) {
    if (!INPUT_EXTENSIONS.includes(extname(name).toLowerCase())) continue;
    const stem = basename(name, extname(name));
    const json = jsonByStem.get(stem);
    if (json === undefined) {
      skipped.push({ file: join(dir, name), reason: `no expected ${stem}.json` });
      continue;
    }
    pairedJson.add(json);
    pairs.push({ stem, input: join(dir, name), expectedFile: join(dir, json) });
  }
  for (const json of jsonByStem.values()) {
    if (!pairedJson.has(json)) {
      skipped.push({ file: join(dir, json), reason: `no input ${basename(json, extname(json))}{${INPUT_EXTENSIONS.join(",")}}` });
    }
  }
  return { pairs, skipped };
}

interface DocumentRun {
  file: string;
  expectedFile: string;
  documentId: string | null;
  status: string;
  /** Workflow time from the item's timings, else wall time from upload to the end of its executions. */
  ms: number;
  error?: string;
  /** The item's merged result, as extracted (null when there is none). */
  result: Record<string, unknown> | null;
  /** The item's trust fields. */
  grounding?: DocumentItem["grounding"];
  confidence?: DocumentItem["confidence"];
  needsReview?: boolean;
  score: DocumentScore;
}

function percent(value: number | null): string {
  return value === null ? "n/a" : `${(value * 100).toFixed(1)}%`;
}

function table(rows: string[][], rightAligned: number[]): string {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => (row[column] ?? "").length)));
  return rows
    .map((row) =>
      row
        .map((cell, column) => (rightAligned.includes(column) ? cell.padStart(widths[column]!) : cell.padEnd(widths[column]!)))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}

function trustReport(trust: TrustSummary): string[] {
  const g = trust.grounding;
  const lines = [
    `Grounding: ${g.exact + g.normalised + g.fuzzy} of ${g.exact + g.normalised + g.fuzzy + g.none} values found in their documents = ` +
      `${percent(g.rate)} (exact ${g.exact}, normalised ${g.normalised}, fuzzy ${g.fuzzy}, not found ${g.none}, of which rejected ` +
      `${g.rejected}; ${g.ungroundable} not groundable)`,
    `Needs review: ${trust.needsReview} of ${trust.documents} documents`,
    "",
  ];
  const rows = [["Confidence", "Fields", "Correct", "Accuracy", "Mean confidence"]];
  for (const bucket of trust.calibration) {
    rows.push([
      `${bucket.from.toFixed(1)}–${bucket.to.toFixed(1)}`, String(bucket.fields), String(bucket.correct), percent(bucket.accuracy),
      bucket.meanConfidence === null ? "n/a" : bucket.meanConfidence.toFixed(2),
    ]);
  }
  return [...lines, table(rows, [1, 2, 3, 4])];
}

function report(summary: Summary, runs: DocumentRun[], skipped: SkippedFile[], header: string, trust: TrustSummary): string {
  const fieldRows = [["Field", "Kind", "Correct", "Scored", "Accuracy", "Mean score", "Not annotated", "Item fields"]];
  for (const field of summary.fields) {
    fieldRows.push([
      field.path,
      field.kinds.join("/") || "-",
      String(field.correct),
      String(field.total),
      percent(field.accuracy),
      field.meanScore === null ? "n/a" : field.meanScore.toFixed(2),
      String(field.skipped),
      field.units ? `${field.units.correct}/${field.units.total}` : "",
    ]);
  }
  const { overall } = summary;
  fieldRows.push([
    "Overall (micro)", "", String(overall.correct), String(overall.total), percent(overall.accuracy),
    overall.meanScore === null ? "n/a" : overall.meanScore.toFixed(2), "", "",
  ]);
  const documentRows = [["Document", "Status", "Correct", "Scored", "Accuracy", "Time", "Wrong fields / error"]];
  for (const run of runs) {
    const wrong = run.error ?? run.score.fields.filter((field) => !field.correct).map((field) => field.path).join(", ");
    documentRows.push([
      basename(run.file), run.status, String(run.score.correct), String(run.score.total), percent(run.score.accuracy),
      `${(run.ms / 1000).toFixed(1)} s`, wrong,
    ]);
  }
  const lines = [header, "", table(fieldRows, [2, 3, 4, 5, 6]), "", table(documentRows, [2, 3, 4, 5])];
  lines.push("", `Overall accuracy: ${overall.correct}/${overall.total} fields = ${percent(overall.accuracy)} over ` +
    `${overall.documents} document${overall.documents === 1 ? "" : "s"}` + (overall.failed ? ` (${overall.failed} failed)` : ""));
  lines.push("", ...trustReport(trust));
  const unscored = new Map<string, number>();
  for (const run of runs) for (const key of run.score.unscored) unscored.set(key, (unscored.get(key) ?? 0) + 1);
  if (unscored.size > 0) {
    lines.push(`Expected keys the schema does not have (not scored): ${[...unscored].map(([key, n]) => `${key} (${n})`).join(", ")}`);
  }
  if (skipped.length > 0) {
    lines.push("", `Skipped (${skipped.length}):`, ...skipped.map((entry) => `  ${basename(entry.file)}: ${entry.reason}`));
  }
  return `${lines.join("\n")}\n`;
}

async function main(): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      allowPositionals: true,
      options: {
        schema: { type: "string" },
        model: { type: "string" },
        threads: { type: "string" },
        "chunk-tokens": { type: "string" },
        "context-size": { type: "string" },
        "max-output-tokens": { type: "string" },
        limit: { type: "string" },
        "data-dir": { type: "string" },
        "absent-as-null": { type: "boolean", default: false },
        "date-order": { type: "string", default: "dmy" },
        "dry-run": { type: "boolean", default: false },
        json: { type: "boolean", default: false },
        verbose: { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
    });
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(`${usage}\n`);
    return 0;
  }
  // `npm run` starts scripts in the package folder; paths on the command line are relative to where it was typed.
  const cwd = process.env.INIT_CWD ?? process.cwd();

  const known = Object.keys(extractionSchemas).join(", ");
  if (values.schema === undefined) throw new UsageError(`--schema is required; known schemas: ${known}`);
  const schemaId = values.schema;
  let schema;
  try {
    schema = getExtractionSchema(schemaId);
  } catch {
    throw new UsageError(`Unknown schema "${schemaId}"; known schemas: ${known}`);
  }
  if (values["date-order"] !== "dmy" && values["date-order"] !== "mdy") {
    throw new UsageError(`--date-order must be dmy or mdy, got ${values["date-order"]}`);
  }
  const scoreOptions: ScoreOptions = {
    dateOrder: values["date-order"] as DateOrder,
    absent: values["absent-as-null"] ? "null" : "skip",
  };
  const threads = positiveInt("threads", values.threads);
  const chunkTokens = positiveInt("chunk-tokens", values["chunk-tokens"]);
  const contextSize = positiveInt("context-size", values["context-size"]);
  const maxOutputTokens = positiveInt("max-output-tokens", values["max-output-tokens"]);
  const limit = positiveInt("limit", values.limit);

  if (positionals.length !== 1) {
    throw new UsageError(positionals.length === 0 ? `No folder given. ${folderHelp}` : `One folder expected, got ${positionals.length}: ${positionals.join(" ")}`);
  }
  const dir = resolve(cwd, positionals[0]!);
  if (!existsSync(dir)) throw new UsageError(`Folder not found: ${dir}\n${folderHelp}`);
  if (!statSync(dir).isDirectory()) throw new UsageError(`${dir} is a file, not a folder.\n${folderHelp}`);

  const log = (line: string) => process.stderr.write(`${line}\n`);
  const { pairs: allPairs, skipped } = pairFiles(dir);
  // Expected files are read before the twin starts: a broken one is reported, not a reason to stop later.
  const pairs: Array<EvalPair & { expected: unknown }> = [];
  for (const pair of allPairs) {
    try {
      const expected: unknown = JSON.parse(readFileSync(pair.expectedFile, "utf8"));
      expectedObject(expected);
      pairs.push({ ...pair, expected });
    } catch (error) {
      skipped.push({ file: pair.expectedFile, reason: `unusable expected JSON: ${error instanceof Error ? error.message : String(error)}` });
    }
  }
  const selected = limit === undefined ? pairs : pairs.slice(0, limit);
  if (limit !== undefined && pairs.length > limit) {
    for (const pair of pairs.slice(limit)) skipped.push({ file: pair.input, reason: `beyond --limit ${limit}` });
  }
  if (selected.length === 0) {
    const detail = skipped.length > 0 ? ` Skipped:\n${skipped.map((entry) => `  ${basename(entry.file)}: ${entry.reason}`).join("\n")}` : "";
    throw new UsageError(`No document in ${dir} has both an input (${INPUT_EXTENSIONS.join(", ")}) and an expected JSON file.${detail}\n${folderHelp}`);
  }

  if (values["dry-run"]) {
    if (values.json) {
      process.stdout.write(`${JSON.stringify({ schema: schemaId, dir, documents: selected.map(({ input, expectedFile }) => ({ input, expectedFile })), skipped })}\n`);
    } else {
      const lines = [`${selected.length} document${selected.length === 1 ? "" : "s"} to evaluate with schema ${schemaId}:`];
      lines.push(...selected.map((pair) => `  ${basename(pair.input)} ↔ ${basename(pair.expectedFile)}`));
      if (skipped.length > 0) lines.push(`Skipped (${skipped.length}):`, ...skipped.map((entry) => `  ${basename(entry.file)}: ${entry.reason}`));
      process.stdout.write(`${lines.join("\n")}\n`);
    }
    return 0;
  }

  const model = resolveModelPath({ cliPath: values.model, cwd });

  process.env.POWERTOOLS_LOG_LEVEL ??= values.verbose ? "INFO" : "WARN";
  // stdout carries the report only: no metrics' EMF lines (no CloudWatch here), set before the handlers load.
  process.env.POWERTOOLS_METRICS_DISABLED ??= "true";
  if (values.verbose) console.info = console.error;

  const dataDir = values["data-dir"] === undefined ? mkdtempSync(join(tmpdir(), "llambda-eval-")) : resolve(cwd, values["data-dir"]);
  const { availableParallelism } = await import("node:os");
  const { LocalTwin } = await import("../../infra/local/twin.ts");
  log(`llambda eval: ${selected.length} document${selected.length === 1 ? "" : "s"} from ${dir}, schema ${schemaId}, model ${model.path}`);
  if (skipped.length > 0) log(`  skipped ${skipped.length}: ${skipped.map((entry) => basename(entry.file)).join(", ")}`);
  log("Starting local S3, DynamoDB Local and Step Functions…");
  const twin = await LocalTwin.start({
    dataDir,
    modelPath: model.path,
    modelId: model.modelId,
    // ggml threads busy-wait: leave a core for DynamoDB Local and the rest of the twin.
    threads: threads ?? Math.max(1, availableParallelism() - 1),
    chunkTokens,
    contextSize,
    maxOutputTokens,
    schemaRouting: { routes: {}, defaultSchemaId: schemaId },
  }).catch((error: unknown) => {
    if (values["data-dir"] === undefined) rmSync(dataDir, { recursive: true, force: true });
    throw new SetupError(`The local twin did not start: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  });
  twin.onEvent((event) => {
    if (event.type === "MapRunProgress") {
      log(`    ${event.state}: ${event.succeeded + event.failed}/${event.total} batches` + (event.failed ? ` (${event.failed} failed)` : ""));
    } else if (event.type === "StartFailed") {
      log(`    ${basename(event.key)}: could not start: ${event.error}`);
    }
  });

  const runs: DocumentRun[] = [];
  try {
    for (const [position, pair] of selected.entries()) {
      const name = basename(pair.input);
      log(`[${position + 1}/${selected.length}] ${name}`);
      const started = Date.now();
      let item: DocumentItem | undefined;
      let documentId: string | null = null;
      let uploadError: string | undefined;
      try {
        documentId = (await twin.upload(pair.input)).documentId;
        item = await twin.waitForDocument(documentId);
      } catch (error) {
        uploadError = error instanceof Error ? error.message : String(error);
      }
      const status = item?.status ?? "FAILED";
      const ms = item?.timings?.totalMs ?? Date.now() - started;
      let error: string | undefined;
      let score: DocumentScore;
      const wrongSchema = item?.schemaId !== undefined && item.schemaId !== schemaId;
      // A result too large for its item is read from S3, as a consumer would.
      const stored = item && !wrongSchema && status !== "FAILED" ? await twin.readResult(item) : undefined;
      const result = stored?.result ?? null;
      if (status === "FAILED" || !result || wrongSchema) {
        error = uploadError ??
          (item === undefined ? "No document item was written"
            : status === "FAILED" ? [item.error ?? "FAILED", item.cause].filter(Boolean).join(": ")
            : wrongSchema ? `extracted with schema "${item.schemaId}", not "${schemaId}"`
            : `no result (status ${status})`);
        score = { ...scoreFailedDocument(pair.expected, schema, error, scoreOptions), name };
      } else {
        score = { ...scoreDocument(pair.expected, result, schema, scoreOptions), name };
      }
      const trustFields = {
        ...(stored?.grounding ? { grounding: stored.grounding } : {}),
        ...(stored?.confidence ? { confidence: stored.confidence } : {}),
        ...(item?.needsReview !== undefined ? { needsReview: item.needsReview } : {}),
      };
      runs.push({ file: pair.input, expectedFile: pair.expectedFile, documentId, status, ms, ...(error ? { error } : {}), result: result ?? null, ...trustFields, score });
      log(`    ${status}: ${score.correct}/${score.total} fields correct (${percent(score.accuracy)}), ${(ms / 1000).toFixed(1)} s` +
        (error ? ` — ${error}` : ""));
    }
  } finally {
    await twin.stop();
    if (values["data-dir"] === undefined) rmSync(dataDir, { recursive: true, force: true });
  }

  const summary = summarize(runs.map((run) => run.score), schemaFields(schema));
  const trust = summarizeTrust(runs.map((run): TrustInput => ({ ...run, fields: run.score.fields })));
  if (values.json) {
    const output = {
      schema: schemaId,
      model: { path: model.path, id: model.modelId },
      dir,
      options: { threads, chunkTokens, contextSize, maxOutputTokens, limit, ...scoreOptions },
      documents: runs,
      summary,
      trust,
      skipped,
    };
    process.stdout.write(`${JSON.stringify(output)}\n`);
  } else {
    process.stdout.write(report(summary, runs, skipped, `Evaluation of ${dir} — schema ${schemaId}, model ${model.modelId}`, trust));
  }
  return 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof UsageError) {
      process.stderr.write(`${error.message}\nRun with --help for the options.\n`);
      process.exit(2);
    } else if (error instanceof ModelNotFoundError || error instanceof SetupError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(2);
    } else {
      process.stderr.write(`llambda eval: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      process.exit(1);
    }
  },
);
