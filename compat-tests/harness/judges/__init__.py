"""The judges: each one runs a real client against a server and counts checks.

A judge module exposes NAME, NEEDS_SERVER (whether run.py starts a server from
the shared zoo.cfg for it) and run(ctx) -> results.Result.
"""
