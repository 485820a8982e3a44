"""The study's colorization networks behind one registry. Importing the package imports every family, whose
`@register_model` decorators fill the registry (which imports none of them)."""

from polychromify.models import autoencoders, mobilenet, unet, zhang  # noqa: F401 (they register themselves)
from polychromify.models.registry import (
    ColorModel,
    count_parameters,
    create_model,
    list_models,
    model_table,
    register_model,
    table_lines,
)

__all__ = [
    "ColorModel",
    "count_parameters",
    "create_model",
    "list_models",
    "model_table",
    "register_model",
    "table_lines",
]
