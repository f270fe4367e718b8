"""The synthetic football world: physics, bodies, episodes, cameras, rendering and format writers."""
