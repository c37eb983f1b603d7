import { fileURLToPath } from "node:url";

/**
 * The repository root: the NodejsFunction project root and the inference image's build context. A module of its own
 * so that light modules (infra/context.ts, which the local twin loads) need not load the stack and aws-cdk-lib.
 */
export const REPO_ROOT = fileURLToPath(new URL("..", import.meta.url));
