"""Claude Code Stop hook: turn the finished turn's transcript into an MLflow trace.

Runs as a file (not ``-m``) so that it imports nothing of coda_jupyter: only
the standard library and mlflow.  Whatever goes wrong (mlflow missing, store
unreachable, odd transcript) it exits 0 without printing errors, because
Claude Code would show them after every turn; failures go to the log file.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys

# Run as a file, Python puts this folder first on sys.path, and the writer
# module ``mlflow.py`` next to this file would shadow the real mlflow.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [entry for entry in sys.path if os.path.abspath(entry or os.curdir) != _HERE]

CONTINUE = json.dumps({"continue": True})


def _file_logger(path: str | None) -> logging.Logger:
    logger = logging.getLogger("coda.mlflow_hook")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    if path:
        try:
            handler: logging.Handler = logging.FileHandler(path, encoding="utf-8")
        except OSError:
            handler = logging.NullHandler()
    else:
        handler = logging.NullHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logger.handlers[:] = [handler]
    return logger


def run(log_path: str | None) -> None:
    logger = _file_logger(log_path)
    try:
        from mlflow.claude_code import tracing
    except Exception as exc:  # mlflow absent or broken in this interpreter
        logger.info("mlflow unavailable, tracing skipped: %s", exc)
        return
    # mlflow's own logger writes into ``<cwd>/.claude/mlflow``, i.e. into the
    # user's project; route it to our log instead.
    tracing._MODULE_LOGGER = logger
    try:
        hook_input = tracing.read_hook_input()
        if not tracing.is_tracing_enabled():
            return
        tracing.setup_mlflow()
        trace = tracing.process_transcript(hook_input["transcript_path"], hook_input.get("session_id"))
        logger.info("trace %s", trace.info.trace_id if trace is not None else "not created")
    except Exception:
        logger.exception("Stop hook failed")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--log", help="file that receives the hook's own log")
    args = parser.parse_args(argv)
    run(args.log)
    sys.stdout.write(CONTINUE + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
