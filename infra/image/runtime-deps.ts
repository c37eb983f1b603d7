/**
 * Copies a package and everything it depends on at run time, exactly as `npm ci` installed them (versions from
 * package-lock.json), into another node_modules. Used by the image functions (infra/image/Dockerfile): their handlers
 * are bundled, so their only run-time packages are the closures of the few they keep external (node-llama-cpp; the
 * OCR function's, bundle-ocr.ts), not the whole project's production dependencies (aws-cdk-lib...).
 *
 *   npx tsx infra/image/runtime-deps.ts <package> <dest node_modules dir>
 *
 * Optional dependencies that npm did not install (other platforms' binaries) are skipped; a missing required one is
 * an error. Optional peer dependencies are not followed.
 */
import { cpSync, existsSync, readFileSync } from "node:fs";
import { join, relative, sep } from "node:path";

interface LockPackage {
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
  link?: boolean;
}

interface Lockfile {
  lockfileVersion?: number;
  packages?: Record<string, LockPackage>;
}

/** Where Node would find `name` from a package at `from` (a lockfile key such as `node_modules/a/node_modules/b`). */
function resolveLocation(packages: Record<string, LockPackage>, from: string, name: string): string | undefined {
  let base = from;
  for (;;) {
    const candidate = base === "" ? `node_modules/${name}` : `${base}/node_modules/${name}`;
    if (packages[candidate]) return candidate;
    if (base === "") return undefined;
    const cut = base.lastIndexOf("/node_modules/");
    base = cut === -1 ? "" : base.slice(0, cut);
  }
}

export function runtimeClosure(projectRoot: string, rootPackage: string): string[] {
  const lock = JSON.parse(readFileSync(join(projectRoot, "package-lock.json"), "utf8")) as Lockfile;
  const packages = lock.packages;
  if (!packages || (lock.lockfileVersion ?? 0) < 2) throw new Error("package-lock.json v2 or v3 (with `packages`) is required");
  const start = `node_modules/${rootPackage}`;
  if (!packages[start]) throw new Error(`${rootPackage} is not a top-level package in package-lock.json`);
  const seen = new Set<string>();
  const queue = [start];
  while (queue.length > 0) {
    const location = queue.shift()!;
    if (seen.has(location)) continue;
    seen.add(location);
    const entry = packages[location]!;
    if (entry.link) throw new Error(`${location} is a link (workspace); not supported`);
    // Optional peers (node-llama-cpp's `typescript`) are used only when the app itself installs them: left out.
    const requiredPeers = Object.keys(entry.peerDependencies ?? {}).filter(
      (name) => !entry.peerDependenciesMeta?.[name]?.optional,
    );
    const wanted: Array<[string, boolean]> = [
      ...Object.keys(entry.dependencies ?? {}).map((name): [string, boolean] => [name, false]),
      ...Object.keys(entry.optionalDependencies ?? {}).map((name): [string, boolean] => [name, true]),
      ...requiredPeers.map((name): [string, boolean] => [name, false]),
    ];
    for (const [name, optional] of wanted) {
      const found = resolveLocation(packages, location, name);
      if (found === undefined || !existsSync(join(projectRoot, found, "package.json"))) {
        if (optional) continue;
        throw new Error(`${location} needs ${name}, which is not installed`);
      }
      queue.push(found);
    }
  }
  return [...seen].sort();
}

/** Copies the run-time closures of the packages (each location once) into `dest`; returns the locations copied. */
export function copyRuntimeClosure(projectRoot: string, rootPackages: readonly string[], dest: string): string[] {
  const locations = [...new Set(rootPackages.flatMap((rootPackage) => runtimeClosure(projectRoot, rootPackage)))].sort();
  for (const location of locations) {
    const source = join(projectRoot, location);
    // Each location is copied without its nested node_modules: the nested packages it needs are in the list too.
    cpSync(source, join(dest, relative("node_modules", location)), {
      recursive: true,
      dereference: true,
      filter: (path) => !relative(source, path).split(sep).includes("node_modules"),
    });
  }
  return locations;
}

function main(): void {
  const [rootPackage, dest] = process.argv.slice(2);
  if (!rootPackage || !dest) {
    console.error("usage: tsx infra/image/runtime-deps.ts <package> <dest node_modules dir>");
    process.exit(2);
  }
  const locations = copyRuntimeClosure(process.cwd(), [rootPackage], dest);
  console.log(`copied ${locations.length} packages (${rootPackage} and its run-time dependencies) to ${dest}`);
}

if (process.argv[1]?.endsWith("runtime-deps.ts")) main();
