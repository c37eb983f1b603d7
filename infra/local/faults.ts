import { mulberry32 } from "../../models/random-llama.ts";

/**
 * Fault injection for the local twin (`LLAMBDA_FAULTS`), to prove on real parts that every upload still ends in a true
 * terminal state. Faults are injected by the twin around the functions and services, with the error types AWS reports,
 * so the workflow's real Retry and Catch rules handle them; handler code knows nothing of it. Only the twin reads the
 * variable; `cdk synth` refuses to run with it set.
 *
 * Spec: comma-separated `<target>:<fault>=<rate>`, rate from 0 to 1, e.g.
 * `infer:error=0.2,infer:timeout=0.05,merge:error=0.1,ddb:throttle=0.1`.
 */

/** Functions the twin runs, and `ddb` for the workflow's own DynamoDB writes. */
export const faultTargets = ["start", "chunk", "infer", "merge", "consumer", "ddb"] as const;
export type FaultTarget = (typeof faultTargets)[number];

/** What each fault is, as AWS reports it to Step Functions. */
export const faultErrors = {
  /** Lambda's service failed the invocation (retried by the workflow). */
  error: { name: "Lambda.ServiceException", message: "Injected fault: Lambda service exception" },
  /** Lambda throttled the invocation (retried). */
  throttle: { name: "Lambda.TooManyRequestsException", message: "Injected fault: Rate exceeded" },
  /** The function ran out of time: Lambda's own timeout error. */
  timeout: { name: "Sandbox.Timedout", message: "Injected fault: Task timed out" },
  /** The function ran out of memory: Lambda kills the sandbox and reports this (not retried: the same input would). */
  oom: { name: "Runtime.OutOfMemory", message: "Injected fault: Runtime exited with error: signal: killed" },
} as const;
export const dynamoDbFaultErrors = {
  error: { name: "DynamoDB.InternalServerErrorException", message: "Injected fault: Internal server error" },
  throttle: { name: "DynamoDB.ThrottlingException", message: "Injected fault: Throughput exceeds the current capacity" },
} as const;

export type FaultPlan = Array<{ target: FaultTarget; fault: string; rate: number }>;

export class FaultSpecError extends Error {
  override readonly name = "FaultSpecError";
}

export const faultsEnvName = "LLAMBDA_FAULTS";

export function parseFaults(spec: string): FaultPlan {
  const plan: FaultPlan = [];
  for (const part of spec.split(",").map((p) => p.trim()).filter(Boolean)) {
    const match = /^([a-z]+):([a-z]+)=([0-9.]+)$/.exec(part);
    if (!match) throw new FaultSpecError(`${faultsEnvName}: "${part}" is not <target>:<fault>=<rate>`);
    const [, target, fault, rateText] = match as unknown as [string, string, string, string];
    const rate = Number(rateText);
    if (!(faultTargets as readonly string[]).includes(target)) {
      throw new FaultSpecError(`${faultsEnvName}: unknown target "${target}" (known: ${faultTargets.join(", ")})`);
    }
    const known = Object.keys(target === "ddb" ? dynamoDbFaultErrors : faultErrors);
    if (!known.includes(fault)) throw new FaultSpecError(`${faultsEnvName}: ${target} has no fault "${fault}" (known: ${known.join(", ")})`);
    if (!Number.isFinite(rate) || rate < 0 || rate > 1) throw new FaultSpecError(`${faultsEnvName}: rate of ${part} must be from 0 to 1`);
    plan.push({ target: target as FaultTarget, fault, rate });
  }
  return plan;
}

/** Counts of injected faults, by `target:fault`. */
export type FaultCounts = Record<string, number>;

/**
 * Draws faults: each call for a target tries its faults in the plan's order, each with its rate. With a seed, every
 * target draws from its own seeded stream, so the n-th call of a target gets the same draw however calls of
 * different targets interleave (a run can be repeated); without one, draws are random.
 */
export class FaultInjector {
  readonly injected: FaultCounts = {};
  /** False: no faults (a fault-free baseline on the same twin). */
  enabled = true;
  private readonly streams = new Map<FaultTarget, () => number>();

  constructor(
    private readonly plan: FaultPlan,
    private readonly seed?: number,
  ) {}

  private random(target: FaultTarget): number {
    if (this.seed === undefined) return Math.random();
    let stream = this.streams.get(target);
    if (!stream) {
      stream = seededRandom(this.seed * 1009 + faultTargets.indexOf(target));
      this.streams.set(target, stream);
    }
    return stream();
  }

  /** The error a call of `target` fails with, or undefined. */
  draw(target: FaultTarget): Error | undefined {
    if (!this.enabled) return undefined;
    for (const { target: t, fault, rate } of this.plan) {
      if (t !== target || this.random(target) >= rate) continue;
      const spec = target === "ddb" ? dynamoDbFaultErrors[fault as keyof typeof dynamoDbFaultErrors] : faultErrors[fault as keyof typeof faultErrors];
      const key = `${target}:${fault}`;
      this.injected[key] = (this.injected[key] ?? 0) + 1;
      return Object.assign(new Error(spec.message), { name: spec.name });
    }
    return undefined;
  }
}

/** A seeded generator: the same seed draws the same faults (the PRNG the tiny model's weights come from). */
export const seededRandom = mulberry32;
