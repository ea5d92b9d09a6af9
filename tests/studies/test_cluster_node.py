"""studies.run.cluster_node: `follow` runs its command once the head stops answering (and not before), and
`stop` ends a follower it recorded, waiting until it is gone, but never a process it did not start."""

import subprocess
import sys
import time

import pytest

import local_cluster as lc
from studies.run import cluster_node

pytestmark = pytest.mark.slow  # a follower process beside the test, and waits of seconds


def test_follow_runs_its_command_only_after_the_head_stops_answering(tmp_path):
    head = lc.RayStandIn()
    done, pid_file = tmp_path / "stopped", tmp_path / "follow.pid"
    follower = subprocess.Popen([sys.executable, "-m", "studies.run.cluster_node", "follow", "--head", head.address,
                                 "--pid-file", str(pid_file), "--", "touch", str(done)])
    try:
        lc.wait_until(pid_file.exists, 30, "the follower's pid file")
        time.sleep(5)
        assert follower.poll() is None and not done.exists()  # the head answers: nothing happens
        head.close()
        assert follower.wait(timeout=60) == 0 and done.exists()
    finally:
        head.close()
        follower.kill()


def test_stop_ends_a_follower_and_leaves_any_other_process_alone(tmp_path):
    head = lc.RayStandIn()
    pid_file = tmp_path / "follow.pid"
    follower = subprocess.Popen([sys.executable, "-m", "studies.run.cluster_node", "follow", "--head", head.address,
                                 "--pid-file", str(pid_file), "--", "true"])
    other = subprocess.Popen(["sleep", "60"])
    try:
        lc.wait_until(pid_file.exists, 30, "the follower's pid file")
        assert cluster_node.main(["stop", "--pid-file", str(pid_file)]) == 0
        assert follower.poll() is not None  # gone by the time stop returns
        (tmp_path / "other.pid").write_text(f"{other.pid}\n")
        assert cluster_node.main(["stop", "--pid-file", str(tmp_path / "other.pid")]) == 0
        assert other.poll() is None  # not a studies.run.cluster_* process: left alone
        assert cluster_node.main(["stop", "--pid-file", str(tmp_path / "missing.pid")]) == 0
    finally:
        head.close()
        follower.kill()
        other.kill()
