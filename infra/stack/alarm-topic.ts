import type { Stack } from "aws-cdk-lib";
import * as sns from "aws-cdk-lib/aws-sns";
import * as subscriptions from "aws-cdk-lib/aws-sns-subscriptions";
import type { LlambdaStackProps } from "./props.ts";

/** Where alarms notify: a topic created for `alarmEmail`, imported for `alarmTopicArn`; undefined otherwise. */
export function createAlarmTopic(stack: Stack, props: Pick<LlambdaStackProps, "alarmEmail" | "alarmTopicArn">): sns.ITopic | undefined {
  if (props.alarmEmail !== undefined) {
    const topic = new sns.Topic(stack, "AlarmTopic", {
      displayName: `${stack.stackName} alarms`,
      // Only HTTPS publishers (CloudWatch is one); cdk-nag SNS3.
      enforceSSL: true,
    });
    topic.addSubscription(new subscriptions.EmailSubscription(props.alarmEmail));
    return topic;
  }
  if (props.alarmTopicArn !== undefined) return sns.Topic.fromTopicArn(stack, "AlarmTopic", props.alarmTopicArn);
  return undefined;
}
