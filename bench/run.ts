/**
 * `npm run bench -- <name> [--json] [options]`: runs one benchmark. Each prints a human summary on stderr and, with
 * --json, one JSON document on stdout. Benchmarks measure their baseline in the same run.
 */
const benches: Record<string, () => Promise<{ main(argv: string[]): Promise<number> }>> = {
  chunker: () => import("./chunker.ts"),
  inference: () => import("./inference.ts"),
  "decode-share": () => import("./decode-share.ts"),
  sampling: () => import("./sampling.ts"),
  ocr: () => import("./ocr.ts"),
  merge: () => import("./merge.ts"),
  "ocr-pipelines": () => import("./ocr-pipelines.ts"),
  "token-confidence": () => import("./token-confidence.ts"),
  "tokenizer-ratio": () => import("./tokenizer-ratio.ts"),
};

const [name, ...rest] = process.argv.slice(2);
const load = name ? benches[name] : undefined;
if (!load) {
  process.stderr.write(`Usage: npm run bench -- <${Object.keys(benches).join("|")}> [--json] [options]\n`);
  process.exit(2);
}
process.exit(await (await load()).main(rest));
