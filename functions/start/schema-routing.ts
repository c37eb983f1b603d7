/**
 * Which extraction schema a document gets, by where it was uploaded: a table of S3 key prefixes → schema ids (longest
 * prefix wins) and a default for everything else. The stack reads it from cdk.json context (`llambda:schemaRoutes`,
 * `llambda:schemaId`), checks it at synth time and hands it to the start function, which records the schema id in
 * the execution input; every later step reads it from there.
 */
export interface SchemaRouting {
  /** Key prefix (e.g. `uploads/invoices/`) → schema id. */
  routes: Record<string, string>;
  /** Schema of documents under no routed prefix. */
  defaultSchemaId: string;
}

export class SchemaRoutingError extends Error {
  override readonly name = "SchemaRoutingError";
}

/** The schema id for an object key: the longest matching prefix's, else the default. */
export function schemaIdForKey(routing: SchemaRouting, key: string): string {
  return longestPrefixValue(routing.routes, key) ?? routing.defaultSchemaId;
}

/** The value of the longest prefix of `routes` that `key` starts with (the rule of every per-prefix setting). */
export function longestPrefixValue<T>(routes: Readonly<Record<string, T>>, key: string): T | undefined {
  let best: string | undefined;
  for (const prefix of Object.keys(routes)) {
    if (key.startsWith(prefix) && (best === undefined || prefix.length > best.length)) best = prefix;
  }
  return best === undefined ? undefined : routes[best];
}

/**
 * Checks a routing table against the schemas that exist and the prefix uploads arrive under: unknown schema ids and
 * prefixes no upload can match are errors, listed together.
 */
export function validateSchemaRouting(routing: SchemaRouting, knownSchemaIds: readonly string[], uploadsPrefix: string): void {
  const problems: string[] = [];
  const known = new Set(knownSchemaIds);
  if (!known.has(routing.defaultSchemaId)) problems.push(`default schema "${routing.defaultSchemaId}" is unknown`);
  for (const [prefix, schemaId] of Object.entries(routing.routes)) {
    if (!known.has(schemaId)) problems.push(`prefix "${prefix}" routes to unknown schema "${schemaId}"`);
    if (!prefix.startsWith(uploadsPrefix)) {
      problems.push(`prefix "${prefix}" is outside "${uploadsPrefix}", where uploads start the workflow`);
    }
  }
  if (problems.length > 0) {
    throw new SchemaRoutingError(`Invalid schema routing: ${problems.join("; ")}. Known schemas: ${[...known].join(", ")}`);
  }
}

/** Parses the routing table from JSON (an environment variable or a `-c` context string). */
export function parseSchemaRouting(text: string): SchemaRouting {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new SchemaRoutingError(`Schema routing is not JSON: ${String(error)}`);
  }
  const routing = value as Partial<SchemaRouting>;
  if (!routing || typeof routing !== "object" || typeof routing.defaultSchemaId !== "string") {
    throw new SchemaRoutingError('Schema routing must be {"routes": {"<prefix>": "<schema id>"}, "defaultSchemaId": "<id>"}');
  }
  return { routes: parseRoutes(routing.routes ?? {}), defaultSchemaId: routing.defaultSchemaId };
}

/** A prefix → schema id object, every value a string. */
export function parseRoutes(value: unknown): Record<string, string> {
  const routes = typeof value === "string" ? (JSON.parse(value) as unknown) : value;
  if (!routes || typeof routes !== "object" || Array.isArray(routes)) {
    throw new SchemaRoutingError(`Schema routes must be an object of prefix → schema id, got ${JSON.stringify(value)}`);
  }
  for (const [prefix, schemaId] of Object.entries(routes)) {
    if (typeof schemaId !== "string" || prefix === "") {
      throw new SchemaRoutingError(`Schema route ${JSON.stringify(prefix)} → ${JSON.stringify(schemaId)}: need a prefix and a schema id`);
    }
  }
  return routes as Record<string, string>;
}
