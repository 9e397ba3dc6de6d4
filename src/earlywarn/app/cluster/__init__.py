"""Running as a cluster: the leader-elected scheduler, one run per scheduled slot cluster-wide,
and the scheduler nodes' heartbeats (docs/operations.md, "Processes and the cluster")."""
