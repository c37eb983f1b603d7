import type { AttributeValue as LambdaAttributeValue, DynamoDBRecord, StreamRecord as LambdaStreamRecord } from "aws-lambda";
import { DescribeTableCommand, DynamoDBClient } from "@aws-sdk/client-dynamodb";
import {
  DescribeStreamCommand,
  DynamoDBStreamsClient,
  GetRecordsCommand,
  GetShardIteratorCommand,
  type AttributeValue as StreamAttributeValue,
  type GetRecordsOutput,
  type Shard,
  type StreamRecord as StreamApiStreamRecord,
  type _Record as StreamApiRecord,
} from "@aws-sdk/client-dynamodb-streams";

/**
 * The twin's DynamoDB stream consumer: reads a DynamoDB Local table's stream through the Streams API and hands out
 * records in the shape a Lambda function receives from an event source mapping (a `DynamoDBStreamEvent`'s Records).
 */

export interface ReaderCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export interface TableStreamReaderOptions {
  endpoint: string;
  region: string;
  credentials: ReaderCredentials;
  tableName: string;
  /** Clients to use instead of ones built from endpoint/region/credentials; the reader does not destroy them. */
  clients?: { dynamodb?: DynamoDBClient; streams?: DynamoDBStreamsClient };
}

export interface FollowOptions {
  /** Read the records already in the stream first (TRIM_HORIZON); default: only records written after follow(). */
  fromStart?: boolean;
  /** Pause between polls once every shard is drained; default 250 ms. */
  pollMs?: number;
  /** Most records per onRecords call (GetRecords Limit), like the mapping's BatchSize; default 100, at most 1,000. */
  batchSize?: number;
}

/**
 * A running follow(). Errors are surfaced through `done`, never swallowed: an AWS error other than an expired or
 * trimmed iterator, or an exception thrown by onRecords, ends following and rejects `done`. Await it or attach a
 * handler; an ignored failure becomes an unhandled rejection on purpose.
 */
export interface StreamFollower {
  /** Resolves once stop() has ended following; rejects with the error that ended it otherwise. */
  readonly done: Promise<void>;
  /** Ends following after the batch in flight (if any) and resolves then; it does not reject. */
  stop(): Promise<void>;
}

type RecordsHandler = (records: DynamoDBRecord[]) => void | Promise<void>;

/** Per-shard read position. Only ever moves forward, which is what keeps records from being delivered twice. */
interface ShardCursor {
  /** Where a shard starts when nothing has been read from it yet. */
  start: "TRIM_HORIZON" | "LATEST";
  iterator?: string;
  /** The last record delivered; iterators are re-created AFTER it. */
  lastSequence?: string;
  /** A closed shard read to its end (or, when following from now, a closed shard that is history). */
  finished: boolean;
  /** Consecutive iterator recoveries without a successful read; bounded so a persistent fault is surfaced. */
  recoveries: number;
  /** The data after lastSequence was trimmed away: go on from the oldest record left. */
  fromTrimHorizon?: boolean;
}

interface FollowState {
  stopped: boolean;
  wake: () => void;
  follower?: StreamFollower;
}

const defaultPollMs = 250;
const defaultBatchSize = 100;
const maxRecoveries = 3;

export class TableStreamReader {
  private readonly dynamodb: DynamoDBClient;
  private readonly streams: DynamoDBStreamsClient;
  private readonly ownedClients: Array<{ destroy(): void }> = [];
  private cachedStreamArn?: string;
  private active?: FollowState;

  constructor(private readonly options: TableStreamReaderOptions) {
    const config = { endpoint: options.endpoint, region: options.region, credentials: options.credentials };
    this.dynamodb = options.clients?.dynamodb ?? this.own(new DynamoDBClient(config));
    this.streams = options.clients?.streams ?? this.own(new DynamoDBStreamsClient(config));
  }

