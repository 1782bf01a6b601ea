"""Line-delimited JSON: how the sandbox reports to the grader (one object per line)."""
import json
import os


def send_message(fd, obj):
    """Write ``obj`` as one JSON line to the file descriptor ``fd`` (all of it, however the pipe splits it)."""
    data = (json.dumps(obj) + "\n").encode()
    while data:
        data = data[os.write(fd, data):]


def split_messages(buf):
    """The complete lines of ``buf`` (bytes) parsed as JSON objects, and the unfinished rest.

    A line that is not a JSON object is skipped: what arrives comes from a process that ran student
    code, and a garbled line must not stop the grader from reading the next one."""
    *lines, rest = buf.split(b"\n")
    messages = []
    for line in lines:
        try:
            msg = json.loads(line)
        except ValueError:
            continue
        if isinstance(msg, dict):
            messages.append(msg)
    return messages, rest
