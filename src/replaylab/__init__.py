"""ReplayLab: reproducible sports-video event recognition pipelines."""

__version__ = "0.1.0"
