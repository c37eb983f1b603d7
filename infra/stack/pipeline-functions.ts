import { existsSync } from "node:fs";
import { join } from "node:path";
import { IgnoreMode, Size, type Stack } from "aws-cdk-lib";
import { Platform } from "aws-cdk-lib/aws-ecr-assets";
import * as iam from "aws-cdk-lib/aws-iam";
import * as lambda from "aws-cdk-lib/aws-lambda";
import { NodejsFunction } from "aws-cdk-lib/aws-lambda-nodejs";
import * as logs from "aws-cdk-lib/aws-logs";
import type * as sfn from "aws-cdk-lib/aws-stepfunctions";
import { EnvNames } from "../../functions/shared/env-names.ts";
import { handlerBundling } from "../bundling.ts";
import { otherModelFileExcludes, type ModelArtifact } from "../model-artifact.ts";
import { under, type DocumentStore } from "./document-store.ts";
import { inferFunctionSpec, type FunctionSpec } from "./function-specs.ts";
import type { EndpointService, IsolatedNetwork } from "./isolated-network.ts";
import type { StackSettings } from "./props.ts";

/** Where the Dockerfile puts the model inside the inference image. */
export const INFER_MODEL_PATH = "/opt/llambda/model.gguf";
/** Where the image puts the model's LoRA adapter, when the manifest names one. */
export const INFER_LORA_PATH = "/opt/llambda/lora.gguf";

/** What a grant of the document bucket covers: object reads and writes under BucketLayout prefixes. */
export interface BucketAccess {
  read?: readonly string[];
  /** Reads name an object version (GetObject with VersionId). */
  readVersions?: boolean;
  write?: readonly string[];
}

/**
 * Makes the pipeline's functions and grants them what their code calls. Every function gets its own log group, its
 * own role (that may write that log group and, through the grants below, exactly what its code calls:
 * test/iam-commands.test.ts; no AWS managed policy, no shared role) and, in isolated mode, its own security group.
 * Resources are created with the stack as scope, so their logical ids are the ones they always had.
 */
export class PipelineFunctions {
  constructor(
    private readonly stack: Stack,
    private readonly settings: Pick<StackSettings, "repoRoot" | "tracing" | "tracerEnvironment" | "logRetention" | "removalPolicy">,
    private readonly store: DocumentStore,
    private readonly network: IsolatedNetwork | undefined,
  ) {}

  /** A Node.js function from its spec; `environment` adds to what every function gets. */
  node(spec: FunctionSpec, environment: Record<string, string> = {}): NodejsFunction {
    const { name, entry, bundling } = spec;
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
      memorySize: spec.memorySize,
      timeout: spec.timeout,
      description: spec.description,
      bundling: handlerBundling(bundling),
      tracing: this.settings.tracing,
      environment: { ...this.settings.tracerEnvironment, ...environment },
      logGroup,
      role: this.role(name, logGroup),
      ...this.network?.placement(name),
    });
  }

  /** The inference function: an image with llama.cpp and the model baked in (functions/infer/Dockerfile). */
  image(options: {
    model: ModelArtifact;
    memorySize: number;
    ephemeralStorageMb: number;
    reservedConcurrency?: number;
    environment: Record<string, string>;
  }): lambda.DockerImageFunction {
    const { model } = options;
    const { name } = inferFunctionSpec;
    const { repoRoot } = this.settings;
    const logGroup = this.logGroup(name);
    return new lambda.DockerImageFunction(this.stack, name, {
      role: this.role(name, logGroup),
      code: lambda.DockerImageCode.fromImageAsset(repoRoot, {
        file: inferFunctionSpec.dockerfile,
        platform: Platform.LINUX_ARM64,
        buildArgs: {
          MODEL_ID: model.id,
          MODEL_SHA256: model.sha256,
          ...(model.lora ? { LORA_SHA256: model.lora.sha256 } : {}),
        },
        // Added after .dockerignore's allow-list: every model file but the selected one stays out of the context.
        exclude: otherModelFileExcludes(repoRoot, model),
        ignoreMode: IgnoreMode.DOCKER,
      }),
      architecture: lambda.Architecture.ARM_64,
      memorySize: options.memorySize,
      timeout: inferFunctionSpec.timeout,
      ephemeralStorageSize: Size.mebibytes(options.ephemeralStorageMb),
      ...(options.reservedConcurrency !== undefined ? { reservedConcurrentExecutions: options.reservedConcurrency } : {}),
      description: inferFunctionSpec.description(model.id),
      tracing: this.settings.tracing,
      logGroup,
      ...this.network?.placement(name),
      environment: { ...this.settings.tracerEnvironment, ...options.environment },
    });
  }

  // Each grant sets the variable that names the resource it grants.

  /**
   * Prefix-scoped S3 grants of exactly the object actions the function's code sends (GetObject, PutObject); the
   * grantee also gets the bucket's name in its environment, and the key's use when the bucket has a KMS key.
   */
  grantBucket(fn: lambda.Function, access: BucketAccess): void {
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
    fn.addEnvironment(EnvNames.bucket, bucket.bucketName);
  }

  /** The document items: UpdateItem only (what merge and failed-execution send), and the table's name. */
  grantItemUpdates(fn: lambda.Function): void {
    this.store.table.grant(fn, "dynamodb:UpdateItem");
    fn.addEnvironment(EnvNames.table, this.store.table.tableName);
  }

  /** Starting the workflow's executions, and listing them (the start function counts running ones for admission). */
  grantExecutions(fn: lambda.Function, stateMachine: sfn.StateMachine): void {
    stateMachine.grantStartExecution(fn);
    fn.addToRolePolicy(new iam.PolicyStatement({ actions: ["states:ListExecutions"], resources: [stateMachine.stateMachineArn] }));
    fn.addEnvironment(EnvNames.stateMachineArn, stateMachine.stateMachineArn);
  }

  /** Isolated mode: the function may open HTTPS connections only to the endpoints of the services its code calls. */
  allowEgress(fn: lambda.Function, services: EndpointService[]): void {
    this.network?.allowEgress(fn, services);
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
