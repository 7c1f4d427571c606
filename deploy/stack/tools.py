"""Kafka's own command-line tools from the jars beside the broker's: `make topics`, `make groups`, or any
tool by its class.

    python -m deploy.stack.tools topics [--bootstrap HOST:PORT]   # kafka-topics --describe
    python -m deploy.stack.tools groups [--bootstrap HOST:PORT]   # kafka-consumer-groups --describe --all-groups
    python -m deploy.stack.tools run CLASS [ARG ...]              # e.g. org.apache.kafka.tools.GetOffsetShell

Against the stack's broker by default (its port from RELIEF_STACK_DIR's ports.json); `--bootstrap` (make's
BOOTSTRAP=) points elsewhere. `groups` prints what Kafka itself has recorded: each partition's committed
offset, the log's end and the lag, and the member that owns it.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from deploy.stack import layout
from deploy.stack.kafka import java, libs

LOG_CONFIG = Path(__file__).resolve().parent / "tools-log4j2.properties"
TOPICS = "org.apache.kafka.tools.TopicCommand"
GROUPS = "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand"


def command(tool: str, args: list[str]) -> list[str]:
    """The JVM command line of one tool (a short-lived JVM: C1 only, a small heap)."""
    return [java(), "-XX:TieredStopAtLevel=1", "-Xmx256m", f"-Dlog4j2.configurationFile={LOG_CONFIG}",
            "-cp", f"{libs()}/*", tool, *args]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy.stack.tools", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=("topics", "groups", "run"))
    parser.add_argument("--bootstrap", help="the brokers (default: the stack's)")
    parser.add_argument("rest", nargs=argparse.REMAINDER, help="run: the tool's class and its arguments")
    args = parser.parse_args(argv)
    bootstrap = args.bootstrap or layout.load().bootstrap
    if args.what == "topics":
        argv = command(TOPICS, ["--bootstrap-server", bootstrap, "--describe", "--exclude-internal"])
    elif args.what == "groups":
        argv = command(GROUPS, ["--bootstrap-server", bootstrap, "--describe", "--all-groups"])
    elif args.rest:
        argv = command(args.rest[0], args.rest[1:])
    else:
        parser.error("run needs a tool's class")
    os.execvp(argv[0], argv)  # the tool's output and exit status are the command's


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
