/**
 * npm run model:pull [-- <id>] [--force] [--no-verify] [--list]
 *
 * Downloads a model of models/models.json (the default model when no id is given) to models/<id>.gguf
 * (or $LLAMBDA_MODELS_DIR/<id>.gguf), verifying its sha256. Does nothing when the file is already there and correct.
 * Exits 1 with a clear message when the host is unreachable, the id is unknown or the download does not verify.
 * An interrupted download resumes where it stopped on the next run (models/download.ts).
 */
import { parseArgs } from "node:util";
import { defaultModelId, listModels } from "./manifest.ts";
import { PullError, pullModel, type PullProgress } from "./download.ts";

const USAGE = `Usage: npm run model:pull [-- <id>] [--force] [--no-verify] [--list]

  <id>         model id from models/models.json (default: ${defaultModelId})
  --force      download again even if the file is present and verified
  --no-verify  accept a file without checking its sha256 (only for models with no published hash)
  --list       list the known models and exit

An interrupted download resumes where it stopped when you run the same command again.

Environment: LLAMBDA_MODELS_DIR (destination directory), LLAMBDA_MODEL_URL_OVERRIDE (download URL, e.g. a mirror;
the sha256 is still checked), HF_TOKEN (only for gated repositories).`;

const mb = (n: number) => (n / 1e6).toFixed(1);

function progressPrinter(): (p: PullProgress) => void {
  const tty = process.stderr.isTTY === true;
  let lastDecile = -1;
  return ({ receivedBytes, totalBytes, elapsedMs }) => {
    const rate = elapsedMs > 0 ? receivedBytes / 1e6 / (elapsedMs / 1000) : 0;
    const pct = totalBytes ? Math.min(100, (100 * receivedBytes) / totalBytes) : null;
    const line =
      `  ${mb(receivedBytes)}${totalBytes ? ` / ${mb(totalBytes)}` : ""} MB` +
      `${pct !== null ? ` (${pct.toFixed(1)}%)` : ""}  ${rate.toFixed(1)} MB/s`;
    if (tty) {
      process.stderr.write(`\r${line}\x1b[K`);
      if (totalBytes && receivedBytes >= totalBytes) process.stderr.write("\n");
    } else {
      const decile = pct === null ? Math.floor(receivedBytes / 1e8) : Math.floor(pct / 10);
      if (decile !== lastDecile) {
        lastDecile = decile;
        process.stderr.write(`${line}\n`);
      }
    }
  };
}

async function main(): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      allowPositionals: true,
      options: {
        force: { type: "boolean", default: false },
        "no-verify": { type: "boolean", default: false },
        list: { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
    });
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n\n${USAGE}\n`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (values.list) {
    for (const m of listModels()) {
      process.stdout.write(`${m.id}${m.id === defaultModelId ? " (default)" : ""}\n  ${m.displayName}, ${mb(m.sizeBytes)} MB, ${m.license}\n`);
    }
    return 0;
  }
  if (positionals.length > 1) {
    process.stderr.write(`Give at most one model id.\n\n${USAGE}\n`);
    return 2;
  }
  try {
    const result = await pullModel({
      id: positionals[0],
      verify: !values["no-verify"],
      force: values.force,
      onProgress: progressPrinter(),
      log: (line) => process.stderr.write(`${line}\n`),
    });
    process.stdout.write(`${result.path}\n`);
    return 0;
  } catch (err) {
    if (err instanceof PullError) {
      process.stderr.write(`\n${err.message}\n`);
      return 1;
    }
    throw err;
  }
}

// Exit explicitly: after a stalled download, the downloader's silent connections would keep the process alive.
process.exit(await main());
