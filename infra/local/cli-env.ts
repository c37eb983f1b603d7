/**
 * Imported first by cli.ts, so these are set before any module that reads them at load time (the handlers' Powertools
 * logger and metrics, the AWS SDK) is evaluated.
 */
// stdout carries results only: handler logs (Powertools writes them to stdout) only with --verbose, where cli.ts sends
// them to stderr, and no metrics' EMF lines (no CloudWatch here to read them) unless asked for with =false.
const verbose = process.argv.includes("--verbose");
process.env.POWERTOOLS_LOG_LEVEL ??= verbose ? "INFO" : "WARN";
if (verbose) {
  // Powertools' logger writes to its own Console on process.stdout, unless in dev mode (POWERTOOLS_DEV), where it uses
  // the global console (and indents its JSON): the global console's stdout methods are pointed at stderr.
  process.env.POWERTOOLS_DEV ??= "true";
  console.log = console.info = console.debug = console.trace = console.error;
}
process.env.POWERTOOLS_METRICS_DISABLED ??= "true";
// The AWS SDK's documented switch for its Node-version notice (aws/aws-sdk-js-v3#7983): nine lines on every run under
// Node 20 about SDK releases of 2027 say nothing about this run (the README recommends Node 22).
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
