"""A minimal QMP client (QEMU Machine Protocol: JSON lines over a unix socket)."""
import json
import socket
import time


class QmpError(RuntimeError):
    pass


class Qmp:
    def __init__(self, socket_path, connect_timeout_s=30, is_alive=lambda: True):
        deadline = time.time() + connect_timeout_s
        while True:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                self.sock.connect(socket_path)
                break
            except OSError as e:
                self.sock.close()
                if time.time() > deadline or not is_alive():
                    raise QmpError(f"QMP socket {socket_path}: cannot connect: {e}") from e
                time.sleep(0.05)
        self.sock.settimeout(60)
        self.socket_path = socket_path
        self.file = self.sock.makefile("rw")
        self.greeting = json.loads(self.file.readline())
        self.command("qmp_capabilities")

    def command(self, name, **arguments):
        message = {"execute": name}
        if arguments:
            message["arguments"] = arguments
        self.file.write(json.dumps(message) + "\n")
        self.file.flush()
        while True:
            line = self.file.readline()
            if not line:
                raise QmpError(f"QMP {self.socket_path}: connection closed during {name}")
            reply = json.loads(line)
            if "event" in reply:
                continue  # asynchronous events are not needed here
            if "error" in reply:
                raise QmpError(f"QMP {name} on {self.socket_path}: {reply['error'].get('desc', reply['error'])}")
            return reply.get("return")

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass
