"""Datasets: the typed sample index, dataset adapters, the clip cache and group-disjoint splits."""
