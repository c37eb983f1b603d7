/** Queries on a synthesized template (policies, statements, joined strings) and on an asset folder, shared by the stack tests. */
import { readdirSync } from "node:fs";
import { join, relative } from "node:path";
import type { CfnElement, Stack } from "aws-cdk-lib";
import { Match, type Template } from "aws-cdk-lib/assertions";
import { expect } from "vitest";

export type Json = Record<string, unknown>;

/** The `source` of a docker image in a CDK asset manifest. */
export interface DockerSource {
  directory: string;
  dockerFile?: string;
  dockerBuildArgs?: Record<string, string>;
  dockerBuildTarget?: string;
  platform?: string;
}

export function logicalId(stack: Stack, construct: { node: { defaultChild?: unknown } }): string {
  return stack.getLogicalId(construct.node.defaultChild as CfnElement);
}

/** `{"Ref": X}` -> `${Ref:X}`, `{"Fn::GetAtt": [X, "Arn"]}` -> `${GetAtt:X.Arn}`, so a joined JSON string parses. */
export function placeholder(token: unknown): string {
  const t = token as Json;
  if (typeof t.Ref === "string") return `\${Ref:${t.Ref}}`;
  const getAtt = t["Fn::GetAtt"];
  if (Array.isArray(getAtt)) return `\${GetAtt:${getAtt.join(".")}}`;
  throw new Error(`Unexpected token in definition: ${JSON.stringify(token)}`);
}

export function joinedString(value: unknown): string {
  if (typeof value === "string") return value;
  const join = (value as Json)["Fn::Join"] as [string, unknown[]] | undefined;
  if (!join) throw new Error(`Expected a string or Fn::Join, got ${JSON.stringify(value)}`);
  return join[1].map((part) => (typeof part === "string" ? part : placeholder(part))).join(join[0]);
}

export function onlyResource(template: Template, type: string, props?: Json): Json {
  const found = Object.values(template.findResources(type, props ? { Properties: props } : undefined));
  expect(found, `${type} count`).toHaveLength(1);
  return found[0] as Json;
}

export function statementsOf(policy: Json): Json[] {
  return ((policy.Properties as Json).PolicyDocument as Json).Statement as Json[];
}

export function actionsOf(statement: Json): string[] {
  const action = statement.Action;
  return Array.isArray(action) ? (action as string[]) : [action as string];
}

export function resourcesOf(statement: Json): unknown[] {
  const resource = statement.Resource;
  return Array.isArray(resource) ? resource : [resource];
}

/** The IAM policy attached to a role (by the role's logical id). */
export function policyOfRole(template: Template, roleLogicalId: string): Json {
  return onlyResource(template, "AWS::IAM::Policy", { Roles: Match.arrayWith([{ Ref: roleLogicalId }]) });
}

export function roleLogicalIdOf(stack: Stack, fn: { role?: unknown }): string {
  return stack.getLogicalId((fn.role as { node: { defaultChild: CfnElement } }).node.defaultChild);
}

export function listFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (current: string): void => {
    for (const entry of readdirSync(current, { withFileTypes: true })) {
      const full = join(current, entry.name);
      if (entry.isDirectory()) walk(full);
      else out.push(relative(dir, full).split("\\").join("/"));
    }
  };
  walk(dir);
  return out.sort();
}
