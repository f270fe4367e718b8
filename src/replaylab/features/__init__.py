"""Features for the header filters: tracking features per frame (pre-filter), probability-window features (post-filter)."""
