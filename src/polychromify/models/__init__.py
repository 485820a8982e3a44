"""The study's colorization networks behind one registry."""

from polychromify.models.registry import (
    ColorModel,
    count_parameters,
    create_model,
    list_models,
    register_model,
)

__all__ = ["ColorModel", "count_parameters", "create_model", "list_models", "register_model"]
