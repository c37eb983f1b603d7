/**
 * The consumer's event-source filter (Lambda FilterCriteria patterns, any one matching lets a record through): only
 * stream records in which an item becomes COMPLETED or PARTIAL — an item inserted in that state (a record of a batch),
 * or modified into it from another state. Re-writes of a finished item, PROCESSING progress and FAILED items are
 * filtered out by Lambda before they cost an invocation. The stack deploys these; tests run them on real records.
 */
export const readyStatuses = ["COMPLETED", "PARTIAL"] as const;

export const readyTransitionFilters = [
  { eventName: ["INSERT"], dynamodb: { NewImage: { status: { S: [...readyStatuses] } } } },
  {
    eventName: ["MODIFY"],
    dynamodb: {
      NewImage: { status: { S: [...readyStatuses] } },
      OldImage: { status: { S: [{ "anything-but": [...readyStatuses] }] } },
    },
  },
];

/** The same transitions, for items a person should check (`needsReview`): for a consumer that feeds a review queue. */
export const needsReviewTransitionFilters = readyTransitionFilters.map((filter) => ({
  ...filter,
  dynamodb: { ...filter.dynamodb, NewImage: { ...filter.dynamodb.NewImage, needsReview: { BOOL: [true] } } },
}));
