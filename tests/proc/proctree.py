"""proctree.py DEPTH WIDTH [ignore-term-leaves] - a process tree for kill_tree/guard tests.

Every node forks WIDTH children down to DEPTH levels below the root, sets up its signal
dispositions, then writes "pid ppid" on stdout; the test reads all lines before acting.
Inner nodes reap their children (as real programs do); leaves sleep. With
ignore-term-leaves, leaves ignore SIGTERM so only SIGKILL ends them.
"""
import os
import signal
import sys
import time


def node(level, depth, width, ignore_term_leaves):
    kids = []
    if level < depth:
        for _ in range(width):
            pid = os.fork()
            if pid == 0:
                node(level + 1, depth, width, ignore_term_leaves)
                os._exit(0)
            kids.append(pid)
    elif ignore_term_leaves:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    os.write(1, f"{os.getpid()} {os.getppid()}\n".encode())
    if kids:
        while True:
            try:
                os.wait()
            except ChildProcessError:
                break
    while True:
        time.sleep(1000)


def main():
    depth, width = int(sys.argv[1]), int(sys.argv[2])
    ignore = len(sys.argv) > 3 and sys.argv[3] == "ignore-term-leaves"
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    node(0, depth, width, ignore)


if __name__ == "__main__":
    main()
