"""Running a node: the process, its logs and the tools around it.

gunicorn's settings (gunicorn_config), the log line format (logs), allocator
tuning for large short-lived buffers (malloc), a development certificate
authority (devca), starting a server as a child process and waiting for it
(process), and the nginx configuration in front of a node (proxy).

It may import: gateway.peers and everything below it, and the libraries these
tools need. gateway.http imports its log format; nothing else above it does.
"""
