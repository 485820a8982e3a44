"""Polychromify: colorize black-and-white landscape photographs and films."""

__version__ = "0.1.0"
