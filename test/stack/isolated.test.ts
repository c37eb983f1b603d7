/**
 * Isolated mode (`-c llambda:isolated=true`): no route to the internet anywhere, every function in the VPC's isolated
 * subnets, and each function's security group allowing HTTPS only to the endpoints of the services its code calls.
 */
import type { CfnElement } from "aws-cdk-lib";
import { Template } from "aws-cdk-lib/assertions";
import { beforeAll, describe, expect, it } from "vitest";
import { LlambdaStack } from "../../infra/llambda-stack.ts";
import { baseStackProps, unbundledApp } from "../helpers/stack-fixture.ts";

type Json = Record<string, unknown>;

function synth(isolated: boolean) {
  const stack = new LlambdaStack(unbundledApp(), "Isolated", { ...baseStackProps, isolated });
  return { stack, template: Template.fromStack(stack) };
}

describe("isolated mode", () => {
  let stack: LlambdaStack;
  let template: Template;

  beforeAll(() => {
    ({ stack, template } = synth(true));
  }, 120_000);

  it("has no route to 0.0.0.0/0 (or ::/0), no internet gateway and no NAT gateway", () => {
    const routes = Object.values(template.findResources("AWS::EC2::Route")).map((route) => route.Properties as Json);
    expect(routes.filter((route) => route.DestinationCidrBlock === "0.0.0.0/0" || route.DestinationIpv6CidrBlock === "::/0")).toEqual([]);
    for (const type of ["AWS::EC2::InternetGateway", "AWS::EC2::NatGateway", "AWS::EC2::EgressOnlyInternetGateway", "AWS::EC2::VPCGatewayAttachment"]) {
      template.resourceCountIs(type, 0);
    }
    // Isolated subnets only, which the Lambda functions are placed in.
    expect(stack.network!.vpc.publicSubnets).toEqual([]);
    expect(stack.network!.vpc.privateSubnets).toEqual([]);
    expect(stack.network!.vpc.isolatedSubnets.length).toBeGreaterThan(0);
  });

  it("has gateway endpoints for S3 and DynamoDB and an interface endpoint only for Step Functions", () => {
    const endpoints = Object.values(template.findResources("AWS::EC2::VPCEndpoint")).map((endpoint) => endpoint.Properties as Json);
    const serviceOf = (endpoint: Json) => JSON.stringify(endpoint.ServiceName).match(/\.(s3|dynamodb|states)"/)?.[1];
    expect(endpoints.map((endpoint) => [serviceOf(endpoint), endpoint.VpcEndpointType ?? "Gateway"]).sort()).toEqual([
      ["dynamodb", "Gateway"],
      ["s3", "Gateway"],
      ["states", "Interface"],
    ]);
  });

  it("puts every function of the workflow in the VPC", () => {
    const vpcConfigOf = (fn: { node: { defaultChild?: unknown } }) =>
      (template.toJSON().Resources[stack.getLogicalId(fn.node.defaultChild as CfnElement)].Properties as Json).VpcConfig;
    const isolatedSubnetIds = stack.network!.vpc.isolatedSubnets.map((subnet) => stack.resolve(subnet.subnetId));
    const functions = [
      stack.startFunction,
      stack.chunkFunction,
      stack.ocrFunction,
      stack.inferFunction,
      stack.mergeFunction,
      stack.reviewFunction,
      stack.consumerFunction,
      stack.failedExecutionFunction,
    ];
    for (const fn of functions) {
      expect(fn.connections.securityGroups, fn.node.id).toHaveLength(1);
      expect(vpcConfigOf(fn), fn.node.id).toEqual({
        SubnetIds: isolatedSubnetIds,
        SecurityGroupIds: [stack.resolve(fn.connections.securityGroups[0]!.securityGroupId)],
      });
    }
    const groups = functions.map((fn) => JSON.stringify(stack.resolve(fn.connections.securityGroups[0]!.securityGroupId)));
    expect(new Set(groups).size).toBe(functions.length);
  });

  /** A function's security group egress rules, as [destination kind, port]. */
  function egressOf(fn: { connections: { securityGroups: Array<{ node: { defaultChild?: unknown } }> } }): string[] {
    const groupId = stack.getLogicalId(fn.connections.securityGroups[0]!.node.defaultChild as CfnElement);
    const group = template.toJSON().Resources[groupId].Properties as Json;
    const inline = (group.SecurityGroupEgress as Json[] | undefined) ?? [];
    const separate = Object.values(template.findResources("AWS::EC2::SecurityGroupEgress"))
      .map((rule) => rule.Properties as Json)
      .filter((rule) => JSON.stringify(rule.GroupId).includes(`"${groupId}"`));
    return [...inline, ...separate]
      .map((rule) => {
        const to = rule.DestinationPrefixListId
          ? `prefix list ${JSON.stringify(rule.DestinationPrefixListId).match(/(S3|DynamoDb)PrefixList/)?.[1]}`
          : rule.DestinationSecurityGroupId
            ? `security group ${JSON.stringify(rule.DestinationSecurityGroupId).includes("StepFunctionsEndpoint") ? "StepFunctionsEndpoint" : "?"}`
            : `cidr ${String(rule.CidrIp)}`;
        return `${to}:${String(rule.IpProtocol)}/${String(rule.FromPort)}-${String(rule.ToPort)}`;
      })
      .sort();
  }

  it("lets the inference function reach only the S3 endpoint, and each other function only the endpoints its code calls", () => {
    expect(egressOf(stack.inferFunction)).toEqual(["prefix list S3:tcp/443-443"]);
    expect(egressOf(stack.chunkFunction)).toEqual(["prefix list S3:tcp/443-443"]);
    expect(egressOf(stack.mergeFunction)).toEqual(["prefix list DynamoDb:tcp/443-443", "prefix list S3:tcp/443-443"]);
    expect(egressOf(stack.startFunction)).toEqual(["security group StepFunctionsEndpoint:tcp/443-443"]);
    expect(egressOf(stack.consumerFunction)).toEqual(["prefix list S3:tcp/443-443"]);
    expect(egressOf(stack.failedExecutionFunction)).toEqual(["prefix list DynamoDb:tcp/443-443"]);
    expect(egressOf(stack.reviewFunction)).toEqual(["prefix list DynamoDb:tcp/443-443", "prefix list S3:tcp/443-443"]);
  });

  it("is off by default: no VPC", () => {
    const { template: plain } = synth(false);
    plain.resourceCountIs("AWS::EC2::VPC", 0);
  }, 120_000);
});
