"""The local processes of tests, benchmarks, `make run` and the local cluster, one module a concern:

- supervisor.py: `Program`, the one process supervisor (own session, readiness check, stop by PID
  with SIGTERM then SIGKILL of the process group, PR_SET_PDEATHSIG, atexit, or a daemon recorded
  in a PID file), and `wait_for`, the one wait helper;
- backends.py: RabbitMQ, Redis and SecantusDB (MongoDB wire protocol) as services;
- programs.py: our own programs (the API, a worker, the fake LLM) as processes;
- jsonhttp.py: one JSON HTTP call on loopback;
- cli.py (`python dev/localservices ...`): the Procfile's command line.
"""
