import { intEnv, optionalEnv, requireEnv, type Env } from "../shared/config.ts";
import { EnvNames } from "../shared/env-names.ts";
import { ConfigurationError } from "../shared/errors.ts";
import { defaultSchemaId, extractionSchemas } from "../schemas/index.ts";
import { openMapRunsHeadroom } from "./admission.ts";
import { parseOcrMode, parseOcrRoutes, type OcrRouting } from "./ocr-routing.ts";
import { parseSchemaRouting, validateSchemaRouting, type SchemaRouting } from "./schema-routing.ts";

export interface StartConfig {
  stateMachineArn: string;
  schemaRouting: SchemaRouting;
  ocrRouting: OcrRouting;
  /** Documents let run at once; uploads beyond wait in the queue. */
  maxRunningDocuments: number;
}

/** The one validator of the start function's settings: handler init, the twin, and the stack at synth time. */
export function readStartConfig(env: Env): StartConfig {
  return {
    stateMachineArn: requireEnv(EnvNames.stateMachineArn, env),
    schemaRouting: readSchemaRouting(env),
    ocrRouting: readOcrRouting(env),
    maxRunningDocuments: intEnv(EnvNames.maxRunningDocuments, 40, { min: 1, max: openMapRunsHeadroom }, env),
  };
}

function readSchemaRouting(env: Env): SchemaRouting {
  const text = optionalEnv(EnvNames.schemaRouting, JSON.stringify({ routes: {}, defaultSchemaId }), env);
  try {
    const routing = parseSchemaRouting(text);
    // Uploads reach this function only from under the uploads prefix; the stack checked the same at synth time.
    validateSchemaRouting(routing, Object.keys(extractionSchemas), "");
    return routing;
  } catch (error) {
    throw new ConfigurationError(`${EnvNames.schemaRouting}: ${(error as Error).message}`, { cause: error });
  }
}

function readOcrRouting(env: Env): OcrRouting {
  let defaultMode;
  try {
    defaultMode = parseOcrMode(optionalEnv(EnvNames.ocr, "auto", env), EnvNames.ocr);
  } catch (error) {
    throw new ConfigurationError((error as Error).message, { cause: error });
  }
  try {
    // Uploads reach this function only from under the uploads prefix; the stack checks prefixes against it at synth time.
    return { routes: parseOcrRoutes(optionalEnv(EnvNames.ocrRoutes, "{}", env), ""), defaultMode };
  } catch (error) {
    throw new ConfigurationError(`${EnvNames.ocrRoutes}: ${(error as Error).message}`, { cause: error });
  }
}
