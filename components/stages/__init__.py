"""One module per stage of the graph (components/contract/graph.py). Each file says, in its signature, what the
stage receives (its config section, its inputs by role as Artifact[Kind], its NEEDS) and what it promises (the
kind it returns, described in components/contract/kinds.py); components/contract/execution.py runs it, and
components/cluster/placement.py says where its pod runs."""
