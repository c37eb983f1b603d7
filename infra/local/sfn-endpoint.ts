import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import {
  ExecutionAlreadyExistsError,
  ExecutionDoesNotExistError,
  ExecutionNotRedrivableError,
  type LocalStepFunctions,
} from "./stepfunctions.ts";

/**
 * An HTTP endpoint that speaks the Step Functions API (AWS JSON 1.0 protocol) for the operations handlers use, so the
 * start function reaches the twin through AWS_ENDPOINT_URL_SFN exactly as it reaches Step Functions in AWS.
 */
export async function startStepFunctionsEndpoint(stepFunctions: LocalStepFunctions, port = 0): Promise<{ url: string; server: Server }> {
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      const reply = (status: number, body: object) => {
        response.writeHead(status, { "content-type": "application/x-amz-json-1.0" });
        response.end(JSON.stringify(body));
      };
      const fail = (status: number, type: string, message: string) => {
        response.setHeader("x-amzn-errortype", type);
        reply(status, { __type: `com.amazonaws.states#${type}`, message });
      };
      const operation = String(request.headers["x-amz-target"] ?? "").replace(/^AWSStepFunctions\./, "");
      let body: Record<string, string | number | undefined>;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString("utf-8") || "{}") as Record<string, string | number | undefined>;
      } catch {
        return fail(400, "SerializationException", "Request body is not JSON");
      }
      try {
        if (operation === "StartExecution") {
          if (body.stateMachineArn !== stepFunctions.stateMachineArn) {
            return fail(400, "StateMachineDoesNotExist", `State Machine Does Not Exist: '${body.stateMachineArn}'`);
          }
          const execution = stepFunctions.startExecution({
            ...(body.name === undefined ? {} : { name: String(body.name) }),
            ...(body.input === undefined ? {} : { input: String(body.input) }),
          });
          return reply(200, { executionArn: execution.executionArn, startDate: execution.startDate.getTime() / 1000 });
        }
        if (operation === "DescribeExecution") {
          const execution = stepFunctions.describeExecution(String(body.executionArn ?? ""));
          if (!execution) return fail(400, "ExecutionDoesNotExist", `Execution Does Not Exist: '${body.executionArn}'`);
          return reply(200, {
            executionArn: execution.executionArn,
            stateMachineArn: execution.stateMachineArn,
            name: execution.name,
            status: execution.status,
            startDate: execution.startDate.getTime() / 1000,
            stopDate: execution.stopDate ? execution.stopDate.getTime() / 1000 : undefined,
            input: execution.input,
            output: execution.output,
            error: execution.error,
            cause: execution.cause,
            redriveCount: execution.redriveCount,
            redriveDate: execution.redriveDate ? execution.redriveDate.getTime() / 1000 : undefined,
            redriveStatus: execution.status === "RUNNING" || execution.status === "SUCCEEDED" ? "NOT_REDRIVABLE" : "REDRIVABLE",
          });
        }
        if (operation === "RedriveExecution") {
          const execution = stepFunctions.redriveExecution(String(body.executionArn ?? ""));
          return reply(200, { redriveDate: (execution.redriveDate ?? new Date()).getTime() / 1000 });
        }
        if (operation === "StopExecution") {
          const execution = stepFunctions.stopExecution(String(body.executionArn ?? ""));
          return reply(200, { stopDate: (execution.stopDate ?? new Date()).getTime() / 1000 });
        }
        if (operation === "ListExecutions") {
          if (body.stateMachineArn !== stepFunctions.stateMachineArn) {
            return fail(400, "StateMachineDoesNotExist", `State Machine Does Not Exist: '${body.stateMachineArn}'`);
          }
          const matching = stepFunctions
            .executions()
            .filter((execution) => !body.statusFilter || execution.status === body.statusFilter);
          // nextToken: the offset of the next page.
          const offset = Number(body.nextToken ?? 0);
          const pageSize = Number(body.maxResults ?? 100) || 100;
          const page = matching.slice(offset, offset + pageSize);
          return reply(200, {
            executions: page.map((execution) => ({
              executionArn: execution.executionArn,
              stateMachineArn: execution.stateMachineArn,
              name: execution.name,
              status: execution.status,
              startDate: execution.startDate.getTime() / 1000,
            })),
            ...(offset + pageSize < matching.length ? { nextToken: String(offset + pageSize) } : {}),
          });
        }
        return fail(400, "UnknownOperationException", `The local twin does not implement ${operation || "this operation"}`);
      } catch (error) {
        if (error instanceof ExecutionAlreadyExistsError) return fail(400, "ExecutionAlreadyExists", error.message);
        if (error instanceof ExecutionDoesNotExistError) return fail(400, "ExecutionDoesNotExist", error.message);
        if (error instanceof ExecutionNotRedrivableError) return fail(400, "ExecutionNotRedrivable", error.message);
        return fail(500, "InternalFailure", String(error));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  const { port: boundPort } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${boundPort}`, server };
}
