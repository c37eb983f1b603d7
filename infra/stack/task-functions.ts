import { Annotations } from "aws-cdk-lib";
import type * as lambda from "aws-cdk-lib/aws-lambda";
import type { NodejsFunction } from "aws-cdk-lib/aws-lambda-nodejs";
import { EnvNames } from "../../functions/shared/env-names.ts";
import type { ModelArtifact } from "../model-artifact.ts";
import { BucketLayout } from "../specs.ts";
import { FunctionSpecs } from "./function-specs.ts";
import { INFER_LORA_PATH, INFER_MODEL_PATH, type PipelineFunctions } from "./pipeline-functions.ts";
import type { LlambdaStackProps, StackSettings } from "./props.ts";

/** The functions the workflow runs: chunk, infer (per batch, in the Distributed Map) and merge. */
export interface TaskFunctions {
  chunk: NodejsFunction;
  infer: lambda.DockerImageFunction;
  merge: NodejsFunction;
}

export function createTaskFunctions(
  functions: PipelineFunctions,
  props: LlambdaStackProps,
  settings: Pick<StackSettings, "schemaRouting" | "workflow">,
  model: ModelArtifact,
): TaskFunctions {
  const { schemaRouting, workflow } = settings;
  // Infer and merge read each document's schema from their input (the start function routes it) and fall back to the
  // default only for executions started before routing existed.
  const chunk = functions.node(FunctionSpecs.chunk, { [EnvNames.chunkTokens]: String(props.chunkTokens) });
  const merge = functions.node(FunctionSpecs.merge, { [EnvNames.schemaId]: schemaRouting.defaultSchemaId });
  const tuning = props.inferTuning;
  const infer = functions.image({
    model,
    memorySize: props.inferMemoryMb,
    ephemeralStorageMb: props.inferEphemeralStorageMb ?? 1024,
    ...(props.inferReservedConcurrency !== undefined ? { reservedConcurrency: props.inferReservedConcurrency } : {}),
    environment: {
      [EnvNames.modelPath]: INFER_MODEL_PATH,
      [EnvNames.modelId]: model.id,
      ...(tuning?.threads !== undefined ? { [EnvNames.threads]: String(tuning.threads) } : {}),
      ...(tuning?.contextSize !== undefined ? { [EnvNames.contextSize]: String(tuning.contextSize) } : {}),
      ...(tuning?.maxOutputTokens !== undefined ? { [EnvNames.maxOutputTokens]: String(tuning.maxOutputTokens) } : {}),
      // One invocation's batch decodes together: as many parallel sequences as chunks per batch (memory permitting).
      [EnvNames.parallelSequences]: String(workflow.maxItemsPerBatch),
      ...(model.lora
        ? {
            [EnvNames.loraPath]: INFER_LORA_PATH,
            ...(model.lora.scale !== undefined ? { [EnvNames.loraScale]: String(model.lora.scale) } : {}),
          }
        : {}),
      [EnvNames.schemaId]: schemaRouting.defaultSchemaId,
    },
  });
  annotateModel(infer, model);
  if (props.inferReservedConcurrency !== undefined && workflow.maxConcurrency > props.inferReservedConcurrency) {
    Annotations.of(infer).addWarningV2(
      "llambda:concurrencyAboveReserved",
      `The Distributed Map runs up to ${workflow.maxConcurrency} inferences at once but the inference function's ` +
        `reserved concurrency is ${props.inferReservedConcurrency}: the excess is throttled and retried.`,
    );
  }

  // The chunk function reads the uploaded object's version named in the event (GetObject with VersionId).
  functions.grantBucket(chunk, { read: [BucketLayout.uploadsPrefix], readVersions: true, write: [BucketLayout.chunksPrefix] });
  functions.grantBucket(infer, { read: [BucketLayout.chunksPrefix] });
  functions.grantBucket(merge, { read: [BucketLayout.mapResultsPrefix, BucketLayout.chunksPrefix], write: [BucketLayout.resultsPrefix] });
  functions.grantItemUpdates(merge);
  functions.allowEgress(chunk, ["s3"]);
  functions.allowEgress(infer, ["s3"]);
  functions.allowEgress(merge, ["s3", "dynamodb"]);
  return { chunk, infer, merge };
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
