/**
 * The small part of JSONPath the twin's Distributed Map adapter evaluates itself (aws-local-stepfunctions does the
 * rest): `$`, `$.a.b[0]` on the state input and `$$.a.b` on the context object, in `"key.$"` payload templates.
 */
export function readPath(path: string, input: unknown, context: unknown): unknown {
  const fromContext = path.startsWith("$$");
  const rest = path.slice(fromContext ? 2 : 1);
  if (!/^(\.[A-Za-z_][\w-]*|\[\d+\])*$/.test(rest)) {
    throw new Error(`The local twin's Distributed Map supports only plain paths like $.a.b, not ${JSON.stringify(path)}`);
  }
  let value: unknown = fromContext ? context : input;
  for (const [, name, index] of rest.matchAll(/\.([A-Za-z_][\w-]*)|\[(\d+)\]/g)) {
    if (value === null || typeof value !== "object") return undefined;
    value = name !== undefined ? (value as Record<string, unknown>)[name] : (value as unknown[])[Number(index)];
  }
  return value;
}

/** Resolves a Parameters-style template: keys ending in `.$` take the value at their path. */
export function resolveTemplate(template: unknown, input: unknown, context: unknown): unknown {
  if (Array.isArray(template)) return template.map((item) => resolveTemplate(item, input, context));
  if (template === null || typeof template !== "object") return template;
  const resolved: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(template)) {
    if (key.endsWith(".$")) {
      if (typeof value !== "string") throw new Error(`${key} must be a path string`);
      const found = readPath(value, input, context);
      if (found === undefined) throw new Error(`Path ${value} (for ${key}) matches nothing in the state input`);
      resolved[key.slice(0, -2)] = found;
    } else {
      resolved[key] = resolveTemplate(value, input, context);
    }
  }
  return resolved;
}
