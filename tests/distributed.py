"""What the tests that start several processes share."""
import socket


def free_port() -> int:
    """A TCP port on the loopback that nothing listens on (for a process group's rendezvous)."""
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]
