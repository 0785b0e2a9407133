"""The local Kubernetes cluster for development and tests (never shipped): control plane and node
built from pinned sources, images built locally. See cluster.py and docs/testing.md."""
