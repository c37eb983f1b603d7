import {
  DeleteItemCommand,
  GetItemCommand,
  PutItemCommand,
  UpdateItemCommand,
  type DynamoDBClient,
  type DynamoDBServiceException,
} from "@aws-sdk/client-dynamodb";
import type { LocalLambdaRuntime } from "./lambda-runtime.ts";

/** The services the Task states of the twin's workflow call. */
export interface TaskServices {
  lambda: LocalLambdaRuntime;
  dynamodb: DynamoDBClient;
  /** Makes a DynamoDB task fail with the returned error (the twin's fault injection); undefined: run it. */
  injectDynamoDbFault?: () => Error | undefined;
}

/**
 * The local handler of a Task state's service integration, with the result and error shapes AWS produces:
 * `lambda:invoke` calls the handler module in-process (LocalLambdaRuntime), `dynamodb:*Item` calls DynamoDB Local; any
 * other resource fails the state.
 */
export function serviceTaskHandler(stateName: string, resource: string, services: TaskServices) {
  if (resource === "arn:aws:states:::lambda:invoke") {
    return async (parameters: { FunctionName: string; Payload?: unknown }) => {
      const payload = await services.lambda.invoke(parameters.FunctionName, parameters.Payload ?? {});
      return { ExecutedVersion: "$LATEST", Payload: payload, StatusCode: 200 };
    };
  }
  const dynamo = /^arn:aws:states:::dynamodb:(getItem|putItem|updateItem|deleteItem)$/.exec(resource);
  if (dynamo) {
    const Command = { getItem: GetItemCommand, putItem: PutItemCommand, updateItem: UpdateItemCommand, deleteItem: DeleteItemCommand }[
      dynamo[1] as "getItem"
    ];
    return async (parameters: never) => {
      const fault = services.injectDynamoDbFault?.();
      if (fault) throw fault;
      try {
        const { $metadata: _metadata, ...result } = await services.dynamodb.send(new Command(parameters));
        return result;
      } catch (error) {
        // Step Functions reports service-integration errors as "<Service>.<Exception>".
        const err = error as DynamoDBServiceException;
        const wrapped = new Error(err.message);
        wrapped.name = `DynamoDB.${err.name}`;
        throw wrapped;
      }
    };
  }
  return async () => {
    throw new Error(`The local twin cannot run state "${stateName}": resource ${resource} is not supported`);
  };
}
