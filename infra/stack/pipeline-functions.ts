import { existsSync } from "node:fs";
import { join } from "node:path";
import { Duration, IgnoreMode, Size, type Stack } from "aws-cdk-lib";
import { Platform } from "aws-cdk-lib/aws-ecr-assets";
import * as iam from "aws-cdk-lib/aws-iam";
import * as lambda from "aws-cdk-lib/aws-lambda";
import { NodejsFunction } from "aws-cdk-lib/aws-lambda-nodejs";
import * as logs from "aws-cdk-lib/aws-logs";
import type * as sfn from "aws-cdk-lib/aws-stepfunctions";
import {
  functionDescription,
  functionEnvironment,
  validateFunctionEnvironment,
  type DeploymentValues,
  type FunctionAccess,
  type FunctionId,
  type FunctionSpec,
} from "../../functions/catalogue.ts";
import { chunkBundlingExtras, handlerBundling, type HandlerBundlingExtras } from "../bundling.ts";
import { otherModelFileExcludes, type ModelArtifact } from "../model-artifact.ts";
import { under, type DocumentStore } from "./document-store.ts";
import type { IsolatedNetwork } from "./isolated-network.ts";
import type { StackSettings } from "./props.ts";

/** Where the Dockerfile puts the model inside the inference image. */
export const INFER_MODEL_PATH = "/opt/llambda/model.gguf";
/** Where the image puts the model's LoRA adapter, when the manifest names one. */
export const INFER_LORA_PATH = "/opt/llambda/lora.gguf";

/** The build file of the image functions: one target each (`infer`, `ocr`; review runs the `ocr` image) over shared stages. */
export const IMAGE_DOCKERFILE = "infra/image/Dockerfile";

/** What goes into a function's zip beyond its bundled handler (packaging is the stack's business, not the catalogue's). */
const bundlingExtras: Partial<Record<FunctionId, HandlerBundlingExtras>> = { chunk: chunkBundlingExtras };

/**
 * An image function's build: its Dockerfile target and that target's inputs. The inference image carries the model;
 * the OCR image the deployment's OCR language (its model package), and no model file.
 */
export type ImageBuild = { target: "infer"; model: ModelArtifact } | { target: "ocr" };

/** An image function's deployment-only settings. */
export interface ImageOptions {
  build: ImageBuild;
  /** The image's command (Lambda's ImageConfig.Command: the handler), when not the target's own CMD. */
  command?: string[];
  /** Default: the catalogue's memory. */
  memorySize?: number;
  /** /tmp, MB. Default: Lambda's 512. */
  ephemeralStorageMb?: number;
  reservedConcurrency?: number;
}

/**
 * Makes the pipeline's functions from the function catalogue (functions/catalogue.ts), the twin's source too: memory,
 * timeout, description and environment come from there, and so do the grants of what each one's code calls. Every
 * function gets its own log group, its own role (that may write that log group and, through the grants below, exactly
 * what its code calls: test/stack/iam-commands.test.ts; no AWS managed policy, no shared role) and, in isolated mode,
 * its own security group. Resources are created with the stack as scope, so their logical ids are the ones they
 * always had.
 */
export class PipelineFunctions {
  constructor(
    private readonly stack: Stack,
    private readonly settings: Pick<StackSettings, "repoRoot" | "tracing" | "tracerEnvironment" | "logRetention" | "removalPolicy">,
    private readonly store: DocumentStore,
    private readonly network: IsolatedNetwork | undefined,
    private readonly values: DeploymentValues,
  ) {}

  /**
   * The catalogue's function with the environment it gets in this deployment (checked at synth by the function's own
   * configuration reader), its grants and, in isolated mode, its egress. The workflow grant (start) needs the state
   * machine, so `grantExecutions` adds it later.
   */
  node(spec: FunctionSpec): NodejsFunction {
    const fn = this.nodeFunction(spec, this.environment(spec, spec.memoryMb));
    this.grant(fn, spec.access);
    return fn;
  }

  /** The catalogue's image function: inference (llama.cpp and the model baked in) or OCR (Tesseract and pdf.js). */
  image(spec: FunctionSpec, options: ImageOptions): lambda.DockerImageFunction {
    const fn = this.imageFunction(spec, options, this.environment(spec, options.memorySize ?? spec.memoryMb));
    this.grant(fn, spec.access);
    return fn;
  }

  private environment(spec: FunctionSpec, memoryMb: number): Record<string, string> {
    const environment = functionEnvironment(spec, this.values);
    validateFunctionEnvironment(spec, environment, memoryMb);
    return environment;
  }

  private grant(fn: lambda.Function, access: FunctionAccess): void {
    if (access.bucket) this.grantBucket(fn, access.bucket);
    if (access.table) this.store.table.grant(fn, ...access.table);
    this.network?.allowEgress(fn, [...access.endpoints]);
  }

