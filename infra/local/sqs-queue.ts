import { createHash, randomUUID } from "node:crypto";
import type { SQSBatchResponse, SQSEvent, SQSRecord } from "aws-lambda";

/**
 * The twin's SQS queue with its Lambda event source mapping: messages are received in batches by at most
 * `maxConcurrency` pollers, handed to the function as an SQSEvent, deleted when the function succeeds for them
 * (ReportBatchItemFailures), made visible again after `visibilityMs` otherwise, and moved to the dead letters after
 * `maxReceiveCount` receives — as SQS and Lambda do, with shorter times.
 */
export interface LocalQueueOptions {
  name: string;
  visibilityMs: number;
  maxReceiveCount: number;
  batchSize: number;
  maxConcurrency: number;
  /** How often idle pollers look for visible messages. */
  pollMs?: number;
}

export type MessageOutcome = "deleted" | "dead-lettered";

interface Message {
  id: string;
  body: string;
  sentAt: number;
  visibleAt: number;
  receives: number;
  settle: (outcome: MessageOutcome) => void;
}

export class LocalQueue {
  private readonly messages: Message[] = [];
  private pollers = 0;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  readonly deadLetters: string[] = [];

  constructor(
    private readonly options: LocalQueueOptions,
    private readonly consume: (event: SQSEvent) => Promise<SQSBatchResponse | undefined>,
  ) {}

  get arn(): string {
    return `arn:aws:sqs:us-east-1:000000000000:${this.options.name}`;
  }

  /** Sends a message; `done` settles when it is deleted (handled) or dead-lettered. */
  send(body: string): { messageId: string; done: Promise<MessageOutcome> } {
    const id = randomUUID();
    let settle!: (outcome: MessageOutcome) => void;
    const done = new Promise<MessageOutcome>((resolve) => (settle = resolve));
    this.messages.push({ id, body, sentAt: Date.now(), visibleAt: Date.now(), receives: 0, settle });
    this.schedule(0);
    return { messageId: id, done };
  }

  /** Messages not yet deleted or dead-lettered (the backlog). */
  get depth(): number {
    return this.messages.length;
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.poll(), delayMs);
  }

  private poll(): void {
    const now = Date.now();
    while (this.pollers < this.options.maxConcurrency) {
      const batch = this.receive(now);
      if (batch.length === 0) break;
      this.pollers++;
      void this.deliver(batch).finally(() => {
        this.pollers--;
        this.schedule(0);
      });
    }
    if (this.messages.length > 0) {
      const nextVisible = Math.min(...this.messages.map((message) => message.visibleAt));
      this.schedule(Math.max(this.options.pollMs ?? 20, nextVisible - Date.now()));
    }
  }

  private receive(now: number): Message[] {
    const batch: Message[] = [];
    for (const message of [...this.messages]) {
      if (batch.length >= this.options.batchSize) break;
      if (message.visibleAt > now) continue;
      if (message.receives >= this.options.maxReceiveCount) {
        this.remove(message, "dead-lettered");
        this.deadLetters.push(message.body);
        continue;
      }
      message.receives++;
      message.visibleAt = now + this.options.visibilityMs;
      batch.push(message);
    }
    return batch;
  }

  private async deliver(batch: Message[]): Promise<void> {
    let failed: Set<string>;
    try {
      const response = await this.consume({ Records: batch.map((message) => this.record(message)) });
      failed = new Set((response?.batchItemFailures ?? []).map((failure) => failure.itemIdentifier));
    } catch {
      // The whole batch failed: every message comes back after its visibility timeout.
      failed = new Set(batch.map((message) => message.id));
    }
    for (const message of batch) if (!failed.has(message.id)) this.remove(message, "deleted");
  }

  private remove(message: Message, outcome: MessageOutcome): void {
    const index = this.messages.indexOf(message);
    if (index >= 0) this.messages.splice(index, 1);
    message.settle(outcome);
  }

  private record(message: Message): SQSRecord {
    return {
      messageId: message.id,
      receiptHandle: `${message.id}:${message.receives}`,
      body: message.body,
      attributes: {
        ApproximateReceiveCount: String(message.receives),
        SentTimestamp: String(message.sentAt),
        SenderId: "000000000000",
        ApproximateFirstReceiveTimestamp: String(message.sentAt),
      },
      messageAttributes: {},
      md5OfBody: createHash("md5").update(message.body).digest("hex"),
      eventSource: "aws:sqs",
      eventSourceARN: this.arn,
      awsRegion: "us-east-1",
    };
  }
}
