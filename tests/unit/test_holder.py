"""Holder names and whether a holder's process on this machine is gone."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import psutil

from pmo_ledger.jobs.holder import Holder, lock_key, new_holder, parse_holder, process_ended

HOST = socket.gethostname()


def test_a_new_holder_names_this_host_pid_and_start() -> None:
    """host:pid:start:random, the start this process's, to the hundredth of a second."""
    name = new_holder()
    start = round(psutil.Process().create_time(), 2)
    assert parse_holder(name) == Holder(HOST, os.getpid(), start)
    assert len(name.rsplit(":", 1)[1]) == 8 and name != new_holder()


def test_other_forms_are_not_parsed() -> None:
    """The older host:pid:random form and made-up names are judged by their heartbeat alone."""
    for name in ("host:12:abcd1234", "stalled-holder", "intruder", ":12:1.0:ab", "h:x:1.0:ab",
                 "h:12:soon:ab", "h:0:1.0:ab", "h:-3:1.0:ab"):  # fmt: skip
        assert parse_holder(name) is None, name
    assert parse_holder("h:12:1700000000.5:ab") == Holder("h", 12, 1700000000.5)


def test_this_process_is_alive_and_others_are_not_judged() -> None:
    """This process is alive; a holder on another machine cannot be judged here."""
    assert process_ended(Holder(HOST, os.getpid(), psutil.Process().create_time())) is None
    assert process_ended(Holder("elsewhere", 999_999_999, 0.0)) is None


def test_a_gone_pid_and_a_reused_pid_are_dead() -> None:
    """A pid that exited, and a live pid whose process started after the holder's."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    start = psutil.Process(child.pid).create_time()
    child.wait()
    assert process_ended(Holder(HOST, child.pid, start)) == (
        f"its holder process ended: pid {child.pid} on {HOST} no longer exists"
    )
    me = psutil.Process().create_time()
    assert process_ended(Holder(HOST, os.getpid(), me - 11)) == (
        f"its holder process ended: pid {os.getpid()} on {HOST} now belongs to another process"
    )
    assert process_ended(Holder(HOST, os.getpid(), me - 9)) is None  # within the clock slack


def test_a_zombie_holder_is_dead() -> None:
    """A holder that exited but was not reaped yet holds nothing."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    start = psutil.Process(child.pid).create_time()
    deadline = time.monotonic() + 10
    while psutil.Process(child.pid).status() != psutil.STATUS_ZOMBIE:  # exited, not reaped
        assert time.monotonic() < deadline
        time.sleep(0.01)
    try:
        assert process_ended(Holder(HOST, child.pid, start)) == (
            f"its holder process ended: pid {child.pid} on {HOST} has exited"
        )
    finally:
        child.wait()


def test_lock_keys_are_stable_32_bit_integers() -> None:
    """The same name gives the same key in every version (a changed hash would make live
    holders of the version before look dead), in PostgreSQL's int range."""
    assert lock_key("host:1:2.00:abcd1234") == 1369871380
    assert lock_key("host:1:2.00:abcd1234") != lock_key("host:1:2.00:abcd1235")
    assert all(-(2**31) <= lock_key(f"h:{i}:1.00:ab") < 2**31 for i in range(1000))
