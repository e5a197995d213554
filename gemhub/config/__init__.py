"""gemhub.yaml: the model, its loader and its generated reference."""

from .load import ConfigError, Problem, load_config, validate_data
from .model import GemhubConfig

__all__ = ["ConfigError", "GemhubConfig", "Problem", "load_config", "validate_data"]
