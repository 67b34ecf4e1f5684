"""Local servers that behave like the target and the legacy source APIs.

``http`` serves any app (an object with ``handle(Request) -> Response``) over real HTTP on loopback or
in-process as an httpx transport; ``app``/``store``/``knobs``/``faults`` are the Benchmark emulator and
``legacy`` is the emulator of the legacy contacts API.
"""
