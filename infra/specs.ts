import { BucketLayout } from "../functions/shared/bucket-layout.ts";

/**
 * Resource definitions shared by the CDK stack and the local twin, so both create the same table and event routing
 * (the bucket layout is functions/shared/bucket-layout.ts, the functions are functions/catalogue.ts).
 */

/** The documents table: one item per document, streamed to consumers. */
export const DocumentTable = {
  partitionKey: { name: "documentId", type: "S" },
  billingMode: "PAY_PER_REQUEST",
  streamViewType: "NEW_AND_OLD_IMAGES",
} as const;

/** EventBridge pattern of the rule that starts the workflow: objects created under the uploads prefix. */
export function uploadEventPattern(bucketName: string) {
  return {
    source: ["aws.s3"],
    "detail-type": ["Object Created"],
    detail: {
      bucket: { name: [bucketName] },
      object: { key: [{ prefix: BucketLayout.uploadsPrefix }] },
    },
  };
}

/** Execution ends that leave the item for the failed-execution function to record (a success records itself). */
export const unsuccessfulExecutionStatuses = ["FAILED", "TIMED_OUT", "ABORTED"] as const;

/**
 * EventBridge pattern of the rule that records unsuccessful executions on their document item: Step Functions emits
 * an "Execution Status Change" event for every execution of a STANDARD state machine.
 */
export function failedExecutionEventPattern(stateMachineArn: string) {
  return {
    source: ["aws.states"],
    "detail-type": ["Step Functions Execution Status Change"],
    detail: { stateMachineArn: [stateMachineArn], status: [...unsuccessfulExecutionStatuses] },
  };
}
