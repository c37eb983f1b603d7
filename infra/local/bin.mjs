#!/usr/bin/env node
// `npx llambda …` (package.json "bin"): the local CLI with nothing but its own output on stdout (`npm start` adds npm's
// banner there). The CLI is TypeScript, run through tsx's loader, registered here so it works from any directory.
import { register } from "tsx/esm/api";

register();
await import("./cli.ts");
