import Ajv2020 from "ajv/dist/2020.js";
import itemSchema from "../../functions/shared/document-item.schema.json" with { type: "json" };

/** The item contract's JSON Schema, compiled as a consumer would (formats are documentation here, not checked). */
export const validateItem = new Ajv2020.default({ strict: true, strictRequired: false, allErrors: true, validateFormats: false }).compile(itemSchema);
export { itemSchema };
