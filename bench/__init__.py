"""vmalab's bench side: workloads, pyperf suites, the ``vmalab`` CLI, tables and plots."""
