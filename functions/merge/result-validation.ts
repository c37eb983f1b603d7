import Ajv2020, { type ValidateFunction } from "ajv/dist/2020.js";
import { ResultInvalidError } from "../shared/errors.ts";
import type { JsonSchemaNode } from "../shared/json-schema.ts";
import { MergeKeywords } from "../shared/merge-keywords.ts";
import { ReviewKeywords } from "../shared/review-keywords.ts";

/** Validates merged results against their extraction schema with ajv (draft 2020-12), compiled once per schema. */
const ajv = new Ajv2020.default({ allErrors: true, strict: true, allowUnionTypes: true });
// Our annotations: known to ajv so strict mode still rejects typos elsewhere in a schema.
ajv.addKeyword({ keyword: MergeKeywords.strategy, schemaType: "string" });
ajv.addKeyword({ keyword: MergeKeywords.key, schemaType: ["string", "array"] });
ajv.addKeyword({ keyword: ReviewKeywords.grounding, schemaType: "string" });
ajv.addKeyword({ keyword: ReviewKeywords.reviewBelow, schemaType: "number" });

const compiled = new Map<JsonSchemaNode, ValidateFunction>();

export function assertValidResult(value: unknown, schema: JsonSchemaNode, schemaId: string): void {
  let validate = compiled.get(schema);
  if (!validate) compiled.set(schema, (validate = ajv.compile(schema)));
  if (!validate(value)) {
    const problems = (validate.errors ?? []).slice(0, 5).map((e) => `${e.instancePath || "/"} ${e.message ?? ""}`.trim());
    throw new ResultInvalidError(`The merged result does not validate against schema "${schemaId}": ${problems.join("; ")}`);
  }
}