  private nodeFunction(spec: FunctionSpec, environment: Record<string, string>): NodejsFunction {
    const { constructId: name, entry } = spec;
    const bundling = bundlingExtras[spec.id];
    const { repoRoot } = this.settings;
    const entryPath = join(repoRoot, entry);
    if (!existsSync(entryPath)) throw new Error(`${name}: handler entry ${entry} does not exist`);
    for (const file of bundling?.copyFiles ?? []) {
      if (!existsSync(join(repoRoot, file))) throw new Error(`${name}: bundling copies ${file}, which does not exist`);
    }
    for (const { from } of bundling?.copyDirectories ?? []) {
      if (!existsSync(join(repoRoot, from))) throw new Error(`${name}: bundling copies ${from}/, which does not exist`);
    }
    for (const file of bundling?.workerEntries ?? []) {
      if (!existsSync(join(repoRoot, file))) throw new Error(`${name}: bundling builds worker ${file}, which does not exist`);
    }
    const logGroup = this.logGroup(name);
    return new NodejsFunction(this.stack, name, {
      entry: entryPath,
      handler: "handler",
      projectRoot: repoRoot,
      depsLockFilePath: join(repoRoot, "package-lock.json"),
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: spec.memoryMb,
      timeout: Duration.seconds(spec.timeoutSeconds),
      description: functionDescription(spec, this.values.model.id),
      bundling: handlerBundling(bundling),
      tracing: this.settings.tracing,
      environment: { ...this.settings.tracerEnvironment, ...environment },
      logGroup,
      role: this.role(name, logGroup),
      ...this.network?.placement(name),
    });
  }

  /** An image function, built from its target of infra/image/Dockerfile for arm64. */
  private imageFunction(spec: FunctionSpec, options: ImageOptions, environment: Record<string, string>): lambda.DockerImageFunction {
    const name = spec.constructId;
    const { repoRoot } = this.settings;
    const logGroup = this.logGroup(name);
    return new lambda.DockerImageFunction(this.stack, name, {
      role: this.role(name, logGroup),
      code: lambda.DockerImageCode.fromImageAsset(repoRoot, {
        file: IMAGE_DOCKERFILE,
        target: options.build.target,
        platform: Platform.LINUX_ARM64,
        ...this.imageInputs(options.build),
        ignoreMode: IgnoreMode.DOCKER,
        ...(options.command ? { cmd: options.command } : {}),
      }),
      architecture: lambda.Architecture.ARM_64,
      memorySize: options.memorySize ?? spec.memoryMb,
      timeout: Duration.seconds(spec.timeoutSeconds),
      ...(options.ephemeralStorageMb !== undefined ? { ephemeralStorageSize: Size.mebibytes(options.ephemeralStorageMb) } : {}),
      ...(options.reservedConcurrency !== undefined ? { reservedConcurrentExecutions: options.reservedConcurrency } : {}),
      description: functionDescription(spec, this.values.model.id),
      tracing: this.settings.tracing,
      logGroup,
      ...this.network?.placement(name),
      environment: { ...this.settings.tracerEnvironment, ...environment },
    });
  }

  /**
   * A target's build args, and what its context leaves out (added after .dockerignore's allow-list). Only what the
   * target reads goes into its asset hash: the OCR image does not change with the model.
   */
  private imageInputs(build: ImageBuild): { buildArgs: Record<string, string>; exclude: string[] } {
    if (build.target === "ocr") {
      return { buildArgs: { OCR_LANGUAGE: this.values.ocrLanguage }, exclude: ["models/**"] };
    }
    const { model } = build;
    return {
      buildArgs: { MODEL_ID: model.id, MODEL_SHA256: model.sha256, ...(model.lora ? { LORA_SHA256: model.lora.sha256 } : {}) },
      // Every model file but the selected one stays out of the context.
      exclude: otherModelFileExcludes(this.settings.repoRoot, model),
    };
  }

  /**
   * Prefix-scoped S3 grants of exactly the object actions the function's code sends (GetObject, PutObject), and the
   * key's use when the bucket has a KMS key.
   */
  private grantBucket(fn: lambda.Function, access: NonNullable<FunctionAccess["bucket"]>): void {
    const { bucket, bucketKey } = this.store;
    const objects = (prefixes: readonly string[]) => prefixes.map((prefix) => bucket.arnForObjects(under(prefix)));
    if (access.read?.length) {
      fn.addToRolePolicy(
        new iam.PolicyStatement({
          actions: access.readVersions ? ["s3:GetObject", "s3:GetObjectVersion"] : ["s3:GetObject"],
          resources: objects(access.read),
        }),
      );
      bucketKey?.grantDecrypt(fn);
    }
    if (access.write?.length) {
      fn.addToRolePolicy(new iam.PolicyStatement({ actions: ["s3:PutObject"], resources: objects(access.write) }));
      bucketKey?.grant(fn, "kms:GenerateDataKey");
    }
  }

  /** Starting the workflow's executions, and listing them (the start function counts running ones for admission). */
  grantExecutions(fn: lambda.Function, stateMachine: sfn.StateMachine): void {
    stateMachine.grantStartExecution(fn);
    fn.addToRolePolicy(new iam.PolicyStatement({ actions: ["states:ListExecutions"], resources: [stateMachine.stateMachineArn] }));
  }

  private logGroup(name: string): logs.LogGroup {
    return new logs.LogGroup(this.stack, `${name}Logs`, {
      retention: this.settings.logRetention,
      removalPolicy: this.settings.removalPolicy,
    });
  }

  /** The function's own role, which may write its own log group; the grants add what its code calls. */
  private role(name: string, logGroup: logs.LogGroup): iam.Role {
    const role = new iam.Role(this.stack, `${name}Role`, {
      assumedBy: new iam.ServicePrincipal("lambda.amazonaws.com"),
      description: `llambda ${name}`,
    });
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: "WriteOwnLogs",
        actions: ["logs:CreateLogStream", "logs:PutLogEvents"],
        resources: [logGroup.logGroupArn],
      }),
    );
    return role;
  }
}
