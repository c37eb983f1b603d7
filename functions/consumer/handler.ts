import { readConsumerConfig } from "./config.ts";
import { createHandler } from "./create-handler.ts";

/** Lambda's entry. */
export const handler = createHandler(readConsumerConfig(process.env));