  /** The table's current stream (DescribeTable's LatestStreamArn), looked up once. */
  async streamArn(): Promise<string> {
    if (this.cachedStreamArn) return this.cachedStreamArn;
    const { Table } = await this.dynamodb.send(new DescribeTableCommand({ TableName: this.options.tableName }));
    if (!Table?.LatestStreamArn) throw new Error(`Table ${this.options.tableName} has no stream enabled`);
    this.cachedStreamArn = Table.LatestStreamArn;
    return this.cachedStreamArn;
  }

  /**
   * Every record now in the stream, from TRIM_HORIZON: shards parents first, records in sequence order per shard.
   * A shard counts as read at its first empty page (DynamoDB Local hands out a next iterator forever for open shards).
   */
  async readAll(): Promise<DynamoDBRecord[]> {
    const streamArn = await this.streamArn();
    const records: DynamoDBRecord[] = [];
    for (const shard of await this.listShards(streamArn)) {
      const cursor: ShardCursor = { start: "TRIM_HORIZON", finished: false, recoveries: 0 };
      await this.drainShard(streamArn, shard.ShardId!, cursor, 1000, () => false, (batch) => void records.push(...batch));
    }
    return records;
  }

  /**
   * Polls the stream as Lambda's event source mapping does and calls onRecords with each batch, one at a time, until
   * stop(). Resolves once the starting positions are fixed: anything written after that is delivered, exactly once.
   * Shards that appear later are read from their start, after their parent. One follow() at a time per reader.
   */
  async follow(onRecords: RecordsHandler, options: FollowOptions = {}): Promise<StreamFollower> {
    const pollMs = options.pollMs ?? defaultPollMs;
    const batchSize = options.batchSize ?? defaultBatchSize;
    if (!(pollMs >= 0)) throw new Error(`pollMs must be 0 or more, got ${pollMs}`);
    if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 1000) throw new Error(`batchSize must be 1 to 1000, got ${batchSize}`);
    if (this.active) throw new Error("This reader is already following its stream; stop() it first");
    const state: FollowState = { stopped: false, wake: () => undefined };
    this.active = state;
    try {
      const streamArn = await this.streamArn();
      const cursors = new Map<string, ShardCursor>();
      if (!options.fromStart) {
        // Pin "now" before returning: LATEST iterators for open shards; closed shards hold only history.
        for (const shard of await this.listShards(streamArn)) {
          const closed = shard.SequenceNumberRange?.EndingSequenceNumber !== undefined;
          const cursor: ShardCursor = { start: "LATEST", finished: closed, recoveries: 0 };
          if (!closed) cursor.iterator = await this.shardIterator(streamArn, shard.ShardId!, cursor);
          cursors.set(shard.ShardId!, cursor);
        }
      }
      const done = this.poll(streamArn, cursors, state, onRecords, pollMs, batchSize).finally(() => {
        if (this.active === state) this.active = undefined;
      });
      state.follower = {
        done,
        stop: async () => {
          state.stopped = true;
          state.wake();
          await done.catch(() => undefined);
        },
      };
      return state.follower;
    } catch (error) {
      this.active = undefined;
      throw error;
    }
  }

  /** Stops the running follow(), if any (see StreamFollower.stop). */
  async stop(): Promise<void> {
    await this.active?.follower?.stop();
  }

  /** Stops following and destroys the clients this reader created. */
  async close(): Promise<void> {
    await this.stop();
    for (const client of this.ownedClients.splice(0)) client.destroy();
  }

  private async poll(
    streamArn: string,
    cursors: Map<string, ShardCursor>,
    state: FollowState,
    onRecords: RecordsHandler,
    pollMs: number,
    batchSize: number,
  ): Promise<void> {
    while (!state.stopped) {
      const shards = await this.listShards(streamArn);
      const listed = new Set(shards.map((shard) => shard.ShardId!));
      for (const shard of shards) {
        if (state.stopped) return;
        const shardId = shard.ShardId!;
        let cursor = cursors.get(shardId);
        if (!cursor) {
          // A shard we have not seen (a child of a split or a rolled-over shard) is new data: read it whole.
          cursor = { start: "TRIM_HORIZON", finished: false, recoveries: 0 };
          cursors.set(shardId, cursor);
        }
        if (cursor.finished) continue;
        // Parents first, so a key's changes arrive in order across a shard rollover.
        const parent = shard.ParentShardId && listed.has(shard.ParentShardId) ? cursors.get(shard.ParentShardId) : undefined;
        if (parent && !parent.finished) continue;
        await this.drainShard(streamArn, shardId, cursor, batchSize, () => state.stopped, onRecords);
      }
      if (state.stopped) return;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, pollMs);
        state.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  /** Reads one shard from its cursor until an empty page (or the end of a closed shard), delivering each page. */
  private async drainShard(
    streamArn: string,
    shardId: string,
    cursor: ShardCursor,
    limit: number,
    stopped: () => boolean,
    deliver: RecordsHandler,
  ): Promise<void> {
    while (!stopped()) {
      let page: GetRecordsOutput;
      try {
        cursor.iterator ??= await this.shardIterator(streamArn, shardId, cursor);
        if (!cursor.iterator) {
          cursor.finished = true;
          return;
        }
        page = await this.streams.send(new GetRecordsCommand({ ShardIterator: cursor.iterator, Limit: limit }));
      } catch (error) {
        const name = error instanceof Error ? error.name : "";
        if ((name !== "ExpiredIteratorException" && name !== "TrimmedDataAccessException") || cursor.recoveries >= maxRecoveries) {
          throw error;
        }
        // Iterators expire (15 min on AWS) and data ages out: re-read AFTER the last delivered record. If that
        // record's successors are trimmed too, nothing can bring them back; go on from the oldest record left.
        cursor.recoveries += 1;
        cursor.iterator = undefined;
        if (name === "TrimmedDataAccessException" && cursor.recoveries > 1) cursor.fromTrimHorizon = true;
        continue;
      }
      cursor.recoveries = 0;
      cursor.fromTrimHorizon = false;
      cursor.iterator = page.NextShardIterator;
      const records = page.Records ?? [];
      // A re-read after a recovery may overlap what was delivered; the sequence number decides.
      const fresh = records.filter((record) => isAfter(record.dynamodb?.SequenceNumber, cursor.lastSequence));
      if (fresh.length > 0) {
        await deliver(fresh.map((record) => toLambdaStreamRecord(record, streamArn)));
        cursor.lastSequence = fresh.at(-1)?.dynamodb?.SequenceNumber ?? cursor.lastSequence;
      }
      if (!page.NextShardIterator) {
        cursor.finished = true;
        return;
      }
      if (records.length === 0) return;
    }
  }

  private async shardIterator(streamArn: string, shardId: string, cursor: ShardCursor): Promise<string | undefined> {
    const position =
      cursor.lastSequence && !cursor.fromTrimHorizon
        ? ({ ShardIteratorType: "AFTER_SEQUENCE_NUMBER", SequenceNumber: cursor.lastSequence } as const)
        : ({ ShardIteratorType: cursor.fromTrimHorizon ? "TRIM_HORIZON" : cursor.start } as const);
    const { ShardIterator } = await this.streams.send(new GetShardIteratorCommand({ StreamArn: streamArn, ShardId: shardId, ...position }));
    return ShardIterator;
  }

  /** All shards of the stream (DescribeStream pages through them), parents before children. */
  private async listShards(streamArn: string): Promise<Shard[]> {
    const shards: Shard[] = [];
    let exclusiveStartShardId: string | undefined;
    do {
      const { StreamDescription } = await this.streams.send(
        new DescribeStreamCommand({ StreamArn: streamArn, ExclusiveStartShardId: exclusiveStartShardId }),
      );
      shards.push(...(StreamDescription?.Shards ?? []).filter((shard) => shard.ShardId));
      exclusiveStartShardId = StreamDescription?.LastEvaluatedShardId;
    } while (exclusiveStartShardId);
    return parentsFirst(shards);
  }

  private own<T extends { destroy(): void }>(client: T): T {
    this.ownedClients.push(client);
    return client;
  }
}

