"""The test harness that tests, benchmarks and tools share (none of them imports another's modules).

    servers   gunicorn as the Procfile runs it, on a free port; a process's memory from /proc
    load      a bounded load of many clients on a running server
    uploads   images of every form the app accepts, and the bytes it must refuse, built from scratch
    colours   the colour data set (one solid colour per photo) and its committed model's folder
"""
