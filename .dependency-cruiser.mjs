// Layer rules (issue 15, "layers that only look down"), checked by `npm run lint:deps` in `npm test`.
// Layers, lowest first: functions/shared -> functions/schemas -> the stage folders -> functions/catalogue.ts
// -> statemachine -> infra (infra/local is the twin) -> bench -> test. A layer imports only from layers below it.
// test/dependency-rules.test.ts cruises a fixture tree with this file to show each rule reports by name.

const STAGES = "start|chunk|infer|merge|consumer|failed-execution|ocr|review";

/** @type {import('dependency-cruiser').IConfiguration} */
export default {
  forbidden: [
    {
      name: "no-circular",
      severity: "error",
      comment: "A cycle makes two modules one layer; break it by moving the shared part down.",
      from: { path: "^(functions|statemachine|infra|bench|models|test)/" },
      to: { circular: true },
    },
    {
      name: "functions-not-to-tools",
      severity: "error",
      comment:
        "functions/ is what ships in the Lambda bundles: it never imports the stack, the twin, the workflow builder, " +
        "benches, tests or model tooling. Development-only paths register themselves from infra/ instead.",
      from: { path: "^functions/" },
      to: { path: "^(infra|bench|test|models|statemachine)/" },
    },
    {
      name: "shared-not-to-functions",
      severity: "error",
      comment: "functions/shared is the lowest layer: it imports no other functions/ folder.",
      from: { path: "^functions/shared/" },
      to: { path: "^functions/", pathNot: "^functions/shared/" },
    },
    {
      name: "schemas-only-to-shared",
      severity: "error",
      comment: "The extraction schemas sit just above functions/shared and below every stage.",
      from: { path: "^functions/schemas/" },
      to: { path: "^functions/", pathNot: "^functions/(schemas|shared)/" },
    },
    {
      name: "stage-not-to-other-stage",
      severity: "error",
      comment:
        "A stage folder imports only itself, functions/shared and functions/schemas; vocabulary two stages need moves " +
        "down to functions/shared.",
      from: { path: `^functions/(${STAGES})/` },
      // catalogue.ts has its own rule below (one report per import).
      to: { path: "^functions/", pathNot: "^functions/(($1|shared|schemas)/|catalogue\\.ts$)" },
    },
    {
      name: "not-to-catalogue",
      severity: "error",
      comment: "functions/catalogue.ts sits above the stages (it reads their config); stages and shared never import it.",
      from: { path: `^functions/(shared|schemas|${STAGES})/` },
      to: { path: "^functions/catalogue\\.ts$" },
    },
    {
      name: "statemachine-only-to-shared",
      severity: "error",
      comment: "The workflow definition imports only itself and functions/shared (contracts, retry vocabulary).",
      from: { path: "^statemachine/" },
      to: { path: "^(functions|infra|bench|test|models)/", pathNot: "^functions/shared/" },
    },
    {
      name: "infra-not-to-twin-bench-test",
      severity: "error",
      comment: "The stack and its bundling never depend on the local twin, benches or tests.",
      from: { path: "^infra/", pathNot: "^infra/local/" },
      to: { path: "^(infra/local|bench|test)/" },
    },
    {
      name: "twin-not-to-bench-test",
      severity: "error",
      comment: "The local twin is shipped as the `llambda` CLI: it never imports benches or tests.",
      from: { path: "^infra/local/" },
      to: { path: "^(bench|test)/" },
    },
    {
      name: "bench-not-to-test",
      severity: "error",
      comment: "Benches run on their own; shared fixtures live in bench/ or functions/, not test/.",
      from: { path: "^bench/" },
      to: { path: "^test/" },
    },
    {
      name: "functions-not-to-dev-dependencies",
      severity: "error",
      comment:
        "functions/ is bundled into the Lambdas, which get only `dependencies`. Type-only imports are erased, so they " +
        "are fine.",
      from: { path: "^functions/" },
      to: { dependencyTypes: ["npm-dev"], dependencyTypesNot: ["type-only"] },
    },
  ],
  options: {
    // Type-only imports count as edges (a type cycle is still a cycle) and are marked "type-only" so the
    // devDependency rule can let them through.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    doNotFollow: { path: "node_modules" },
    // Not node_modules: doNotFollow keeps its modules as leaves, which the devDependency rule needs to see.
    exclude: { path: "^(cdk\\.out|\\.llambda|coverage|\\.cache)/" },
    enhancedResolveOptions: {
      exportsFields: ["exports"],
      conditionNames: ["import", "require", "node", "default", "types"],
      extensions: [".ts", ".mts", ".js", ".mjs", ".cjs", ".json", ".d.ts"],
    },
    skipAnalysisNotInRules: true,
  },
};
