"""shoprec: a workflow-orchestrated batch platform for e-commerce recommendations."""

__version__ = "0.1.0"
