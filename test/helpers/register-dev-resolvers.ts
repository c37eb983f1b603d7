/**
 * Tests run the functions from source: register the development-only resolvers that production modules expose hooks
 * for (the chunk stage's extraction worker, bundled in memory). The twin and the CLIs register the same ones.
 */
import "../../infra/dev-worker-bundle.ts";
