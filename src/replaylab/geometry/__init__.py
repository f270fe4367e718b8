"""Geometry shared by the synthetic world and the real-data code: the pinhole camera model."""
