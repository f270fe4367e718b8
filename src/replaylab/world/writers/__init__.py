"""Writers: one module per on-disk format."""
