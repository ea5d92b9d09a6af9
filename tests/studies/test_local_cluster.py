"""The multi-node tests' port picker: every port it hands out is free and distinct.

Ray refuses a node whose components share a port, and the kernel may give the same just-released port to two
binds in a row; CI once failed on exactly that (head and runtime-env agent both on one port).
"""

import socket

from local_cluster import free_port


def test_free_port_never_hands_out_the_same_port_twice():
    ports = [free_port() for _ in range(500)]  # without the memory, ~99% of such runs repeat a port
    assert len(set(ports)) == len(ports)


def test_a_port_from_free_port_can_be_bound():
    port = free_port()
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))
        assert s.getsockname()[1] == port
