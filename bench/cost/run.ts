/**
 * `npm run cost -- --pages <n> [--model <id>] (--bench <file.json> | --prompt-tps <t/s> --gen-tps <t/s>) [options]`:
 * what one document costs on llambda, estimated from measured inference throughput, beside what hosted models charge
 * for the same tokens and an always-on GPU instance, with the break-even points and an SVG chart of cost against
 * document size. docs/cost.md explains the model.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { LimitDefaults } from "../../functions/chunk/limits.ts";
import { awsPricesCheckedOn, awsPriceRegion } from "../../functions/shared/cost.ts";
import { lineChartSvg, type ChartSeries } from "./chart.ts";
import {
  alwaysOnBreakEvenDocuments,
  estimateLlambda,
  formatUsd,
  hostedDocumentCost,
  hoursPerMonth,
  instanceMonthlyCost,
  llambdaIdleMonthlyCost,
  ocrDefaults,
  ocrIdleMonthlyCost,
  ocrPageCost,
  pagesBreakEven,
  parsePriceTable,
  type PagesBreakEven,
} from "./model.ts";
import { noThroughput, parseOptions, usage, UsageError, type Options } from "./options.ts";

const usd = formatUsd;
const count = (value: number, digits = 0) => value.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: 0 });
const round = (value: number, digits = 6) => Number(value.toPrecision(digits));

function describeBreakEven(breakEven: PagesBreakEven): string {
  const at = breakEven.crossings.map((pages) => count(pages, 1)).join(" and ");
  switch (breakEven.llambdaCheaper) {
    case "never":
      return `never: ${breakEven.reason}`;
    case "always":
      return `none, llambda is cheaper: ${breakEven.reason}`;
    case "above":
      return `equal at ${at} pages; llambda cheaper above`;
    case "below":
      return `equal at ${at} pages; llambda cheaper below`;
    case "between":
      return `equal at ${at} pages; llambda cheaper between them`;
    case "outside":
      return `equal at ${at} pages; llambda cheaper outside them`;
  }
}

export async function main(argv: string[]): Promise<number> {
  let options: Options | "help";
  try {
    options = parseOptions(argv);
  } catch (error) {
    const message = (error as Error).message;
    process.stderr.write(error instanceof UsageError && message === noThroughput ? `${message}\n` : `${message}\n\n${usage}\n`);
    return 2;
  }
  if (options === "help") {
    process.stdout.write(`${usage}\n`);
    return 0;
  }
  let prices;
  try {
    prices = parsePriceTable(JSON.parse(readFileSync(options.pricesPath, "utf8")));
  } catch (error) {
    process.stderr.write(`Price table ${options.pricesPath}: ${(error as Error).message}\n`);
    return 2;
  }
  const { inputs, pages, model } = options;
  if (options.modelNote) process.stderr.write(`npm run cost: ${options.modelNote}\n`);
  const maxPages = LimitDefaults.maxPages;
  const estimateAt = (n: number) => estimateLlambda({ ...inputs, pages: n });
  const llambdaAt = (n: number) => estimateAt(n).cost.total;
  const estimate = estimateAt(pages);
  const { shape, cost } = estimate;
  const idleMonthly = llambdaIdleMonthlyCost(model.sizeBytes);
  const ocrPage = ocrPageCost({
    memoryMb: ocrDefaults.memoryMb.value,
    secondsPerPage: ocrDefaults.secondsPerPage.value,
    pagesPerInvocation: ocrDefaults.pagesPerInvocation.value,
    architecture: inputs.architecture,
  });

  const hosted = prices.hostedModels.map((price) => {
    const perDocument = hostedDocumentCost(price, shape);
    const breakEven = pagesBreakEven(llambdaAt, (n) => hostedDocumentCost(price, estimateAt(n).shape), maxPages);
    return { price, perDocument, llambdaTimes: cost.total / perDocument, breakEven };
  });
  const alwaysOn = prices.alwaysOnInstances.map((instance) => {
    const monthly = instanceMonthlyCost(instance);
    const documents = alwaysOnBreakEvenDocuments(monthly, cost.total, idleMonthly);
    // What the instance would have to sustain at that volume: a check on "one instance keeps up".
    const tokensPerSecond = (documents * (shape.hostedInputTokens + shape.outputTokens)) / (hoursPerMonth * 3600);
    return { instance, monthly, breakEvenDocumentsPerMonth: documents, sustainedTokensPerSecond: tokensPerSecond };
  });

  // Chart: cost per document against pages, up to past the interesting crossings.
  const crossingsInRange = hosted.flatMap((h) => h.breakEven.crossings);
  const xMax = Math.min(maxPages, Math.max(20, pages * 2, ...crossingsInRange.map((c) => c * 1.3)));
  const xs = Array.from({ length: 101 }, (_, i) => Math.max(1, (xMax * i) / 100));
  const series: ChartSeries[] = [
    { label: `llambda (${model.id}, Lambda arm64 ${count(inputs.inferMemoryMb)} MB)`, emphasis: true, points: xs.map((x) => ({ x, y: llambdaAt(x) })) },
    ...hosted.map((h) => ({
      label: `${h.price.label}${h.price.verified ? "" : " (unverified price)"}`,
      points: xs.map((x) => ({ x, y: hostedDocumentCost(h.price, estimateAt(x).shape) })),
    })),
    ...(options.docsPerMonth !== undefined
      ? alwaysOn.map((a) => {
          const perDocument = a.monthly / options.docsPerMonth!;
          return {
            label: `${a.instance.id} at ${count(options.docsPerMonth!)} docs/month: ${usd(perDocument)}/doc`,
            dashed: true,
            outsideScale: true,
            points: xs.map((x) => ({ x, y: perDocument })),
          };
        })
      : []),
  ];
  const svg = lineChartSvg({
    title: "Cost per document against document size",
    subtitle:
      `${model.id}; prompt ${count(inputs.promptTokensPerSecond, 1)} t/s, generation ${count(inputs.generationTokensPerSecond, 1)} t/s ` +
      `× ${inputs.speedFactor}; ${count(inputs.tokensPerPage)} tokens/page; AWS ${awsPriceRegion} prices of ${awsPricesCheckedOn}`,
    xLabel: "document size (pages)",
    yLabel: "cost per document (USD)",
    series,
    marker: { x: pages, label: `${count(pages, 1)} pages` },
  });
  writeFileSync(options.chartPath, svg);

  const unverified = [...prices.hostedModels, ...prices.alwaysOnInstances].filter((entry) => !entry.verified).map((entry) => entry.id);
  const monthly =
    options.docsPerMonth === undefined
      ? undefined
      : {
          documents: options.docsPerMonth,
          llambda: options.docsPerMonth * cost.total + idleMonthly,
          hosted: hosted.map((h) => ({ id: h.price.id, usd: options.docsPerMonth! * h.perDocument })),
          alwaysOn: alwaysOn.map((a) => ({ id: a.instance.id, usd: a.monthly })),
        };

  if (options.json) {
    const report = {
      pages,
      model: model.id,
      modelSource: options.modelSource,
      ...(options.measuredModel !== undefined ? { measuredModel: options.measuredModel } : {}),
      ...(options.modelNote !== undefined ? { modelNote: options.modelNote } : {}),
      throughput: options.throughput,
      inputs: { ...inputs, transitions: { fixed: inputs.transitions.fixed, perBatch: inputs.transitions.perBatch } },
      sources: options.sources,
      shape,
      cost,
      idleMonthlyUsd: idleMonthly,
      ocrPerScannedPage: {
        estimate: true,
        memoryMb: ocrDefaults.memoryMb.value,
        secondsPerPage: ocrDefaults.secondsPerPage,
        pagesPerInvocation: ocrDefaults.pagesPerInvocation.value,
        ...ocrPage,
        idleMonthlyUsd: ocrIdleMonthlyCost(),
      },
      hosted: hosted.map((h) => ({
        id: h.price.id,
        label: h.price.label,
        verified: h.price.verified,
        perDocumentUsd: h.perDocument,
        llambdaTimes: round(h.llambdaTimes, 4),
        breakEvenPages: h.breakEven,
      })),
      alwaysOn: alwaysOn.map((a) => ({
        id: a.instance.id,
        label: a.instance.label,
        verified: a.instance.verified,
        monthlyUsd: a.monthly,
        breakEvenDocumentsPerMonth: a.breakEvenDocumentsPerMonth,
        sustainedTokensPerSecondAtBreakEven: a.sustainedTokensPerSecond,
      })),
      ...(monthly ? { monthly } : {}),
      chart: options.chartPath,
      unverifiedPrices: unverified,
    };
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    return 0;
  }

  const lines: string[] = [];
  const out = (line = "") => lines.push(line);
  const infer = cost.lambda.infer!;
  const others = (["chunk", "merge", "start"] as const).map((name) => ({ name, fn: estimate.usage.functions[name]!, cost: cost.lambda[name]! }));
  const othersUsd = others.reduce((sum, o) => sum + o.cost.totalUsd, 0);
  out(`llambda: one ${count(pages, 1)}-page document, priced as ${model.id} (${options.modelSource})`);
  if (options.modelNote) out(`  NOTE: ${options.modelNote}`);
  out(`  throughput: prompt ${count(inputs.promptTokensPerSecond, 1)} t/s, generation ${count(inputs.generationTokensPerSecond, 1)} t/s (${options.throughput.source}), speed factor on Lambda ${inputs.speedFactor}`);
  out(
    `  document: ${count(shape.textTokens)} text tokens (${count(inputs.tokensPerPage)}/page) → ${count(shape.chunks, 2)} chunks of ≤ ${count(inputs.chunkTokens)} tokens → ` +
      `${count(shape.batches, 2)} batches of ${inputs.chunksPerBatch} on ${count(shape.containers, 2)} containers (${count(shape.coldContainers, 2)} cold)`,
  );
  out(`  model tokens: ${count(shape.promptTokens)} prompt (instructions ${count(inputs.instructionTokens)} once per cold sequence), ${count(shape.outputTokens)} generated (${count(inputs.outputTokensPerChunk)}/chunk)`);
  out();
  out(`Per document (USD; AWS on-demand, ${awsPriceRegion}, prices of ${awsPricesCheckedOn}; free tiers not counted):`);
  out(
    `  inference Lambda  ${count(inputs.inferMemoryMb)} MB arm64, ${count(shape.inferSeconds, 1)} s (${count(shape.inferInitSeconds, 1)} s cold init), ` +
      `${count(infer.gbSeconds, 1)} GB-s, ${count(infer.invocations, 2)} invocations   ${usd(infer.totalUsd)}`,
  );
  out(
    `  other Lambdas     ${others.map((o) => `${o.name} ${count(o.fn.billedDurationMs / 1000, 2)} s × ${count(o.fn.memoryMb)} MB`).join(", ")}` +
      `, ${count(others.reduce((sum, o) => sum + o.cost.gbSeconds, 0), 2)} GB-s   ${usd(othersUsd)}`,
  );
  out(`  Step Functions    ${count(cost.stepFunctions.transitions, 2)} state transitions (${inputs.transitions.fixed} + ${inputs.transitions.perBatch} per batch)   ${usd(cost.stepFunctions.usd)}`);
  out(
    `  requests          S3 ${cost.requests.s3Puts} PUT + ${cost.requests.s3Gets} GET, DynamoDB ${cost.requests.dynamoDbWriteUnits} write units, SQS ${cost.requests.sqsRequests}   ${usd(cost.requests.totalUsd)}`,
  );
  out(`  total             ${usd(cost.total)}   (inference ${((infer.totalUsd / cost.total) * 100).toFixed(1)} %)`);
  out(`  idle: ${usd(idleMonthly)}/month for the inference image in ECR (${(model.sizeBytes / 1024 ** 3).toFixed(2)} GB model + ~0.3 GB)`);
  out(
    `  OCR, per scanned page (estimate; not in the total: only pages without a usable text layer are OCR'd): ` +
      `${count(ocrDefaults.memoryMb.value)} MB arm64 × ${ocrDefaults.secondsPerPage.value} s, ${count(ocrPage.gbSeconds, 2)} GB-s   ${usd(ocrPage.totalUsd)}` +
      `   (${usd(ocrPage.totalUsd * 1000)} per 1,000 pages; its image idles at ${usd(ocrIdleMonthlyCost())}/month)`,
  );
  out(`    seconds per page: ${ocrDefaults.secondsPerPage.source}`);
  out();
  out(`Hosted models for the same tokens: ${count(shape.hostedInputTokens)} input (instructions with every chunk), ${count(shape.outputTokens)} output; prices ${prices.checkedOn}, ${options.pricesPath}`);
  const labelWidth = Math.max(...hosted.map((h) => h.price.label.length + 1));
  out(`  ${"model".padEnd(labelWidth)}  ${"$/M in".padStart(7)}  ${"$/M out".padStart(7)}  ${"per doc".padStart(10)}  ${"llambda vs".padStart(10)}  break-even in pages`);
  for (const h of hosted) {
    const label = `${h.price.label}${h.price.verified ? "" : "*"}`.padEnd(labelWidth);
    const times = h.llambdaTimes >= 10 ? h.llambdaTimes.toFixed(0) : h.llambdaTimes.toFixed(2);
    out(
      `  ${label}  ${h.price.inputPerMillionTokens.toFixed(3).padStart(7)}  ${h.price.outputPerMillionTokens.toFixed(3).padStart(7)}  ` +
        `${usd(h.perDocument).padStart(10)}  ${`${times}×`.padStart(9)}  ${describeBreakEven(h.breakEven)}`,
    );
  }
  if (unverified.length > 0) out(`  * price not read on the vendor's own page (see the note in the price table)`);
  out();
  out("Always-on GPU instance (assuming one instance keeps up; its own throughput is not measured here):");
  for (const a of alwaysOn) {
    out(
      `  ${a.instance.label}${a.instance.verified ? "" : "*"}: $${a.instance.hourlyUsd}/h = ${usd(a.monthly)}/month → cheaper than llambda above ` +
        `${count(a.breakEvenDocumentsPerMonth)} documents/month of ${count(pages, 1)} pages (≈ ${count(a.sustainedTokensPerSecond, 1)} tokens/s sustained, around the clock)`,
    );
  }
  out("  Hosted models have no volume break-even with llambda: both cost per document, so the per-document figures decide.");
  if (monthly) {
    out();
    out(`At ${count(monthly.documents)} documents/month of ${count(pages, 1)} pages:`);
    out(`  llambda ${usd(monthly.llambda)}; ${monthly.hosted.map((h) => `${h.id} ${usd(h.usd)}`).join("; ")}; ${monthly.alwaysOn.map((a) => `${a.id} ${usd(a.usd)}`).join("; ")}`);
  }
  out();
  out(`Chart: ${options.chartPath}`);
  process.stdout.write(`${lines.join("\n")}\n`);
  return 0;
}

process.exit(await main(process.argv.slice(2)));
