import { readInferConfig } from "./config.ts";
import { createHandler } from "./create-handler.ts";

/** Lambda's entry: configuration and model load happen at init, so a bad setting or model fails the init. */
export const handler = await createHandler(readInferConfig(process.env));
