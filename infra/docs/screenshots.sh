#!/usr/bin/env bash
# The README's pictures, made again: the browser tests (a daily run's report.html over
# the real samples; the live metrics page through `cargo lambda watch`) save their
# screenshots here, at a desktop's width (1280×800) and a phone's (600×900).
set -euo pipefail
cd "$(dirname "$0")/../.."
PINPIPE_DOCS_SCREENSHOTS=$PWD/infra/docs bash infra/test.sh -p pinpipe-tests --test it -- browser:: lambda_watch::
ls -l infra/docs/*.png
