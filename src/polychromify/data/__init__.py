"""Photo decoding and dataset preparation."""
