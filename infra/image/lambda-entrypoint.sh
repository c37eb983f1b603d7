#!/bin/sh
# Entrypoint of the image functions (infra/image/Dockerfile: inference and OCR). Lambda runs ENTRYPOINT with CMD (or
# the function's ImageConfig.Command) as arguments; the Node.js Runtime Interface Client reads the handler from
# $_HANDLER and the code directory from $LAMBDA_TASK_ROOT, as Lambda's own base images set them up.
set -eu
if [ "$#" -gt 0 ]; then
  export _HANDLER="$1"
fi
export LAMBDA_TASK_ROOT="${LAMBDA_TASK_ROOT:-/var/task}"
if [ -z "${AWS_LAMBDA_RUNTIME_API:-}" ]; then
  echo "AWS_LAMBDA_RUNTIME_API is not set: run this image in AWS Lambda, or locally behind the Runtime Interface" \
    "Emulator (aws-lambda-rie /lambda-entrypoint.sh ${_HANDLER:-handler.handler})." >&2
  exit 64
fi
cd "$LAMBDA_TASK_ROOT"
exec node /opt/ric/node_modules/aws-lambda-ric/index.mjs
