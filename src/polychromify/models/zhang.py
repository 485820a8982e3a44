"""Zhang et al. ECCV16 and SIGGRAPH17 colorizers (being written)."""