/** Orders shards by starting sequence number, moving each parent (when still listed) ahead of its children. */
function parentsFirst(shards: Shard[]): Shard[] {
  const byId = new Map(shards.map((shard) => [shard.ShardId!, shard]));
  const ordered: Shard[] = [];
  const placed = new Set<string>();
  const place = (shard: Shard): void => {
    if (placed.has(shard.ShardId!)) return;
    placed.add(shard.ShardId!);
    const parent = shard.ParentShardId ? byId.get(shard.ParentShardId) : undefined;
    if (parent) place(parent);
    ordered.push(shard);
  };
  const start = (shard: Shard) => BigInt(shard.SequenceNumberRange?.StartingSequenceNumber ?? "0");
  [...shards].sort((a, b) => (start(a) < start(b) ? -1 : start(a) > start(b) ? 1 : 0)).forEach(place);
  return ordered;
}

/** Sequence numbers are decimal strings that can exceed 2^53; compare them as integers. */
function isAfter(sequence: string | undefined, last: string | undefined): boolean {
  return sequence === undefined || last === undefined || BigInt(sequence) > BigInt(last);
}

/**
 * A Streams API record as Lambda delivers it in a DynamoDBStreamEvent: the stream ARN as eventSourceARN,
 * ApproximateCreationDateTime in epoch seconds (the SDK parses it into a Date), binary values base64-encoded and
 * userIdentity in Lambda's lower-case keys. Fields absent from the record stay absent.
 */
