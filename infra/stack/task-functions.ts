import { Annotations } from "aws-cdk-lib";
import type * as lambda from "aws-cdk-lib/aws-lambda";
import type { NodejsFunction } from "aws-cdk-lib/aws-lambda-nodejs";
import { FunctionCatalogue } from "../../functions/catalogue.ts";
import type { ModelArtifact } from "../model-artifact.ts";
import { REVIEW_IMAGE_HANDLER } from "../image/bundle-review.ts";
import type { PipelineFunctions } from "./pipeline-functions.ts";
import type { LlambdaStackProps, StackSettings } from "./props.ts";

/**
 * The functions the workflow runs: chunk, ocr (per group of pages, in the OCR Distributed Map), infer (per batch, in
 * the Distributed Map), merge and review (a finished document's review page).
 */
export interface TaskFunctions {
  chunk: NodejsFunction;
  ocr: lambda.DockerImageFunction;
  infer: lambda.DockerImageFunction;
  merge: NodejsFunction;
  review: lambda.DockerImageFunction;
}

export function createTaskFunctions(
  functions: PipelineFunctions,
  props: LlambdaStackProps,
  settings: Pick<StackSettings, "workflow">,
  model: ModelArtifact,
): TaskFunctions {
  const { workflow } = settings;
  const chunk = functions.node(FunctionCatalogue.chunk);
  const merge = functions.node(FunctionCatalogue.merge);
  const infer = functions.image(FunctionCatalogue.infer, {
    build: { target: "infer", model },
    memorySize: props.inferMemoryMb,
    ephemeralStorageMb: props.inferEphemeralStorageMb ?? 1024,
    ...(props.inferReservedConcurrency !== undefined ? { reservedConcurrency: props.inferReservedConcurrency } : {}),
  });
  annotateModel(infer, model);
  if (props.inferReservedConcurrency !== undefined && workflow.maxConcurrency > props.inferReservedConcurrency) {
    Annotations.of(infer).addWarningV2(
      "llambda:concurrencyAboveReserved",
      `The Distributed Map runs up to ${workflow.maxConcurrency} inferences at once but the inference function's ` +
        `reserved concurrency is ${props.inferReservedConcurrency}: the excess is throttled and retried.`,
    );
  }
  const ocr = functions.image(FunctionCatalogue.ocr, { build: { target: "ocr" } });
  // The same image as OCR (pdf.js and @napi-rs/canvas draw the pages), started with the review handler.
  const review = functions.image(FunctionCatalogue.review, { build: { target: "ocr" }, command: [REVIEW_IMAGE_HANDLER] });
  return { chunk, ocr, infer, merge, review };
}

function annotateModel(fn: lambda.Function, model: ModelArtifact): void {
  const { id, relativePath, present, sha256Source, inManifest } = model;
  if (!present) {
    Annotations.of(fn).addWarningV2(
      "llambda:modelMissing",
      `Model file ${relativePath} does not exist: run \`npm run model:pull -- ${id}\` before \`cdk deploy\` ` +
        `(the inference image build copies it).`,
    );
  }
  if (sha256Source === "none") {
    Annotations.of(fn).addWarningV2(
      "llambda:modelUnverified",
      `No sha256 for model "${id}" (${inManifest ? "models/models.json has none" : "not in models/models.json"}): ` +
        "the inference image build refuses an unverified model. Add it to the manifest or pass " +
        "`-c llambda:modelSha256=<hex>`.",
    );
  }
}
