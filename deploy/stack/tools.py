"""Kafka's own command-line tools from the jars beside the broker's: `make topics`, `make groups`, or any
tool by its class.

    python -m deploy.stack.tools topics [--bootstrap HOST:PORT] [TOOL OPTION ...]  # kafka-topics --describe
    python -m deploy.stack.tools groups [--bootstrap HOST:PORT] [TOOL OPTION ...]  # kafka-consumer-groups
    python -m deploy.stack.tools run CLASS [ARG ...]      # any tool, e.g. org.apache.kafka.tools.TopicCommand

Against the stack's broker by default (its port from RELIEF_STACK_DIR's ports.json); `--bootstrap` (make's
BOOTSTRAP=) points elsewhere, and options the wrapper does not know go to the tool (e.g. `--command-config
client.properties` for a TLS or SASL listener). `groups` prints what Kafka itself has recorded: each
partition's committed offset, the log's end and the lag, and the member that owns it.
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
    parser.add_argument("--bootstrap", help="topics, groups: the brokers (default: the stack's)")
    if argv[:1] == ["run"]:
        if len(argv) < 2:
            parser.error("run needs a tool's class")
        argv = command(argv[1], argv[2:])
    else:
        args, extra = parser.parse_known_args(argv)
        bootstrap = ["--bootstrap-server", args.bootstrap or layout.load().bootstrap]
        if args.what == "topics":
            argv = command(TOPICS, [*bootstrap, "--describe", "--exclude-internal", *extra])
        else:
            argv = command(GROUPS, [*bootstrap, "--describe", "--all-groups", *extra])
    os.execvp(argv[0], argv)  # the tool's output and exit status are the command's


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
