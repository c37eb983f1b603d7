import { type RemovalPolicy, Stack } from "aws-cdk-lib";
import * as ec2 from "aws-cdk-lib/aws-ec2";
import * as iam from "aws-cdk-lib/aws-iam";
import type * as lambda from "aws-cdk-lib/aws-lambda";
import * as logs from "aws-cdk-lib/aws-logs";
import * as cr from "aws-cdk-lib/custom-resources";
import { Construct } from "constructs";
import type { EndpointService } from "../../functions/catalogue.ts";

/**
 * Isolated mode's network: a VPC with isolated subnets only (no route to the internet: no NAT gateway, no internet
 * gateway), flow logs, gateway endpoints for S3 and DynamoDB, an interface endpoint for Step Functions, and one
 * security group per function without default egress.
 */
export class IsolatedNetwork extends Construct {
  readonly vpc: ec2.Vpc;
  readonly stepFunctionsEndpoint: ec2.InterfaceVpcEndpoint;
  private readonly securityGroups = new Map<string, ec2.SecurityGroup>();
  private readonly prefixLists: Record<"s3" | "dynamodb", string>;

  constructor(scope: Construct, id: string, props: { logRetention: logs.RetentionDays; removalPolicy: RemovalPolicy }) {
    super(scope, id);
    this.vpc = new ec2.Vpc(this, "Vpc", {
      maxAzs: 2,
      natGateways: 0,
      subnetConfiguration: [{ name: "isolated", subnetType: ec2.SubnetType.PRIVATE_ISOLATED, cidrMask: 24 }],
      gatewayEndpoints: {
        S3: { service: ec2.GatewayVpcEndpointAwsService.S3 },
        DynamoDB: { service: ec2.GatewayVpcEndpointAwsService.DYNAMODB },
      },
    });
    const flowLogs = new logs.LogGroup(this, "FlowLogs", { retention: props.logRetention, removalPolicy: props.removalPolicy });
    this.vpc.addFlowLog("FlowLog", { destination: ec2.FlowLogDestination.toCloudWatchLogs(flowLogs) });
    this.stepFunctionsEndpoint = this.vpc.addInterfaceEndpoint("StepFunctionsEndpoint", {
      service: ec2.InterfaceVpcEndpointAwsService.STEP_FUNCTIONS,
      privateDnsEnabled: true,
      open: false,
    });
    // Gateway endpoints are reached through their region's managed prefix lists, whose ids only AWS knows.
    const region = Stack.of(this).region;
    const prefixListId = (service: "s3" | "dynamodb") =>
      new cr.AwsCustomResource(this, `${service === "s3" ? "S3" : "DynamoDb"}PrefixList`, {
        onUpdate: {
          service: "EC2",
          action: "describeManagedPrefixLists",
          parameters: { Filters: [{ Name: "prefix-list-name", Values: [`com.amazonaws.${region}.${service}`] }] },
          physicalResourceId: cr.PhysicalResourceId.of(`${service}-prefix-list`),
          outputPaths: ["PrefixLists.0.PrefixListId"],
        },
        policy: cr.AwsCustomResourcePolicy.fromStatements([
          new iam.PolicyStatement({ actions: ["ec2:DescribeManagedPrefixLists"], resources: ["*"] }),
        ]),
        installLatestAwsSdk: false,
      }).getResponseField("PrefixLists.0.PrefixListId");
    this.prefixLists = { s3: prefixListId("s3"), dynamodb: prefixListId("dynamodb") };
  }

  /** A function's VPC settings: the isolated subnets and its own security group, with no egress until allowed. */
  placement(functionName: string): { vpc: ec2.IVpc; vpcSubnets: ec2.SubnetSelection; securityGroups: ec2.ISecurityGroup[] } {
    const group = new ec2.SecurityGroup(this, `${functionName}SecurityGroup`, {
      vpc: this.vpc,
      description: `llambda ${functionName}: HTTPS to the endpoints of the services it calls, nothing else`,
      allowAllOutbound: false,
    });
    this.securityGroups.set(functionName, group);
    return { vpc: this.vpc, vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED }, securityGroups: [group] };
  }

  allowEgress(fn: lambda.Function, services: EndpointService[]): void {
    const group = this.securityGroups.get(fn.node.id);
    if (!group) throw new Error(`${fn.node.id} has no security group in the isolated network`);
    for (const service of services) {
      if (service === "states") {
        group.connections.allowTo(this.stepFunctionsEndpoint, ec2.Port.tcp(443), "HTTPS to the Step Functions endpoint");
      } else {
        group.addEgressRule(ec2.Peer.prefixList(this.prefixLists[service]), ec2.Port.tcp(443), `HTTPS to the ${service} gateway endpoint`);
      }
    }
  }
}
