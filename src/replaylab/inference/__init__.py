"""Running trained models on footage outside the training loop: clips at candidate frames of a match, the
header classifier loaded from ``models/header``, and the three-stage detector built on them."""
