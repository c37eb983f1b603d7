/**
 * npm run bootstrap / npm run deploy [-- <cdk options>]
 *
 * Checks what `cdk bootstrap` and `cdk deploy` need before they start (they would otherwise bundle for ~15 s and then
 * fail with CDK's generic "Unable to resolve AWS account"), says what is missing and how to fix it, then runs the cdk
 * command with the given options. `--check` only checks. `cdk synth` needs none of this and stays offline.
 *
 * Checks: AWS credentials through the SDK's default chain (environment, profile files, SSO, web identity, container
 * and instance metadata: the chain the CDK CLI uses too), a region, and for deploy a running Docker that can build
 * linux/arm64 images (the inference image).
 */
import { execFile, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { arch, platform } from "node:os";
import { fileURLToPath } from "node:url";

export type PreflightCommand = "bootstrap" | "deploy";

export interface PreflightProblem {
  check: "credentials" | "region" | "docker";
  message: string;
}

export interface DockerInfo {
  /** `docker version`'s server OS/arch, e.g. `linux/amd64`; undefined when no daemon answered. */
  server?: string;
  error?: string;
}

export interface PreflightDeps {
  env: NodeJS.ProcessEnv;
  /** Resolves credentials through the SDK's default provider chain; rejects when none is found. */
  credentials: () => Promise<unknown>;
  /** The region from the SDK's config chain (env and profile files); rejects when there is none. */
  region: () => Promise<string>;
  docker: () => Promise<DockerInfo>;
  /** Whether the kernel can run arm64 binaries (Linux binfmt_misc with qemu-aarch64 registered). */
  arm64Emulation: () => boolean;
  hostPlatform: NodeJS.Platform;
}

const errorText = (error: unknown): string => (error instanceof Error ? error.message.split("\n")[0] ?? "" : String(error));

export async function preflightProblems(command: PreflightCommand, deps: PreflightDeps): Promise<PreflightProblem[]> {
  const problems: PreflightProblem[] = [];
  const profile = deps.env.AWS_PROFILE;
  try {
    await deps.credentials();
  } catch (error) {
    problems.push({
      check: "credentials",
      message: [
        `No AWS credentials found (${errorText(error)}).`,
        `  Looked in: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, ${profile ? `profile "${profile}" (AWS_PROFILE)` : "the default profile"} ` +
          "in ~/.aws/credentials and ~/.aws/config (incl. SSO), web identity, container and instance metadata.",
        profile
          ? `  Fix: \`aws configure --profile ${profile}\` (access keys), or \`aws sso login --profile ${profile}\` (an SSO profile), ` +
            "or unset AWS_PROFILE and export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN)."
          : "  Fix: `aws configure` (access keys), or `aws configure sso` then `aws sso login --profile <name>` and " +
            "`export AWS_PROFILE=<name>`, or export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN).",
      ].join("\n"),
    });
  }
  const envRegion = deps.env.AWS_REGION || deps.env.AWS_DEFAULT_REGION;
  if (!envRegion) {
    try {
      await deps.region();
    } catch {
      problems.push({
        check: "region",
        message: [
          `No AWS region: neither AWS_REGION nor AWS_DEFAULT_REGION is set and ${profile ? `profile "${profile}"` : "the default profile"} has no region.`,
          `  Fix: \`export AWS_REGION=eu-west-1\` (your region), or \`aws configure set region eu-west-1${profile ? ` --profile ${profile}` : ""}\`.`,
        ].join("\n"),
      });
    }
  }
  if (command === "deploy") {
    const docker = await deps.docker();
    if (!docker.server) {
      problems.push({
        check: "docker",
        message: [
          `Docker is not available (${docker.error ?? "no answer"}): cdk deploy builds the inference and OCR images ` +
            "(infra/image/Dockerfile) with it.",
          "  Fix: install Docker and start its daemon (Docker Desktop, or `sudo systemctl start docker`); `docker version` must show a Server.",
        ].join("\n"),
      });
    } else if (!/arm64|aarch64/.test(docker.server) && deps.hostPlatform === "linux" && !deps.arm64Emulation()) {
      // Docker Desktop (macOS, Windows) emulates arm64 in its VM; on a Linux x86 host the kernel must be taught to.
      problems.push({
        check: "docker",
        message: [
          `Docker runs on ${docker.server} and this kernel cannot run arm64 binaries: the inference image is built for linux/arm64.`,
          "  Fix (once per boot): `docker run --privileged --rm tonistiigi/binfmt --install arm64`, or deploy from an arm64 machine.",
        ].join("\n"),
      });
    }
  }
  return problems;
}

function dockerVersion(env: NodeJS.ProcessEnv): Promise<DockerInfo> {
  // CDK builds images with $CDK_DOCKER when it is set.
  const docker = env.CDK_DOCKER || "docker";
  return new Promise((resolve) => {
    execFile(docker, ["version", "--format", "{{.Server.Os}}/{{.Server.Arch}}"], { timeout: 15_000, env }, (error, stdout, stderr) => {
      const server = stdout.trim();
      if (error || !server || server.includes("<no value>")) {
        const detail = (stderr.trim().split("\n").find((line) => line.trim() !== "") ?? errorText(error)).trim();
        resolve({ error: detail || `${docker} version failed` });
      } else {
        resolve({ server });
      }
    });
  });
}

/** The real checks, with the SDK's default chains (imported late: `--help` and the tests of the pure part stay light). */
export async function defaultDeps(env: NodeJS.ProcessEnv = process.env): Promise<PreflightDeps> {
  // The SDK's "Node 20" notice is about its future releases, not about this check.
  env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
  // Any client resolves the default credential and region chains; SFN is one the project already depends on.
  const { SFNClient } = await import("@aws-sdk/client-sfn");
  const client = new SFNClient({});
  return {
    env,
    credentials: () => client.config.credentials(),
    region: () => client.config.region(),
    docker: () => dockerVersion(env),
    arm64Emulation: () => arch() === "arm64" || existsSync("/proc/sys/fs/binfmt_misc/qemu-aarch64"),
    hostPlatform: platform(),
  };
}

const USAGE = `Usage: npm run bootstrap [-- <cdk bootstrap options>]
       npm run deploy [-- <cdk deploy options, e.g. -c llambda:stage=dev>]
       tsx infra/preflight.ts <bootstrap|deploy> --check   (only the checks)`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command !== "bootstrap" && command !== "deploy") {
    process.stderr.write(`${USAGE}\n`);
    return 2;
  }
  const checkOnly = rest.includes("--check");
  const cdkArgs = rest.filter((arg) => arg !== "--check");
  const problems = await preflightProblems(command, await defaultDeps());
  if (problems.length > 0) {
    process.stderr.write(`cdk ${command} cannot run yet:\n\n${problems.map((problem) => problem.message).join("\n\n")}\n\n`);
    process.stderr.write("(`npx cdk synth` needs none of this: it works offline.)\n");
    return 1;
  }
  process.stderr.write(`Preflight for cdk ${command}: credentials, region${command === "deploy" ? " and Docker" : ""} found.\n`);
  if (checkOnly) return 0;
  const child = spawn("cdk", [command, ...cdkArgs], { stdio: "inherit", shell: process.platform === "win32" });
  return new Promise((resolve) => {
    child.on("error", (error) => {
      process.stderr.write(`Could not run cdk: ${error.message} (run it through npm: npm run ${command})\n`);
      resolve(1);
    });
    child.on("close", (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  process.exitCode = await main(process.argv.slice(2));
}
