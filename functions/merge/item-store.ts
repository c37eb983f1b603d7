import { ConditionalCheckFailedException } from "@aws-sdk/client-dynamodb";
import { UpdateCommand, type DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { resultAttributes, type DocumentItem } from "../shared/document-item.ts";
import { SupersededError } from "../shared/errors.ts";
import type { ItemDraft } from "./document.ts";

/**
 * Conditional writes of document items. Every write replaces the item's attributes and adds 1 to `version`, in one
 * UpdateItem, so consumers see a strictly increasing version and no write can be half applied:
 * - a document's or batch's item may be written only by the execution that owns it (`executionArn`, set when the
 *   execution marked it PROCESSING, a mark that an execution of an older object version cannot make);
 * - a record's item only when it is new or from the same or an older version of the batch (`sourceOrder`).
 */

// Attributes a draft may leave out: removed on write, so nothing of an earlier version lingers.
const optionalAttributes: ReadonlyArray<keyof DocumentItem> = [...resultAttributes, "batchId", "recordId"];

function updateFor(draft: ItemDraft): {
  UpdateExpression: string;
  ExpressionAttributeNames: Record<string, string>;
  ExpressionAttributeValues: Record<string, unknown>;
} {
  const names: Record<string, string> = { "#version": "version" };
  const values: Record<string, unknown> = { ":one": 1 };
  const sets: string[] = [];
  const removes: string[] = [];
  let n = 0;
  for (const [name, value] of Object.entries(draft)) {
    if (name === "documentId" || value === undefined) continue;
    names[`#a${n}`] = name;
    values[`:a${n}`] = value;
    sets.push(`#a${n} = :a${n}`);
    n++;
  }
  for (const name of optionalAttributes) {
    if (draft[name as keyof ItemDraft] !== undefined) continue;
    names[`#a${n}`] = name;
    removes.push(`#a${n}`);
    n++;
  }
  return {
    UpdateExpression: `SET ${sets.join(", ")}${removes.length ? ` REMOVE ${removes.join(", ")}` : ""} ADD #version :one`,
    ExpressionAttributeNames: names,
    ExpressionAttributeValues: values,
  };
}

/** Writes the item of the execution's document (or batch); SupersededError when a newer execution owns it. */
export async function writeOwnedItem(client: DynamoDBDocumentClient, tableName: string, draft: ItemDraft): Promise<number> {
  const update = updateFor(draft);
  try {
    const output = await client.send(
      new UpdateCommand({
        TableName: tableName,
        Key: { documentId: draft.documentId },
        ...update,
        ConditionExpression: "attribute_exists(documentId) AND #owner = :owner",
        ExpressionAttributeNames: { ...update.ExpressionAttributeNames, "#owner": "executionArn" },
        ExpressionAttributeValues: { ...update.ExpressionAttributeValues, ":owner": draft.executionArn },
        ReturnValues: "UPDATED_NEW",
      }),
    );
    return Number(output.Attributes?.version);
  } catch (error) {
    if (error instanceof ConditionalCheckFailedException) {
      throw new SupersededError(
        `Document ${draft.documentId} is owned by another execution (a newer version of s3://${draft.source.bucket}/${draft.source.key}); this result is not written`,
        { cause: error },
      );
    }
    throw error;
  }
}

/** Writes a record's item unless a newer version of its batch already wrote it; false when skipped for that reason. */
export async function writeRecordItem(client: DynamoDBDocumentClient, tableName: string, draft: ItemDraft): Promise<boolean> {
  const update = updateFor(draft);
  try {
    await client.send(
      new UpdateCommand({
        TableName: tableName,
        Key: { documentId: draft.documentId },
        ...update,
        ConditionExpression: "attribute_not_exists(documentId) OR #order <= :order",
        ExpressionAttributeNames: { ...update.ExpressionAttributeNames, "#order": "sourceOrder" },
        ExpressionAttributeValues: { ...update.ExpressionAttributeValues, ":order": draft.sourceOrder },
      }),
    );
    return true;
  } catch (error) {
    if (error instanceof ConditionalCheckFailedException) return false;
    throw error;
  }
}

/** Runs `task` over `items` with at most `concurrency` in flight; rejects with the first failure. */
export async function forEachLimited<T>(items: readonly T[], concurrency: number, task: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await task(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
}
