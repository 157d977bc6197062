#!/usr/bin/env python3
"""Drive an interactive program through a pseudo-terminal, as an operator.

usage: ptydrive.py [--timeout SEC] [--log FILE] SCRIPT -- COMMAND [ARG...]

SCRIPT has one step per line (blank lines and lines starting with # are
skipped):
  expect TEXT    wait until TEXT appears in the output after the previous match
  send TEXT      type TEXT and Enter (send with nothing after it: just Enter)
  raw ESCAPED    write bytes given with Python escapes, e.g. raw \\x03 (Ctrl-C)
  noecho         wait until the program has turned echo off (a passphrase
                 prompt): what is typed before that may be flushed away
  exit CODE      wait for the program to end and check its exit code; CODE
                 may list alternatives (130|0); the log ends with the status
Nothing depends on timing: each expect waits up to the timeout, then fails
with the screen printed.  The whole screen goes to --log FILE.
Exit status: 0 when every step passed, 1 otherwise, 2 on a usage error.
"""
import codecs
import errno
import os
import pty
import select
import signal
import sys
import termios
import time


class Session:
    def __init__(self, argv, timeout):
        self.timeout = timeout
        self.screen = ""
        self.pos = 0
        self.status = None
        self.pid, self.fd = pty.fork()
        if self.pid == 0:
            try:
                os.execvp(argv[0], argv)
            finally:
                os._exit(127)

    def _read(self, wait):
        """Read what is there (waiting up to wait seconds); False at EOF."""
        r, _, _ = select.select([self.fd], [], [], wait)
        if not r:
            return True
        try:
            data = os.read(self.fd, 65536)
        except OSError as e:
            if e.errno == errno.EIO:
                return False
            raise
        if not data:
            return False
        self.screen += data.decode("utf-8", "replace")
        return True

    def expect(self, text):
        deadline = time.monotonic() + self.timeout
        while True:
            at = self.screen.find(text, self.pos)
            if at >= 0:
                self.pos = at + len(text)
                return True
            left = deadline - time.monotonic()
            if left <= 0:
                return self.fail("timed out waiting for %r" % text)
            if not self._read(min(left, 1.0)):
                at = self.screen.find(text, self.pos)
                if at >= 0:
                    self.pos = at + len(text)
                    return True
                return self.fail("the program ended before %r appeared" % text)

    def noecho(self):
        deadline = time.monotonic() + self.timeout
        while termios.tcgetattr(self.fd)[3] & termios.ECHO:
            left = deadline - time.monotonic()
            if left <= 0:
                return self.fail("echo was never turned off")
            # a state, not a delay: look again whenever output comes or soon
            if not self._read(min(left, 0.05)):
                return self.fail("the program ended before turning echo off")
        return True

    def send(self, data):
        os.write(self.fd, data)

    def wait_exit(self, want):
        deadline = time.monotonic() + self.timeout
        while self.status is None:
            pid, st = os.waitpid(self.pid, os.WNOHANG)
            if pid == self.pid:
                self.status = os.waitstatus_to_exitcode(st)
                break
            if time.monotonic() > deadline:
                return self.fail("the program did not end")
            if not self._read(0.2):
                # output closed: the program is ending
                _, st = os.waitpid(self.pid, 0)
                self.status = os.waitstatus_to_exitcode(st)
        while self._read(0):
            pass
        if self.status not in want:
            return self.fail("exit status %s, wanted %s"
                             % (self.status, " or ".join(map(str, want))))
        return True

    def fail(self, why):
        sys.stdout.write("ptydrive: %s\n---- screen ----\n%s\n---- end of screen ----\n"
                         % (why, self.screen[-6000:]))
        return False

    def close(self):
        if self.status is None:
            try:
                os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)
            except OSError:
                pass
        try:
            os.close(self.fd)
        except OSError:
            pass


def main(args):
    timeout, log = 120.0, None
    while args and args[0].startswith("--") and args[0] != "--":
        if args[0] == "--timeout" and len(args) > 1:
            timeout = float(args[1])
            args = args[2:]
        elif args[0] == "--log" and len(args) > 1:
            log = args[1]
            args = args[2:]
        else:
            break
    if len(args) < 3 or args[1] != "--":
        sys.stderr.write(__doc__)
        return 2
    with open(args[0]) as f:
        steps = [l.rstrip("\n") for l in f]
    s = Session(args[2:], timeout)
    ok = True
    try:
        for n, line in enumerate(steps, 1):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            word, _, rest = line.partition(" ")
            if word == "expect":
                ok = s.expect(rest)
            elif word == "send":
                s.send(rest.encode() + b"\r")
            elif word == "raw":
                s.send(codecs.escape_decode(rest.encode())[0])
            elif word == "noecho":
                ok = s.noecho()
            elif word == "exit":
                ok = s.wait_exit([int(x) for x in rest.split("|")])
            else:
                sys.stderr.write("ptydrive: %s:%d: unknown step %r\n" % (args[0], n, word))
                return 2
            if not ok:
                sys.stdout.write("ptydrive: failed at %s:%d: %s\n" % (args[0], n, line))
                break
    finally:
        s.close()
        if log:
            with open(log, "w") as f:
                f.write(s.screen)
                if s.status is not None:
                    f.write("\n[exit status %d]\n" % s.status)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
