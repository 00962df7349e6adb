"""REST endpoints generated from Flasker models, with OpenAPI (flasker 0.1's API extension).

    from flasker import current_project
    from flasker_api import APIManager        # also flasker.ext.api.APIManager

    api = current_project.register_manager(APIManager(add_all_models=True))

See DESIGN.md for the module split and the HTTP contract.
"""

from .exceptions import APIError, APISetupError
from .manager import APIManager
from .model_info import FieldInfo, ModelInfo, PropertyInfo, RelationInfo, api_property
from .options import APIOptions
from .problems import ApiProblem

__all__ = [
    "APIError",
    "APIManager",
    "APIOptions",
    "APISetupError",
    "ApiProblem",
    "FieldInfo",
    "ModelInfo",
    "PropertyInfo",
    "RelationInfo",
    "api_property",
]
