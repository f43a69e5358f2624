"""The inference agent: the process a deployment's replica job runs (`tessera agent`, gateway/commands/agent.py).

    engine.py    the Engine protocol (argv, health and metrics paths), EngineError, free_port
    vllm.py      `vllm serve` on a GPU node
    cpu.py       CPU models: llama-cpp-python's server (GGUF chat), cpu_embed.py (MiniLM embeddings)
    engines.py   engine by name, from the environment
    standin.py   a GPU-less stand-in for `vllm serve` (same endpoints and metric names)
    metrics.py   load from Prometheus text with vLLM's metric names
    process.py   the engine child process (own process group, graceful stop)
    reports.py   AgentConfig, the discovery entry, ReportReplicaReady/Lost to CMD
    runner.py    the life cycle: start, health wait, register, heartbeat with load, leave

Guarantees (runner.py): a replica is in discovery (bus/discovery.py) only while
its engine answers; it leaves on SIGTERM before its engine stops, and on a
crash (of agent or engine) within the bucket's TTL.
"""