export function toLambdaStreamRecord(record: StreamApiRecord, streamArn: string): DynamoDBRecord {
  const result: DynamoDBRecord = withoutUndefined({
    eventID: record.eventID,
    eventName: record.eventName,
    eventVersion: record.eventVersion,
    eventSource: "aws:dynamodb",
    awsRegion: record.awsRegion,
    dynamodb: record.dynamodb && toLambdaStreamBody(record.dynamodb),
    eventSourceARN: streamArn,
  });
  if (record.userIdentity) {
    result.userIdentity = withoutUndefined({ type: record.userIdentity.Type, principalId: record.userIdentity.PrincipalId });
  }
  return result;
}

function toLambdaStreamBody(body: StreamApiStreamRecord): LambdaStreamRecord {
  return withoutUndefined({
    ApproximateCreationDateTime: body.ApproximateCreationDateTime && body.ApproximateCreationDateTime.getTime() / 1000,
    Keys: body.Keys && toLambdaImage(body.Keys),
    NewImage: body.NewImage && toLambdaImage(body.NewImage),
    OldImage: body.OldImage && toLambdaImage(body.OldImage),
    SequenceNumber: body.SequenceNumber,
    SizeBytes: body.SizeBytes,
    StreamViewType: body.StreamViewType,
  });
}

function toLambdaImage(image: Record<string, StreamAttributeValue>): Record<string, LambdaAttributeValue> {
  return Object.fromEntries(Object.entries(image).map(([name, value]) => [name, toLambdaAttributeValue(value)]));
}

/** Attribute-value JSON as on the wire: the SDK turns B and BS into bytes; Lambda events carry them as base64. */
export function toLambdaAttributeValue(value: StreamAttributeValue): LambdaAttributeValue {
  if (value.S !== undefined) return { S: value.S };
  if (value.N !== undefined) return { N: value.N };
  if (value.BOOL !== undefined) return { BOOL: value.BOOL };
  if (value.NULL !== undefined) return { NULL: value.NULL };
  if (value.B !== undefined) return { B: Buffer.from(value.B).toString("base64") };
  if (value.SS !== undefined) return { SS: [...value.SS] };
  if (value.NS !== undefined) return { NS: [...value.NS] };
  if (value.BS !== undefined) return { BS: value.BS.map((bytes) => Buffer.from(bytes).toString("base64")) };
  if (value.M !== undefined) return { M: toLambdaImage(value.M) };
  if (value.L !== undefined) return { L: value.L.map(toLambdaAttributeValue) };
  throw new Error(`Unknown DynamoDB attribute value type: ${Object.keys(value).join(", ")}`);
}

function withoutUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, field]) => field !== undefined)) as T;
}
