import { readReviewConfig } from "./config.ts";
import { createHandler } from "./create-handler.ts";

/** Lambda's entry: the configuration is read at init, so a bad setting fails the init naming the variable. */
export const handler = createHandler(readReviewConfig(process.env));
